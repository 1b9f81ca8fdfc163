/* Ground truth for exact memory tracking: three allocating functions with known call counts and
 * sizes, a realloc growth chain, one function holding a known number of bytes at the heap peak, one
 * deliberate leak. Prints the truth as "truth KEY VALUE" lines with write(2): stdio would allocate
 * its buffer through malloc and change the totals being checked.
 * Usage: mem_truth [scale]   (scale 0 runs no workload at all: the baseline of foreign allocations) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SMALL_CALLS 3000000u /* per unit of scale */
#define SMALL_BYTES 24u
#define MEDIUM_CALLS 2000000u
#define MEDIUM_NMEMB 10u
#define MEDIUM_SIZE 10u
#define LARGE_CALLS 1000000u
#define LARGE_BYTES 1000u
#define CHAIN_STEPS 1000u    /* realloc(p, step * CHAIN_UNIT_BYTES) for step = 1..CHAIN_STEPS */
#define CHAIN_UNIT_BYTES 64u
#define HOLD_BLOCKS 1000u    /* held together: the heap peak */
#define HOLD_BYTES 4096u
#define LEAK_BLOCKS 7u
#define LEAK_BYTES 333u

/* noipa: GCC may otherwise see through the wrappers and delete a malloc/free pair it can prove unused.
 * KEEP: the compiler must assume the pointer escapes, and the call cannot become a tail call (which
 * would make the allocation the caller's: its return address would point into main). */
#define WORKLOAD __attribute__((noinline, noipa))
#define KEEP(p) __asm__ volatile("" : : "r"(p) : "memory")

static void *hold[HOLD_BLOCKS];
void *mem_truth_leaked[LEAK_BLOCKS]; /* global and escaping: a deliberate leak the compiler keeps */

WORKLOAD void *mem_small(void)
{
	void *p = malloc(SMALL_BYTES);
	KEEP(p);
	return p;
}

WORKLOAD void *mem_medium(void)
{
	void *p = calloc(MEDIUM_NMEMB, MEDIUM_SIZE);
	KEEP(p);
	return p;
}

WORKLOAD void *mem_large(void)
{
	void *p = malloc(LARGE_BYTES);
	KEEP(p);
	return p;
}

WORKLOAD void *mem_chain(void)
{
	void *p = NULL;
	for (unsigned step = 1; step <= CHAIN_STEPS; step++) {
		void *q = realloc(p, (size_t)step * CHAIN_UNIT_BYTES);
		if (!q)
			abort();
		memset(q, (int)step, 1);
		p = q;
	}
	return p;
}

WORKLOAD void mem_hold_peak(void)
{
	for (unsigned i = 0; i < HOLD_BLOCKS; i++) {
		hold[i] = malloc(HOLD_BYTES);
		if (!hold[i])
			abort();
		memset(hold[i], 1, 1);
	}
}

WORKLOAD void mem_leak(void)
{
	for (unsigned i = 0; i < LEAK_BLOCKS; i++) {
		mem_truth_leaked[i] = malloc(LEAK_BYTES);
		KEEP(mem_truth_leaked[i]);
	}
}

static void say(const char *key, unsigned long long v)
{
	char line[128];
	int n = snprintf(line, sizeof(line), "truth %s %llu\n", key, v);
	if (n > 0 && write(STDOUT_FILENO, line, (size_t)n) < 0)
		_exit(3);
}

int main(int argc, char **argv)
{
	unsigned scale = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 1;
	unsigned long long small = (unsigned long long)SMALL_CALLS * scale;
	unsigned long long medium = (unsigned long long)MEDIUM_CALLS * scale;
	unsigned long long large = (unsigned long long)LARGE_CALLS * scale;
	unsigned runs = scale ? 1 : 0;

	if (runs)
		mem_leak(); /* first, so it is live at the peak as well */
	for (unsigned long long i = 0; i < small; i++)
		free(mem_small());
	for (unsigned long long i = 0; i < medium; i++)
		free(mem_medium());
	for (unsigned long long i = 0; i < large; i++)
		free(mem_large());
	if (runs)
		free(mem_chain());
	if (runs) {
		mem_hold_peak();
		for (unsigned i = 0; i < HOLD_BLOCKS; i++)
			free(hold[i]);
	}

	unsigned long long chain_bytes = (unsigned long long)CHAIN_UNIT_BYTES * CHAIN_STEPS * (CHAIN_STEPS + 1) / 2;
	unsigned long long leak_bytes = (unsigned long long)LEAK_BLOCKS * LEAK_BYTES * runs;
	unsigned long long hold_bytes = (unsigned long long)HOLD_BLOCKS * HOLD_BYTES * runs;
	say("mem_small.calls", small);
	say("mem_small.bytes", small * SMALL_BYTES);
	say("mem_medium.calls", medium);
	say("mem_medium.bytes", medium * MEDIUM_NMEMB * MEDIUM_SIZE);
	say("mem_large.calls", large);
	say("mem_large.bytes", large * LARGE_BYTES);
	say("mem_chain.calls", (unsigned long long)CHAIN_STEPS * runs);
	say("mem_chain.bytes", chain_bytes * runs);
	say("mem_chain.realloc_calls", (unsigned long long)CHAIN_STEPS * runs);
	say("mem_hold_peak.calls", (unsigned long long)HOLD_BLOCKS * runs);
	say("mem_hold_peak.bytes", hold_bytes);
	say("mem_hold_peak.peak_live", hold_bytes);
	say("mem_leak.calls", (unsigned long long)LEAK_BLOCKS * runs);
	say("mem_leak.bytes", leak_bytes);
	say("mem_leak.peak_live", leak_bytes);
	say("mem_leak.leaked", leak_bytes);
	say("total.allocations", small + medium + large + (unsigned long long)(CHAIN_STEPS + HOLD_BLOCKS + LEAK_BLOCKS) * runs);
	/* Every realloc step but the first frees the block before it; the chain's last block is freed. */
	say("total.frees", small + medium + large + (unsigned long long)(CHAIN_STEPS + HOLD_BLOCKS) * runs);
	say("total.allocated_bytes", small * SMALL_BYTES + medium * MEDIUM_NMEMB * MEDIUM_SIZE + large * LARGE_BYTES +
	                                 chain_bytes * runs + hold_bytes + leak_bytes);
	say("total.heap_peak", hold_bytes + leak_bytes);
	say("total.leaked_bytes", leak_bytes);
	say("total.leaked_allocations", (unsigned long long)LEAK_BLOCKS * runs);
	return 0;
}
