/* A host that profiles itself: its own SIGPROF handler (sigaction, or signal() with `signal`) and
 * setitimer(ITIMER_PROF); it burns CPU until its handler has run enough times. The shim must step
 * aside: the host's handler gets every tick, and the program behaves as without the shim. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#define WANT_TICKS 20
#define TICK_US 2000
#define MAX_ITERATIONS 4000000000ull /* gives up long before the test's timeout */

static volatile sig_atomic_t ticks;
static volatile unsigned long long sink;

static void on_prof(int sig)
{
	(void)sig;
	ticks++;
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "signal") == 0) {
		signal(SIGPROF, on_prof);
	} else {
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_prof;
		sa.sa_flags = SA_RESTART;
		sigaction(SIGPROF, &sa, NULL);
	}
	struct itimerval it = {{0, TICK_US}, {0, TICK_US}};
	setitimer(ITIMER_PROF, &it, NULL);
	for (unsigned long long i = 0; ticks < WANT_TICKS && i < MAX_ITERATIONS; i++)
		sink += i;
	struct itimerval off = {{0, 0}, {0, 0}};
	setitimer(ITIMER_PROF, &off, NULL);
	printf("host ticks %s\n", ticks >= WANT_TICKS ? "enough" : "TOO FEW");
	return 0;
}
