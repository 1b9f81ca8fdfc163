/* fd_list: prints the process's open descriptors (fstat of every number below the soft RLIMIT_NOFILE,
 * as CPython's test_subprocess does in its children) from the main thread while two other threads
 * burn CPU (so each is sampled), then from a fork child. Output depends only on the descriptors:
 * traced and untraced runs must print the same thing. With FD_LIST_MAPS=FILE it also appends to FILE
 * how many perf_event mappings the parent and the child hold (a traced child has only its own, if
 * perf mappings are VM_DONTCOPY). Exit status 0, or 1 when something could not be listed. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define FD_LIST_THREADS 2
#define FD_LIST_SPIN_ITERATIONS 20000000ull /* CPU work per thread before it reports in (~20 ms) */
#define FD_LIST_LINE_BYTES 512

static atomic_int ready;
static atomic_int done;

static void *spinner(void *arg)
{
	(void)arg;
	volatile uint64_t x = 0;
	for (uint64_t i = 0; i < FD_LIST_SPIN_ITERATIONS; i++)
		x += i ^ (x >> 3);
	atomic_fetch_add(&ready, 1);
	/* Keep burning CPU until listed: the thread's sampler is armed the whole time. */
	while (!atomic_load(&done))
		x += 1;
	return NULL;
}

static const char *kind(mode_t m)
{
	switch (m & S_IFMT) {
	case S_IFREG:
		return "file";
	case S_IFDIR:
		return "dir";
	case S_IFCHR:
		return "chr";
	case S_IFBLK:
		return "blk";
	case S_IFIFO:
		return "fifo";
	case S_IFSOCK:
		return "sock";
	case S_IFLNK:
		return "link";
	default:
		return "other"; /* anon inodes: perf events, eventfds, ... */
	}
}

static int list_fds(const char *who)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
		perror("fd_list: getrlimit");
		return 1;
	}
	long limit = rl.rlim_cur == RLIM_INFINITY ? sysconf(_SC_OPEN_MAX) : (long)rl.rlim_cur;
	int n = 0;
	for (long fd = 0; fd < limit; fd++) {
		struct stat st;
		if (fstat((int)fd, &st) == 0) {
			printf("%s: fd %ld %s\n", who, fd, kind(st.st_mode));
			n++;
		}
	}
	printf("%s: %d open\n", who, n);
	return 0;
}

/* Appends "who N" to $FD_LIST_MAPS: N perf_event mappings in this process. 0, or 1 on failure. */
static int note_perf_mappings(const char *who)
{
	const char *out = getenv("FD_LIST_MAPS");
	if (!out)
		return 0;
	FILE *f = fopen("/proc/self/maps", "r");
	if (!f)
		return 1;
	char line[FD_LIST_LINE_BYTES];
	int n = 0;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, "perf_event") != NULL;
	fclose(f);
	FILE *o = fopen(out, "a");
	if (!o)
		return 1;
	fprintf(o, "%s %d\n", who, n);
	return fclose(o) != 0;
}

int main(void)
{
	pthread_t t[FD_LIST_THREADS];
	for (int i = 0; i < FD_LIST_THREADS; i++)
		if (pthread_create(&t[i], NULL, spinner, NULL) != 0) {
			fprintf(stderr, "fd_list: pthread_create failed\n");
			return 1;
		}
	while (atomic_load(&ready) < FD_LIST_THREADS)
		sched_yield();
	int rc = list_fds("main");
	rc |= note_perf_mappings("parent");
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		int child_rc = list_fds("child");
		child_rc |= note_perf_mappings("child");
		fflush(stdout);
		_exit(child_rc);
	}
	int status = 0;
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		rc = 1;
	atomic_store(&done, 1);
	for (int i = 0; i < FD_LIST_THREADS; i++)
		pthread_join(t[i], NULL);
	return rc;
}
