/* spin: burns a fixed amount of CPU in one function (spin_work), optionally after changing directory.
 * Small helper for the tracing tests: output file naming with chdir, exec'd untraced CPU hogs,
 * sampling rates, truncated traces.
 *
 * Usage: spin [--chdir DIR] [--iterations N] [--print-pid]
 * stdout: the checksum (deterministic) and, with --print-pid, the process id. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/dtshared.h"
#include "workload.h"

#define DEFAULT_ITERATIONS 300000000ull /* about 0.5 s on the reference machine */

__attribute__((noinline, noclone)) uint64_t spin_work(uint64_t seed, uint64_t iterations)
{
	return dt_burn(seed, iterations);
}

int main(int argc, char **argv)
{
	uint64_t iterations = DEFAULT_ITERATIONS;
	int print_pid = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--chdir") == 0 && i + 1 < argc) {
			const char *dir = argv[++i];
			if (chdir(dir) != 0) {
				perror(dir);
				return 1;
			}
		} else if (strcmp(argv[i], "--iterations") == 0 && i + 1 < argc) {
			iterations = strtoull(argv[++i], NULL, 10);
		} else if (strcmp(argv[i], "--print-pid") == 0) {
			print_pid = 1;
		} else {
			fprintf(stderr, "usage: spin [--chdir DIR] [--iterations N] [--print-pid]\n");
			return 2;
		}
	}
	if (print_pid)
		printf("spin: pid %ld\n", (long)getpid());
	printf("spin: %" PRIu64 " iterations, checksum %016" PRIx64 "\n", iterations, spin_work(7, iterations));
	return 0;
}
