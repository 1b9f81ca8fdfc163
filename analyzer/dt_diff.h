/* Comparing two profiles (baseline vs optimized): per-function and total deltas of CPU time, calls
 * and memory, functions that appeared or vanished, a verdict, and the CI gate (--fail-if-slower). */
#ifndef DT_DIFF_H
#define DT_DIFF_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "dt_profile.h"
#include "dt_regions.h"

#define DT_DIFF_NOISE_PCT 5.0 /* total CPU changes within +-this are "no significant change" */
#define DT_DIFF_NO_PCT NAN    /* change_pct when the baseline value is 0 */

enum dt_diff_presence { DT_DIFF_BOTH, DT_DIFF_APPEARED, DT_DIFF_VANISHED };
enum dt_diff_verdict { DT_DIFF_SAME, DT_DIFF_FASTER, DT_DIFF_SLOWER };

/* One compared quantity. change_pct = (optimized - baseline) / baseline * 100, NaN when baseline is 0;
 * known is 0 when neither side measured it (calls without -finstrument-functions). */
struct dt_delta {
	double baseline, optimized, change_pct;
	int known;
};

/* One function, matched by name across the two profiles (copies in several modules are summed). */
struct dt_diff_fn {
	const char *name; /* owned by a profile's symbolizer */
	const char *module;
	enum dt_diff_presence presence;
	struct dt_delta self_s, total_s; /* CPU seconds the samples stand for; total is inclusive */
	struct dt_delta calls;
	struct dt_delta alloc_calls, alloc_bytes; /* self */
};

/* One named region (include/deiatrace.h), matched by name. */
struct dt_diff_region {
	const char *name; /* owned by the dt_regions it came from */
	enum dt_diff_presence presence;
	struct dt_delta count, wall_s, cpu_s, alloc_calls, alloc_bytes;
	struct dt_delta peak_live_bytes; /* unknown unless both traces recorded it */
};

struct dt_diff {
	const char *baseline_name, *optimized_name; /* the trace paths, as given */
	const char *program;
	struct dt_delta cpu_s;	   /* user + sys of the process (rusage), else sampled CPU */
	const char *cpu_source;	   /* "rusage" or "samples" */
	struct dt_delta sampled_s; /* CPU time the samples stand for */
	struct dt_delta wall_s;
	struct dt_delta alloc_calls, alloc_bytes, heap_peak_bytes, rss_peak_bytes;
	int has_alloc;
	double noise_pct;
	enum dt_diff_verdict verdict;	    /* on cpu_s, or on focus->wall_s with a focus region */
	const struct dt_diff_region *focus; /* --region: the region that is the unit of the diff */
	struct dt_diff_fn *fns;		    /* by |total change| in seconds, largest first */
	uint32_t nfns;
	struct dt_diff_region *regions; /* by baseline wall time, largest first */
	uint32_t nregions;
	int regions_alloc; /* both sides measured allocations in regions */
};

/* Builds the comparison, regions included; the profiles (and their symbolizers) must outlive it.
 * 0 or -1 (memory). */
int dt_diff_build(const struct dt_profile *base, const struct dt_profile *opt, double noise_pct,
		  struct dt_diff **out);
void dt_diff_free(struct dt_diff *d);
const struct dt_diff_region *dt_diff_find_region(const struct dt_diff *d, const char *name);
/* Makes region `name` the unit of the diff: the verdict (and the gate) use its wall time.
 * 0, or -1 when neither trace has the region. */
int dt_diff_focus_region(struct dt_diff *d, const char *name);
/* The quantity the verdict and the gate are about: total CPU, or the focus region's wall time. */
const struct dt_delta *dt_diff_verdict_delta(const struct dt_diff *d);
/* The function named `name` (exactly, or up to a '(' parameter list), or NULL. */
const struct dt_diff_fn *dt_diff_find(const struct dt_diff *d, const char *name);
const char *dt_diff_verdict_name(enum dt_diff_verdict v);

/* Reporters (dt_report_diff.c): 0, or -1 when writing failed. top_n bounds the text/markdown
 * tables (0 = all); JSON always lists every function. */
int dt_report_diff_text(FILE *out, const struct dt_diff *d, uint32_t top_n);
int dt_report_diff_markdown(FILE *out, const struct dt_diff *d, uint32_t top_n);
int dt_report_diff_json(FILE *out, const struct dt_diff *d, uint32_t top_n);

/* The whole `diff` command for deiatrace and deiatrace-analyze --baseline: read both traces,
 * symbolize, compare, report, gate. Returns the exit status: 0, 1 (the gate fired), 2 (bad input). */
struct dt_diff_opts {
	const char *prog;   /* for messages: "deiatrace" or "deiatrace-analyze" */
	const char *format; /* text, markdown or json */
	const char *output; /* NULL: standard output */
	uint32_t top_n;
	unsigned sym_flags; /* DT_SYM_* */
	double noise_pct;
	double fail_if_slower_pct; /* < 0: no gate */
	const char *gate_function; /* NULL: gate on total CPU */
	const char *region;	   /* the unit of the diff: verdict and gate on this region's wall time */
	int quiet;		   /* no informational lines on stderr (errors and the gate's still) */
	dt_progress_fn progress;   /* NULL: none (dt_profile.h) */
	void *progress_ctx;
};
void dt_diff_opts_default(struct dt_diff_opts *o, const char *prog);
int dt_diff_run(const char *baseline, const char *optimized, const struct dt_diff_opts *o);

#endif
