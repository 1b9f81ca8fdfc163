/* instr_threads: built with -finstrument-functions. Calls made on threads that have exited by the time
 * the trace is written must still be counted exactly: 4 threads call thread_leaf() 250,000 times each at
 * the same time, then 64 short-lived threads, one after the other, call short_leaf() 1000 times each
 * (their per-thread records are reused). The program counts its own calls; stdout is deterministic. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>

#define WIDE_THREADS 4u
#define WIDE_CALLS 250000u
#define SHORT_THREADS 64u
#define SHORT_CALLS 1000u

static uint64_t wide_calls[WIDE_THREADS], short_calls;

__attribute__((noinline, noclone)) uint64_t thread_leaf(uint64_t x)
{
	__asm__ volatile("" : "+r"(x));
	return x + 1;
}

__attribute__((noinline, noclone)) uint64_t short_leaf(uint64_t x)
{
	__asm__ volatile("" : "+r"(x));
	return x ^ 5;
}

__attribute__((noinline, noclone)) void *wide_main(void *arg)
{
	uint64_t *count = arg, acc = 0;

	for (unsigned i = 0; i < WIDE_CALLS; i++) {
		acc += thread_leaf(i);
		(*count)++;
	}
	return (void *)(uintptr_t)(acc & 1);
}

__attribute__((noinline, noclone)) void *short_main(void *arg)
{
	uint64_t acc = 0;

	for (unsigned i = 0; i < SHORT_CALLS; i++)
		acc += short_leaf(i);
	(void)arg;
	return (void *)(uintptr_t)(acc & 1);
}

int main(void)
{
	pthread_t wide[WIDE_THREADS];
	uint64_t total = 0;

	for (unsigned i = 0; i < WIDE_THREADS; i++) {
		if (pthread_create(&wide[i], NULL, wide_main, &wide_calls[i]) != 0) {
			perror("pthread_create");
			return 1;
		}
	}
	for (unsigned i = 0; i < WIDE_THREADS; i++) {
		pthread_join(wide[i], NULL);
		total += wide_calls[i];
	}
	for (unsigned i = 0; i < SHORT_THREADS; i++) {
		pthread_t t;

		if (pthread_create(&t, NULL, short_main, NULL) != 0) {
			perror("pthread_create");
			return 1;
		}
		pthread_join(t, NULL);
		short_calls += SHORT_CALLS;
	}
	printf("truth calls thread_leaf %" PRIu64 "\n", total);
	printf("truth calls wide_main %u\n", WIDE_THREADS);
	printf("truth calls short_leaf %" PRIu64 "\n", short_calls);
	printf("truth calls short_main %u\n", SHORT_THREADS);
	printf("truth calls main 1\n");
	return 0;
}
