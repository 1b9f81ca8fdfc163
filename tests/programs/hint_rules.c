/* hint_rules: workloads built to trigger one optimization hint each, and twins built not to.
 * Usage: hint_rules MODE   (cpu_hot, cpu_flat, small, big, leak, noleak, mem, memsmall, sys)
 * Every workload function is noinline and named for what it does; the integration test
 * (tests/integration/hints_rules.sh) checks which hints deiatrace-analyze gives for each mode. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "workload.h"

#define WORKLOAD __attribute__((noinline, noipa))
#define KEEP(p) __asm__ volatile("" : : "r"(p) : "memory")

#define HOT_ITERATIONS 150000000ull /* ~0.3 s in one leaf */
#define FLAT_ITERATIONS 4000000ull  /* per leaf call; 4 leaves x 2 callers x FLAT_ROUNDS */
#define FLAT_ROUNDS 5u
#define SMALL_CALLS 200000u /* malloc+free pairs of SMALL_BYTES */
#define SMALL_BYTES 24u
#define BIG_CALLS 20u /* malloc+free of BIG_BYTES */
#define BIG_BYTES (1u << 20)
#define LEAK_BLOCKS 256u /* x LEAK_BLOCK_BYTES = 1 MiB leaked (over the 64 KiB default) */
#define LEAK_BLOCK_BYTES 4096u
#define MEM_BLOCKS 160u /* x 1 MiB live at once: over the 100 MiB default */
#define MEMSMALL_BLOCKS 40u
#define MEM_BLOCK_BYTES (1u << 20)
#define SYS_WRITES 300000u /* one-byte writes to /dev/null */

static uint64_t sink;

WORKLOAD uint64_t hot_leaf(uint64_t x)
{
	return dt_burn(x, HOT_ITERATIONS);
}

WORKLOAD uint64_t hot_caller(uint64_t x)
{
	return hot_leaf(x) + 1;
}

WORKLOAD uint64_t flat_a(uint64_t x)
{
	return dt_burn(x, FLAT_ITERATIONS);
}
WORKLOAD uint64_t flat_b(uint64_t x)
{
	return dt_burn(x + 1, FLAT_ITERATIONS);
}
WORKLOAD uint64_t flat_c(uint64_t x)
{
	return dt_burn(x + 2, FLAT_ITERATIONS);
}
WORKLOAD uint64_t flat_d(uint64_t x)
{
	return dt_burn(x + 3, FLAT_ITERATIONS);
}

/* Two callers of every leaf, each carrying half of its calls: no leaf has a single caller. */
WORKLOAD uint64_t flat_caller_one(uint64_t x)
{
	return flat_a(x) ^ flat_b(x) ^ flat_c(x) ^ flat_d(x);
}

WORKLOAD uint64_t flat_caller_two(uint64_t x)
{
	return flat_d(x) ^ flat_c(x) ^ flat_b(x) ^ flat_a(x);
}

WORKLOAD void churn_small(void)
{
	for (unsigned i = 0; i < SMALL_CALLS; i++) {
		char *p = malloc(SMALL_BYTES);
		KEEP(p);
		free(p);
	}
}

WORKLOAD void few_big(void)
{
	for (unsigned i = 0; i < BIG_CALLS; i++) {
		char *p = malloc(BIG_BYTES);
		KEEP(p);
		free(p);
	}
}

WORKLOAD void leak_blocks(int keep)
{
	static void *kept[LEAK_BLOCKS];

	for (unsigned i = 0; i < LEAK_BLOCKS; i++) {
		kept[i] = malloc(LEAK_BLOCK_BYTES);
		KEEP(kept[i]);
	}
	if (!keep)
		for (unsigned i = 0; i < LEAK_BLOCKS; i++)
			free(kept[i]);
	else
		for (unsigned i = 0; i < LEAK_BLOCKS; i++)
			kept[i] = (void *)((uintptr_t)kept[i] ^ 1); /* no pointer to the blocks remains */
}

/* Holds n MiB at once (untouched, so the RSS stays small: the shim counts requested bytes). */
WORKLOAD void hold_big(unsigned n)
{
	void **v = calloc(n, sizeof(*v));

	for (unsigned i = 0; v && i < n; i++) {
		v[i] = malloc(MEM_BLOCK_BYTES);
		KEEP(v[i]);
	}
	for (unsigned i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

WORKLOAD void syscall_loop(void)
{
	int fd = open("/dev/null", O_WRONLY);
	char c = 'x';

	for (unsigned i = 0; fd >= 0 && i < SYS_WRITES; i++)
		if (write(fd, &c, 1) != 1)
			break;
	if (fd >= 0)
		close(fd);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";

	if (strcmp(mode, "cpu_hot") == 0) {
		sink = hot_caller(7);
	} else if (strcmp(mode, "cpu_flat") == 0) {
		for (unsigned r = 0; r < FLAT_ROUNDS; r++)
			sink ^= flat_caller_one(r) ^ flat_caller_two(r);
	} else if (strcmp(mode, "small") == 0) {
		churn_small();
	} else if (strcmp(mode, "big") == 0) {
		few_big();
	} else if (strcmp(mode, "leak") == 0 || strcmp(mode, "noleak") == 0) {
		leak_blocks(strcmp(mode, "leak") == 0);
	} else if (strcmp(mode, "mem") == 0) {
		hold_big(MEM_BLOCKS);
	} else if (strcmp(mode, "memsmall") == 0) {
		hold_big(MEMSMALL_BLOCKS);
	} else if (strcmp(mode, "sys") == 0) {
		syscall_loop();
	} else {
		fprintf(stderr,
			"usage: hint_rules cpu_hot|cpu_flat|small|big|leak|noleak|mem|memsmall|sys\n");
		return 2;
	}
	printf("%s done %llu\n", mode, (unsigned long long)(sink & 1));
	return 0;
}
