/* The loader lock under sampling. `race LIB`: four threads dlopen/dlclose LIB in a loop while four call
 * dl_iterate_phdr, for a fixed number of rounds; prints the totals. `symbolize LIB`: dlopen LIB, burn
 * CPU in its dt_life_burn for a while, dlclose it, exit: its samples must still be symbolized. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define RACE_THREADS 4
#define RACE_ROUNDS 300
#define SYMBOLIZE_BURN 60000000ull

static const char *lib;
static volatile unsigned long long sink;

static void *opener(void *arg)
{
	(void)arg;
	unsigned long long (*fn)(unsigned long long);
	for (int i = 0; i < RACE_ROUNDS; i++) {
		void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
		if (!h)
			return (void *)1;
		*(void **)&fn = dlsym(h, "dt_life_burn");
		if (fn)
			sink += fn(2000);
		dlclose(h);
	}
	return NULL;
}

static int count_cb(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)info;
	(void)size;
	++*(int *)data;
	return 0;
}

static void *iterator(void *arg)
{
	(void)arg;
	for (int i = 0; i < RACE_ROUNDS * 4; i++) {
		int n = 0;
		dl_iterate_phdr(count_cb, &n);
		if (n < 2)
			return (void *)1;
		for (unsigned long long k = 0; k < 2000; k++)
			sink += k;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	lib = argv[2];
	if (strcmp(argv[1], "race") == 0) {
		pthread_t t[2 * RACE_THREADS];
		int bad = 0;
		for (int i = 0; i < 2 * RACE_THREADS; i++)
			pthread_create(&t[i], NULL, i < RACE_THREADS ? opener : iterator, NULL);
		for (int i = 0; i < 2 * RACE_THREADS; i++) {
			void *r;
			pthread_join(t[i], &r);
			bad += r != NULL;
		}
		printf("race done, %d failed threads\n", bad);
		return bad != 0;
	}
	if (strcmp(argv[1], "symbolize") == 0) {
		void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
		unsigned long long (*fn)(unsigned long long);
		if (!h)
			return 3;
		*(void **)&fn = dlsym(h, "dt_life_burn");
		if (!fn)
			return 4;
		sink += fn(SYMBOLIZE_BURN);
		dlclose(h);
		printf("symbolize done\n");
		return 0;
	}
	return 2;
}
