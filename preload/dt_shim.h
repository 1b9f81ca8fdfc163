/* Internal interfaces between the shim's modules (lifecycle, sampler, malloc hooks, stack table,
 * trace writer). Nothing here is exported from libdeiatrace.so (-fvisibility=hidden).
 * Every prototype states its context: sigsafe (callable from the SIGPROF handler), hook (from an
 * interposed function, re-entry guarded), any (normal thread context, may lock, never malloc). */
#ifndef DT_SHIM_H
#define DT_SHIM_H

#include <errno.h>
#include <stddef.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>

#include "dt_format.h"

#define DT_HIDDEN __attribute__((visibility("hidden")))
#define DT_EXPORT __attribute__((visibility("default")))
#define DT_TLS __attribute__((tls_model("initial-exec")))

/* ---- per-thread re-entry guard, shared by every hook and the signal handler.
 * Set while the shim runs on this thread (malloc hook unwinding, writer, ...). It breaks the loops
 * malloc -> unwind -> malloc and SIGPROF -> unwind (libunwind's per-thread cache is not re-entrant). */
extern DT_TLS __thread int dt_in_shim;

/* ---- shared services (dt_core.c: interposes nothing, so unit tests link it) */
uint64_t dt_now_ns(void);                 /* ctx: sigsafe; CLOCK_MONOTONIC */
void dt_warn(const char *msg);            /* ctx: sigsafe; writes "deiatrace: msg\n" to fd 2 */
int dt_shim_active(void);                 /* ctx: sigsafe; 1 between start and final write */
/* A first write to an anonymous page is a page fault: about 13 us on the paravirtualised VMs this runs
 * on (the guest's fault and the host's shadow page table), about half of that when the mapping call
 * made the page present, while a system call costs 1-3 us; and every traced process pays its
 * start-up pages. Memory the shim is about to write goes present in one call. Advice only: before
 * Linux 5.14 (no MADV_POPULATE_WRITE) or out of memory, the pages fault in on first use as they
 * would have. errno is kept. ctx: sigsafe */
static inline void dt_prefault(void *p, size_t bytes)
{
	int saved_errno = errno;
	if (p && bytes)
		(void)madvise(p, bytes, MADV_POPULATE_WRITE);
	errno = saved_errno;
}
/* ---- pages (dt_pages.c) */
#define DT_HUGE_PAGE_BYTES (2u * 1024u * 1024u) /* x86-64 transparent huge page */
/* At least `bytes` of zero-filled memory (rounded up to whole huge pages) starting on a huge-page
 * boundary, the huge pages that hold its first advise_bytes advised MADV_HUGEPAGE; NULL when mmap
 * fails. Nothing is resident until touched. ctx: any */
void *dt_map_hugepage_aligned(size_t bytes, size_t advise_bytes);

enum dt_shim_state_kind {
	DT_SHIM_OFF = 0,     /* never started (secure execution), or a process told not to follow */
	DT_SHIM_ACTIVE = 1,  /* between the constructor and the final write */
	DT_SHIM_WRITING = 2, /* the final write has begun (exit, _exit or a fatal signal): once only */
	DT_SHIM_DONE = 3,
};
extern _Atomic int dt_shim_state; /* enum dt_shim_state_kind; written by dt_lifecycle only */

/* ---- lifecycle entry points for the other modules (dt_lifecycle.c) */
int dt_lifecycle_checkpoint_sigsafe(void); /* ctx: sigsafe; a DT_FLAG_CHECKPOINT trace */
int dt_lifecycle_before_exec(void);       /* ctx: hook; the trace as it stands, before execve */
void dt_lifecycle_fatal_sigsafe(int sig); /* ctx: sigsafe; a fatal signal: the final trace, once */
const char *dt_lifecycle_exe_path(void);   /* ctx: any; /proc/self/exe as read at start, or NULL */

/* ---- checkpoints (dt_checkpoint.c): taken by the SIGPROF handler when due. */
int dt_checkpoint_start(uint32_t period_s); /* ctx: any; constructor and fork child */
void dt_checkpoint_tick_sigsafe(void);      /* ctx: sigsafe; the SIGPROF handler */
/* Lowest address this thread may use for the checkpoint's frames (its stack's end); 0: unknown. */
extern DT_TLS __thread uintptr_t dt_thread_stack_floor;

/* ---- fatal signals (dt_fatal.c): SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTERM, SIGINT. */
void dt_fatal_install(void);              /* ctx: any; where the host has SIG_DFL, ours stands in */
/* For the sigaction interposer: 1 if sig is one dt_fatal manages (the call was handled and *rc
 * set), 0 to pass the call through. ctx: any */
int dt_fatal_sigaction(int sig, const struct sigaction *act, struct sigaction *old, int *rc);

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
	int cpu_on;              /* DEIATRACE_CPU=on|off, default on */
	int unwind_cache_on;     /* DEIATRACE_UNWIND_CACHE=on|off, default on */
	uint32_t max_depth;      /* DEIATRACE_DEPTH, default 128, at most DT_MAX_STACK_DEPTH */
	uint32_t checkpoint_s;   /* DEIATRACE_CHECKPOINT_S, default 5, 0 = off */
	int follow;              /* DEIATRACE_FOLLOW, default 1 */
	char output[1024];       /* DEIATRACE_OUTPUT pattern, default "deiatrace.%n.%p.bin" */
	int sampler;             /* DEIATRACE_SAMPLER: enum dt_config_sampler, default auto */
};
enum dt_config_sampler { DT_CONFIG_SAMPLER_AUTO = 0, DT_CONFIG_SAMPLER_PERF = 1, DT_CONFIG_SAMPLER_TIMER = 2 };
const struct dt_config *dt_config_get(void); /* ctx: sigsafe after dt_config_load */
void dt_config_load(void);                    /* ctx: any, once from the constructor */
/* The i-th option of the table (for docs and tests); -1 past the end. ctx: any */
int dt_config_describe(size_t i, const char **name, const char **def, const char **help);

/* ---- output (dt_output.c): the trace file, named by DEIATRACE_OUTPUT, relative to the starting
 * directory, written to a temporary file and published with linkat (never overwrites). */
int dt_output_init(void); /* ctx: any, once from the constructor: remembers the starting directory */
/* Expands %p, %n, %% of pattern into out; 0, -ENAMETOOLONG or -EINVAL (empty). ctx: sigsafe */
int dt_output_expand(const char *pattern, uint64_t pid, const char *prog, char *out, size_t outlen);
/* Writes b's bytes; on failure prints one "deiatrace: cannot write trace ..." line. ctx: any */
int dt_output_publish(const struct dt_tracebuf *b, uint64_t pid, const char *prog);

/* ---- trace writer (dt_writer.c): assembles every section and publishes the file. */
struct dt_proc {
	const char *exe;   /* readlink /proc/self/exe */
	const char *args;  /* argv as /proc/self/cmdline holds it: NUL-separated */
	size_t args_bytes;
	const char *prog;  /* program name for %n */
};
int dt_writer_encode(struct dt_tracebuf *b, const uint64_t meta[DT_META_NFIELDS],
                     const struct dt_proc *proc, int checkpoint);     /* ctx: any; 0 or -1 */
int dt_writer_write_trace(const uint64_t meta[DT_META_NFIELDS], const struct dt_proc *proc,
                          int checkpoint);                            /* ctx: any; 0 or -errno */

/* ---- sampler (dt_sampler.c): per-thread SIGPROF sources, the handler, per-stack CPU counters. */
int dt_sampler_start(uint32_t freq_hz);  /* ctx: any; process-wide setup + arms the calling thread */
int dt_sampler_thread_start(void);       /* ctx: any; arms the calling thread (new threads) */
void dt_sampler_thread_stop(void);       /* ctx: any; disarms the calling thread (thread exit) */
void dt_sampler_stop(void);              /* ctx: any; no handler runs after this returns */
void dt_sampler_fill_meta(uint64_t meta[DT_META_NFIELDS]);  /* ctx: any */
void dt_sampler_emit(struct dt_tracebuf *b);                 /* ctx: any; DT_SEC_CPU */
void dt_stack_emit(struct dt_tracebuf *b);                   /* ctx: any; DT_SEC_STACKS */

/* ---- sampling core internals shared by dt_sampler, dt_unwind, dt_stack, dt_dlsafe, dt_thread. */
uint32_t dt_stack_capacity(void);        /* ctx: sigsafe; 0 before dt_stack_table_init */
/* Fork gate around every libunwind use (see dt_unwind.c): enter returns 0 only when may_wait is 0
 * and a fork is in progress. ctx: sigsafe when may_wait is 0, else hook */
int dt_unwind_gate_enter(int may_wait);
void dt_unwind_gate_leave(void); /* ctx: sigsafe */
int dt_unwind_init(void);                /* ctx: any; caching policy + warm-up, before sampling */
/* Redirects libunwind's own pipe2/read/write/syscall/mmap (its GOT; in_libunwind: any address inside it) so
 * that its memory validation needs no descriptor and its trace cache takes no page faults one by one
 * (dt_unwind_imports.c). 0 or -ENOENT. ctx: any, before its use */
int dt_unwind_redirect_imports(const void *in_libunwind);
uint64_t dt_unwind_failures(void);       /* ctx: any */
void dt_unwind_reset_counts(void);       /* ctx: any; fork child: counts start from zero */
int dt_unwind_busy_sigsafe(void);        /* ctx: sigsafe; 1 while this thread is inside libunwind */
/* Address libunwind is looking up while this thread unwinds in the SIGPROF handler, else 0. */
extern DT_TLS __thread uintptr_t dt_unwind_sig_lookup_pc;
void dt_sampler_loader_enter(void);      /* ctx: any; dlclose: drop samples, drain handlers */
void dt_sampler_loader_leave(void);      /* ctx: any */
void dt_sampler_step_aside(void);        /* ctx: any; host took SIGPROF/ITIMER_PROF: stop for good */
int dt_sampler_owns_sigprof(void);       /* ctx: any; 1 once our SIGPROF handler is installed */
int dt_sampler_exec_prepare(void);       /* ctx: hook; disarm the calling thread before execve */
void dt_sampler_exec_failed(int rearm);  /* ctx: hook; re-arm it if execve returned */

/* ---- modules (dt_modules.c): loaded objects with build-ids, for offline symbolization. */
void dt_modules_snapshot(void);                /* ctx: any; call at start, after dlopen, before write */
void dt_modules_emit(struct dt_tracebuf *b);   /* ctx: any; DT_SEC_MODULES */
uint32_t dt_modules_count(void);               /* ctx: any; objects listed so far */

/* ---- exact call statistics for programs built with -finstrument-functions (dt_calls.c). */
int dt_calls_active(void);                   /* ctx: any; 1 once any instrumented function ran */
void dt_calls_emit(struct dt_tracebuf *b);   /* ctx: any; DT_SEC_CALLS */

/* ---- named regions (dt_regions.c): the exported dt_region_push/pop of include/deiatrace.h. */
int dt_regions_active(void);                 /* ctx: any; 1 once any region began */
void dt_regions_emit(struct dt_tracebuf *b); /* ctx: any; DT_SEC_REGIONS */
/* Allocation calls and requested bytes made so far by the calling thread, for regions to sample at
 * begin and end. Provided by the malloc hooks; regions reference it weakly and record no allocation
 * figures while it is absent. ctx: hook (no locks, no allocation) */
void dt_malloc_thread_counts(uint64_t *calls, uint64_t *bytes);
/* The calling thread's net live bytes (allocated minus freed by it) and their high-water mark, which
 * regions set to the live value at begin and restore at end (weak like dt_malloc_thread_counts). */
void dt_malloc_thread_live(int64_t *live_bytes, int64_t *high_bytes); /* ctx: hook */
void dt_malloc_thread_set_high(int64_t high_bytes);                    /* ctx: hook */

/* ---- memory tracking (malloc hooks). Emits DT_SEC_ALLOC and fills the heap fields of meta. */
int dt_malloc_enabled(void);                                 /* ctx: any */
void dt_malloc_fill_meta(uint64_t meta[DT_META_NFIELDS]);    /* ctx: any */
void dt_malloc_emit(struct dt_tracebuf *b);                  /* ctx: any */
/* Forget the parent's counts in a fork child (atfork child, single-threaded). Called through a weak
 * reference: lifecycle skips it while dt_malloc does not define it. ctx: any */
void dt_malloc_atfork_child(void);
/* The host is about to create a thread: leave the single-thread fast path for good. Call it in the
 * parent before the real pthread_create (the new thread then never sees the fast path). Without the
 * call the hooks still notice the new thread at its first allocation (slower: a membarrier). ctx: any */
void dt_malloc_host_thread_created(void);
/* Code was unmapped (after the real dlclose returned): every cached allocation unwind goes stale.
 * No lock, no allocation. ctx: any */
void dt_ucache_code_changed(void);

#endif
