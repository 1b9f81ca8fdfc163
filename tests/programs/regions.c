/* regions: uses include/deiatrace.h with known truth, built as a normal program (it must run with or
 * without the shim). Per pass: "outer" holds "inner_cpu" (burns CPU, allocates 10 blocks of 1000
 * bytes) and, through DT_REGION, "inner_sleep" (sleeps 20 ms); a second thread runs "worker" twice.
 * Usage: regions [PASSES] (default 3). stdout: a checksum. */
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
#define SLEEP_MS 20
#define WORKER_PASSES 2
#define NS_PER_MS 1000000L

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
		dt_region_begin("inner_cpu");
		for (int i = 0; i < INNER_ALLOCS; i++) {
			char *b = malloc(INNER_ALLOC_BYTES);
			if (b)
				b[0] = (char)i;
			sink += (uint64_t)(b ? b[0] : 0);
			free(b);
		}
		sink += dt_burn((uint64_t)p, INNER_ITERATIONS);
		dt_region_end();
		sleep_part();
		dt_region_end();
	}
	pthread_join(th, NULL);
	printf("%" PRIu64 "\n", (uint64_t)sink);
	return 0;
}
