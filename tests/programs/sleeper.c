/* sleeper: sleeps a known time and exits with a chosen status: ground truth for `deiatrace bench`.
 * Usage: sleeper MILLISECONDS [EXIT_STATUS]. The sleep is resumed after signals (EINTR). */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#define NS_PER_MS 1000000L
#define MS_PER_S 1000L

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	long ms = strtol(argv[1], NULL, 10);
	struct timespec left = {.tv_sec = ms / MS_PER_S, .tv_nsec = (ms % MS_PER_S) * NS_PER_MS};
	while (nanosleep(&left, &left) != 0 && errno == EINTR)
		;
	return argc > 2 ? atoi(argv[2]) : 0;
}
