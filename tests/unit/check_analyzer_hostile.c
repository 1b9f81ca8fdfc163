/* Check suite: hostile traces through the whole analyzer in-process (reader -> profile -> every
 * reporter named in DT_REPORT_FORMAT_NAMES). Each input must give a clean error or a report, within a
 * time and memory bound, never a crash: every truncation, every byte changed (with the section crc32
 * repaired so the parsers see the change), 0 / 2^32-1 / 2^64-1 in every count and length field,
 * out-of-range ids, recursion cycles, a million-frame stack and a million stacks. Fork mode. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "check_analyzer_encoder.h"
#include "dt_profile.h"
#include "dt_reader.h"
#include "dt_report.h"
#include "dt_symbolize.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_UNDEFINED__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

#define NS_PER_S 1000000000ull
/* CPU time (not wall: other jobs share the machine) for one input through reader, model and every
 * reporter; sanitizers slow the code down 2-4x. */
#define SAN_SLOWDOWN (SANITIZED ? 4 : 1)
#define CASE_MAX_CPU_NS (SAN_SLOWDOWN * NS_PER_S)
/* A million stacks and CPU records (36 MB) are legal: read and reported in ~1 s on this machine. */
#define MILLION_CASE_MAX_CPU_NS (SAN_SLOWDOWN * 3 * NS_PER_S)
/* Peak RSS growth allowed for the small mutated traces (a few hundred bytes each); ASan keeps up to
 * 256 MiB of freed blocks in quarantine. */
#define SMALL_CASE_MAX_RSS_BYTES ((SANITIZED ? 384ull : 64ull) << 20)
/* Large inputs may use this many times their own size (parsed arrays, symbol names, the model). */
#define BYTES_PER_INPUT_BYTE 24ull
/* Address-space cap without ASan (which reserves terabytes of shadow): a count trusted blindly
 * makes malloc fail here instead of eating the machine, and ENOMEM is then a test failure. */
#define ADDRESS_SPACE_CAP_BYTES (3ull << 30)
#define MILLION 1000000u
#define MAX_REPORTERS 16
#define MAX_FIELDS 256
#define MAX_SECTIONS 16
#define UNKNOWN_SECTION_ID 0x1234u

/* ---------------------------------------------------------------- a trace with a map of its fields */

enum field_kind {
	F_COUNT,   /* a record count or a string/build-id length (u32) */
	F_ID,	   /* a stack id (u32) */
	F_VALUE,   /* a figure, address or flags word (u32 or u64) */
	F_SEC_ID,  /* a section header's id (u32) */
	F_SEC_LEN, /* a section header's payload length (u64) */
};

struct field {
	size_t off;
	unsigned width; /* 4 or 8 */
	enum field_kind kind;
	const char *what;
};

struct span {
	uint32_t id;
	size_t header, payload, len; /* offsets of the header and the payload; payload length */
};

struct hb {
	struct enc e;
	struct field f[MAX_FIELDS];
	size_t nf;
	struct span s[MAX_SECTIONS];
	size_t ns;
};

static void note_field(struct hb *h, unsigned width, enum field_kind kind, const char *what)
{
	ck_assert_uint_lt(h->nf, MAX_FIELDS);
	h->f[h->nf++] = (struct field){h->e.len, width, kind, what};
}

static void hb_u32(struct hb *h, uint32_t v, enum field_kind kind, const char *what)
{
	note_field(h, 4, kind, what);
	enc_u32(&h->e, v);
}

static void hb_u64(struct hb *h, uint64_t v, const char *what)
{
	note_field(h, 8, F_VALUE, what);
	enc_u64(&h->e, v);
}

static void hb_str(struct hb *h, const char *s, const char *what)
{
	hb_u32(h, (uint32_t)strlen(s), F_COUNT, what);
	enc_bytes(&h->e, s, strlen(s));
}

static void hb_begin(struct hb *h, uint32_t id)
{
	ck_assert_uint_lt(h->ns, MAX_SECTIONS);
	h->s[h->ns].id = id;
	h->s[h->ns].header = h->e.len;
	note_field(h, 4, F_SEC_ID, "section id");
	h->f[h->nf++] = (struct field){h->e.len + 8, 8, F_SEC_LEN, "section length"};
	enc_begin(&h->e, id);
	h->s[h->ns].payload = h->e.len;
}

static void hb_end(struct hb *h)
{
	h->s[h->ns].len = h->e.len - h->s[h->ns].payload;
	enc_end(&h->e);
	h->ns++;
}

/* Every section of the format, small: names that need escaping, a recursion cycle (A B A B), a
 * self-recursive stack, an empty stack, calls, regions and a section from a newer writer. */
static void build_rich(struct hb *h)
{
	static const uint64_t stack_pcs[][4] = {
	    {0x401000, 0x402000, 0x403000, 0},
	    {0x402010, 0x401010, 0x402010, 0x401010},
	    {0x7f0000001100, 0x403000, 0, 0},
	};
	static const uint32_t stack_depths[] = {3, 4, 2, 0};
	static const char *const region_names[] = {"parse", "<b>x</b>;|"};

	memset(h, 0, sizeof(*h));
	enc_header(&h->e, DT_TRACE_VERSION, 0);

	hb_begin(h, DT_SEC_META);
	hb_u32(h, DT_META_NFIELDS, F_COUNT, "meta nfields");
	for (unsigned i = 0; i < DT_META_NFIELDS; i++) {
		uint64_t v = i == DT_META_WALL_NS	   ? NS_PER_S
			     : i == DT_META_CPU_USER_NS	   ? NS_PER_S / 2
			     : i == DT_META_FREQ_ASKED_HZ  ? 1000
			     : i == DT_META_MALLOC_TRACKED ? 1
			     : i == DT_META_SAMPLER	   ? DT_SAMPLER_PERF_TASK_CLOCK
			     : i == DT_META_DEGRADED	   ? DT_DEGRADED_LIVE_MAP_FULL
							   : 100 + i;
		hb_u64(h, v, "meta value");
	}
	hb_end(h);

	hb_begin(h, DT_SEC_CMDLINE);
	hb_str(h, "/nonexistent/prog", "exe length");
	hb_u32(h, 2, F_COUNT, "argc");
	hb_str(h, "prog", "argv length");
	hb_str(h, "--x=`y`", "argv length");
	hb_end(h);

	hb_begin(h, DT_SEC_MODULES);
	hb_u32(h, 2, F_COUNT, "module count");
	hb_u64(h, 0, "load bias");
	hb_u64(h, 0x400000, "module lo");
	hb_u64(h, 0x500000, "module hi");
	hb_u32(h, 4, F_COUNT, "build-id length");
	enc_bytes(&h->e, "\x01\x02\x03\x04", 4);
	hb_str(h, "/nonexistent/prog", "module path length");
	hb_u64(h, 0x7f0000000000, "load bias");
	hb_u64(h, 0x7f0000000000, "module lo");
	hb_u64(h, 0x7f0000100000, "module hi");
	hb_u32(h, 0, F_COUNT, "build-id length");
	hb_str(h, "/nonexistent/lib<b>&amp;.so", "module path length");
	hb_end(h);

	hb_begin(h, DT_SEC_STACKS);
	hb_u32(h, 4, F_COUNT, "stack count");
	for (unsigned i = 0; i < 4; i++) {
		hb_u32(h, stack_depths[i], F_COUNT, "stack depth");
		hb_u32(h, i == 0 ? DT_STACK_LEAF_EXACT : 0, F_VALUE, "stack flags");
		for (unsigned d = 0; d < stack_depths[i]; d++)
			hb_u64(h, stack_pcs[i][d], "pc");
	}
	hb_end(h);

	hb_begin(h, DT_SEC_CPU);
	hb_u32(h, 4, F_COUNT, "cpu record count");
	for (uint32_t i = 0; i < 4; i++) {
		hb_u32(h, i, F_ID, "cpu stack id");
		hb_u64(h, 10 + i, "samples");
		hb_u64(h, (10 + i) * 1000000ull, "weight_ns");
	}
	hb_end(h);

	hb_begin(h, DT_SEC_ALLOC);
	hb_u32(h, 2, F_COUNT, "alloc record count");
	for (uint32_t i = 0; i < 2; i++) {
		hb_u32(h, i + 1, F_ID, "alloc stack id");
		for (unsigned f = 0; f < DT_ALLOC_NFIELDS; f++)
			hb_u64(h, 64 * (f + 1), "alloc field");
	}
	hb_end(h);

	hb_begin(h, DT_SEC_CALLS);
	hb_u32(h, 2, F_COUNT, "calls record count");
	for (uint32_t i = 0; i < 2; i++) {
		hb_u64(h, 0x401000 + 0x1000 * i, "fn_addr");
		hb_u64(h, 5, "calls");
		hb_u64(h, 5000, "incl_ns");
		hb_u64(h, 4000, "excl_ns");
		hb_u64(h, 2000, "max_ns");
	}
	hb_end(h);

	hb_begin(h, DT_SEC_REGIONS);
	hb_u32(h, DT_REGIONS_ALLOC_MEASURED, F_VALUE, "regions flags");
	hb_u64(h, 3, "regions dropped");
	hb_u32(h, DT_REGION_NFIELDS, F_COUNT, "regions nfields");
	hb_u32(h, 2, F_COUNT, "region count");
	for (unsigned i = 0; i < 2; i++) {
		hb_str(h, region_names[i], "region name length");
		for (unsigned f = 0; f < DT_REGION_NFIELDS; f++)
			hb_u64(h, 1000 * (f + 1), "region value");
	}
	hb_end(h);

	hb_begin(h, UNKNOWN_SECTION_ID);
	enc_u64(&h->e, 42);
	hb_end(h);

	hb_begin(h, DT_SEC_END);
	hb_end(h);
}

/* Recomputes the crc32 of the section whose payload holds offset `at` (as laid out originally), so a
 * changed payload byte reaches the parser instead of failing the checksum. */
static void repair_crc(const struct hb *h, uint8_t *buf, size_t len, size_t at)
{
	for (size_t i = 0; i < h->ns; i++) {
		const struct span *s = &h->s[i];

		if (at >= s->payload && at < s->payload + s->len && s->payload + s->len <= len) {
			dt_put_u32(buf + s->header + 4, (uint32_t)crc32(0L, buf + s->payload, (uInt)s->len));
			return;
		}
	}
}

/* Id of the section whose payload holds offset `at`, or 0 for the headers. */
static uint32_t section_at(const struct hb *h, size_t at)
{
	for (size_t i = 0; i < h->ns; i++)
		if (at >= h->s[i].payload && at < h->s[i].payload + h->s[i].len)
			return h->s[i].id;
	return 0;
}

/* ---------------------------------------------------------------- the pipeline and its bounds */

struct reporter {
	const char *name;
	dt_report_fn fn;
	int works; /* 0: a placeholder that fails on a valid trace (formats still being written) */
};

static struct reporter reporters[MAX_REPORTERS];
static size_t nreporters;
static int reader_parses_regions; /* else it skips DT_SEC_REGIONS as a section it does not know */
static FILE *devnull;

static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static uint64_t peak_rss_bytes(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (uint64_t)ru.ru_maxrss * 1024; /* KiB on Linux */
}

/* Runs a parsed trace through the model and every reporter; returns how many reporters failed
 * among those that work on a valid trace. stderr is muted around placeholders (they say "not
 * implemented" on every call). */
static int run_reporters(const struct dt_trace *t)
{
	struct dt_symbolizer *sym;
	struct dt_profile *p;
	struct dt_report_opts o;
	int failures = 0;

	dt_report_opts_default(&o);
	o.threshold_pct = 0; /* every function is a bottleneck and gets hints: more code runs */
	ck_assert_int_eq(dt_sym_open(t, DT_SYM_NO_DEBUG, NULL, &sym), 0);
	ck_assert_int_eq(dt_profile_build(t, sym, &p), 0);
	for (size_t i = 0; i < nreporters; i++) {
		int saved = -1, rc;

		if (!reporters[i].works) {
			fflush(stderr);
			saved = dup(STDERR_FILENO);
			dup2(fileno(devnull), STDERR_FILENO);
		}
		rc = reporters[i].fn(devnull, p, &o);
		if (saved >= 0) {
			fflush(stderr);
			dup2(saved, STDERR_FILENO);
			close(saved);
		}
		clearerr(devnull);
		if (rc && reporters[i].works)
			failures++;
	}
	dt_profile_free(p);
	dt_sym_close(sym);
	return failures;
}

/* One hostile input: a clean error (with a message) or a trace every working reporter renders,
 * within max_cpu_ns of CPU time. Returns the reader's status. */
static int last_partial; /* the last accepted trace was marked partial */

static int one_case_within(const uint8_t *buf, size_t len, const char *label, uint64_t max_cpu_ns)
{
	struct dt_trace *t = NULL;
	char err[DT_READ_ERR_BYTES];
	uint64_t start = cpu_ns();
	int rc = dt_trace_read_mem(buf, len, &t, err, sizeof(err));

	if (rc == DT_READ_OK) {
		last_partial = t->partial;
		int failed = run_reporters(t);
		ck_assert_msg(!failed, "%s: accepted, but %d reporter(s) failed on it", label, failed);
		dt_trace_free(t);
	} else {
		ck_assert_msg(rc == DT_READ_EFORMAT || rc == DT_READ_EVERSION,
			      "%s: status %d (a format error expected; ENOMEM means a count was trusted): %s",
			      label, rc, err);
		ck_assert_ptr_null(t);
		ck_assert_msg(err[0] != '\0', "%s: rejected without a message", label);
	}
	uint64_t took = cpu_ns() - start;
	ck_assert_msg(took < max_cpu_ns, "%s: took %.3f CPU s", label, (double)took / NS_PER_S);
	return rc;
}

static int one_case(const uint8_t *buf, size_t len, const char *label)
{
	return one_case_within(buf, len, label, CASE_MAX_CPU_NS);
}

static void cap_address_space(void)
{
	if (SANITIZED)
		return;
	struct rlimit rl = {ADDRESS_SPACE_CAP_BYTES, ADDRESS_SPACE_CAP_BYTES};
	ck_assert_int_eq(setrlimit(RLIMIT_AS, &rl), 0);
}

/* Reporters by the names DT_REPORT_FORMAT_NAMES lists ("text, json, ... or html"), so a new format
 * is covered as soon as it is registered; each is tried once on the valid trace to tell a working
 * reporter from a placeholder. */
static void setup(void)
{
	char names[] = DT_REPORT_FORMAT_NAMES;
	struct hb h;

	devnull = fopen("/dev/null", "w");
	ck_assert_ptr_nonnull(devnull);
	nreporters = 0;
	for (char *w = strtok(names, ", "); w; w = strtok(NULL, ", ")) {
		if (strcmp(w, "or") == 0)
			continue;
		dt_report_fn fn = dt_report_find(w);
		ck_assert_msg(fn != NULL, "format '%s' is listed but dt_report_find does not know it", w);
		ck_assert_uint_lt(nreporters, MAX_REPORTERS);
		reporters[nreporters++] = (struct reporter){w, fn, 1};
	}
	ck_assert_uint_ge(nreporters, 4);

	build_rich(&h);
	struct dt_trace *t;
	char err[DT_READ_ERR_BYTES];
	ck_assert_int_eq(dt_trace_read_mem(h.e.buf, h.e.len, &t, err, sizeof(err)), DT_READ_OK);
	ck_assert_int_eq(t->partial, 0);
	ck_assert_uint_ge(t->unknown_sections, 1); /* UNKNOWN_SECTION_ID */
	reader_parses_regions = t->unknown_sections == 1;
	struct dt_symbolizer *sym;
	struct dt_profile *p;
	struct dt_report_opts o;
	dt_report_opts_default(&o);
	ck_assert_int_eq(dt_sym_open(t, DT_SYM_NO_DEBUG, NULL, &sym), 0);
	ck_assert_int_eq(dt_profile_build(t, sym, &p), 0);
	for (size_t i = 0; i < nreporters; i++) {
		fflush(stderr);
		int saved = dup(STDERR_FILENO);
		dup2(fileno(devnull), STDERR_FILENO);
		reporters[i].works = reporters[i].fn(devnull, p, &o) == 0;
		fflush(stderr);
		dup2(saved, STDERR_FILENO);
		close(saved);
		clearerr(devnull);
	}
	dt_profile_free(p);
	dt_sym_close(sym);
	dt_trace_free(t);
	free(h.e.buf);
}

static void teardown(void)
{
	if (devnull)
		fclose(devnull);
	devnull = NULL;
}

/* ---------------------------------------------------------------- tests */

START_TEST(test_reporters_listed)
{
	/* The placeholders of formats still being written are named here, not hidden. */
	for (size_t i = 0; i < nreporters; i++)
		if (!reporters[i].works)
			fprintf(stderr,
				"check_analyzer_hostile: note: --format %s fails on a valid trace "
				"(placeholder?): only crash-checked\n",
				reporters[i].name);
	if (!reader_parses_regions)
		fprintf(stderr, "check_analyzer_hostile: note: the reader skips the regions section: its "
				"fields are only crash-checked\n");
	ck_assert_msg(dt_report_find("text") == reporters[0].fn && reporters[0].works, "text must work");
}
END_TEST

START_TEST(test_every_truncation)
{
	struct hb h;
	size_t partials = 0, errors = 0;
	uint64_t rss0 = peak_rss_bytes();

	cap_address_space();
	build_rich(&h);
	for (size_t n = 0; n < h.e.len; n++) {
		uint8_t *cut = malloc(n ? n : 1); /* exactly n bytes, so ASan sees any read past them */
		char label[64];

		memcpy(cut, h.e.buf, n);
		snprintf(label, sizeof(label), "prefix of %zu/%zu bytes", n, h.e.len);
		if (one_case(cut, n, label) == DT_READ_OK) {
			ck_assert_msg(last_partial, "%s: read as a complete trace", label);
			partials++;
		} else
			errors++;
		free(cut);
	}
	ck_assert_uint_gt(partials, 0);
	ck_assert_uint_gt(errors, 0);
	ck_assert_uint_le(peak_rss_bytes() - rss0, SMALL_CASE_MAX_RSS_BYTES);
	free(h.e.buf);
}
END_TEST

/* Every byte inverted, zeroed and set to 0xff, with the section checksum repaired: the parsers of
 * every section see every kind of damage. */
START_TEST(test_every_byte_changed)
{
	static const struct {
		const char *name;
		int xor_mask, set; /* set < 0: xor */
	} changes[] = {{"xor 0xff", 0xff, -1}, {"set 0x00", 0, 0x00}, {"set 0xff", 0, 0xff}};
	struct hb h;
	size_t accepted = 0, rejected = 0;
	uint64_t rss0 = peak_rss_bytes();

	cap_address_space();
	build_rich(&h);
	uint8_t *copy = malloc(h.e.len);
	for (size_t i = 0; i < h.e.len; i++) {
		for (size_t c = 0; c < sizeof(changes) / sizeof(changes[0]); c++) {
			char label[96];

			memcpy(copy, h.e.buf, h.e.len);
			copy[i] = changes[c].set < 0 ? (uint8_t)(copy[i] ^ changes[c].xor_mask)
						     : (uint8_t)changes[c].set;
			repair_crc(&h, copy, h.e.len, i);
			snprintf(label, sizeof(label), "byte %zu of %zu, %s", i, h.e.len, changes[c].name);
			if (one_case(copy, h.e.len, label) == DT_READ_OK)
				accepted++;
			else
				rejected++;
		}
	}
	/* Both verdicts occur: values change freely, structure bytes are refused. */
	ck_assert_uint_gt(accepted, h.e.len);
	ck_assert_uint_gt(rejected, h.e.len / 4);
	ck_assert_uint_le(peak_rss_bytes() - rss0, SMALL_CASE_MAX_RSS_BYTES);
	free(copy);
	free(h.e.buf);
}
END_TEST

/* 0, 2^31, 2^32-1 and (in u64 fields) 2^64-1 in every count, length, id and value field of every
 * section, payload lengths included (the crc32 then covers the claimed span where it fits). */
START_TEST(test_extreme_counts)
{
	static const uint64_t values[] = {0, UINT64_C(1) << 31, UINT32_MAX, UINT64_C(1) << 32, UINT64_MAX};
	struct hb h;
	uint64_t rss0 = peak_rss_bytes();
	size_t cases = 0;

	cap_address_space();
	build_rich(&h);
	uint8_t *copy = malloc(h.e.len);
	for (size_t f = 0; f < h.nf; f++) {
		const struct field *fd = &h.f[f];

		for (size_t v = 0; v < sizeof(values) / sizeof(values[0]); v++) {
			char label[128];
			int rc;

			if (fd->width == 4 && values[v] > UINT32_MAX)
				continue;
			memcpy(copy, h.e.buf, h.e.len);
			if (fd->width == 4)
				dt_put_u32(copy + fd->off, (uint32_t)values[v]);
			else
				dt_put_u64(copy + fd->off, values[v]);
			if (fd->kind == F_SEC_LEN) {
				size_t payload = fd->off + 8;
				if (values[v] <= h.e.len - payload)
					dt_put_u32(copy + fd->off - 4,
						   (uint32_t)crc32(0L, copy + payload, (uInt)values[v]));
			} else {
				repair_crc(&h, copy, h.e.len, fd->off);
			}
			snprintf(label, sizeof(label), "%s at byte %zu = %llu", fd->what, fd->off,
				 (unsigned long long)values[v]);
			rc = one_case(copy, h.e.len, label);
			cases++;
			/* Counts this large cannot fit in a few hundred bytes; ids must name a stack. A
			 * reader that does not parse regions skips that section whole: then it is only
			 * crash-checked. */
			int skipped = section_at(&h, fd->off) == DT_SEC_REGIONS && !reader_parses_regions;
			if ((fd->kind == F_COUNT && values[v] >= UINT32_MAX && !skipped) ||
			    (fd->kind == F_ID && values[v] >= 4))
				ck_assert_msg(rc != DT_READ_OK, "%s: accepted", label);
		}
	}
	ck_assert_uint_gt(cases, 3 * h.nf);
	ck_assert_uint_le(peak_rss_bytes() - rss0, SMALL_CASE_MAX_RSS_BYTES);
	free(copy);
	free(h.e.buf);
}
END_TEST

static uint8_t *huge_section(uint32_t id, const struct enc *payload, size_t *len)
{
	struct enc e = {0};

	enc_header(&e, DT_TRACE_VERSION, 0);
	enc_begin(&e, DT_SEC_META);
	enc_u32(&e, 1);
	enc_u64(&e, 1);
	enc_end(&e);
	enc_begin(&e, id);
	enc_bytes(&e, payload->buf, payload->len);
	enc_end(&e);
	enc_end_marker(&e);
	*len = e.len;
	return e.buf;
}

/* A stack claiming a million frames (all present in the file) and one claiming 2^32-1: refused at
 * once by the depth limit, without allocating for them. */
START_TEST(test_million_frame_stack)
{
	struct enc p = {0};
	size_t len;
	uint64_t rss0 = peak_rss_bytes();

	cap_address_space();
	enc_u32(&p, 1);
	enc_u32(&p, MILLION);
	enc_u32(&p, 0);
	for (uint32_t i = 0; i < MILLION; i++)
		enc_u64(&p, 0x401000 + (i & 1) * 0x10); /* a two-function cycle, a million deep */
	uint8_t *buf = huge_section(DT_SEC_STACKS, &p, &len);
	ck_assert_int_eq(one_case(buf, len, "a stack of a million frames"), DT_READ_EFORMAT);
	/* The same file with depth 2^32-1: header, meta section (16 + 12 bytes), stacks header. */
	size_t sec = DT_FILE_HEADER_BYTES + DT_SECTION_HEADER_BYTES + 12;
	dt_put_u32(buf + sec + DT_SECTION_HEADER_BYTES + 4, UINT32_MAX);
	dt_put_u32(buf + sec + 4, (uint32_t)crc32(0L, buf + sec + DT_SECTION_HEADER_BYTES, (uInt)p.len));
	ck_assert_int_eq(one_case(buf, len, "a stack of 2^32-1 frames"), DT_READ_EFORMAT);
	ck_assert_uint_le(peak_rss_bytes() - rss0, 4 * (uint64_t)len + SMALL_CASE_MAX_RSS_BYTES);
	free(buf);
	free(p.buf);
}
END_TEST

/* A million stacks, each a recursion cycle at the depth limit for a few of them, and a million CPU
 * records: legal, so read and reported, in bounded time and memory. */
START_TEST(test_million_stacks)
{
	struct enc e = {0};
	struct dt_trace *t;
	char err[DT_READ_ERR_BYTES];
	uint64_t rss0 = peak_rss_bytes();

	cap_address_space();
	enc_header(&e, DT_TRACE_VERSION, 0);
	enc_begin(&e, DT_SEC_META);
	enc_u32(&e, DT_META_NFIELDS);
	for (unsigned i = 0; i < DT_META_NFIELDS; i++)
		enc_u64(&e, i == DT_META_WALL_NS ? NS_PER_S : 0);
	enc_end(&e);
	enc_begin(&e, DT_SEC_MODULES);
	enc_u32(&e, 1);
	enc_u64(&e, 0);
	enc_u64(&e, 0x400000);
	enc_u64(&e, 0x500000);
	enc_u32(&e, 0);
	enc_str(&e, "/nonexistent/prog");
	enc_end(&e);
	enc_begin(&e, DT_SEC_STACKS);
	enc_u32(&e, MILLION);
	for (uint32_t i = 0; i < MILLION; i++) {
		uint32_t depth = i < 4 ? DT_MAX_STACK_DEPTH : 2;
		enc_u32(&e, depth);
		enc_u32(&e, 0);
		for (uint32_t d = 0; d < depth; d++) /* A B A B ...: a cycle in the call graph */
			enc_u64(&e, 0x401000 + ((d + i) & 1) * 0x1000);
	}
	enc_end(&e);
	enc_begin(&e, DT_SEC_CPU);
	enc_u32(&e, MILLION);
	for (uint32_t i = 0; i < MILLION; i++) {
		enc_u32(&e, i);
		enc_u64(&e, 1);
		enc_u64(&e, 1000000);
	}
	enc_end(&e);
	enc_end_marker(&e);

	ck_assert_int_eq(one_case_within(e.buf, e.len, "a million stacks", MILLION_CASE_MAX_CPU_NS),
			 DT_READ_OK);
	uint64_t grown = peak_rss_bytes() - rss0;
	ck_assert_msg(grown <= BYTES_PER_INPUT_BYTE * e.len, "%zu input bytes, peak RSS grew %llu bytes",
		      e.len, (unsigned long long)grown);

	/* Recursion counts once per stack: A and B are each on every stack, so total == samples. */
	ck_assert_int_eq(dt_trace_read_mem(e.buf, e.len, &t, err, sizeof(err)), DT_READ_OK);
	struct dt_symbolizer *sym;
	struct dt_profile *p;
	ck_assert_int_eq(dt_sym_open(t, DT_SYM_NO_DEBUG, NULL, &sym), 0);
	ck_assert_int_eq(dt_profile_build(t, sym, &p), 0);
	ck_assert_uint_eq(p->nfns, 2);
	for (uint32_t i = 0; i < p->nfns; i++)
		ck_assert_uint_eq(p->fns[i]->total_samples, MILLION);
	ck_assert_uint_eq(p->fns[0]->self_samples + p->fns[1]->self_samples, MILLION);
	dt_profile_free(p);
	dt_sym_close(sym);
	dt_trace_free(t);
	free(e.buf);
}
END_TEST

/* Extreme values everywhere at once: every u64 figure 2^64-1 (sums wrap, percentages overflow),
 * every address at the top of the address space; the reporters still produce their output. */
START_TEST(test_all_values_max)
{
	struct hb h;

	cap_address_space();
	build_rich(&h);
	for (size_t f = 0; f < h.nf; f++)
		if (h.f[f].kind == F_VALUE && h.f[f].width == 8)
			dt_put_u64(h.e.buf + h.f[f].off, UINT64_MAX);
	for (size_t i = 0; i < h.ns; i++)
		dt_put_u32(h.e.buf + h.s[i].header + 4,
			   (uint32_t)crc32(0L, h.e.buf + h.s[i].payload, (uInt)h.s[i].len));
	/* lo == hi == 2^64-1: empty but legal module ranges */
	ck_assert_int_eq(one_case(h.e.buf, h.e.len, "every u64 value 2^64-1"), DT_READ_OK);
	free(h.e.buf);
}
END_TEST

/* Names in a --no-symbols report are module basenames: control bytes, C1 controls and invalid UTF-8
 * must not reach a terminal through the text report, and no frame may split the folded format. */
START_TEST(test_hostile_module_names_text_folded)
{
	static const char *const names[] = {
	    "/x/esc\x1b[2J\x1b]0;title\x07.so",
	    "/x/c1\xc2\x9b"
	    "31m.so",
	    "/x/raw\x9b\xff\xfe.so",
	    "/x/semi;colon\nnew\rline\t.so",
	    "/x/del\x7f.so",
	};
	const size_t n = sizeof(names) / sizeof(names[0]);
	struct tmod mods[sizeof(names) / sizeof(names[0])];
	struct tstack stacks[sizeof(names) / sizeof(names[0])];
	struct tcpu cpu[sizeof(names) / sizeof(names[0])];
	uint64_t meta[DT_META_NFIELDS] = {0};

	meta[DT_META_WALL_NS] = NS_PER_S;
	for (size_t i = 0; i < n; i++) {
		uint64_t lo = 0x100000 * (i + 1);
		mods[i] = (struct tmod){0, lo, lo + 0x10000, names[i], NULL, 0};
		stacks[i] = (struct tstack){
		    2, DT_STACK_LEAF_EXACT, {lo + 0x10, 0x100000 * (((i + 1) % n) + 1) + 0x20}};
		cpu[i] = (struct tcpu){(uint32_t)i, 10 * (i + 1), 10000000 * (i + 1)};
	}
	struct tspec s = {.meta = meta,
			  .nmeta = DT_META_NFIELDS,
			  .exe = "/x/prog\x1b[31m",
			  .mods = mods,
			  .nmods = (uint32_t)n,
			  .stacks = stacks,
			  .nstacks = (uint32_t)n,
			  .cpu = cpu,
			  .ncpu = (uint32_t)n};
	size_t len;
	uint8_t *buf = enc_trace(&s, &len);
	struct dt_trace *t;
	char err[DT_READ_ERR_BYTES];
	ck_assert_int_eq(dt_trace_read_mem(buf, len, &t, err, sizeof(err)), DT_READ_OK);
	struct dt_symbolizer *sym;
	struct dt_profile *p;
	struct dt_report_opts o;
	dt_report_opts_default(&o);
	o.threshold_pct = 0;
	ck_assert_int_eq(dt_sym_open(t, DT_SYM_NO_DEBUG, NULL, &sym), 0);
	ck_assert_int_eq(dt_profile_build(t, sym, &p), 0);

	char *text = NULL, *folded = NULL;
	size_t text_len = 0, folded_len = 0;
	FILE *m = open_memstream(&text, &text_len);
	ck_assert_int_eq(dt_report_text(m, p, &o), 0);
	fclose(m);
	m = open_memstream(&folded, &folded_len);
	ck_assert_int_eq(dt_report_folded(m, p, &o), 0);
	fclose(m);

	/* text: no C0 but \n, no DEL, no C1 (UTF-8 C2 80..9F), no byte that is not valid UTF-8 */
	const unsigned char *u = (const unsigned char *)text;
	for (size_t i = 0; i < text_len; i++) {
		ck_assert_msg(u[i] >= 0x20 || u[i] == '\n', "text: control byte 0x%02x at %zu", u[i], i);
		ck_assert_msg(u[i] != 0x7f, "text: DEL at %zu", i);
		if (u[i] < 0x80)
			continue;
		size_t k = (u[i] & 0xe0) == 0xc0   ? 2
			   : (u[i] & 0xf0) == 0xe0 ? 3
			   : (u[i] & 0xf8) == 0xf0 ? 4
						   : 0;
		ck_assert_msg(k && i + k <= text_len, "text: invalid UTF-8 lead byte 0x%02x at %zu", u[i], i);
		for (size_t j = 1; j < k; j++)
			ck_assert_msg((u[i + j] & 0xc0) == 0x80, "text: invalid UTF-8 at %zu", i);
		ck_assert_msg(!(u[i] == 0xc2 && u[i + 1] < 0xa0), "text: C1 control at %zu", i);
		i += k - 1;
	}
	/* folded: one line per distinct stack of two frames, so each line has exactly one ';' */
	size_t lines = 0;
	for (char *line = strtok(folded, "\n"); line; line = strtok(NULL, "\n"), lines++) {
		size_t semis = 0;
		for (char *c = line; *c; c++)
			semis += *c == ';';
		ck_assert_msg(semis == 1, "folded: %zu ';' in '%s'", semis, line);
	}
	ck_assert_uint_eq(lines, n);
	free(text);
	free(folded);
	dt_profile_free(p);
	dt_sym_close(sym);
	dt_trace_free(t);
	free(buf);
}
END_TEST

static Suite *hostile_suite(void)
{
	Suite *s = suite_create("hostile");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_reporters_listed);
	tcase_add_test(tc, test_every_truncation);
	tcase_add_test(tc, test_every_byte_changed);
	tcase_add_test(tc, test_extreme_counts);
	tcase_add_test(tc, test_million_frame_stack);
	tcase_add_test(tc, test_million_stacks);
	tcase_add_test(tc, test_all_values_max);
	tcase_add_test(tc, test_hostile_module_names_text_folded);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(hostile_suite());
	int failed;

	srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
