/* The profile model: functions with self/total CPU samples and time, allocations, and the
 * caller -> callee graph, built from a trace and a symbolizer. Reporters read only this. */
#ifndef DT_PROFILE_H
#define DT_PROFILE_H

#include <stdint.h>

#include "dt_reader.h"
#include "dt_symbolize.h"

#define DT_CALLS_UNKNOWN UINT64_MAX

struct dt_function {
	uint32_t id;	    /* index in dt_profile.fns */
	const char *name;   /* symbolizer-owned */
	const char *module; /* basename */
	const char *file;   /* entry file, NULL if unknown */
	uint32_t line;
	uint64_t self_samples, total_samples;	  /* total: once per stack, however deep the recursion */
	uint64_t self_weight_ns, total_weight_ns; /* CPU time the samples stand for */
	uint64_t calls;				  /* DT_CALLS_UNKNOWN without -finstrument-functions data */
	uint64_t calls_incl_ns, calls_excl_ns;	  /* outermost activations only (recursion not twice) */
	uint64_t calls_max_ns;			  /* longest single activation */
	/* Memory, when the trace has DT_SEC_ALLOC. Self: the stack's leaf-most non-allocator frame. */
	uint64_t alloc_calls, alloc_bytes;	       /* self */
	uint64_t alloc_frees;			       /* self: of the blocks it allocated */
	uint64_t realloc_calls;			       /* self: stacks that ended in realloc/reallocarray */
	uint64_t alloc_calls_total, alloc_bytes_total; /* anywhere on the stack, once per stack */
	uint64_t peak_live_bytes;		       /* total: live at the heap peak */
	uint64_t leaked_bytes, leaked_blocks;	       /* self: the site that allocated them */
	int allocator;	   /* 1 for allocator entry points and the shim's own frames */
	int profiler;	   /* 1 for the shim's own frames: overhead, not the program's code */
	uint64_t seen_gen; /* build-time scratch: last stack that counted this function */
};

struct dt_edge {
	uint32_t caller, callee; /* function ids */
	uint64_t samples;	 /* once per stack */
	uint64_t weight_ns;
};

struct dt_summary {
	const char *program;
	uint32_t argc;
	char *const *argv;
	uint64_t pid;
	double wall_s, cpu_user_s, cpu_sys_s;
	uint64_t samples;      /* sum over the CPU records */
	uint64_t samples_meta; /* signals that produced a sample, as the shim counted them */
	uint64_t samples_lost;
	uint64_t sample_weight_ns;
	uint64_t sample_hz; /* asked */
	double achieved_hz;
	uint64_t sampler; /* enum dt_sampler_kind */
	const char *sampler_name;
	uint64_t threads;
	uint64_t rss_start_bytes, rss_peak_bytes;
	uint64_t unwind_failures, stacks_truncated, reentries_skipped, degraded;
	int partial;
	const char *partial_why;
	int has_alloc;
	uint64_t alloc_calls, free_calls, alloc_bytes, heap_peak_bytes, heap_peak_time_ns;
	uint64_t leaked_bytes, leaked_blocks;
};

struct dt_profile {
	const struct dt_trace *trace;
	struct dt_summary summary;
	struct dt_function **fns; /* by id */
	uint32_t nfns;
	struct dt_edge *edges;
	uint32_t nedges;
	uint32_t **stack_fns;	    /* per stack: function id of each frame, leaf first; NULL if unused */
	struct dt_regions *regions; /* named regions by wall time, largest first; empty, never NULL */
	struct dt_symbolizer *sym;  /* the one it was built with, for dt_profile_frame */
	void *priv;
};

/* Builds the model. The trace and the symbolizer must outlive the profile. 0 or -1 (out of memory). */
int dt_profile_build(const struct dt_trace *t, struct dt_symbolizer *sym, struct dt_profile **out);
/* Progress of a long build (symbolizing every record's stack): called with done = 0 first, then at
 * most once per DT_PROFILE_PROGRESS_STEP records, and with done == total last. The callback throttles
 * and draws; the model only counts. */
typedef void (*dt_progress_fn)(void *ctx, const char *what, uint64_t done, uint64_t total);
#define DT_PROFILE_PROGRESS_STEP 256u
int dt_profile_build_progress(const struct dt_trace *t, struct dt_symbolizer *sym, dt_progress_fn fn,
			      void *ctx, struct dt_profile **out);
void dt_profile_free(struct dt_profile *p);
/* Frame d (< depth) of stack sid looked up as the model did (a return address as pc-1), for
 * reporters that need per-pc detail such as the line (pprof). *addr: the address looked up. */
void dt_profile_frame(const struct dt_profile *p, uint32_t sid, uint32_t d, uint64_t *addr,
		      struct dt_frame_info *out);

/* Functions sorted for a table: by self samples, then total, then name (a new array; free it). */
struct dt_function **dt_profile_sorted(const struct dt_profile *p, int by_total);
/* Functions sorted for a memory table: by bytes allocated (self), then leaked, then name. */
struct dt_function **dt_profile_sorted_by_alloc(const struct dt_profile *p);
double dt_profile_pct(const struct dt_profile *p, uint64_t samples);
/* Why the profile has no time to show ("CPU sampling was off ..."), for a reporter to print instead of
 * an empty table; NULL when it has CPU samples. */
const char *dt_profile_no_samples_why(const struct dt_profile *p);
/* 1 when name is an allocator entry point (malloc, operator new, strdup, ...). */
int dt_profile_is_allocator(const char *name);
/* 1 when name resizes a block in place or by moving it (realloc, reallocarray). */
int dt_profile_is_reallocator(const char *name);
/* Average inclusive ns per exact call; -1 when the count is unknown or zero. */
double dt_profile_avg_call_ns(const struct dt_function *fn);

#endif
