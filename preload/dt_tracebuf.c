/* The trace buffer: a growable byte buffer in anonymous mmap'd memory (mremap to grow) that the writer
 * and every module's *_emit encode sections into, little-endian, with back-patched section headers.
 * Never calls malloc (the shim's hooks may be interposing it); a failure latches b->failed and later
 * puts become no-ops, so callers check once at the end. Called by dt_writer and the *_emit functions. */
#define _GNU_SOURCE
#include <string.h>
#include <sys/mman.h>
#include <zlib.h>

#include "dt_shim.h"

#define TRACEBUF_INITIAL_BYTES (16u * 1024u) /* most short-lived processes write less */
#define TRACEBUF_CRC_CHUNK_BYTES (1u << 30)  /* zlib's crc32 takes a 32-bit length */

static int tracebuf_reserve(struct dt_tracebuf *b, size_t extra) /* ctx: any */
{
	if (b->failed)
		return -1;
	if (extra <= b->cap - b->len)
		return 0;
	if (extra > SIZE_MAX / 2 - b->len)
		goto fail;
	size_t want = b->len + extra;
	size_t cap = b->cap ? b->cap : TRACEBUF_INITIAL_BYTES;
	while (cap < want)
		cap *= 2;
	/* Every byte of the buffer is about to be written: one call makes its pages present instead of a
	 * page fault per page (dt_prefault). mremap moves the pages already there. */
	uint8_t *p;
	if (b->data)
		p = mremap(b->data, b->cap, cap, MREMAP_MAYMOVE);
	else
		p = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1,
			 0);
	if (p == MAP_FAILED)
		goto fail;
	if (b->data)
		dt_prefault(p + b->cap, cap - b->cap);
	b->data = p;
	b->cap = cap;
	return 0;
fail:
	b->failed = 1;
	return -1;
}

void dt_tracebuf_put_bytes(struct dt_tracebuf *b, const void *p, size_t n) /* ctx: any */
{
	if (n == 0 || tracebuf_reserve(b, n) != 0)
		return;
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

void dt_tracebuf_put_u32(struct dt_tracebuf *b, uint32_t v) /* ctx: any */
{
	if (tracebuf_reserve(b, sizeof(v)) != 0)
		return;
	dt_put_u32(b->data + b->len, v);
	b->len += sizeof(v);
}

void dt_tracebuf_put_u64(struct dt_tracebuf *b, uint64_t v) /* ctx: any */
{
	if (tracebuf_reserve(b, sizeof(v)) != 0)
		return;
	dt_put_u64(b->data + b->len, v);
	b->len += sizeof(v);
}

/* A NULL string is written as an empty one; a longer one is cut at DT_MAX_STRING_BYTES, the limit
 * readers enforce. ctx: any */
void dt_tracebuf_put_str(struct dt_tracebuf *b, const char *s)
{
	size_t n = s ? strnlen(s, DT_MAX_STRING_BYTES) : 0;
	dt_tracebuf_put_u32(b, (uint32_t)n);
	dt_tracebuf_put_bytes(b, s, n);
}

/* Writes a placeholder header; returns the mark section_end needs (the header's offset). ctx: any */
size_t dt_tracebuf_section_begin(struct dt_tracebuf *b, uint32_t id)
{
	size_t mark = b->len;
	dt_tracebuf_put_u32(b, id);
	dt_tracebuf_put_u32(b, 0); /* crc32, patched by section_end */
	dt_tracebuf_put_u64(b, 0); /* payload bytes, patched by section_end */
	return mark;
}

void dt_tracebuf_section_end(struct dt_tracebuf *b, size_t mark) /* ctx: any */
{
	if (b->failed)
		return;
	if (mark > b->len || b->len - mark < DT_SECTION_HEADER_BYTES) {
		b->failed = 1; /* a mark that section_begin did not return: a bug, not a trace */
		return;
	}
	const uint8_t *payload = b->data + mark + DT_SECTION_HEADER_BYTES;
	size_t left = b->len - mark - DT_SECTION_HEADER_BYTES;
	uint64_t payload_bytes = left;
	uLong crc = crc32(0L, Z_NULL, 0);
	while (left > 0) {
		size_t n = left < TRACEBUF_CRC_CHUNK_BYTES ? left : TRACEBUF_CRC_CHUNK_BYTES;
		crc = crc32(crc, payload, (uInt)n);
		payload += n;
		left -= n;
	}
	dt_put_u32(b->data + mark + 4, (uint32_t)crc);
	dt_put_u64(b->data + mark + 8, payload_bytes);
}

void dt_tracebuf_free(struct dt_tracebuf *b) /* ctx: any */
{
	if (b->data)
		munmap(b->data, b->cap);
	b->data = NULL;
	b->len = b->cap = 0;
	b->failed = 0;
}
