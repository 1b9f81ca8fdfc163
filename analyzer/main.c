/* deiatrace-analyze: wires the shared command line (dt_cli) to reader -> symbolizer -> profile ->
 * reporter, or to the diff with --baseline. No option parsing, analysis or formatting lives here.
 * Exit status: 0 ok, 1 a --fail-if-slower gate fired, 2 bad input or usage. */
#include <stdio.h>

#include "dt_cli.h"
#include "dt_diff.h"
#include "dt_hints.h"
#include "dt_reader.h"

#define PROG "deiatrace-analyze"
#define GROUPS (DT_CLI_OUTPUT | DT_CLI_PROFILE | DT_CLI_DIFF | DT_CLI_BASELINE | DT_CLI_VERSION)

static void usage(FILE *out)
{
	fputs("Usage: " PROG " [OPTIONS] TRACE\n"
	      "       " PROG " --baseline BASE [--region NAME] [--fail-if-slower PCT] TRACE\n"
	      "Report a deiatrace trace (deiatrace.PROG.PID.bin): CPU time per function, bottlenecks,\n"
	      "callers and callees, memory, named regions. With --baseline, compare BASE with TRACE.\n\n",
	      out);
	dt_cli_print_options(out, GROUPS);
	fputs("\nHint parameters (--hint RULE.PARAM=VALUE):\n", out);
	dt_hint_config_print(out, "  ");
	fputs("\nExit status: 0 ok, 1 the --fail-if-slower gate fired, 2 bad input or usage.\n", out);
}

int main(int argc, char **argv)
{
	struct dt_cli c;
	struct dt_trace *t = NULL;
	char err[DT_READ_ERR_BYTES];
	int rc;

	dt_cli_init(&c, PROG, PROG, GROUPS);
	if ((rc = dt_cli_parse(&c, argc, argv)))
		return rc;
	if (c.help) {
		usage(stdout);
		return DT_CLI_EXIT_OK;
	}
	if (c.version) {
		printf(PROG " " DT_VERSION "\n");
		return DT_CLI_EXIT_OK;
	}
	if (c.nargs != 1)
		return dt_cli_usage_error(&c, "one trace file expected, found %s",
					  c.nargs == 0 ? "none" : "several arguments");
	if (c.baseline) {
		struct dt_diff_opts d;

		dt_cli_diff_opts(&c, &d);
		return dt_diff_run(c.baseline, c.args[0], &d);
	}
	rc = dt_trace_read_file(c.args[0], &t, err, sizeof(err));
	if (rc != DT_READ_OK) {
		fprintf(stderr, PROG ": %s: %s (%s)\n", c.args[0], err, dt_read_status_advice(rc));
		return DT_CLI_EXIT_USAGE;
	}
	if (t->partial)
		fprintf(stderr, PROG ": warning: %s: partial trace: %s\n", c.args[0], t->partial_why);
	rc = dt_cli_run_report(&c, t);
	dt_trace_free(t);
	return rc;
}
