/* Descriptive statistics for repeated measurements (bench runs): min, max, mean, median,
 * percentiles (linear interpolation between order statistics), sample standard deviation, and the
 * ratio of two means with a Student-t confidence interval. Pure functions; no I/O. */
#ifndef DT_STATS_H
#define DT_STATS_H

#include <stddef.h>

#define DT_STATS_CI_LEVEL 0.95 /* the confidence level dt_stats_ratio reports */

struct dt_stats {
	size_t n;
	double min, max, mean, median, p95, p99;
	double stddev; /* sample standard deviation (n - 1); 0 when n < 2 */
};

/* Summarizes v[0..n) (not modified). n == 0 gives all zeros. 0, or -1 when out of memory. */
int dt_stats_compute(const double *v, size_t n, struct dt_stats *out);
/* The q-quantile (0 <= q <= 1) of sorted[0..n), interpolating linearly between the two nearest
 * order statistics (the "type 7" definition numpy and R use by default). 0 when n == 0. */
double dt_stats_quantile_sorted(const double *sorted, size_t n, double q);
/* Two-sided Student-t critical value for DT_STATS_CI_LEVEL with df degrees of freedom. */
double dt_stats_t95(double df);

struct dt_ratio {
	double ratio;	     /* b.mean / a.mean */
	double std_error;    /* of the ratio, by propagating each mean's standard error */
	double ci_lo, ci_hi; /* DT_STATS_CI_LEVEL interval; ci_lo is never below 0 */
	double df;	     /* Welch–Satterthwaite degrees of freedom used for t */
};

/* The ratio of means b/a with its confidence interval. -1 when a's mean is 0 or n < 2 on a side. */
int dt_stats_ratio(const struct dt_stats *a, const struct dt_stats *b, struct dt_ratio *out);

#endif
