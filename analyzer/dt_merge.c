/* Trace merging (dt_merge.h): owns the rules for combining meta fields and the rebasing of pcs from
 * one run's address space onto another's. Produces a struct dt_trace laid out as dt_reader does
 * (one pc pool, malloc'd strings), so dt_trace_free releases it. Never modifies its inputs. */
#include "dt_merge.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MERGE_MODULE_GAP_BYTES 0x10000000ull /* between modules placed above every other one */
#define MERGE_MODULE_ALIGN_BYTES 0x1000ull

enum merge_rule {
	MERGE_SUM,     /* counters */
	MERGE_MAX,     /* per-run peaks and caps: the largest run */
	MERGE_FIRST,   /* identity of the first run */
	MERGE_MIN,     /* earliest start */
	MERGE_OR,      /* bit sets */
	MERGE_AT_PEAK, /* taken from the run with the largest heap peak */
};

static const unsigned char meta_rule[DT_META_NFIELDS] = {
    [DT_META_PID] = MERGE_FIRST,
    [DT_META_PPID] = MERGE_FIRST,
    [DT_META_START_REALTIME_NS] = MERGE_MIN,
    [DT_META_WALL_NS] = MERGE_SUM,
    [DT_META_CPU_USER_NS] = MERGE_SUM,
    [DT_META_CPU_SYS_NS] = MERGE_SUM,
    [DT_META_RSS_START_BYTES] = MERGE_FIRST,
    [DT_META_RSS_PEAK_BYTES] = MERGE_MAX,
    [DT_META_THREADS] = MERGE_MAX,
    [DT_META_FREQ_ASKED_HZ] = MERGE_MAX,
    [DT_META_SAMPLER] = MERGE_FIRST,
    [DT_META_SAMPLES] = MERGE_SUM,
    [DT_META_SAMPLES_LOST] = MERGE_SUM,
    [DT_META_SAMPLE_WEIGHT_NS] = MERGE_SUM,
    [DT_META_UNWIND_FAILURES] = MERGE_SUM,
    [DT_META_STACK_DEPTH_CAP] = MERGE_MAX,
    [DT_META_STACKS_TRUNCATED] = MERGE_SUM,
    [DT_META_REENTRIES_SKIPPED] = MERGE_SUM,
    [DT_META_MALLOC_TRACKED] = MERGE_MAX,
    [DT_META_ALLOC_CALLS] = MERGE_SUM,
    [DT_META_FREE_CALLS] = MERGE_SUM,
    [DT_META_ALLOC_BYTES] = MERGE_SUM,
    [DT_META_HEAP_PEAK_BYTES] = MERGE_MAX,
    [DT_META_HEAP_PEAK_TIME_NS] = MERGE_AT_PEAK,
    [DT_META_LEAKED_BYTES] = MERGE_SUM,
    [DT_META_LEAKED_BLOCKS] = MERGE_SUM,
    [DT_META_DEGRADED] = MERGE_OR,
};
/* A new meta field must get a rule here (MERGE_SUM is 0, so a forgotten one is summed). */
_Static_assert(DT_META_NFIELDS == 27, "dt_merge: give the new DT_META_ field a merge rule");

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return DT_READ_ENOMEM;
}

static const char *prog_of(const struct dt_trace *t)
{
	if (t->exe && t->exe[0])
		return t->exe;
	return t->argc && t->argv[0] ? t->argv[0] : "";
}

int dt_merge_same_program(const struct dt_trace *a, const struct dt_trace *b)
{
	return strcmp(prog_of(a), prog_of(b)) == 0;
}

static char *dup_str(const char *s)
{
	return s ? strdup(s) : NULL;
}

static int same_module(const struct dt_module *a, const struct dt_module *b)
{
	if (a->build_id_len && b->build_id_len)
		return a->build_id_len == b->build_id_len &&
		       memcmp(a->build_id, b->build_id, a->build_id_len) == 0 &&
		       strcmp(a->path ? a->path : "", b->path ? b->path : "") == 0;
	return strcmp(a->path ? a->path : "", b->path ? b->path : "") == 0;
}

/* Per input module: how far its addresses move in the merged trace. */
struct remap {
	uint64_t lo, hi;
	uint64_t delta; /* added (mod 2^64) to every pc in [lo, hi) */
};

static void merge_meta(struct dt_trace *m, struct dt_trace *const *t, size_t n)
{
	size_t peak_run = 0;

	for (size_t r = 1; r < n; r++)
		if (t[r]->meta[DT_META_HEAP_PEAK_BYTES] > t[peak_run]->meta[DT_META_HEAP_PEAK_BYTES])
			peak_run = r;
	for (unsigned f = 0; f < DT_META_NFIELDS; f++) {
		uint64_t v = t[0]->meta[f];

		for (size_t r = 1; r < n; r++) {
			uint64_t x = t[r]->meta[f];

			switch (meta_rule[f]) {
			case MERGE_SUM:
				v += x;
				break;
			case MERGE_MAX:
				v = x > v ? x : v;
				break;
			case MERGE_MIN:
				v = x && (x < v || !v) ? x : v;
				break;
			case MERGE_OR:
				v |= x;
				break;
			case MERGE_AT_PEAK:
				v = t[peak_run]->meta[f];
				break;
			default:
				break;
			}
		}
		m->meta[f] = v;
	}
	m->meta_fields = DT_META_NFIELDS;
}

/* Maps run r's modules onto the merged module list, appending the ones not seen yet at a free
 * address range. 0 or -1 (out of memory). */
static int map_modules(struct dt_trace *m, const struct dt_trace *t, struct remap *rm, uint64_t *top)
{
	for (uint32_t i = 0; i < t->nmodules; i++) {
		const struct dt_module *src = &t->modules[i];
		uint32_t j;

		for (j = 0; j < m->nmodules; j++)
			if (same_module(&m->modules[j], src))
				break;
		rm[i].lo = src->lo;
		rm[i].hi = src->hi;
		if (j < m->nmodules) {
			rm[i].delta = m->modules[j].lo - src->lo;
			continue;
		}
		/* A module this run has and earlier ones lack: keep its addresses when they collide
		 * with nothing, else move it above everything seen. */
		uint64_t lo = src->lo;
		for (j = 0; j < m->nmodules; j++)
			if (src->lo < m->modules[j].hi && m->modules[j].lo < src->hi)
				break;
		if (j < m->nmodules) {
			lo = (*top + MERGE_MODULE_GAP_BYTES) & ~(MERGE_MODULE_ALIGN_BYTES - 1);
		}
		struct dt_module *mods = realloc(m->modules, (m->nmodules + 1) * sizeof(*mods));
		if (!mods)
			return -1;
		m->modules = mods;
		struct dt_module *dst = &mods[m->nmodules];
		*dst = *src;
		dst->path = dup_str(src->path ? src->path : "");
		if (!dst->path)
			return -1;
		rm[i].delta = lo - src->lo;
		dst->lo = lo;
		dst->hi = src->hi + rm[i].delta;
		dst->load_bias = src->load_bias + rm[i].delta;
		m->nmodules++;
		if (dst->hi > *top)
			*top = dst->hi;
	}
	return 0;
}

static uint64_t rebase(const struct remap *rm, uint32_t n, uint64_t pc)
{
	for (uint32_t i = 0; i < n; i++)
		if (pc >= rm[i].lo && pc < rm[i].hi)
			return pc + rm[i].delta;
	return pc; /* outside every module: unsymbolizable in any run, kept as is */
}

int dt_trace_merge(struct dt_trace *const *t, size_t n, struct dt_trace **out, char *err, size_t errlen)
{
	struct dt_trace *m = NULL;
	struct remap *rm = NULL;
	uint64_t npcs = 0, nstacks = 0, ncpu = 0, nalloc = 0, ncalls = 0, top = 0;
	int rc = DT_READ_ENOMEM;

	*out = NULL;
	if (n == 0)
		return fail(err, errlen, "at least one trace expected, found none");
	for (size_t r = 0; r < n; r++) {
		nstacks += t[r]->nstacks;
		ncpu += t[r]->ncpu;
		nalloc += t[r]->nalloc;
		ncalls += t[r]->ncalls;
		for (uint32_t s = 0; s < t[r]->nstacks; s++)
			npcs += t[r]->stacks[s].depth;
	}
	if (nstacks > UINT32_MAX || ncpu > UINT32_MAX || nalloc > UINT32_MAX || ncalls > UINT32_MAX)
		return fail(err, errlen, "fewer than 2^32 records in all expected, found more");
	m = calloc(1, sizeof(*m));
	if (!m)
		goto oom;
	m->version = t[0]->version;
	m->exe = dup_str(t[0]->exe);
	m->argv = calloc(t[0]->argc ? t[0]->argc : 1, sizeof(char *));
	if ((t[0]->exe && !m->exe) || !m->argv)
		goto oom;
	for (uint32_t i = 0; i < t[0]->argc; i++) {
		if (!(m->argv[i] = dup_str(t[0]->argv[i] ? t[0]->argv[i] : "")))
			goto oom;
		m->argc = i + 1;
	}
	merge_meta(m, t, n);
	m->stacks = calloc(nstacks ? nstacks : 1, sizeof(*m->stacks));
	m->pc_pool = malloc((npcs ? npcs : 1) * sizeof(*m->pc_pool));
	m->cpu = malloc((ncpu ? ncpu : 1) * sizeof(*m->cpu));
	m->alloc = malloc((nalloc ? nalloc : 1) * sizeof(*m->alloc));
	m->calls = malloc((ncalls ? ncalls : 1) * sizeof(*m->calls));
	if (!m->stacks || !m->pc_pool || !m->cpu || !m->alloc || !m->calls)
		goto oom;
	for (uint32_t i = 0; i < t[0]->nmodules; i++)
		if (t[0]->modules[i].hi > top)
			top = t[0]->modules[i].hi;

	uint64_t pcs_used = 0;
	for (size_t r = 0; r < n; r++) {
		const struct dt_trace *tr = t[r];
		uint32_t stack_base = m->nstacks;

		free(rm);
		rm = calloc(tr->nmodules ? tr->nmodules : 1, sizeof(*rm));
		if (!rm || map_modules(m, tr, rm, &top))
			goto oom;
		for (uint32_t s = 0; s < tr->nstacks; s++) {
			struct dt_stack *dst = &m->stacks[m->nstacks++];

			dst->depth = tr->stacks[s].depth;
			dst->flags = tr->stacks[s].flags;
			dst->pcs = m->pc_pool + pcs_used;
			for (uint32_t d = 0; d < dst->depth; d++)
				dst->pcs[d] = rebase(rm, tr->nmodules, tr->stacks[s].pcs[d]);
			pcs_used += dst->depth;
		}
		for (uint32_t i = 0; i < tr->ncpu; i++) {
			m->cpu[m->ncpu] = tr->cpu[i];
			m->cpu[m->ncpu++].stack += stack_base;
		}
		for (uint32_t i = 0; i < tr->nalloc; i++) {
			m->alloc[m->nalloc] = tr->alloc[i];
			m->alloc[m->nalloc++].stack += stack_base;
		}
		for (uint32_t i = 0; i < tr->ncalls; i++) {
			m->calls[m->ncalls] = tr->calls[i];
			m->calls[m->ncalls++].fn_addr = rebase(rm, tr->nmodules, tr->calls[i].fn_addr);
		}
		m->flags |= tr->flags;
		m->has_meta |= tr->has_meta;
		m->has_cmdline |= tr->has_cmdline;
		m->has_modules |= tr->has_modules;
		m->has_stacks |= tr->has_stacks;
		m->has_cpu |= tr->has_cpu;
		m->has_alloc |= tr->has_alloc;
		m->has_calls |= tr->has_calls;
		if (tr->regions) {
			m->has_regions = 1;
			if (!m->regions && !(m->regions = dt_regions_new()))
				goto oom;
			if (dt_regions_add(m->regions, tr->regions))
				goto oom;
		}
		m->unknown_sections += tr->unknown_sections;
		if (tr->partial && !m->partial) {
			m->partial = 1;
			/* The reason is cut to fit: "run I of N: " plus as much of it as the field holds. */
			int k =
			    snprintf(m->partial_why, sizeof(m->partial_why), "run %zu of %zu: ", r + 1, n);
			size_t used = k > 0 ? (size_t)k : 0, room = sizeof(m->partial_why) - 1;
			size_t why = strnlen(tr->partial_why, sizeof(tr->partial_why));
			if (used < room) {
				size_t c = why < room - used ? why : room - used;
				memcpy(m->partial_why + used, tr->partial_why, c);
				m->partial_why[used + c] = '\0';
			}
		}
	}
	*out = m;
	m = NULL;
	rc = DT_READ_OK;
	goto out;
oom:
	fail(err, errlen, "memory to merge %zu traces expected, found too little", n);
out:
	free(rm);
	dt_trace_free(m);
	return rc;
}
