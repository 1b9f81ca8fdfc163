/* deiatrace-analyze: parses options and wires reader -> symbolizer -> profile -> reporter.
 * No analysis or formatting lives here. Exit status: 0 ok, 2 bad input or usage. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dt_bottleneck.h"
#include "dt_diff.h"
#include "dt_hints.h"
#include "dt_profile.h"
#include "dt_reader.h"
#include "dt_report.h"
#include "dt_symbolize.h"

#define PROG "deiatrace-analyze"
#define EXIT_OK 0
#define EXIT_BAD_INPUT 2
#define TOP_MAX 1000000u

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: " PROG " [OPTIONS] TRACE\n"
		"Report a deiatrace trace (deiatrace.PROG.PID.bin): CPU time per function, bottlenecks,\n"
		"callers and callees, memory.\n\n"
		"  -f, --format FMT      text (default), json, markdown or folded\n"
		"  -o, --output FILE     write the report to FILE instead of standard output\n"
		"  -n, --top N           rows in the functions table (default %u)\n"
		"  -t, --threshold PCT   bottleneck threshold, percent of samples (default %.0f)\n"
		"      --inclusive       bottlenecks by total (inclusive) time instead of self time\n"
		"      --no-symbols      do not read binaries; show module+offset\n"
		"  -b, --baseline BASE   compare trace BASE (baseline) with TRACE (optimized) instead\n"
		"      --fail-if-slower PCT  with --baseline: exit 1 when total CPU time grew by > PCT%%\n"
		"      --function NAME   with --fail-if-slower: gate on NAME's inclusive CPU time\n"
		"      --no-hints        leave out the optimization hints\n"
		"      --hint RULE.PARAM=VALUE\n"
		"                        set a hint threshold (repeatable; parameters below)\n"
		"  -h, --help            show this help\n"
		"  -V, --version         show the version\n",
		DT_REPORT_DEFAULT_TOP, DT_BOTTLENECK_DEFAULT_PCT);
	fputs("\nHint parameters (--hint RULE.PARAM=VALUE):\n", out);
	dt_hint_config_print(out, "  ");
	fputs("\nExit status: 0 ok, 1 the --fail-if-slower gate fired, 2 bad input or usage.\n", out);
}

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, PROG ": ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry '" PROG " --help'.\n");
	return EXIT_BAD_INPUT;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"format", required_argument, NULL, 'f'},
	    {"output", required_argument, NULL, 'o'},
	    {"top", required_argument, NULL, 'n'},
	    {"threshold", required_argument, NULL, 't'},
	    {"inclusive", no_argument, NULL, 'I'},
	    {"no-symbols", no_argument, NULL, 'S'},
	    {"baseline", required_argument, NULL, 'b'},
	    {"fail-if-slower", required_argument, NULL, 'G'},
	    {"function", required_argument, NULL, 'U'},
	    {"no-hints", no_argument, NULL, 'H'},
	    {"hint", required_argument, NULL, 'P'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	struct dt_report_opts ro;
	dt_report_fn report = dt_report_text;
	const char *out_path = NULL, *trace_path;
	unsigned sym_flags = 0;
	struct dt_trace *t = NULL;
	struct dt_symbolizer *sym = NULL;
	struct dt_profile *prof = NULL;
	FILE *out = stdout;
	char err[DT_READ_ERR_BYTES];
	int c, rc = EXIT_BAD_INPUT;
	const char *baseline = NULL, *gate_fn = NULL; /* --baseline: the diff command instead */
	double gate_pct = -1;

	dt_report_opts_default(&ro);
	while ((c = getopt_long(argc, argv, "f:o:n:t:b:hV", longopts, NULL)) != -1) {
		char *end;

		switch (c) {
		case 'f':
			report = dt_report_find(optarg);
			if (!report)
				return usage_error(
				    "--format: text, json, markdown or folded expected, found '%s'", optarg);
			break;
		case 'o':
			out_path = optarg;
			break;
		case 'n': {
			errno = 0;
			unsigned long v = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || optarg[0] == '-' || v > TOP_MAX)
				return usage_error("--top: a row count (0..1000000) expected, found '%s'",
						   optarg);
			ro.top_n = (uint32_t)v;
			break;
		}
		case 't':
			errno = 0;
			ro.threshold_pct = strtod(optarg, &end);
			if (errno || end == optarg || *end ||
			    !(ro.threshold_pct >= 0 && ro.threshold_pct <= 100))
				return usage_error("--threshold: a percentage (0..100) expected, found '%s'",
						   optarg);
			break;
		case 'I':
			ro.inclusive = 1;
			break;
		case 'S':
			sym_flags |= DT_SYM_NO_DEBUG;
			break;
		case 'H':
			ro.hints.enabled = 0;
			break;
		case 'P':
			if (dt_hint_config_set(&ro.hints, optarg, err, sizeof(err)))
				return usage_error("--hint: %s", err);
			break;
		case 'b':
			baseline = optarg;
			break;
		case 'G':
			errno = 0;
			gate_pct = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(gate_pct >= 0))
				return usage_error("--fail-if-slower: a percentage expected, found '%s'", optarg);
			break;
		case 'U':
			gate_fn = optarg;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case 'V':
			printf(PROG " " DT_VERSION "\n");
			return EXIT_OK;
		default:
			fprintf(stderr, "Try '" PROG " --help'.\n");
			return EXIT_BAD_INPUT;
		}
	}
	if (optind != argc - 1)
		return usage_error("one trace file expected, found %s",
				   optind >= argc ? "none" : "several arguments");
	trace_path = argv[optind];
	if (!baseline && (gate_pct >= 0 || gate_fn))
		return usage_error("--fail-if-slower/--function: --baseline BASE expected with them, found %s",
				   "none");
	if (baseline) {
		struct dt_diff_opts dopts;

		dt_diff_opts_default(&dopts, PROG);
		dopts.format = dt_report_name(report);
		dopts.output = out_path;
		dopts.top_n = ro.top_n;
		dopts.sym_flags = sym_flags;
		dopts.fail_if_slower_pct = gate_pct;
		dopts.gate_function = gate_fn;
		if (gate_fn && gate_pct < 0)
			return usage_error("--function: --fail-if-slower PCT expected with it, found %s", "none");
		return dt_diff_run(baseline, trace_path, &dopts);
	}

	if (dt_trace_read_file(trace_path, &t, err, sizeof(err)) != DT_READ_OK) {
		fprintf(stderr, PROG ": %s: %s\n", trace_path, err);
		goto out;
	}
	if (t->partial)
		fprintf(stderr, PROG ": warning: %s: partial trace: %s\n", trace_path, t->partial_why);
	if (dt_sym_open(t, sym_flags, stderr, &sym) || dt_profile_build(t, sym, &prof)) {
		fprintf(stderr, PROG ": %s: out of memory while building the profile\n", trace_path);
		goto out;
	}
	if (out_path) {
		out = fopen(out_path, "w");
		if (!out) {
			fprintf(stderr, PROG ": %s: a writable output file expected, found: %s\n", out_path,
				strerror(errno));
			out = stdout;
			goto out;
		}
	}
	if (report(out, prof, &ro) || fflush(out)) {
		fprintf(stderr, PROG ": %s: the report could not be written completely\n",
			out_path ? out_path : "standard output");
		goto out;
	}
	rc = EXIT_OK;
out:
	if (out != stdout && fclose(out) && rc == EXIT_OK) {
		fprintf(stderr, PROG ": %s: the report could not be written: %s\n", out_path,
			strerror(errno));
		rc = EXIT_BAD_INPUT;
	}
	dt_profile_free(prof);
	dt_sym_close(sym);
	dt_trace_free(t);
	return rc;
}
