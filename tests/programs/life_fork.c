/* fork, vfork, posix_spawn and exec under the shim. Modes (argv[1]):
 *   fork         parent and child each burn CPU in their own function; the child exits 9
 *   fork-busy    4 threads malloc/free in a loop while the main thread forks 50 times; each child
 *                mallocs, prints nothing and _exits (a deadlock hangs: the test's timeout catches it)
 *   vfork-exec   vfork + execv of argv[2] (with argv[3..]); the parent waits
 *   spawn        posix_spawn of argv[2] (with argv[3..]); the parent waits
 *   exec         execv of argv[2] (with argv[3..]) after burning CPU
 *   exec-fail    execv of a path that does not exist, then carry on and exit 0 */
#define _GNU_SOURCE
#include <pthread.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define BURN_ITERATIONS 30000000ull
#define BUSY_THREADS 4
#define BUSY_FORKS 50

extern char **environ;
static volatile unsigned long long sink;
static atomic_int stop;

static __attribute__((noinline)) void parent_work(void)
{
	for (unsigned long long i = 0; i < BURN_ITERATIONS; i++)
		sink += i * i;
}

static __attribute__((noinline)) void child_work(void)
{
	for (unsigned long long i = 0; i < BURN_ITERATIONS; i++)
		sink += i ^ (i >> 3);
}

static void *busy(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		void *p = malloc(64 + (sink & 255));
		free(p);
	}
	return NULL;
}

static int wait_status(pid_t pid)
{
	int st = 0;
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	const char *m = argv[1];
	if (strcmp(m, "fork") == 0) {
		fflush(stdout);
		pid_t pid = fork();
		if (pid == 0) {
			child_work();
			printf("child done\n");
			exit(9);
		}
		parent_work();
		printf("child status %d\n", wait_status(pid));
		return 0;
	}
	if (strcmp(m, "fork-busy") == 0) {
		pthread_t t[BUSY_THREADS];
		for (int i = 0; i < BUSY_THREADS; i++)
			pthread_create(&t[i], NULL, busy, NULL);
		int bad = 0;
		for (int i = 0; i < BUSY_FORKS; i++) {
			pid_t pid = fork();
			if (pid == 0) {
				free(malloc(100));
				_exit(0);
			}
			bad += wait_status(pid) != 0;
		}
		atomic_store(&stop, 1);
		for (int i = 0; i < BUSY_THREADS; i++)
			pthread_join(t[i], NULL);
		printf("forks %d, failed %d\n", BUSY_FORKS, bad);
		return 0;
	}
	if (argc >= 3 && strcmp(m, "vfork-exec") == 0) {
		pid_t pid = vfork();
		if (pid == 0) {
			execv(argv[2], argv + 2);
			_exit(127);
		}
		printf("vfork child status %d\n", wait_status(pid));
		return 0;
	}
	if (argc >= 3 && strcmp(m, "spawn") == 0) {
		pid_t pid;
		if (posix_spawn(&pid, argv[2], NULL, NULL, argv + 2, environ) != 0)
			return 3;
		printf("spawn child status %d\n", wait_status(pid));
		return 0;
	}
	if (argc >= 3 && strcmp(m, "exec") == 0) {
		parent_work();
		printf("exec %s\n", argv[2]);
		fflush(stdout);
		execv(argv[2], argv + 2);
		return 127;
	}
	if (strcmp(m, "exec-fail") == 0) {
		parent_work();
		char *args[] = {"/nonexistent/deiatrace-life", NULL};
		int rc = execv(args[0], args);
		printf("execv returned %d\n", rc);
		parent_work();
		return 0;
	}
	return 2;
}
