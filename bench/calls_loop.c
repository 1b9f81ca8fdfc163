/* calls_loop: the per-call cost of -finstrument-functions hooks. Built twice by bench/bench.mk: with
 * -finstrument-functions (calls_loop) and without (calls_loop_plain). Prints thread-CPU ns per call
 * for a flat loop over a leaf and for a recursive fib, so calls_bench.sh can subtract the runs; CPU
 * time rather than wall time, so that other load on the machine (preemption) does not count. */
#include <inttypes.h>
#include <stdio.h>
#include <time.h>

#define LEAF_CALLS 20000000u
#define FIB_N 30 /* 2,692,537 calls */
#define FIB_CALLS 2692537u

__attribute__((noinline, noclone)) uint64_t bench_leaf(uint64_t x)
{
	__asm__ volatile("" : "+r"(x));
	return x * 3 + 1;
}

__attribute__((noinline, noclone)) uint64_t bench_fib(unsigned n)
{
	return n < 2 ? n : bench_fib(n - 1) + bench_fib(n - 2);
}

static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int main(void)
{
	uint64_t acc = 0, t0, t1, t2;

	acc += bench_leaf(1) + bench_fib(10); /* first calls pay for PLT binding and the shim's setup */
	t0 = cpu_ns();
	for (unsigned i = 0; i < LEAF_CALLS; i++)
		acc += bench_leaf(i);
	t1 = cpu_ns();
	acc += bench_fib(FIB_N);
	t2 = cpu_ns();
	printf("leaf_ns_per_call %.2f\n", (double)(t1 - t0) / LEAF_CALLS);
	printf("fib_ns_per_call %.2f\n", (double)(t2 - t1) / FIB_CALLS);
	printf("checksum %" PRIu64 "\n", acc);
	return 0;
}
