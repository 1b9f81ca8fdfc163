/* Test-side trace encoder: builds deiatrace files in memory with the dt_format.h helpers, so the
 * analyzer tests own their ground truth. Test code only; the analyzer never writes traces. */
#ifndef CHECK_ANALYZER_ENCODER_H
#define CHECK_ANALYZER_ENCODER_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "dt_format.h"

struct enc {
	uint8_t *buf;
	size_t len, cap;
	size_t mark; /* start of the open section's header */
};

static void enc_reserve(struct enc *e, size_t n)
{
	if (e->len + n <= e->cap)
		return;
	while (e->len + n > e->cap)
		e->cap = e->cap ? e->cap * 2 : 256;
	e->buf = realloc(e->buf, e->cap);
	if (!e->buf)
		abort();
}

static void enc_bytes(struct enc *e, const void *p, size_t n)
{
	enc_reserve(e, n);
	if (n)
		memcpy(e->buf + e->len, p, n);
	e->len += n;
}

static void enc_u32(struct enc *e, uint32_t v)
{
	enc_reserve(e, 4);
	dt_put_u32(e->buf + e->len, v);
	e->len += 4;
}

static void enc_u64(struct enc *e, uint64_t v)
{
	enc_reserve(e, 8);
	dt_put_u64(e->buf + e->len, v);
	e->len += 8;
}

static void enc_str(struct enc *e, const char *s)
{
	enc_u32(e, (uint32_t)strlen(s));
	enc_bytes(e, s, strlen(s));
}

static void enc_header(struct enc *e, uint32_t version, uint32_t flags)
{
	enc_bytes(e, DT_TRACE_MAGIC, DT_TRACE_MAGIC_LEN);
	enc_u32(e, version);
	enc_u32(e, flags);
}

static void enc_begin(struct enc *e, uint32_t id)
{
	e->mark = e->len;
	enc_u32(e, id);
	enc_u32(e, 0);
	enc_u64(e, 0);
}

/* Back-patches the open section's payload length and crc32. */
static void enc_end(struct enc *e)
{
	size_t payload = e->mark + DT_SECTION_HEADER_BYTES, n = e->len - payload;

	dt_put_u32(e->buf + e->mark + 4, (uint32_t)crc32(0L, e->buf + payload, (uInt)n));
	dt_put_u64(e->buf + e->mark + 8, n);
}

static void enc_end_marker(struct enc *e)
{
	enc_begin(e, DT_SEC_END);
	enc_end(e);
}

/* A trace description for enc_trace. */
struct tmod {
	uint64_t bias, lo, hi;
	const char *path;
	const uint8_t *build_id;
	uint32_t build_id_len;
};
struct tstack {
	uint32_t depth, flags;
	uint64_t pcs[16];
};
struct tcpu {
	uint32_t stack;
	uint64_t samples, weight_ns;
};
struct talloc {
	uint32_t stack;
	uint64_t f[DT_ALLOC_NFIELDS];
};
struct tspec {
	uint32_t flags;
	const uint64_t *meta;
	uint32_t nmeta;
	const char *exe;
	const char *const *argv;
	uint32_t argc;
	const struct tmod *mods;
	uint32_t nmods;
	const struct tstack *stacks;
	uint32_t nstacks;
	const struct tcpu *cpu;
	uint32_t ncpu;
	const struct talloc *alloc;
	uint32_t nalloc;
	const uint8_t *regions; /* a raw DT_SEC_REGIONS payload, or NULL */
	size_t regions_len;
	int no_end;
};

static uint8_t *enc_trace(const struct tspec *s, size_t *len)
{
	struct enc e = {0};

	enc_header(&e, DT_TRACE_VERSION, s->flags);
	if (s->meta) {
		enc_begin(&e, DT_SEC_META);
		enc_u32(&e, s->nmeta);
		for (uint32_t i = 0; i < s->nmeta; i++)
			enc_u64(&e, s->meta[i]);
		enc_end(&e);
	}
	if (s->exe) {
		enc_begin(&e, DT_SEC_CMDLINE);
		enc_str(&e, s->exe);
		enc_u32(&e, s->argc);
		for (uint32_t i = 0; i < s->argc; i++)
			enc_str(&e, s->argv[i]);
		enc_end(&e);
	}
	enc_begin(&e, DT_SEC_MODULES);
	enc_u32(&e, s->nmods);
	for (uint32_t i = 0; i < s->nmods; i++) {
		enc_u64(&e, s->mods[i].bias);
		enc_u64(&e, s->mods[i].lo);
		enc_u64(&e, s->mods[i].hi);
		enc_u32(&e, s->mods[i].build_id_len);
		enc_bytes(&e, s->mods[i].build_id, s->mods[i].build_id_len);
		enc_str(&e, s->mods[i].path);
	}
	enc_end(&e);
	enc_begin(&e, DT_SEC_STACKS);
	enc_u32(&e, s->nstacks);
	for (uint32_t i = 0; i < s->nstacks; i++) {
		enc_u32(&e, s->stacks[i].depth);
		enc_u32(&e, s->stacks[i].flags);
		for (uint32_t d = 0; d < s->stacks[i].depth; d++)
			enc_u64(&e, s->stacks[i].pcs[d]);
	}
	enc_end(&e);
	enc_begin(&e, DT_SEC_CPU);
	enc_u32(&e, s->ncpu);
	for (uint32_t i = 0; i < s->ncpu; i++) {
		enc_u32(&e, s->cpu[i].stack);
		enc_u64(&e, s->cpu[i].samples);
		enc_u64(&e, s->cpu[i].weight_ns);
	}
	enc_end(&e);
	if (s->alloc) {
		enc_begin(&e, DT_SEC_ALLOC);
		enc_u32(&e, s->nalloc);
		for (uint32_t i = 0; i < s->nalloc; i++) {
			enc_u32(&e, s->alloc[i].stack);
			for (int f = 0; f < DT_ALLOC_NFIELDS; f++)
				enc_u64(&e, s->alloc[i].f[f]);
		}
		enc_end(&e);
	}
	if (s->regions) {
		enc_begin(&e, DT_SEC_REGIONS);
		enc_bytes(&e, s->regions, s->regions_len);
		enc_end(&e);
	}
	if (!s->no_end)
		enc_end_marker(&e);
	*len = e.len;
	return e.buf;
}

#endif
