/* The shared command line (dt_cli.h): one option table read by the parser and by --help, the checks
 * of every option value, the colour and progress decisions, and the report pipeline. Called by
 * analyzer/main.c and frontend/dt_cmd_{report,diff}.c; prints to stderr only; never exits. */
#define _GNU_SOURCE
#include "dt_cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dt_bottleneck.h"
#include "dt_flame.h"
#include "dt_profile.h"
#include "dt_symbolize.h"

#define TOP_MAX 1000000u
#define PCT_MAX 1e6	  /* --noise and --fail-if-slower: a 10000x regression still parses */
#define HELP_LEFT_COLS 26 /* "  -f, --format FMT" column of --help */
#define NS_PER_S 1000000000ull
#define PERCENT 100.0

enum opt_id {
	/* Options with a short form use its letter; the others start above every char. */
	O_INCLUSIVE = 256,
	O_NO_SYMBOLS,
	O_NO_HINTS,
	O_HINT,
	O_METRIC,
	O_COLOR,
	O_NOISE,
	O_GATE,
	O_FUNCTION,
	O_REGION,
};

struct cli_opt {
	const char *name;
	int id;
	int has_arg;	 /* no_argument, required_argument, optional_argument */
	unsigned group;	 /* 0: every command */
	const char *arg; /* the argument's name in --help */
	const char *help;
};

static const struct cli_opt options[] = {
    {"format", 'f', required_argument, DT_CLI_OUTPUT, "FMT", NULL /* depends on the command */},
    {"output", 'o', required_argument, DT_CLI_OUTPUT, "FILE",
     "write the report to FILE instead of standard output"},
    {"top", 'n', required_argument, DT_CLI_OUTPUT, "N", NULL /* with its default */},
    {"threshold", 't', required_argument, DT_CLI_PROFILE, "PCT", NULL /* with its default */},
    {"inclusive", O_INCLUSIVE, no_argument, DT_CLI_PROFILE, NULL,
     "bottlenecks by total (inclusive) time instead of self time"},
    {"no-symbols", O_NO_SYMBOLS, no_argument, DT_CLI_OUTPUT, NULL,
     "do not read binaries; show module+offset"},
    {"no-hints", O_NO_HINTS, no_argument, DT_CLI_PROFILE, NULL, "leave out the optimization hints"},
    {"hint", O_HINT, required_argument, DT_CLI_PROFILE, "RULE.PARAM=VALUE",
     "set a hint threshold (repeatable)"},
    {"metric", O_METRIC, required_argument, DT_CLI_PROFILE, "M", "svg/html widths: " DT_METRIC_NAMES},
    {"color", O_COLOR, optional_argument, DT_CLI_PROFILE, "[=WHEN]",
     "colour text: auto (a terminal, no NO_COLOR; default), always, never"},
    {"baseline", 'b', required_argument, DT_CLI_BASELINE, "BASE",
     "compare trace BASE (baseline) with TRACE (optimized) instead"},
    {"noise", O_NOISE, required_argument, DT_CLI_DIFF, "PCT", NULL /* with its default */},
    {"fail-if-slower", O_GATE, required_argument, DT_CLI_DIFF, "PCT",
     "exit 1 when total CPU time grew by more than PCT percent"},
    {"function", O_FUNCTION, required_argument, DT_CLI_DIFF, "NAME",
     "... or, with --fail-if-slower, NAME's inclusive CPU time"},
    {"region", O_REGION, required_argument, DT_CLI_DIFF, "NAME",
     "compare region NAME: verdict and gate on its wall time"},
    {"quiet", 'q', no_argument, 0, NULL, "no informational messages on stderr (errors still)"},
    {"help", 'h', no_argument, 0, NULL, "show this help"},
    {"version", 'V', no_argument, DT_CLI_VERSION, NULL, "show the version"},
};
#define NOPTIONS (sizeof(options) / sizeof(options[0]))

#define DIFF_FORMAT_NAMES "text, markdown or json"

void dt_cli_init(struct dt_cli *c, const char *prog, const char *usage, unsigned groups)
{
	memset(c, 0, sizeof(*c));
	c->prog = prog;
	c->usage = usage;
	c->groups = groups;
	dt_report_opts_default(&c->ro);
	c->report = dt_report_text;
	c->format = "text";
	c->color = DT_COLOR_AUTO;
	c->noise_pct = DT_DIFF_NOISE_PCT;
	c->fail_if_slower_pct = -1;
}

static int accepted(const struct cli_opt *o, unsigned groups)
{
	return o->group == 0 || (o->group & groups);
}

void dt_cli_print_options(FILE *out, unsigned groups)
{
	for (size_t i = 0; i < NOPTIONS; i++) {
		const struct cli_opt *o = &options[i];
		char left[64];
		const char *sep = o->has_arg == optional_argument ? "" : " ";

		if (!accepted(o, groups))
			continue;
		if (o->id < O_INCLUSIVE)
			snprintf(left, sizeof(left), "  -%c, --%s%s%s", o->id, o->name, o->arg ? sep : "",
				 o->arg ? o->arg : "");
		else
			snprintf(left, sizeof(left), "      --%s%s%s", o->name, o->arg ? sep : "",
				 o->arg ? o->arg : "");
		if (strlen(left) >= HELP_LEFT_COLS)
			fprintf(out, "%s\n%*s", left, HELP_LEFT_COLS, "");
		else
			fprintf(out, "%-*s", HELP_LEFT_COLS, left);
		switch (o->id) {
		case 'f':
			fprintf(out, "%s\n",
				groups & DT_CLI_PROFILE ? DT_REPORT_FORMAT_NAMES " (default text)"
							: DIFF_FORMAT_NAMES " (default text)");
			break;
		case 'n':
			fprintf(out, "rows in the tables (default %u%s)\n", DT_REPORT_DEFAULT_TOP,
				groups & DT_CLI_PROFILE ? "" : ", 0 = all");
			break;
		case 't':
			fprintf(out, "bottleneck threshold, percent of samples (default %g)\n",
				DT_BOTTLENECK_DEFAULT_PCT);
			break;
		case O_NOISE:
			fprintf(out, "changes within +-PCT are no change (default %g)\n", DT_DIFF_NOISE_PCT);
			break;
		default:
			fprintf(out, "%s\n", o->help);
		}
	}
}

int dt_cli_usage_error(const struct dt_cli *c, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", c->usage);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help'.\n", c->usage);
	return DT_CLI_EXIT_USAGE;
}

void dt_cli_info(const struct dt_cli *c, const char *fmt, ...)
{
	va_list ap;

	if (c->quiet)
		return;
	fprintf(stderr, "%s: ", c->prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* A decimal row count in [0, TOP_MAX]; 0 or -1. */
static int parse_top(const char *s, uint32_t *out)
{
	char *end;
	unsigned long long v;

	if (!*s || *s == '-' || *s == '+')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > TOP_MAX)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* A percentage in [0, max]; 0 or -1. */
static int parse_pct(const char *s, double max, double *out)
{
	char *end;
	double v;

	if (!*s)
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !(v >= 0 && v <= max))
		return -1;
	*out = v;
	return 0;
}

static int parse_format(struct dt_cli *c, const char *s)
{
	if (!(c->groups & DT_CLI_PROFILE)) {
		/* a diff: its own three reporters */
		if (strcmp(s, "text") && strcmp(s, "markdown") && strcmp(s, "json"))
			return dt_cli_usage_error(c, "--format: " DIFF_FORMAT_NAMES " expected, found '%s'",
						  s);
		c->format = s;
		return 0;
	}
	c->report = dt_report_find(s);
	if (!c->report)
		return dt_cli_usage_error(c, "--format: " DT_REPORT_FORMAT_NAMES " expected, found '%s'", s);
	c->format = s;
	return 0;
}

static int parse_one(struct dt_cli *c, int id, const char *arg)
{
	char err[DT_READ_ERR_BYTES];

	switch (id) {
	case 'f':
		return parse_format(c, arg);
	case 'o':
		if (!*arg)
			return dt_cli_usage_error(c, "--output: a file name expected, found ''");
		c->output = arg;
		return 0;
	case 'n':
		if (parse_top(arg, &c->ro.top_n))
			return dt_cli_usage_error(c, "--top: a row count (0..%u) expected, found '%s'",
						  TOP_MAX, arg);
		return 0;
	case 't':
		if (parse_pct(arg, PERCENT, &c->ro.threshold_pct))
			return dt_cli_usage_error(
			    c, "--threshold: a percentage (0..100) expected, found '%s'", arg);
		return 0;
	case O_INCLUSIVE:
		c->ro.inclusive = 1;
		return 0;
	case O_NO_SYMBOLS:
		c->sym_flags |= DT_SYM_NO_DEBUG;
		return 0;
	case O_NO_HINTS:
		c->ro.hints.enabled = 0;
		return 0;
	case O_HINT:
		if (dt_hint_config_set(&c->ro.hints, arg, err, sizeof(err)))
			return dt_cli_usage_error(c, "--hint: %s (the parameters are listed by --help)", err);
		return 0;
	case O_METRIC:
		if (dt_metric_parse(arg, &c->ro.metric))
			return dt_cli_usage_error(c, "--metric: " DT_METRIC_NAMES " expected, found '%s'",
						  arg);
		return 0;
	case O_COLOR:
		if (!arg || strcmp(arg, "always") == 0)
			c->color = DT_COLOR_ALWAYS;
		else if (strcmp(arg, "auto") == 0)
			c->color = DT_COLOR_AUTO;
		else if (strcmp(arg, "never") == 0)
			c->color = DT_COLOR_NEVER;
		else
			return dt_cli_usage_error(c, "--color: auto, always or never expected, found '%s'",
						  arg);
		return 0;
	case 'b':
		c->baseline = arg;
		return 0;
	case O_NOISE:
		if (parse_pct(arg, PCT_MAX, &c->noise_pct))
			return dt_cli_usage_error(c, "--noise: a percentage expected, found '%s'", arg);
		return 0;
	case O_GATE:
		if (parse_pct(arg, PCT_MAX, &c->fail_if_slower_pct))
			return dt_cli_usage_error(c, "--fail-if-slower: a percentage expected, found '%s'",
						  arg);
		return 0;
	case O_FUNCTION:
		c->gate_function = arg;
		return 0;
	case O_REGION:
		c->region = arg;
		return 0;
	case 'q':
		c->quiet = 1;
		return 0;
	case 'h':
		c->help = 1;
		return 0;
	case 'V':
		c->version = 1;
		return 0;
	default:
		fprintf(stderr, "Try '%s --help'.\n", c->usage);
		return DT_CLI_EXIT_USAGE;
	}
}

/* Combinations no single option can check. */
static int check_combination(struct dt_cli *c)
{
	int diffing = !(c->groups & DT_CLI_BASELINE) || c->baseline;

	if (!diffing && (c->fail_if_slower_pct >= 0 || c->gate_function || c->region))
		return dt_cli_usage_error(c, "--fail-if-slower/--function/--region: --baseline BASE "
					     "expected with them, found none");
	if (c->gate_function && c->fail_if_slower_pct < 0)
		return dt_cli_usage_error(c, "--function: --fail-if-slower PCT expected with it, found none");
	if (c->gate_function && c->region)
		return dt_cli_usage_error(c, "--function or --region expected, found both");
	return 0;
}

int dt_cli_parse(struct dt_cli *c, int argc, char **argv)
{
	struct option longopts[NOPTIONS + 1];
	char shortopts[2 * NOPTIONS + 1];
	size_t nl = 0, ns = 0;
	int id, rc;

	for (size_t i = 0; i < NOPTIONS; i++) {
		const struct cli_opt *o = &options[i];

		if (!accepted(o, c->groups))
			continue;
		longopts[nl++] = (struct option){o->name, o->has_arg, NULL, o->id};
		if (o->id < O_INCLUSIVE) {
			shortopts[ns++] = (char)o->id;
			if (o->has_arg == required_argument)
				shortopts[ns++] = ':';
		}
	}
	longopts[nl] = (struct option){NULL, 0, NULL, 0};
	shortopts[ns] = '\0';
	optind = 0; /* glibc: 0 also resets the permutation state a previous parse left behind */
	while ((id = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1)
		if ((rc = parse_one(c, id, optarg)))
			return rc;
	c->args = argv + optind;
	c->nargs = argc - optind;
	if (c->help || c->version)
		return 0;
	return check_combination(c);
}

int dt_cli_color_enabled(enum dt_color_mode m, FILE *out)
{
	const char *no_color = getenv("NO_COLOR");

	if (m != DT_COLOR_AUTO)
		return m == DT_COLOR_ALWAYS;
	if (no_color && *no_color)
		return 0;
	return isatty(fileno(out));
}

void dt_cli_diff_opts(struct dt_cli *c, struct dt_diff_opts *o)
{
	dt_diff_opts_default(o, c->prog);
	o->format = c->format;
	o->output = c->output;
	o->top_n = c->ro.top_n;
	o->sym_flags = c->sym_flags;
	o->noise_pct = c->noise_pct;
	o->fail_if_slower_pct = c->fail_if_slower_pct;
	o->gate_function = c->gate_function;
	o->region = c->region;
	o->quiet = c->quiet;
	dt_cli_progress_init(&c->progress, c->prog, c->quiet);
	o->progress = dt_cli_progress;
	o->progress_ctx = &c->progress;
}

/* ---------------------------------------------------------------- progress */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

void dt_cli_progress_init(struct dt_cli_progress *p, const char *prog, int quiet)
{
	memset(p, 0, sizeof(*p));
	p->prog = prog;
	p->enabled = !quiet && isatty(STDERR_FILENO);
	p->start_ns = now_ns();
}

void dt_cli_progress(void *ctx, const char *what, uint64_t done, uint64_t total)
{
	struct dt_cli_progress *p = ctx;
	uint64_t t;

	if (!p || !p->enabled)
		return;
	if (done >= total) {
		if (p->drawn)
			fputs("\r\033[K", stderr); /* erase the line: the report follows clean */
		p->drawn = 0;
		return;
	}
	t = now_ns();
	if (t - p->start_ns < DT_CLI_PROGRESS_DELAY_NS || t - p->last_ns < DT_CLI_PROGRESS_INTERVAL_NS)
		return;
	p->last_ns = t;
	p->drawn = 1;
	fprintf(stderr, "\r%s: %s %llu of %llu records (%.0f%%)\033[K", p->prog, what,
		(unsigned long long)done, (unsigned long long)total, PERCENT * (double)done / (double)total);
	fflush(stderr);
}

/* ---------------------------------------------------------------- the report pipeline */

int dt_cli_run_report(const struct dt_cli *c, const struct dt_trace *t)
{
	struct dt_symbolizer *sym = NULL;
	struct dt_profile *prof = NULL;
	struct dt_report_opts ro = c->ro;
	struct dt_cli_progress pr;
	const char *where = c->output ? c->output : "standard output";
	FILE *out = stdout;
	int rc = DT_CLI_EXIT_USAGE;

	if (!c->output && strcmp(c->format, "pprof") == 0 && isatty(STDOUT_FILENO)) {
		fprintf(stderr,
			"%s: --format pprof: a file expected for its binary output, found a terminal "
			"(add -o FILE.pb.gz)\n",
			c->prog);
		return DT_CLI_EXIT_USAGE;
	}
	dt_cli_progress_init(&pr, c->prog, c->quiet);
	if (dt_sym_open(t, c->sym_flags, stderr, &sym) ||
	    dt_profile_build_progress(t, sym, dt_cli_progress, &pr, &prof)) {
		dt_cli_progress(&pr, "", 1, 1);
		fprintf(stderr,
			"%s: out of memory while building the profile (free memory, or try "
			"--no-symbols)\n",
			c->prog);
		goto out;
	}
	if ((c->report == dt_report_svg || c->report == dt_report_html) &&
	    !dt_flame_has_metric(prof, c->ro.metric)) {
		fprintf(stderr,
			"%s: --metric %s: a trace with memory data expected, found one recorded without "
			"it (record again with DEIATRACE_MALLOC=on, not --no-malloc, or use --metric cpu)\n",
			c->prog, dt_metric_name(c->ro.metric));
		goto out;
	}
	if (c->output && !(out = fopen(c->output, "w"))) {
		fprintf(stderr,
			"%s: %s: a writable output file expected, found: %s (check the directory "
			"exists and is writable)\n",
			c->prog, c->output, strerror(errno));
		out = stdout;
		goto out;
	}
	ro.color = c->report == dt_report_text && dt_cli_color_enabled(c->color, out);
	if (c->report(out, prof, &ro) || fflush(out)) {
		fprintf(stderr,
			"%s: %s: the report could not be written completely (disk full, or out of "
			"memory)\n",
			c->prog, where);
		goto out;
	}
	rc = DT_CLI_EXIT_OK;
out:
	if (out != stdout && fclose(out) && rc == DT_CLI_EXIT_OK) {
		fprintf(stderr, "%s: %s: the report could not be written: %s (check the free space)\n",
			c->prog, c->output, strerror(errno));
		rc = DT_CLI_EXIT_USAGE;
	}
	dt_profile_free(prof);
	dt_sym_close(sym);
	return rc;
}
