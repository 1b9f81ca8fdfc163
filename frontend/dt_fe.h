/* The deiatrace front end's internal interface: one function per subcommand, and the runner that
 * starts a program (optionally under the shim) and measures it with wait4. */
#ifndef DT_FE_H
#define DT_FE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#define DT_FE_PROG "deiatrace"
#define DT_FE_EXIT_OK 0
#define DT_FE_EXIT_FAIL 1     /* a failed gate, or a benchmarked run that failed */
#define DT_FE_EXIT_USAGE 2    /* wrong usage or bad input */
#define DT_FE_EXIT_NOEXEC 127 /* the program could not be started (as a shell says) */
#define DT_FE_SIGNAL_BASE 128 /* death by signal N exits 128 + N, as a shell does */
#define DT_FE_ERR_BYTES 512u

int dt_cmd_record(int argc, char **argv);
int dt_cmd_report(int argc, char **argv);
int dt_cmd_diff(int argc, char **argv);
int dt_cmd_bench(int argc, char **argv);

/* Prints "deiatrace SUB: message" and the --help hint to stderr; returns DT_FE_EXIT_USAGE. */
int dt_fe_usage_error(const char *sub, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Parses a decimal in [min, max]; 0 or -1. */
int dt_fe_parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out);
int dt_fe_parse_pct(const char *s, double *out); /* 0..1e6 percent */
/* An informational line "deiatrace: ..." on stderr unless quiet (errors never go through here). */
void dt_fe_info(int quiet, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- running a program (dt_run.c) */
struct dt_run_opts {
	char *const *argv;  /* argv[0] is looked up in PATH */
	const char *shim;   /* NULL: run untraced; else the absolute path of libdeiatrace.so */
	const char *output; /* DEIATRACE_OUTPUT pattern, NULL: the shim's default */
	uint32_t freq_hz;   /* 0: the shim's default */
	int no_malloc, no_cpu, no_follow;
	int quiet; /* stdout and stderr of the program go to /dev/null */
};

struct dt_run_result {
	pid_t pid;
	int status;    /* as wait4 returned it */
	int exit_code; /* exit status, or 128 + signal */
	double wall_s; /* fork to reaped */
	double user_s, sys_s;
	uint64_t max_rss_bytes;
};

/* Finds libdeiatrace.so next to this executable (build tree) or in ../lib/deiatrace/ (installed).
 * 0 and path filled, or -1 with err. */
int dt_run_find_shim(char *path, size_t len, char *err, size_t errlen);
/* Runs the program to completion. 0 (whatever its exit status), or -1 with err when it could not
 * be started; result->exit_code is then 126 or 127. */
int dt_run(const struct dt_run_opts *o, struct dt_run_result *r, char *err, size_t errlen);
/* Expands %p (pid) and %% of a DEIATRACE_OUTPUT pattern and finds the file it produced, with %n
 * matching any program name. 0 and path filled, or -1 when there is none. */
int dt_run_find_trace(const char *pattern, pid_t pid, char *path, size_t len);
/* Calls fn for every file the pattern produced for pid (pid < 0: any pid) until fn returns non-zero.
 * The number of files seen, or -1 when the directory cannot be searched. */
int dt_run_list_traces(const char *pattern, pid_t pid, int (*fn)(const char *path, void *ctx), void *ctx);

#endif
