/* instr_calls: built with -finstrument-functions; every call below has a count the program knows.
 * fib(25) recursive (242785 calls of fib), leaf() called exactly 1,000,000 times, work_unit() with a
 * fixed amount of sleep-free work under work_outer(), a recursion 10001 deep (past the shim's shadow
 * stack cap) and a longjmp out of three frames. The program counts its own calls: stdout prints the truth
 * and is deterministic. Usage: instr_calls [--truth FILE]  writes work_outer's wall time (ns) to FILE.
 * It defines no __cyg_profile_func_* of its own: glibc's no-op ones satisfy the link. */
#include <inttypes.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "workload.h"

#define FIB_N 25
#define LEAF_CALLS 1000000u
#define WORK_UNITS 40u
#define WORK_UNIT_ITERATIONS 2000000ull /* a few ms per unit on the reference machine */
#define DEEP_LEVELS 10000u		/* deeper than the shim's shadow stack (4096 frames) */
#define JUMP_LEVELS 3u

static uint64_t fib_calls, leaf_calls, unit_calls, deep_calls, jump_calls;
static jmp_buf jump_env;
static volatile int jump_armed = 1;

__attribute__((noinline, noclone)) uint64_t fib(unsigned n)
{
	fib_calls++;
	return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

__attribute__((noinline, noclone)) uint64_t leaf(uint64_t x)
{
	leaf_calls++;
	__asm__ volatile("" : "+r"(x)); /* keep the call: nothing to fold */
	return x * 3 + 1;
}

__attribute__((noinline, noclone)) uint64_t leaf_loop(void)
{
	uint64_t acc = 0;

	for (unsigned i = 0; i < LEAF_CALLS; i++)
		acc += leaf(i);
	return acc;
}

__attribute__((noinline, noclone)) uint64_t work_unit(uint64_t seed)
{
	unit_calls++;
	return dt_burn(seed, WORK_UNIT_ITERATIONS);
}

/* All of work_outer's inclusive time is its callees': its exclusive time must come out small. */
__attribute__((noinline, noclone)) uint64_t work_outer(void)
{
	uint64_t acc = 0;

	for (unsigned i = 0; i < WORK_UNITS; i++)
		acc ^= work_unit(acc + i);
	return acc;
}

__attribute__((noinline, noclone)) uint64_t deep(unsigned levels)
{
	deep_calls++;
	if (levels == 0)
		return 1;
	uint64_t r = deep(levels - 1) + 1;
	__asm__ volatile("" : "+r"(r)); /* not a tail call */
	return r;
}

__attribute__((noinline, noclone)) void jump_down(unsigned levels)
{
	jump_calls++;
	if (levels == 0) {
		if (jump_armed) /* always set: keeps gcc from seeing a function that can never return */
			longjmp(jump_env, 1); /* leaves JUMP_LEVELS + 1 frames without their exit hooks */
		return;
	}
	jump_down(levels - 1);
	__asm__ volatile("");
}

__attribute__((noinline, noclone)) int jump_outer(void)
{
	if (setjmp(jump_env) == 0) {
		jump_down(JUMP_LEVELS);
		return 0;
	}
	return 1;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	const char *truth = argc == 3 && strcmp(argv[1], "--truth") == 0 ? argv[2] : NULL;
	uint64_t t0, work_ns, f, l, w, d;
	int jumped;

	f = fib(FIB_N);
	l = leaf_loop();
	t0 = mono_ns();
	w = work_outer();
	work_ns = mono_ns() - t0;
	d = deep(DEEP_LEVELS);
	jumped = jump_outer();

	printf("fib(%d) = %" PRIu64 "\n", FIB_N, f);
	printf("leaf_loop = %" PRIu64 "\n", l);
	printf("work_outer = %" PRIu64 "\n", w);
	printf("deep = %" PRIu64 "\n", d);
	printf("jumped = %d\n", jumped);
	printf("truth calls fib %" PRIu64 "\n", fib_calls);
	printf("truth calls leaf %" PRIu64 "\n", leaf_calls);
	printf("truth calls leaf_loop 1\n");
	printf("truth calls work_outer 1\n");
	printf("truth calls work_unit %" PRIu64 "\n", unit_calls);
	/* gcc instruments inlined functions too: the always_inline burner counts as work_unit's callee. */
	printf("truth calls dt_burn %" PRIu64 "\n", unit_calls);
	printf("truth calls deep %" PRIu64 "\n", deep_calls);
	printf("truth calls jump_outer 1\n");
	printf("truth calls jump_down %" PRIu64 "\n", jump_calls);
	printf("truth calls main 1\n");
	if (truth) {
		FILE *fp = fopen(truth, "w");

		if (!fp || fprintf(fp, "work_outer_wall_ns %" PRIu64 "\n", work_ns) < 0 || fclose(fp) != 0) {
			perror(truth);
			return 1;
		}
	}
	return 0;
}
