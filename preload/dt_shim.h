/* Internal interfaces between the shim's modules (lifecycle, sampler, malloc hooks, stack table,
 * trace writer). Nothing here is exported from libdeiatrace.so (-fvisibility=hidden).
 * Every prototype states its context: sigsafe (callable from the SIGPROF handler), hook (from an
 * interposed function, re-entry guarded), any (normal thread context, may lock, never malloc). */
#ifndef DT_SHIM_H
#define DT_SHIM_H

#include <stddef.h>
#include <stdint.h>

#include "dt_format.h"

#define DT_HIDDEN __attribute__((visibility("hidden")))
#define DT_EXPORT __attribute__((visibility("default")))
#define DT_TLS __attribute__((tls_model("initial-exec")))

/* ---- per-thread re-entry guard, shared by every hook and the signal handler.
 * Set while the shim runs on this thread (malloc hook unwinding, writer, ...). It breaks the loops
 * malloc -> unwind -> malloc and SIGPROF -> unwind (libunwind's per-thread cache is not re-entrant). */
extern DT_TLS __thread int dt_in_shim;

/* ---- clocks and output (lifecycle) */
uint64_t dt_now_ns(void);                 /* ctx: sigsafe; CLOCK_MONOTONIC */
void dt_warn(const char *msg);            /* ctx: sigsafe; writes "deiatrace: msg\n" to fd 2 */
int dt_shim_active(void);                 /* ctx: sigsafe; 1 between start and final write */

/* ---- the stack table: lock-free, mmap'd, fixed capacity, shared by CPU samples and allocations.
 * Interning returns a stable id; DT_STACK_NONE when the table is full (the caller counts a loss). */
#define DT_STACK_NONE UINT32_MAX
int dt_stack_table_init(size_t capacity_stacks);                   /* ctx: any, before sampling */
uint32_t dt_stack_intern_sigsafe(const uint64_t *pcs, uint32_t depth,
                                 uint32_t flags);                  /* ctx: sigsafe */
uint32_t dt_stack_count(void);                                     /* ctx: any */
/* Read back stack `id`; returns its depth and sets *pcs, *flags. ctx: any */
uint32_t dt_stack_get(uint32_t id, const uint64_t **pcs, uint32_t *flags);

/* ---- unwinding (libunwind). Skips `skip` innermost frames. Returns the depth written.
 * From a signal handler pass the ucontext so the leaf is the interrupted instruction. */
int dt_unwind_sigsafe(uint64_t *pcs, int max_depth, void *ucontext, uint32_t *flags); /* ctx: sigsafe */
int dt_unwind_here(uint64_t *pcs, int max_depth, int skip, uint32_t *flags);          /* ctx: hook */

/* ---- trace buffer: growable mmap'd byte buffer that sections are encoded into. ctx: any, no malloc.
 * Any failure sets `failed`; the writer checks it once at the end. */
struct dt_tracebuf {
	uint8_t *data;
	size_t len;
	size_t cap;
	int failed;
};
void dt_tracebuf_put_u32(struct dt_tracebuf *b, uint32_t v);
void dt_tracebuf_put_u64(struct dt_tracebuf *b, uint64_t v);
void dt_tracebuf_put_bytes(struct dt_tracebuf *b, const void *p, size_t n);
void dt_tracebuf_put_str(struct dt_tracebuf *b, const char *s); /* u32 length + bytes */
size_t dt_tracebuf_section_begin(struct dt_tracebuf *b, uint32_t id);
void dt_tracebuf_section_end(struct dt_tracebuf *b, size_t mark); /* back-patches length and crc32 */
void dt_tracebuf_free(struct dt_tracebuf *b);

/* ---- configuration (dt_config.c): one table of DEIATRACE_* options, read once with secure_getenv.
 * A bad value prints one "deiatrace: ..." line and keeps the default. */
struct dt_config {
	uint32_t freq_hz;        /* DEIATRACE_FREQ, default 1000 */
	int malloc_on;           /* DEIATRACE_MALLOC=on|off, default on */
	uint32_t max_depth;      /* DEIATRACE_DEPTH, default 128, at most DT_MAX_STACK_DEPTH */
	uint32_t checkpoint_s;   /* DEIATRACE_CHECKPOINT_S, default 5, 0 = off */
	int follow;              /* DEIATRACE_FOLLOW, default 1 */
	char output[1024];       /* DEIATRACE_OUTPUT pattern, default "deiatrace.%n.%p.bin" */
};
const struct dt_config *dt_config_get(void); /* ctx: sigsafe after dt_config_load */
void dt_config_load(void);                    /* ctx: any, once from the constructor */

/* ---- sampler (dt_sampler.c): per-thread SIGPROF sources, the handler, per-stack CPU counters. */
int dt_sampler_start(uint32_t freq_hz);  /* ctx: any; process-wide setup + arms the calling thread */
int dt_sampler_thread_start(void);       /* ctx: any; arms the calling thread (new threads) */
void dt_sampler_thread_stop(void);       /* ctx: any; disarms the calling thread (thread exit) */
void dt_sampler_stop(void);              /* ctx: any; no handler runs after this returns */
void dt_sampler_fill_meta(uint64_t meta[DT_META_NFIELDS]);  /* ctx: any */
void dt_sampler_emit(struct dt_tracebuf *b);                 /* ctx: any; DT_SEC_CPU */
void dt_stack_emit(struct dt_tracebuf *b);                   /* ctx: any; DT_SEC_STACKS */

/* ---- modules (dt_modules.c): loaded objects with build-ids, for offline symbolization. */
void dt_modules_snapshot(void);                /* ctx: any; call at start, after dlopen, before write */
void dt_modules_emit(struct dt_tracebuf *b);   /* ctx: any; DT_SEC_MODULES */

/* ---- memory tracking (malloc hooks). Emits DT_SEC_ALLOC and fills the heap fields of meta. */
int dt_malloc_enabled(void);                                 /* ctx: any */
void dt_malloc_fill_meta(uint64_t meta[DT_META_NFIELDS]);    /* ctx: any */
void dt_malloc_emit(struct dt_tracebuf *b);                  /* ctx: any */

#endif
