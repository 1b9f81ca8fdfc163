/* deiatrace: the front end. Dispatches to record, report, diff and bench (one file each); a first
 * argument that is no subcommand is a program to record. Owns only dispatch and shared helpers;
 * exit status 2 for wrong usage everywhere. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dt_fe.h"

static const struct {
	const char *name;
	int (*fn)(int, char **);
	const char *help;
} commands[] = {
    {"record", dt_cmd_record, "run a program under the profiler and write a trace"},
    {"report", dt_cmd_report, "report one trace, or several runs of one program merged"},
    {"diff", dt_cmd_diff, "compare a baseline trace with an optimized one; gate CI on it"},
    {"bench", dt_cmd_bench, "time N runs (and compare with another command)"},
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *out)
{
	fprintf(out, "Usage: " DT_FE_PROG " COMMAND [OPTIONS] [ARGS]\n"
		     "       " DT_FE_PROG " PROGRAM [ARGS]      (same as: " DT_FE_PROG
		     " record -- PROGRAM ARGS)\n\n"
		     "Commands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].help);
	fprintf(out, "\n'" DT_FE_PROG " COMMAND --help' describes a command.\n"
		     "  -h, --help      show this help\n"
		     "  -V, --version   show the version\n\n"
		     "Exit status: the program's for record; 0 ok, 1 failed gate or run, 2 wrong usage.\n");
}

int dt_fe_usage_error(const char *sub, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, DT_FE_PROG "%s%s: ", sub ? " " : "", sub ? sub : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '" DT_FE_PROG "%s%s --help'.\n", sub ? " " : "", sub ? sub : "");
	return DT_FE_EXIT_USAGE;
}

void dt_fe_info(int quiet, const char *fmt, ...)
{
	va_list ap;

	if (quiet)
		return;
	fputs(DT_FE_PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int dt_fe_parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-' || *s == '+')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

#define PCT_MAX 1e6

int dt_fe_parse_pct(const char *s, double *out)
{
	char *end;
	double v;

	if (!s || !*s)
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !(v >= 0 && v <= PCT_MAX))
		return -1;
	*out = v;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return DT_FE_EXIT_USAGE;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return DT_FE_EXIT_OK;
	}
	if (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "--version") == 0) {
		printf(DT_FE_PROG " " DT_VERSION "\n");
		return DT_FE_EXIT_OK;
	}
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(argc - 1, argv + 1);
	if (strcmp(argv[1], "--") == 0 || argv[1][0] == '-')
		return dt_fe_usage_error(
		    NULL, "a command (record, report, diff, bench) or a program expected, found '%s'",
		    argv[1]);
	/* Shorthand: deiatrace PROG ARGS. record's parser sees "record -- PROG ARGS". */
	char **rargv = calloc((size_t)argc + 2, sizeof(*rargv));
	if (!rargv) {
		fprintf(stderr, DT_FE_PROG ": out of memory (free some memory and try again)\n");
		return DT_FE_EXIT_USAGE;
	}
	rargv[0] = "record";
	rargv[1] = "--";
	for (int i = 1; i < argc; i++)
		rargv[i + 1] = argv[i];
	int rc = dt_cmd_record(argc + 1, rargv);
	free(rargv);
	return rc;
}
