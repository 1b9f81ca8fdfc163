/* Every way a process ends, one per mode (argv[1]); burns a little CPU first so the trace has samples.
 * Prints what it did to stdout (and its handler's line, when it has one) so a traced run can be
 * compared byte for byte with an untraced one. Modes: see usage(). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

/* sigset is deprecated, and exactly what mode sigset-handler must exercise. */
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

#define BURN_ITERATIONS 20000000ull /* a few tens of ms of CPU */
#define DEEP_FRAMES 100000          /* recursion depth of mode "deep" */
#define CLOSED_FD_FILES 3           /* files opened after closing stdin/stdout */

static volatile unsigned long long sink;

static __attribute__((noinline)) void burn(void)
{
	for (unsigned long long i = 0; i < BURN_ITERATIONS; i++)
		sink += i * i;
}

static __attribute__((noinline)) unsigned long long deep(int n)
{
	/* Read after the call: the recursion cannot become a loop, every level keeps its frame. */
	volatile int level = n;
	if (n == 0) {
		burn();
		return sink;
	}
	unsigned long long r = deep(n - 1);
	return r + (unsigned long long)level;
}

static void say(const char *s) /* async-signal-safe line to stdout */
{
	ssize_t r = write(STDOUT_FILENO, s, strlen(s));
	(void)r;
}

static void reraise_handler(int sig)
{
	say("handler ran\n");
	signal(sig, SIG_DFL);
	raise(sig);
}

static void sigset_reraise_handler(int sig)
{
	say("sigset handler ran\n");
	sigset(sig, SIG_DFL);
	raise(sig);
}

static void exit_handler(int sig)
{
	(void)sig;
	say("handler ran, _exit 7\n");
	_exit(7);
}

static void info_reraise_handler(int sig, siginfo_t *si, void *uc)
{
	(void)si;
	(void)uc;
	struct sigaction dfl;
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	say("sigaction handler ran\n");
	sigaction(sig, &dfl, NULL);
	raise(sig);
}

static int usage(void)
{
	fprintf(stderr, "usage: life_exits return|exit|_exit|_Exit|abort|segv|term|int|segv-handler|"
	                "term-handler|int-handler|abort-handler|sigset-handler|sysv-ignore|double-free|deep|closefd|"
	                "oldact\n");
	return 2;
}

int main(int argc, char **argv)
{
	if (argc != 2)
		return usage();
	const char *m = argv[1];
	burn();
	printf("mode %s\n", m);
	fflush(stdout);
	if (strcmp(m, "return") == 0)
		return 3;
	if (strcmp(m, "exit") == 0)
		exit(4);
	if (strcmp(m, "_exit") == 0)
		_exit(5);
	if (strcmp(m, "_Exit") == 0)
		_Exit(6);
	if (strcmp(m, "abort") == 0)
		abort();
	if (strcmp(m, "segv") == 0)
		*(volatile int *)(uintptr_t)sink = 1; /* sink is never a valid address here */
	if (strcmp(m, "term") == 0)
		raise(SIGTERM);
	if (strcmp(m, "int") == 0)
		kill(getpid(), SIGINT);
	if (strcmp(m, "segv-handler") == 0) {
		signal(SIGSEGV, reraise_handler);
		*(volatile int *)(uintptr_t)sink = 1;
	}
	if (strcmp(m, "term-handler") == 0) {
		signal(SIGTERM, exit_handler);
		raise(SIGTERM);
	}
	if (strcmp(m, "int-handler") == 0) {
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = info_reraise_handler;
		sa.sa_flags = SA_SIGINFO;
		sigaction(SIGINT, &sa, NULL);
		raise(SIGINT);
	}
	if (strcmp(m, "sigset-handler") == 0) {
		/* System V sigset and sysv_signal reach the kernel without going through sigaction(). */
		sigset(SIGTERM, sigset_reraise_handler);
		raise(SIGTERM);
	}
	if (strcmp(m, "sysv-ignore") == 0) {
		sysv_signal(SIGINT, SIG_IGN);
		raise(SIGINT);
		printf("SIGINT ignored\n");
		return 0;
	}
	if (strcmp(m, "abort-handler") == 0) {
		signal(SIGABRT, reraise_handler);
		abort();
	}
	if (strcmp(m, "double-free") == 0) {
		char *volatile p = malloc(24);
		free(p);
		free(p);
	}
	if (strcmp(m, "deep") == 0) {
		printf("deep %d\n", deep(DEEP_FRAMES) > 0);
		return 0;
	}
	if (strcmp(m, "closefd") == 0) {
		/* The shim's descriptors stay high: the lowest free numbers are the host's. */
		close(STDIN_FILENO);
		int fds[CLOSED_FD_FILES];
		for (int i = 0; i < CLOSED_FD_FILES; i++)
			fds[i] = open("/dev/null", O_RDONLY);
		fprintf(stderr, "fds %d %d %d\n", fds[0], fds[1], fds[2]);
		return 0;
	}
	if (strcmp(m, "oldact") == 0) {
		/* What the host reads back for signals it never touched is the default. */
		for (int sig = 1; sig < 32; sig++) {
			struct sigaction old;
			if (sig == SIGKILL || sig == SIGSTOP || sigaction(sig, NULL, &old) != 0)
				continue;
			printf("%d:%s ", sig, old.sa_handler == SIG_DFL ? "dfl" : old.sa_handler == SIG_IGN ? "ign" : "set");
		}
		printf("\n");
		return 0;
	}
	return usage();
}
