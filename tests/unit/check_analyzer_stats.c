/* Check suite for analyzer/dt_stats: percentiles, standard deviation and the ratio confidence
 * interval against values worked out by hand (and cross-checked with numpy/scipy conventions). */
#include <check.h>
#include <math.h>
#include <stdlib.h>

#include "dt_stats.h"

#define EPS 1e-9

START_TEST(test_basic)
{
	const double v[] = {5, 1, 4, 2, 3}; /* unsorted on purpose */
	struct dt_stats s;

	ck_assert_int_eq(dt_stats_compute(v, 5, &s), 0);
	ck_assert_uint_eq(s.n, 5);
	ck_assert_double_eq_tol(s.min, 1, EPS);
	ck_assert_double_eq_tol(s.max, 5, EPS);
	ck_assert_double_eq_tol(s.mean, 3, EPS);
	ck_assert_double_eq_tol(s.median, 3, EPS);
	/* numpy.percentile([1..5], 95) = 4.8, 99 -> 4.96 */
	ck_assert_double_eq_tol(s.p95, 4.8, EPS);
	ck_assert_double_eq_tol(s.p99, 4.96, EPS);
	/* sample variance of 1..5 is 2.5 */
	ck_assert_double_eq_tol(s.stddev, sqrt(2.5), EPS);
}
END_TEST

START_TEST(test_even_median_and_single)
{
	const double v[] = {10, 20, 30, 40};
	struct dt_stats s;

	ck_assert_int_eq(dt_stats_compute(v, 4, &s), 0);
	ck_assert_double_eq_tol(s.median, 25, EPS);
	ck_assert_int_eq(dt_stats_compute(v, 1, &s), 0);
	ck_assert_double_eq_tol(s.median, 10, EPS);
	ck_assert_double_eq_tol(s.p99, 10, EPS);
	ck_assert_double_eq_tol(s.stddev, 0, EPS);
	ck_assert_int_eq(dt_stats_compute(v, 0, &s), 0);
	ck_assert_uint_eq(s.n, 0);
}
END_TEST

START_TEST(test_stddev_large_offset)
{
	/* 1e9 +- 1: the one-pass formula would lose this to cancellation. */
	const double v[] = {1e9 - 1, 1e9, 1e9 + 1};
	struct dt_stats s;

	ck_assert_int_eq(dt_stats_compute(v, 3, &s), 0);
	ck_assert_double_eq_tol(s.stddev, 1, 1e-6);
}
END_TEST

START_TEST(test_quantile_bounds)
{
	const double s[] = {1, 2, 3};

	ck_assert_double_eq_tol(dt_stats_quantile_sorted(s, 3, 0), 1, EPS);
	ck_assert_double_eq_tol(dt_stats_quantile_sorted(s, 3, 1), 3, EPS);
	ck_assert_double_eq_tol(dt_stats_quantile_sorted(s, 3, 0.25), 1.5, EPS);
	ck_assert_double_eq_tol(dt_stats_quantile_sorted(s, 0, 0.5), 0, EPS);
}
END_TEST

START_TEST(test_t_table)
{
	ck_assert_double_eq_tol(dt_stats_t95(1), 12.706, 1e-3);
	ck_assert_double_eq_tol(dt_stats_t95(9), 2.262, 1e-3);
	ck_assert_double_eq_tol(dt_stats_t95(30), 2.042, 1e-3);
	/* scipy.stats.t.ppf(0.975, 120) = 1.9799 */
	ck_assert_double_eq_tol(dt_stats_t95(120), 1.98, 2e-3);
	ck_assert(dt_stats_t95(1e9) > 1.959 && dt_stats_t95(1e9) < 1.961);
}
END_TEST

START_TEST(test_ratio)
{
	const double a[] = {1.0, 1.1, 0.9, 1.0};
	const double b[] = {2.0, 2.2, 1.8, 2.0};
	struct dt_stats sa, sb;
	struct dt_ratio r;

	dt_stats_compute(a, 4, &sa);
	dt_stats_compute(b, 4, &sb);
	ck_assert_int_eq(dt_stats_ratio(&sa, &sb, &r), 0);
	ck_assert_double_eq_tol(r.ratio, 2.0, EPS);
	/* relative errors equal (b = 2a): se = 2 * sqrt(2) * (sd/mean)/sqrt(n) */
	double rel = sa.stddev / sa.mean / 2.0;
	ck_assert_double_eq_tol(r.std_error, 2.0 * sqrt(2.0) * rel, 1e-9);
	ck_assert(r.ci_lo < 2.0 && r.ci_hi > 2.0);
	ck_assert_double_eq_tol(r.ci_hi - 2.0, 2.0 - r.ci_lo, 1e-9);

	/* No spread: a zero-width interval. */
	const double c[] = {1, 1, 1};
	struct dt_stats sc;
	dt_stats_compute(c, 3, &sc);
	ck_assert_int_eq(dt_stats_ratio(&sc, &sc, &r), 0);
	ck_assert_double_eq_tol(r.ci_lo, 1, EPS);
	ck_assert_double_eq_tol(r.ci_hi, 1, EPS);
	/* A wide interval around a small ratio stops at 0: a ratio of times is never negative. */
	const double lo[] = {0.001, 0.009, 0.0001};
	struct dt_stats sl;
	dt_stats_compute(lo, 3, &sl);
	ck_assert_int_eq(dt_stats_ratio(&sb, &sl, &r), 0);
	ck_assert_double_eq_tol(r.ci_lo, 0, EPS);
	ck_assert(r.ci_hi > r.ratio);
	/* Too few runs. */
	dt_stats_compute(c, 1, &sc);
	ck_assert_int_eq(dt_stats_ratio(&sc, &sb, &r), -1);
}
END_TEST

static Suite *stats_suite(void)
{
	Suite *s = suite_create("stats");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_basic);
	tcase_add_test(tc, test_even_median_and_single);
	tcase_add_test(tc, test_stddev_large_offset);
	tcase_add_test(tc, test_quantile_bounds);
	tcase_add_test(tc, test_t_table);
	tcase_add_test(tc, test_ratio);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(stats_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
