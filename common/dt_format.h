/* The deiatrace trace format: the one definition the shim's writer and the analyzer's reader share.
 * Everything that crosses the file boundary is fixed-width little-endian; see docs/trace-format.md.
 * Header-only, no allocation, async-signal-safe helpers (the shim may encode from any context). */
#ifndef DT_FORMAT_H
#define DT_FORMAT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* File layout: dt_file_header, then sections until DT_SEC_END. */
#define DT_TRACE_MAGIC "DEIATRC\x1a"
#define DT_TRACE_MAGIC_LEN 8
#define DT_TRACE_VERSION 1u

#define DT_FILE_HEADER_BYTES 16u    /* magic[8] u32 version u32 flags */
#define DT_SECTION_HEADER_BYTES 16u /* u32 id u32 crc32(payload) u64 payload_bytes */

/* File header flags. */
#define DT_FLAG_CHECKPOINT 0x1u /* written while the process was still running */

/* Hard limits that the writer respects and the reader enforces (untrusted input). */
#define DT_MAX_STACK_DEPTH 512u          /* frames kept per stack; deeper stacks are truncated */
#define DT_MAX_STRING_BYTES (1u << 20)   /* one path or argv element */
#define DT_MAX_BUILD_ID_BYTES 64u
#define DT_MAX_META_FIELDS 4096u

enum dt_section_id {
	DT_SEC_META = 1,    /* u32 nfields; u64 value[nfields] indexed by enum dt_meta_field */
	DT_SEC_CMDLINE = 2, /* str exe; u32 argc; str argv[argc]   (str = u32 len; u8 bytes[len]) */
	DT_SEC_MODULES = 3, /* u32 n; n x { u64 load_bias; u64 lo; u64 hi; u32 idlen; u8 id[idlen]; str path } */
	DT_SEC_STACKS = 4,  /* u32 n; n x { u32 depth; u32 flags; u64 pc[depth] }  pc[0] is the leaf */
	DT_SEC_CPU = 5,     /* u32 n; n x { u32 stack; u64 samples; u64 weight_ns } */
	DT_SEC_ALLOC = 6,   /* u32 n; n x { u32 stack; u64 x DT_ALLOC_NFIELDS (enum dt_alloc_field) } */
	DT_SEC_CALLS = 7,   /* u32 n; n x { u64 fn_addr; u64 calls; u64 incl_ns; u64 excl_ns; u64 max_ns } */
	DT_SEC_REGIONS = 8, /* u32 flags; u64 dropped; u32 nfields; u32 n; n x { str name; u64 value[nfields] } */
	DT_SEC_END = 0x7fff /* empty: the trace is complete */
};

/* DT_SEC_STACKS flags. */
#define DT_STACK_LEAF_EXACT 0x1u /* pc[0] is the interrupted instruction, not a return address */
#define DT_STACK_TRUNCATED 0x2u  /* the unwinder hit DT_MAX_STACK_DEPTH (or the configured cap) */

/* DT_SEC_META fields. A reader treats missing trailing fields as 0 and ignores unknown ones, so new
 * fields are only ever appended. */
enum dt_meta_field {
	DT_META_PID,
	DT_META_PPID,
	DT_META_START_REALTIME_NS, /* CLOCK_REALTIME at the shim's start */
	DT_META_WALL_NS,           /* CLOCK_MONOTONIC from start to the write */
	DT_META_CPU_USER_NS,       /* getrusage(RUSAGE_SELF) */
	DT_META_CPU_SYS_NS,
	DT_META_RSS_START_BYTES,
	DT_META_RSS_PEAK_BYTES,
	DT_META_THREADS,          /* threads seen in total, including the main thread */
	DT_META_FREQ_ASKED_HZ,
	DT_META_SAMPLER,          /* enum dt_sampler_kind */
	DT_META_SAMPLES,          /* signals that produced a sample */
	DT_META_SAMPLES_LOST,     /* signals whose sample was dropped (table full, unsafe moment, ...) */
	DT_META_SAMPLE_WEIGHT_NS, /* CPU time the kept samples stand for */
	DT_META_UNWIND_FAILURES,
	DT_META_STACK_DEPTH_CAP,
	DT_META_STACKS_TRUNCATED,
	DT_META_REENTRIES_SKIPPED, /* hook calls made while the shim itself was running */
	DT_META_MALLOC_TRACKED,    /* 1 when the malloc family was tracked */
	DT_META_ALLOC_CALLS,
	DT_META_FREE_CALLS,
	DT_META_ALLOC_BYTES,
	DT_META_HEAP_PEAK_BYTES,   /* live requested bytes at the peak */
	DT_META_HEAP_PEAK_TIME_NS, /* monotonic ns from start to the peak */
	DT_META_LEAKED_BYTES,
	DT_META_LEAKED_BLOCKS,
	DT_META_DEGRADED,          /* bit set of enum dt_degraded */
	DT_META_NFIELDS
};

enum dt_sampler_kind {
	DT_SAMPLER_NONE = 0,
	DT_SAMPLER_PERF_TASK_CLOCK = 1, /* perf_event_open software task-clock, per thread */
	DT_SAMPLER_POSIX_TIMER = 2,     /* timer_create(thread CPU clock), tick-limited, overrun-weighted */
	DT_SAMPLER_OFF = 3,             /* not started: DEIATRACE_CPU=off asked for no CPU sampling */
};

enum dt_degraded {
	DT_DEGRADED_SAMPLER_OFF = 1u << 0,   /* no timer could be armed */
	DT_DEGRADED_STEPPED_ASIDE = 1u << 1, /* the host owns SIGPROF/ITIMER_PROF */
	DT_DEGRADED_STACK_TABLE_FULL = 1u << 2,
	DT_DEGRADED_LIVE_MAP_FULL = 1u << 3,
	DT_DEGRADED_MALLOC_OFF = 1u << 4,
	DT_DEGRADED_TIMER_FALLBACK = 1u << 5, /* perf sampler, but some threads on a POSIX timer */
};

/* DT_SEC_ALLOC per-stack fields. */
enum dt_alloc_field {
	DT_ALLOC_CALLS,
	DT_ALLOC_BYTES,
	DT_ALLOC_FREES,
	DT_ALLOC_FREED_BYTES,
	DT_ALLOC_PEAK_LIVE_BYTES, /* bytes from this stack live at the process's heap peak */
	DT_ALLOC_LEAKED_BYTES,    /* still live at exit */
	DT_ALLOC_LEAKED_BLOCKS,
	DT_ALLOC_NFIELDS
};

/* DT_SEC_REGIONS: named regions of include/deiatrace.h (preload/dt_regions.c). */
#define DT_REGIONS_ALLOC_MEASURED 0x1u /* flags: alloc fields were measured (else they are 0) */
#define DT_REGION_NAME_BYTES 64u       /* names are cut to this many bytes, NUL excluded */

/* DT_SEC_REGIONS per-region fields; only ever appended (a reader ignores fields it does not know). */
enum dt_region_field {
	DT_REGION_COUNT,       /* completed begin/end pairs, over all threads */
	DT_REGION_WALL_NS,     /* CLOCK_MONOTONIC inside the region (nested regions included) */
	DT_REGION_SELF_WALL_NS, /* the same minus the time in regions nested inside it */
	DT_REGION_CPU_NS,      /* CLOCK_THREAD_CPUTIME_ID of the thread inside the region */
	DT_REGION_ALLOC_CALLS, /* allocations the thread made inside the region */
	DT_REGION_ALLOC_BYTES,
	DT_REGION_MAX_WALL_NS, /* the longest single pass */
	DT_REGION_PEAK_LIVE_BYTES, /* highest (bytes allocated - bytes freed) by the thread within one pass */
	DT_REGION_NFIELDS
};

/* Little-endian encoding. memcpy keeps these free of alignment traps; compilers fold them. */
static inline void dt_put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline void dt_put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint32_t dt_get_u32(const uint8_t *p)
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++)
		v |= (uint32_t)p[i] << (8 * i);
	return v;
}

static inline uint64_t dt_get_u64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

#endif
