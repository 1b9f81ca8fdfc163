/* libdtshared.so: a small shared library every test program links, so that profiles contain a
 * function that lives in a different module than the executable (symbols.c calls dt_shared_spin).
 * The hot loop is written out here rather than taken from workload.h so this file stands alone. */
#include "dtshared.h"

__attribute__((noinline)) uint64_t dt_shared_spin(uint64_t seed, uint64_t iterations)
{
	uint64_t x = seed;

	for (uint64_t i = 0; i < iterations; i++) {
		x = x * 2862933555777941757ull + 3037000493ull;
		x ^= x >> 31;
	}
	return x;
}

const char *dt_shared_name(void)
{
	return "libdtshared";
}
