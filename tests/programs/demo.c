/* demo: the program `make demo` profiles. It counts primes the slow way, builds a report string one
 * piece at a time, and counts words in a small hash table. The hot spot is deliberately obvious:
 * is_prime's trial division takes most of the CPU, so the report should point straight at it.
 *
 * Usage: demo      stdout is deterministic */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/dtshared.h"

#define PRIME_LIMIT 8500000u
#define WORDS 1500000u
#define TABLE_SLOTS 4096u /* power of two */
#define REPORT_PIECES 60000u

/* Trial division by every odd number up to sqrt(n): correct, and slow on purpose. */
__attribute__((noinline, noclone)) static int is_prime(uint32_t n)
{
	if (n < 2)
		return 0;
	if (n % 2 == 0)
		return n == 2;
	for (uint32_t d = 3; d <= n / d; d += 2)
		if (n % d == 0)
			return 0;
	return 1;
}

__attribute__((noinline, noclone)) static uint32_t count_primes(uint32_t limit)
{
	uint32_t count = 0;

	for (uint32_t n = 0; n < limit; n++)
		count += (uint32_t)is_prime(n);
	return count;
}

/* Appends with strlen + realloc each time: quadratic-ish, the demo's second hot spot. */
__attribute__((noinline, noclone)) static char *build_report(unsigned pieces)
{
	char *s = calloc(1, 1);

	for (unsigned i = 0; s && i < pieces; i++) {
		char piece[32];
		int n = snprintf(piece, sizeof(piece), "%u;", i * 7u % 1000u);
		size_t len = strlen(s);
		char *t = realloc(s, len + (size_t)n + 1);
		if (!t) {
			free(s);
			return NULL;
		}
		s = t;
		memcpy(s + len, piece, (size_t)n + 1);
	}
	return s;
}

struct slot {
	char word[16];
	unsigned count;
};

static uint32_t hash_word(const char *w)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (; *w; w++)
		h = (h ^ (uint8_t)*w) * 16777619u;
	return h;
}

/* Counts pseudo-random words in an open-addressing table; returns the number of distinct words. */
__attribute__((noinline, noclone)) static unsigned count_words(unsigned words, unsigned *top_count)
{
	static struct slot table[TABLE_SLOTS];
	unsigned distinct = 0;
	uint32_t x = 12345;

	*top_count = 0;
	for (unsigned i = 0; i < words; i++) {
		char w[16];
		x = x * 1103515245u + 12345u;
		snprintf(w, sizeof(w), "w%u", (x >> 16) % 3000u);
		uint32_t h = hash_word(w) & (TABLE_SLOTS - 1);
		while (table[h].word[0] && strcmp(table[h].word, w) != 0)
			h = (h + 1) & (TABLE_SLOTS - 1);
		if (!table[h].word[0]) {
			memcpy(table[h].word, w, sizeof(w));
			distinct++;
		}
		if (++table[h].count > *top_count)
			*top_count = table[h].count;
	}
	return distinct;
}

int main(void)
{
	unsigned top;
	uint32_t primes = count_primes(PRIME_LIMIT);
	char *report = build_report(REPORT_PIECES);
	unsigned distinct = count_words(WORDS, &top);

	if (!report) {
		fprintf(stderr, "demo: out of memory\n");
		return 1;
	}
	printf("demo: %u primes below %u\n", primes, PRIME_LIMIT);
	printf("demo: report of %zu bytes\n", strlen(report));
	printf("demo: %u distinct words, the most frequent seen %u times\n", distinct, top);
	free(report);
	return 0;
}
