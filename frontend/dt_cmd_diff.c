/* `deiatrace diff BASELINE OPTIMIZED`: options (the shared analyzer/dt_cli.c table) only; the
 * comparison, the reports and the gate are analyzer/dt_diff.c's (shared with deiatrace-analyze
 * --baseline), bench results dt_bench_diff.c's. Exit 0, 1 (gate fired), 2. */
#include <stdio.h>

#include "analyzer/dt_cli.h"
#include "analyzer/dt_diff.h"
#include "dt_bench_diff.h"
#include "dt_fe.h"

#define SUB "diff"
#define GROUPS (DT_CLI_OUTPUT | DT_CLI_DIFF)

static void usage(FILE *out)
{
	fputs("Usage: " DT_FE_PROG " " SUB " [OPTIONS] BASELINE.bin OPTIMIZED.bin\n"
	      "       " DT_FE_PROG " " SUB
	      " [OPTIONS] BASELINE.json OPTIMIZED.json   (bench -f json results)\n"
	      "Compare two traces: total and per-function CPU time, calls and memory, functions that\n"
	      "appeared or vanished, named regions, and a verdict (faster, slower, no significant change)\n"
	      "on total CPU time, or with --region NAME on that region's wall time.\n"
	      "Two bench results compare their means with the 95% interval of each ratio; the gate\n"
	      "then fires on a significant rise of the mean wall time.\n\n",
	      out);
	dt_cli_print_options(out, GROUPS);
	fputs("\nExit status: 0 ok, 1 the --fail-if-slower gate fired, 2 bad input or usage.\n", out);
}

int dt_cmd_diff(int argc, char **argv)
{
	struct dt_cli c;
	struct dt_diff_opts o;
	int rc;

	dt_cli_init(&c, DT_FE_PROG, DT_FE_PROG " " SUB, GROUPS);
	if ((rc = dt_cli_parse(&c, argc, argv)))
		return rc;
	if (c.help) {
		usage(stdout);
		return DT_FE_EXIT_OK;
	}
	if (c.nargs != 2)
		return dt_cli_usage_error(&c, "two trace files (baseline, optimized) expected, found %d",
					  c.nargs);
	dt_cli_diff_opts(&c, &o);
	if (dt_bench_diff_is_json(c.args[0]) && dt_bench_diff_is_json(c.args[1]))
		return dt_bench_diff_run(c.args[0], c.args[1], &o);
	return dt_diff_run(c.args[0], c.args[1], &o);
}
