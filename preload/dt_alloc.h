/* Internal interfaces of the memory-tracking module: the malloc hooks (dt_malloc.c), the cached exact
 * allocation unwinder (dt_alloc_unwind.c) and the live-block map (dt_livemap.c). Nothing here
 * allocates through the interposed malloc (mmap only); nothing is exported from the shim. */
#ifndef DT_ALLOC_H
#define DT_ALLOC_H

#include <stddef.h>
#include <stdint.h>

/* ---- who called the allocator: the registers the unwind of the caller starts from.
 * Captured in the interposed function itself (frame pointers are on in the shim). */
struct dt_caller {
	uint64_t ret;  /* return address into the function that called malloc: pc[0] of the stack */
	uint64_t sp;   /* the caller's stack pointer after the call returns (its frame's SP) */
	uint64_t rbp;  /* the caller's rbp at the call (callee-saved, so unchanged by the call) */
	uint64_t leaf; /* 0, or an exact pc recorded below ret (the shim's realloc: marks a resize) */
};
/* Only rsp and rbp are captured: on x86-64 the CFI compilers emit never computes a CFA from another
 * register at a call site (see dt_alloc_unwind.c). */

/* Must be expanded in the function whose caller is wanted (not in a helper it calls). */
#define DT_CALLER_HERE(c)                                                                                    \
	do {                                                                                                 \
		const uint64_t *fp_ = (const uint64_t *)__builtin_frame_address(0);                          \
		(c).ret = fp_[1];                                                                            \
		(c).sp = (uint64_t)(uintptr_t)(fp_ + 2);                                                     \
		(c).rbp = fp_[0];                                                                            \
		(c).leaf = 0;                                                                                \
	} while (0)

/* ---- the cached exact unwinder (dt_alloc_unwind.c): a per-thread cache of recent unwinds, keyed by
 * every value the unwind read, so that a hit is verified exactly (see dt_alloc_unwind.c). The hit
 * path is inline here; a miss walks with libunwind. One cache per thread state, owner-only. */
/* 256 recent stacks per thread, in 128 pairs: a key's own entry (the inline hit path checks only that
 * one) and the pair's other entry, checked on a miss; a recording displaces its entry's stack into
 * the other one. 1024 entries would turn another 9% of cc1's misses into hits, at 4x the memory. */
#define DT_UC_ENTRIES_LOG2 8u
#define DT_UC_ENTRIES (1u << DT_UC_ENTRIES_LOG2)
#define DT_UC_SLOTS 320u /* verified slots per entry: ~1.2 per frame at the default depth 128 */
/* A recording walk (unw_step: two to four sigprocmask calls per step in libunwind 1.6.2, 3-8 us a
 * step here) walks about 5 frames before it splices (20-50 us on cc1 and sqlite3; it was 55-115 us
 * walking the whole stack), a fast walk (unw_backtrace) about 1-2 us and a verified hit well under
 * 0.1 us. A key is recorded on its DT_UC_RECORD_AFTER_MISSES-th miss: about the recording's cost in
 * fast walks (ski rental: a stack that never comes back costs at most twice the best choice).
 * Measured on the sqlite3 case of tests/real (73 ms untraced, CPU), before splicing: recording on the
 * 2nd miss 1.5 s, 4th 0.77 s, 16th 0.27 s, 64th 0.2 s; with splicing, on cc1 (TSC cycles in fast
 * walks + recordings): 16th 756M, 8th 964M, 32nd 632M. */
#define DT_UC_RECORD_AFTER_MISSES 32u
#define DT_UC_MISS_COUNTERS_LOG2 12u /* misses per key, counted in 4096 hashed 8-bit counters */
#define DT_UC_MISS_COUNTERS (1u << DT_UC_MISS_COUNTERS_LOG2)

#define DT_UC_FRAMES 64u       /* frames per entry remembered as splice points (deeper ones are not) */
#define DT_UC_ANCHORS_LOG2 12u /* (pc, sp) of recorded frames -> entry, 4096 direct-mapped */
#define DT_UC_ANCHORS (1u << DT_UC_ANCHORS_LOG2)

struct dt_ucache_stats {
	uint64_t hits;		  /* stack served from the cache after exact verification */
	uint64_t misses;	  /* full libunwind walk */
	uint64_t uncacheable;	  /* walks whose result could not be verified cheaply (too many slots) */
	uint64_t recorded;	  /* misses that paid for a recording walk (unw_step) */
	uint64_t spliced;	  /* recording walks that took their root part from another entry */
	uint64_t unwind_failures; /* walks that could not find the caller or stopped on an error */
};

struct dt_uc_slot {
	uint64_t addr; /* a stack slot libunwind loaded rip, rsp or rbp from */
	uint64_t val;  /* what it held */
};

/* One frame of a recorded walk, as a splice point: what libunwind's state was there (see
 * dt_alloc_unwind.c for why pc, sp, rbp and via_sig are all of it). */
struct dt_uc_frame {
	uint64_t sp;	 /* the frame's stack pointer: the CFA of the frame below */
	uint64_t rbp;	 /* rbp's value at this frame */
	uint16_t slot0;	 /* slots appended by the steps below this frame: its part of the list starts here */
	uint8_t rbp_dep; /* a step from here up computed its CFA from this rbp before rbp was reloaded */
	uint8_t via_sig; /* reached by a step that loaded rsp from memory (out of a signal frame) */
	uint32_t unused;
};

struct dt_uc_entry {
	uint64_t gen; /* code generation the entry was filled in; 0 = empty */
	uint64_t ret, sp, rbp;
	uint64_t leaf; /* part of the key: a realloc and a malloc may share ret and sp (tail calls) */
	uint32_t stack;
	uint32_t nslots;
	int32_t max_depth;
	uint32_t rbp_needed; /* a frame's CFA came from the caller's rbp: rbp is part of the key */
	struct dt_uc_slot slot[DT_UC_SLOTS];
	/* Cold: read by recording walks only. */
	uint32_t serial;      /* bumped at every refill: anchors name (entry, serial) */
	uint16_t nframes;     /* frames walked from the caller's up (the stack minus its exact leaf) */
	uint8_t lead;	      /* 1 when the stack starts with an exact leaf (who->leaf) */
	uint8_t truncated;    /* the walk stopped at the depth cap */
	uint32_t nframe_info; /* frames described in frame[]: min(nframes, DT_UC_FRAMES) or fewer */
	struct dt_uc_frame frame[DT_UC_FRAMES];
};

/* Where a recorded frame can be found again: frame `frame` of entry `entry` while its serial holds. */
struct dt_uc_anchor {
	uint64_t pc, sp;
	uint32_t serial;
	uint16_t entry;
	uint16_t frame;
};

struct dt_ucache {
	struct dt_ucache_stats stats;		/* owner writes, the writer reads racily */
	uint8_t misses_of[DT_UC_MISS_COUNTERS]; /* owner only; keys that collide share a counter */
	struct dt_uc_entry e[DT_UC_ENTRIES];
	struct dt_uc_anchor anchor[DT_UC_ANCHORS]; /* owner only */
	struct dt_uc_entry scratch;		   /* owner only: the recording walk's work area */
};

/* Bumped when code is unmapped: an address may then name another function with other CFI. */
extern _Atomic uint64_t dt_uc_code_gen;

struct dt_ucache *dt_ucache_new(void);	   /* ctx: any; mmap, NULL on failure */
void dt_ucache_reset(struct dt_ucache *c); /* ctx: any; owner only */
void dt_ucache_stats(const struct dt_ucache *c, struct dt_ucache_stats *out); /* ctx: any; racy read */
void dt_ucache_code_changed(void); /* ctx: any; code was unmapped (dlclose): every cache goes stale */
uint32_t dt_alloc_stack_id_miss(struct dt_ucache *c, struct dt_uc_entry *e, const struct dt_caller *who,
				int max_depth, uint64_t gen); /* ctx: hook */

/* Owner-only counter bump, readable from other threads without tearing. */
#define DT_UC_COUNT(c, field) __atomic_store_n(&(c)->stats.field, (c)->stats.field + 1, __ATOMIC_RELAXED)

/* Stack id (dt_stack_intern_sigsafe) of the caller's full stack; DT_STACK_NONE when the table is full.
 * pc[0] is who->ret, or who->leaf (flagged DT_STACK_LEAF_EXACT) with who->ret as pc[1] when leaf is
 * set; at most max(max_depth, 2) frames; max_depth in 1..DT_MAX_STACK_DEPTH. ctx: hook (a miss may take the
 * loader lock) */
static inline uint32_t dt_alloc_stack_id(struct dt_ucache *c, const struct dt_caller *who, int max_depth)
{
	uint64_t gen = __atomic_load_n((uint64_t *)&dt_uc_code_gen, __ATOMIC_RELAXED);
	uint64_t h = (who->ret ^ (who->sp >> 3) ^ who->leaf) * 0x9e3779b97f4a7c15ull;
	struct dt_uc_entry *e = &c->e[h >> (64 - DT_UC_ENTRIES_LOG2)];
	if (e->gen == gen && e->ret == who->ret && e->sp == who->sp && e->leaf == who->leaf &&
	    (e->rbp == who->rbp || !e->rbp_needed) && e->max_depth == max_depth) {
		/* Same start registers and the same contents in every slot the walk read, compared in the
		 * walk's order: libunwind would compute the same frames. Each slot is read only after all
		 * the slots before it matched, so it is exactly the address the walk itself would read. */
		const struct dt_uc_slot *s = e->slot, *end = e->slot + e->nslots;
		while (s < end && *(const volatile uint64_t *)(uintptr_t)s->addr == s->val)
			s++;
		if (__builtin_expect(s == end, 1)) {
			DT_UC_COUNT(c, hits);
			return e->stack;
		}
	}
	return dt_alloc_stack_id_miss(c, e, who, max_depth, gen);
}

#endif
