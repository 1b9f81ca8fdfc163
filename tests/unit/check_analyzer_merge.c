/* Check suite for trace merging (analyzer/dt_merge.c), the regions section parser (dt_reader.c) and
 * the regions model (analyzer/dt_regions.c), on synthetic traces: runs of one program loaded at different addresses
 * (ASLR) must land on the same functions; meta counters sum, peaks keep the largest run. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check_analyzer_encoder.h"
#include "dt_diff.h"
#include "dt_merge.h"
#include "dt_profile.h"
#include "dt_reader.h"
#include "dt_regions.h"
#include "dt_symbolize.h"

static const uint8_t bid_prog[] = {1, 2, 3, 4};

/* Run A: prog at 0x1000 (bias 0) and libx at 0x5000. */
static const struct tmod mods_a[] = {
    {0, 0x1000, 0x2000, "/nonexistent/prog", bid_prog, sizeof(bid_prog)},
    {0x5000, 0x5000, 0x6000, "/nonexistent/libx.so", NULL, 0},
};
static const struct tstack stacks_a[] = {{2, DT_STACK_LEAF_EXACT, {0x1300, 0x1101}}};
static const struct tcpu cpu_a[] = {{0, 10, 10000000}};

/* Run B: prog moved to 0x11000 (bias 0x10000); liby.so sits where prog was in run A. */
static const struct tmod mods_b[] = {
    {0x10000, 0x11000, 0x12000, "/nonexistent/prog", bid_prog, sizeof(bid_prog)},
    {0x1000, 0x1000, 0x2000, "/nonexistent/liby.so", NULL, 0},
};
static const struct tstack stacks_b[] = {
    {2, DT_STACK_LEAF_EXACT, {0x11300, 0x11101}},
    {1, DT_STACK_LEAF_EXACT, {0x1500}},
};
static const struct tcpu cpu_b[] = {{0, 20, 20000000}, {1, 5, 5000000}};

static struct dt_trace *load(const struct tspec *s)
{
	size_t len;
	uint8_t *buf = enc_trace(s, &len);
	struct dt_trace *t = NULL;
	char err[DT_READ_ERR_BYTES];

	ck_assert_int_eq(dt_trace_read_mem(buf, len, &t, err, sizeof(err)), DT_READ_OK);
	free(buf);
	return t;
}

static void run_spec(struct tspec *s, const uint64_t *meta, const struct tmod *mods, uint32_t nmods,
		     const struct tstack *st, uint32_t nst, const struct tcpu *cpu, uint32_t ncpu)
{
	static const char *const argv[] = {"prog"};

	memset(s, 0, sizeof(*s));
	s->meta = meta;
	s->nmeta = DT_META_NFIELDS;
	s->exe = "/nonexistent/prog";
	s->argv = argv;
	s->argc = 1;
	s->mods = mods;
	s->nmods = nmods;
	s->stacks = st;
	s->nstacks = nst;
	s->cpu = cpu;
	s->ncpu = ncpu;
}

START_TEST(test_merge_rebases_and_sums)
{
	uint64_t ma[DT_META_NFIELDS] = {0}, mb[DT_META_NFIELDS] = {0};
	struct tspec sa, sb;

	ma[DT_META_PID] = 100;
	ma[DT_META_SAMPLES] = 10;
	ma[DT_META_HEAP_PEAK_BYTES] = 100;
	ma[DT_META_HEAP_PEAK_TIME_NS] = 7;
	ma[DT_META_RSS_PEAK_BYTES] = 1000;
	ma[DT_META_THREADS] = 2;
	ma[DT_META_ALLOC_CALLS] = 3;
	ma[DT_META_DEGRADED] = DT_DEGRADED_STACK_TABLE_FULL;
	mb[DT_META_PID] = 200;
	mb[DT_META_SAMPLES] = 25;
	mb[DT_META_HEAP_PEAK_BYTES] = 300;
	mb[DT_META_HEAP_PEAK_TIME_NS] = 9;
	mb[DT_META_RSS_PEAK_BYTES] = 500;
	mb[DT_META_THREADS] = 1;
	mb[DT_META_ALLOC_CALLS] = 4;
	mb[DT_META_DEGRADED] = DT_DEGRADED_MALLOC_OFF;
	run_spec(&sa, ma, mods_a, 2, stacks_a, 1, cpu_a, 1);
	run_spec(&sb, mb, mods_b, 2, stacks_b, 2, cpu_b, 2);
	struct dt_trace *t[2] = {load(&sa), load(&sb)}, *m = NULL;
	char err[DT_READ_ERR_BYTES];

	ck_assert(dt_merge_same_program(t[0], t[1]));
	ck_assert_int_eq(dt_trace_merge(t, 2, &m, err, sizeof(err)), DT_READ_OK);
	ck_assert_uint_eq(m->meta[DT_META_PID], 100);
	ck_assert_uint_eq(m->meta[DT_META_SAMPLES], 35);
	ck_assert_uint_eq(m->meta[DT_META_ALLOC_CALLS], 7);
	ck_assert_uint_eq(m->meta[DT_META_HEAP_PEAK_BYTES], 300);
	ck_assert_uint_eq(m->meta[DT_META_HEAP_PEAK_TIME_NS], 9); /* the peak run's time */
	ck_assert_uint_eq(m->meta[DT_META_RSS_PEAK_BYTES], 1000);
	ck_assert_uint_eq(m->meta[DT_META_THREADS], 2);
	ck_assert_uint_eq(m->meta[DT_META_DEGRADED], DT_DEGRADED_STACK_TABLE_FULL | DT_DEGRADED_MALLOC_OFF);
	ck_assert_uint_eq(m->nstacks, 3);
	ck_assert_uint_eq(m->ncpu, 3);
	/* Run B's prog stack lands on run A's addresses. */
	ck_assert_uint_eq(m->stacks[m->cpu[1].stack].pcs[0], 0x1300);
	ck_assert_uint_eq(m->stacks[m->cpu[1].stack].pcs[1], 0x1101);
	/* liby collided with prog: it moved above every module, with its pc. */
	ck_assert_uint_eq(m->nmodules, 3);
	const struct dt_module *ly = dt_trace_module_for(m, m->stacks[m->cpu[2].stack].pcs[0]);
	ck_assert_ptr_nonnull(ly);
	ck_assert_str_eq(ly->path, "/nonexistent/liby.so");
	ck_assert(ly->lo >= 0x6000);
	ck_assert_uint_eq(m->stacks[m->cpu[2].stack].pcs[0] - ly->lo, 0x500);
	ck_assert_uint_eq(ly->load_bias, ly->lo); /* bias moved with it */

	/* The profile sees one function for prog+0x1300 with both runs' samples. */
	struct dt_symbolizer *sym = NULL;
	struct dt_profile *p = NULL;
	ck_assert_int_eq(dt_sym_open(m, DT_SYM_NO_DEBUG, NULL, &sym), 0);
	ck_assert_int_eq(dt_profile_build(m, sym, &p), 0);
	int found = 0;
	for (uint32_t i = 0; i < p->nfns; i++)
		if (p->fns[i]->self_samples == 30) {
			found++;
			ck_assert_str_eq(p->fns[i]->name, "prog+0x1300");
		}
	ck_assert_int_eq(found, 1);
	dt_profile_free(p);
	dt_sym_close(sym);
	dt_trace_free(m);
	dt_trace_free(t[0]);
	dt_trace_free(t[1]);
}
END_TEST

START_TEST(test_merge_rejects_empty_and_other_programs)
{
	uint64_t meta[DT_META_NFIELDS] = {0};
	struct tspec s;
	struct dt_trace *m = (struct dt_trace *)1;
	char err[DT_READ_ERR_BYTES];

	ck_assert_int_ne(dt_trace_merge(NULL, 0, &m, err, sizeof(err)), DT_READ_OK);
	ck_assert_ptr_null(m);
	run_spec(&s, meta, mods_a, 2, stacks_a, 1, cpu_a, 1);
	struct dt_trace *a = load(&s);
	s.exe = "/nonexistent/other";
	struct dt_trace *b = load(&s);
	ck_assert(!dt_merge_same_program(a, b));
	dt_trace_free(a);
	dt_trace_free(b);
}
END_TEST

/* A DT_SEC_REGIONS payload: flags, dropped, nfields, n, then records. */
static size_t regions_payload(uint8_t *p, uint32_t nfields, uint32_t n, const char *const *names)
{
	size_t off = 0;

	dt_put_u32(p + off, DT_REGIONS_ALLOC_MEASURED);
	dt_put_u64(p + off + 4, 2);
	dt_put_u32(p + off + 12, nfields);
	dt_put_u32(p + off + 16, n);
	off += 20;
	for (uint32_t i = 0; i < n; i++) {
		size_t sl = strlen(names[i]);
		dt_put_u32(p + off, (uint32_t)sl);
		memcpy(p + off + 4, names[i], sl);
		off += 4 + sl;
		for (uint32_t f = 0; f < nfields; f++, off += 8)
			dt_put_u64(p + off, (uint64_t)(i + 1) * 100 + f);
	}
	return off;
}

START_TEST(test_regions_parse)
{
	static const char *const names[] = {"alpha", "beta"};
	uint8_t buf[1024];
	struct dt_regions *r = NULL, *r2 = NULL;
	char err[256];
	size_t len = regions_payload(buf, DT_REGION_NFIELDS, 2, names);

	ck_assert_int_eq(dt_trace_parse_regions(buf, len, &r, err, sizeof(err)), 0);
	ck_assert_uint_eq(r->n, 2);
	ck_assert_uint_eq(r->dropped, 2);
	ck_assert_str_eq(r->r[1].name, "beta");
	ck_assert_uint_eq(r->r[1].f[DT_REGION_WALL_NS], 200 + DT_REGION_WALL_NS);
	/* Summing two runs: counts add, the longest pass is the longer one. */
	ck_assert_int_eq(dt_trace_parse_regions(buf, len, &r2, err, sizeof(err)), 0);
	ck_assert_int_eq(dt_regions_add(r, r2), 0);
	ck_assert_uint_eq(r->n, 2);
	ck_assert_uint_eq(r->r[0].f[DT_REGION_COUNT], 2 * (100 + DT_REGION_COUNT));
	ck_assert_uint_eq(r->r[0].f[DT_REGION_MAX_WALL_NS], 100 + DT_REGION_MAX_WALL_NS);
	/* The peak of live bytes is a per-pass extreme too: kept, not summed. */
	ck_assert_uint_eq(r->r[0].f[DT_REGION_PEAK_LIVE_BYTES], 100 + DT_REGION_PEAK_LIVE_BYTES);
	ck_assert(dt_regions_has_field(r, DT_REGION_PEAK_LIVE_BYTES));
	dt_regions_sort(r);
	ck_assert_str_eq(r->r[0].name, "beta");
	dt_regions_free(r);
	dt_regions_free(r2);

	/* A newer writer's extra fields are skipped, the known ones kept. */
	len = regions_payload(buf, DT_REGION_NFIELDS + 3, 2, names);
	ck_assert_int_eq(dt_trace_parse_regions(buf, len, &r, err, sizeof(err)), 0);
	ck_assert_str_eq(r->r[1].name, "beta");
	ck_assert_uint_eq(r->r[1].f[DT_REGION_COUNT], 200);
	dt_regions_free(r);

	/* A trace written before peak live bytes existed: the field is unknown, not 0, and a sum with a
	 * newer run keeps it unknown. */
	len = regions_payload(buf, DT_REGION_PEAK_LIVE_BYTES, 2, names);
	ck_assert_int_eq(dt_trace_parse_regions(buf, len, &r, err, sizeof(err)), 0);
	ck_assert(!dt_regions_has_field(r, DT_REGION_PEAK_LIVE_BYTES));
	ck_assert(dt_regions_has_field(r, DT_REGION_MAX_WALL_NS));
	ck_assert_uint_eq(r->r[0].f[DT_REGION_PEAK_LIVE_BYTES], 0);
	len = regions_payload(buf, DT_REGION_NFIELDS, 2, names);
	ck_assert_int_eq(dt_trace_parse_regions(buf, len, &r2, err, sizeof(err)), 0);
	ck_assert_int_eq(dt_regions_add(r2, r), 0);
	ck_assert(!dt_regions_has_field(r2, DT_REGION_PEAK_LIVE_BYTES));
	ck_assert_uint_eq(r2->runs, 2);
	dt_regions_free(r);
	dt_regions_free(r2);

	/* Every truncation is an error, never a read past the end. */
	len = regions_payload(buf, DT_REGION_NFIELDS, 2, names);
	for (size_t cut = 0; cut < len; cut++) {
		r = NULL;
		ck_assert_int_lt(dt_trace_parse_regions(buf, cut, &r, err, sizeof(err)), 0);
		ck_assert_ptr_null(r);
	}
	/* A count that the bytes cannot hold. */
	dt_put_u32(buf + 16, 1000000);
	ck_assert_int_lt(dt_trace_parse_regions(buf, len, &r, err, sizeof(err)), 0);
}
END_TEST

/* Regions travel with the trace: the reader parses them, the merge sums two runs, the profile carries
 * them sorted by wall time, and the diff makes one of them its unit. */
START_TEST(test_regions_through_the_layers)
{
	static const char *const names[] = {"alpha", "beta"};
	uint64_t meta[DT_META_NFIELDS] = {0};
	uint8_t buf[1024];
	struct tspec s;

	run_spec(&s, meta, mods_a, 2, stacks_a, 1, cpu_a, 1);
	s.regions = buf;
	s.regions_len = regions_payload(buf, DT_REGION_NFIELDS, 2, names);
	struct dt_trace *t[2] = {load(&s), load(&s)}, *m = NULL;
	char err[DT_READ_ERR_BYTES];

	ck_assert(t[0]->has_regions);
	ck_assert_ptr_nonnull(t[0]->regions);
	ck_assert_uint_eq(t[0]->regions->n, 2);
	ck_assert_int_eq(dt_trace_merge(t, 2, &m, err, sizeof(err)), DT_READ_OK);
	ck_assert_uint_eq(m->regions->n, 2);
	ck_assert_uint_eq(m->regions->dropped, 4);
	ck_assert_uint_eq(dt_regions_find(m->regions, "beta")->f[DT_REGION_COUNT], 2 * 200);

	struct dt_symbolizer *sym = NULL;
	struct dt_profile *p = NULL, *q = NULL;
	ck_assert_int_eq(dt_sym_open(m, DT_SYM_NO_DEBUG, NULL, &sym), 0);
	ck_assert_int_eq(dt_profile_build(m, sym, &p), 0);
	ck_assert_str_eq(p->regions->r[0].name, "beta"); /* the larger wall time first */
	ck_assert_int_eq(dt_profile_build(t[0], sym, &q), 0);

	struct dt_diff *d = NULL;
	ck_assert_int_eq(dt_diff_build(q, p, DT_DIFF_NOISE_PCT, &d), 0);
	ck_assert_uint_eq(d->nregions, 2);
	ck_assert_int_eq(dt_diff_focus_region(d, "alpha"), 0);
	ck_assert_int_eq(d->verdict, DT_DIFF_SLOWER); /* twice the wall time */
	ck_assert(fabs(dt_diff_verdict_delta(d)->change_pct - 100.0) < 1e-9);
	ck_assert(d->focus->peak_live_bytes.known == 1);
	ck_assert_int_eq(dt_diff_focus_region(d, "gamma"), -1);
	dt_diff_free(d);

	/* A trace without regions: an empty set in the profile, never NULL. */
	s.regions = NULL;
	struct dt_trace *none = load(&s);
	struct dt_profile *pn = NULL;
	ck_assert_ptr_null(none->regions);
	ck_assert_int_eq(dt_profile_build(none, sym, &pn), 0);
	ck_assert_ptr_nonnull(pn->regions);
	ck_assert_uint_eq(pn->regions->n, 0);
	dt_profile_free(pn);
	dt_trace_free(none);
	dt_profile_free(q);
	dt_profile_free(p);
	dt_sym_close(sym);
	dt_trace_free(m);
	dt_trace_free(t[0]);
	dt_trace_free(t[1]);
}
END_TEST

/* Baseline: X (0x1300) 10 ms, Y (0x1400) 10 ms. Optimized: X 5 ms, Z (0x1500) 2 ms. */
static const struct tstack diff_stacks[] = {
    {2, DT_STACK_LEAF_EXACT, {0x1300, 0x1101}},
    {2, DT_STACK_LEAF_EXACT, {0x1400, 0x1101}},
    {2, DT_STACK_LEAF_EXACT, {0x1500, 0x1101}},
};
static const struct tcpu diff_cpu_base[] = {{0, 10, 10000000}, {1, 10, 10000000}};
static const struct tcpu diff_cpu_opt[] = {{0, 5, 5000000}, {2, 2, 2000000}};

static struct dt_profile *diff_profile(const struct tcpu *cpu, struct dt_trace **t,
				       struct dt_symbolizer **sym)
{
	uint64_t meta[DT_META_NFIELDS] = {0};
	struct tspec s;
	struct dt_profile *p = NULL;

	run_spec(&s, meta, mods_a, 1, diff_stacks, 3, cpu, 2);
	*t = load(&s);
	ck_assert_int_eq(dt_sym_open(*t, DT_SYM_NO_DEBUG, NULL, sym), 0);
	ck_assert_int_eq(dt_profile_build(*t, *sym, &p), 0);
	return p;
}

START_TEST(test_diff)
{
	struct dt_trace *ta, *tb;
	struct dt_symbolizer *sa, *sb;
	struct dt_profile *pa = diff_profile(diff_cpu_base, &ta, &sa),
			  *pb = diff_profile(diff_cpu_opt, &tb, &sb);
	struct dt_diff *d = NULL;

	ck_assert_int_eq(dt_diff_build(pa, pb, DT_DIFF_NOISE_PCT, &d), 0);
	/* No rusage in these traces: the total is the sampled CPU, 20 ms -> 7 ms. */
	ck_assert_str_eq(d->cpu_source, "samples");
	ck_assert_double_eq_tol(d->cpu_s.change_pct, -65.0, 1e-9);
	ck_assert_int_eq(d->verdict, DT_DIFF_FASTER);
	const struct dt_diff_fn *x = dt_diff_find(d, "prog+0x1300");
	const struct dt_diff_fn *y = dt_diff_find(d, "prog+0x1400");
	const struct dt_diff_fn *z = dt_diff_find(d, "prog+0x1500");
	ck_assert_ptr_nonnull(x);
	ck_assert_ptr_nonnull(y);
	ck_assert_ptr_nonnull(z);
	ck_assert_int_eq(x->presence, DT_DIFF_BOTH);
	ck_assert_double_eq_tol(x->total_s.change_pct, -50.0, 1e-9);
	ck_assert_double_eq_tol(x->self_s.baseline, 0.010, 1e-12);
	ck_assert_int_eq(y->presence, DT_DIFF_VANISHED);
	ck_assert_double_eq_tol(y->total_s.change_pct, -100.0, 1e-9);
	ck_assert_int_eq(z->presence, DT_DIFF_APPEARED);
	ck_assert(isnan(z->total_s.change_pct));
	ck_assert(!x->calls.known); /* no -finstrument-functions data */
	/* The largest absolute change first: main's 13 ms (20 -> 7). */
	ck_assert_double_eq_tol(fabs(d->fns[0].total_s.optimized - d->fns[0].total_s.baseline), 0.013, 1e-12);
	dt_diff_free(d);

	/* The other way round it is slower; identical profiles are no change. */
	ck_assert_int_eq(dt_diff_build(pb, pa, DT_DIFF_NOISE_PCT, &d), 0);
	ck_assert_int_eq(d->verdict, DT_DIFF_SLOWER);
	dt_diff_free(d);
	ck_assert_int_eq(dt_diff_build(pa, pa, DT_DIFF_NOISE_PCT, &d), 0);
	ck_assert_int_eq(d->verdict, DT_DIFF_SAME);
	ck_assert_str_eq(dt_diff_verdict_name(d->verdict), "no significant change");
	dt_diff_free(d);
	dt_profile_free(pa);
	dt_profile_free(pb);
	dt_sym_close(sa);
	dt_sym_close(sb);
	dt_trace_free(ta);
	dt_trace_free(tb);
}
END_TEST

static Suite *merge_suite(void)
{
	Suite *s = suite_create("merge");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_merge_rebases_and_sums);
	tcase_add_test(tc, test_merge_rejects_empty_and_other_programs);
	tcase_add_test(tc, test_regions_parse);
	tcase_add_test(tc, test_regions_through_the_layers);
	tcase_add_test(tc, test_diff);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(merge_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
