/* Check suite for the hint rules (dt_hints) and how the reporters show hints, calls and escaped
 * names. Every rule gets a synthetic trace built to trigger it and one built not to; the numbers in
 * the traces are the ground truth. Symbolization is off except for the realloc case, which needs
 * libc's real `realloc` symbol on the stack. */
#define _GNU_SOURCE
#include <check.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_analyzer_encoder.h"
#include "dt_hints.h"
#include "dt_profile.h"
#include "dt_reader.h"
#include "dt_report.h"
#include "dt_symbolize.h"

#define MS 1000000ull
#define MIB (1024ull * 1024ull)
#define LIBC_SPAN_BYTES 0x400000ull /* covers libc's text in the synthetic module list */

/* Functions of "prog" (bias 0): A (main) 0x1100, B 0x1200, C 0x1300, D 0x1400, E 0x1500. Return
 * addresses are entry+1 so that pc-1 lands on the entry; exact leaves use the entry itself. */
#define A_RET 0x1101
#define B_RET 0x1201
#define D_RET 0x1401
#define B_PC 0x1200
#define C_PC 0x1300
#define D_PC 0x1400
#define E_PC 0x1500
#define A "prog+0x1100"
#define B "prog+0x1200"
#define C "prog+0x1300"
#define D "prog+0x1400"
#define E "prog+0x1500"

enum { ST_C_B_A, ST_D_A, ST_E_A, ST_B_A, ST_C_D_A, ST_ALLOC_B, ST_ALLOC_C_B, ST_N };

static const struct tmod prog_mod[] = {{0, 0x1000, 0x2000, "/nonexistent/prog", NULL, 0}};
static const struct tstack stacks[ST_N] = {
    [ST_C_B_A] = {3, DT_STACK_LEAF_EXACT, {C_PC, B_RET, A_RET}},
    [ST_D_A] = {2, DT_STACK_LEAF_EXACT, {D_PC, A_RET}},
    [ST_E_A] = {2, DT_STACK_LEAF_EXACT, {E_PC, A_RET}},
    [ST_B_A] = {2, DT_STACK_LEAF_EXACT, {B_PC, A_RET}},
    [ST_C_D_A] = {3, DT_STACK_LEAF_EXACT, {C_PC, D_RET, A_RET}},
    [ST_ALLOC_B] = {2, 0, {B_RET, A_RET}},	     /* allocation stacks start at the caller */
    [ST_ALLOC_C_B] = {3, 0, {0x1301, B_RET, A_RET}}, /* allocation in C, called from B */
};

struct scen {
	const struct tmod *mods;
	uint32_t nmods;
	const struct tstack *stacks;
	uint32_t nstacks;
	const struct tcpu *cpu;
	uint32_t ncpu;
	const struct talloc *alloc;
	uint32_t nalloc;
	const struct dt_call_rec *calls;
	uint32_t ncalls;
	uint64_t user_ns, sys_ns;
	unsigned sym_flags;
};

struct world {
	uint8_t *buf;
	struct dt_trace *t;
	struct dt_symbolizer *sym;
	struct dt_profile *p;
	struct dt_hint *h;
	size_t nh;
};

static void load(struct world *w, const struct scen *sc)
{
	static uint64_t meta[DT_META_NFIELDS];
	char err[DT_READ_ERR_BYTES];
	uint64_t samples = 0;
	size_t len;

	memset(w, 0, sizeof(*w));
	memset(meta, 0, sizeof(meta));
	for (uint32_t i = 0; i < sc->ncpu; i++)
		samples += sc->cpu[i].samples;
	meta[DT_META_PID] = 77;
	meta[DT_META_FREQ_ASKED_HZ] = 1000;
	meta[DT_META_SAMPLE_WEIGHT_NS] = samples * MS;
	meta[DT_META_CPU_USER_NS] = sc->user_ns;
	meta[DT_META_CPU_SYS_NS] = sc->sys_ns;
	meta[DT_META_MALLOC_TRACKED] = sc->alloc != NULL;
	struct tspec s = {
	    .meta = meta,
	    .nmeta = DT_META_NFIELDS,
	    .mods = sc->mods ? sc->mods : prog_mod,
	    .nmods = sc->mods ? sc->nmods : 1,
	    .stacks = sc->stacks ? sc->stacks : stacks,
	    .nstacks = sc->stacks ? sc->nstacks : ST_N,
	    .cpu = sc->cpu,
	    .ncpu = sc->ncpu,
	    .alloc = sc->alloc,
	    .nalloc = sc->nalloc,
	    .no_end = 1,
	};
	struct enc e = {0};
	e.buf = enc_trace(&s, &len);
	e.len = e.cap = len;
	if (sc->ncalls) {
		enc_begin(&e, DT_SEC_CALLS);
		enc_u32(&e, sc->ncalls);
		for (uint32_t i = 0; i < sc->ncalls; i++) {
			enc_u64(&e, sc->calls[i].fn_addr);
			enc_u64(&e, sc->calls[i].calls);
			enc_u64(&e, sc->calls[i].incl_ns);
			enc_u64(&e, sc->calls[i].excl_ns);
			enc_u64(&e, sc->calls[i].max_ns);
		}
		enc_end(&e);
	}
	enc_end_marker(&e);
	w->buf = e.buf;
	ck_assert_int_eq(dt_trace_read_mem(w->buf, e.len, &w->t, err, sizeof(err)), DT_READ_OK);
	ck_assert_int_eq(dt_sym_open(w->t, sc->sym_flags, NULL, &w->sym), 0);
	ck_assert_int_eq(dt_profile_build(w->t, w->sym, &w->p), 0);
}

static void hints_with(struct world *w, const struct dt_hint_config *c)
{
	free(w->h);
	ck_assert_int_eq(dt_hints_find(w->p, c, 5.0, 0, &w->h, &w->nh), 0);
}

static void hints(struct world *w)
{
	struct dt_hint_config c;

	dt_hint_config_default(&c);
	hints_with(w, &c);
}

static void unload(struct world *w)
{
	free(w->h);
	dt_profile_free(w->p);
	dt_sym_close(w->sym);
	dt_trace_free(w->t);
	free(w->buf);
}

/* Hints of `rule` about function `fn` (NULL: about the whole program). */
static const struct dt_hint *find(const struct world *w, const char *rule, const char *fn, size_t *count)
{
	const struct dt_hint *first = NULL;

	*count = 0;
	for (size_t i = 0; i < w->nh; i++) {
		const struct dt_hint *h = &w->h[i];

		if (strcmp(h->rule, rule) != 0)
			continue;
		if (fn ? !h->fn || strcmp(h->fn->name, fn) != 0 : h->fn != NULL)
			continue;
		if (!first)
			first = h;
		++*count;
	}
	return first;
}

static size_t count_rule(const struct world *w, const char *rule)
{
	size_t n = 0;

	for (size_t i = 0; i < w->nh; i++)
		n += strcmp(w->h[i].rule, rule) == 0;
	return n;
}

static double evidence(const struct dt_hint *h, const char *name)
{
	for (uint32_t i = 0; i < h->nev; i++)
		if (strcmp(h->ev[i].name, name) == 0)
			return h->ev[i].value;
	ck_abort_msg("hint %s has no evidence %s", h->rule, name);
	return 0;
}

static const struct dt_hint *expect_one(const struct world *w, const char *rule, const char *fn)
{
	size_t n;
	const struct dt_hint *h = find(w, rule, fn, &n);

	ck_assert_msg(n == 1, "%zu %s hints for %s, expected 1", n, rule, fn ? fn : "the program");
	ck_assert_ptr_nonnull(h->suggestion);
	ck_assert_msg(h->evidence[0] != '\0' && h->nev > 0, "%s: no evidence", rule);
	return h;
}

/* ---- high_time */
START_TEST(test_high_time)
{
	static const struct tcpu hot[] = {
	    {ST_C_B_A, 60, 60 * MS}, {ST_D_A, 20, 20 * MS}, {ST_E_A, 20, 20 * MS}};
	static const struct tcpu flat[] = {
	    {ST_C_B_A, 25, 25 * MS}, {ST_D_A, 25, 25 * MS}, {ST_E_A, 25, 25 * MS}, {ST_B_A, 25, 25 * MS}};
	struct dt_hint_config c;
	struct world w;

	load(&w, &(struct scen){.cpu = hot, .ncpu = 3});
	hints(&w);
	const struct dt_hint *h = expect_one(&w, "high_time", C);
	ck_assert_double_eq_tol(evidence(h, "self_pct"), 60.0, 1e-9);
	ck_assert_double_eq_tol(evidence(h, "self_samples"), 60.0, 1e-9);
	ck_assert_uint_eq(count_rule(&w, "high_time"), 1); /* A has 100% total, 0% self */
	/* The threshold is a parameter: above 60% nothing qualifies. */
	dt_hint_config_default(&c);
	c.v[DT_HP_HIGH_TIME_MIN_PCT] = 60.0;
	hints_with(&w, &c);
	ck_assert_uint_eq(count_rule(&w, "high_time"), 0);
	unload(&w);

	load(&w, &(struct scen){.cpu = flat, .ncpu = 4});
	hints(&w);
	ck_assert_uint_eq(count_rule(&w, "high_time"), 0);
	unload(&w);
}
END_TEST

/* CPU rules need cpu.min_samples samples, and never name the profiler's own frames. */
START_TEST(test_cpu_rules_need_evidence)
{
	static const struct tcpu few[] = {{ST_C_B_A, 3, 3 * MS}, {ST_D_A, 1, 1 * MS}};
	static const struct tmod with_shim[] = {
	    {0, 0x1000, 0x2000, "/nonexistent/prog", NULL, 0},
	    {0x9000, 0x9000, 0xa000, "/nonexistent/libdeiatrace.so", NULL, 0},
	};
	static const struct tstack shim_stacks[] = {{2, DT_STACK_LEAF_EXACT, {0x9100, A_RET}},
						    {3, DT_STACK_LEAF_EXACT, {C_PC, B_RET, A_RET}}};
	static const struct tcpu shim_cpu[] = {{0, 70, 70 * MS}, {1, 30, 30 * MS}};
	struct dt_hint_config c;
	struct world w;

	load(&w, &(struct scen){.cpu = few, .ncpu = 2});
	hints(&w);
	ck_assert_uint_eq(count_rule(&w, "high_time"), 0); /* 75% of 4 samples is noise */
	ck_assert_uint_eq(count_rule(&w, "hot_leaf_single_caller"), 0);
	dt_hint_config_default(&c);
	ck_assert_int_eq(dt_hint_config_set(&c, "cpu.min_samples=1", (char[64]){0}, 64), 0);
	hints_with(&w, &c);
	expect_one(&w, "high_time", C);
	expect_one(&w, "hot_leaf_single_caller", C);
	unload(&w);

	load(&w, &(struct scen){.mods = with_shim,
				.nmods = 2,
				.stacks = shim_stacks,
				.nstacks = 2,
				.cpu = shim_cpu,
				.ncpu = 2});
	hints(&w);
	ck_assert_uint_eq(count_rule(&w, "high_time"), 0); /* 70% in the profiler is not the program's */
	ck_assert_uint_eq(count_rule(&w, "hot_leaf_single_caller"), 1); /* C, 30 samples via B */
	unload(&w);
}
END_TEST

/* ---- high_calls: exact calls of a bottleneck, and allocation calls */
START_TEST(test_high_calls)
{
	static const struct tcpu cpu[] = {{ST_C_B_A, 50, 50 * MS}, {ST_D_A, 50, 50 * MS}};
	static const struct dt_call_rec many[] = {{C_PC, 5000, 5000 * 200, 5000 * 200, 900},
						  {0x1100, 1, 100 * MS, 1, 100 * MS}};
	static const struct dt_call_rec few[] = {{C_PC, 999, 999 * 200, 999 * 200, 900}};
	static const struct dt_call_rec not_hot[] = {{0x1500, 90000, 90000, 90000, 5}}; /* E: no samples */
	struct world w;

	load(&w, &(struct scen){.cpu = cpu, .ncpu = 2, .calls = many, .ncalls = 2});
	hints(&w);
	const struct dt_hint *h = expect_one(&w, "high_calls", C);
	ck_assert_double_eq_tol(evidence(h, "calls"), 5000, 1e-9);
	ck_assert_double_eq_tol(evidence(h, "avg_call_ns"), 200, 1e-9);
	ck_assert_uint_eq(count_rule(&w, "high_calls"), 1); /* A: 1 call, not a bottleneck */
	unload(&w);

	load(&w, &(struct scen){.cpu = cpu, .ncpu = 2, .calls = few, .ncalls = 1});
	hints(&w);
	ck_assert_uint_eq(count_rule(&w, "high_calls"), 0);
	unload(&w);

	load(&w, &(struct scen){.cpu = cpu, .ncpu = 2, .calls = not_hot, .ncalls = 1});
	hints(&w);
	ck_assert_uint_eq(count_rule(&w, "high_calls"), 0);
	unload(&w);

	/* Unknown counts never qualify (D is a bottleneck with calls unknown). */
	load(&w, &(struct scen){.cpu = cpu, .ncpu = 2});
	hints(&w);
	ck_assert_uint_eq(count_rule(&w, "high_calls"), 0);
	unload(&w);
}
END_TEST

START_TEST(test_high_calls_alloc)
{
	static const struct tcpu cpu[] = {{ST_B_A, 10, 10 * MS}};
	static const struct talloc many[] = {{ST_ALLOC_B, {1001, 1001 * 4096, 0, 0, 0, 0, 0}}};
	static const struct talloc few[] = {{ST_ALLOC_B, {1000, 1000 * 4096, 0, 0, 0, 0, 0}}};
	struct world w;

	load(&w, &(struct scen){.cpu = cpu, .ncpu = 1, .alloc = many, .nalloc = 1});
	hints(&w);
	const struct dt_hint *h = expect_one(&w, "high_calls", B);
	ck_assert_double_eq_tol(evidence(h, "alloc_calls"), 1001, 1e-9);
	ck_assert_uint_eq(count_rule(&w, "high_calls"), 1);   /* A's are inclusive: not its own calls */
	ck_assert_uint_eq(count_rule(&w, "small_allocs"), 0); /* 4 KiB each, never freed */
	unload(&w);

	load(&w, &(struct scen){.cpu = cpu, .ncpu = 1, .alloc = few, .nalloc = 1});
	hints(&w);
	ck_assert_uint_eq(count_rule(&w, "high_calls"), 0);
	unload(&w);
}
END_TEST

/* ---- high_memory: names the leaf-most function over the threshold, not main */
START_TEST(test_high_memory)
{
	static const struct tcpu cpu[] = {{ST_B_A, 10, 10 * MS}};
	static const struct talloc big[] = {
	    {ST_ALLOC_B, {10, 80 * MIB, 0, 0, 80 * MIB, 0, 0}},
	    {ST_ALLOC_C_B, {10, 40 * MIB, 0, 0, 40 * MIB, 0, 0}},
	};
	static const struct talloc small[] = {{ST_ALLOC_B, {10, 99 * MIB, 10, 99 * MIB, 99 * MIB, 0, 0}}};
	struct world w;

	load(&w, &(struct scen){.cpu = cpu, .ncpu = 1, .alloc = big, .nalloc = 2});
	hints(&w);
	const struct dt_hint *h = expect_one(&w, "high_memory", B); /* 80 + 40 MiB with B on the stack */
	ck_assert_double_eq_tol(evidence(h, "peak_live_bytes"), 120.0 * MIB, 1);
	ck_assert_uint_eq(count_rule(&w, "high_memory"), 1); /* not A (main), not C (40 MiB) */
	unload(&w);

	load(&w, &(struct scen){.cpu = cpu, .ncpu = 1, .alloc = small, .nalloc = 1});
	hints(&w);
	ck_assert_uint_eq(count_rule(&w, "high_memory"), 0);
	unload(&w);

	/* Allocator and shim frames on the stack are skipped: the hint names the code that asked. */
	static const struct tmod with_shim[] = {
	    {0, 0x1000, 0x2000, "/nonexistent/prog", NULL, 0},
	    {0x9000, 0x9000, 0xa000, "/nonexistent/libdeiatrace.so", NULL, 0},
	};
	static const struct tstack shim_stack[] = {{3, 0, {0x9101, B_RET, A_RET}}};
	static const struct tcpu one[] = {{0, 10, 10 * MS}};
	static const struct talloc held[] = {{0, {10, 200 * MIB, 0, 0, 200 * MIB, 0, 0}}};
	load(&w, &(struct scen){.mods = with_shim,
				.nmods = 2,
				.stacks = shim_stack,
				.nstacks = 1,
				.cpu = one,
				.ncpu = 1,
				.alloc = held,
				.nalloc = 1});
	hints(&w);
	expect_one(&w, "high_memory", B);
	ck_assert_uint_eq(count_rule(&w, "high_memory"), 1);
	unload(&w);
}
END_TEST

/* ---- small_allocs */
START_TEST(test_small_allocs)
{
	static const struct tcpu cpu[] = {{ST_B_A, 10, 10 * MS}};
	static const struct talloc churn[] = {{ST_ALLOC_B, {5000, 5000 * 32, 4990, 4990 * 32, 320, 0, 0}}};
	static const struct talloc kept[] = {{ST_ALLOC_B, {5000, 5000 * 32, 100, 100 * 32, 0, 0, 0}}};
	static const struct talloc large[] = {{ST_ALLOC_B, {5000, 5000 * 4096, 5000, 5000 * 4096, 0, 0, 0}}};
	struct world w;

	load(&w, &(struct scen){.cpu = cpu, .ncpu = 1, .alloc = churn, .nalloc = 1});
	hints(&w);
	const struct dt_hint *h = expect_one(&w, "small_allocs", B);
	ck_assert_double_eq_tol(evidence(h, "avg_alloc_bytes"), 32.0, 1e-9);
	ck_assert_double_eq_tol(evidence(h, "free_ratio"), 0.998, 1e-9);
	ck_assert_uint_eq(count_rule(&w, "small_allocs"), 1);
	unload(&w);

	load(&w, &(struct scen){.cpu = cpu, .ncpu = 1, .alloc = kept, .nalloc = 1});
	hints(&w);
	ck_assert_uint_eq(count_rule(&w, "small_allocs"), 0); /* long-lived: not for an arena */
	unload(&w);

	load(&w, &(struct scen){.cpu = cpu, .ncpu = 1, .alloc = large, .nalloc = 1});
	hints(&w);
	ck_assert_uint_eq(count_rule(&w, "small_allocs"), 0);
	unload(&w);
}
END_TEST

/* ---- realloc_growth: the allocation stack ends in libc's realloc (real symbol) or malloc */
static void libc_stack(const char *allocator, struct tmod *mods, struct tstack *st)
{
	/* libc's own symbol: under a sanitizer RTLD_DEFAULT would find the sanitizer's interceptor. */
	void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
	void *fn = libc ? dlsym(libc, allocator) : NULL;
	Dl_info info;

	ck_assert_ptr_nonnull(fn);
	ck_assert_int_ne(dladdr(fn, &info), 0);
	mods[0] = prog_mod[0];
	mods[1] = (struct tmod){(uint64_t)(uintptr_t)info.dli_fbase,
				(uint64_t)(uintptr_t)info.dli_fbase,
				(uint64_t)(uintptr_t)info.dli_fbase + LIBC_SPAN_BYTES,
				info.dli_fname,
				NULL,
				0};
	*st = (struct tstack){3, DT_STACK_LEAF_EXACT, {(uint64_t)(uintptr_t)fn, B_RET, A_RET}};
	dlclose(libc);
}

START_TEST(test_realloc_growth)
{
	static const struct tcpu cpu[] = {{0, 10, 10 * MS}};
	static const struct talloc chain[] = {{0, {200, 200 * 8192, 199, 199 * 8000, 8192, 0, 0}}};
	static const struct talloc short_chain[] = {{0, {63, 63 * 8192, 62, 62 * 8000, 8192, 0, 0}}};
	struct tmod mods[2];
	struct tstack st;
	struct world w;

	libc_stack("realloc", mods, &st);
	load(&w, &(struct scen){.mods = mods,
				.nmods = 2,
				.stacks = &st,
				.nstacks = 1,
				.cpu = cpu,
				.ncpu = 1,
				.alloc = chain,
				.nalloc = 1});
	hints(&w);
	const struct dt_hint *h = expect_one(&w, "realloc_growth", B);
	ck_assert_double_eq_tol(evidence(h, "realloc_calls"), 200, 1e-9);
	ck_assert_uint_eq(h->fn->alloc_calls, 200); /* charged to the caller, not to realloc */
	unload(&w);

	load(&w, &(struct scen){.mods = mods,
				.nmods = 2,
				.stacks = &st,
				.nstacks = 1,
				.cpu = cpu,
				.ncpu = 1,
				.alloc = short_chain,
				.nalloc = 1});
	hints(&w);
	ck_assert_uint_eq(count_rule(&w, "realloc_growth"), 0);
	unload(&w);

	libc_stack("malloc", mods, &st); /* the same numbers through malloc are no growth chain */
	load(&w, &(struct scen){.mods = mods,
				.nmods = 2,
				.stacks = &st,
				.nstacks = 1,
				.cpu = cpu,
				.ncpu = 1,
				.alloc = chain,
				.nalloc = 1});
	hints(&w);
	ck_assert_uint_eq(count_rule(&w, "realloc_growth"), 0);
	for (uint32_t i = 0; i < w.p->nfns; i++)
		ck_assert_uint_eq(w.p->fns[i]->realloc_calls, 0);
	unload(&w);
}
END_TEST

/* ---- leak */
START_TEST(test_leak)
{
	static const struct tcpu cpu[] = {{ST_B_A, 10, 10 * MS}};
	static const struct talloc leaky[] = {{ST_ALLOC_B, {100, 1 * MIB, 0, 0, 1 * MIB, 1 * MIB, 100}}};
	static const struct talloc tidy[] = {{ST_ALLOC_B, {100, 1 * MIB, 99, 1 * MIB - 1024, 0, 1024, 1}}};
	struct world w;

	load(&w, &(struct scen){.cpu = cpu, .ncpu = 1, .alloc = leaky, .nalloc = 1});
	hints(&w);
	const struct dt_hint *h = expect_one(&w, "leak", B);
	ck_assert_double_eq_tol(evidence(h, "leaked_bytes"), (double)MIB, 1e-9);
	ck_assert_double_eq_tol(evidence(h, "leaked_allocations"), 100, 1e-9);
	ck_assert_uint_eq(count_rule(&w, "leak"), 1);
	unload(&w);

	load(&w, &(struct scen){.cpu = cpu, .ncpu = 1, .alloc = tidy, .nalloc = 1});
	hints(&w);
	ck_assert_uint_eq(count_rule(&w, "leak"), 0); /* 1 KiB: a stdio buffer, not a leak worth a hint */
	unload(&w);
}
END_TEST

/* ---- high_sys */
START_TEST(test_high_sys)
{
	static const struct tcpu cpu[] = {{ST_B_A, 10, 10 * MS}};
	struct world w;

	load(&w, &(struct scen){.cpu = cpu, .ncpu = 1, .user_ns = 200 * MS, .sys_ns = 300 * MS});
	hints(&w);
	const struct dt_hint *h = expect_one(&w, "high_sys", NULL);
	ck_assert_double_eq_tol(evidence(h, "sys_pct"), 60.0, 1e-9);
	unload(&w);

	load(&w, &(struct scen){.cpu = cpu, .ncpu = 1, .user_ns = 500 * MS, .sys_ns = 10 * MS});
	hints(&w);
	ck_assert_uint_eq(count_rule(&w, "high_sys"), 0);
	unload(&w);

	/* 90% sys of 11 ms of CPU: too little to mean anything. */
	load(&w, &(struct scen){.cpu = cpu, .ncpu = 1, .user_ns = 1 * MS, .sys_ns = 10 * MS});
	hints(&w);
	ck_assert_uint_eq(count_rule(&w, "high_sys"), 0);
	unload(&w);
}
END_TEST

/* ---- hot_leaf_single_caller */
START_TEST(test_hot_leaf)
{
	static const struct tcpu one[] = {{ST_C_B_A, 60, 60 * MS}, {ST_B_A, 40, 40 * MS}};
	static const struct tcpu two[] = {
	    {ST_C_B_A, 30, 30 * MS}, {ST_C_D_A, 30, 30 * MS}, {ST_B_A, 40, 40 * MS}};
	struct world w;

	load(&w, &(struct scen){.cpu = one, .ncpu = 2});
	hints(&w);
	const struct dt_hint *h = expect_one(&w, "hot_leaf_single_caller", C);
	ck_assert_ptr_nonnull(h->related);
	ck_assert_str_eq(h->related->name, B);
	ck_assert_double_eq_tol(evidence(h, "caller_samples"), 60, 1e-9);
	ck_assert_uint_eq(count_rule(&w, "hot_leaf_single_caller"), 1); /* B calls C: not a leaf */
	unload(&w);

	load(&w, &(struct scen){.cpu = two, .ncpu = 3});
	hints(&w);
	ck_assert_uint_eq(count_rule(&w, "hot_leaf_single_caller"), 0); /* C: two callers; B, D: not leaves */
	unload(&w);

	/* A library's leaf called from the program: not the program's to inline. */
	static const struct tmod two_mods[] = {
	    {0, 0x1000, 0x2000, "/nonexistent/prog", NULL, 0},
	    {0x5000, 0x5000, 0x6000, "/nonexistent/libx.so", NULL, 0},
	};
	static const struct tstack lib_stack[] = {{3, DT_STACK_LEAF_EXACT, {0x5100, B_RET, A_RET}}};
	static const struct tcpu lib_cpu[] = {{0, 60, 60 * MS}};
	load(&w,
	     &(struct scen){
		 .mods = two_mods, .nmods = 2, .stacks = lib_stack, .nstacks = 1, .cpu = lib_cpu, .ncpu = 1});
	hints(&w);
	expect_one(&w, "high_time", "libx.so+0x100");
	ck_assert_uint_eq(count_rule(&w, "hot_leaf_single_caller"), 0);
	unload(&w);
}
END_TEST

START_TEST(test_config)
{
	struct dt_hint_config c;
	char err[256];

	dt_hint_config_default(&c);
	ck_assert_int_eq(c.enabled, 1);
	ck_assert_double_eq(c.v[DT_HP_HIGH_TIME_MIN_PCT], DT_HINT_HIGH_TIME_MIN_PCT);
	ck_assert_double_eq(c.v[DT_HP_HIGH_MEMORY_MIN_MIB], 100.0);
	ck_assert_int_eq(dt_hint_config_set(&c, "high_memory.min_mib=12.5", err, sizeof(err)), 0);
	ck_assert_double_eq(c.v[DT_HP_HIGH_MEMORY_MIN_MIB], 12.5);
	ck_assert_int_eq(dt_hint_config_set(&c, "leak.min_kib=0", err, sizeof(err)), 0);
	ck_assert_int_eq(dt_hint_config_set(&c, "high_memory.min_mib", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "RULE.PARAM=VALUE expected"));
	ck_assert_int_eq(dt_hint_config_set(&c, "no_such.rule=1", err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "found 'no_such.rule'"));
	ck_assert_int_eq(dt_hint_config_set(&c, "high_time.min_pct=-1", err, sizeof(err)), -1);
	ck_assert_int_eq(dt_hint_config_set(&c, "high_time.min_pct=3x", err, sizeof(err)), -1);
	ck_assert_int_eq(dt_hint_config_set(&c, "high_time.min_pct=nan", err, sizeof(err)), -1);
	ck_assert_int_eq(dt_hint_config_set(&c, "high_time.min_pct_extra=1", err, sizeof(err)), -1);
	ck_assert_double_eq(c.v[DT_HP_HIGH_TIME_MIN_PCT], DT_HINT_HIGH_TIME_MIN_PCT);
}
END_TEST

START_TEST(test_no_hints)
{
	static const struct tcpu hot[] = {{ST_C_B_A, 60, 60 * MS}, {ST_D_A, 40, 40 * MS}};
	struct dt_hint_config c;
	struct world w;

	load(&w, &(struct scen){.cpu = hot, .ncpu = 2, .user_ns = 1 * MS, .sys_ns = 900 * MS});
	dt_hint_config_default(&c);
	c.enabled = 0;
	hints_with(&w, &c);
	ck_assert_uint_eq(w.nh, 0);
	ck_assert_ptr_null(w.h);
	unload(&w);
}
END_TEST

/* ---- reporters */
static char *render(int (*fn)(FILE *, const struct dt_profile *, const struct dt_report_opts *),
		    const struct dt_profile *p, int no_hints)
{
	struct dt_report_opts o;
	char *text = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);

	dt_report_opts_default(&o);
	o.hints.enabled = !no_hints;
	ck_assert_int_eq(fn(m, p, &o), 0);
	fclose(m);
	return text;
}

/* Markdown table rows: every row of one table has as many unescaped '|' as its header. */
static void check_md_tables(const char *md)
{
	int want = -1, tables = 0;

	for (const char *line = md; *line;) {
		const char *nl = strchr(line, '\n');
		size_t n = nl ? (size_t)(nl - line) : strlen(line);
		int pipes = 0;

		if (n && line[0] == '|') {
			for (size_t i = 0; i < n; i++) {
				if (line[i] == '\\') {
					i++;
					continue;
				}
				pipes += line[i] == '|';
			}
			if (want < 0) {
				want = pipes;
				tables++;
			}
			ck_assert_msg(pipes == want, "row with %d cells, table has %d: %.*s", pipes - 1,
				      want - 1, (int)n, line);
		} else {
			want = -1;
		}
		line = nl ? nl + 1 : line + n;
	}
	ck_assert_int_ge(tables, 4); /* summary, functions, bottlenecks, memory */
}

START_TEST(test_reports_show_hints_and_calls)
{
	static const struct tcpu cpu[] = {{ST_C_B_A, 60, 60 * MS}, {ST_D_A, 40, 40 * MS}};
	static const struct dt_call_rec calls[] = {{C_PC, 5000, 5000 * 250, 5000 * 250, 4000}};
	static const struct talloc allocs[] = {{ST_ALLOC_B, {5000, 5000 * 16, 5000, 5000 * 16, 0, 0, 0}}};
	struct world w;

	load(&w, &(struct scen){
		     .cpu = cpu, .ncpu = 2, .calls = calls, .ncalls = 1, .alloc = allocs, .nalloc = 1});
	char *json = render(dt_report_json, w.p, 0);
	static const char *const needles[] = {
	    "\"name\":\"prog+0x1300\"",
	    "\"calls\":5000",
	    "\"avg_call_ns\":250.000000",
	    "\"max_call_ns\":4000",
	    "\"calls_incl_ns\":1250000",
	    "\"calls_excl_ns\":1250000",
	    "\"calls\":null",
	    "\"avg_call_ns\":null",
	    "\"max_call_ns\":null",
	    "\"alloc_frees\":5000",
	    "\"hints\":[",
	    "{\n    \"rule\":\"high_time\",\n    \"function\":\"prog+0x1300\"",
	    "\"evidence\":{\"self_pct\":60.000000,\"self_s\":0.060000,\"self_samples\":60}",
	    "\"rule\":\"high_calls\"",
	    "\"evidence\":{\"calls\":5000,\"avg_call_ns\":250.000000,\"time_pct\":60.000000}",
	    "\"rule\":\"small_allocs\"",
	    "\"related_function\":\"prog+0x1200\"",
	    "\"suggestion\":\"",
	};
	for (size_t i = 0; i < sizeof(needles) / sizeof(needles[0]); i++)
		ck_assert_msg(strstr(json, needles[i]), "JSON lacks %s:\n%s", needles[i], json);
	/* The bottleneck object carries calls and memory too. */
	char *bn = strstr(json, "\"bottlenecks\":[");
	ck_assert_ptr_nonnull(bn);
	ck_assert_ptr_nonnull(strstr(bn, "\"time_pct\":60.000000"));
	ck_assert_ptr_nonnull(strstr(bn, "\"avg_call_ns\":250.000000"));
	ck_assert_ptr_nonnull(strstr(bn, "\"peak_live_bytes\":"));
	free(json);
	json = render(dt_report_json, w.p, 1);
	ck_assert_ptr_nonnull(strstr(json, "\"hints\":[]"));
	free(json);

	char *text = render(dt_report_text, w.p, 0);
	ck_assert_ptr_nonnull(strstr(text, "\nHints\n  high_time: prog+0x1300\n"));
	ck_assert_ptr_nonnull(strstr(text, "  hot_leaf_single_caller: prog+0x1300\n"));
	ck_assert_ptr_nonnull(strstr(text, "    caller: prog+0x1200\n"));
	ck_assert_ptr_nonnull(strstr(text, "   60.0%    0.060       60      5000    250 ns"));
	ck_assert_ptr_nonnull(strstr(text, "   40.0%    0.040       40         -         -"));
	for (char *line = text, *nl; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		ck_assert_ptr_nonnull(nl);
		ck_assert_msg(nl - line <= (long)DT_REPORT_WIDTH_COLS, "line of %ld columns: %.*s",
			      (long)(nl - line), (int)(nl - line), line);
	}
	free(text);
	text = render(dt_report_text, w.p, 1);
	ck_assert_ptr_null(strstr(text, "Hints"));
	free(text);

	char *md = render(dt_report_markdown, w.p, 0);
	ck_assert_ptr_nonnull(strstr(md, "## Summary\n"));
	ck_assert_ptr_nonnull(strstr(md, "## Hints\n\n- **high\\_time** prog+0x1300: 60.0% of samples"));
	ck_assert_ptr_nonnull(
	    strstr(md, "| 60.0 | 0.060 | 60 | 5000 | 250.0 | 0 | 0 | prog+0x1300 | prog |"));
	ck_assert_ptr_nonnull(strstr(md, "## Memory\n"));
	check_md_tables(md);
	free(md);
	md = render(dt_report_markdown, w.p, 1);
	ck_assert_ptr_null(strstr(md, "## Hints"));
	free(md);
	unload(&w);
}
END_TEST

/* Names that need escaping: the module's basename becomes part of every unresolved name. */
START_TEST(test_reports_escape_names)
{
	static const struct tmod odd[] = {
	    {0, 0x1000, 0x2000, "/nonexistent/std::map<K, V>::operator<<|`x`[1]&\"q\"*_~#!.so", NULL, 0}};
	static const struct tcpu cpu[] = {{ST_C_B_A, 60, 60 * MS}, {ST_D_A, 40, 40 * MS}};
	static const struct talloc allocs[] = {{ST_ALLOC_B, {10, 2 * MIB, 0, 0, 2 * MIB, 2 * MIB, 10}}};
	const char *raw = "std::map<K, V>::operator<<|`x`[1]&\"q\"*_~#!.so+0x1300";
	struct world w;

	load(&w,
	     &(struct scen){.mods = odd, .nmods = 1, .cpu = cpu, .ncpu = 2, .alloc = allocs, .nalloc = 1});
	ck_assert_ptr_nonnull(strstr(w.p->fns[0]->name, "operator<<|`x`"));
	char *md = render(dt_report_markdown, w.p, 0);
	const char *esc =
	    "std::map\\<K, V\\>::operator\\<\\<\\|\\`x\\`\\[1\\]\\&\"q\"\\*\\_\\~\\#\\!.so+0x1300";
	ck_assert_msg(strstr(md, esc), "markdown lacks %s:\n%s", esc, md);
	ck_assert_ptr_null(strstr(md, "operator<<")); /* never raw */
	check_md_tables(md);
	free(md);
	char *json = render(dt_report_json, w.p, 0);
	ck_assert_ptr_nonnull(
	    strstr(json, "\"name\":\"std::map<K, V>::operator<<|`x`[1]&\\\"q\\\"*_~#!.so+0x1300\""));
	ck_assert_ptr_nonnull(
	    strstr(json, "\"function\":\"std::map<K, V>::operator<<|`x`[1]&\\\"q\\\"*_~#!.so+0x1300\""));
	free(json);
	char *text = render(dt_report_text, w.p, 0);
	ck_assert_ptr_nonnull(
	    strstr(text, "  high_time: std::map<K, V>::operator<<|`x`[1]&\"q\"*_~#!.so+0x1300\n"));
	free(text);
	char *folded = render(dt_report_folded, w.p, 0);
	ck_assert_ptr_nonnull(strstr(folded, raw));
	free(folded);
	unload(&w);
}
END_TEST

static Suite *hints_suite(void)
{
	Suite *s = suite_create("dt_hints");
	TCase *tc = tcase_create("rules");
	TCase *tr = tcase_create("reports");

	tcase_add_test(tc, test_high_time);
	tcase_add_test(tc, test_cpu_rules_need_evidence);
	tcase_add_test(tc, test_high_calls);
	tcase_add_test(tc, test_high_calls_alloc);
	tcase_add_test(tc, test_high_memory);
	tcase_add_test(tc, test_small_allocs);
	tcase_add_test(tc, test_realloc_growth);
	tcase_add_test(tc, test_leak);
	tcase_add_test(tc, test_high_sys);
	tcase_add_test(tc, test_hot_leaf);
	tcase_add_test(tc, test_config);
	tcase_add_test(tc, test_no_hints);
	tcase_add_test(tr, test_reports_show_hints_and_calls);
	tcase_add_test(tr, test_reports_escape_names);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, tr);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(hints_suite());
	int failed;

	srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
