/* The command-line options every reporting command shares (deiatrace-analyze, deiatrace report,
 * deiatrace diff): one table of options with their help, one parser, one colour decision, the
 * progress line, and the read -> symbolize -> profile -> report pipeline both front ends run. */
#ifndef DT_CLI_H
#define DT_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "dt_diff.h"
#include "dt_reader.h"
#include "dt_report.h"

#define DT_CLI_EXIT_OK 0
#define DT_CLI_EXIT_USAGE 2 /* wrong usage or bad input, for every command */

/* Option groups; a command accepts the groups it names. -q/--quiet and -h/--help are always there. */
enum dt_cli_group {
	DT_CLI_OUTPUT = 1u << 0,   /* -f -o -n --no-symbols */
	DT_CLI_PROFILE = 1u << 1,  /* -t --inclusive --no-hints --hint --metric --color */
	DT_CLI_DIFF = 1u << 2,	   /* --noise --fail-if-slower --function --region */
	DT_CLI_BASELINE = 1u << 3, /* -b/--baseline: deiatrace-analyze's diff mode */
	DT_CLI_VERSION = 1u << 4,  /* -V/--version */
};

enum dt_color_mode { DT_COLOR_AUTO, DT_COLOR_ALWAYS, DT_COLOR_NEVER };

/* The progress line of a long analysis: drawn on stderr only when stderr is a terminal and not
 * --quiet, at most every DT_CLI_PROGRESS_INTERVAL_NS, erased when done. */
#define DT_CLI_PROGRESS_INTERVAL_NS 100000000ull
#define DT_CLI_PROGRESS_DELAY_NS 300000000ull /* nothing is drawn for analyses shorter than this */
struct dt_cli_progress {
	const char *prog;
	int enabled, drawn;
	uint64_t start_ns, last_ns;
};
void dt_cli_progress_init(struct dt_cli_progress *p, const char *prog, int quiet);
void dt_cli_progress(void *ctx, const char *what, uint64_t done, uint64_t total); /* dt_progress_fn */

struct dt_cli {
	const char *prog;  /* for runtime messages: "deiatrace" or "deiatrace-analyze" */
	const char *usage; /* for usage errors and the --help hint: "deiatrace report" */
	unsigned groups;

	struct dt_report_opts ro;
	dt_report_fn report; /* -f; text by default */
	const char *format;  /* its name */
	const char *output;  /* -o; NULL: standard output */
	unsigned sym_flags;  /* DT_SYM_* */
	enum dt_color_mode color;
	int quiet;

	const char *baseline; /* -b */
	double noise_pct;
	double fail_if_slower_pct; /* < 0: no gate */
	const char *gate_function, *region;

	struct dt_cli_progress progress; /* for the diff's two profiles */
	int help, version;		 /* asked for; the caller prints them */
	char **args;			 /* the operands */
	int nargs;
};

void dt_cli_init(struct dt_cli *c, const char *prog, const char *usage, unsigned groups);
/* Parses argv[1..argc). 0, or DT_CLI_EXIT_USAGE after printing what was wrong and the --help hint. */
int dt_cli_parse(struct dt_cli *c, int argc, char **argv);
/* The help lines of the options in `groups`, from the same table the parser reads. */
void dt_cli_print_options(FILE *out, unsigned groups);
/* "USAGE: message" and "Try 'USAGE --help'." on stderr; returns DT_CLI_EXIT_USAGE. */
int dt_cli_usage_error(const struct dt_cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Informational line on stderr ("PROG: ..."), unless --quiet. Errors never go through here. */
void dt_cli_info(const struct dt_cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Whether text written to `out` gets ANSI colour: always / never, or for auto a terminal and no
 * NO_COLOR in the environment (https://no-color.org: present and not empty). */
int dt_cli_color_enabled(enum dt_color_mode m, FILE *out);

/* The diff options (dt_diff_run) from the parsed command line; o points into c (progress). */
void dt_cli_diff_opts(struct dt_cli *c, struct dt_diff_opts *o);

/* Symbolizes t, builds the profile and writes the report chosen on the command line (to -o or
 * standard output). Returns the exit status: 0, or 2 after printing what went wrong. */
int dt_cli_run_report(const struct dt_cli *c, const struct dt_trace *t);

#endif
