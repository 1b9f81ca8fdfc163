/* Shared helpers for the test workloads: a CPU burner whose cost is fixed by its iteration count,
 * and a thread-CPU clock. Everything here is static inline so it folds into the caller: a noinline
 * workload function that calls dt_burn() owns every sample taken inside the loop (self time). */
#ifndef DT_WORKLOAD_H
#define DT_WORKLOAD_H

#include <stdint.h>
#include <time.h>

/* A dependent multiply/xorshift chain: the compiler can neither vectorise nor close-form it, so the
 * time it takes is proportional to `iterations` on a given machine. */
static inline __attribute__((always_inline)) uint64_t dt_burn(uint64_t x, uint64_t iterations)
{
	for (uint64_t i = 0; i < iterations; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		x ^= x >> 29;
	}
	return x;
}

/* CPU time consumed by the calling thread, in nanoseconds. */
static inline uint64_t dt_thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#endif
