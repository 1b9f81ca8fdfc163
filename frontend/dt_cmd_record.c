/* `deiatrace record`: runs one program under the shim, passes its exit status through (128 + N on
 * death by signal N) and says on stderr where the traces went: one summary line per trace (the
 * program's, then those of the processes it forked or exec'd), read back from the trace with the
 * reader. Never changes the program's stdout; its own messages go to stderr only (-q: errors only). */
#define _GNU_SOURCE
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "dt_fe.h"
#include "analyzer/dt_reader.h"
#include "analyzer/dt_report.h"

#define SUB "record"
#define DEFAULT_PATTERN "deiatrace.%n.%p.bin"
#define FREQ_MAX_HZ 10000u     /* the shim's own bound (preload/dt_config.c) */
#define OUTPUT_MAX_BYTES 1000u /* DEIATRACE_OUTPUT holds 1023 bytes; ".%p" is appended */

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: " DT_FE_PROG " " SUB " [OPTIONS] -- PROGRAM [ARGS]\n"
		"       " DT_FE_PROG " PROGRAM [ARGS]\n"
		"Run PROGRAM under the profiler (CPU samples, allocations) and write a trace.\n\n"
		"  -o, --output FILE   trace file (default %s in the current directory;\n"
		"                      %%p pid, %%n program name; without %%p an existing FILE is replaced\n"
		"                      and traces of forked children go to FILE.PID)\n"
		"  -F, --freq HZ       CPU samples per second of CPU time (1..%u, default 1000)\n"
		"      --no-malloc     do not track the malloc family\n"
		"      --no-cpu        do not sample CPU time (no signals): memory and calls only\n"
		"      --no-follow     do not trace forked child processes\n"
		"  -q, --quiet         no summary lines on stderr (errors still)\n"
		"  -h, --help          show this help\n\n"
		"Exit status: the program's (128+N when killed by signal N); 127 when it cannot be\n"
		"found, 126 when it cannot be run, 2 for wrong usage.\n",
		DEFAULT_PATTERN, FREQ_MAX_HZ);
}

#define MAX_CHILD_TRACES 4096u /* a fork bomb's traces are not listed one by one */

/* "deiatrace: trace deiatrace.x.1.bin (12.0 KiB): 810 samples, 1200 allocations (1.1 MiB)". */
static void summarize(const char *path, const struct dt_trace *t, int malloc_off)
{
	struct stat st;
	char size[32], bytes[32];
	uint64_t samples = 0;

	for (uint32_t i = 0; i < t->ncpu; i++)
		samples += t->cpu[i].samples;
	fprintf(stderr, DT_FE_PROG ": trace %s (%s): ", path,
		stat(path, &st) ? "?" : dt_fmt_bytes(size, sizeof(size), (uint64_t)st.st_size));
	if (t->meta[DT_META_SAMPLER] == DT_SAMPLER_OFF)
		fprintf(stderr, "CPU not sampled");
	else
		fprintf(stderr, "%" PRIu64 " samples", samples);
	/* The trace knows: DEIATRACE_MALLOC=off in the environment, or another allocator owning malloc,
	 * turn tracking off as surely as --no-malloc. */
	if (!malloc_off && t->meta[DT_META_MALLOC_TRACKED])
		fprintf(stderr, ", %" PRIu64 " allocations (%s)", t->meta[DT_META_ALLOC_CALLS],
			dt_fmt_bytes(bytes, sizeof(bytes), t->meta[DT_META_ALLOC_BYTES]));
	else
		fprintf(stderr, ", allocations not tracked");
	if (t->partial)
		fprintf(stderr, " [partial: %s]", t->partial_why);
	fprintf(stderr, "\n");
}

/* The program's other traces: images it exec'd (same pid) and the processes it started, i.e. files
 * of the same pattern, written during the run, whose writer is the program's pid or whose parent is
 * the program or one of those processes (a concurrent run's traces in the directory are not ours). */
struct children {
	const char *main_path;
	pid_t main_pid;
	struct timespec since; /* older files are earlier runs' */
	char **paths;
	struct dt_trace **t;
	uint32_t n;
};

static int add_candidate(const char *path, void *ctx)
{
	struct children *c = ctx;
	struct dt_trace *t = NULL;
	char err[DT_READ_ERR_BYTES];

	struct stat st;

	if (strcmp(path, c->main_path) == 0 || c->n >= MAX_CHILD_TRACES)
		return c->n >= MAX_CHILD_TRACES;
	if (stat(path, &st) || st.st_mtim.tv_sec < c->since.tv_sec ||
	    (st.st_mtim.tv_sec == c->since.tv_sec && st.st_mtim.tv_nsec < c->since.tv_nsec))
		return 0;
	if (dt_trace_read_file(path, &t, err, sizeof(err)) != DT_READ_OK)
		return 0; /* not a trace, or one still being written: not ours to judge */
	char **paths = realloc(c->paths, (c->n + 1) * sizeof(*paths));
	struct dt_trace **ts = paths ? realloc(c->t, (c->n + 1) * sizeof(*ts)) : NULL;
	if (paths)
		c->paths = paths;
	if (ts)
		c->t = ts;
	if (!paths || !ts || !(c->paths[c->n] = strdup(path))) {
		dt_trace_free(t);
		return 1;
	}
	c->t[c->n++] = t;
	return 0;
}

static int in_family(const struct children *c, const uint8_t *mine, uint64_t ppid)
{
	if (ppid == (uint64_t)c->main_pid)
		return 1;
	for (uint32_t i = 0; i < c->n; i++)
		if (mine[i] && c->t[i]->meta[DT_META_PID] == ppid)
			return 1;
	return 0;
}

static void summarize_children(const char *pattern, const char *main_path, pid_t pid,
			       const struct timespec *since, int malloc_off)
{
	struct children c = {main_path, pid, *since, NULL, NULL, 0};
	uint8_t *mine;
	int grew = 1;

	if (dt_run_list_traces(pattern, -1, add_candidate, &c) <= 0 || !c.n)
		goto out;
	mine = calloc(c.n, 1);
	if (!mine)
		goto out;
	while (grew) { /* grandchildren name a child as their parent: repeat until nothing joins */
		grew = 0;
		for (uint32_t i = 0; i < c.n; i++)
			if (!mine[i] && (c.t[i]->meta[DT_META_PID] == (uint64_t)pid ||
					 in_family(&c, mine, c.t[i]->meta[DT_META_PPID])))
				mine[i] = grew = 1;
	}
	for (uint32_t i = 0; i < c.n; i++)
		if (mine[i])
			summarize(c.paths[i], c.t[i], malloc_off);
	free(mine);
out:
	for (uint32_t i = 0; i < c.n; i++) {
		free(c.paths[i]);
		dt_trace_free(c.t[i]);
	}
	free(c.paths);
	free(c.t);
}

int dt_cmd_record(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"output", required_argument, NULL, 'o'},
	    {"freq", required_argument, NULL, 'F'},
	    {"no-malloc", no_argument, NULL, 'M'},
	    {"no-cpu", no_argument, NULL, 'C'},
	    {"no-follow", no_argument, NULL, 'N'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct dt_run_opts ro = {0};
	struct dt_run_result rr;
	const char *out_file = NULL;
	char shim[PATH_MAX], pattern[PATH_MAX], found[PATH_MAX], err[DT_FE_ERR_BYTES];
	int c, rename_to_out = 0, quiet = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+o:F:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			if (!*optarg || strlen(optarg) > OUTPUT_MAX_BYTES)
				return dt_fe_usage_error(
				    SUB, "--output: a file name of 1..%u bytes expected, found '%s'",
				    OUTPUT_MAX_BYTES, optarg);
			out_file = optarg;
			break;
		case 'F':
			if (dt_fe_parse_u32(optarg, 1, FREQ_MAX_HZ, &ro.freq_hz))
				return dt_fe_usage_error(SUB,
							 "--freq: a rate in Hz (1..%u) expected, found '%s'",
							 FREQ_MAX_HZ, optarg);
			break;
		case 'M':
			ro.no_malloc = 1;
			break;
		case 'C':
			ro.no_cpu = 1;
			break;
		case 'N':
			ro.no_follow = 1;
			break;
		case 'q':
			quiet = 1;
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
		return dt_fe_usage_error(SUB, "a program to run expected after the options, found none "
					      "(e.g. '" DT_FE_PROG " " SUB " -- ./myprog ARGS')");
	if (dt_run_find_shim(shim, sizeof(shim), err, sizeof(err))) {
		fprintf(stderr, DT_FE_PROG ": %s\n", err);
		return DT_FE_EXIT_USAGE;
	}
	ro.argv = argv + optind;
	ro.shim = shim;
	if (out_file && !strchr(out_file, '%')) {
		/* The shim never overwrites and a forked child may finish first: every process writes
		 * FILE.PID and the program's own trace is renamed to FILE afterwards. */
		snprintf(pattern, sizeof(pattern), "%s.%%p", out_file);
		rename_to_out = 1;
	} else {
		const char *env = getenv("DEIATRACE_OUTPUT");
		snprintf(pattern, sizeof(pattern), "%s",
			 out_file      ? out_file
			 : env && *env ? env
				       : DEFAULT_PATTERN);
	}
	ro.output = pattern;

	struct timespec since;
	clock_gettime(CLOCK_REALTIME, &since); /* the clock file times are stamped with */
	since.tv_sec -= 1;		       /* file systems with coarse timestamps round down */
	int started = dt_run(&ro, &rr, err, sizeof(err)) == 0;
	if (!started) {
		fprintf(stderr, DT_FE_PROG ": %s (%s)\n", err,
			rr.exit_code == DT_FE_EXIT_NOEXEC ? "check the program's name and PATH"
							  : "check the file is an executable");
		return rr.exit_code;
	}
	if (dt_run_find_trace(pattern, rr.pid, found, sizeof(found)) == 0) {
		if (rename_to_out) {
			if (rename(found, out_file) == 0)
				snprintf(found, sizeof(found), "%s", out_file);
			else
				fprintf(stderr,
					DT_FE_PROG ": %s: could not be renamed to %s: %m (the trace is "
						   "kept under its first name)\n",
					found, out_file);
		}
		struct dt_trace *t = NULL;
		char rerr[DT_READ_ERR_BYTES];
		int st = dt_trace_read_file(found, &t, rerr, sizeof(rerr));
		if (st != DT_READ_OK)
			fprintf(stderr, DT_FE_PROG ": %s: %s (%s)\n", found, rerr, dt_read_status_advice(st));
		else if (!quiet)
			summarize(found, t, ro.no_malloc);
		dt_trace_free(t);
		if (!quiet && !ro.no_follow)
			summarize_children(pattern, found, rr.pid, &since, ro.no_malloc);
	} else {
		fprintf(stderr, DT_FE_PROG ": no trace from %s (pid %d) matching %s: %s\n", ro.argv[0],
			(int)rr.pid, pattern,
			rr.exit_code > DT_FE_SIGNAL_BASE
			    ? "it was killed before the profiler could write"
			    : "it may have ended with _exit or be statically linked; see the messages above");
	}
	return rr.exit_code;
}
