/* Ground truth for concurrent tracking: four threads allocate, hand their blocks to the next thread,
 * which frees them (cross-thread frees), while each also churns malloc/free pairs of its own.
 * Prints "truth KEY VALUE" lines (write(2), no stdio buffer in the heap totals).
 * Usage: mem_threads [rounds]   (0 rounds: same threads, no workload: the baseline) */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define THREADS 4
#define BATCH_BLOCKS 1000u     /* handed over per thread per round */
#define BATCH_BASE_BYTES 32u   /* thread t allocates BATCH_BASE_BYTES + t * BATCH_STEP_BYTES */
#define BATCH_STEP_BYTES 16u
#define CHURN_PER_ROUND 5000u  /* local malloc/free pairs per thread per round */
#define CHURN_BYTES 48u
#define WORKLOAD __attribute__((noinline, noipa))
#define KEEP(p) __asm__ volatile("" : : "r"(p) : "memory")

static void *batch[THREADS][BATCH_BLOCKS];
static pthread_barrier_t barrier;
static unsigned rounds;

WORKLOAD void *mem_thread_batch(size_t n)
{
	void *p = malloc(n);
	KEEP(p);
	return p;
}

WORKLOAD void *mem_thread_churn(void)
{
	void *p = malloc(CHURN_BYTES);
	KEEP(p);
	return p;
}

static void *worker(void *arg)
{
	unsigned t = (unsigned)(uintptr_t)arg;
	unsigned prev = (t + THREADS - 1) % THREADS;
	for (unsigned r = 0; r < rounds; r++) {
		for (unsigned i = 0; i < BATCH_BLOCKS; i++) {
			batch[t][i] = mem_thread_batch(BATCH_BASE_BYTES + t * BATCH_STEP_BYTES);
			if (!batch[t][i])
				abort();
		}
		pthread_barrier_wait(&barrier);
		/* Free the previous thread's blocks while it frees its own neighbour's and churns. */
		for (unsigned i = 0; i < BATCH_BLOCKS; i++) {
			free(batch[prev][i]);
			free(mem_thread_churn());
		}
		for (unsigned i = BATCH_BLOCKS; i < CHURN_PER_ROUND; i++)
			free(mem_thread_churn());
		pthread_barrier_wait(&barrier);
	}
	return NULL;
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
	rounds = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 20;
	pthread_t tid[THREADS];
	if (pthread_barrier_init(&barrier, NULL, THREADS) != 0)
		return 1;
	for (unsigned t = 0; t < THREADS; t++)
		if (pthread_create(&tid[t], NULL, worker, (void *)(uintptr_t)t) != 0)
			return 1;
	for (unsigned t = 0; t < THREADS; t++)
		pthread_join(tid[t], NULL);
	pthread_barrier_destroy(&barrier);

	unsigned long long batch_calls = (unsigned long long)rounds * BATCH_BLOCKS * THREADS;
	unsigned long long batch_bytes = 0;
	for (unsigned t = 0; t < THREADS; t++)
		batch_bytes += (unsigned long long)rounds * BATCH_BLOCKS * (BATCH_BASE_BYTES + t * BATCH_STEP_BYTES);
	unsigned long long churn_calls = (unsigned long long)rounds * CHURN_PER_ROUND * THREADS;
	say("mem_thread_batch.calls", batch_calls);
	say("mem_thread_batch.bytes", batch_bytes);
	say("mem_thread_churn.calls", churn_calls);
	say("mem_thread_churn.bytes", churn_calls * CHURN_BYTES);
	say("workload.allocations", batch_calls + churn_calls);
	say("workload.frees", batch_calls + churn_calls);
	say("workload.allocated_bytes", batch_bytes + churn_calls * CHURN_BYTES);
	say("workload.leaked_bytes", 0);
	return 0;
}
