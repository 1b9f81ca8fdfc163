/* The trace writer: assembles a complete trace (header, meta, cmdline, modules, stacks, CPU, and the
 * alloc and calls sections when those modules ran, then the end marker) in a dt_tracebuf and hands it
 * to dt_output. Normal context only, never from a signal handler; never malloc (the buffer is mmap'd).
 * Called by dt_lifecycle at exit (and for checkpoints). */
#define _GNU_SOURCE
#include <string.h>

#include "dt_shim.h"

/* dt_malloc and dt_calls interpose host functions, so unit tests link the writer without them:
 * weak references let it build there and skip what is absent. The shim always has both. */
#pragma weak dt_malloc_enabled
#pragma weak dt_malloc_emit
#pragma weak dt_calls_active
#pragma weak dt_calls_emit
#pragma weak dt_regions_active
#pragma weak dt_regions_emit

static void emit_meta(struct dt_tracebuf *b, const uint64_t meta[DT_META_NFIELDS]) /* ctx: any */
{
	size_t mark = dt_tracebuf_section_begin(b, DT_SEC_META);
	dt_tracebuf_put_u32(b, DT_META_NFIELDS);
	for (unsigned i = 0; i < DT_META_NFIELDS; i++)
		dt_tracebuf_put_u64(b, meta[i]);
	dt_tracebuf_section_end(b, mark);
}

/* argv as /proc/self/cmdline holds it: NUL-separated, the last one normally NUL-terminated too. */
static void emit_cmdline(struct dt_tracebuf *b, const struct dt_proc *proc) /* ctx: any */
{
	size_t mark = dt_tracebuf_section_begin(b, DT_SEC_CMDLINE);
	dt_tracebuf_put_str(b, proc && proc->exe ? proc->exe : "");
	uint32_t argc = 0;
	const char *args = proc ? proc->args : NULL;
	size_t len = args ? proc->args_bytes : 0;
	for (size_t i = 0; i < len; i++)
		if (args[i] == '\0' || i + 1 == len)
			argc++;
	dt_tracebuf_put_u32(b, argc);
	for (size_t i = 0; i < len;) {
		const char *end = memchr(args + i, '\0', len - i);
		size_t n = end ? (size_t)(end - (args + i)) : len - i;
		if (n > DT_MAX_STRING_BYTES)
			n = DT_MAX_STRING_BYTES;
		dt_tracebuf_put_u32(b, (uint32_t)n);
		dt_tracebuf_put_bytes(b, args + i, n);
		i = end ? (size_t)(end - args) + 1 : len;
	}
	dt_tracebuf_section_end(b, mark);
}

int dt_writer_encode(struct dt_tracebuf *b, const uint64_t meta[DT_META_NFIELDS], const struct dt_proc *proc,
		     int checkpoint) /* ctx: any */
{
	dt_tracebuf_put_bytes(b, DT_TRACE_MAGIC, DT_TRACE_MAGIC_LEN);
	dt_tracebuf_put_u32(b, DT_TRACE_VERSION);
	dt_tracebuf_put_u32(b, checkpoint ? DT_FLAG_CHECKPOINT : 0);
	emit_meta(b, meta);
	emit_cmdline(b, proc);
	dt_modules_emit(b);
	dt_stack_emit(b);
	dt_sampler_emit(b);
	if (dt_malloc_enabled && dt_malloc_emit && dt_malloc_enabled())
		dt_malloc_emit(b);
	if (dt_calls_active && dt_calls_emit && dt_calls_active())
		dt_calls_emit(b);
	if (dt_regions_active && dt_regions_emit && dt_regions_active())
		dt_regions_emit(b);
	dt_tracebuf_section_end(b, dt_tracebuf_section_begin(b, DT_SEC_END));
	return b->failed ? -1 : 0;
}

int dt_writer_write_trace(const uint64_t meta[DT_META_NFIELDS], const struct dt_proc *proc,
			  int checkpoint) /* ctx: any */
{
	struct dt_tracebuf b = {.data = NULL, .len = 0, .cap = 0, .failed = 0};
	/* dt_output reports an encoding failure (b.failed) itself, in its one line. */
	dt_writer_encode(&b, meta, proc, checkpoint);
	int rc = dt_output_publish(&b, meta[DT_META_PID], proc ? proc->prog : NULL);
	dt_tracebuf_free(&b);
	return rc;
}
