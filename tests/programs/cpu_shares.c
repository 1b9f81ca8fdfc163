/* cpu_shares: three noinline functions burn CPU in about 60/25/10% shares; the remaining ~5% is
 * spent in main itself. The program measures the true share of each function with the thread CPU
 * clock around every call and writes it to a file on request, so a test can compare the profile
 * with the truth established by the program itself.
 *
 * Usage: cpu_shares [--truth FILE] [--rounds N]     (or CPU_SHARES_TRUTH=FILE)
 * stdout is deterministic: it depends on the amount of work only, never on time. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/dtshared.h"
#include "workload.h"

#define DEFAULT_ROUNDS 40
#define UNIT_ITERATIONS 300000ull /* one share point of one round */

/* Shares in percent of the work done per round; main's own loop takes the rest. */
#define LARGE_SHARE 60
#define MEDIUM_SHARE 25
#define SMALL_SHARE 10
#define MAIN_SHARE 5

/* noclone keeps GCC from renaming these (work_large.constprop.0): the test looks them up by name. */
__attribute__((noinline, noclone)) uint64_t work_large(uint64_t seed, uint64_t iterations)
{
	return dt_burn(seed, iterations);
}

__attribute__((noinline, noclone)) uint64_t work_medium(uint64_t seed, uint64_t iterations)
{
	return dt_burn(seed ^ 0x5555u, iterations);
}

__attribute__((noinline, noclone)) uint64_t work_small(uint64_t seed, uint64_t iterations)
{
	return dt_burn(seed ^ 0xaaaau, iterations);
}

static int write_truth(const char *path, const uint64_t fn_ns[3], uint64_t total_ns)
{
	static const char *const names[3] = {"work_large", "work_medium", "work_small"};
	uint64_t others_ns = total_ns;
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	fprintf(f, "{\"total_cpu_ns\": %" PRIu64 ", \"functions\": {", total_ns);
	for (int i = 0; i < 3; i++) {
		others_ns -= fn_ns[i];
		fprintf(f, "\"%s\": {\"cpu_ns\": %" PRIu64 ", \"self_pct\": %.3f}, ", names[i], fn_ns[i],
		        100.0 * (double)fn_ns[i] / (double)total_ns);
	}
	fprintf(f, "\"main+other\": {\"cpu_ns\": %" PRIu64 ", \"self_pct\": %.3f}}}\n", others_ns,
	        100.0 * (double)others_ns / (double)total_ns);
	return fclose(f) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	const char *truth = getenv("CPU_SHARES_TRUTH");
	long rounds = DEFAULT_ROUNDS;
	uint64_t fn_ns[3] = {0, 0, 0};
	uint64_t x = 0x9e3779b97f4a7c15ull;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--truth") == 0 && i + 1 < argc) {
			truth = argv[++i];
		} else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
			rounds = strtol(argv[++i], NULL, 10);
			if (rounds < 1 || rounds > 100000) {
				fprintf(stderr, "cpu_shares: bad --rounds\n");
				return 2;
			}
		} else {
			fprintf(stderr, "usage: cpu_shares [--truth FILE] [--rounds N]\n");
			return 2;
		}
	}

	/* Interleave the functions round by round so that a change of CPU speed during the run (another
	 * process, frequency scaling) affects every share alike. */
	for (long r = 0; r < rounds; r++) {
		uint64_t t0 = dt_thread_cpu_ns();
		x = work_large(x, LARGE_SHARE * UNIT_ITERATIONS);
		uint64_t t1 = dt_thread_cpu_ns();
		x = work_medium(x, MEDIUM_SHARE * UNIT_ITERATIONS);
		uint64_t t2 = dt_thread_cpu_ns();
		x = work_small(x, SMALL_SHARE * UNIT_ITERATIONS);
		uint64_t t3 = dt_thread_cpu_ns();

		fn_ns[0] += t1 - t0;
		fn_ns[1] += t2 - t1;
		fn_ns[2] += t3 - t2;
		x = dt_burn(x, MAIN_SHARE * UNIT_ITERATIONS); /* main's own share */
	}
	/* Since process start: the denominator includes startup and main's loop, as the profile does. */
	uint64_t total_ns = dt_thread_cpu_ns();

	printf("cpu_shares: %ld rounds, checksum %016" PRIx64 "\n", rounds, x);
	if (truth && write_truth(truth, fn_ns, total_ns) != 0) {
		perror(truth);
		return 1;
	}
	return 0;
}
