/* Check suite for the profile model, the bottleneck analysis and the reporters, on synthetic
 * traces whose self/total figures are known (recursion counted once per stack). Symbolization is
 * off, so every pc is named module+offset and the tests choose which pcs share a function. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_analyzer_encoder.h"
#include "dt_bottleneck.h"
#include "dt_profile.h"
#include "dt_reader.h"
#include "dt_report.h"
#include "dt_symbolize.h"

#define MS 1000000ull

/* Functions of "prog" (bias 0): A at 0x1100, B at 0x1200, C at 0x1300. Return addresses are
 * entry+1 so that pc-1 lands on the entry; exact leaves use the entry itself. */
#define A_RET 0x1101
#define B_RET 0x1201
#define C_RET 0x1301
#define B_PC 0x1200
#define C_PC 0x1300
#define SHIM_RET 0x9101

static const struct tmod mods[] = {
    {0, 0x1000, 0x2000, "/nonexistent/prog", NULL, 0},
    {0x9000, 0x9000, 0xa000, "/nonexistent/libdeiatrace.so", NULL, 0},
};
static const struct tstack stacks[] = {
    {3, DT_STACK_LEAF_EXACT, {C_PC, B_RET, A_RET}},	   /* A -> B -> C */
    {2, DT_STACK_LEAF_EXACT, {B_PC, A_RET}},		   /* A -> B */
    {4, DT_STACK_LEAF_EXACT, {C_PC, C_RET, C_RET, A_RET}}, /* A -> C -> C -> C */
    {1, 0, {C_RET}},					   /* leaf not exact: pc-1 is C */
    {3, 0, {SHIM_RET, B_RET, A_RET}},			   /* allocation inside the shim */
    {3, 0, {C_RET, C_RET, A_RET}},			   /* allocation in recursive C */
};
static const struct tcpu cpu[] = {
    {0, 10, 10 * MS},
    {1, 5, 5 * MS},
    {2, 4, 8 * MS}, /* weighted: the fallback timer's overruns */
    {3, 1, 1 * MS},
};
static const struct talloc allocs[] = {
    {4, {3, 300, 2, 200, 100, 100, 1}},
    {5, {2, 64, 0, 0, 64, 0, 0}},
};

struct fixture {
	uint8_t *buf;
	struct dt_trace *t;
	struct dt_symbolizer *sym;
	struct dt_profile *p;
};

static void build(struct fixture *f, int with_alloc, const char *const *argv, uint32_t argc)
{
	static uint64_t meta[DT_META_NFIELDS];
	char err[DT_READ_ERR_BYTES];
	size_t len;

	memset(meta, 0, sizeof(meta));
	meta[DT_META_PID] = 4242;
	meta[DT_META_FREQ_ASKED_HZ] = 1000;
	meta[DT_META_SAMPLE_WEIGHT_NS] = 24 * MS;
	meta[DT_META_SAMPLER] = DT_SAMPLER_POSIX_TIMER;
	meta[DT_META_CPU_USER_NS] = 30 * MS;
	meta[DT_META_ALLOC_CALLS] = 5;
	meta[DT_META_LEAKED_BYTES] = 100;
	struct tspec s = {
	    .meta = meta,
	    .nmeta = DT_META_NFIELDS,
	    .exe = "/nonexistent/prog",
	    .argv = argv,
	    .argc = argc,
	    .mods = mods,
	    .nmods = 2,
	    .stacks = stacks,
	    .nstacks = 6,
	    .cpu = cpu,
	    .ncpu = 4,
	    .alloc = with_alloc ? allocs : NULL,
	    .nalloc = with_alloc ? 2 : 0,
	};
	f->buf = enc_trace(&s, &len);
	ck_assert_int_eq(dt_trace_read_mem(f->buf, len, &f->t, err, sizeof(err)), DT_READ_OK);
	ck_assert_int_eq(dt_sym_open(f->t, DT_SYM_NO_DEBUG, NULL, &f->sym), 0);
	ck_assert_int_eq(dt_profile_build(f->t, f->sym, &f->p), 0);
}

static void teardown_fixture(struct fixture *f)
{
	dt_profile_free(f->p);
	dt_sym_close(f->sym);
	dt_trace_free(f->t);
	free(f->buf);
}

static const struct dt_function *fn_named(const struct dt_profile *p, const char *name)
{
	for (uint32_t i = 0; i < p->nfns; i++)
		if (strcmp(p->fns[i]->name, name) == 0)
			return p->fns[i];
	ck_abort_msg("function %s not in the profile", name);
	return NULL;
}

static const struct dt_edge *edge(const struct dt_profile *p, const char *caller, const char *callee)
{
	uint32_t a = fn_named(p, caller)->id, b = fn_named(p, callee)->id;

	for (uint32_t i = 0; i < p->nedges; i++)
		if (p->edges[i].caller == a && p->edges[i].callee == b)
			return &p->edges[i];
	return NULL;
}

START_TEST(test_self_total_recursion)
{
	struct fixture f;
	const struct dt_function *a, *b, *c;

	build(&f, 0, NULL, 0);
	a = fn_named(f.p, "prog+0x1100");
	b = fn_named(f.p, "prog+0x1200");
	c = fn_named(f.p, "prog+0x1300");
	ck_assert_uint_eq(f.p->summary.samples, 20);
	ck_assert_uint_eq(c->self_samples, 10 + 4 + 1);
	ck_assert_uint_eq(c->total_samples, 15); /* recursion counted once, not 10 + 3*4 + 1 */
	ck_assert_uint_eq(c->self_weight_ns, 19 * MS);
	ck_assert_uint_eq(c->total_weight_ns, 19 * MS);
	ck_assert_uint_eq(b->self_samples, 5);
	ck_assert_uint_eq(b->total_samples, 15);
	ck_assert_uint_eq(a->self_samples, 0);
	ck_assert_uint_eq(a->total_samples, 19); /* stack 3 has no A */
	ck_assert_uint_eq(a->total_weight_ns, 23 * MS);
	ck_assert_double_eq_tol(dt_profile_pct(f.p, c->self_samples), 75.0, 1e-9);
	ck_assert_uint_eq(a->calls, DT_CALLS_UNKNOWN);
	ck_assert_str_eq(a->module, "prog");

	ck_assert_uint_eq(edge(f.p, "prog+0x1100", "prog+0x1200")->samples, 15);
	ck_assert_uint_eq(edge(f.p, "prog+0x1200", "prog+0x1300")->samples, 10);
	ck_assert_uint_eq(edge(f.p, "prog+0x1300", "prog+0x1300")->samples, 4); /* once per stack */
	ck_assert_uint_eq(edge(f.p, "prog+0x1100", "prog+0x1300")->samples, 4);
	ck_assert_ptr_null(edge(f.p, "prog+0x1300", "prog+0x1100"));
	teardown_fixture(&f);
}
END_TEST

START_TEST(test_summary)
{
	struct fixture f;

	build(&f, 0, NULL, 0);
	ck_assert_uint_eq(f.p->summary.pid, 4242);
	ck_assert_str_eq(f.p->summary.program, "/nonexistent/prog");
	/* 20 samples standing for 24 ms of CPU: 833 Hz achieved of 1000 asked. */
	ck_assert_double_eq_tol(f.p->summary.achieved_hz, 20 / 0.024, 1e-6);
	ck_assert_str_eq(f.p->summary.sampler_name, "posix timer (tick-limited)");
	ck_assert_int_eq(f.p->summary.partial, 0);
	ck_assert_int_eq(f.p->summary.has_alloc, 0);
	teardown_fixture(&f);
}
END_TEST

START_TEST(test_alloc_attribution)
{
	struct fixture f;
	const struct dt_function *a, *b, *c, *shim;

	build(&f, 1, NULL, 0);
	a = fn_named(f.p, "prog+0x1100");
	b = fn_named(f.p, "prog+0x1200");
	c = fn_named(f.p, "prog+0x1300");
	shim = fn_named(f.p, "libdeiatrace.so+0x100");
	ck_assert_int_eq(f.p->summary.has_alloc, 1);
	/* the shim's frame is skipped: B asked for the memory */
	ck_assert_uint_eq(shim->alloc_calls, 0);
	ck_assert_uint_eq(b->alloc_calls, 3);
	ck_assert_uint_eq(b->alloc_bytes, 300);
	ck_assert_uint_eq(b->leaked_bytes, 100);
	ck_assert_uint_eq(b->leaked_blocks, 1);
	ck_assert_uint_eq(a->alloc_calls, 0);
	ck_assert_uint_eq(a->alloc_calls_total, 5);
	ck_assert_uint_eq(a->alloc_bytes_total, 364);
	ck_assert_uint_eq(a->peak_live_bytes, 164);
	/* recursive C counted once per stack */
	ck_assert_uint_eq(c->alloc_calls, 2);
	ck_assert_uint_eq(c->alloc_calls_total, 2);
	ck_assert_uint_eq(c->alloc_bytes_total, 64);
	ck_assert_uint_eq(c->peak_live_bytes, 64);
	ck_assert_uint_eq(f.p->summary.alloc_calls, 5);
	teardown_fixture(&f);
}
END_TEST

START_TEST(test_allocator_names)
{
	ck_assert_int_eq(dt_profile_is_allocator("malloc"), 1);
	ck_assert_int_eq(dt_profile_is_allocator("operator new(unsigned long)"), 1);
	ck_assert_int_eq(dt_profile_is_allocator("operator new[](unsigned long)"), 1);
	ck_assert_int_eq(dt_profile_is_allocator("strdup"), 1);
	ck_assert_int_eq(dt_profile_is_allocator("malloc_trim_helper"), 0);
	ck_assert_int_eq(dt_profile_is_allocator("main"), 0);
	ck_assert_int_eq(dt_profile_is_allocator(NULL), 0);
}
END_TEST

START_TEST(test_bottlenecks)
{
	struct fixture f;
	struct dt_bottleneck *b;
	size_t n;

	build(&f, 0, NULL, 0);
	ck_assert_int_eq(dt_bottlenecks_find(f.p, 20.0, 0, &b, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(b[0].fn->name, "prog+0x1300");
	ck_assert_double_eq_tol(b[0].time_pct, 75.0, 1e-9);
	ck_assert_str_eq(b[1].fn->name, "prog+0x1200");
	free(b);
	ck_assert_int_eq(dt_bottlenecks_find(f.p, 30.0, 0, &b, &n), 0);
	ck_assert_uint_eq(n, 1);
	free(b);
	ck_assert_int_eq(dt_bottlenecks_find(f.p, 90.0, 1, &b, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(b[0].fn->name, "prog+0x1100"); /* 19 of 20 inclusive */
	free(b);
	ck_assert_int_eq(dt_bottlenecks_find(f.p, 99.0, 1, &b, &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_null(b);
	teardown_fixture(&f);
}
END_TEST

static char *render(int (*fn)(FILE *, const struct dt_profile *, const struct dt_report_opts *),
		    const struct dt_profile *p)
{
	struct dt_report_opts o;
	char *text = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);

	dt_report_opts_default(&o);
	ck_assert_int_eq(fn(m, p, &o), 0);
	fclose(m);
	return text;
}

START_TEST(test_folded)
{
	struct fixture f;

	build(&f, 0, NULL, 0);
	char *text = render(dt_report_folded, f.p);
	ck_assert_str_eq(text, "prog+0x1100;prog+0x1200 5\n"
			       "prog+0x1100;prog+0x1200;prog+0x1300 10\n"
			       "prog+0x1100;prog+0x1300;prog+0x1300;prog+0x1300 4\n"
			       "prog+0x1300 1\n");
	free(text);
	teardown_fixture(&f);
}
END_TEST

/* Folded lines are split on ';' and newlines: frame names must not contain them. */
START_TEST(test_folded_sanitizes_names)
{
	static const struct tmod odd[] = {{0, 0x1000, 0x2000, "/x/we;ird\nlib.so", NULL, 0}};
	static const struct tstack st[] = {{2, DT_STACK_LEAF_EXACT, {0x1200, 0x1101}}};
	static const struct tcpu c[] = {{0, 2, 2}};
	struct tspec spec = {.mods = odd, .nmods = 1, .stacks = st, .nstacks = 1, .cpu = c, .ncpu = 1};
	struct dt_trace *t;
	struct dt_symbolizer *sym;
	struct dt_profile *p;
	char err[DT_READ_ERR_BYTES];
	size_t len;
	uint8_t *buf = enc_trace(&spec, &len);

	ck_assert_int_eq(dt_trace_read_mem(buf, len, &t, err, sizeof(err)), DT_READ_OK);
	ck_assert_int_eq(dt_sym_open(t, DT_SYM_NO_DEBUG, NULL, &sym), 0);
	ck_assert_int_eq(dt_profile_build(t, sym, &p), 0);
	char *text = render(dt_report_folded, p);
	ck_assert_str_eq(text, "we:ird lib.so+0x1100;we:ird lib.so+0x1200 2\n");
	free(text);
	dt_profile_free(p);
	dt_sym_close(sym);
	dt_trace_free(t);
	free(buf);
}
END_TEST

static char *json_of(const char *s)
{
	char *text = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);

	dt_json_put_string(m, s);
	fclose(m);
	return text;
}

START_TEST(test_json_escape)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"plain", "\"plain\""},
	    {"q\"b\\s/", "\"q\\\"b\\\\s/\""},
	    {"\n\r\t\x01\x1f\x7f", "\"\\n\\r\\t\\u0001\\u001f\\u007f\""},
	    {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\""},
	    {"a\xff"
	     "b",
	     "\"a\xef\xbf\xbd"
	     "b\""},							  /* invalid byte */
	    {"\xc0\xaf", "\"\xef\xbf\xbd\xef\xbf\xbd\""},		  /* overlong '/' */
	    {"\xed\xa0\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""}, /* surrogate */
	    {"\xe2\x82", "\"\xef\xbf\xbd\xef\xbf\xbd\""},		  /* truncated sequence */
	    {"\xf4\x90\x80\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""}, /* > U+10FFFF */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = json_of(cases[i].in);
		ck_assert_msg(strcmp(got, cases[i].out) == 0, "case %zu: got %s", i, got);
		free(got);
	}
	char *got = json_of(NULL);
	ck_assert_str_eq(got, "null");
	free(got);
}
END_TEST

START_TEST(test_json_report_fields)
{
	static const char *const argv[] = {"prog", "we\"ird\n"};
	struct fixture f;

	build(&f, 1, argv, 2);
	char *text = render(dt_report_json, f.p);
	static const char *const needles[] = {
	    "{\"deiatrace_json_version\":1,",
	    "\"program\":\"/nonexistent/prog\"",
	    "\"argv\":[\"prog\",\"we\\\"ird\\n\"]",
	    "\"pid\":4242",
	    "\"samples\":20",
	    "\"sample_hz\":1000",
	    "\"achieved_hz\":833.333333",
	    "\"partial\":false",
	    "\"functions\":[",
	    "\"name\":\"prog+0x1300\"",
	    "\"calls\":null",
	    "\"self_samples\":15",
	    "\"total_pct\":75.000000",
	    "\"bottlenecks\":[",
	    "\"time_pct\":75.000000",
	    "\"callgraph\":[",
	    "{\"caller\":\"prog+0x1100\",\"callee\":\"prog+0x1200\",\"samples\":15",
	    "\"alloc_bytes_total\":364",
	    "\"peak_live_bytes\":164",
	    "\"allocations\":5",
	    "\"leaked_bytes\":100",
	    "\"memory_tracked\":true",
	};
	for (size_t i = 0; i < sizeof(needles) / sizeof(needles[0]); i++)
		ck_assert_msg(strstr(text, needles[i]), "JSON lacks %s:\n%s", needles[i], text);
	free(text);
	teardown_fixture(&f);
}
END_TEST

START_TEST(test_text_fits_100_columns)
{
	char longarg[400];
	const char *argv[] = {"prog", longarg};
	struct fixture f;

	memset(longarg, 'x', sizeof(longarg) - 1);
	longarg[sizeof(longarg) - 1] = '\0';
	build(&f, 1, argv, 2);
	/* a very long function name */
	static char longname[300];
	memset(longname, 'n', sizeof(longname) - 1);
	((struct dt_function *)f.p->fns[0])->name = longname;
	char *text = render(dt_report_text, f.p);
	size_t lines = 0;
	for (char *line = text, *nl; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		ck_assert_ptr_nonnull(nl);
		ck_assert_msg(nl - line <= (long)DT_REPORT_WIDTH_COLS, "line of %ld columns: %.*s",
			      (long)(nl - line), (int)(nl - line), line);
		lines++;
	}
	ck_assert_uint_gt(lines, 15);
	ck_assert_ptr_nonnull(strstr(text, "nnn..."));
	ck_assert_ptr_nonnull(strstr(text, "Bottlenecks"));
	ck_assert_ptr_nonnull(strstr(text, "Memory"));
	ck_assert_ptr_nonnull(strstr(text, "called from:"));
	ck_assert_ptr_null(strstr(text, "partial trace"));
	free(text);
	teardown_fixture(&f);
}
END_TEST

START_TEST(test_fit_helpers)
{
	char buf[64];

	ck_assert_str_eq(dt_fmt_fit(buf, sizeof(buf), "abcdefgh", 8), "abcdefgh");
	ck_assert_str_eq(dt_fmt_fit(buf, sizeof(buf), "abcdefghi", 8), "abcde...");
	ck_assert_str_eq(dt_fmt_fit_tail(buf, sizeof(buf), "dir/file.c:12", 10), "...le.c:12");
	ck_assert_str_eq(dt_fmt_fit(buf, sizeof(buf), "a\nb\x1b[31m", 20), "a b [31m");
	ck_assert_str_eq(dt_fmt_fit_tail(buf, sizeof(buf), "x\ty\n", 20), "x y ");
	ck_assert_str_eq(dt_fmt_bytes(buf, sizeof(buf), 1023), "1023 B");
	ck_assert_str_eq(dt_fmt_bytes(buf, sizeof(buf), 3 * 1024 * 1024 / 2), "1.5 MiB");
}
END_TEST

/* Exact call counts (DT_SEC_CALLS) land on the function at fn_addr, looked up without pc-1. */
START_TEST(test_calls_and_partial_banner)
{
	struct enc e = {0};
	struct dt_trace *t;
	struct dt_symbolizer *sym;
	struct dt_profile *p;
	char err[DT_READ_ERR_BYTES];

	enc_header(&e, DT_TRACE_VERSION, DT_FLAG_CHECKPOINT);
	enc_begin(&e, DT_SEC_MODULES);
	enc_u32(&e, 1);
	enc_u64(&e, 0);
	enc_u64(&e, 0x1000);
	enc_u64(&e, 0x2000);
	enc_u32(&e, 0);
	enc_str(&e, "/nonexistent/prog");
	enc_end(&e);
	enc_begin(&e, DT_SEC_STACKS);
	enc_u32(&e, 1);
	enc_u32(&e, 2);
	enc_u32(&e, DT_STACK_LEAF_EXACT);
	enc_u64(&e, C_PC);
	enc_u64(&e, A_RET);
	enc_end(&e);
	enc_begin(&e, DT_SEC_CPU);
	enc_u32(&e, 1);
	enc_u32(&e, 0);
	enc_u64(&e, 3);
	enc_u64(&e, 3 * MS);
	enc_end(&e);
	enc_begin(&e, DT_SEC_CALLS);
	enc_u32(&e, 2);
	for (int i = 0; i < 2; i++) { /* two records for C: summed */
		enc_u64(&e, C_PC);
		enc_u64(&e, 7);
		enc_u64(&e, 100);
		enc_u64(&e, 50);
		enc_u64(&e, 9);
	}
	enc_end(&e);
	enc_end_marker(&e);
	ck_assert_int_eq(dt_trace_read_mem(e.buf, e.len, &t, err, sizeof(err)), DT_READ_OK);
	ck_assert_int_eq(dt_sym_open(t, DT_SYM_NO_DEBUG, NULL, &sym), 0);
	ck_assert_int_eq(dt_profile_build(t, sym, &p), 0);
	ck_assert_uint_eq(fn_named(p, "prog+0x1300")->calls, 14);
	ck_assert_uint_eq(fn_named(p, "prog+0x1100")->calls, DT_CALLS_UNKNOWN);
	ck_assert_int_eq(p->summary.partial, 1);
	char *text = render(dt_report_text, p);
	ck_assert_ptr_nonnull(strstr(text, "*** partial trace: checkpoint"));
	ck_assert_ptr_nonnull(strstr(text, "        14 prog+0x1300"));
	free(text);
	text = render(dt_report_json, p);
	ck_assert_ptr_nonnull(strstr(text, "\"partial\":true"));
	ck_assert_ptr_nonnull(strstr(text, "\"calls\":14"));
	free(text);
	dt_profile_free(p);
	dt_sym_close(sym);
	dt_trace_free(t);
	free(e.buf);
}
END_TEST

static Suite *profile_suite(void)
{
	Suite *s = suite_create("dt_profile");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_self_total_recursion);
	tcase_add_test(tc, test_summary);
	tcase_add_test(tc, test_alloc_attribution);
	tcase_add_test(tc, test_allocator_names);
	tcase_add_test(tc, test_bottlenecks);
	tcase_add_test(tc, test_folded);
	tcase_add_test(tc, test_folded_sanitizes_names);
	tcase_add_test(tc, test_json_escape);
	tcase_add_test(tc, test_json_report_fields);
	tcase_add_test(tc, test_text_fits_100_columns);
	tcase_add_test(tc, test_fit_helpers);
	tcase_add_test(tc, test_calls_and_partial_banner);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(profile_suite());
	int failed;

	srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
