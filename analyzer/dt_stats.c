/* Descriptive statistics and the ratio-of-means confidence interval used by `deiatrace bench`.
 * Pure computation on caller arrays: the only allocation is a sorted copy, freed before returning.
 * Called by the front end's bench command and by tests/unit/check_analyzer_stats.c. */
#include "dt_stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define T_TABLE_MAX_DF 30u
#define Z95 1.959963984540054 /* the normal limit of the t critical value */

/* t(0.975, df) for df = 1..30; beyond, interpolated in 1/df towards the normal value. */
static const double t975[T_TABLE_MAX_DF + 1] = {
    0,	   12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179,  2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080,
    2.074, 2.069,  2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double dt_stats_quantile_sorted(const double *sorted, size_t n, double q)
{
	if (n == 0)
		return 0;
	if (q <= 0)
		return sorted[0];
	if (q >= 1)
		return sorted[n - 1];
	double pos = q * (double)(n - 1);
	size_t lo = (size_t)pos;
	double frac = pos - (double)lo;

	if (lo + 1 >= n)
		return sorted[n - 1];
	return sorted[lo] + frac * (sorted[lo + 1] - sorted[lo]);
}

int dt_stats_compute(const double *v, size_t n, struct dt_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->n = n;
	if (n == 0)
		return 0;
	double *s = malloc(n * sizeof(*s));
	if (!s)
		return -1;
	memcpy(s, v, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_double);

	double sum = 0;
	for (size_t i = 0; i < n; i++)
		sum += s[i];
	out->mean = sum / (double)n;
	/* Two passes: the textbook one-pass formula loses everything to cancellation when the
	 * spread is tiny compared to the mean (wall times of 1 s +- 10 us). */
	double ss = 0;
	for (size_t i = 0; i < n; i++)
		ss += (s[i] - out->mean) * (s[i] - out->mean);
	out->stddev = n > 1 ? sqrt(ss / (double)(n - 1)) : 0;
	out->min = s[0];
	out->max = s[n - 1];
	out->median = dt_stats_quantile_sorted(s, n, 0.5);
	out->p95 = dt_stats_quantile_sorted(s, n, 0.95);
	out->p99 = dt_stats_quantile_sorted(s, n, 0.99);
	free(s);
	return 0;
}

double dt_stats_t95(double df)
{
	if (!(df >= 1))
		return t975[1];
	if (df <= T_TABLE_MAX_DF) {
		size_t lo = (size_t)df;
		double frac = df - (double)lo;

		if (lo >= T_TABLE_MAX_DF)
			return t975[T_TABLE_MAX_DF];
		return t975[lo] + frac * (t975[lo + 1] - t975[lo]);
	}
	/* t approaches z like 1/df: interpolate between df = 30 and infinity on that scale. */
	double w = (double)T_TABLE_MAX_DF / df;

	return Z95 + w * (t975[T_TABLE_MAX_DF] - Z95);
}

int dt_stats_ratio(const struct dt_stats *a, const struct dt_stats *b, struct dt_ratio *out)
{
	memset(out, 0, sizeof(*out));
	if (a->n < 2 || b->n < 2 || a->mean <= 0)
		return -1;
	double va = a->stddev * a->stddev / (double)a->n; /* squared standard error of each mean */
	double vb = b->stddev * b->stddev / (double)b->n;

	out->ratio = b->mean / a->mean;
	double rel = 0;
	if (b->mean != 0)
		rel = vb / (b->mean * b->mean);
	rel += va / (a->mean * a->mean);
	out->std_error = fabs(out->ratio) * sqrt(rel);
	/* Welch–Satterthwaite; with no spread at all on either side the interval has zero width. */
	double den =
	    (a->n > 1 ? va * va / (double)(a->n - 1) : 0) + (b->n > 1 ? vb * vb / (double)(b->n - 1) : 0);
	out->df = den > 0 ? (va + vb) * (va + vb) / den : (double)(a->n + b->n - 2);
	double t = dt_stats_t95(out->df);

	/* Both means are of non-negative quantities: a ratio below 0 is not a possible value. */
	out->ci_lo = out->ratio - t * out->std_error;
	if (out->ci_lo < 0 && out->ratio >= 0)
		out->ci_lo = 0;
	out->ci_hi = out->ratio + t * out->std_error;
	return 0;
}
