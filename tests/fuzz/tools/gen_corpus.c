/* Writes the seed corpus for fuzz_reader: small valid traces (complete, partial, checkpoint, with
 * allocations and calls, with an unknown section) built by the unit tests' encoder.
 * Usage: gen_corpus DIR (make fuzz-corpus). */
#include <stdio.h>
#include <stdlib.h>

#include "../../unit/check_analyzer_encoder.h"

static int write_file(const char *dir, const char *name, const uint8_t *buf, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(buf, 1, len, f) != len || fclose(f)) {
		perror(path);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const char *const argv_seed[] = {"./prog", "-x"};
	static const struct tmod mods[] = {
	    {0x400000, 0x400000, 0x410000, "/bin/prog", (const uint8_t *)"\x01\x02\x03\x04", 4},
	    {0x7f0000000000, 0x7f0000000000, 0x7f0000100000, "/lib/libdeiatrace.so", NULL, 0},
	};
	static const struct tstack stacks[] = {
	    {3, DT_STACK_LEAF_EXACT, {0x401000, 0x402001, 0x403001}},
	    {4, DT_STACK_LEAF_EXACT, {0x401000, 0x401001, 0x401001, 0x403001}},
	    {2, 0, {0x7f0000000101, 0x402001}},
	    {0, DT_STACK_TRUNCATED, {0}},
	};
	static const struct tcpu cpu[] = {{0, 10, 10000000}, {1, 3, 6000000}, {3, 1, 1000000}};
	static const struct talloc alloc[] = {{2, {4, 400, 3, 300, 100, 100, 1}}};
	uint64_t meta[DT_META_NFIELDS] = {0};
	struct tspec s = {
	    .meta = meta,
	    .nmeta = DT_META_NFIELDS,
	    .exe = "/bin/prog",
	    .argv = argv_seed,
	    .argc = 2,
	    .mods = mods,
	    .nmods = 2,
	    .stacks = stacks,
	    .nstacks = 4,
	    .cpu = cpu,
	    .ncpu = 3,
	};
	uint8_t *buf;
	size_t len;
	int rc = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: gen_corpus DIR\n");
		return 2;
	}
	for (unsigned i = 0; i < DT_META_NFIELDS; i++)
		meta[i] = i * 1000 + 1;
	buf = enc_trace(&s, &len);
	rc |= write_file(argv[1], "cpu.bin", buf, len);
	free(buf);
	s.alloc = alloc;
	s.nalloc = 1;
	buf = enc_trace(&s, &len);
	rc |= write_file(argv[1], "cpu_alloc.bin", buf, len);
	free(buf);
	s.no_end = 1;
	buf = enc_trace(&s, &len);
	rc |= write_file(argv[1], "partial.bin", buf, len);
	free(buf);
	s.no_end = 0;
	s.flags = DT_FLAG_CHECKPOINT;
	s.nmeta = 5; /* an old writer's short meta */
	buf = enc_trace(&s, &len);
	rc |= write_file(argv[1], "checkpoint_short_meta.bin", buf, len);
	free(buf);

	/* calls and an unknown section, hand-encoded */
	struct enc e = {0};
	enc_header(&e, DT_TRACE_VERSION, 0);
	enc_begin(&e, 0x4242);
	enc_u64(&e, 7);
	enc_end(&e);
	enc_begin(&e, DT_SEC_MODULES);
	enc_u32(&e, 1);
	enc_u64(&e, 0);
	enc_u64(&e, 0x1000);
	enc_u64(&e, 0x2000);
	enc_u32(&e, 0);
	enc_str(&e, "/bin/instr");
	enc_end(&e);
	enc_begin(&e, DT_SEC_CALLS);
	enc_u32(&e, 2);
	for (uint64_t i = 0; i < 2; i++) {
		enc_u64(&e, 0x1100 + 0x100 * i);
		enc_u64(&e, 1000 * (i + 1));
		enc_u64(&e, 5000);
		enc_u64(&e, 3000);
		enc_u64(&e, 40);
	}
	enc_end(&e);
	enc_end_marker(&e);
	rc |= write_file(argv[1], "calls_unknown_section.bin", e.buf, e.len);
	free(e.buf);
	return rc;
}
