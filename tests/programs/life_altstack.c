/* A host that runs its signal handlers on a small alternate stack (CPython's faulthandler does: every
 * Python signal handler has SA_ONSTACK) and spends CPU inside them, so SIGPROF lands on that stack.
 * The alternate stack sits between two PROT_NONE guard pages: a sampler that overflows it faults
 * instead of silently corrupting the heap below it, and the stack is painted so that the program can
 * tell how deep any handler (ours or the shim's, nested) went: exit 3 past ALT_STACK_MAX_USED_BYTES
 * (the untraced run uses about 3 KB). Prints a fixed line; exit 0.
 * Usage: life_altstack [abort]   (abort: the first handler calls abort() on the alternate stack; the
 * process must die of SIGABRT, not of a fault in a fatal-signal handler that overflowed the stack) */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <unistd.h>

#define ALT_STACK_BYTES (16u * 1024u) /* roughly CPython's SIGSTKSZ + AT_MINSIGSTKSZ */
#define ALT_STACK_MAX_USED_BYTES (ALT_STACK_BYTES / 2)
#define GUARD_BYTES 4096u
#define PAINT_BYTE 0xa5
#define HANDLER_RUNS 40
#define HANDLER_BURN_ITERS 3000000u /* a few ms of CPU inside each handler */
#define ALARM_INTERVAL_US 2000

static volatile sig_atomic_t runs;
static int abort_in_handler;
static volatile uint64_t sink;

static __attribute__((noinline)) uint64_t burn_in_handler(uint64_t seed)
{
	uint64_t x = seed;
	for (uint32_t i = 0; i < HANDLER_BURN_ITERS; i++)
		x = x * 6364136223846793005ull + 1442695040888963407ull;
	return x;
}

static void on_alarm(int sig)
{
	(void)sig;
	if (abort_in_handler)
		abort();
	sink += burn_in_handler((uint64_t)runs);
	runs++;
	/* The handler outlasts the interval: without disarming here a pending SIGALRM would be
	 * delivered on every return and main would never run again. */
	if (runs >= HANDLER_RUNS) {
		struct itimerval off;
		memset(&off, 0, sizeof(off));
		setitimer(ITIMER_REAL, &off, NULL);
	}
}

int main(int argc, char **argv)
{
	abort_in_handler = argc > 1 && strcmp(argv[1], "abort") == 0;
	size_t total = GUARD_BYTES + ALT_STACK_BYTES + GUARD_BYTES;
	uint8_t *map = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED) {
		perror("life_altstack: mmap");
		return 1;
	}
	if (mprotect(map, GUARD_BYTES, PROT_NONE) != 0 ||
	    mprotect(map + GUARD_BYTES + ALT_STACK_BYTES, GUARD_BYTES, PROT_NONE) != 0) {
		perror("life_altstack: mprotect");
		return 1;
	}
	memset(map + GUARD_BYTES, PAINT_BYTE, ALT_STACK_BYTES);
	stack_t ss = {.ss_sp = map + GUARD_BYTES, .ss_size = ALT_STACK_BYTES, .ss_flags = 0};
	if (sigaltstack(&ss, NULL) != 0) {
		perror("life_altstack: sigaltstack");
		return 1;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sa.sa_flags = SA_ONSTACK | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL) != 0) {
		perror("life_altstack: sigaction");
		return 1;
	}
	struct itimerval it = {.it_interval = {0, ALARM_INTERVAL_US}, .it_value = {0, ALARM_INTERVAL_US}};
	setitimer(ITIMER_REAL, &it, NULL);
	while (runs < HANDLER_RUNS)
		pause();
	/* Stacks grow down: the lowest overwritten byte marks the deepest use. */
	size_t untouched = 0;
	while (untouched < ALT_STACK_BYTES && map[GUARD_BYTES + untouched] == PAINT_BYTE)
		untouched++;
	if (ALT_STACK_BYTES - untouched > ALT_STACK_MAX_USED_BYTES) {
		fprintf(stderr,
			"life_altstack: %zu of the %u bytes of the alternate stack were used (at most %u "
			"expected)\n",
			ALT_STACK_BYTES - untouched, ALT_STACK_BYTES, ALT_STACK_MAX_USED_BYTES);
		return 3;
	}
	printf("life_altstack: %d handlers ran on a %u-byte alternate stack\n", HANDLER_RUNS,
	       ALT_STACK_BYTES);
	return sink == 1 ? 2 : 0; /* keeps the work; never 1 in practice */
}
