/* Running a measured program: finds the shim, builds its environment (LD_PRELOAD prepended, the
 * DEIATRACE_* settings), fork + execvp, wait4 for exit status and rusage, wall time around both.
 * The parent ignores SIGINT/SIGQUIT while it waits, as a shell does, so ^C reaches the program. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dt_fe.h"

#define SHIM_NAME "libdeiatrace.so"
#define SHIM_INSTALLED_REL "../lib/deiatrace/" SHIM_NAME /* from $PREFIX/bin */
#define EXIT_CANNOT_EXEC 126
#define NS_PER_S 1e9
#define US_PER_S 1e6
#define BYTES_PER_KIB 1024u
#define ENV_VALUE_BYTES 8192u

int dt_run_find_shim(char *path, size_t len, char *err, size_t errlen)
{
	char self[PATH_MAX], cand[PATH_MAX + sizeof(SHIM_INSTALLED_REL)];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n <= 0) {
		snprintf(err, errlen, "/proc/self/exe: a link to this program expected, found: %s",
			 strerror(errno));
		return -1;
	}
	self[n] = '\0';
	char *slash = strrchr(self, '/');
	if (slash)
		slash[1] = '\0';
	static const char *const rel[] = {SHIM_NAME, SHIM_INSTALLED_REL};
	for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		snprintf(cand, sizeof(cand), "%s%s", self, rel[i]);
		char *real = realpath(cand, NULL);
		if (real && access(real, R_OK) == 0 && strlen(real) < len) {
			snprintf(path, len, "%s", real);
			free(real);
			return 0;
		}
		free(real);
	}
	snprintf(err, errlen,
		 "%s%s or %s%s: the profiler library expected, found neither (is it built/installed?)", self,
		 SHIM_NAME, self, SHIM_INSTALLED_REL);
	return -1;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / NS_PER_S;
}

/* In the child, between fork and exec: the environment the shim reads. 0 or -1. */
static int child_env(const struct dt_run_opts *o)
{
	char buf[ENV_VALUE_BYTES];

	if (!o->shim)
		return 0;
	const char *old = getenv("LD_PRELOAD");
	if (old && *old)
		snprintf(buf, sizeof(buf), "%s:%s", o->shim, old);
	else
		snprintf(buf, sizeof(buf), "%s", o->shim);
	if (setenv("LD_PRELOAD", buf, 1))
		return -1;
	if (o->output && setenv("DEIATRACE_OUTPUT", o->output, 1))
		return -1;
	if (o->freq_hz) {
		snprintf(buf, sizeof(buf), "%u", (unsigned)o->freq_hz);
		if (setenv("DEIATRACE_FREQ", buf, 1))
			return -1;
	}
	if (o->no_malloc && setenv("DEIATRACE_MALLOC", "off", 1))
		return -1;
	if (o->no_cpu && setenv("DEIATRACE_CPU", "off", 1))
		return -1;
	if (o->no_follow && setenv("DEIATRACE_FOLLOW", "0", 1))
		return -1;
	return 0;
}

static void child(const struct dt_run_opts *o, int report_fd)
{
	int e;

	signal(SIGINT, SIG_DFL);
	signal(SIGQUIT, SIG_DFL);
	if (o->quiet) {
		int fd = open("/dev/null", O_WRONLY);
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
			if (fd > STDERR_FILENO)
				close(fd);
		}
	}
	if (child_env(o) == 0)
		execvp(o->argv[0], o->argv);
	e = errno;
	/* The parent reads errno from the close-on-exec pipe: exec success closes it empty. */
	if (write(report_fd, &e, sizeof(e)) < 0) {
		/* nothing more to say: the exit status tells the parent the exec failed */
	}
	_exit(e == ENOENT ? DT_FE_EXIT_NOEXEC : EXIT_CANNOT_EXEC);
}

int dt_run(const struct dt_run_opts *o, struct dt_run_result *r, char *err, size_t errlen)
{
	struct sigaction ign = {.sa_handler = SIG_IGN}, old_int, old_quit;
	struct rusage ru;
	int pfd[2], e = 0, rc = 0;

	memset(r, 0, sizeof(*r));
	if (pipe2(pfd, O_CLOEXEC)) {
		snprintf(err, errlen, "a pipe expected, found: %s", strerror(errno));
		r->exit_code = EXIT_CANNOT_EXEC;
		return -1;
	}
	sigaction(SIGINT, &ign, &old_int);
	sigaction(SIGQUIT, &ign, &old_quit);
	fflush(NULL);
	double t0 = now_s();
	pid_t pid = fork();
	if (pid == 0)
		child(o, pfd[1]);
	close(pfd[1]);
	if (pid < 0) {
		snprintf(err, errlen, "a new process expected, found: %s", strerror(errno));
		close(pfd[0]);
		r->exit_code = EXIT_CANNOT_EXEC;
		rc = -1;
		goto out;
	}
	ssize_t got;
	do
		got = read(pfd[0], &e, sizeof(e));
	while (got < 0 && errno == EINTR);
	close(pfd[0]);
	while (wait4(pid, &r->status, 0, &ru) < 0) {
		if (errno != EINTR) {
			snprintf(err, errlen, "the exit status of pid %d expected, found: %s", (int)pid,
				 strerror(errno));
			r->exit_code = EXIT_CANNOT_EXEC;
			rc = -1;
			goto out;
		}
	}
	r->wall_s = now_s() - t0;
	r->pid = pid;
	r->user_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / US_PER_S;
	r->sys_s = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / US_PER_S;
	r->max_rss_bytes = (uint64_t)ru.ru_maxrss * BYTES_PER_KIB;
	if (WIFEXITED(r->status))
		r->exit_code = WEXITSTATUS(r->status);
	else if (WIFSIGNALED(r->status))
		r->exit_code = DT_FE_SIGNAL_BASE + WTERMSIG(r->status);
	if (got == (ssize_t)sizeof(e)) {
		snprintf(err, errlen, "%s: an executable program expected, found: %s", o->argv[0],
			 strerror(e));
		rc = -1;
	}
out:
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGQUIT, &old_quit, NULL);
	return rc;
}

/* Escapes fnmatch's special characters of s[0..n) into out; 0 or -1 (too long). */
static int glob_escape(char *out, size_t *used, size_t len, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (strchr("*?[]\\", s[i])) {
			if (*used + 1 >= len)
				return -1;
			out[(*used)++] = '\\';
		}
		if (*used + 1 >= len)
			return -1;
		out[(*used)++] = s[i];
	}
	out[*used] = '\0';
	return 0;
}

int dt_run_list_traces(const char *pattern, pid_t pid, int (*fn)(const char *path, void *ctx), void *ctx)
{
	char glob[PATH_MAX], dir[PATH_MAX], pidbuf[32], path[PATH_MAX];
	size_t used = 0;
	const char *base = strrchr(pattern, '/');
	int n = 0;

	if (base) {
		size_t dn = (size_t)(base - pattern) + 1;
		if (dn >= sizeof(dir) || memmem(pattern, dn, "%", 1))
			return -1; /* a pattern in the directory part is not ours to search */
		memcpy(dir, pattern, dn);
		dir[dn] = '\0';
		base++;
	} else {
		snprintf(dir, sizeof(dir), "./");
		base = pattern;
	}
	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)pid);
	for (const char *p = base; *p; p++) {
		int ok;
		if (p[0] == '%' && (p[1] == 'n' || (p[1] == 'p' && pid < 0))) {
			ok = glob_escape(glob, &used, sizeof(glob), "", 0);
			if (ok == 0 && used + 1 < sizeof(glob)) {
				glob[used++] = '*';
				glob[used] = '\0';
			}
			p++;
		} else if (p[0] == '%' && p[1] == 'p') {
			ok = glob_escape(glob, &used, sizeof(glob), pidbuf, strlen(pidbuf));
			p++;
		} else if (p[0] == '%' && p[1] == '%') {
			ok = glob_escape(glob, &used, sizeof(glob), "%", 1);
			p++;
		} else {
			ok = glob_escape(glob, &used, sizeof(glob), p, 1);
		}
		if (ok)
			return -1;
	}
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (fnmatch(glob, de->d_name, FNM_PERIOD) != 0)
			continue;
		int w = strcmp(dir, "./") == 0 ? snprintf(path, sizeof(path), "%s", de->d_name)
					       : snprintf(path, sizeof(path), "%.*s%s",
							  (int)(sizeof(path) / 2), dir, de->d_name);
		if (w < 0 || (size_t)w >= sizeof(path))
			continue; /* no longer than PATH_MAX: not a file this run could have named */
		n++;
		if (fn(path, ctx))
			break;
	}
	closedir(d);
	return n;
}

struct first_match {
	char *path;
	size_t len;
};

static int keep_first(const char *path, void *ctx)
{
	struct first_match *m = ctx;

	snprintf(m->path, m->len, "%s", path);
	return 1; /* stop */
}

int dt_run_find_trace(const char *pattern, pid_t pid, char *path, size_t len)
{
	struct first_match m = {path, len};

	return dt_run_list_traces(pattern, pid, keep_first, &m) > 0 ? 0 : -1;
}
