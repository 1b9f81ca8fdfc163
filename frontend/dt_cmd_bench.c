/* `deiatrace bench`: N measured runs (after W warm-ups) of a program, optionally alternating with a
 * second command (A B A B, so drift hits both alike), statistics from wait4's rusage and a wall
 * clock, the B/A ratio of mean wall time with a 95% confidence interval, and with --profile a trace
 * per run merged into one report. Statistics are analyzer/dt_stats.c's; this file owns the loop. */
#define _GNU_SOURCE
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyzer/dt_merge.h"
#include "analyzer/dt_profile.h"
#include "analyzer/dt_reader.h"
#include "analyzer/dt_report.h"
#include "analyzer/dt_stats.h"
#include "analyzer/dt_symbolize.h"
#include "dt_fe.h"

#define SUB "bench"
#define DEFAULT_RUNS 10u
#define MAX_RUNS 100000u
#define MAX_WARMUP 10000u
#define BENCH_JSON_VERSION 1
#define SHELL_PATH "/bin/sh"
#define TRACE_DIR_BYTES (PATH_MAX / 2) /* leaves room for "/run.PID.bin" in a PATH_MAX pattern */

enum quantity { Q_WALL, Q_USER, Q_SYS, Q_CPU, Q_RSS, NQ };

static const struct {
	const char *key;   /* JSON */
	const char *label; /* text */
	int bytes;
} quantities[NQ] = {
    [Q_WALL] = {"wall_s", "wall time", 0},	 [Q_USER] = {"user_s", "user CPU", 0},
    [Q_SYS] = {"sys_s", "system CPU", 0},	 [Q_CPU] = {"cpu_s", "user+system", 0},
    [Q_RSS] = {"peak_rss_bytes", "peak RSS", 1},
};

struct series {
	const char *label; /* the command as shown */
	char *const *argv;
	uint32_t n;
	double *v[NQ];
	int *exit_code;
	pid_t *pid;
	struct dt_stats st[NQ];
	uint32_t failed; /* runs with a non-zero exit status */
};

struct bench {
	uint32_t runs, warmup;
	int profile, quiet; /* quiet: the program's output goes to /dev/null */
	int no_info;	    /* -q: no informational lines of our own */
	const char *format, *output;
	struct series s[2];
	int ns;
	struct dt_ratio ratio;
	int has_ratio;
	char trace_dir[TRACE_DIR_BYTES];
	char shim[PATH_MAX];
	struct dt_run_opts ro;
};

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "Usage: " DT_FE_PROG " " SUB " [OPTIONS] -- PROGRAM [ARGS]\n"
	    "Run PROGRAM N times and report wall time, user and system CPU and peak RSS (min, max,\n"
	    "mean, median, p95, p99, standard deviation) and the exit statuses.\n\n"
	    "  -n, --runs N            measured runs (default %u)\n"
	    "  -w, --warmup W          unmeasured runs first (default 0)\n"
	    "  -c, --compare CMD       also run CMD (with " SHELL_PATH
	    " -c), alternating A B A B, and report\n"
	    "                          the ratio of mean wall times with a 95%% confidence interval\n"
	    "  -p, --profile           record a trace per run (under the profiler, so runs are slower)\n"
	    "                          and append the merged report; traces are kept in a temp directory\n"
	    "      --show-output       let the program write to the terminal (default: /dev/null)\n"
	    "  -f, --format FMT        text (default), markdown or json\n"
	    "  -o, --output FILE       write the report to FILE instead of standard output\n"
	    "  -q, --quiet             no informational messages on stderr (errors still)\n"
	    "  -h, --help              show this help\n\n"
	    "Exit status: 0 when every run exited 0, 1 when some did not, 2 wrong usage.\n",
	    DEFAULT_RUNS);
}

static int series_alloc(struct series *s, uint32_t n)
{
	for (int q = 0; q < NQ; q++)
		if (!(s->v[q] = calloc(n, sizeof(double))))
			return -1;
	s->exit_code = calloc(n, sizeof(int));
	s->pid = calloc(n, sizeof(pid_t));
	return s->exit_code && s->pid ? 0 : -1;
}

static void series_free(struct series *s)
{
	for (int q = 0; q < NQ; q++)
		free(s->v[q]);
	free(s->exit_code);
	free(s->pid);
}

/* One run of series k; measured runs are stored at index s->n. 0, or -1 when it could not start. */
static int run_one(struct bench *b, int k, int measured)
{
	struct series *s = &b->s[k];
	struct dt_run_result r;
	struct dt_run_opts o = b->ro;
	char err[DT_FE_ERR_BYTES], pattern[PATH_MAX];

	o.argv = s->argv;
	o.quiet = b->quiet;
	if (b->profile && measured && k == 0) {
		snprintf(pattern, sizeof(pattern), "%s/run.%%p.bin", b->trace_dir);
		o.shim = b->shim;
		o.output = pattern;
		o.no_follow = 1;
	} else {
		o.shim = NULL;
	}
	if (dt_run(&o, &r, err, sizeof(err))) {
		fprintf(stderr, DT_FE_PROG ": %s\n", err);
		return -1;
	}
	if (!measured)
		return 0;
	uint32_t i = s->n++;
	s->v[Q_WALL][i] = r.wall_s;
	s->v[Q_USER][i] = r.user_s;
	s->v[Q_SYS][i] = r.sys_s;
	s->v[Q_CPU][i] = r.user_s + r.sys_s;
	s->v[Q_RSS][i] = (double)r.max_rss_bytes;
	s->exit_code[i] = r.exit_code;
	s->pid[i] = r.pid;
	s->failed += r.exit_code != 0;
	return 0;
}

static void exit_summary(FILE *out, const struct series *s, const char *sep)
{
	/* Distinct statuses with their counts, in order of first appearance. */
	for (uint32_t i = 0; i < s->n; i++) {
		uint32_t seen = 0, count = 0;
		for (uint32_t j = 0; j < i; j++)
			seen |= s->exit_code[j] == s->exit_code[i];
		if (seen)
			continue;
		for (uint32_t j = i; j < s->n; j++)
			count += s->exit_code[j] == s->exit_code[i];
		fprintf(out, "%s%d x%" PRIu32, i ? sep : "", s->exit_code[i], count);
	}
}

static const char *fmt_q(char *buf, size_t len, double v, int bytes)
{
	if (bytes)
		return dt_fmt_bytes(buf, len, (uint64_t)v);
	if (v < 1e-3)
		snprintf(buf, len, "%.1f us", v * 1e6);
	else if (v < 1)
		snprintf(buf, len, "%.2f ms", v * 1e3);
	else
		snprintf(buf, len, "%.3f s", v);
	return buf;
}

static void report_text_series(FILE *out, const struct series *s, int md)
{
	static const char *const cols[] = {"min", "max", "mean", "median", "p95", "p99", "stddev"};
	char buf[7][32];

	if (md) {
		fprintf(out, "\n## `%s`\n\n%" PRIu32 " runs; exit statuses: ", s->label, s->n);
		exit_summary(out, s, ", ");
		fprintf(out, "\n\n| quantity |");
		for (size_t c = 0; c < 7; c++)
			fprintf(out, " %s |", cols[c]);
		fprintf(out, "\n|---|---:|---:|---:|---:|---:|---:|---:|\n");
	} else {
		fprintf(out, "\n%s\n  %" PRIu32 " runs; exit statuses: ", s->label, s->n);
		exit_summary(out, s, ", ");
		fprintf(out, "\n  %-12s", "");
		for (size_t c = 0; c < 7; c++)
			fprintf(out, " %10s", cols[c]);
		fputc('\n', out);
	}
	for (int q = 0; q < NQ; q++) {
		const struct dt_stats *st = &s->st[q];
		const double v[7] = {st->min, st->max, st->mean, st->median, st->p95, st->p99, st->stddev};
		for (size_t c = 0; c < 7; c++)
			fmt_q(buf[c], sizeof(buf[c]), v[c], quantities[q].bytes);
		if (md) {
			fprintf(out, "| %s |", quantities[q].label);
			for (size_t c = 0; c < 7; c++)
				fprintf(out, " %s |", buf[c]);
			fputc('\n', out);
		} else {
			fprintf(out, "  %-12s", quantities[q].label);
			for (size_t c = 0; c < 7; c++)
				fprintf(out, " %10s", buf[c]);
			fputc('\n', out);
		}
	}
}

static void report_ratio_text(FILE *out, const struct bench *b)
{
	const struct dt_ratio *r = &b->ratio;

	if (!b->has_ratio) {
		fprintf(out, "\nNo ratio: at least 2 runs of each command with a non-zero mean expected.\n");
		return;
	}
	fprintf(out, "\nB/A mean wall time: %.3f (95%% CI %.3f .. %.3f): ", r->ratio, r->ci_lo, r->ci_hi);
	if (r->ci_lo > 1)
		fprintf(out, "B is %.2fx slower than A\n", r->ratio);
	else if (r->ci_hi < 1)
		fprintf(out, "B is %.2fx faster than A\n", 1 / r->ratio);
	else
		fprintf(out, "no significant difference (the interval contains 1)\n");
}

static void report_json(FILE *out, const struct bench *b)
{
	fprintf(out,
		"{\n  \"deiatrace_bench_version\": %d,\n  \"runs\": %" PRIu32 ",\n  \"warmup\": %" PRIu32
		",\n  \"commands\": [",
		BENCH_JSON_VERSION, b->runs, b->warmup);
	for (int k = 0; k < b->ns; k++) {
		const struct series *s = &b->s[k];
		fprintf(out, "%s\n    {\n      \"command\": ", k ? "," : "");
		dt_json_put_string(out, s->label);
		fprintf(out, ",\n      \"runs\": %" PRIu32 ",\n      \"failed_runs\": %" PRIu32, s->n,
			s->failed);
		for (int q = 0; q < NQ; q++) {
			const struct dt_stats *st = &s->st[q];
			fprintf(out, ",\n      \"%s\": {\"min\": ", quantities[q].key);
			dt_json_put_number(out, st->min);
			fputs(", \"max\": ", out);
			dt_json_put_number(out, st->max);
			fputs(", \"mean\": ", out);
			dt_json_put_number(out, st->mean);
			fputs(", \"median\": ", out);
			dt_json_put_number(out, st->median);
			fputs(", \"p95\": ", out);
			dt_json_put_number(out, st->p95);
			fputs(", \"p99\": ", out);
			dt_json_put_number(out, st->p99);
			fputs(", \"stddev\": ", out);
			dt_json_put_number(out, st->stddev);
			fputs(", \"values\": [", out);
			for (uint32_t i = 0; i < s->n; i++) {
				fputs(i ? ", " : "", out);
				dt_json_put_number(out, s->v[q][i]);
			}
			fputs("]}", out);
		}
		fputs(",\n      \"exit_statuses\": [", out);
		for (uint32_t i = 0; i < s->n; i++)
			fprintf(out, "%s%d", i ? ", " : "", s->exit_code[i]);
		fputs("]\n    }", out);
	}
	fputs("\n  ]", out);
	if (b->ns == 2) {
		fputs(",\n  \"comparison\": ", out);
		if (!b->has_ratio) {
			fputs("null", out);
		} else {
			fputs("{\"quantity\": \"wall_s\", \"ratio\": ", out);
			dt_json_put_number(out, b->ratio.ratio);
			fputs(", \"ci_low\": ", out);
			dt_json_put_number(out, b->ratio.ci_lo);
			fputs(", \"ci_high\": ", out);
			dt_json_put_number(out, b->ratio.ci_hi);
			fputs(", \"confidence\": ", out);
			dt_json_put_number(out, DT_STATS_CI_LEVEL);
			fputs(", \"std_error\": ", out);
			dt_json_put_number(out, b->ratio.std_error);
			fputs("}", out);
		}
	}
}

/* Merges the per-run traces of --profile and appends the profile report. 0 or -1. */
static int report_profile(FILE *out, struct bench *b, int json)
{
	const struct series *s = &b->s[0];
	struct dt_trace **t = calloc(s->n ? s->n : 1, sizeof(*t)), *m = NULL;
	struct dt_symbolizer *sym = NULL;
	struct dt_profile *prof = NULL;
	struct dt_report_opts ro;
	char path[PATH_MAX], pattern[PATH_MAX], err[DT_READ_ERR_BYTES];
	uint32_t nt = 0;
	int rc = -1;

	if (!t)
		return -1;
	snprintf(pattern, sizeof(pattern), "%s/run.%%p.bin", b->trace_dir);
	for (uint32_t i = 0; i < s->n; i++) {
		if (dt_run_find_trace(pattern, s->pid[i], path, sizeof(path))) {
			fprintf(stderr,
				DT_FE_PROG ": run %" PRIu32 " (pid %d) wrote no trace in %s (a statically "
					   "linked program cannot be profiled)\n",
				i + 1, (int)s->pid[i], b->trace_dir);
			continue;
		}
		if (dt_trace_read_file(path, &t[nt], err, sizeof(err)) != DT_READ_OK) {
			fprintf(stderr, DT_FE_PROG ": %s: %s (this run is left out of the profile)\n", path,
				err);
			continue;
		}
		nt++;
	}
	if (nt == 0) {
		fprintf(stderr,
			DT_FE_PROG ": --profile: traces expected in %s, found none (run without --profile, "
				   "or check the program is dynamically linked)\n",
			b->trace_dir);
		goto out;
	}
	if (dt_trace_merge(t, nt, &m, err, sizeof(err)) || dt_sym_open(m, 0, stderr, &sym) ||
	    dt_profile_build(m, sym, &prof)) {
		fprintf(stderr, DT_FE_PROG
			": out of memory while merging the traces (use fewer --runs with --profile)\n");
		goto out;
	}
	dt_fe_info(b->no_info, "%" PRIu32 " traces in %s merged (" DT_FE_PROG " report %s/run.*.bin)", nt,
		   b->trace_dir, b->trace_dir);
	dt_report_opts_default(&ro);
	if (json) {
		fputs(",\n  \"profile\": ", out);
		rc = dt_report_json(out, prof, &ro);
	} else {
		fputs(strcmp(b->format, "markdown") == 0 ? "\n## Profile (all runs merged)\n\n"
							 : "\nProfile (all runs merged)\n\n",
		      out);
		rc = strcmp(b->format, "markdown") == 0 ? dt_report_markdown(out, prof, &ro)
							: dt_report_text(out, prof, &ro);
	}
out:
	dt_profile_free(prof);
	dt_sym_close(sym);
	dt_trace_free(m);
	for (uint32_t i = 0; i < nt; i++)
		dt_trace_free(t[i]);
	free(t);
	return rc;
}

static int report(FILE *out, struct bench *b)
{
	int json = strcmp(b->format, "json") == 0, md = strcmp(b->format, "markdown") == 0;

	if (json) {
		report_json(out, b);
	} else {
		fprintf(out,
			md ? "# deiatrace bench\n\n%" PRIu32 " runs, %" PRIu32 " warm-up%s\n"
			   : "deiatrace bench: %" PRIu32 " runs, %" PRIu32 " warm-up%s\n",
			b->runs, b->warmup, b->ns == 2 ? ", A and B alternating" : "");
		for (int k = 0; k < b->ns; k++) {
			if (b->ns == 2)
				fprintf(out, md ? "\n**%s**\n" : "\n[%s]", k ? "B" : "A");
			report_text_series(out, &b->s[k], md);
		}
		if (b->ns == 2)
			report_ratio_text(out, b);
	}
	if (b->profile && report_profile(out, b, json))
		return -1;
	if (json)
		fputs("\n}\n", out);
	return ferror(out) ? -1 : 0;
}

/* The command as one line, for the report. */
static char *join_argv(char *const *argv)
{
	size_t len = 1;
	for (char *const *a = argv; *a; a++)
		len += strlen(*a) + 1;
	char *s = malloc(len), *p = s;
	if (!s)
		return NULL;
	for (char *const *a = argv; *a; a++)
		p += sprintf(p, "%s%s", a == argv ? "" : " ", *a);
	*p = '\0';
	return s;
}

int dt_cmd_bench(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"runs", required_argument, NULL, 'n'},    {"warmup", required_argument, NULL, 'w'},
	    {"compare", required_argument, NULL, 'c'}, {"profile", no_argument, NULL, 'p'},
	    {"show-output", no_argument, NULL, 'O'},   {"format", required_argument, NULL, 'f'},
	    {"output", required_argument, NULL, 'o'},  {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},	       {NULL, 0, NULL, 0},
	};
	struct bench b;
	const char *compare = NULL;
	char *label_a = NULL, err[DT_FE_ERR_BYTES];
	char *b_argv[4] = {SHELL_PATH, "-c", NULL, NULL};
	FILE *out = stdout;
	int c, rc = DT_FE_EXIT_USAGE;

	memset(&b, 0, sizeof(b));
	b.runs = DEFAULT_RUNS;
	b.quiet = 1;
	b.format = "text";
	optind = 1;
	while ((c = getopt_long(argc, argv, "+n:w:c:pf:o:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (dt_fe_parse_u32(optarg, 1, MAX_RUNS, &b.runs))
				return dt_fe_usage_error(SUB, "--runs: a count (1..%u) expected, found '%s'",
							 MAX_RUNS, optarg);
			break;
		case 'w':
			if (dt_fe_parse_u32(optarg, 0, MAX_WARMUP, &b.warmup))
				return dt_fe_usage_error(SUB,
							 "--warmup: a count (0..%u) expected, found '%s'",
							 MAX_WARMUP, optarg);
			break;
		case 'c':
			if (!*optarg)
				return dt_fe_usage_error(SUB, "--compare: a command expected, found ''");
			compare = optarg;
			break;
		case 'p':
			b.profile = 1;
			break;
		case 'O':
			b.quiet = 0;
			break;
		case 'q':
			b.no_info = 1;
			break;
		case 'f':
			if (strcmp(optarg, "text") && strcmp(optarg, "markdown") && strcmp(optarg, "json"))
				return dt_fe_usage_error(
				    SUB, "--format: text, markdown or json expected, found '%s'", optarg);
			b.format = optarg;
			break;
		case 'o':
			b.output = optarg;
			break;
		case 'h':
			usage(stdout);
			return DT_FE_EXIT_OK;
		default:
			fprintf(stderr, "Try '" DT_FE_PROG " " SUB " --help'.\n");
			return DT_FE_EXIT_USAGE;
		}
	}
	if (optind >= argc)
		return dt_fe_usage_error(
		    SUB, "a program to run expected after the options (bench -- PROG ARGS), found none");
	if (b.profile) {
		if (dt_run_find_shim(b.shim, sizeof(b.shim), err, sizeof(err))) {
			fprintf(stderr, DT_FE_PROG ": %s\n", err);
			return DT_FE_EXIT_USAGE;
		}
		const char *tmp = getenv("TMPDIR");
		int k = snprintf(b.trace_dir, sizeof(b.trace_dir), "%s/deiatrace-bench.XXXXXX",
				 tmp && *tmp ? tmp : "/tmp");
		if (k < 0 || (size_t)k >= sizeof(b.trace_dir) || !mkdtemp(b.trace_dir)) {
			fprintf(stderr,
				DT_FE_PROG ": %s: a new temporary directory expected, found: %m (set TMPDIR "
					   "to a writable directory)\n",
				b.trace_dir);
			return DT_FE_EXIT_USAGE;
		}
	}
	b.s[0].argv = argv + optind;
	b.s[0].label = label_a = join_argv(argv + optind);
	b.ns = 1;
	if (compare) {
		b_argv[2] = (char *)compare;
		b.s[1].argv = b_argv;
		b.s[1].label = compare;
		b.ns = 2;
	}
	for (int k = 0; k < b.ns; k++)
		if (series_alloc(&b.s[k], b.runs)) {
			fprintf(stderr, DT_FE_PROG ": out of memory for %u runs (use fewer --runs)\n",
				(unsigned)b.runs);
			goto out;
		}
	if (!label_a)
		goto out;
	for (uint32_t i = 0; i < b.warmup; i++)
		for (int k = 0; k < b.ns; k++)
			if (run_one(&b, k, 0))
				goto out;
	for (uint32_t i = 0; i < b.runs; i++)
		for (int k = 0; k < b.ns; k++)
			if (run_one(&b, k, 1))
				goto out;
	for (int k = 0; k < b.ns; k++)
		for (int q = 0; q < NQ; q++)
			if (dt_stats_compute(b.s[k].v[q], b.s[k].n, &b.s[k].st[q])) {
				fprintf(stderr,
					DT_FE_PROG ": out of memory for statistics (use fewer --runs)\n");
				goto out;
			}
	if (b.ns == 2)
		b.has_ratio = dt_stats_ratio(&b.s[0].st[Q_WALL], &b.s[1].st[Q_WALL], &b.ratio) == 0;
	if (b.output && !(out = fopen(b.output, "w"))) {
		fprintf(stderr,
			DT_FE_PROG ": %s: a writable output file expected, found: %m (check the directory "
				   "exists and is writable)\n",
			b.output);
		out = stdout;
		goto out;
	}
	if (report(out, &b) || fflush(out)) {
		fprintf(stderr, DT_FE_PROG ": %s: the report could not be written completely\n",
			b.output ? b.output : "standard output");
		goto out;
	}
	rc = b.s[0].failed || (b.ns == 2 && b.s[1].failed) ? DT_FE_EXIT_FAIL : DT_FE_EXIT_OK;
out:
	if (out != stdout && fclose(out) && rc != DT_FE_EXIT_USAGE) {
		fprintf(stderr, DT_FE_PROG ": %s: the report could not be written: %m\n", b.output);
		rc = DT_FE_EXIT_USAGE;
	}
	for (int k = 0; k < 2; k++)
		series_free(&b.s[k]);
	free(label_a);
	return rc;
}
