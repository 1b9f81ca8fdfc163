/* diff_work: a workload before and after a known 2x speed-up of one function, for `deiatrace diff`.
 * diff_target does twice the work in the "slow" version; diff_steady costs the same in both.
 *
 * Usage: diff_work slow|fast [SCALE]     SCALE multiplies both (default 1: about 0.25 s of
 * diff_steady and 0.25 s / 0.5 s of diff_target on the reference machine).
 * stdout: a checksum, so the work cannot be optimized away. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workload.h"

#define UNIT_ITERATIONS 150000000ull /* about 0.25 s */
#define SLOW_FACTOR 2u

__attribute__((noinline, noclone)) uint64_t diff_target(uint64_t seed, uint64_t iterations)
{
	return dt_burn(seed, iterations);
}

__attribute__((noinline, noclone)) uint64_t diff_steady(uint64_t seed, uint64_t iterations)
{
	return dt_burn(seed ^ 0x9e3779b97f4a7c15ull, iterations);
}

int main(int argc, char **argv)
{
	if (argc < 2 || (strcmp(argv[1], "slow") && strcmp(argv[1], "fast"))) {
		fprintf(stderr, "usage: diff_work slow|fast [SCALE]\n");
		return 2;
	}
	double scale = argc > 2 ? strtod(argv[2], NULL) : 1.0;
	if (!(scale > 0))
		scale = 1.0;
	uint64_t unit = (uint64_t)((double)UNIT_ITERATIONS * scale);
	uint64_t target = strcmp(argv[1], "slow") == 0 ? unit * SLOW_FACTOR : unit;
	uint64_t x = diff_steady(1, unit);
	x ^= diff_target(x, target);
	printf("%" PRIu64 "\n", x);
	return 0;
}
