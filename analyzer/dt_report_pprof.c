/* pprof reporter: the profile as one gzip-compressed profile.proto message (google/pprof
 * proto/profile.proto) for `go tool pprof`, Grafana Pyroscope and Parca. Reads the model, its trace
 * (stacks, modules) and per-pc lines (dt_profile_frame); writes only `out`. Strings are sanitised
 * to UTF-8 because proto3 decoders (Go's protobuf) reject a profile with invalid string bytes. */
#include "dt_report.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>
#include <zlib.h>

#include "dt_pb.h"

/* profile.proto field numbers. */
enum {
	PROFILE_SAMPLE_TYPE = 1,
	PROFILE_SAMPLE = 2,
	PROFILE_MAPPING = 3,
	PROFILE_LOCATION = 4,
	PROFILE_FUNCTION = 5,
	PROFILE_STRING_TABLE = 6,
	PROFILE_TIME_NANOS = 9,
	PROFILE_DURATION_NANOS = 10,
	PROFILE_PERIOD_TYPE = 11,
	PROFILE_PERIOD = 12,
	PROFILE_COMMENT = 13,
	PROFILE_DEFAULT_SAMPLE_TYPE = 14,
};
enum { VALUE_TYPE_TYPE = 1, VALUE_TYPE_UNIT = 2 };
enum { SAMPLE_LOCATION_ID = 1, SAMPLE_VALUE = 2 };
enum {
	MAPPING_ID = 1,
	MAPPING_MEMORY_START = 2,
	MAPPING_MEMORY_LIMIT = 3,
	MAPPING_FILENAME = 5,
	MAPPING_BUILD_ID = 6,
	MAPPING_HAS_FUNCTIONS = 7,
	MAPPING_HAS_FILENAMES = 8,
	MAPPING_HAS_LINE_NUMBERS = 9,
};
enum { LOCATION_ID = 1, LOCATION_MAPPING_ID = 2, LOCATION_ADDRESS = 3, LOCATION_LINE = 4 };
enum { LINE_FUNCTION_ID = 1, LINE_LINE = 2 };
enum {
	FUNCTION_ID = 1,
	FUNCTION_NAME = 2,
	FUNCTION_SYSTEM_NAME = 3,
	FUNCTION_FILENAME = 4,
	FUNCTION_START_LINE = 5
};

/* Sample value columns: CPU first (the default view), memory after it when the trace has it. */
enum { COL_SAMPLES, COL_CPU_NS, COL_ALLOC_OBJECTS, COL_ALLOC_SPACE, COL_INUSE_SPACE, NCOLS };
#define NCOLS_CPU_ONLY 2u
static const char *const col_type[NCOLS] = {"samples", "cpu", "alloc_objects", "alloc_space", "inuse_space"};
static const char *const col_unit[NCOLS] = {"count", "nanoseconds", "count", "bytes", "bytes"};
#define DEFAULT_COLUMN COL_CPU_NS

#define NS_PER_S 1000000000ull
#define NS_PER_S_F 1e9
#define GZIP_WINDOW_BITS (15 + 16) /* zlib: 32 KiB window, +16 = gzip header and trailer */
#define GZIP_MEM_LEVEL 8
#define GZIP_CHUNK_BYTES 16384u
#define COMMENT_BYTES 512u
#define BUILD_ID_HEX_BYTES (2 * DT_MAX_BUILD_ID_BYTES + 1)
#define UTF8_REPLACEMENT "\xef\xbf\xbd" /* U+FFFD */

struct str_entry {
	UT_hash_handle hh;
	int64_t index;
	char s[]; /* key */
};

/* One pprof Function per model function, and one more per other source file its pcs lie in
 * (code inlined from a header): the line number then names the right file. */
struct fn_key {
	uint32_t fn;	  /* model function id */
	uint32_t pad;	  /* zeroed: the key is hashed as bytes */
	const char *file; /* symbolizer-interned; NULL for the function's own file */
};
struct fn_entry {
	UT_hash_handle hh;
	struct fn_key key;
	uint64_t id;
};

struct loc_entry {
	UT_hash_handle hh;
	uint64_t addr; /* the address looked up (pc-1 for return addresses) */
	uint64_t id;
};

struct enc {
	const struct dt_profile *p;
	struct dt_pb out, strings, msg, sub;
	struct str_entry *str_index;
	int64_t nstrings;
	struct fn_entry *fn_index;
	uint64_t nfunctions;
	struct loc_entry *loc_index;
	uint64_t nlocations;
	uint64_t unknown_stack_loc; /* location of the depth-0 pseudo-frame, 0 until needed */
	uint64_t *mapping_of;	    /* trace module index -> mapping id */
	uint64_t *loc_ids;	    /* one sample's location ids (scratch) */
	size_t loc_ids_cap;
	int failed;
};

/* Length of the valid UTF-8 sequence at s, or 0 when it is not one (overlong forms, surrogates
 * and code points above U+10FFFF are invalid, as in the Unicode standard's table 3-7). */
static size_t utf8_seq_len(const unsigned char *s)
{
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (s[0] >= 0xe0 && s[0] <= 0xef) {
		unsigned char lo = s[0] == 0xe0 ? 0xa0 : 0x80, hi = s[0] == 0xed ? 0x9f : 0xbf;
		return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 ? 3 : 0;
	}
	if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		unsigned char lo = s[0] == 0xf0 ? 0x90 : 0x80, hi = s[0] == 0xf4 ? 0x8f : 0xbf;
		return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 && (s[3] & 0xc0) == 0x80 ? 4 : 0;
	}
	return 0;
}

/* A copy of s with every invalid UTF-8 byte replaced by U+FFFD (free it), NULL when out of memory. */
static char *utf8_clean(const char *s)
{
	size_t n = strlen(s);
	char *out = malloc(n * (sizeof(UTF8_REPLACEMENT) - 1) + 1), *o = out;

	if (!out)
		return NULL;
	while (*s) {
		size_t k = utf8_seq_len((const unsigned char *)s);

		if (k) {
			memcpy(o, s, k);
			o += k;
			s += k;
		} else {
			memcpy(o, UTF8_REPLACEMENT, sizeof(UTF8_REPLACEMENT) - 1);
			o += sizeof(UTF8_REPLACEMENT) - 1;
			s++;
		}
	}
	*o = '\0';
	return out;
}

/* Index of s in the string table, adding it on first use; NULL is "". */
static int64_t str_index(struct enc *e, const char *s)
{
	struct str_entry *se;
	char *clean;
	size_t len;

	if (!s)
		s = "";
	HASH_FIND_STR(e->str_index, s, se);
	if (se)
		return se->index;
	clean = utf8_clean(s);
	len = strlen(s);
	se = malloc(sizeof(*se) + len + 1);
	if (!clean || !se) {
		free(clean);
		free(se);
		e->failed = 1;
		return 0;
	}
	memcpy(se->s, s, len + 1);
	se->index = e->nstrings++;
	HASH_ADD_STR(e->str_index, s, se);
	dt_pb_string(&e->strings, PROFILE_STRING_TABLE, clean);
	free(clean);
	return se->index;
}

static void put_value_type(struct enc *e, uint32_t field, const char *type, const char *unit)
{
	dt_pb_reset(&e->msg);
	dt_pb_int(&e->msg, VALUE_TYPE_TYPE, str_index(e, type));
	dt_pb_int(&e->msg, VALUE_TYPE_UNIT, str_index(e, unit));
	dt_pb_msg(&e->out, field, &e->msg);
}

/* The module the program was started from goes first: profile.proto says mapping[0] is the main
 * binary, and pprof names the profile after it. */
static uint32_t main_module(const struct dt_trace *t)
{
	for (uint32_t i = 0; t->exe && i < t->nmodules; i++)
		if (strcmp(t->modules[i].path, t->exe) == 0)
			return i;
	return 0;
}

static void put_mapping(struct enc *e, uint32_t i, uint64_t id)
{
	const struct dt_module *m = &e->p->trace->modules[i];
	char hex[BUILD_ID_HEX_BYTES];

	for (uint32_t b = 0; b < m->build_id_len && b < DT_MAX_BUILD_ID_BYTES; b++)
		snprintf(hex + 2 * b, 3, "%02x", m->build_id[b]);
	hex[2 * (m->build_id_len < DT_MAX_BUILD_ID_BYTES ? m->build_id_len : DT_MAX_BUILD_ID_BYTES)] = '\0';
	e->mapping_of[i] = id;
	dt_pb_reset(&e->msg);
	dt_pb_uint(&e->msg, MAPPING_ID, id);
	dt_pb_uint(&e->msg, MAPPING_MEMORY_START, m->lo);
	dt_pb_uint(&e->msg, MAPPING_MEMORY_LIMIT, m->hi);
	dt_pb_int(&e->msg, MAPPING_FILENAME, str_index(e, m->path));
	dt_pb_int(&e->msg, MAPPING_BUILD_ID, str_index(e, hex));
	/* Symbolized here already (unresolved pcs are named module+0xOFFSET on purpose): pprof must
	 * not look for the binaries again. */
	dt_pb_uint(&e->msg, MAPPING_HAS_FUNCTIONS, 1);
	dt_pb_uint(&e->msg, MAPPING_HAS_FILENAMES, 1);
	dt_pb_uint(&e->msg, MAPPING_HAS_LINE_NUMBERS, 1);
	dt_pb_msg(&e->out, PROFILE_MAPPING, &e->msg);
}

static void put_mappings(struct enc *e)
{
	const struct dt_trace *t = e->p->trace;
	uint32_t first = main_module(t);
	uint64_t id = 1;

	if (!t->nmodules)
		return;
	put_mapping(e, first, id++);
	for (uint32_t i = 0; i < t->nmodules; i++)
		if (i != first)
			put_mapping(e, i, id++);
}

/* pprof Function id for model function fn seen at a pc in source file `file`. */
static uint64_t function_id(struct enc *e, const struct dt_function *fn, const char *file)
{
	struct fn_key key;
	struct fn_entry *fe;
	int own_file = !file || !fn->file || strcmp(file, fn->file) == 0;

	memset(&key, 0, sizeof(key));
	key.fn = fn->id;
	key.file = own_file ? NULL : file;
	HASH_FIND(hh, e->fn_index, &key, sizeof(key), fe);
	if (fe)
		return fe->id;
	fe = calloc(1, sizeof(*fe));
	if (!fe) {
		e->failed = 1;
		return 0;
	}
	fe->key = key;
	fe->id = ++e->nfunctions;
	HASH_ADD(hh, e->fn_index, key, sizeof(key), fe);
	dt_pb_reset(&e->msg);
	dt_pb_uint(&e->msg, FUNCTION_ID, fe->id);
	dt_pb_int(&e->msg, FUNCTION_NAME, str_index(e, fn->name));
	/* The symbolizer keeps only the demangled name: it is the system name we have. */
	dt_pb_int(&e->msg, FUNCTION_SYSTEM_NAME, str_index(e, fn->name));
	dt_pb_int(&e->msg, FUNCTION_FILENAME, str_index(e, own_file ? fn->file : file));
	if (own_file)
		dt_pb_int(&e->msg, FUNCTION_START_LINE, fn->line);
	dt_pb_msg(&e->out, PROFILE_FUNCTION, &e->msg);
	return fe->id;
}

static void put_location(struct enc *e, uint64_t id, uint64_t mapping, uint64_t addr, uint64_t fn_id,
			 uint32_t line)
{
	dt_pb_reset(&e->sub);
	dt_pb_uint(&e->sub, LINE_FUNCTION_ID, fn_id);
	dt_pb_int(&e->sub, LINE_LINE, line);
	dt_pb_reset(&e->msg);
	dt_pb_uint(&e->msg, LOCATION_ID, id);
	dt_pb_uint(&e->msg, LOCATION_MAPPING_ID, mapping);
	dt_pb_uint(&e->msg, LOCATION_ADDRESS, addr);
	dt_pb_msg(&e->msg, LOCATION_LINE, &e->sub);
	dt_pb_msg(&e->out, PROFILE_LOCATION, &e->msg);
}

/* Location id of frame d of stack sid: one location per distinct looked-up address. */
static uint64_t location_id(struct enc *e, uint32_t sid, uint32_t d)
{
	const struct dt_profile *p = e->p;
	const struct dt_function *fn = p->fns[p->stack_fns[sid][d]];
	struct dt_frame_info fi;
	struct loc_entry *le;
	uint64_t addr;

	if (!p->trace->stacks[sid].depth) {
		if (!e->unknown_stack_loc) {
			e->unknown_stack_loc = ++e->nlocations;
			put_location(e, e->unknown_stack_loc, 0, 0, function_id(e, fn, NULL), 0);
		}
		return e->unknown_stack_loc;
	}
	dt_profile_frame(p, sid, d, &addr, &fi);
	HASH_FIND(hh, e->loc_index, &addr, sizeof(addr), le);
	if (le)
		return le->id;
	le = calloc(1, sizeof(*le));
	if (!le) {
		e->failed = 1;
		return 0;
	}
	le->addr = addr;
	le->id = ++e->nlocations;
	HASH_ADD(hh, e->loc_index, addr, sizeof(le->addr), le);
	const struct dt_module *m = dt_trace_module_for(p->trace, addr);
	uint64_t mapping = m ? e->mapping_of[m - p->trace->modules] : 0;
	put_location(e, le->id, mapping, addr, function_id(e, fn, fi.file), fi.line);
	return le->id;
}

/* One sample: frames [from, depth) of stack sid, leaf first, with values v[NCOLS]. */
static void put_sample(struct enc *e, uint32_t sid, uint32_t from, const uint64_t *v, size_t ncols)
{
	const struct dt_stack *st = &e->p->trace->stacks[sid];
	uint32_t depth = st->depth ? st->depth : 1;
	size_t n = 0;

	if (depth > e->loc_ids_cap) {
		uint64_t *ids = realloc(e->loc_ids, depth * sizeof(*ids));
		if (!ids) {
			e->failed = 1;
			return;
		}
		e->loc_ids = ids;
		e->loc_ids_cap = depth;
	}
	for (uint32_t d = from; d < depth; d++)
		e->loc_ids[n++] = location_id(e, sid, d);
	dt_pb_reset(&e->msg);
	dt_pb_packed(&e->msg, SAMPLE_LOCATION_ID, e->loc_ids, n);
	dt_pb_packed(&e->msg, SAMPLE_VALUE, v, ncols);
	dt_pb_msg(&e->out, PROFILE_SAMPLE, &e->msg);
}

static void put_samples(struct enc *e, size_t ncols)
{
	const struct dt_profile *p = e->p;
	const struct dt_trace *t = p->trace;

	for (uint32_t i = 0; i < t->ncpu; i++) {
		const struct dt_cpu_rec *r = &t->cpu[i];
		uint64_t v[NCOLS] = {[COL_SAMPLES] = r->samples, [COL_CPU_NS] = r->weight_ns};

		if (p->stack_fns[r->stack] && (r->samples || r->weight_ns))
			put_sample(e, r->stack, 0, v, ncols);
	}
	if (ncols == NCOLS_CPU_ONLY)
		return;
	for (uint32_t i = 0; i < t->nalloc; i++) {
		const struct dt_alloc_rec *r = &t->alloc[i];
		const uint32_t *ids = p->stack_fns[r->stack];
		uint32_t depth = t->stacks[r->stack].depth, self = 0;
		uint64_t v[NCOLS] = {
		    [COL_ALLOC_OBJECTS] = r->f[DT_ALLOC_CALLS],
		    [COL_ALLOC_SPACE] = r->f[DT_ALLOC_BYTES],
		    [COL_INUSE_SPACE] = r->f[DT_ALLOC_PEAK_LIVE_BYTES],
		};

		if (!ids || !(v[COL_ALLOC_OBJECTS] || v[COL_ALLOC_SPACE] || v[COL_INUSE_SPACE]))
			continue;
		/* The model charges an allocation to the first frame below the allocator's entry
		 * points (operator new, strdup): the stack starts there too, so pprof's flat
		 * column is the report's self column. */
		while (self + 1 < depth && p->fns[ids[self]]->allocator)
			self++;
		put_sample(e, r->stack, self, v, ncols);
	}
}

static void put_comment(struct enc *e, const char *text)
{
	dt_pb_int(&e->out, PROFILE_COMMENT, str_index(e, text));
}

static void put_comments(struct enc *e, int memory)
{
	const struct dt_summary *s = &e->p->summary;
	char buf[COMMENT_BYTES];

	snprintf(buf, sizeof(buf), "deiatrace %s profile of %s (pid %" PRIu64 ")", DT_VERSION, s->program,
		 s->pid);
	put_comment(e, buf);
	snprintf(buf, sizeof(buf),
		 "cpu: %" PRIu64 " samples at %" PRIu64 " Hz per thread CPU second (%s); each sample "
		 "carries the CPU nanoseconds it stands for",
		 s->samples, s->sample_hz, s->sampler_name);
	put_comment(e, buf);
	if (memory) {
		put_comment(e, "alloc_objects, alloc_space: every malloc-family call, exact (not sampled); "
			       "stacks start at the caller of the allocator");
		snprintf(buf, sizeof(buf),
			 "inuse_space: bytes live at the process's heap peak (%" PRIu64
			 " bytes, %.3f s after "
			 "start), not at exit; no inuse_objects column",
			 s->heap_peak_bytes, (double)s->heap_peak_time_ns / NS_PER_S_F);
		put_comment(e, buf);
	}
	if (s->partial) {
		snprintf(buf, sizeof(buf), "partial trace: %s", s->partial_why);
		put_comment(e, buf);
	}
}

static int encode(struct enc *e)
{
	const struct dt_profile *p = e->p;
	const struct dt_trace *t = p->trace;
	int memory = p->summary.has_alloc;
	size_t ncols = memory ? NCOLS : NCOLS_CPU_ONLY;

	e->mapping_of = calloc(t->nmodules ? t->nmodules : 1, sizeof(*e->mapping_of));
	if (!e->mapping_of)
		return -1;
	str_index(e, ""); /* string_table[0] must be "" */
	for (size_t c = 0; c < ncols; c++)
		put_value_type(e, PROFILE_SAMPLE_TYPE, col_type[c], col_unit[c]);
	dt_pb_int(&e->out, PROFILE_DEFAULT_SAMPLE_TYPE, str_index(e, col_type[DEFAULT_COLUMN]));
	put_value_type(e, PROFILE_PERIOD_TYPE, col_type[COL_CPU_NS], col_unit[COL_CPU_NS]);
	if (p->summary.sample_hz)
		dt_pb_int(&e->out, PROFILE_PERIOD, (int64_t)(NS_PER_S / p->summary.sample_hz));
	dt_pb_int(&e->out, PROFILE_TIME_NANOS, (int64_t)t->meta[DT_META_START_REALTIME_NS]);
	dt_pb_int(&e->out, PROFILE_DURATION_NANOS, (int64_t)t->meta[DT_META_WALL_NS]);
	put_comments(e, memory);
	put_mappings(e);
	put_samples(e, ncols);
	return e->failed || e->out.failed || e->strings.failed ? -1 : 0;
}

/* Writes the message as one gzip member. */
static int write_gzip(FILE *out, const struct dt_pb *a, const struct dt_pb *b)
{
	const struct dt_pb *parts[] = {a, b};
	unsigned char chunk[GZIP_CHUNK_BYTES];
	z_stream zs;
	int rc = -1, zrc = Z_OK;

	memset(&zs, 0, sizeof(zs));
	if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, GZIP_WINDOW_BITS, GZIP_MEM_LEVEL,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		int last = i + 1 == sizeof(parts) / sizeof(parts[0]);

		zs.next_in = parts[i]->buf;
		zs.avail_in = (uInt)parts[i]->len;
		do {
			zs.next_out = chunk;
			zs.avail_out = sizeof(chunk);
			zrc = deflate(&zs, last ? Z_FINISH : Z_NO_FLUSH);
			if (zrc == Z_STREAM_ERROR)
				goto out;
			size_t n = sizeof(chunk) - zs.avail_out;
			if (n && fwrite(chunk, 1, n, out) != n)
				goto out;
		} while (zs.avail_out == 0 || zs.avail_in);
	}
	rc = zrc == Z_STREAM_END ? 0 : -1;
out:
	deflateEnd(&zs);
	return rc;
}

int dt_report_pprof(FILE *out, const struct dt_profile *p, const struct dt_report_opts *o)
{
	struct enc e = {.p = p};
	struct str_entry *se, *stmp;
	struct fn_entry *fe, *ftmp;
	struct loc_entry *le, *ltmp;
	int rc;

	(void)o;
	rc = encode(&e);
	/* Fields may come in any order: the string table, filled on the way, goes last. */
	if (!rc)
		rc = write_gzip(out, &e.out, &e.strings);
	HASH_ITER(hh, e.str_index, se, stmp)
	{
		HASH_DEL(e.str_index, se);
		free(se);
	}
	HASH_ITER(hh, e.fn_index, fe, ftmp)
	{
		HASH_DEL(e.fn_index, fe);
		free(fe);
	}
	HASH_ITER(hh, e.loc_index, le, ltmp)
	{
		HASH_DEL(e.loc_index, le);
		free(le);
	}
	dt_pb_free(&e.out);
	dt_pb_free(&e.strings);
	dt_pb_free(&e.msg);
	dt_pb_free(&e.sub);
	free(e.mapping_of);
	free(e.loc_ids);
	return rc;
}
