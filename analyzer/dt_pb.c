/* Protocol-buffers wire-format writer (dt_pb.h): owns only its byte buffer. Used by the pprof
 * reporter; knows no schema. Errors are sticky (dt_pb.failed) so encoders check once. */
#include "dt_pb.h"

#include <stdlib.h>
#include <string.h>

#define PB_MIN_CAP_BYTES 256u
#define VARINT_PAYLOAD_BITS 7u
#define VARINT_PAYLOAD_MASK 0x7fu
#define VARINT_MORE 0x80u
#define TAG_FIELD_SHIFT 3u

static int reserve(struct dt_pb *b, size_t n)
{
	size_t cap = b->cap ? b->cap : PB_MIN_CAP_BYTES;
	uint8_t *buf;

	if (b->failed)
		return -1;
	if (b->len + n <= b->cap)
		return 0;
	while (cap < b->len + n) {
		if (cap > SIZE_MAX / 2)
			goto fail;
		cap *= 2;
	}
	buf = realloc(b->buf, cap);
	if (!buf)
		goto fail;
	b->buf = buf;
	b->cap = cap;
	return 0;
fail:
	b->failed = 1;
	return -1;
}

void dt_pb_reset(struct dt_pb *b)
{
	b->len = 0;
}

void dt_pb_free(struct dt_pb *b)
{
	free(b->buf);
	*b = (struct dt_pb){0};
}

size_t dt_pb_varint_size(uint64_t v)
{
	size_t n = 1;

	while (v >= VARINT_MORE) {
		v >>= VARINT_PAYLOAD_BITS;
		n++;
	}
	return n;
}

void dt_pb_put_varint(struct dt_pb *b, uint64_t v)
{
	if (reserve(b, DT_PB_VARINT_MAX_BYTES))
		return;
	while (v >= VARINT_MORE) {
		b->buf[b->len++] = (uint8_t)((v & VARINT_PAYLOAD_MASK) | VARINT_MORE);
		v >>= VARINT_PAYLOAD_BITS;
	}
	b->buf[b->len++] = (uint8_t)v;
}

static void put_tag(struct dt_pb *b, uint32_t field, enum dt_pb_wire wire)
{
	dt_pb_put_varint(b, (uint64_t)field << TAG_FIELD_SHIFT | wire);
}

void dt_pb_uint(struct dt_pb *b, uint32_t field, uint64_t v)
{
	if (!v)
		return;
	put_tag(b, field, DT_PB_WIRE_VARINT);
	dt_pb_put_varint(b, v);
}

void dt_pb_int(struct dt_pb *b, uint32_t field, int64_t v)
{
	dt_pb_uint(b, field, (uint64_t)v);
}

void dt_pb_bytes(struct dt_pb *b, uint32_t field, const void *data, size_t len)
{
	put_tag(b, field, DT_PB_WIRE_LEN);
	dt_pb_put_varint(b, len);
	if (reserve(b, len))
		return;
	if (len)
		memcpy(b->buf + b->len, data, len);
	b->len += len;
}

void dt_pb_string(struct dt_pb *b, uint32_t field, const char *s)
{
	dt_pb_bytes(b, field, s, strlen(s));
}

void dt_pb_msg(struct dt_pb *b, uint32_t field, const struct dt_pb *msg)
{
	if (msg->failed) {
		b->failed = 1;
		return;
	}
	dt_pb_bytes(b, field, msg->buf, msg->len);
}

void dt_pb_packed(struct dt_pb *b, uint32_t field, const uint64_t *v, size_t n)
{
	size_t len = 0;

	if (!n)
		return;
	for (size_t i = 0; i < n; i++)
		len += dt_pb_varint_size(v[i]);
	put_tag(b, field, DT_PB_WIRE_LEN);
	dt_pb_put_varint(b, len);
	for (size_t i = 0; i < n; i++)
		dt_pb_put_varint(b, v[i]);
}
