/* Ground truth for memory tracking across fork: the parent allocates PARENT_BLOCKS blocks and holds
 * them over a fork; the child allocates its own blocks, frees some of the parent's (inherited) blocks
 * and most of its own, then exits. Each process's trace must count only its own allocations: the
 * child's books start empty, and freeing an inherited block counts nothing there.
 * Prints "truth SCOPE.KEY VALUE" lines for SCOPE parent and child, and "pid SCOPE PID" (write(2), no
 * stdio: nothing else allocates). Exit status: 0, or 1 when fork or the child failed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define PARENT_BLOCKS 1000u
#define PARENT_BYTES 64u
#define CHILD_BLOCKS 300u
#define CHILD_BYTES 128u
#define CHILD_FREES_OWN 250u     /* the child leaks CHILD_BLOCKS - CHILD_FREES_OWN of its blocks */
#define CHILD_FREES_PARENT 400u  /* inherited blocks the child frees: no effect on its books */
#define WORKLOAD __attribute__((noinline, noipa))
#define KEEP(p) __asm__ volatile("" : : "r"(p) : "memory")

static void *parent_blocks[PARENT_BLOCKS];
static void *child_blocks[CHILD_BLOCKS];

WORKLOAD void *mem_fork_parent_alloc(void)
{
	void *p = malloc(PARENT_BYTES);
	KEEP(p);
	return p;
}

WORKLOAD void *mem_fork_child_alloc(void)
{
	void *p = malloc(CHILD_BYTES);
	KEEP(p);
	return p;
}

static void say(const char *scope, const char *key, unsigned long long v)
{
	char line[128];
	int n = snprintf(line, sizeof(line), "truth %s.%s %llu\n", scope, key, v);
	if (n > 0 && write(STDOUT_FILENO, line, (size_t)n) < 0)
		_exit(3);
}

static void say_pid(const char *scope, pid_t pid)
{
	char line[64];
	int n = snprintf(line, sizeof(line), "pid %s %d\n", scope, (int)pid);
	if (n > 0 && write(STDOUT_FILENO, line, (size_t)n) < 0)
		_exit(3);
}

static int child(void)
{
	for (unsigned i = 0; i < CHILD_BLOCKS; i++)
		if (!(child_blocks[i] = mem_fork_child_alloc()))
			return 1;
	for (unsigned i = 0; i < CHILD_FREES_PARENT; i++)
		free(parent_blocks[i]);
	for (unsigned i = 0; i < CHILD_FREES_OWN; i++)
		free(child_blocks[i]);
	return 0;
}

int main(void)
{
	for (unsigned i = 0; i < PARENT_BLOCKS; i++)
		if (!(parent_blocks[i] = mem_fork_parent_alloc()))
			return 1;
	pid_t pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0)
		exit(child());
	int st = 0;
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return 1;
	for (unsigned i = 0; i < PARENT_BLOCKS; i++)
		free(parent_blocks[i]);

	say_pid("parent", getpid());
	say_pid("child", pid);
	say("parent", "allocations", PARENT_BLOCKS);
	say("parent", "frees", PARENT_BLOCKS);
	say("parent", "allocated_bytes", (unsigned long long)PARENT_BLOCKS * PARENT_BYTES);
	say("parent", "heap_peak_bytes", (unsigned long long)PARENT_BLOCKS * PARENT_BYTES);
	say("parent", "leaked_bytes", 0);
	say("parent", "leaked_allocations", 0);
	say("child", "allocations", CHILD_BLOCKS);
	say("child", "frees", CHILD_FREES_OWN);
	say("child", "allocated_bytes", (unsigned long long)CHILD_BLOCKS * CHILD_BYTES);
	say("child", "heap_peak_bytes", (unsigned long long)CHILD_BLOCKS * CHILD_BYTES);
	say("child", "leaked_bytes", (unsigned long long)(CHILD_BLOCKS - CHILD_FREES_OWN) * CHILD_BYTES);
	say("child", "leaked_allocations", CHILD_BLOCKS - CHILD_FREES_OWN);
	return 0;
}
