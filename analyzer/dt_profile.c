/* Profile model: turns a trace's stacks, CPU and allocation records into per-function self/total
 * figures and caller -> callee edges. Owns the function and edge tables; never parses the file
 * (dt_reader) and never prints (reporters). Recursion counts a function once per stack. */
#include "dt_profile.h"

#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#define NS_PER_S 1e9
#define UNKNOWN_STACK_NAME "[unknown stack]"
#define UNKNOWN_MODULE "[unknown]"
#define SHIM_MODULE "libdeiatrace.so"

struct fn_node {
	UT_hash_handle hh;
	struct dt_function *fn;
	char key[]; /* name '\0' module '\0' */
};

struct edge_node {
	UT_hash_handle hh;
	uint64_t key; /* caller << 32 | callee */
	uint32_t index;
	uint64_t seen_gen;
};

struct priv {
	struct fn_node *fn_index;
	struct edge_node *edge_index;
	uint32_t fns_cap, edges_cap;
	uint64_t gen;
};

/* Entry points of the malloc family and their thin wrappers: an allocation is charged to the
 * first frame below them, the code that asked for memory. */
static const char *const allocator_names[] = {
    "malloc",
    "calloc",
    "realloc",
    "reallocarray",
    "free",
    "posix_memalign",
    "aligned_alloc",
    "memalign",
    "valloc",
    "pvalloc",
    "strdup",
    "strndup",
    "__strdup",
    "__strndup",
    "wcsdup",
    "__libc_malloc",
    "__libc_calloc",
    "__libc_realloc",
    "__libc_memalign",
    "asprintf",
    "vasprintf",
    "__vasprintf_internal",
    "getline",
    "getdelim",
    "open_memstream",
};
static const char *const allocator_prefixes[] = {"operator new", "operator delete"};

int dt_profile_is_allocator(const char *name)
{
	if (!name)
		return 0;
	for (size_t i = 0; i < sizeof(allocator_names) / sizeof(allocator_names[0]); i++)
		if (strcmp(name, allocator_names[i]) == 0)
			return 1;
	for (size_t i = 0; i < sizeof(allocator_prefixes) / sizeof(allocator_prefixes[0]); i++)
		if (strncmp(name, allocator_prefixes[i], strlen(allocator_prefixes[i])) == 0)
			return 1;
	return 0;
}

int dt_profile_is_reallocator(const char *name)
{
	return name && (strcmp(name, "realloc") == 0 || strcmp(name, "reallocarray") == 0 ||
			strcmp(name, "__libc_realloc") == 0);
}

double dt_profile_avg_call_ns(const struct dt_function *fn)
{
	if (fn->calls == DT_CALLS_UNKNOWN || fn->calls == 0)
		return -1;
	return (double)fn->calls_incl_ns / (double)fn->calls;
}

static struct dt_function *intern_fn(struct dt_profile *p, const char *name, const char *module,
				     const char *file, uint32_t line)
{
	struct priv *pv = p->priv;
	size_t nl = strlen(name), ml = strlen(module), kl = nl + 1 + ml + 1;
	struct fn_node *n;
	char *key = malloc(kl);

	if (!key)
		return NULL;
	memcpy(key, name, nl + 1);
	memcpy(key + nl + 1, module, ml + 1);
	HASH_FIND(hh, pv->fn_index, key, kl, n);
	if (n) {
		free(key);
		if (!n->fn->file && file) {
			n->fn->file = file;
			n->fn->line = line;
		}
		return n->fn;
	}
	if (p->nfns == pv->fns_cap) {
		uint32_t cap = pv->fns_cap ? pv->fns_cap * 2 : 64;
		struct dt_function **fns = realloc(p->fns, cap * sizeof(*fns));
		if (!fns)
			goto nomem;
		p->fns = fns;
		pv->fns_cap = cap;
	}
	n = malloc(sizeof(*n) + kl);
	struct dt_function *fn = calloc(1, sizeof(*fn));
	if (!n || !fn) {
		free(n);
		free(fn);
		goto nomem;
	}
	memcpy(n->key, key, kl);
	free(key);
	fn->id = p->nfns;
	fn->name = name;
	fn->module = module;
	fn->file = file;
	fn->line = line;
	fn->calls = DT_CALLS_UNKNOWN;
	fn->profiler = strcmp(module, SHIM_MODULE) == 0;
	fn->allocator = dt_profile_is_allocator(name) || fn->profiler;
	n->fn = fn;
	p->fns[p->nfns++] = fn;
	HASH_ADD(hh, pv->fn_index, key, kl, n);
	return fn;
nomem:
	free(key);
	return NULL;
}

/* Every frame but an exact leaf holds a return address: the call is at pc-1. */
static int frame_is_return(const struct dt_stack *st, uint32_t d)
{
	return !(d == 0 && (st->flags & DT_STACK_LEAF_EXACT));
}

void dt_profile_frame(const struct dt_profile *p, uint32_t sid, uint32_t d, uint64_t *addr,
		      struct dt_frame_info *out)
{
	const struct dt_stack *st = &p->trace->stacks[sid];
	uint64_t pc = st->pcs[d];

	*addr = frame_is_return(st, d) && pc ? pc - 1 : pc;
	if (p->sym)
		dt_sym_lookup(p->sym, pc, frame_is_return(st, d), out);
	else
		memset(out, 0, sizeof(*out));
}

/* Function ids of stack `sid`, leaf first; computed once. Depth 0 maps to one pseudo-frame. */
static uint32_t *stack_fns(struct dt_profile *p, struct dt_symbolizer *sym, uint32_t sid, uint32_t *depth)
{
	const struct dt_stack *st = &p->trace->stacks[sid];
	uint32_t n = st->depth ? st->depth : 1;

	*depth = n;
	if (p->stack_fns[sid])
		return p->stack_fns[sid];
	uint32_t *ids = malloc(n * sizeof(*ids));
	if (!ids)
		return NULL;
	if (!st->depth) {
		struct dt_function *fn = intern_fn(p, UNKNOWN_STACK_NAME, UNKNOWN_MODULE, NULL, 0);
		if (!fn)
			goto nomem;
		ids[0] = fn->id;
	}
	for (uint32_t d = 0; d < st->depth; d++) {
		struct dt_frame_info fi;

		dt_sym_lookup(sym, st->pcs[d], frame_is_return(st, d), &fi);
		struct dt_function *fn = intern_fn(p, fi.function, fi.module, fi.fn_file, fi.fn_line);
		if (!fn)
			goto nomem;
		ids[d] = fn->id;
	}
	p->stack_fns[sid] = ids;
	return ids;
nomem:
	free(ids);
	return NULL;
}

static struct edge_node *edge_for(struct dt_profile *p, uint32_t caller, uint32_t callee)
{
	struct priv *pv = p->priv;
	uint64_t key = (uint64_t)caller << 32 | callee;
	struct edge_node *e;

	HASH_FIND(hh, pv->edge_index, &key, sizeof(key), e);
	if (e)
		return e;
	if (p->nedges == pv->edges_cap) {
		uint32_t cap = pv->edges_cap ? pv->edges_cap * 2 : 64;
		struct dt_edge *edges = realloc(p->edges, cap * sizeof(*edges));
		if (!edges)
			return NULL;
		p->edges = edges;
		pv->edges_cap = cap;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->key = key;
	e->index = p->nedges;
	p->edges[p->nedges++] = (struct dt_edge){caller, callee, 0, 0};
	HASH_ADD(hh, pv->edge_index, key, sizeof(e->key), e);
	return e;
}

static int add_cpu(struct dt_profile *p, struct dt_symbolizer *sym, const struct dt_cpu_rec *r)
{
	struct priv *pv = p->priv;
	uint32_t depth;
	uint32_t *ids = stack_fns(p, sym, r->stack, &depth);
	uint64_t gen = ++pv->gen;

	if (!ids)
		return -1;
	p->fns[ids[0]]->self_samples += r->samples;
	p->fns[ids[0]]->self_weight_ns += r->weight_ns;
	for (uint32_t d = 0; d < depth; d++) {
		struct dt_function *fn = p->fns[ids[d]];

		if (fn->seen_gen != gen) {
			fn->seen_gen = gen;
			fn->total_samples += r->samples;
			fn->total_weight_ns += r->weight_ns;
		}
		if (d + 1 < depth) {
			struct edge_node *e = edge_for(p, ids[d + 1], ids[d]);
			if (!e)
				return -1;
			if (e->seen_gen != gen) {
				e->seen_gen = gen;
				p->edges[e->index].samples += r->samples;
				p->edges[e->index].weight_ns += r->weight_ns;
			}
		}
	}
	return 0;
}

static int add_alloc(struct dt_profile *p, struct dt_symbolizer *sym, const struct dt_alloc_rec *r)
{
	struct priv *pv = p->priv;
	uint32_t depth, self = 0;
	uint32_t *ids = stack_fns(p, sym, r->stack, &depth);
	uint64_t gen = ++pv->gen;

	if (!ids)
		return -1;
	/* pc[0] already is the caller of malloc, but it may be a wrapper (operator new, strdup). */
	while (self + 1 < depth && p->fns[ids[self]]->allocator)
		self++;
	struct dt_function *sf = p->fns[ids[self]];
	sf->alloc_calls += r->f[DT_ALLOC_CALLS];
	sf->alloc_bytes += r->f[DT_ALLOC_BYTES];
	sf->alloc_frees += r->f[DT_ALLOC_FREES];
	/* Which allocator the stack ended in: a realloc frame below the caller marks a resize. The
	 * shim starts stacks at the caller of the hook, so this sees realloc only through wrappers. */
	for (uint32_t d = 0; d < self; d++)
		if (dt_profile_is_reallocator(p->fns[ids[d]]->name)) {
			sf->realloc_calls += r->f[DT_ALLOC_CALLS];
			break;
		}
	sf->leaked_bytes += r->f[DT_ALLOC_LEAKED_BYTES];
	sf->leaked_blocks += r->f[DT_ALLOC_LEAKED_BLOCKS];
	for (uint32_t d = 0; d < depth; d++) {
		struct dt_function *fn = p->fns[ids[d]];

		if (fn->seen_gen == gen)
			continue;
		fn->seen_gen = gen;
		fn->alloc_calls_total += r->f[DT_ALLOC_CALLS];
		fn->alloc_bytes_total += r->f[DT_ALLOC_BYTES];
		fn->peak_live_bytes += r->f[DT_ALLOC_PEAK_LIVE_BYTES];
	}
	return 0;
}

static int add_calls(struct dt_profile *p, struct dt_symbolizer *sym, const struct dt_call_rec *r)
{
	struct dt_frame_info fi;

	/* fn_addr is a function entry, not a return address: look it up as is. */
	dt_sym_lookup(sym, r->fn_addr, 0, &fi);
	struct dt_function *fn = intern_fn(p, fi.function, fi.module, fi.fn_file, fi.fn_line);
	if (!fn)
		return -1;
	if (fn->calls == DT_CALLS_UNKNOWN)
		fn->calls = 0;
	fn->calls += r->calls;
	fn->calls_incl_ns += r->incl_ns;
	fn->calls_excl_ns += r->excl_ns;
	if (r->max_ns > fn->calls_max_ns)
		fn->calls_max_ns = r->max_ns;
	return 0;
}

static const char *sampler_name(uint64_t kind)
{
	switch (kind) {
	case DT_SAMPLER_NONE:
		return "none";
	case DT_SAMPLER_PERF_TASK_CLOCK:
		return "perf task-clock";
	case DT_SAMPLER_POSIX_TIMER:
		return "posix timer (tick-limited)";
	case DT_SAMPLER_OFF:
		return "off (DEIATRACE_CPU=off)";
	default:
		return "unknown";
	}
}

static void fill_summary(struct dt_profile *p)
{
	const struct dt_trace *t = p->trace;
	const uint64_t *m = t->meta;
	struct dt_summary *s = &p->summary;
	uint64_t weight_sum = 0;

	s->program = t->exe ? t->exe : (t->argc ? t->argv[0] : "");
	s->argc = t->argc;
	s->argv = t->argv;
	s->pid = m[DT_META_PID];
	s->wall_s = (double)m[DT_META_WALL_NS] / NS_PER_S;
	s->cpu_user_s = (double)m[DT_META_CPU_USER_NS] / NS_PER_S;
	s->cpu_sys_s = (double)m[DT_META_CPU_SYS_NS] / NS_PER_S;
	for (uint32_t i = 0; i < t->ncpu; i++) {
		s->samples += t->cpu[i].samples;
		weight_sum += t->cpu[i].weight_ns;
	}
	s->samples_meta = m[DT_META_SAMPLES];
	s->samples_lost = m[DT_META_SAMPLES_LOST];
	s->sample_weight_ns = m[DT_META_SAMPLE_WEIGHT_NS] ? m[DT_META_SAMPLE_WEIGHT_NS] : weight_sum;
	s->sample_hz = m[DT_META_FREQ_ASKED_HZ];
	/* The rate the samples were taken at per CPU second they stand for (a tick-limited timer
	 * weights each sample by its overruns, so this is below the asked rate). */
	double cpu_s =
	    s->sample_weight_ns ? (double)s->sample_weight_ns / NS_PER_S : s->cpu_user_s + s->cpu_sys_s;
	s->achieved_hz = cpu_s > 0 ? (double)s->samples / cpu_s : 0;
	s->sampler = m[DT_META_SAMPLER];
	s->sampler_name = sampler_name(s->sampler);
	s->threads = m[DT_META_THREADS];
	s->rss_start_bytes = m[DT_META_RSS_START_BYTES];
	s->rss_peak_bytes = m[DT_META_RSS_PEAK_BYTES];
	s->unwind_failures = m[DT_META_UNWIND_FAILURES];
	s->stacks_truncated = m[DT_META_STACKS_TRUNCATED];
	s->reentries_skipped = m[DT_META_REENTRIES_SKIPPED];
	s->degraded = m[DT_META_DEGRADED];
	s->partial = t->partial;
	s->partial_why = t->partial_why;
	s->has_alloc = t->has_alloc || m[DT_META_MALLOC_TRACKED];
	s->alloc_calls = m[DT_META_ALLOC_CALLS];
	s->free_calls = m[DT_META_FREE_CALLS];
	s->alloc_bytes = m[DT_META_ALLOC_BYTES];
	s->heap_peak_bytes = m[DT_META_HEAP_PEAK_BYTES];
	s->heap_peak_time_ns = m[DT_META_HEAP_PEAK_TIME_NS];
	s->leaked_bytes = m[DT_META_LEAKED_BYTES];
	s->leaked_blocks = m[DT_META_LEAKED_BLOCKS];
}

int dt_profile_build(const struct dt_trace *t, struct dt_symbolizer *sym, struct dt_profile **out)
{
	return dt_profile_build_progress(t, sym, NULL, NULL, out);
}

/* One more record done: tells the callback every DT_PROFILE_PROGRESS_STEP records. */
static void progress_step(dt_progress_fn fn, void *ctx, uint64_t *done, uint64_t total)
{
	if (fn && ++*done % DT_PROFILE_PROGRESS_STEP == 0)
		fn(ctx, "symbolizing", *done, total);
}

int dt_profile_build_progress(const struct dt_trace *t, struct dt_symbolizer *sym, dt_progress_fn fn,
			      void *ctx, struct dt_profile **out)
{
	struct dt_profile *p = calloc(1, sizeof(*p));
	uint64_t total = (uint64_t)t->ncpu + t->nalloc + t->ncalls, done = 0;
	int rc = -1;

	*out = NULL;
	if (!p)
		return -1;
	p->trace = t;
	p->sym = sym;
	p->priv = calloc(1, sizeof(struct priv));
	p->stack_fns = calloc(t->nstacks ? t->nstacks : 1, sizeof(*p->stack_fns));
	p->regions = dt_regions_dup(t->regions);
	if (!p->priv || !p->stack_fns || !p->regions)
		goto out;
	dt_regions_sort(p->regions);
	if (fn)
		fn(ctx, "symbolizing", 0, total);
	for (uint32_t i = 0; i < t->ncpu; i++, progress_step(fn, ctx, &done, total))
		if (add_cpu(p, sym, &t->cpu[i]))
			goto out;
	for (uint32_t i = 0; i < t->nalloc; i++, progress_step(fn, ctx, &done, total))
		if (add_alloc(p, sym, &t->alloc[i]))
			goto out;
	for (uint32_t i = 0; i < t->ncalls; i++, progress_step(fn, ctx, &done, total))
		if (add_calls(p, sym, &t->calls[i]))
			goto out;
	if (fn)
		fn(ctx, "symbolizing", total, total);
	fill_summary(p);
	rc = 0;
out:
	if (rc) {
		dt_profile_free(p);
		return rc;
	}
	*out = p;
	return 0;
}

void dt_profile_free(struct dt_profile *p)
{
	struct priv *pv;

	if (!p)
		return;
	pv = p->priv;
	if (pv) {
		struct fn_node *f, *ftmp;
		struct edge_node *e, *etmp;

		HASH_ITER(hh, pv->fn_index, f, ftmp)
		{
			HASH_DEL(pv->fn_index, f);
			free(f);
		}
		HASH_ITER(hh, pv->edge_index, e, etmp)
		{
			HASH_DEL(pv->edge_index, e);
			free(e);
		}
		free(pv);
	}
	for (uint32_t i = 0; i < p->nfns; i++)
		free(p->fns[i]);
	free(p->fns);
	free(p->edges);
	for (uint32_t i = 0; p->stack_fns && i < p->trace->nstacks; i++)
		free(p->stack_fns[i]);
	free(p->stack_fns);
	dt_regions_free(p->regions);
	free(p);
}

double dt_profile_pct(const struct dt_profile *p, uint64_t samples)
{
	return p->summary.samples ? 100.0 * (double)samples / (double)p->summary.samples : 0.0;
}

const char *dt_profile_no_samples_why(const struct dt_profile *p)
{
	if (p->summary.samples)
		return NULL;
	if (p->summary.sampler == DT_SAMPLER_OFF)
		return "no CPU samples: CPU sampling was off (DEIATRACE_CPU=off)";
	if (p->summary.sampler == DT_SAMPLER_NONE)
		return "no CPU samples: no CPU timer could be armed";
	return "no CPU samples: the program used too little CPU time";
}

static int cmp_self(const void *a, const void *b)
{
	const struct dt_function *x = *(struct dt_function *const *)a, *y = *(struct dt_function *const *)b;

	if (x->self_samples != y->self_samples)
		return x->self_samples > y->self_samples ? -1 : 1;
	if (x->total_samples != y->total_samples)
		return x->total_samples > y->total_samples ? -1 : 1;
	if (x->alloc_bytes != y->alloc_bytes)
		return x->alloc_bytes > y->alloc_bytes ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int cmp_total(const void *a, const void *b)
{
	const struct dt_function *x = *(struct dt_function *const *)a, *y = *(struct dt_function *const *)b;

	if (x->total_samples != y->total_samples)
		return x->total_samples > y->total_samples ? -1 : 1;
	return cmp_self(a, b);
}

/* Memory tables: most bytes allocated first, then most leaked, then by name. */
static int cmp_alloc_bytes(const void *a, const void *b)
{
	const struct dt_function *x = *(struct dt_function *const *)a, *y = *(struct dt_function *const *)b;

	if (x->alloc_bytes != y->alloc_bytes)
		return x->alloc_bytes > y->alloc_bytes ? -1 : 1;
	if (x->leaked_bytes != y->leaked_bytes)
		return x->leaked_bytes > y->leaked_bytes ? -1 : 1;
	return strcmp(x->name, y->name);
}

static struct dt_function **sorted_by(const struct dt_profile *p, int (*cmp)(const void *, const void *))
{
	struct dt_function **v = malloc((p->nfns ? p->nfns : 1) * sizeof(*v));

	if (!v)
		return NULL;
	if (p->nfns)
		memcpy(v, p->fns, p->nfns * sizeof(*v));
	qsort(v, p->nfns, sizeof(*v), cmp);
	return v;
}

struct dt_function **dt_profile_sorted(const struct dt_profile *p, int by_total)
{
	return sorted_by(p, by_total ? cmp_total : cmp_self);
}

struct dt_function **dt_profile_sorted_by_alloc(const struct dt_profile *p)
{
	return sorted_by(p, cmp_alloc_bytes);
}
