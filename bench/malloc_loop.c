/* A pure malloc/free loop for bench/malloc_bench.sh: THREADS threads each run ITERS malloc+free pairs
 * of a few sizes from one call site, then print the CPU and wall time per pair (the bench takes the
 * difference against an untraced run as the nanoseconds added per allocation).
 * Usage: malloc_loop ITERS [THREADS] */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define MAX_THREADS 64
#define SIZES 4
#define KEEP(p) __asm__ volatile("" : : "r"(p) : "memory")

static const size_t sizes_bytes[SIZES] = {16, 32, 64, 128};
static uint64_t iters;

static __attribute__((noinline, noipa)) void *alloc_one(size_t n)
{
	void *p = malloc(n);
	KEEP(p);
	return p;
}

static void *worker(void *arg)
{
	(void)arg;
	for (uint64_t i = 0; i < iters; i++) {
		void *p = alloc_one(sizes_bytes[i & (SIZES - 1)]);
		free(p);
	}
	return NULL;
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	iters = argc > 1 ? strtoull(argv[1], NULL, 10) : 10000000ull;
	int threads = argc > 2 ? atoi(argv[2]) : 1;
	if (threads < 1 || threads > MAX_THREADS) {
		fprintf(stderr, "malloc_loop: THREADS must be 1..%d\n", MAX_THREADS);
		return 2;
	}
	pthread_t tid[MAX_THREADS];
	uint64_t t0 = clock_ns(CLOCK_MONOTONIC), c0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	if (threads == 1) {
		worker(NULL);
	} else {
		for (int t = 0; t < threads; t++)
			if (pthread_create(&tid[t], NULL, worker, NULL) != 0)
				return 1;
		for (int t = 0; t < threads; t++)
			pthread_join(tid[t], NULL);
	}
	uint64_t t1 = clock_ns(CLOCK_MONOTONIC), c1 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	double pairs = (double)(iters * (uint64_t)threads);
	/* CPU time per pair is the steadier number on a shared machine; wall is what users feel. */
	printf("pairs %.0f cpu_ns_per_pair %.2f wall_ns_per_pair %.2f\n", pairs, (double)(c1 - c0) / pairs,
	       (double)(t1 - t0) / pairs);
	return 0;
}
