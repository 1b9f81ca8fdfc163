/* The whole malloc family under the shim behaves as glibc's: results, alignment, errno, and the
 * corner cases (calloc overflow, realloc(NULL, n), realloc(p, 0), free(NULL), reallocarray overflow).
 * Exits 0 when every check passes, 1 naming the first failure on stderr. Then prints its truth. */
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHECK(cond)                                                                      \
	do {                                                                             \
		if (!(cond)) {                                                           \
			fprintf(stderr, "mem_apis: %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			exit(1);                                                         \
		}                                                                        \
	} while (0)
#define ALIGNED(p, a) (((uintptr_t)(p) & ((uintptr_t)(a)-1)) == 0)
#define SENTINEL_ERRNO 4242 /* set before each successful call: the shim must not clobber errno */

/* Through a volatile, so that the compiler neither warns about nor folds the impossible sizes. */
static volatile size_t size_max = SIZE_MAX;

int main(void)
{
	long page = sysconf(_SC_PAGESIZE);
	unsigned long long allocs = 0, frees = 0, bytes = 0;
	void *p;

	/* posix_memalign: success leaves errno alone; a bad alignment is EINVAL, returned not set. */
	errno = SENTINEL_ERRNO;
	CHECK(posix_memalign(&p, 64, 100) == 0 && ALIGNED(p, 64) && errno == SENTINEL_ERRNO);
	CHECK(malloc_usable_size(p) >= 100);
	free(p), allocs++, frees++, bytes += 100;
	void *untouched = (void *)0x1;
	p = untouched;
	CHECK(posix_memalign(&p, 3, 100) == EINVAL && p == untouched);

	errno = SENTINEL_ERRNO;
	p = aligned_alloc(256, 512);
	CHECK(p && ALIGNED(p, 256) && errno == SENTINEL_ERRNO);
	free(p), allocs++, frees++, bytes += 512;

	p = memalign(128, 200);
	CHECK(p && ALIGNED(p, 128));
	free(p), allocs++, frees++, bytes += 200;

	p = valloc(10);
	CHECK(p && ALIGNED(p, page));
	free(p), allocs++, frees++, bytes += 10;

	p = pvalloc(10);
	CHECK(p && ALIGNED(p, page) && malloc_usable_size(p) >= (size_t)page);
	free(p), allocs++, frees++, bytes += 10;

	/* calloc: overflow is NULL + ENOMEM; success is zeroed. */
	errno = 0;
	CHECK(calloc(size_max, 2) == NULL && errno == ENOMEM);
	errno = 0;
	CHECK(calloc(2, size_max / 2 + 2) == NULL && errno == ENOMEM);
	errno = SENTINEL_ERRNO;
	unsigned char *z = calloc(100, 3);
	CHECK(z && errno == SENTINEL_ERRNO);
	for (int i = 0; i < 300; i++)
		CHECK(z[i] == 0);
	free(z), allocs++, frees++, bytes += 300;

	/* realloc(NULL, n) is malloc(n); growing keeps the contents; realloc(p, 0) frees p. */
	errno = SENTINEL_ERRNO;
	char *s = realloc(NULL, 16);
	CHECK(s && errno == SENTINEL_ERRNO);
	allocs++, bytes += 16;
	memcpy(s, "deiatrace-apis", 15);
	s = realloc(s, 4096);
	CHECK(s && strcmp(s, "deiatrace-apis") == 0);
	allocs++, frees++, bytes += 4096;
	CHECK(realloc(s, 0) == NULL);
	frees++;

	/* reallocarray: overflow is NULL + ENOMEM and leaves the block alone; success is realloc. */
	int *a = reallocarray(NULL, 10, sizeof(int));
	CHECK(a);
	allocs++, bytes += 10 * sizeof(int);
	a[9] = 99;
	errno = 0;
	CHECK(reallocarray(a, size_max, 2) == NULL && errno == ENOMEM && a[9] == 99);
	a = reallocarray(a, 1000, sizeof(int));
	CHECK(a && a[9] == 99);
	allocs++, frees++, bytes += 1000 * sizeof(int);
	free(a), frees++;

	/* free(NULL) is a no-op and keeps errno. */
	errno = SENTINEL_ERRNO;
	free(NULL);
	CHECK(errno == SENTINEL_ERRNO);

	/* malloc/free keep errno on success; a huge malloc fails with ENOMEM. */
	errno = SENTINEL_ERRNO;
	p = malloc(1000);
	CHECK(p && errno == SENTINEL_ERRNO && malloc_usable_size(p) >= 1000);
	free(p);
	CHECK(errno == SENTINEL_ERRNO);
	allocs++, frees++, bytes += 1000;
	errno = 0;
	CHECK(malloc(size_max - 4096) == NULL && errno == ENOMEM);

	/* The truth for the integration test, through write(2): stdio's buffer would be one more block. */
	char line[256];
	int n = snprintf(line, sizeof(line), "truth allocations %llu\ntruth frees %llu\ntruth allocated_bytes %llu\n",
	                 allocs, frees, bytes);
	if (n <= 0 || write(STDOUT_FILENO, line, (size_t)n) != n)
		return 1;
	return 0;
}
