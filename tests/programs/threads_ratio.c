/* threads_ratio: two threads burn CPU at the same time, one doing twice the work of the other in a
 * function of its own (work_double, work_single); main only waits. A per-thread sampler must report
 * the two functions in a 2:1 ratio; a process-wide timer that only ever samples one thread does not.
 *
 * Usage: threads_ratio [--truth FILE]   writes each thread's measured CPU time
 * stdout is deterministic. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "lib/dtshared.h"
#include "workload.h"

#define SINGLE_ITERATIONS 400000000ull /* about 0.7 s of CPU on the reference machine */

struct job {
	uint64_t (*fn)(uint64_t seed, uint64_t iterations);
	uint64_t iterations;
	uint64_t result;
	uint64_t cpu_ns;
};

__attribute__((noinline, noclone)) uint64_t work_double(uint64_t seed, uint64_t iterations)
{
	return dt_burn(seed, iterations);
}

__attribute__((noinline, noclone)) uint64_t work_single(uint64_t seed, uint64_t iterations)
{
	return dt_burn(seed ^ 0x1234u, iterations);
}

static void *run_job(void *arg)
{
	struct job *j = arg;
	uint64_t t0 = dt_thread_cpu_ns();

	j->result = j->fn(0x243f6a8885a308d3ull, j->iterations);
	j->cpu_ns = dt_thread_cpu_ns() - t0;
	return NULL;
}

int main(int argc, char **argv)
{
	struct job jobs[2] = {
		{.fn = work_double, .iterations = 2 * SINGLE_ITERATIONS},
		{.fn = work_single, .iterations = SINGLE_ITERATIONS},
	};
	pthread_t tids[2];
	const char *truth = NULL;

	if (argc == 3 && strcmp(argv[1], "--truth") == 0) {
		truth = argv[2];
	} else if (argc != 1) {
		fprintf(stderr, "usage: threads_ratio [--truth FILE]\n");
		return 2;
	}
	for (int i = 0; i < 2; i++) {
		int err = pthread_create(&tids[i], NULL, run_job, &jobs[i]);
		if (err) {
			fprintf(stderr, "threads_ratio: pthread_create: %s\n", strerror(err));
			return 1;
		}
	}
	for (int i = 0; i < 2; i++)
		pthread_join(tids[i], NULL);

	printf("threads_ratio: work_double %016" PRIx64 ", work_single %016" PRIx64 "\n", jobs[0].result,
	       jobs[1].result);
	if (truth) {
		FILE *f = fopen(truth, "w");
		if (!f) {
			perror(truth);
			return 1;
		}
		fprintf(f, "{\"work_double_cpu_ns\": %" PRIu64 ", \"work_single_cpu_ns\": %" PRIu64 "}\n",
		        jobs[0].cpu_ns, jobs[1].cpu_ns);
		if (fclose(f) != 0) {
			perror(truth);
			return 1;
		}
	}
	return 0;
}
