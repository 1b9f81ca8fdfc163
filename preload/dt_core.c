/* The services every shim module uses: the re-entry guard (dt_in_shim), the monotonic clock, the
 * one-line stderr warning and the shim's lifecycle state. Interposes nothing, so unit tests link it as
 * is. Everything here is async-signal-safe: no malloc, no locks, no stdio; errno is preserved. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dt_shim.h"

#define NS_PER_S 1000000000ull
#define CORE_WARN_LINE_BYTES 1024u /* one stderr line, "deiatrace: " and "\n" included */

DT_TLS __thread int dt_in_shim;

/* Written by dt_lifecycle only (constructor, destructor, fork child, fatal signal, exec). */
_Atomic int dt_shim_state = DT_SHIM_OFF;

uint64_t dt_now_ns(void) /* ctx: sigsafe */
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

/* One write(2) per line, so lines from several threads never interleave. ctx: sigsafe */
void dt_warn(const char *msg)
{
	static const char prefix[] = "deiatrace: ";
	char line[CORE_WARN_LINE_BYTES];
	int saved_errno = errno;
	size_t n = sizeof(prefix) - 1;
	memcpy(line, prefix, n);
	for (; msg && *msg && n + 1 < sizeof(line); msg++)
		line[n++] = *msg;
	line[n++] = '\n';
	for (size_t off = 0; off < n;) {
		ssize_t w = write(STDERR_FILENO, line + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	errno = saved_errno;
}

int dt_shim_active(void) /* ctx: sigsafe */
{
	return atomic_load_explicit(&dt_shim_state, memory_order_relaxed) == DT_SHIM_ACTIVE;
}
