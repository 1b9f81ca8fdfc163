/* symbols: half the CPU in a static (file-local) function of the executable, half in a function of
 * the shared library libdtshared.so. The profile must name both, with the right module and source
 * file: static_spin from symbols.c in the executable, dt_shared_spin from lib/dtshared.c in
 * libdtshared.so. A symbolizer that only reads .dynsym misses static_spin.
 *
 * Usage: symbols      stdout is deterministic */
#include <inttypes.h>
#include <stdio.h>

#include "lib/dtshared.h"

#define ROUNDS 20
#define ITERATIONS_PER_ROUND 15000000ull /* about 25 ms per call on the reference machine */

/* The loop is written out here, not taken from workload.h: every sampled PC must map to this file. */
static __attribute__((noinline, noclone)) uint64_t static_spin(uint64_t seed, uint64_t iterations)
{
	uint64_t x = seed;

	for (uint64_t i = 0; i < iterations; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		x ^= x >> 29;
	}
	return x;
}

int main(void)
{
	uint64_t a = 1, b = 2;

	for (int r = 0; r < ROUNDS; r++) {
		a = static_spin(a, ITERATIONS_PER_ROUND);
		b = dt_shared_spin(b, ITERATIONS_PER_ROUND);
	}
	printf("symbols: static_spin %016" PRIx64 ", %s dt_shared_spin %016" PRIx64 "\n", a, dt_shared_name(),
	       b);
	return 0;
}
