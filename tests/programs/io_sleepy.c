/* io_sleepy: a program that mostly waits. A writer thread pushes a deterministic byte stream through
 * a pipe in uneven chunks and naps now and then; main polls with a timeout, reads, and sleeps; a
 * third thread burns CPU meanwhile so the sampler is busy. Every call that can fail with EINTR is
 * checked: a profiler whose signals interrupt the host's sleeps or I/O makes this program say so on
 * stderr and exit 1. Otherwise stdout is deterministic, stderr says goodbye and the status is 3.
 *
 * Usage: io_sleepy        (no arguments) */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/dtshared.h"
#include "workload.h"

#define STREAM_BYTES (24u << 20)
#define MAX_CHUNK_BYTES 65536u
#define WRITER_NAP_EVERY 64     /* chunks between writer naps */
#define READER_NAP_EVERY 97     /* reads between reader naps */
#define NAP_NS 2000000L         /* 2 ms */
#define POLL_TIMEOUT_MS 5
#define BURN_ITERATIONS 250000000ull
#define EXIT_STATUS 3

static void die_eintr(const char *what)
{
	fprintf(stderr, "io_sleepy: %s: interrupted by a signal (EINTR)\n", what);
	exit(1);
}

static void die_errno(const char *what)
{
	fprintf(stderr, "io_sleepy: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void nap(long ns)
{
	struct timespec ts = {.tv_sec = 0, .tv_nsec = ns};

	if (nanosleep(&ts, NULL) != 0) {
		if (errno == EINTR)
			die_eintr("nanosleep");
		die_errno("nanosleep");
	}
}

/* The byte at stream offset i: cheap, deterministic, not periodic at any power of two. */
static inline uint8_t stream_byte(uint64_t i)
{
	return (uint8_t)((i * 2654435761u) >> 13 ^ i);
}

static void *writer(void *arg)
{
	int fd = *(int *)arg;
	static uint8_t buf[MAX_CHUNK_BYTES];
	uint64_t off = 0;
	unsigned chunk_no = 0;

	while (off < STREAM_BYTES) {
		size_t n = 1 + (chunk_no * 7919u) % MAX_CHUNK_BYTES;
		if (n > STREAM_BYTES - off)
			n = STREAM_BYTES - off;
		for (size_t i = 0; i < n; i++)
			buf[i] = stream_byte(off + i);
		size_t done = 0;
		while (done < n) { /* a short write is legal; EINTR is what we are looking for */
			ssize_t w = write(fd, buf + done, n - done);
			if (w < 0) {
				if (errno == EINTR)
					die_eintr("write");
				die_errno("write");
			}
			done += (size_t)w;
		}
		off += n;
		if (++chunk_no % WRITER_NAP_EVERY == 0)
			nap(NAP_NS);
	}
	if (close(fd) != 0) {
		if (errno == EINTR)
			die_eintr("close");
		die_errno("close");
	}
	return NULL;
}

static void *burner(void *arg)
{
	uint64_t *result = arg;

	*result = dt_burn(*result, BURN_ITERATIONS);
	return NULL;
}

int main(void)
{
	static uint8_t buf[MAX_CHUNK_BYTES];
	int fds[2];
	pthread_t wt, bt;
	uint64_t burn = 42, got = 0, sum = 14695981039346656037ull, reads = 0, mismatches = 0;

	if (pipe(fds) != 0)
		die_errno("pipe");
	if (pthread_create(&wt, NULL, writer, &fds[1]) != 0 || pthread_create(&bt, NULL, burner, &burn) != 0) {
		fprintf(stderr, "io_sleepy: pthread_create failed\n");
		return 1;
	}

	for (;;) {
		struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
		int pr = poll(&pfd, 1, POLL_TIMEOUT_MS);
		if (pr < 0) {
			if (errno == EINTR)
				die_eintr("poll");
			die_errno("poll");
		}
		if (pr == 0)
			continue; /* timed out: the writer is napping */
		ssize_t r = read(fds[0], buf, sizeof(buf));
		if (r < 0) {
			if (errno == EINTR)
				die_eintr("read");
			die_errno("read");
		}
		if (r == 0)
			break;
		for (ssize_t i = 0; i < r; i++) {
			mismatches += buf[i] != stream_byte(got + (uint64_t)i);
			sum = (sum ^ buf[i]) * 1099511628211ull; /* FNV-1a */
		}
		got += (uint64_t)r;
		if (++reads % READER_NAP_EVERY == 0)
			nap(NAP_NS);
	}
	if (pthread_join(wt, NULL) != 0 || pthread_join(bt, NULL) != 0) {
		fprintf(stderr, "io_sleepy: pthread_join failed\n");
		return 1;
	}
	/* A final sleep long enough that a stray process-wide signal would likely land in it. */
	for (int i = 0; i < 10; i++)
		nap(10 * 1000000L);
	if (close(fds[0]) != 0)
		die_errno("close");

	/* The number of reads depends on timing, so only timing-free facts go to stdout. */
	printf("io_sleepy: received %" PRIu64 " bytes, %" PRIu64 " mismatches, checksum %016" PRIx64 "\n", got,
	       mismatches, sum);
	printf("io_sleepy: burner %016" PRIx64 "\n", burn);
	fflush(stdout);
	fprintf(stderr, "io_sleepy: done, exiting with status %d\n", EXIT_STATUS);
	return EXIT_STATUS;
}
