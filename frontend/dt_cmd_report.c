/* `deiatrace report FILE...`: the analyzer's report; several traces of one program are merged
 * first (analyzer/dt_merge.c) so the ordinary profile and reporters see one trace, named regions
 * included. Owns only the loading; the options and the pipeline are analyzer/dt_cli.c's, shared
 * with deiatrace-analyze. Exit status 0, or 2 for bad input or usage. */
#include <stdio.h>
#include <stdlib.h>

#include "analyzer/dt_cli.h"
#include "analyzer/dt_merge.h"
#include "analyzer/dt_reader.h"
#include "dt_fe.h"

#define SUB "report"
#define GROUPS (DT_CLI_OUTPUT | DT_CLI_PROFILE)

static void usage(FILE *out)
{
	fputs("Usage: " DT_FE_PROG " " SUB " [OPTIONS] TRACE...\n"
	      "Report a trace: CPU time per function, bottlenecks, callers and callees, memory, named\n"
	      "regions. Several traces of the same program are merged into one report (samples, calls,\n"
	      "bytes and region times summed; peaks are the largest run's).\n\n",
	      out);
	dt_cli_print_options(out, GROUPS);
	fputs("\nExit status: 0 ok, 2 bad input or usage.\n", out);
}

/* Reads every trace and merges them when there are several. 0, or -1 after printing why. */
static int load(const struct dt_cli *c, char **paths, int n, struct dt_trace **out)
{
	struct dt_trace **t = calloc((size_t)n, sizeof(*t));
	char err[DT_READ_ERR_BYTES];
	int rc = -1;

	*out = NULL;
	if (!t) {
		fprintf(stderr, DT_FE_PROG ": out of memory (report fewer traces at once)\n");
		return -1;
	}
	for (int i = 0; i < n; i++) {
		int st = dt_trace_read_file(paths[i], &t[i], err, sizeof(err));
		if (st != DT_READ_OK) {
			fprintf(stderr, DT_FE_PROG ": %s: %s (%s)\n", paths[i], err,
				dt_read_status_advice(st));
			goto out;
		}
		if (t[i]->partial)
			fprintf(stderr, DT_FE_PROG ": warning: %s: partial trace: %s\n", paths[i],
				t[i]->partial_why);
		if (i > 0 && !dt_merge_same_program(t[0], t[i])) {
			fprintf(stderr,
				DT_FE_PROG ": %s: a trace of %s (as in %s) expected, found one of %s (report "
					   "each program's traces separately)\n",
				paths[i], t[0]->exe ? t[0]->exe : "?", paths[0], t[i]->exe ? t[i]->exe : "?");
			goto out;
		}
	}
	if (n == 1) {
		*out = t[0];
		t[0] = NULL;
	} else if (dt_trace_merge(t, (size_t)n, out, err, sizeof(err)) != DT_READ_OK) {
		fprintf(stderr, DT_FE_PROG ": %s: %s (report fewer traces at once)\n", paths[0], err);
		goto out;
	} else {
		dt_cli_info(c, "merged %d runs of %s", n, (*out)->exe ? (*out)->exe : "?");
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
	struct dt_cli c;
	struct dt_trace *t = NULL;
	int rc;

	dt_cli_init(&c, DT_FE_PROG, DT_FE_PROG " " SUB, GROUPS);
	if ((rc = dt_cli_parse(&c, argc, argv)))
		return rc;
	if (c.help) {
		usage(stdout);
		return DT_FE_EXIT_OK;
	}
	if (c.nargs < 1)
		return dt_cli_usage_error(&c, "one or more trace files expected, found none (record one "
					      "with '" DT_FE_PROG " record -- PROGRAM')");
	if (load(&c, c.args, c.nargs, &t))
		return DT_FE_EXIT_USAGE;
	rc = dt_cli_run_report(&c, t);
	dt_trace_free(t);
	return rc;
}
