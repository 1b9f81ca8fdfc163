/* A minimal protocol-buffers writer (wire format only, no schema): varints, length-delimited
 * fields and packed repeated varints into a growable buffer. Enough for pprof's profile.proto. */
#ifndef DT_PB_H
#define DT_PB_H

#include <stddef.h>
#include <stdint.h>

#define DT_PB_VARINT_MAX_BYTES 10u /* a 64-bit value, 7 bits per byte */

enum dt_pb_wire {
	DT_PB_WIRE_VARINT = 0,
	DT_PB_WIRE_LEN = 2, /* length-delimited: bytes, strings, messages, packed repeated */
};

/* A message being written. Zero-initialise; out of memory sets `failed` and later writes do
 * nothing, so a caller checks once at the end. */
struct dt_pb {
	uint8_t *buf;
	size_t len, cap;
	int failed;
};

void dt_pb_reset(struct dt_pb *b); /* empty, keeps the allocation */
void dt_pb_free(struct dt_pb *b);

size_t dt_pb_varint_size(uint64_t v);
/* A bare varint (no tag). Negative int64 values are written as their 64-bit two's complement,
 * ten bytes, as protobuf does for int64 (profile.proto has no sint64 fields, so no zigzag). */
void dt_pb_put_varint(struct dt_pb *b, uint64_t v);
/* A varint field; omitted when v is 0 (the proto3 default, which decoders assume). */
void dt_pb_uint(struct dt_pb *b, uint32_t field, uint64_t v);
void dt_pb_int(struct dt_pb *b, uint32_t field, int64_t v);
/* A length-delimited field, always written (repeated strings must keep empty entries). */
void dt_pb_bytes(struct dt_pb *b, uint32_t field, const void *data, size_t len);
void dt_pb_string(struct dt_pb *b, uint32_t field, const char *s);
/* An embedded message: the bytes of `msg` as a length-delimited field. */
void dt_pb_msg(struct dt_pb *b, uint32_t field, const struct dt_pb *msg);
/* A packed repeated varint field; omitted when n is 0. */
void dt_pb_packed(struct dt_pb *b, uint32_t field, const uint64_t *v, size_t n);

#endif
