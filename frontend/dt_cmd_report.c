/* `deiatrace report FILE...`: the analyzer's report; several traces of one program are merged
 * first (analyzer/dt_merge.c) so the ordinary profile and reporters see one trace. Owns only the
 * options and the wiring; exit status 0, or 2 for bad input or usage. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyzer/dt_bottleneck.h"
#include "analyzer/dt_merge.h"
#include "analyzer/dt_profile.h"
#include "analyzer/dt_reader.h"
#include "analyzer/dt_regions.h"
#include "analyzer/dt_report.h"
#include "analyzer/dt_symbolize.h"
#include "dt_fe.h"

#define SUB "report"
#define TOP_MAX 1000000u

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: " DT_FE_PROG " " SUB " [OPTIONS] TRACE...\n"
		"Report a trace: CPU time per function, bottlenecks, callers and callees, memory.\n"
		"Several traces of the same program are merged into one report (samples, calls and\n"
		"bytes summed; peaks are the largest run's).\n\n"
		"  -f, --format FMT      text (default), json, markdown or folded\n"
		"  -o, --output FILE     write the report to FILE instead of standard output\n"
		"  -n, --top N           rows in the functions table (default %u)\n"
		"  -t, --threshold PCT   bottleneck threshold, percent of samples (default %.0f)\n"
		"      --inclusive       bottlenecks by total (inclusive) time instead of self time\n"
		"      --no-symbols      do not read binaries; show module+offset\n"
		"  -h, --help            show this help\n\n"
		"Exit status: 0 ok, 2 bad input or usage.\n",
		DT_REPORT_DEFAULT_TOP, DT_BOTTLENECK_DEFAULT_PCT);
}

/* The named regions of every trace, summed by name. 0, or -1 after printing why. */
static int load_regions(char **paths, int n, struct dt_regions **out)
{
	char err[DT_READ_ERR_BYTES];

	*out = NULL;
	for (int i = 0; i < n; i++) {
		struct dt_regions *r;
		if (dt_regions_read_file(paths[i], &r, err, sizeof(err))) {
			fprintf(stderr, DT_FE_PROG ": %s: %s\n", paths[i], err);
			return -1;
		}
		if (!*out) {
			*out = r;
			continue;
		}
		int rc = dt_regions_add(*out, r);
		dt_regions_free(r);
		if (rc) {
			fprintf(stderr, DT_FE_PROG ": out of memory\n");
			return -1;
		}
	}
	dt_regions_sort(*out);
	return 0;
}

/* The analyzer's JSON report with a "regions" member added: the reporter writes a closed object, so it
 * goes to memory first and its closing brace is replaced. 0 or -1. */
static int report_json_regions(FILE *out, const struct dt_profile *prof, const struct dt_report_opts *ro,
			       const struct dt_regions *regions)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&buf, &len);
	int rc = -1;

	if (!mem)
		return -1;
	if (dt_report_json(mem, prof, ro) || fclose(mem))
		goto out;
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
		len--;
	if (len == 0 || buf[len - 1] != '}')
		goto out;
	fwrite(buf, 1, len - 1, out);
	fputs(",\n  \"regions\": ", out);
	if (dt_regions_report_json(out, regions))
		goto out;
	fputs("\n}\n", out);
	rc = ferror(out) ? -1 : 0;
out:
	free(buf);
	return rc;
}

/* Reads every trace and merges them when there are several. 0, or -1 after printing why. */
static int load(char **paths, int n, struct dt_trace **out)
{
	struct dt_trace **t = calloc((size_t)n, sizeof(*t));
	char err[DT_READ_ERR_BYTES];
	int rc = -1;

	*out = NULL;
	if (!t) {
		fprintf(stderr, DT_FE_PROG ": out of memory\n");
		return -1;
	}
	for (int i = 0; i < n; i++) {
		if (dt_trace_read_file(paths[i], &t[i], err, sizeof(err)) != DT_READ_OK) {
			fprintf(stderr, DT_FE_PROG ": %s: %s\n", paths[i], err);
			goto out;
		}
		if (t[i]->partial)
			fprintf(stderr, DT_FE_PROG ": warning: %s: partial trace: %s\n", paths[i],
				t[i]->partial_why);
		if (i > 0 && !dt_merge_same_program(t[0], t[i])) {
			fprintf(stderr,
				DT_FE_PROG ": %s: a trace of %s (as in %s) expected, found one of %s\n",
				paths[i], t[0]->exe ? t[0]->exe : "?", paths[0], t[i]->exe ? t[i]->exe : "?");
			goto out;
		}
	}
	if (n == 1) {
		*out = t[0];
		t[0] = NULL;
	} else if (dt_trace_merge(t, (size_t)n, out, err, sizeof(err)) != DT_READ_OK) {
		fprintf(stderr, DT_FE_PROG ": %s: %s\n", paths[0], err);
		goto out;
	} else {
		fprintf(stderr, DT_FE_PROG ": merged %d runs of %s\n", n, (*out)->exe ? (*out)->exe : "?");
	}
	rc = 0;
out:
	for (int i = 0; i < n; i++)
		dt_trace_free(t[i]);
	free(t);
	return rc;
}

int dt_cmd_report(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"format", required_argument, NULL, 'f'}, {"output", required_argument, NULL, 'o'},
	    {"top", required_argument, NULL, 'n'},    {"threshold", required_argument, NULL, 't'},
	    {"inclusive", no_argument, NULL, 'I'},    {"no-symbols", no_argument, NULL, 'S'},
	    {"help", no_argument, NULL, 'h'},	      {NULL, 0, NULL, 0},
	};
	struct dt_report_opts ro;
	dt_report_fn report = dt_report_text;
	const char *out_path = NULL;
	unsigned sym_flags = 0;
	struct dt_trace *t = NULL;
	struct dt_symbolizer *sym = NULL;
	struct dt_profile *prof = NULL;
	struct dt_regions *regions = NULL;
	FILE *out = stdout;
	int c, rc = DT_FE_EXIT_USAGE;

	dt_report_opts_default(&ro);
	optind = 1;
	while ((c = getopt_long(argc, argv, "f:o:n:t:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			report = dt_report_find(optarg);
			if (!report)
				return dt_fe_usage_error(
				    SUB, "--format: text, json, markdown or folded expected, found '%s'",
				    optarg);
			break;
		case 'o':
			out_path = optarg;
			break;
		case 'n':
			if (dt_fe_parse_u32(optarg, 0, TOP_MAX, &ro.top_n))
				return dt_fe_usage_error(
				    SUB, "--top: a row count (0..%u) expected, found '%s'", TOP_MAX, optarg);
			break;
		case 't':
			if (dt_fe_parse_pct(optarg, &ro.threshold_pct) || ro.threshold_pct > 100)
				return dt_fe_usage_error(
				    SUB, "--threshold: a percentage (0..100) expected, found '%s'", optarg);
			break;
		case 'I':
			ro.inclusive = 1;
			break;
		case 'S':
			sym_flags |= DT_SYM_NO_DEBUG;
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
		return dt_fe_usage_error(SUB, "one or more trace files expected, found none");
	if (load(argv + optind, argc - optind, &t) || load_regions(argv + optind, argc - optind, &regions))
		goto out;
	if (dt_sym_open(t, sym_flags, stderr, &sym) || dt_profile_build(t, sym, &prof)) {
		fprintf(stderr, DT_FE_PROG ": %s: out of memory while building the profile\n", argv[optind]);
		goto out;
	}
	if (out_path && !(out = fopen(out_path, "w"))) {
		fprintf(stderr, DT_FE_PROG ": %s: a writable output file expected, found: %m\n", out_path);
		out = stdout;
		goto out;
	}
	int failed;
	if (regions->n && report == dt_report_json)
		failed = report_json_regions(out, prof, &ro, regions);
	else
		failed = report(out, prof, &ro) ||
			 (report == dt_report_text && dt_regions_report_text(out, regions)) ||
			 (report == dt_report_markdown && dt_regions_report_markdown(out, regions));
	if (failed || fflush(out)) {
		fprintf(stderr, DT_FE_PROG ": %s: the report could not be written completely\n",
			out_path ? out_path : "standard output");
		goto out;
	}
	rc = DT_FE_EXIT_OK;
out:
	if (out != stdout && fclose(out) && rc == DT_FE_EXIT_OK) {
		fprintf(stderr, DT_FE_PROG ": %s: the report could not be written: %m\n", out_path);
		rc = DT_FE_EXIT_USAGE;
	}
	dt_regions_free(regions);
	dt_profile_free(prof);
	dt_sym_close(sym);
	dt_trace_free(t);
	return rc;
}
