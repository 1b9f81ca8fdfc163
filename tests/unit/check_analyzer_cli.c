/* Check suite for the shared command line (analyzer/dt_cli.c): each command accepts exactly its option
 * groups, values are range-checked, combinations that make no sense are refused, --color resolves as
 * no-color.org says, and the same table drives parsing and --help. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dt_cli.h"
#include "dt_symbolize.h"

#define ANALYZE_GROUPS (DT_CLI_OUTPUT | DT_CLI_PROFILE | DT_CLI_DIFF | DT_CLI_BASELINE | DT_CLI_VERSION)
#define REPORT_GROUPS (DT_CLI_OUTPUT | DT_CLI_PROFILE)
#define DIFF_GROUPS (DT_CLI_OUTPUT | DT_CLI_DIFF)

/* Parses a NULL-terminated list after a program name; the parser's messages go to /dev/null. */
static int parse(struct dt_cli *c, unsigned groups, const char *const *args)
{
	static char *argv[32]; /* c->args points into it after the call */
	int argc = 0;

	argv[argc++] = "prog";
	for (; *args; args++)
		argv[argc++] = (char *)*args;
	argv[argc] = NULL;
	dt_cli_init(c, "prog", "prog", groups);
	ck_assert_ptr_nonnull(freopen("/dev/null", "w", stderr));
	return dt_cli_parse(c, argc, argv);
}

START_TEST(test_report_options)
{
	struct dt_cli c;
	const char *a[] = {"-f",
			   "json",
			   "--top",
			   "7",
			   "-t",
			   "12.5",
			   "--inclusive",
			   "--no-hints",
			   "--metric",
			   "alloc_bytes",
			   "--color=never",
			   "-q",
			   "--no-symbols",
			   "t.bin",
			   NULL};

	ck_assert_int_eq(parse(&c, REPORT_GROUPS, a), 0);
	ck_assert_str_eq(c.format, "json");
	ck_assert(c.report == dt_report_json);
	ck_assert_uint_eq(c.ro.top_n, 7);
	ck_assert(c.ro.threshold_pct == 12.5);
	ck_assert_int_eq(c.ro.inclusive, 1);
	ck_assert_int_eq(c.ro.hints.enabled, 0);
	ck_assert_int_eq(c.ro.metric, DT_METRIC_ALLOC_BYTES);
	ck_assert_int_eq(c.color, DT_COLOR_NEVER);
	ck_assert_int_eq(c.quiet, 1);
	ck_assert_uint_eq(c.sym_flags, DT_SYM_NO_DEBUG);
	ck_assert_int_eq(c.nargs, 1);
	ck_assert_str_eq(c.args[0], "t.bin");
}
END_TEST

START_TEST(test_bad_values_and_groups)
{
	struct dt_cli c;
	static const char *const bad[][4] = {
	    {"-f", "yaml", "t", NULL},
	    {"--top", "-1", "t", NULL},
	    {"--top", "1000001", "t", NULL},
	    {"-t", "101", "t", NULL},
	    {"-t", "5x", "t", NULL},
	    {"--metric", "wall", "t", NULL},
	    {"--color=sometimes", "t", NULL},
	    {"--hint", "nosuch.rule=1", "t", NULL},
	    {"--fail-if-slower", "10", "t", NULL}, /* needs --baseline in deiatrace-analyze */
	    {"--region", "r", "t", NULL},
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(parse(&c, ANALYZE_GROUPS, bad[i]) == DT_CLI_EXIT_USAGE, "accepted case %zu", i);
	/* A group the command does not have is an unknown option. */
	const char *noise[] = {"--noise", "3", "t", NULL};
	ck_assert_int_eq(parse(&c, REPORT_GROUPS, noise), DT_CLI_EXIT_USAGE);
	const char *base[] = {"-b", "a", "t", NULL};
	ck_assert_int_eq(parse(&c, DIFF_GROUPS, base), DT_CLI_EXIT_USAGE);
	/* A diff has its own three formats. */
	const char *folded[] = {"-f", "folded", "a", "b", NULL};
	ck_assert_int_eq(parse(&c, DIFF_GROUPS, folded), DT_CLI_EXIT_USAGE);
	const char *md[] = {"-f", "markdown", "a", "b", NULL};
	ck_assert_int_eq(parse(&c, DIFF_GROUPS, md), 0);
	ck_assert_str_eq(c.format, "markdown");
}
END_TEST

START_TEST(test_diff_combinations)
{
	struct dt_cli c;
	struct dt_diff_opts o;
	const char *region[] = {"--baseline", "a.bin", "--region", "outer", "b.bin", NULL};

	ck_assert_int_eq(parse(&c, ANALYZE_GROUPS, region), 0); /* a region verdict needs no gate */
	dt_cli_diff_opts(&c, &o);
	ck_assert_str_eq(o.region, "outer");
	ck_assert(o.fail_if_slower_pct < 0);
	ck_assert_str_eq(c.baseline, "a.bin");

	const char *fn[] = {"--function", "f", "a", "b", NULL};
	ck_assert_int_eq(parse(&c, DIFF_GROUPS, fn), DT_CLI_EXIT_USAGE); /* --function is a gate only */
	const char *both[] = {"--fail-if-slower", "5", "--function", "f", "--region", "r", "a", "b", NULL};
	ck_assert_int_eq(parse(&c, DIFF_GROUPS, both), DT_CLI_EXIT_USAGE);
	const char *gate[] = {"--fail-if-slower", "5", "--noise", "2", "--region", "r", "a", "b", NULL};
	ck_assert_int_eq(parse(&c, DIFF_GROUPS, gate), 0);
	dt_cli_diff_opts(&c, &o);
	ck_assert(o.fail_if_slower_pct == 5 && o.noise_pct == 2);
}
END_TEST

START_TEST(test_color)
{
	FILE *f = tmpfile();
	struct dt_cli c;
	const char *bare[] = {"--color", "t", NULL};

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(parse(&c, REPORT_GROUPS, bare), 0);
	ck_assert_int_eq(c.color, DT_COLOR_ALWAYS); /* bare --color, as ls and grep take it */
	unsetenv("NO_COLOR");
	ck_assert_int_eq(dt_cli_color_enabled(DT_COLOR_AUTO, f), 0); /* a file is no terminal */
	ck_assert_int_eq(dt_cli_color_enabled(DT_COLOR_ALWAYS, f), 1);
	setenv("NO_COLOR", "1", 1);
	ck_assert_int_eq(dt_cli_color_enabled(DT_COLOR_ALWAYS, f), 1); /* the option wins */
	ck_assert_int_eq(dt_cli_color_enabled(DT_COLOR_NEVER, f), 0);
	fclose(f);
}
END_TEST

START_TEST(test_help_lists_what_parses)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(m);
	dt_cli_print_options(m, DIFF_GROUPS);
	fclose(m);
	ck_assert_ptr_nonnull(strstr(buf, "--region NAME"));
	ck_assert_ptr_nonnull(strstr(buf, "-q, --quiet"));
	ck_assert_ptr_null(strstr(buf, "--threshold")); /* not a diff option */
	ck_assert_ptr_null(strstr(buf, "--baseline"));
	free(buf);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("dt_cli");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_report_options);
	tcase_add_test(tc, test_bad_values_and_groups);
	tcase_add_test(tc, test_diff_combinations);
	tcase_add_test(tc, test_color);
	tcase_add_test(tc, test_help_lists_what_parses);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
