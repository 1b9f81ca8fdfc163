/* Threads the shim must survive: `short` starts 400 short-lived threads in batches (some exiting while
 * being sampled: each burns a little CPU), each with a thread-local destructor that allocates; the
 * open descriptors are counted before and after (no leaked perf fds or timers). `blocked` runs 3
 * threads that block every signal while burning CPU next to one that does not. Prints what it saw. */
#define _GNU_SOURCE
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SHORT_THREADS 400
#define BATCH 16
#define THREAD_BURN 200000ull
#define BLOCKED_THREADS 3
#define BLOCKED_BURN 40000000ull

static pthread_key_t key;
static volatile unsigned long long sink;

static int count_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	for (struct dirent *e; (e = readdir(d)) != NULL;)
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the directory's own fd */
}

static int count_timers(void) /* POSIX timers of this process, from /proc/self/timers */
{
	int n = 0;
	char line[256];
	FILE *f = fopen("/proc/self/timers", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		n += strncmp(line, "ID:", 3) == 0;
	fclose(f);
	return n;
}

static void tls_destructor(void *v)
{
	/* Allocates during thread exit, after the shim's own per-thread cleanup may have run. */
	char *p = malloc(128);
	snprintf(p, 128, "%p", v);
	free(p);
	free(v);
}

static void *short_thread(void *arg)
{
	pthread_setspecific(key, malloc(32));
	for (unsigned long long i = 0; i < THREAD_BURN; i++)
		sink += i * (unsigned long long)(uintptr_t)arg;
	return NULL;
}

static void *blocked_thread(void *arg)
{
	sigset_t all;
	sigfillset(&all);
	if (arg)
		pthread_sigmask(SIG_BLOCK, &all, NULL);
	for (unsigned long long i = 0; i < BLOCKED_BURN; i++)
		sink += i;
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	pthread_key_create(&key, tls_destructor);
	if (strcmp(argv[1], "short") == 0) {
		int fds0 = count_fds(), timers0 = count_timers();
		for (int i = 0; i < SHORT_THREADS; i += BATCH) {
			pthread_t t[BATCH];
			for (int j = 0; j < BATCH; j++)
				pthread_create(&t[j], NULL, short_thread, (void *)(uintptr_t)(i + j + 1));
			for (int j = 0; j < BATCH; j++)
				pthread_join(t[j], NULL);
		}
		int fds1 = count_fds(), timers1 = count_timers();
		printf("threads %d, fds %s, timers %s\n", SHORT_THREADS, fds0 == fds1 ? "same" : "LEAKED",
		       timers0 == timers1 ? "same" : "LEAKED");
		if (fds0 != fds1 || timers0 != timers1)
			fprintf(stderr, "fds %d -> %d, timers %d -> %d\n", fds0, fds1, timers0, timers1);
		return 0;
	}
	if (strcmp(argv[1], "blocked") == 0) {
		pthread_t t[BLOCKED_THREADS + 1];
		for (int i = 0; i <= BLOCKED_THREADS; i++)
			pthread_create(&t[i], NULL, blocked_thread, i < BLOCKED_THREADS ? (void *)1 : NULL);
		struct timespec nap = {0, 20 * 1000 * 1000};
		int eintr = 0;
		for (int i = 0; i < 5; i++)
			eintr += nanosleep(&nap, NULL) != 0;
		for (int i = 0; i <= BLOCKED_THREADS; i++)
			pthread_join(t[i], NULL);
		printf("blocked done, nanosleep interrupted %d times\n", eintr);
		return 0;
	}
	return 2;
}
