/* `deiatrace diff BASELINE OPTIMIZED`: options only; the comparison, the reports and the gate are
 * analyzer/dt_diff.c's (shared with deiatrace-analyze --baseline). Exit 0, 1 (gate fired), 2. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "analyzer/dt_diff.h"
#include "analyzer/dt_report.h"
#include "analyzer/dt_symbolize.h"
#include "dt_bench_diff.h"
#include "dt_fe.h"

#define SUB "diff"
#define TOP_MAX 1000000u

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: " DT_FE_PROG " " SUB " [OPTIONS] BASELINE.bin OPTIMIZED.bin\n"
		"       " DT_FE_PROG " " SUB
		" [OPTIONS] BASELINE.json OPTIMIZED.json   (bench -f json results)\n"
		"Compare two traces: total and per-function CPU time, calls and memory, functions that\n"
		"appeared or vanished, and a verdict (faster, slower, no significant change).\n"
		"Two bench results compare their means with the 95%% interval of each ratio; the gate\n"
		"then fires on a significant rise of the mean wall time.\n\n"
		"  -f, --format FMT          text (default), markdown or json\n"
		"  -o, --output FILE         write the report to FILE instead of standard output\n"
		"  -n, --top N               functions listed in text/markdown (default %u, 0 = all)\n"
		"      --noise PCT           total CPU changes within +-PCT are no change (default %.0f)\n"
		"      --fail-if-slower PCT  exit 1 when total CPU time grew by more than PCT percent\n"
		"      --function NAME       ... or, with --fail-if-slower, when NAME's inclusive time did\n"
		"      --region NAME         ... or when the named region's wall time did\n"
		"      --no-symbols          do not read binaries; show module+offset\n"
		"  -h, --help                show this help\n\n"
		"Exit status: 0 ok, 1 the --fail-if-slower gate fired, 2 bad input or usage.\n",
		DT_REPORT_DEFAULT_TOP, DT_DIFF_NOISE_PCT);
}

int dt_cmd_diff(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"format", required_argument, NULL, 'f'},
	    {"output", required_argument, NULL, 'o'},
	    {"top", required_argument, NULL, 'n'},
	    {"noise", required_argument, NULL, 'z'},
	    {"fail-if-slower", required_argument, NULL, 'g'},
	    {"function", required_argument, NULL, 'F'},
	    {"region", required_argument, NULL, 'R'},
	    {"no-symbols", no_argument, NULL, 'S'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct dt_diff_opts o;
	int c;

	dt_diff_opts_default(&o, DT_FE_PROG);
	optind = 1;
	while ((c = getopt_long(argc, argv, "f:o:n:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (strcmp(optarg, "text") && strcmp(optarg, "markdown") && strcmp(optarg, "json"))
				return dt_fe_usage_error(
				    SUB, "--format: text, markdown or json expected, found '%s'", optarg);
			o.format = optarg;
			break;
		case 'o':
			o.output = optarg;
			break;
		case 'n':
			if (dt_fe_parse_u32(optarg, 0, TOP_MAX, &o.top_n))
				return dt_fe_usage_error(
				    SUB, "--top: a row count (0..%u) expected, found '%s'", TOP_MAX, optarg);
			break;
		case 'z':
			if (dt_fe_parse_pct(optarg, &o.noise_pct))
				return dt_fe_usage_error(SUB, "--noise: a percentage expected, found '%s'",
							 optarg);
			break;
		case 'g':
			if (dt_fe_parse_pct(optarg, &o.fail_if_slower_pct))
				return dt_fe_usage_error(
				    SUB, "--fail-if-slower: a percentage expected, found '%s'", optarg);
			break;
		case 'F':
			o.gate_function = optarg;
			break;
		case 'R':
			o.gate_region = optarg;
			break;
		case 'S':
			o.sym_flags |= DT_SYM_NO_DEBUG;
			break;
		case 'h':
			usage(stdout);
			return DT_FE_EXIT_OK;
		default:
			fprintf(stderr, "Try '" DT_FE_PROG " " SUB " --help'.\n");
			return DT_FE_EXIT_USAGE;
		}
	}
	if (argc - optind != 2)
		return dt_fe_usage_error(SUB, "two trace files (baseline, optimized) expected, found %d",
					 argc - optind);
	if ((o.gate_function || o.gate_region) && o.fail_if_slower_pct < 0)
		return dt_fe_usage_error(
		    SUB, "--function/--region: --fail-if-slower PCT expected with it, found none");
	if (o.gate_function && o.gate_region)
		return dt_fe_usage_error(SUB, "--function or --region expected, found both");
	if (dt_bench_diff_is_json(argv[optind]) && dt_bench_diff_is_json(argv[optind + 1]))
		return dt_bench_diff_run(argv[optind], argv[optind + 1], &o);
	return dt_diff_run(argv[optind], argv[optind + 1], &o);
}
