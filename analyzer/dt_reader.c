/* Trace reader: the only parser of deiatrace files. Owns struct dt_trace and its memory.
 * The input is untrusted: every count is checked against the bytes that remain before anything is
 * allocated, so memory stays proportional to the file size; it never reads outside the buffer.
 * Called by main.c, the tests and the fuzz target. */
#include "dt_reader.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define STR_LEN_BYTES 4u
#define STACK_REC_MIN_BYTES 8u	 /* u32 depth, u32 flags */
#define MODULE_REC_MIN_BYTES 32u /* 3 x u64, u32 idlen, u32 path length */
#define CPU_REC_BYTES 20u	 /* u32 stack, u64 samples, u64 weight_ns */
#define ALLOC_REC_BYTES (4u + 8u * DT_ALLOC_NFIELDS)
#define CALL_REC_BYTES 40u	/* 5 x u64 */
#define REGION_MAX_FIELDS 1024u /* a sanity bound on a newer writer's field count */
#define READ_CHUNK_BYTES (1u << 20)

/* A bounded view of one section payload. */
struct cursor {
	const uint8_t *p;
	size_t left;
	const char *section; /* for messages */
};

static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

static int cur_u32(struct cursor *c, uint32_t *v)
{
	if (c->left < 4)
		return -1;
	*v = dt_get_u32(c->p);
	c->p += 4;
	c->left -= 4;
	return 0;
}

static int cur_u64(struct cursor *c, uint64_t *v)
{
	if (c->left < 8)
		return -1;
	*v = dt_get_u64(c->p);
	c->p += 8;
	c->left -= 8;
	return 0;
}

/* A length-prefixed string; returns a NUL-terminated copy. Embedded NULs are rejected so that
 * what the report prints is what the file holds. */
static int cur_str(struct cursor *c, char **out, char *err, size_t errlen)
{
	uint32_t len;

	*out = NULL;
	if (cur_u32(c, &len))
		return fail(err, errlen, DT_READ_EFORMAT,
			    "%s: a string length expected, found the end of the section", c->section);
	if (len > DT_MAX_STRING_BYTES)
		return fail(err, errlen, DT_READ_EFORMAT,
			    "%s: a string of at most %u bytes expected, found %u bytes", c->section,
			    DT_MAX_STRING_BYTES, len);
	if (len > c->left)
		return fail(err, errlen, DT_READ_EFORMAT,
			    "%s: a string of %u bytes expected, found only %zu bytes left in the section",
			    c->section, len, c->left);
	if (memchr(c->p, '\0', len))
		return fail(err, errlen, DT_READ_EFORMAT,
			    "%s: a string without NUL bytes expected, found one", c->section);
	*out = malloc((size_t)len + 1);
	if (!*out)
		return fail(err, errlen, DT_READ_ENOMEM, "%s: out of memory", c->section);
	memcpy(*out, c->p, len);
	(*out)[len] = '\0';
	c->p += len;
	c->left -= len;
	return 0;
}

/* Reads a record count and checks that `n` records of at least `min_bytes` each can fit. */
static int cur_count(struct cursor *c, uint32_t *n, size_t min_bytes, char *err, size_t errlen)
{
	if (cur_u32(c, n))
		return fail(err, errlen, DT_READ_EFORMAT,
			    "%s: a record count expected, found the end of the section", c->section);
	/* Division, not multiplication: n * min_bytes could overflow on 32-bit size_t. */
	if (*n > c->left / min_bytes)
		return fail(err, errlen, DT_READ_EFORMAT,
			    "%s: %u records of at least %zu bytes expected, found only %zu bytes", c->section,
			    *n, min_bytes, c->left);
	return 0;
}

static int cur_end(const struct cursor *c, char *err, size_t errlen)
{
	if (c->left)
		return fail(err, errlen, DT_READ_EFORMAT,
			    "%s: the end of the section expected, found %zu extra bytes", c->section,
			    c->left);
	return 0;
}

static int parse_meta(struct dt_trace *t, struct cursor *c, char *err, size_t errlen)
{
	uint32_t n;
	int rc = cur_count(c, &n, 8, err, errlen);

	if (rc)
		return rc;
	if (n > DT_MAX_META_FIELDS)
		return fail(err, errlen, DT_READ_EFORMAT, "meta: at most %u fields expected, found %u",
			    DT_MAX_META_FIELDS, n);
	t->meta_fields = n;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t v = 0;

		cur_u64(c, &v); /* cannot fail: cur_count checked the size */
		if (i < DT_META_NFIELDS)
			t->meta[i] = v; /* unknown (newer) fields are ignored */
	}
	return cur_end(c, err, errlen);
}

static int parse_cmdline(struct dt_trace *t, struct cursor *c, char *err, size_t errlen)
{
	uint32_t n;
	int rc = cur_str(c, &t->exe, err, errlen);

	if (rc)
		return rc;
	rc = cur_count(c, &n, STR_LEN_BYTES, err, errlen);
	if (rc)
		return rc;
	t->argv = calloc((size_t)n + 1, sizeof(*t->argv));
	if (!t->argv)
		return fail(err, errlen, DT_READ_ENOMEM, "cmdline: out of memory");
	for (uint32_t i = 0; i < n; i++) {
		rc = cur_str(c, &t->argv[i], err, errlen);
		if (rc)
			return rc;
		t->argc = i + 1;
	}
	return cur_end(c, err, errlen);
}

static int parse_modules(struct dt_trace *t, struct cursor *c, char *err, size_t errlen)
{
	uint32_t n;
	int rc = cur_count(c, &n, MODULE_REC_MIN_BYTES, err, errlen);

	if (rc)
		return rc;
	t->modules = calloc(n ? n : 1, sizeof(*t->modules));
	if (!t->modules)
		return fail(err, errlen, DT_READ_ENOMEM, "modules: out of memory");
	for (uint32_t i = 0; i < n; i++) {
		struct dt_module *m = &t->modules[i];

		if (cur_u64(c, &m->load_bias) || cur_u64(c, &m->lo) || cur_u64(c, &m->hi) ||
		    cur_u32(c, &m->build_id_len))
			return fail(err, errlen, DT_READ_EFORMAT,
				    "modules: module %u of %u expected, found the end", i, n);
		if (m->lo > m->hi)
			return fail(err, errlen, DT_READ_EFORMAT,
				    "modules: module %u: start <= end expected, found 0x%llx > 0x%llx", i,
				    (unsigned long long)m->lo, (unsigned long long)m->hi);
		if (m->build_id_len > DT_MAX_BUILD_ID_BYTES || m->build_id_len > c->left)
			return fail(err, errlen, DT_READ_EFORMAT,
				    "modules: module %u: a build-id of at most %u bytes expected, found %u",
				    i, DT_MAX_BUILD_ID_BYTES, m->build_id_len);
		memcpy(m->build_id, c->p, m->build_id_len);
		c->p += m->build_id_len;
		c->left -= m->build_id_len;
		rc = cur_str(c, &m->path, err, errlen);
		if (rc)
			return rc;
		t->nmodules = i + 1;
	}
	return cur_end(c, err, errlen);
}

static int parse_stacks(struct dt_trace *t, struct cursor *c, char *err, size_t errlen)
{
	uint32_t n;
	size_t pcs_total;
	int rc = cur_count(c, &n, STACK_REC_MIN_BYTES, err, errlen);

	if (rc)
		return rc;
	/* Every pc takes 8 file bytes, so the pool is bounded by the payload size. */
	pcs_total = (c->left - (size_t)n * STACK_REC_MIN_BYTES) / 8;
	t->stacks = calloc(n ? n : 1, sizeof(*t->stacks));
	t->pc_pool = malloc((pcs_total ? pcs_total : 1) * sizeof(uint64_t));
	if (!t->stacks || !t->pc_pool)
		return fail(err, errlen, DT_READ_ENOMEM, "stacks: out of memory");
	size_t used = 0;
	for (uint32_t i = 0; i < n; i++) {
		struct dt_stack *s = &t->stacks[i];

		if (cur_u32(c, &s->depth) || cur_u32(c, &s->flags))
			return fail(err, errlen, DT_READ_EFORMAT,
				    "stacks: stack %u of %u expected, found the end", i, n);
		if (s->depth > DT_MAX_STACK_DEPTH)
			return fail(err, errlen, DT_READ_EFORMAT,
				    "stacks: stack %u: depth at most %u expected, found %u", i,
				    DT_MAX_STACK_DEPTH, s->depth);
		if (s->depth > c->left / 8 || s->depth > pcs_total - used)
			return fail(err, errlen, DT_READ_EFORMAT,
				    "stacks: stack %u: %u pcs expected, found only %zu bytes left", i,
				    s->depth, c->left);
		s->pcs = t->pc_pool + used;
		for (uint32_t d = 0; d < s->depth; d++)
			cur_u64(c, &s->pcs[d]);
		used += s->depth;
		t->nstacks = i + 1;
	}
	return cur_end(c, err, errlen);
}

static int parse_cpu(struct dt_trace *t, struct cursor *c, char *err, size_t errlen)
{
	uint32_t n;
	int rc = cur_count(c, &n, CPU_REC_BYTES, err, errlen);

	if (rc)
		return rc;
	t->cpu = calloc(n ? n : 1, sizeof(*t->cpu));
	if (!t->cpu)
		return fail(err, errlen, DT_READ_ENOMEM, "cpu: out of memory");
	for (uint32_t i = 0; i < n; i++) {
		cur_u32(c, &t->cpu[i].stack);
		cur_u64(c, &t->cpu[i].samples);
		cur_u64(c, &t->cpu[i].weight_ns);
	}
	t->ncpu = n;
	return cur_end(c, err, errlen);
}

static int parse_alloc(struct dt_trace *t, struct cursor *c, char *err, size_t errlen)
{
	uint32_t n;
	int rc = cur_count(c, &n, ALLOC_REC_BYTES, err, errlen);

	if (rc)
		return rc;
	t->alloc = calloc(n ? n : 1, sizeof(*t->alloc));
	if (!t->alloc)
		return fail(err, errlen, DT_READ_ENOMEM, "alloc: out of memory");
	for (uint32_t i = 0; i < n; i++) {
		cur_u32(c, &t->alloc[i].stack);
		for (int f = 0; f < DT_ALLOC_NFIELDS; f++)
			cur_u64(c, &t->alloc[i].f[f]);
	}
	t->nalloc = n;
	return cur_end(c, err, errlen);
}

static int parse_calls(struct dt_trace *t, struct cursor *c, char *err, size_t errlen)
{
	uint32_t n;
	int rc = cur_count(c, &n, CALL_REC_BYTES, err, errlen);

	if (rc)
		return rc;
	t->calls = calloc(n ? n : 1, sizeof(*t->calls));
	if (!t->calls)
		return fail(err, errlen, DT_READ_ENOMEM, "calls: out of memory");
	for (uint32_t i = 0; i < n; i++) {
		struct dt_call_rec *r = &t->calls[i];

		cur_u64(c, &r->fn_addr);
		cur_u64(c, &r->calls);
		cur_u64(c, &r->incl_ns);
		cur_u64(c, &r->excl_ns);
		cur_u64(c, &r->max_ns);
	}
	t->ncalls = n;
	return cur_end(c, err, errlen);
}

/* DT_SEC_REGIONS: u32 flags; u64 dropped; u32 nfields; u32 n; n x { str name; u64 value[nfields] }.
 * Fields beyond DT_REGION_NFIELDS (a newer writer's) are skipped; missing ones stay 0 and nfields
 * tells the reporters they were not recorded. */
static int parse_regions_cur(struct cursor *c, struct dt_regions **out, char *err, size_t errlen)
{
	struct dt_regions *r = dt_regions_new();
	uint32_t nfields, n;
	int rc;

	*out = NULL;
	if (!r)
		return fail(err, errlen, DT_READ_ENOMEM, "regions: out of memory");
	if (cur_u32(c, &r->flags) || cur_u64(c, &r->dropped) || cur_u32(c, &nfields)) {
		rc = fail(err, errlen, DT_READ_EFORMAT, "regions: a 20-byte header expected, found %zu bytes",
			  c->left);
		goto out;
	}
	if (nfields > REGION_MAX_FIELDS) {
		rc = fail(err, errlen, DT_READ_EFORMAT, "regions: at most %u fields expected, found %u",
			  REGION_MAX_FIELDS, nfields);
		goto out;
	}
	rc = cur_count(c, &n, STR_LEN_BYTES + 8u * (size_t)nfields, err, errlen);
	if (rc)
		goto out;
	r->nfields = nfields;
	r->runs = 1;
	r->r = calloc(n ? n : 1, sizeof(*r->r));
	if (!r->r) {
		rc = fail(err, errlen, DT_READ_ENOMEM, "regions: out of memory for %u regions", n);
		goto out;
	}
	for (uint32_t i = 0; i < n; i++) {
		struct dt_region_stat *s = &r->r[i];

		rc = cur_str(c, &s->name, err, errlen);
		if (rc)
			goto out;
		r->n = i + 1; /* owns the name from here on */
		if (strlen(s->name) > DT_REGION_NAME_BYTES) {
			rc = fail(err, errlen, DT_READ_EFORMAT,
				  "regions: region %u: a name of at most %u bytes expected, found %zu", i,
				  DT_REGION_NAME_BYTES, strlen(s->name));
			goto out;
		}
		for (uint32_t f = 0; f < nfields; f++) {
			uint64_t v;

			if (cur_u64(c, &v)) {
				rc = fail(err, errlen, DT_READ_EFORMAT,
					  "regions: region %u: %u values expected, found the end of the "
					  "section",
					  i, nfields);
				goto out;
			}
			if (f < DT_REGION_NFIELDS)
				s->f[f] = v;
		}
	}
	rc = cur_end(c, err, errlen);
out:
	if (rc) {
		dt_regions_free(r);
		return rc;
	}
	*out = r;
	return DT_READ_OK;
}

static int parse_regions(struct dt_trace *t, struct cursor *c, char *err, size_t errlen)
{
	return parse_regions_cur(c, &t->regions, err, errlen);
}

int dt_trace_parse_regions(const uint8_t *p, size_t len, struct dt_regions **out, char *err, size_t errlen)
{
	struct cursor c = {p, len, "regions"};

	return parse_regions_cur(&c, out, err, errlen);
}

struct section_kind {
	uint32_t id;
	const char *name;
	size_t seen_offset; /* offsetof the has_* flag in struct dt_trace */
	int (*parse)(struct dt_trace *, struct cursor *, char *, size_t);
};

static const struct section_kind section_kinds[] = {
    {DT_SEC_META, "meta", offsetof(struct dt_trace, has_meta), parse_meta},
    {DT_SEC_CMDLINE, "cmdline", offsetof(struct dt_trace, has_cmdline), parse_cmdline},
    {DT_SEC_MODULES, "modules", offsetof(struct dt_trace, has_modules), parse_modules},
    {DT_SEC_STACKS, "stacks", offsetof(struct dt_trace, has_stacks), parse_stacks},
    {DT_SEC_CPU, "cpu", offsetof(struct dt_trace, has_cpu), parse_cpu},
    {DT_SEC_ALLOC, "alloc", offsetof(struct dt_trace, has_alloc), parse_alloc},
    {DT_SEC_CALLS, "calls", offsetof(struct dt_trace, has_calls), parse_calls},
    {DT_SEC_REGIONS, "regions", offsetof(struct dt_trace, has_regions), parse_regions},
};

static int section_known(uint32_t id)
{
	if (id == DT_SEC_END)
		return 1;
	for (size_t i = 0; i < sizeof(section_kinds) / sizeof(section_kinds[0]); i++)
		if (section_kinds[i].id == id)
			return 1;
	return 0;
}

/* Cross-section checks, once every section is in: ids must name existing stacks. */
static int check_refs(const struct dt_trace *t, char *err, size_t errlen)
{
	for (uint32_t i = 0; i < t->ncpu; i++)
		if (t->cpu[i].stack >= t->nstacks)
			return fail(err, errlen, DT_READ_EFORMAT,
				    "cpu: record %u: a stack id below %u expected, found %u", i, t->nstacks,
				    t->cpu[i].stack);
	for (uint32_t i = 0; i < t->nalloc; i++)
		if (t->alloc[i].stack >= t->nstacks)
			return fail(err, errlen, DT_READ_EFORMAT,
				    "alloc: record %u: a stack id below %u expected, found %u", i, t->nstacks,
				    t->alloc[i].stack);
	return 0;
}

static void mark_partial(struct dt_trace *t, const char *why)
{
	if (!t->partial)
		snprintf(t->partial_why, sizeof(t->partial_why), "%s", why);
	t->partial = 1;
}

int dt_trace_read_mem(const uint8_t *buf, size_t len, struct dt_trace **out, char *err, size_t errlen)
{
	struct dt_trace *t = NULL;
	size_t off = DT_FILE_HEADER_BYTES;
	int rc = 0, ended = 0;

	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	if (len < DT_FILE_HEADER_BYTES)
		return fail(err, errlen, DT_READ_EFORMAT,
			    "a %u-byte deiatrace header expected, found %zu bytes", DT_FILE_HEADER_BYTES,
			    len);
	if (memcmp(buf, DT_TRACE_MAGIC, DT_TRACE_MAGIC_LEN) != 0)
		return fail(err, errlen, DT_READ_EFORMAT,
			    "the deiatrace magic \"DEIATRC\\x1a\" expected, found other bytes (not a "
			    "deiatrace file)");
	t = calloc(1, sizeof(*t));
	if (!t)
		return fail(err, errlen, DT_READ_ENOMEM, "out of memory");
	t->version = dt_get_u32(buf + DT_TRACE_MAGIC_LEN);
	t->flags = dt_get_u32(buf + DT_TRACE_MAGIC_LEN + 4);
	/* The format has one version number; a change the reader cannot skip bumps it. */
	if (t->version > DT_TRACE_VERSION) {
		rc = fail(err, errlen, DT_READ_EVERSION,
			  "trace format version %u or older expected, found version %u (written by a newer "
			  "deiatrace; upgrade deiatrace-analyze)",
			  DT_TRACE_VERSION, t->version);
		goto out;
	}
	if (t->version == 0) {
		rc = fail(err, errlen, DT_READ_EFORMAT, "trace format version 1..%u expected, found 0",
			  DT_TRACE_VERSION);
		goto out;
	}
	if (t->flags & DT_FLAG_CHECKPOINT)
		mark_partial(t, "checkpoint written while the program was still running");

	while (off < len) {
		uint32_t id, crc;
		uint64_t plen;
		const struct section_kind *k = NULL;

		if (len - off < DT_SECTION_HEADER_BYTES) {
			mark_partial(t, "the file ends inside a section header");
			break;
		}
		id = dt_get_u32(buf + off);
		crc = dt_get_u32(buf + off + 4);
		plen = dt_get_u64(buf + off + 8);
		off += DT_SECTION_HEADER_BYTES;
		if (plen > len - off) {
			/* A cut-off tail keeps what came before usable; but an unknown id whose length runs
			 * past the end is garbage, not a section this or any writer began. */
			if (!section_known(id)) {
				rc = fail(
				    err, errlen, DT_READ_EFORMAT,
				    "a section header at offset %zu expected, found id %u with %llu bytes "
				    "past the end of the file",
				    off - DT_SECTION_HEADER_BYTES, id, (unsigned long long)plen);
				goto out;
			}
			mark_partial(t, "the file ends inside a section");
			break;
		}
		const uint8_t *payload = buf + off;
		off += (size_t)plen;
		if (plen > UINT32_MAX) {
			rc = fail(err, errlen, DT_READ_EFORMAT,
				  "section %u: a payload below 4 GiB expected, found %llu bytes", id,
				  (unsigned long long)plen);
			goto out;
		}
		uint32_t crc_found = (uint32_t)crc32(0L, payload, (uInt)plen);
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
		crc_found = crc; /* let the fuzzer reach the parsers behind the checksum */
#endif
		if (crc_found != crc) {
			rc = fail(err, errlen, DT_READ_EFORMAT,
				  "section %u at offset %zu: payload crc32 0x%08x expected, found 0x%08x", id,
				  off - (size_t)plen - DT_SECTION_HEADER_BYTES, crc, crc_found);
			goto out;
		}
		if (id == DT_SEC_END) {
			if (plen != 0) {
				rc = fail(err, errlen, DT_READ_EFORMAT,
					  "end section: an empty payload expected, found %llu bytes",
					  (unsigned long long)plen);
				goto out;
			}
			ended = 1;
			break; /* bytes after the end marker are ignored */
		}
		for (size_t i = 0; i < sizeof(section_kinds) / sizeof(section_kinds[0]); i++)
			if (section_kinds[i].id == id)
				k = &section_kinds[i];
		if (!k) {
			t->unknown_sections++; /* a newer writer's section: skip it */
			continue;
		}
		int *seen = (int *)((char *)t + k->seen_offset);
		if (*seen) {
			rc = fail(err, errlen, DT_READ_EFORMAT, "one %s section expected, found a second",
				  k->name);
			goto out;
		}
		*seen = 1;
		struct cursor c = {payload, (size_t)plen, k->name};
		rc = k->parse(t, &c, err, errlen);
		if (rc)
			goto out;
	}
	if (!ended && !t->has_meta) {
		/* The writer puts META first: a cut before its end leaves nothing worth reporting. */
		rc = fail(err, errlen, DT_READ_EFORMAT,
			  "a complete meta section expected, found the file ending at byte %zu (truncated?)",
			  len);
		goto out;
	}
	if (!ended)
		mark_partial(t, "no end marker (the program did not finish writing the trace)");
	rc = check_refs(t, err, errlen);
out:
	if (rc) {
		dt_trace_free(t);
		return rc;
	}
	*out = t;
	return DT_READ_OK;
}

int dt_trace_read_file(const char *path, struct dt_trace **out, char *err, size_t errlen)
{
	struct stat st;
	uint8_t *buf = NULL;
	size_t len = 0;
	int fd, rc;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(err, errlen, DT_READ_EIO, "a readable trace file expected, found: %s",
			    strerror(errno));
	errno = 0;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		rc = fail(err, errlen, DT_READ_EIO, "a regular file expected, found %s",
			  errno ? strerror(errno) : "something else");
		goto out;
	}
	buf = malloc(st.st_size > 0 ? (size_t)st.st_size : 1);
	if (!buf) {
		rc = fail(err, errlen, DT_READ_ENOMEM, "out of memory for a %lld-byte file",
			  (long long)st.st_size);
		goto out;
	}
	/* Read at most the size fstat reported: a file still growing is read as it was. */
	while (len < (size_t)st.st_size) {
		size_t want = (size_t)st.st_size - len;
		ssize_t got = read(fd, buf + len, want < READ_CHUNK_BYTES ? want : READ_CHUNK_BYTES);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			rc = fail(err, errlen, DT_READ_EIO, "readable bytes expected, found: %s",
				  strerror(errno));
			goto out;
		}
		if (got == 0)
			break;
		len += (size_t)got;
	}
	rc = dt_trace_read_mem(buf, len, out, err, errlen);
out:
	free(buf);
	close(fd);
	return rc;
}

void dt_trace_free(struct dt_trace *t)
{
	if (!t)
		return;
	free(t->exe);
	for (uint32_t i = 0; t->argv && i < t->argc; i++)
		free(t->argv[i]);
	free(t->argv);
	for (uint32_t i = 0; i < t->nmodules; i++)
		free(t->modules[i].path);
	free(t->modules);
	free(t->stacks);
	free(t->pc_pool);
	free(t->cpu);
	free(t->alloc);
	free(t->calls);
	dt_regions_free(t->regions);
	free(t);
}

const char *dt_read_status_advice(int status)
{
	switch (status) {
	case DT_READ_EIO:
		return "give the trace path that `deiatrace record` printed";
	case DT_READ_EFORMAT:
		return "not a deiatrace trace, or a damaged one: record the program again";
	case DT_READ_EVERSION:
		return "install the deiatrace that wrote it, or record again with this one";
	case DT_READ_ENOMEM:
		return "free some memory, or record a shorter run";
	default:
		return "record the program again";
	}
}

const struct dt_module *dt_trace_module_for(const struct dt_trace *t, uint64_t pc)
{
	/* Few modules (tens); a linear scan keeps the first match when ranges overlap. */
	for (uint32_t i = 0; i < t->nmodules; i++)
		if (pc >= t->modules[i].lo && pc < t->modules[i].hi)
			return &t->modules[i];
	return NULL;
}
