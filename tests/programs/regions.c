/* regions: uses include/deiatrace.h with known truth, built as a normal program (it must run with or
 * without the shim). Per pass: "outer" holds "inner_cpu" (burns CPU, allocates 10 blocks of 1000
 * bytes, all live together: peak live 10000) and, through DT_REGION, "inner_sleep" (sleeps 20 ms); a
 * second thread runs "worker" twice. Outer holds a 500-byte block across inner_cpu (its peak live is
 * 10500), then frees it and churns a 3000-byte block: lower than 10500, so an outer peak of 3000 would
 * mean the nested region hid the outer's. Usage: regions [PASSES] (default 3). stdout: a checksum. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "deiatrace.h"
#include "workload.h"

#define INNER_ITERATIONS 30000000ull
#define INNER_ALLOCS 10
#define INNER_ALLOC_BYTES 1000
#define OUTER_HELD_BYTES 500   /* live across inner_cpu: outer's peak live = 10500 */
#define OUTER_CHURN_BYTES 3000 /* after inner_cpu, with nothing else live */
#define SLEEP_MS 20
#define WORKER_PASSES 2
#define NS_PER_MS 1000000L
/* The pointer escapes: the compiler may not drop the malloc/free pair. */
#define KEEP(p) __asm__ volatile("" : : "r"(p) : "memory")

static volatile uint64_t sink;

static void *worker(void *arg)
{
	(void)arg;
	for (int i = 0; i < WORKER_PASSES; i++) {
		DT_REGION("worker");
		sink += dt_burn((uint64_t)i, INNER_ITERATIONS / 2);
	}
	return NULL;
}

static void sleep_part(void)
{
	DT_REGION("inner_sleep");
	struct timespec ts = {0, SLEEP_MS * NS_PER_MS};
	nanosleep(&ts, NULL);
}

int main(int argc, char **argv)
{
	int passes = argc > 1 ? atoi(argv[1]) : 3;
	pthread_t th;

	if (pthread_create(&th, NULL, worker, NULL) != 0)
		return 1;
	for (int p = 0; p < passes; p++) {
		dt_region_begin("outer");
		char *held = malloc(OUTER_HELD_BYTES);
		KEEP(held);
		dt_region_begin("inner_cpu");
		char *blocks[INNER_ALLOCS];
		for (int i = 0; i < INNER_ALLOCS; i++) {
			char *b = malloc(INNER_ALLOC_BYTES);
			if (b)
				b[0] = (char)i;
			sink += (uint64_t)(b ? b[0] : 0);
			blocks[i] = b;
		}
		for (int i = 0; i < INNER_ALLOCS; i++)
			free(blocks[i]);
		sink += dt_burn((uint64_t)p, INNER_ITERATIONS);
		dt_region_end();
		free(held);
		char *churn = malloc(OUTER_CHURN_BYTES);
		KEEP(churn);
		free(churn);
		sleep_part();
		dt_region_end();
	}
	pthread_join(th, NULL);
	printf("%" PRIu64 "\n", (uint64_t)sink);
	return 0;
}
