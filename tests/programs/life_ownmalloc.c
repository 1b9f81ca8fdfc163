/* A program that brings its own malloc, free, calloc and realloc (a bump allocator over one mmap'd
 * arena): the executable's definitions come first in symbol lookup, ahead of any LD_PRELOAD, so
 * libc, the program and the shim's libraries all allocate here. Exercises the paths that allocate
 * behind the program's back (stdio buffers, strdup, reallocarray, qsort, a thread) and prints a fixed
 * report. Exit 0; 1 when the arena cannot be mapped; 2 when an allocation check fails. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define ARENA_BYTES (256u << 20) /* reserved, touched on demand */
#define BLOCK_ALIGN_BYTES 16u
#define HEADER_BYTES 16u /* the block's size, kept in front of it; keeps 16-byte alignment */
#define WORDS 20000u
#define WORD_BYTES 24u
#define THREAD_ALLOCS 5000u

static uint8_t *arena;
static _Atomic size_t arena_used;
static _Atomic uint64_t own_calls; /* malloc/calloc/realloc calls served here */

static int arena_ready(void)
{
	/* Lazy: libc may allocate before main and before any constructor of ours. mmap allocates
	 * nothing; a racing second mapping is released. */
	if (arena)
		return 1;
	void *p = mmap(NULL, ARENA_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		       -1, 0);
	if (p == MAP_FAILED)
		return 0;
	uint8_t *expect = NULL;
	if (!__atomic_compare_exchange_n(&arena, &expect, (uint8_t *)p, 0, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE))
		munmap(p, ARENA_BYTES);
	return 1;
}

static int in_arena(const void *p)
{
	return arena && (const uint8_t *)p >= arena && (const uint8_t *)p < arena + ARENA_BYTES;
}

/* Not named malloc: GCC turns "malloc, then memset to 0" into a call to calloc, which in calloc
 * itself would recurse for ever. */
static void *bump(size_t n)
{
	if (!arena_ready() || n > ARENA_BYTES) {
		errno = ENOMEM;
		return NULL;
	}
	size_t need = HEADER_BYTES + ((n + BLOCK_ALIGN_BYTES - 1) & ~(size_t)(BLOCK_ALIGN_BYTES - 1));
	size_t at = atomic_fetch_add(&arena_used, need);
	if (at + need > ARENA_BYTES) {
		errno = ENOMEM;
		return NULL;
	}
	atomic_fetch_add_explicit(&own_calls, 1, memory_order_relaxed);
	*(size_t *)(arena + at) = n;
	return arena + at + HEADER_BYTES;
}

void *malloc(size_t n)
{
	return bump(n);
}

void free(void *p)
{
	(void)p; /* a bump allocator never reuses; blocks from elsewhere (memalign in libc) are left */
}

void *calloc(size_t nmemb, size_t size)
{
	size_t n;
	if (__builtin_mul_overflow(nmemb, size, &n)) {
		errno = ENOMEM;
		return NULL;
	}
	void *p = bump(n);
	if (p)
		memset(p, 0, n);
	return p;
}

void *realloc(void *p, size_t n)
{
	if (!p)
		return malloc(n);
	if (!in_arena(p))
		return NULL; /* not ours: this program never hands realloc such a block */
	size_t old = *(size_t *)((uint8_t *)p - HEADER_BYTES);
	void *q = bump(n);
	if (q)
		memcpy(q, p, old < n ? old : n);
	return q;
}

static int by_string(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void *thread_work(void *arg)
{
	(void)arg;
	uint64_t sum = 0;
	for (uint32_t i = 0; i < THREAD_ALLOCS; i++) {
		uint32_t *v = malloc(sizeof(*v));
		if (!v)
			return NULL;
		*v = i;
		sum += *v;
		free(v);
	}
	return (void *)(uintptr_t)sum;
}

int main(void)
{
	if (!arena_ready()) {
		perror("life_ownmalloc: mmap");
		return 1;
	}
	char **words = calloc(WORDS, sizeof(*words));
	if (!words)
		return 2;
	uint64_t x = 88172645463325252ull;
	for (uint32_t i = 0; i < WORDS; i++) {
		char buf[WORD_BYTES];
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		snprintf(buf, sizeof(buf), "w%016llx", (unsigned long long)x);
		words[i] = strdup(buf);
		if (!words[i] || !in_arena(words[i]))
			return 2;
	}
	/* The executable defines no reallocarray: libc's (or a preloaded one's) must resize through
	 * this realloc, never through another allocator's. */
	char **more = reallocarray(words, WORDS + 1, sizeof(*words));
	if (!more || !in_arena(more))
		return 2;
	words = more;
	qsort(words, WORDS, sizeof(*words), by_string);
	char *joined = NULL;
	size_t len = 0;
	for (uint32_t i = 0; i < WORDS; i += WORDS / 10) {
		size_t add = strlen(words[i]) + 1;
		char *grown = realloc(joined, len + add + 1);
		if (!grown)
			return 2;
		joined = grown;
		memcpy(joined + len, words[i], add - 1);
		joined[len + add - 1] = ' ';
		joined[len + add] = '\0';
		len += add;
	}
	pthread_t t;
	void *ret = NULL;
	if (pthread_create(&t, NULL, thread_work, NULL) != 0 || pthread_join(t, &ret) != 0)
		return 2;
	printf("life_ownmalloc: first %s last %s\n", words[0], words[WORDS - 1]);
	printf("life_ownmalloc: sample %s\n", joined);
	printf("life_ownmalloc: thread sum %llu\n", (unsigned long long)(uintptr_t)ret);
	/* Not the call count itself: the shim's own allocations (made here too) would change it. */
	printf("life_ownmalloc: own allocator served the program: %s\n",
	       atomic_load(&own_calls) >= WORDS + THREAD_ALLOCS ? "yes" : "no");
	return 0;
}
