/* Check suite for the protobuf writer (dt_pb) and the pprof reporter: wire bytes against the
 * protobuf documentation's own examples, then a synthetic trace's profile gunzipped and decoded
 * by the small independent decoder below (not dt_pb), checked field by field against the trace. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "check_analyzer_encoder.h"
#include "dt_pb.h"
#include "dt_profile.h"
#include "dt_reader.h"
#include "dt_report.h"
#include "dt_symbolize.h"

#define MS 1000000ull
#define MAXN 64u

static void assert_bytes(const struct dt_pb *b, const uint8_t *want, size_t n)
{
	ck_assert_int_eq(b->failed, 0);
	ck_assert_uint_eq(b->len, n);
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(b->buf[i] == want[i], "byte %zu: 0x%02x, expected 0x%02x", i, b->buf[i],
			      want[i]);
}

START_TEST(test_varint)
{
	static const struct {
		uint64_t v;
		uint8_t bytes[10];
		size_t n;
	} cases[] = {
	    {0, {0x00}, 1},
	    {1, {0x01}, 1},
	    {127, {0x7f}, 1},
	    {128, {0x80, 0x01}, 2},
	    {300, {0xac, 0x02}, 2},
	    {UINT64_MAX, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 10},
	};
	struct dt_pb b = {0};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		dt_pb_reset(&b);
		dt_pb_put_varint(&b, cases[i].v);
		assert_bytes(&b, cases[i].bytes, cases[i].n);
		ck_assert_uint_eq(dt_pb_varint_size(cases[i].v), cases[i].n);
	}
	dt_pb_free(&b);
}
END_TEST

/* The encoding guide's examples (protobuf.dev/programming-guides/encoding). */
START_TEST(test_fields)
{
	static const uint8_t uint150[] = {0x08, 0x96, 0x01};
	static const uint8_t testing[] = {0x12, 0x07, 't', 'e', 's', 't', 'i', 'n', 'g'};
	static const uint8_t packed[] = {0x22, 0x06, 0x03, 0x8e, 0x02, 0x9e, 0xa7, 0x05};
	static const uint8_t minus1[] = {0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
	static const uint8_t nested[] = {0x1a, 0x03, 0x08, 0x96, 0x01, 0x32, 0x00};
	static const uint64_t vals[] = {3, 270, 86942};
	struct dt_pb b = {0}, inner = {0};

	dt_pb_uint(&b, 1, 150);
	assert_bytes(&b, uint150, sizeof(uint150));
	dt_pb_reset(&b);
	dt_pb_string(&b, 2, "testing");
	assert_bytes(&b, testing, sizeof(testing));
	dt_pb_reset(&b);
	dt_pb_packed(&b, 4, vals, 3);
	assert_bytes(&b, packed, sizeof(packed));
	/* int64 -1 is ten bytes of two's complement, not zigzag (profile.proto has no sint64). */
	dt_pb_reset(&b);
	dt_pb_int(&b, 2, -1);
	assert_bytes(&b, minus1, sizeof(minus1));
	/* proto3 defaults are left out; repeated strings keep empty entries (string_table[0]). */
	dt_pb_reset(&b);
	dt_pb_uint(&b, 1, 0);
	dt_pb_int(&b, 2, 0);
	dt_pb_packed(&b, 3, vals, 0);
	ck_assert_uint_eq(b.len, 0);
	dt_pb_uint(&inner, 1, 150);
	dt_pb_msg(&b, 3, &inner);
	dt_pb_string(&b, 6, "");
	assert_bytes(&b, nested, sizeof(nested));
	dt_pb_free(&b);
	dt_pb_free(&inner);
}
END_TEST

/* ---- an independent decoder for the fields the reporter writes */

struct rd {
	const uint8_t *p, *end;
};

static uint64_t rd_varint(struct rd *r)
{
	uint64_t v = 0;

	for (unsigned shift = 0; shift < 64; shift += 7) {
		ck_assert_msg(r->p < r->end, "varint runs past the end");
		uint8_t byte = *r->p++;
		v |= (uint64_t)(byte & 0x7f) << shift;
		if (!(byte & 0x80))
			return v;
	}
	ck_abort_msg("varint longer than 10 bytes");
	return 0;
}

/* Next field: its number, and either a varint (*v) or a sub-reader (*sub). 0 at the end. */
static int rd_field(struct rd *r, uint32_t *field, uint64_t *v, struct rd *sub)
{
	if (r->p == r->end)
		return 0;
	uint64_t tag = rd_varint(r);
	*field = (uint32_t)(tag >> 3);
	ck_assert_uint_ne(*field, 0);
	switch (tag & 7) {
	case 0:
		*v = rd_varint(r);
		sub->p = sub->end = NULL;
		break;
	case 2: {
		uint64_t n = rd_varint(r);
		ck_assert_uint_le(n, (uint64_t)(r->end - r->p));
		sub->p = r->p;
		sub->end = r->p + n;
		r->p += n;
		*v = n;
		break;
	}
	default:
		ck_abort_msg("wire type %u not written by the reporter", (unsigned)(tag & 7));
	}
	return 1;
}

/* A packed repeated varint field (or one unpacked element). */
static size_t rd_repeated(struct rd *sub, uint64_t v, uint64_t *out, size_t n, size_t cap)
{
	if (!sub->p) {
		ck_assert_uint_lt(n, cap);
		out[n++] = v;
		return n;
	}
	while (sub->p < sub->end) {
		ck_assert_uint_lt(n, cap);
		out[n++] = rd_varint(sub);
	}
	return n;
}

struct psample {
	uint64_t loc[MAXN], val[8];
	size_t nloc, nval;
};
struct pmapping {
	uint64_t id, start, limit, filename, build_id, has_functions, has_filenames, has_lines;
};
struct plocation {
	uint64_t id, mapping, address, fn, line;
	size_t nlines;
};
struct pfunction {
	uint64_t id, name, system_name, filename, start_line;
};

struct pprof {
	char *str[MAXN * 4];
	size_t nstr;
	uint64_t sample_type[8][2], period_type[2];
	size_t ntypes;
	struct psample sample[MAXN];
	size_t nsamples;
	struct pmapping map[8];
	size_t nmaps;
	struct plocation loc[MAXN];
	size_t nlocs;
	struct pfunction fn[MAXN];
	size_t nfns;
	uint64_t time_nanos, duration_nanos, period, default_type, comment[8];
	size_t ncomments;
};

static void rd_pair(struct rd *r, uint64_t out[2])
{
	struct rd sub;
	uint32_t f;
	uint64_t v;

	out[0] = out[1] = 0;
	while (rd_field(r, &f, &v, &sub))
		if (f == 1 || f == 2)
			out[f - 1] = v;
}

static void decode_sample(struct rd *r, struct psample *s)
{
	struct rd sub;
	uint32_t f;
	uint64_t v;

	while (rd_field(r, &f, &v, &sub)) {
		if (f == 1)
			s->nloc = rd_repeated(&sub, v, s->loc, s->nloc, MAXN);
		else if (f == 2)
			s->nval = rd_repeated(&sub, v, s->val, s->nval, 8);
	}
}

static void decode_mapping(struct rd *r, struct pmapping *m)
{
	uint64_t *const fields[] = {
	    NULL,	  &m->id,	&m->start,	   &m->limit,	      NULL,
	    &m->filename, &m->build_id, &m->has_functions, &m->has_filenames, &m->has_lines};
	struct rd sub;
	uint32_t f;
	uint64_t v;

	while (rd_field(r, &f, &v, &sub))
		if (f < sizeof(fields) / sizeof(fields[0]) && fields[f])
			*fields[f] = v;
}

static void decode_location(struct rd *r, struct plocation *l)
{
	struct rd sub, sub2;
	uint32_t f, f2;
	uint64_t v, v2;

	while (rd_field(r, &f, &v, &sub)) {
		if (f == 1)
			l->id = v;
		else if (f == 2)
			l->mapping = v;
		else if (f == 3)
			l->address = v;
		else if (f == 4) {
			l->nlines++;
			while (rd_field(&sub, &f2, &v2, &sub2)) {
				if (f2 == 1)
					l->fn = v2;
				else if (f2 == 2)
					l->line = v2;
			}
		}
	}
}

static void decode_function(struct rd *r, struct pfunction *fn)
{
	uint64_t *const fields[] = {NULL,	   &fn->id,	   &fn->name, &fn->system_name,
				    &fn->filename, &fn->start_line};
	struct rd sub;
	uint32_t f;
	uint64_t v;

	while (rd_field(r, &f, &v, &sub))
		if (f < sizeof(fields) / sizeof(fields[0]))
			*fields[f] = v;
}

static void decode(const uint8_t *buf, size_t len, struct pprof *pp)
{
	struct rd r = {buf, buf + len}, sub;
	uint32_t f;
	uint64_t v;

	memset(pp, 0, sizeof(*pp));
	while (rd_field(&r, &f, &v, &sub)) {
		switch (f) {
		case 1:
			ck_assert_uint_lt(pp->ntypes, 8);
			rd_pair(&sub, pp->sample_type[pp->ntypes++]);
			break;
		case 2:
			ck_assert_uint_lt(pp->nsamples, MAXN);
			decode_sample(&sub, &pp->sample[pp->nsamples++]);
			break;
		case 3:
			ck_assert_uint_lt(pp->nmaps, 8);
			decode_mapping(&sub, &pp->map[pp->nmaps++]);
			break;
		case 4:
			ck_assert_uint_lt(pp->nlocs, MAXN);
			decode_location(&sub, &pp->loc[pp->nlocs++]);
			break;
		case 5:
			ck_assert_uint_lt(pp->nfns, MAXN);
			decode_function(&sub, &pp->fn[pp->nfns++]);
			break;
		case 6:
			ck_assert_uint_lt(pp->nstr, MAXN * 4);
			pp->str[pp->nstr] = calloc(1, v + 1);
			memcpy(pp->str[pp->nstr++], sub.p, v);
			break;
		case 9:
			pp->time_nanos = v;
			break;
		case 10:
			pp->duration_nanos = v;
			break;
		case 11:
			rd_pair(&sub, pp->period_type);
			break;
		case 12:
			pp->period = v;
			break;
		case 13:
			ck_assert_uint_lt(pp->ncomments, 8);
			pp->comment[pp->ncomments++] = v;
			break;
		case 14:
			pp->default_type = v;
			break;
		default:
			ck_abort_msg("unexpected Profile field %u", f);
		}
	}
}

static const char *S(const struct pprof *pp, uint64_t i)
{
	ck_assert_uint_lt(i, pp->nstr);
	return pp->str[i];
}

static void gunzip(const uint8_t *in, size_t n, uint8_t **out, size_t *len)
{
	z_stream zs;
	size_t cap = 1 << 16;

	ck_assert_uint_ge(n, 2);
	ck_assert_msg(in[0] == 0x1f && in[1] == 0x8b, "not gzip: %02x %02x", in[0], in[1]);
	memset(&zs, 0, sizeof(zs));
	ck_assert_int_eq(inflateInit2(&zs, 15 + 16), Z_OK);
	*out = malloc(cap);
	zs.next_in = (uint8_t *)in;
	zs.avail_in = (uInt)n;
	zs.next_out = *out;
	zs.avail_out = (uInt)cap;
	ck_assert_int_eq(inflate(&zs, Z_FINISH), Z_STREAM_END);
	*len = zs.total_out;
	inflateEnd(&zs);
}

/* ---- the synthetic trace: functions A (0x1100), B (0x1200), C (0x1300) of prog; the shim. */

#define A_RET 0x1101
#define B_RET 0x1201
#define B_PC 0x1200 /* exact leaf: the same looked-up address as B_RET - 1 */
#define C_PC 0x1300
#define SHIM_RET 0x9101
#define START_NS 1700000000123456789ull
#define WALL_NS 500000000ull

static const uint8_t build_id[] = {0xde, 0xad, 0xbe, 0xef};
static const struct tstack stacks[] = {
    {3, DT_STACK_LEAF_EXACT, {C_PC, B_RET, A_RET}},
    {2, DT_STACK_LEAF_EXACT, {B_PC, A_RET}},
    {3, 0, {SHIM_RET, B_RET, A_RET}}, /* an allocation: the shim's frame is not the program's */
    {0, 0, {0}},		      /* the unwinder failed: one "[unknown stack]" frame */
};
static const struct tcpu cpu[] = {{0, 10, 10 * MS}, {1, 5, 6 * MS}, {3, 2, 2 * MS}};
static const struct talloc allocs[] = {{2, {3, 300, 2, 200, 100, 100, 1}}};

struct out {
	uint8_t *gz, *pb;
	size_t gz_len, pb_len;
	struct pprof pp;
};

static void report(const char *prog_path, int with_alloc, struct out *o)
{
	static uint64_t meta[DT_META_NFIELDS];
	const struct tmod mods[] = {
	    {0x9000, 0x9000, 0xa000, "/nonexistent/libdeiatrace.so", NULL, 0},
	    {0, 0x1000, 0x2000, prog_path, build_id, sizeof(build_id)},
	};
	struct dt_trace *t;
	struct dt_symbolizer *sym;
	struct dt_profile *p;
	struct dt_report_opts ro;
	char err[DT_READ_ERR_BYTES];
	size_t len;
	FILE *f;

	memset(meta, 0, sizeof(meta));
	meta[DT_META_FREQ_ASKED_HZ] = 1000;
	meta[DT_META_START_REALTIME_NS] = START_NS;
	meta[DT_META_WALL_NS] = WALL_NS;
	meta[DT_META_MALLOC_TRACKED] = with_alloc;
	struct tspec s = {
	    .meta = meta,
	    .nmeta = DT_META_NFIELDS,
	    .exe = prog_path,
	    .mods = mods,
	    .nmods = 2,
	    .stacks = stacks,
	    .nstacks = 4,
	    .cpu = cpu,
	    .ncpu = 3,
	    .alloc = with_alloc ? allocs : NULL,
	    .nalloc = with_alloc ? 1 : 0,
	};
	uint8_t *buf = enc_trace(&s, &len);
	ck_assert_int_eq(dt_trace_read_mem(buf, len, &t, err, sizeof(err)), DT_READ_OK);
	ck_assert_int_eq(dt_sym_open(t, DT_SYM_NO_DEBUG, NULL, &sym), 0);
	ck_assert_int_eq(dt_profile_build(t, sym, &p), 0);
	dt_report_opts_default(&ro);
	f = open_memstream((char **)&o->gz, &o->gz_len);
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(dt_report_pprof(f, p, &ro), 0);
	ck_assert_int_eq(fclose(f), 0);
	gunzip(o->gz, o->gz_len, &o->pb, &o->pb_len);
	decode(o->pb, o->pb_len, &o->pp);
	dt_profile_free(p);
	dt_sym_close(sym);
	dt_trace_free(t);
	free(buf);
}

static void release(struct out *o)
{
	for (size_t i = 0; i < o->pp.nstr; i++)
		free(o->pp.str[i]);
	free(o->gz);
	free(o->pb);
}

static size_t loc_index(const struct pprof *pp, uint64_t id)
{
	for (size_t i = 0; i < pp->nlocs; i++)
		if (pp->loc[i].id == id)
			return i;
	ck_abort_msg("location id %llu not in the profile", (unsigned long long)id);
	return 0;
}

static const char *fn_name(const struct pprof *pp, uint64_t id)
{
	for (size_t i = 0; i < pp->nfns; i++)
		if (pp->fn[i].id == id)
			return S(pp, pp->fn[i].name);
	ck_abort_msg("function id %llu not in the profile", (unsigned long long)id);
	return NULL;
}

/* Ids nonzero and unique, every reference resolves, every sample has one value per type. */
static void check_structure(const struct pprof *pp)
{
	ck_assert_uint_ge(pp->nstr, 1);
	ck_assert_str_eq(pp->str[0], "");
	for (size_t i = 0; i < pp->nlocs; i++) {
		ck_assert_uint_ne(pp->loc[i].id, 0);
		ck_assert_uint_eq(loc_index(pp, pp->loc[i].id), i);
		ck_assert_uint_eq(pp->loc[i].nlines, 1);
		fn_name(pp, pp->loc[i].fn);
		if (pp->loc[i].mapping) {
			ck_assert_uint_le(pp->loc[i].mapping, pp->nmaps);
			ck_assert_uint_eq(pp->map[pp->loc[i].mapping - 1].id, pp->loc[i].mapping);
		}
	}
	for (size_t i = 0; i < pp->nfns; i++) {
		ck_assert_uint_ne(pp->fn[i].id, 0);
		for (size_t j = 0; j < i; j++)
			ck_assert_uint_ne(pp->fn[i].id, pp->fn[j].id);
		S(pp, pp->fn[i].filename);
	}
	for (size_t i = 0; i < pp->nmaps; i++) {
		ck_assert_uint_eq(pp->map[i].id, i + 1);
		ck_assert(pp->map[i].has_functions && pp->map[i].has_filenames && pp->map[i].has_lines);
	}
	for (size_t i = 0; i < pp->nsamples; i++) {
		ck_assert_uint_eq(pp->sample[i].nval, pp->ntypes);
		ck_assert_uint_ge(pp->sample[i].nloc, 1);
		for (size_t d = 0; d < pp->sample[i].nloc; d++)
			loc_index(pp, pp->sample[i].loc[d]);
	}
	for (size_t i = 0; i < pp->ncomments; i++)
		S(pp, pp->comment[i]);
}

static uint64_t column_sum(const struct pprof *pp, size_t col)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < pp->nsamples; i++)
		sum += pp->sample[i].val[col];
	return sum;
}

START_TEST(test_profile_with_memory)
{
	static const char *const types[][2] = {{"samples", "count"},
					       {"cpu", "nanoseconds"},
					       {"alloc_objects", "count"},
					       {"alloc_space", "bytes"},
					       {"inuse_space", "bytes"}};
	struct out o;
	const struct pprof *pp = &o.pp;

	report("/nonexistent/prog", 1, &o);
	check_structure(pp);
	ck_assert_uint_eq(pp->ntypes, 5);
	for (size_t i = 0; i < 5; i++) {
		ck_assert_str_eq(S(pp, pp->sample_type[i][0]), types[i][0]);
		ck_assert_str_eq(S(pp, pp->sample_type[i][1]), types[i][1]);
	}
	ck_assert_str_eq(S(pp, pp->default_type), "cpu");
	ck_assert_str_eq(S(pp, pp->period_type[0]), "cpu");
	ck_assert_str_eq(S(pp, pp->period_type[1]), "nanoseconds");
	ck_assert_uint_eq(pp->period, 1000000); /* 1000 Hz */
	ck_assert_uint_eq(pp->time_nanos, START_NS);
	ck_assert_uint_eq(pp->duration_nanos, WALL_NS);
	ck_assert_uint_ge(pp->ncomments, 3);

	/* The main binary first, with its build-id in hex; then the shim. */
	ck_assert_uint_eq(pp->nmaps, 2);
	ck_assert_str_eq(S(pp, pp->map[0].filename), "/nonexistent/prog");
	ck_assert_str_eq(S(pp, pp->map[0].build_id), "deadbeef");
	ck_assert_uint_eq(pp->map[0].start, 0x1000);
	ck_assert_uint_eq(pp->map[0].limit, 0x2000);
	ck_assert_str_eq(S(pp, pp->map[1].filename), "/nonexistent/libdeiatrace.so");

	/* 3 CPU records + 1 allocation record; totals are the trace's. */
	ck_assert_uint_eq(pp->nsamples, 4);
	ck_assert_uint_eq(column_sum(pp, 0), 17);
	ck_assert_uint_eq(column_sum(pp, 1), 18 * MS);
	ck_assert_uint_eq(column_sum(pp, 2), 3);
	ck_assert_uint_eq(column_sum(pp, 3), 300);
	ck_assert_uint_eq(column_sum(pp, 4), 100);

	/* One location per looked-up address: C 0x1300, B 0x1200 (exact leaf and return address
	 * alike), A 0x1100, and the unknown-stack pseudo-frame without a mapping. The shim's frame
	 * is cut from the allocation's stack, so it has no location. */
	ck_assert_uint_eq(pp->nlocs, 4);
	ck_assert_uint_eq(pp->nfns, 4);
	for (size_t i = 0; i < pp->nsamples; i++) {
		size_t leaf = loc_index(pp, pp->sample[i].loc[0]);
		const char *name = fn_name(pp, pp->loc[leaf].fn);

		if (pp->sample[i].val[3]) { /* the allocation: charged to B, its stack B <- A */
			ck_assert_str_eq(name, "prog+0x1200");
			ck_assert_uint_eq(pp->sample[i].nloc, 2);
			ck_assert_uint_eq(pp->loc[leaf].address, B_PC);
			ck_assert_uint_eq(pp->sample[i].val[0] + pp->sample[i].val[1], 0);
		} else if (pp->sample[i].val[0] == 10) {
			ck_assert_str_eq(name, "prog+0x1300");
			ck_assert_uint_eq(pp->sample[i].nloc, 3);
			ck_assert_uint_eq(pp->loc[leaf].mapping, 1);
			ck_assert_str_eq(fn_name(pp, pp->loc[loc_index(pp, pp->sample[i].loc[2])].fn),
					 "prog+0x1100");
			ck_assert_uint_eq(pp->sample[i].val[2] + pp->sample[i].val[3] + pp->sample[i].val[4],
					  0);
		} else if (pp->sample[i].val[0] == 2) {
			ck_assert_str_eq(name, "[unknown stack]");
			ck_assert_uint_eq(pp->loc[leaf].mapping, 0);
		}
	}
	/* B's two samples share one location. */
	ck_assert_uint_eq(pp->sample[0].loc[1], pp->sample[1].loc[0]);
	release(&o);
}
END_TEST

START_TEST(test_profile_cpu_only)
{
	struct out o;
	const struct pprof *pp = &o.pp;

	report("/nonexistent/prog", 0, &o);
	check_structure(pp);
	ck_assert_uint_eq(pp->ntypes, 2);
	ck_assert_str_eq(S(pp, pp->sample_type[0][0]), "samples");
	ck_assert_str_eq(S(pp, pp->sample_type[1][0]), "cpu");
	ck_assert_uint_eq(pp->nsamples, 3);
	ck_assert_uint_eq(column_sum(pp, 0), 17);
	release(&o);
}
END_TEST

/* Go's protobuf rejects proto3 strings that are not UTF-8 (a profile Pyroscope or Parca would
 * drop): a path with a stray byte is written with U+FFFD in its place. */
START_TEST(test_strings_are_utf8)
{
	struct out o;
	const struct pprof *pp = &o.pp;

	report("/nonexistent/pr\xffog", 1, &o);
	check_structure(pp);
	ck_assert_str_eq(S(pp, pp->map[0].filename), "/nonexistent/pr\xef\xbf\xbdog");
	for (size_t i = 0; i < pp->nstr; i++)
		ck_assert_ptr_null(strchr(pp->str[i], '\xff'));
	release(&o);
}
END_TEST

static Suite *pprof_suite(void)
{
	Suite *s = suite_create("dt_pprof");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_varint);
	tcase_add_test(tc, test_fields);
	tcase_add_test(tc, test_profile_with_memory);
	tcase_add_test(tc, test_profile_cpu_only);
	tcase_add_test(tc, test_strings_are_utf8);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(pprof_suite());
	int failed;

	srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
