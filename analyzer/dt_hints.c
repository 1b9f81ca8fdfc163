/* Hint rules: turns the profile model's evidence into suggestions. Owns the threshold table (names,
 * defaults, units) and one function per rule; reads the model only, never the trace file, never
 * prints a report. A rule fires only on numbers the trace really has: unknown counts never qualify. */
#include "dt_hints.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dt_bottleneck.h"

#define NS_PER_S 1e9
#define BYTES_PER_KIB 1024.0
#define BYTES_PER_MIB (1024.0 * 1024.0)
#define PARAM_NAME_BYTES 64u

static const struct {
	const char *name; /* RULE.PARAM */
	double def;
	const char *unit;
} params[DT_HP_NPARAMS] = {
    [DT_HP_HIGH_TIME_MIN_PCT] = {"high_time.min_pct", DT_HINT_HIGH_TIME_MIN_PCT, "% of samples, self"},
    [DT_HP_HIGH_CALLS_MIN_CALLS] = {"high_calls.min_calls", DT_HINT_HIGH_CALLS_MIN_CALLS,
				    "exact calls of a bottleneck"},
    [DT_HP_HIGH_CALLS_MIN_ALLOC_CALLS] = {"high_calls.min_alloc_calls", DT_HINT_HIGH_CALLS_MIN_ALLOC_CALLS,
					  "allocation calls by one function"},
    [DT_HP_HIGH_MEMORY_MIN_MIB] = {"high_memory.min_mib", DT_HINT_HIGH_MEMORY_MIN_MIB,
				   "MiB live at the heap peak"},
    [DT_HP_SMALL_ALLOCS_MIN_CALLS] = {"small_allocs.min_calls", DT_HINT_SMALL_ALLOCS_MIN_CALLS,
				      "allocation calls"},
    [DT_HP_SMALL_ALLOCS_MAX_AVG_BYTES] = {"small_allocs.max_avg_bytes", DT_HINT_SMALL_ALLOCS_MAX_AVG_BYTES,
					  "bytes per allocation"},
    [DT_HP_SMALL_ALLOCS_MIN_FREE_RATIO] = {"small_allocs.min_free_ratio", DT_HINT_SMALL_ALLOCS_MIN_FREE_RATIO,
					   "frees per allocation"},
    [DT_HP_REALLOC_MIN_CALLS] = {"realloc_growth.min_calls", DT_HINT_REALLOC_MIN_CALLS, "realloc calls"},
    [DT_HP_LEAK_MIN_KIB] = {"leak.min_kib", DT_HINT_LEAK_MIN_KIB, "KiB live at exit"},
    [DT_HP_HIGH_SYS_MIN_PCT] = {"high_sys.min_pct", DT_HINT_HIGH_SYS_MIN_PCT, "% of user+sys CPU"},
    [DT_HP_HIGH_SYS_MIN_CPU_S] = {"high_sys.min_cpu_s", DT_HINT_HIGH_SYS_MIN_CPU_S, "CPU seconds"},
    [DT_HP_CPU_MIN_SAMPLES] = {"cpu.min_samples", DT_HINT_CPU_MIN_SAMPLES,
			       "samples behind high_time/high_calls/hot_leaf"},
};

static const char *const S_HIGH_TIME =
    "Do less work here: cache or memoize repeated results, pick a better algorithm, or vectorize the "
    "inner loop.";
static const char *const S_HIGH_CALLS =
    "Make fewer calls: batch the work, hoist invariant work out of the calling loop, or give the "
    "common case a cheaper path.";
static const char *const S_HIGH_CALLS_ALLOC =
    "Allocate less often: hoist the allocation out of the loop, batch it, or reuse blocks from a "
    "pool.";
static const char *const S_HIGH_MEMORY =
    "Hold less at once: stream or process the data in chunks instead of keeping all of it live.";
static const char *const S_SMALL_ALLOCS =
    "Use an arena, a free list or a reused buffer for these small short-lived blocks.";
static const char *const S_REALLOC =
    "Reserve the final capacity up front (or grow geometrically) instead of growing the block "
    "step by step.";
static const char *const S_LEAK = "Free these blocks when they are no longer needed, or on exit.";
static const char *const S_HIGH_SYS =
    "Make fewer system calls: buffer reads and writes, and batch small I/O into larger requests.";
static const char *const S_HOT_LEAF = "Inline it into its only caller or specialize it for that call site.";

void dt_hint_config_default(struct dt_hint_config *c)
{
	c->enabled = 1;
	for (int i = 0; i < DT_HP_NPARAMS; i++)
		c->v[i] = params[i].def;
}

int dt_hint_config_set(struct dt_hint_config *c, const char *assignment, char *err, size_t errlen)
{
	const char *eq = strchr(assignment, '=');
	char *end;
	double v;

	if (!eq) {
		snprintf(err, errlen, "RULE.PARAM=VALUE expected, found '%s'", assignment);
		return -1;
	}
	for (int i = 0; i < DT_HP_NPARAMS; i++) {
		size_t n = strlen(params[i].name);

		if ((size_t)(eq - assignment) != n || strncmp(assignment, params[i].name, n) != 0)
			continue;
		errno = 0;
		v = strtod(eq + 1, &end);
		if (errno || end == eq + 1 || *end || !isfinite(v) || v < 0) {
			snprintf(err, errlen, "%s: a non-negative number expected, found '%s'",
				 params[i].name, eq + 1);
			return -1;
		}
		c->v[i] = v;
		return 0;
	}
	snprintf(err, errlen, "a hint parameter (see --help) expected, found '%.*s'", (int)(eq - assignment),
		 assignment);
	return -1;
}

void dt_hint_config_print(FILE *out, const char *indent)
{
	for (int i = 0; i < DT_HP_NPARAMS; i++)
		fprintf(out, "%s%-28s %-8g %s\n", indent, params[i].name, params[i].def, params[i].unit);
}

/* ---- the hint list under construction */
struct hint_list {
	struct dt_hint *v;
	size_t n, cap;
};

static struct dt_hint *push(struct hint_list *l, const char *rule, const struct dt_function *fn,
			    const char *suggestion)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct dt_hint *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return NULL;
		l->v = v;
		l->cap = cap;
	}
	struct dt_hint *h = &l->v[l->n++];
	memset(h, 0, sizeof(*h));
	h->rule = rule;
	h->fn = fn;
	h->suggestion = suggestion;
	return h;
}

static void ev(struct dt_hint *h, const char *name, double value, int integer)
{
	if (h->nev < DT_HINT_MAX_EVIDENCE)
		h->ev[h->nev++] = (struct dt_hint_num){name, value, integer};
}

/* ---- the rules: each returns 0 or -1 (out of memory) */
struct ctx {
	const struct dt_profile *p;
	const struct dt_hint_config *c;
	struct dt_function **sorted; /* by self samples */
	struct dt_bottleneck *b;
	size_t nb;
	struct hint_list *l;
};

/* A handful of samples is noise (a 3-sample run is "75%" somewhere): CPU rules need this many. */
static int enough_samples(const struct ctx *x, uint64_t samples)
{
	return samples && (double)samples >= x->c->v[DT_HP_CPU_MIN_SAMPLES];
}

static int rule_high_time(struct ctx *x)
{
	for (uint32_t i = 0; i < x->p->nfns; i++) {
		const struct dt_function *fn = x->sorted[i];
		double pct = dt_profile_pct(x->p, fn->self_samples);
		struct dt_hint *h;

		if (!enough_samples(x, fn->self_samples) || fn->profiler ||
		    !(pct > x->c->v[DT_HP_HIGH_TIME_MIN_PCT]))
			continue;
		if (!(h = push(x->l, "high_time", fn, S_HIGH_TIME)))
			return -1;
		ev(h, "self_pct", pct, 0);
		ev(h, "self_s", (double)fn->self_weight_ns / NS_PER_S, 0);
		ev(h, "self_samples", (double)fn->self_samples, 1);
		snprintf(h->evidence, sizeof(h->evidence),
			 "%.1f%% of samples (%.3f s) in the function itself", pct,
			 (double)fn->self_weight_ns / NS_PER_S);
	}
	return 0;
}

static int rule_high_calls(struct ctx *x)
{
	for (size_t i = 0; i < x->nb; i++) {
		const struct dt_function *fn = x->b[i].fn;
		struct dt_hint *h;

		if (fn->calls == DT_CALLS_UNKNOWN || !enough_samples(x, fn->total_samples) ||
		    !((double)fn->calls > x->c->v[DT_HP_HIGH_CALLS_MIN_CALLS]))
			continue;
		if (!(h = push(x->l, "high_calls", fn, S_HIGH_CALLS)))
			return -1;
		ev(h, "calls", (double)fn->calls, 1);
		ev(h, "avg_call_ns", dt_profile_avg_call_ns(fn), 0);
		ev(h, "time_pct", x->b[i].time_pct, 0);
		snprintf(h->evidence, sizeof(h->evidence),
			 "%" PRIu64 " calls, %.0f ns per call, %.1f%% of samples", fn->calls,
			 dt_profile_avg_call_ns(fn), x->b[i].time_pct);
	}
	for (uint32_t i = 0; i < x->p->nfns; i++) {
		const struct dt_function *fn = x->sorted[i];
		struct dt_hint *h;

		if (fn->allocator || !((double)fn->alloc_calls > x->c->v[DT_HP_HIGH_CALLS_MIN_ALLOC_CALLS]))
			continue;
		if (!(h = push(x->l, "high_calls", fn, S_HIGH_CALLS_ALLOC)))
			return -1;
		ev(h, "alloc_calls", (double)fn->alloc_calls, 1);
		ev(h, "alloc_bytes", (double)fn->alloc_bytes, 1);
		snprintf(h->evidence, sizeof(h->evidence), "%" PRIu64 " allocation calls, %" PRIu64 " bytes",
			 fn->alloc_calls, fn->alloc_bytes);
	}
	return 0;
}

/* Peak live bytes are inclusive, so main and every ancestor hold as much as the code that allocated:
 * on each allocation stack only the leaf-most function over the threshold is named. */
static int rule_high_memory(struct ctx *x)
{
	const struct dt_profile *p = x->p;
	const struct dt_trace *t = p->trace;
	double min_bytes = x->c->v[DT_HP_HIGH_MEMORY_MIN_MIB] * BYTES_PER_MIB;
	uint8_t *named = calloc(p->nfns ? p->nfns : 1, 1);

	if (!named)
		return -1;
	for (uint32_t i = 0; t && i < t->nalloc; i++) {
		const struct dt_alloc_rec *r = &t->alloc[i];
		const uint32_t *ids = p->stack_fns ? p->stack_fns[r->stack] : NULL;
		uint32_t depth = t->stacks[r->stack].depth ? t->stacks[r->stack].depth : 1;

		if (!r->f[DT_ALLOC_PEAK_LIVE_BYTES] || !ids)
			continue;
		for (uint32_t d = 0; d < depth; d++) {
			const struct dt_function *fn = p->fns[ids[d]];

			if (!fn->allocator && (double)fn->peak_live_bytes >= min_bytes) {
				named[fn->id] = 1;
				break;
			}
		}
	}
	for (uint32_t i = 0; i < p->nfns; i++) {
		const struct dt_function *fn = x->sorted[i];
		double heap = (double)p->summary.heap_peak_bytes;
		struct dt_hint *h;

		if (!named[fn->id])
			continue;
		if (!(h = push(x->l, "high_memory", fn, S_HIGH_MEMORY))) {
			free(named);
			return -1;
		}
		ev(h, "peak_live_bytes", (double)fn->peak_live_bytes, 1);
		ev(h, "heap_peak_bytes", heap, 1);
		snprintf(h->evidence, sizeof(h->evidence), "%.1f MiB live at the heap peak (of %.1f MiB)",
			 (double)fn->peak_live_bytes / BYTES_PER_MIB, heap / BYTES_PER_MIB);
	}
	free(named);
	return 0;
}

static int rule_small_allocs(struct ctx *x)
{
	for (uint32_t i = 0; i < x->p->nfns; i++) {
		const struct dt_function *fn = x->sorted[i];
		struct dt_hint *h;

		if (fn->allocator || !fn->alloc_calls ||
		    (double)fn->alloc_calls < x->c->v[DT_HP_SMALL_ALLOCS_MIN_CALLS])
			continue;
		double avg = (double)fn->alloc_bytes / (double)fn->alloc_calls;
		double ratio = (double)fn->alloc_frees / (double)fn->alloc_calls;
		if (avg > x->c->v[DT_HP_SMALL_ALLOCS_MAX_AVG_BYTES] ||
		    ratio < x->c->v[DT_HP_SMALL_ALLOCS_MIN_FREE_RATIO])
			continue;
		if (!(h = push(x->l, "small_allocs", fn, S_SMALL_ALLOCS)))
			return -1;
		ev(h, "alloc_calls", (double)fn->alloc_calls, 1);
		ev(h, "avg_alloc_bytes", avg, 0);
		ev(h, "free_ratio", ratio, 0);
		snprintf(h->evidence, sizeof(h->evidence),
			 "%" PRIu64 " allocations of %.1f bytes on average, %.2f frees per allocation",
			 fn->alloc_calls, avg, ratio);
	}
	return 0;
}

static int rule_realloc_growth(struct ctx *x)
{
	for (uint32_t i = 0; i < x->p->nfns; i++) {
		const struct dt_function *fn = x->sorted[i];
		struct dt_hint *h;

		if (fn->allocator || !fn->realloc_calls ||
		    (double)fn->realloc_calls < x->c->v[DT_HP_REALLOC_MIN_CALLS])
			continue;
		if (!(h = push(x->l, "realloc_growth", fn, S_REALLOC)))
			return -1;
		ev(h, "realloc_calls", (double)fn->realloc_calls, 1);
		ev(h, "alloc_bytes", (double)fn->alloc_bytes, 1);
		snprintf(h->evidence, sizeof(h->evidence),
			 "%" PRIu64 " realloc calls, %" PRIu64 " bytes requested", fn->realloc_calls,
			 fn->alloc_bytes);
	}
	return 0;
}

static int rule_leak(struct ctx *x)
{
	for (uint32_t i = 0; i < x->p->nfns; i++) {
		const struct dt_function *fn = x->sorted[i];
		struct dt_hint *h;

		if (!fn->leaked_bytes ||
		    (double)fn->leaked_bytes < x->c->v[DT_HP_LEAK_MIN_KIB] * BYTES_PER_KIB)
			continue;
		if (!(h = push(x->l, "leak", fn, S_LEAK)))
			return -1;
		ev(h, "leaked_bytes", (double)fn->leaked_bytes, 1);
		ev(h, "leaked_allocations", (double)fn->leaked_blocks, 1);
		snprintf(h->evidence, sizeof(h->evidence),
			 "%" PRIu64 " bytes in %" PRIu64 " blocks live at exit", fn->leaked_bytes,
			 fn->leaked_blocks);
	}
	return 0;
}

static int rule_high_sys(struct ctx *x)
{
	const struct dt_summary *s = &x->p->summary;
	double cpu = s->cpu_user_s + s->cpu_sys_s, pct;
	struct dt_hint *h;

	if (!(cpu > 0) || cpu < x->c->v[DT_HP_HIGH_SYS_MIN_CPU_S])
		return 0;
	pct = 100.0 * s->cpu_sys_s / cpu;
	if (!(pct > x->c->v[DT_HP_HIGH_SYS_MIN_PCT]))
		return 0;
	if (!(h = push(x->l, "high_sys", NULL, S_HIGH_SYS)))
		return -1;
	ev(h, "sys_pct", pct, 0);
	ev(h, "cpu_sys_s", s->cpu_sys_s, 0);
	ev(h, "cpu_user_s", s->cpu_user_s, 0);
	snprintf(h->evidence, sizeof(h->evidence),
		 "%.1f%% of CPU time in the kernel (%.3f s sys, %.3f s user)", pct, s->cpu_sys_s,
		 s->cpu_user_s);
	return 0;
}

/* A bottleneck that calls nothing else and whose samples all come through one other function of its
 * own module (inlining or specializing across a library boundary is not the program's to do). */
static int rule_hot_leaf(struct ctx *x)
{
	const struct dt_profile *p = x->p;

	for (size_t i = 0; i < x->nb; i++) {
		const struct dt_function *fn = x->b[i].fn;
		const struct dt_edge *from = NULL;
		uint32_t callers = 0, callees = 0;
		struct dt_hint *h;

		for (uint32_t e = 0; e < p->nedges; e++) {
			const struct dt_edge *ed = &p->edges[e];

			if (ed->caller == ed->callee || !ed->samples)
				continue; /* recursion neither calls another function nor is another caller */
			if (ed->caller == fn->id)
				callees++;
			if (ed->callee == fn->id) {
				callers++;
				from = ed;
			}
		}
		if (callees || callers != 1 || from->samples < fn->total_samples || fn->allocator ||
		    !enough_samples(x, fn->self_samples) ||
		    strcmp(p->fns[from->caller]->module, fn->module) != 0)
			continue;
		if (!(h = push(x->l, "hot_leaf_single_caller", fn, S_HOT_LEAF)))
			return -1;
		h->related = p->fns[from->caller];
		ev(h, "time_pct", x->b[i].time_pct, 0);
		ev(h, "self_samples", (double)fn->self_samples, 1);
		ev(h, "caller_samples", (double)from->samples, 1);
		snprintf(h->evidence, sizeof(h->evidence),
			 "leaf with %.1f%% of samples, all %" PRIu64 " from one caller", x->b[i].time_pct,
			 from->samples);
	}
	return 0;
}

int dt_hints_find(const struct dt_profile *p, const struct dt_hint_config *c, double threshold_pct,
		  int inclusive, struct dt_hint **out, size_t *n)
{
	static int (*const rules[])(struct ctx *) = {
	    rule_high_time,	 rule_high_calls, rule_high_memory, rule_small_allocs,
	    rule_realloc_growth, rule_leak,	  rule_high_sys,    rule_hot_leaf,
	};
	struct hint_list l = {0};
	struct ctx x = {.p = p, .c = c, .l = &l};
	int rc = -1;

	*out = NULL;
	*n = 0;
	if (!c->enabled)
		return 0;
	x.sorted = dt_profile_sorted(p, 0);
	if (!x.sorted || dt_bottlenecks_find(p, threshold_pct, inclusive, &x.b, &x.nb))
		goto out;
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
		if (rules[i](&x))
			goto out;
	rc = 0;
out:
	free(x.sorted);
	free(x.b);
	if (rc || !l.n) {
		free(l.v);
		return rc;
	}
	*out = l.v;
	*n = l.n;
	return 0;
}
