/* Check suite for dt_reader: round trips of encoder-built traces, and rejection of every kind of
 * malformed input (truncation at every length, single-byte flips, bad counts, lengths and ids).
 * Runs in fork mode so a crash is a failure. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_analyzer_encoder.h"
#include "dt_profile.h"
#include "dt_reader.h"
#include "dt_report.h"
#include "dt_symbolize.h"

static const uint8_t build_id_a[] = {0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x03, 0x04};
static const char *const sample_argv[] = {"./prog", "--flag", "arg with spaces"};
static uint64_t sample_meta[DT_META_NFIELDS];
static const struct tmod sample_mods[] = {
    {0x400000, 0x400000, 0x500000, "/nonexistent/prog", build_id_a, sizeof(build_id_a)},
    {0x7f0000000000, 0x7f0000001000, 0x7f0000100000, "/nonexistent/libc.so.6", NULL, 0},
};
static const struct tstack sample_stacks[] = {
    {3, DT_STACK_LEAF_EXACT, {0x401000, 0x402005, 0x403009}},
    {2, 0, {0x7f0000002000, 0x402005}},
    {0, 0, {0}},
};
static const struct tcpu sample_cpu[] = {
    {0, 10, 10000000},
    {1, 5, 7000000},
    {2, 1, 1000000},
};
static const struct talloc sample_alloc[] = {
    {1, {3, 300, 2, 200, 100, 100, 1}},
};

static struct tspec sample_spec(void)
{
	for (unsigned i = 0; i < DT_META_NFIELDS; i++)
		sample_meta[i] = 1000 + i;
	struct tspec s = {
	    .meta = sample_meta,
	    .nmeta = DT_META_NFIELDS,
	    .exe = "/usr/bin/prog",
	    .argv = sample_argv,
	    .argc = 3,
	    .mods = sample_mods,
	    .nmods = 2,
	    .stacks = sample_stacks,
	    .nstacks = 3,
	    .cpu = sample_cpu,
	    .ncpu = 3,
	    .alloc = sample_alloc,
	    .nalloc = 1,
	};
	return s;
}

static int read_buf(const uint8_t *buf, size_t len, struct dt_trace **t, char *err)
{
	return dt_trace_read_mem(buf, len, t, err, DT_READ_ERR_BYTES);
}

/* Runs a parsed trace through the whole pipeline without opening any file. */
static void exercise(const struct dt_trace *t)
{
	struct dt_symbolizer *sym;
	struct dt_profile *p;
	struct dt_report_opts o;
	FILE *devnull = fopen("/dev/null", "w");

	ck_assert_ptr_nonnull(devnull);
	dt_report_opts_default(&o);
	ck_assert_int_eq(dt_sym_open(t, DT_SYM_NO_DEBUG, NULL, &sym), 0);
	ck_assert_int_eq(dt_profile_build(t, sym, &p), 0);
	ck_assert_int_eq(dt_report_text(devnull, p, &o), 0);
	ck_assert_int_eq(dt_report_json(devnull, p, &o), 0);
	ck_assert_int_eq(dt_report_markdown(devnull, p, &o), 0);
	ck_assert_int_eq(dt_report_folded(devnull, p, &o), 0);
	dt_profile_free(p);
	dt_sym_close(sym);
	fclose(devnull);
}

START_TEST(test_round_trip)
{
	struct tspec s = sample_spec();
	size_t len;
	uint8_t *buf = enc_trace(&s, &len);
	struct dt_trace *t;
	char err[DT_READ_ERR_BYTES];

	ck_assert_int_eq(read_buf(buf, len, &t, err), DT_READ_OK);
	ck_assert_int_eq(t->partial, 0);
	ck_assert_int_eq(t->version, DT_TRACE_VERSION);
	for (unsigned i = 0; i < DT_META_NFIELDS; i++)
		ck_assert_uint_eq(t->meta[i], 1000 + i);
	ck_assert_str_eq(t->exe, "/usr/bin/prog");
	ck_assert_uint_eq(t->argc, 3);
	ck_assert_str_eq(t->argv[2], "arg with spaces");
	ck_assert_uint_eq(t->nmodules, 2);
	ck_assert_str_eq(t->modules[1].path, "/nonexistent/libc.so.6");
	ck_assert_uint_eq(t->modules[0].load_bias, 0x400000);
	ck_assert_uint_eq(t->modules[0].build_id_len, sizeof(build_id_a));
	ck_assert_mem_eq(t->modules[0].build_id, build_id_a, sizeof(build_id_a));
	ck_assert_uint_eq(t->modules[1].hi, 0x7f0000100000);
	ck_assert_uint_eq(t->nstacks, 3);
	ck_assert_uint_eq(t->stacks[0].depth, 3);
	ck_assert_uint_eq(t->stacks[0].flags, DT_STACK_LEAF_EXACT);
	ck_assert_uint_eq(t->stacks[0].pcs[2], 0x403009);
	ck_assert_uint_eq(t->stacks[1].pcs[0], 0x7f0000002000);
	ck_assert_uint_eq(t->stacks[2].depth, 0);
	ck_assert_uint_eq(t->ncpu, 3);
	ck_assert_uint_eq(t->cpu[1].samples, 5);
	ck_assert_uint_eq(t->cpu[1].weight_ns, 7000000);
	ck_assert_uint_eq(t->nalloc, 1);
	ck_assert_uint_eq(t->alloc[0].f[DT_ALLOC_PEAK_LIVE_BYTES], 100);
	ck_assert_ptr_eq(dt_trace_module_for(t, 0x7f0000002000), &t->modules[1]);
	ck_assert_ptr_null(dt_trace_module_for(t, 0x10));
	exercise(t);
	dt_trace_free(t);
	free(buf);
}
END_TEST

/* Every proper prefix is either rejected or read as partial: never "complete", never a crash. */
START_TEST(test_every_truncation)
{
	struct tspec s = sample_spec();
	size_t len, partials = 0, errors = 0;
	uint8_t *buf = enc_trace(&s, &len);
	size_t meta_end = DT_FILE_HEADER_BYTES + DT_SECTION_HEADER_BYTES + 4 + 8 * (size_t)DT_META_NFIELDS;

	ck_assert_uint_eq(dt_get_u32(buf + DT_FILE_HEADER_BYTES), DT_SEC_META);
	for (size_t n = 0; n < len; n++) {
		/* A private copy of exactly n bytes, so ASan catches any read past the end. */
		uint8_t *cut = malloc(n ? n : 1);
		struct dt_trace *t;
		char err[DT_READ_ERR_BYTES];

		memcpy(cut, buf, n);
		int rc = read_buf(cut, n, &t, err);
		if (rc == DT_READ_OK) {
			ck_assert_msg(t->partial, "prefix of %zu/%zu bytes read as complete", n, len);
			exercise(t);
			dt_trace_free(t);
			partials++;
		} else {
			ck_assert_ptr_null(t);
			ck_assert_msg(err[0] != '\0', "no message for prefix %zu", n);
			errors++;
		}
		/* meta is the first section: a cut before its end leaves nothing to report */
		if (n < meta_end)
			ck_assert_msg(rc != DT_READ_OK,
				      "prefix of %zu bytes, before meta's end at %zu, accepted", n, meta_end);
		free(cut);
	}
	ck_assert_uint_gt(partials, 0);
	ck_assert_uint_gt(errors, 0);
	free(buf);
}
END_TEST

/* Every single-byte change yields an error or a trace the whole pipeline handles. */
START_TEST(test_every_byte_flip)
{
	static const uint8_t masks[] = {0x01, 0x80, 0xff, 0x7f};
	struct tspec s = sample_spec();
	size_t len, errors = 0;
	uint8_t *buf = enc_trace(&s, &len);
	uint8_t *copy = malloc(len);

	for (size_t i = 0; i < len; i++) {
		for (size_t m = 0; m < sizeof(masks); m++) {
			struct dt_trace *t;
			char err[DT_READ_ERR_BYTES];

			memcpy(copy, buf, len);
			copy[i] ^= masks[m];
			if (read_buf(copy, len, &t, err) == DT_READ_OK) {
				exercise(t);
				dt_trace_free(t);
			} else {
				errors++;
			}
		}
	}
	/* The crc32 catches payload flips: most flips must be errors. */
	ck_assert_uint_gt(errors, len * sizeof(masks) / 2);
	free(copy);
	free(buf);
}
END_TEST

static uint8_t *one_section(uint32_t version, uint32_t id, const uint8_t *payload, size_t n, size_t *len)
{
	struct enc e = {0};

	enc_header(&e, version, 0);
	enc_begin(&e, id);
	enc_bytes(&e, payload, n);
	enc_end(&e);
	enc_end_marker(&e);
	*len = e.len;
	return e.buf;
}

static void expect_error(const uint8_t *buf, size_t len, int code, const char *needle)
{
	struct dt_trace *t = (struct dt_trace *)1;
	char err[DT_READ_ERR_BYTES];

	ck_assert_int_eq(read_buf(buf, len, &t, err), code);
	ck_assert_ptr_null(t);
	ck_assert_msg(strstr(err, needle), "message '%s' lacks '%s'", err, needle);
}

START_TEST(test_bad_magic_and_version)
{
	size_t len;
	uint8_t *buf = one_section(DT_TRACE_VERSION, DT_SEC_META, (const uint8_t *)"\0\0\0\0", 4, &len);

	buf[0] = 'X';
	expect_error(buf, len, DT_READ_EFORMAT, "magic");
	free(buf);
	buf = one_section(DT_TRACE_VERSION + 1, DT_SEC_META, (const uint8_t *)"\0\0\0\0", 4, &len);
	expect_error(buf, len, DT_READ_EVERSION, "newer");
	free(buf);
	buf = one_section(0, DT_SEC_META, (const uint8_t *)"\0\0\0\0", 4, &len);
	expect_error(buf, len, DT_READ_EFORMAT, "version");
	free(buf);
}
END_TEST

START_TEST(test_huge_counts_rejected)
{
	static const uint32_t ids[] = {DT_SEC_META, DT_SEC_CMDLINE, DT_SEC_MODULES, DT_SEC_STACKS,
				       DT_SEC_CPU,  DT_SEC_ALLOC,   DT_SEC_CALLS};
	uint8_t payload[12];
	size_t len;

	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		/* cmdline starts with a string: give it an empty exe, then the count. */
		size_t off = ids[i] == DT_SEC_CMDLINE ? 4 : 0;
		memset(payload, 0, sizeof(payload));
		dt_put_u32(payload + off, UINT32_MAX);
		uint8_t *buf = one_section(DT_TRACE_VERSION, ids[i], payload, off + 8, &len);
		expect_error(buf, len, DT_READ_EFORMAT, "4294967295");
		free(buf);
	}
}
END_TEST

START_TEST(test_zero_counts_ok)
{
	static const uint32_t ids[] = {DT_SEC_MODULES, DT_SEC_STACKS, DT_SEC_CPU, DT_SEC_ALLOC, DT_SEC_CALLS};
	struct enc e = {0};
	struct dt_trace *t;
	char err[DT_READ_ERR_BYTES];

	enc_header(&e, DT_TRACE_VERSION, 0);
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		enc_begin(&e, ids[i]);
		enc_u32(&e, 0);
		enc_end(&e);
	}
	enc_end_marker(&e);
	ck_assert_int_eq(read_buf(e.buf, e.len, &t, err), DT_READ_OK);
	ck_assert_int_eq(t->partial, 0);
	ck_assert_uint_eq(t->nstacks + t->ncpu + t->nalloc + t->ncalls + t->nmodules, 0);
	exercise(t);
	dt_trace_free(t);
	free(e.buf);
}
END_TEST

START_TEST(test_huge_lengths)
{
	struct enc e = {0};
	struct dt_trace *t;
	char err[DT_READ_ERR_BYTES];

	/* A section claiming 2^63 bytes after a complete meta: the tail is unusable, the trace is
	 * partial without it. */
	enc_header(&e, DT_TRACE_VERSION, 0);
	enc_begin(&e, DT_SEC_META);
	enc_u32(&e, 1);
	enc_u64(&e, 99);
	enc_end(&e);
	enc_u32(&e, DT_SEC_STACKS);
	enc_u32(&e, 0);
	enc_u64(&e, UINT64_C(1) << 63);
	enc_u32(&e, 0);
	ck_assert_int_eq(read_buf(e.buf, e.len, &t, err), DT_READ_OK);
	ck_assert_int_eq(t->partial, 1);
	ck_assert_int_eq(t->has_stacks, 0);
	ck_assert_uint_eq(t->meta[DT_META_PID], 99);
	dt_trace_free(t);
	free(e.buf);

	/* The same without meta: nothing readable, rejected. */
	memset(&e, 0, sizeof(e));
	enc_header(&e, DT_TRACE_VERSION, 0);
	enc_u32(&e, DT_SEC_STACKS);
	enc_u32(&e, 0);
	enc_u64(&e, UINT64_C(1) << 63);
	expect_error(e.buf, e.len, DT_READ_EFORMAT, "meta section expected");
	free(e.buf);

	/* An unknown id with a length past the end: garbage after a valid header, not a truncation. */
	memset(&e, 0, sizeof(e));
	enc_header(&e, DT_TRACE_VERSION, 0);
	enc_u32(&e, 0x8badf00d);
	enc_u32(&e, 0);
	enc_u64(&e, 1000);
	enc_u64(&e, 0);
	expect_error(e.buf, e.len, DT_READ_EFORMAT, "section header");
	free(e.buf);

	/* A string claiming 4 GiB - 1 bytes. */
	uint8_t payload[8] = {0};
	size_t len;
	dt_put_u32(payload, UINT32_MAX);
	uint8_t *buf = one_section(DT_TRACE_VERSION, DT_SEC_CMDLINE, payload, sizeof(payload), &len);
	expect_error(buf, len, DT_READ_EFORMAT, "string");
	free(buf);
	/* A string just above the limit, with the bytes present. */
	size_t big = DT_MAX_STRING_BYTES + 1;
	uint8_t *p = calloc(1, big + 8);
	dt_put_u32(p, (uint32_t)big);
	memset(p + 4, 'a', big);
	buf = one_section(DT_TRACE_VERSION, DT_SEC_CMDLINE, p, big + 8, &len);
	expect_error(buf, len, DT_READ_EFORMAT, "at most");
	free(buf);
	free(p);
}
END_TEST

START_TEST(test_stack_limits)
{
	struct enc e = {0};
	size_t len;

	/* depth DT_MAX_STACK_DEPTH + 1 with all pcs present */
	enc_u32(&e, 1);
	enc_u32(&e, DT_MAX_STACK_DEPTH + 1);
	enc_u32(&e, 0);
	for (unsigned i = 0; i <= DT_MAX_STACK_DEPTH; i++)
		enc_u64(&e, 0x1000 + i);
	uint8_t *buf = one_section(DT_TRACE_VERSION, DT_SEC_STACKS, e.buf, e.len, &len);
	expect_error(buf, len, DT_READ_EFORMAT, "depth");
	free(buf);
	free(e.buf);

	/* depth exactly at the limit is fine */
	memset(&e, 0, sizeof(e));
	enc_u32(&e, 1);
	enc_u32(&e, DT_MAX_STACK_DEPTH);
	enc_u32(&e, 0);
	for (unsigned i = 0; i < DT_MAX_STACK_DEPTH; i++)
		enc_u64(&e, 0x1000 + i);
	buf = one_section(DT_TRACE_VERSION, DT_SEC_STACKS, e.buf, e.len, &len);
	struct dt_trace *t;
	char err[DT_READ_ERR_BYTES];
	ck_assert_int_eq(read_buf(buf, len, &t, err), DT_READ_OK);
	ck_assert_uint_eq(t->stacks[0].depth, DT_MAX_STACK_DEPTH);
	dt_trace_free(t);
	free(buf);
	free(e.buf);
}
END_TEST

START_TEST(test_stack_id_out_of_range)
{
	static const struct tstack st[] = {{1, 0, {0x1000}}};
	struct tcpu cpu[] = {{1, 1, 1}};
	struct talloc al[] = {{7, {1}}};
	struct tspec s = {.stacks = st, .nstacks = 1, .cpu = cpu, .ncpu = 1};
	size_t len;
	uint8_t *buf = enc_trace(&s, &len);

	expect_error(buf, len, DT_READ_EFORMAT, "stack id below 1");
	free(buf);
	cpu[0].stack = 0;
	s.alloc = al;
	s.nalloc = 1;
	buf = enc_trace(&s, &len);
	expect_error(buf, len, DT_READ_EFORMAT, "found 7");
	free(buf);
	cpu[0].stack = UINT32_MAX;
	s.alloc = NULL;
	buf = enc_trace(&s, &len);
	expect_error(buf, len, DT_READ_EFORMAT, "found 4294967295");
	free(buf);
}
END_TEST

START_TEST(test_crc_mismatch)
{
	struct tspec s = sample_spec();
	size_t len;
	uint8_t *buf = enc_trace(&s, &len);

	/* the first payload byte of the first section (meta's field count) */
	buf[DT_FILE_HEADER_BYTES + DT_SECTION_HEADER_BYTES] ^= 0x10;
	expect_error(buf, len, DT_READ_EFORMAT, "crc32");
	free(buf);
}
END_TEST

START_TEST(test_partial_and_checkpoint)
{
	struct tspec s = sample_spec();
	size_t len;
	struct dt_trace *t;
	char err[DT_READ_ERR_BYTES];

	s.no_end = 1;
	uint8_t *buf = enc_trace(&s, &len);
	ck_assert_int_eq(read_buf(buf, len, &t, err), DT_READ_OK);
	ck_assert_int_eq(t->partial, 1);
	ck_assert_ptr_nonnull(strstr(t->partial_why, "end marker"));
	ck_assert_uint_eq(t->ncpu, 3);
	dt_trace_free(t);
	free(buf);

	s.no_end = 0;
	s.flags = DT_FLAG_CHECKPOINT;
	buf = enc_trace(&s, &len);
	ck_assert_int_eq(read_buf(buf, len, &t, err), DT_READ_OK);
	ck_assert_int_eq(t->partial, 1);
	ck_assert_ptr_nonnull(strstr(t->partial_why, "checkpoint"));
	dt_trace_free(t);
	free(buf);
}
END_TEST

START_TEST(test_meta_short_long_and_unknown_sections)
{
	struct enc e = {0};
	struct dt_trace *t;
	char err[DT_READ_ERR_BYTES];

	enc_header(&e, DT_TRACE_VERSION, 0);
	enc_begin(&e, 0x1234); /* a section from the future */
	enc_u64(&e, 42);
	enc_end(&e);
	enc_begin(&e, DT_SEC_META);
	enc_u32(&e, 2); /* an old writer: only pid and ppid */
	enc_u64(&e, 77);
	enc_u64(&e, 1);
	enc_end(&e);
	enc_end_marker(&e);
	ck_assert_int_eq(read_buf(e.buf, e.len, &t, err), DT_READ_OK);
	ck_assert_uint_eq(t->meta[DT_META_PID], 77);
	ck_assert_uint_eq(t->meta[DT_META_WALL_NS], 0);
	ck_assert_uint_eq(t->meta[DT_META_NFIELDS - 1], 0);
	ck_assert_uint_eq(t->unknown_sections, 1);
	dt_trace_free(t);
	free(e.buf);

	/* A newer writer: more fields than this reader knows. */
	memset(&e, 0, sizeof(e));
	enc_header(&e, DT_TRACE_VERSION, 0);
	enc_begin(&e, DT_SEC_META);
	enc_u32(&e, DT_META_NFIELDS + 5);
	for (unsigned i = 0; i < DT_META_NFIELDS + 5; i++)
		enc_u64(&e, i + 1);
	enc_end(&e);
	enc_end_marker(&e);
	ck_assert_int_eq(read_buf(e.buf, e.len, &t, err), DT_READ_OK);
	ck_assert_uint_eq(t->meta[DT_META_NFIELDS - 1], DT_META_NFIELDS);
	ck_assert_uint_eq(t->meta_fields, DT_META_NFIELDS + 5);
	dt_trace_free(t);
	free(e.buf);
}
END_TEST

START_TEST(test_structural_errors)
{
	struct enc e = {0};
	size_t len;
	uint8_t *buf;

	/* duplicate section */
	enc_header(&e, DT_TRACE_VERSION, 0);
	for (int i = 0; i < 2; i++) {
		enc_begin(&e, DT_SEC_STACKS);
		enc_u32(&e, 0);
		enc_end(&e);
	}
	enc_end_marker(&e);
	expect_error(e.buf, e.len, DT_READ_EFORMAT, "second");
	free(e.buf);

	/* trailing bytes inside a section */
	uint8_t extra[6] = {0};
	buf = one_section(DT_TRACE_VERSION, DT_SEC_CPU, extra, sizeof(extra), &len);
	expect_error(buf, len, DT_READ_EFORMAT, "extra");
	free(buf);

	/* module with lo > hi, and with a too-long build-id */
	memset(&e, 0, sizeof(e));
	enc_u32(&e, 1);
	enc_u64(&e, 0);
	enc_u64(&e, 0x2000);
	enc_u64(&e, 0x1000);
	enc_u32(&e, 0);
	enc_str(&e, "/x");
	buf = one_section(DT_TRACE_VERSION, DT_SEC_MODULES, e.buf, e.len, &len);
	expect_error(buf, len, DT_READ_EFORMAT, "start <= end");
	free(buf);
	free(e.buf);
	memset(&e, 0, sizeof(e));
	enc_u32(&e, 1);
	enc_u64(&e, 0);
	enc_u64(&e, 0x1000);
	enc_u64(&e, 0x2000);
	enc_u32(&e, DT_MAX_BUILD_ID_BYTES + 1);
	for (unsigned i = 0; i <= DT_MAX_BUILD_ID_BYTES; i++)
		enc_bytes(&e, "x", 1);
	enc_str(&e, "/x");
	buf = one_section(DT_TRACE_VERSION, DT_SEC_MODULES, e.buf, e.len, &len);
	expect_error(buf, len, DT_READ_EFORMAT, "build-id");
	free(buf);
	free(e.buf);

	/* non-empty end marker */
	memset(&e, 0, sizeof(e));
	enc_header(&e, DT_TRACE_VERSION, 0);
	enc_begin(&e, DT_SEC_END);
	enc_u32(&e, 0);
	enc_end(&e);
	expect_error(e.buf, e.len, DT_READ_EFORMAT, "empty");
	free(e.buf);

	/* a string with an embedded NUL */
	memset(&e, 0, sizeof(e));
	enc_u32(&e, 3);
	enc_bytes(&e, "a\0b", 3);
	enc_u32(&e, 0);
	buf = one_section(DT_TRACE_VERSION, DT_SEC_CMDLINE, e.buf, e.len, &len);
	expect_error(buf, len, DT_READ_EFORMAT, "NUL");
	free(buf);
	free(e.buf);
}
END_TEST

START_TEST(test_calls_section)
{
	struct enc e = {0};
	struct dt_trace *t;
	char err[DT_READ_ERR_BYTES];
	size_t len;

	enc_u32(&e, 2);
	for (uint64_t i = 1; i <= 10; i++)
		enc_u64(&e, i);
	uint8_t *buf = one_section(DT_TRACE_VERSION, DT_SEC_CALLS, e.buf, e.len, &len);
	ck_assert_int_eq(read_buf(buf, len, &t, err), DT_READ_OK);
	ck_assert_uint_eq(t->ncalls, 2);
	ck_assert_uint_eq(t->calls[1].fn_addr, 6);
	ck_assert_uint_eq(t->calls[1].max_ns, 10);
	dt_trace_free(t);
	free(buf);
	free(e.buf);
}
END_TEST

START_TEST(test_read_file_errors)
{
	struct dt_trace *t;
	char err[DT_READ_ERR_BYTES];

	ck_assert_int_eq(dt_trace_read_file("/nonexistent/trace.bin", &t, err, sizeof(err)), DT_READ_EIO);
	ck_assert_ptr_nonnull(strstr(err, "No such file"));
	ck_assert_int_eq(dt_trace_read_file("/", &t, err, sizeof(err)), DT_READ_EIO);
	ck_assert_int_eq(dt_trace_read_file("/dev/null", &t, err, sizeof(err)), DT_READ_EIO);
}
END_TEST

static Suite *reader_suite(void)
{
	Suite *s = suite_create("dt_reader");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_every_truncation);
	tcase_add_test(tc, test_every_byte_flip);
	tcase_add_test(tc, test_bad_magic_and_version);
	tcase_add_test(tc, test_huge_counts_rejected);
	tcase_add_test(tc, test_zero_counts_ok);
	tcase_add_test(tc, test_huge_lengths);
	tcase_add_test(tc, test_stack_limits);
	tcase_add_test(tc, test_stack_id_out_of_range);
	tcase_add_test(tc, test_crc_mismatch);
	tcase_add_test(tc, test_partial_and_checkpoint);
	tcase_add_test(tc, test_meta_short_long_and_unknown_sections);
	tcase_add_test(tc, test_structural_errors);
	tcase_add_test(tc, test_calls_section);
	tcase_add_test(tc, test_read_file_errors);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(reader_suite());
	int failed;

	srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
