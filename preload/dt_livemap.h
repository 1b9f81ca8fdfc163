/* The live-block map: every tracked heap block, pointer -> (stack id, requested bytes), so that a
 * free on any thread finds what it releases. Striped: one spinlock per stripe (skipped when the caller
 * says it is alone), each stripe a linear-probing table in mmap'd memory. The insert/remove
 * fast paths are inline (they run on every malloc and free); growth and set-up live in dt_livemap.c.
 * Never calls malloc. ctx: hook for insert/remove. */
#ifndef DT_LIVEMAP_H
#define DT_LIVEMAP_H

#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>

#define DT_LM_STRIPES_LOG2 10u /* 1024 stripes: 4 threads rarely meet on one */
#define DT_LM_STRIPES (1u << DT_LM_STRIPES_LOG2)
#define DT_LM_SPINS_BEFORE_YIELD 128u /* then sched_yield: the holder may be preempted */

struct dt_live_block {
	uint64_t size_bytes;
	uint32_t stack;
};

struct dt_lm_entry {
	uint64_t key; /* block address; 0 = empty (a live block is never at 0) */
	uint64_t size_bytes;
	uint32_t stack;
	uint32_t pad;
};

struct dt_lm_stripe {
	_Atomic uint32_t lock;
	uint32_t count;
	uint32_t mask;
	uint32_t mapped; /* 1 when tab is its own mapping (unmapped on growth), 0 for the initial slab */
	struct dt_lm_entry *tab;
} __attribute__((aligned(64)));

/* NULL until dt_livemap_init; published with release, read with acquire. */
extern struct dt_lm_stripe *_Atomic dt_lm_stripes;

int dt_livemap_init(void);                          /* ctx: any; once; 0 or -ENOMEM */
int dt_livemap_grow_locked(struct dt_lm_stripe *s); /* ctx: hook; stripe locked; 0 or -ENOMEM */
uint64_t dt_livemap_count(void);                    /* ctx: any; racy sum, for tests */
void dt_livemap_lock_all(void);                     /* ctx: any; fork prepare */
void dt_livemap_unlock_all(void);                   /* ctx: any; fork parent and child */

/* Fibonacci hashing of the 16-byte granule: the top bits pick the stripe, the 32 below them the slot.
 * Two instructions; malloc's addresses are regular enough that a multiplicative hash spreads them. */
static inline uint64_t dt_lm_hash(uint64_t ptr) /* ctx: any */
{
	return (ptr >> 4) * 0x9e3779b97f4a7c15ull;
}

static inline uint32_t dt_lm_home(uint64_t h, uint32_t mask) /* ctx: any; slot within the stripe */
{
	return (uint32_t)(h >> (64 - DT_LM_STRIPES_LOG2 - 32)) & mask;
}

/* `solo`: the caller is the only thread that can touch the map until it is done (dt_malloc's solo
 * gate), so the stripe lock is skipped: a locked instruction costs about 20 ns on this class of VM.
 * The caller passes the same value to the matching unlock. */
static inline void dt_lm_lock(struct dt_lm_stripe *s, int solo) /* ctx: hook */
{
	if (solo)
		return;
	uint32_t spins = 0;
	/* Acquire pairs with the release in dt_lm_unlock: the table is seen as the last holder left it. */
	while (atomic_exchange_explicit(&s->lock, 1, memory_order_acquire)) {
		while (atomic_load_explicit(&s->lock, memory_order_relaxed)) {
			if (++spins >= DT_LM_SPINS_BEFORE_YIELD) {
				spins = 0;
				int saved_errno = errno;
				sched_yield();
				errno = saved_errno;
			} else {
				__builtin_ia32_pause();
			}
		}
	}
}

static inline void dt_lm_unlock(struct dt_lm_stripe *s, int solo) /* ctx: hook */
{
	if (solo)
		return;
	atomic_store_explicit(&s->lock, 0, memory_order_release);
}

/* 0 inserted; 1 replaced a stale entry for the same pointer (its old value in *stale); -ENOMEM. */
static inline int dt_livemap_insert(uintptr_t ptr, uint64_t size_bytes, uint32_t stack,
                                    struct dt_live_block *stale, int solo) /* ctx: hook */
{
	struct dt_lm_stripe *stripes = atomic_load_explicit(&dt_lm_stripes, memory_order_acquire);
	if (__builtin_expect(!stripes || ptr == 0, 0))
		return -ENOMEM;
	uint64_t h = dt_lm_hash(ptr);
	struct dt_lm_stripe *s = &stripes[h >> (64 - DT_LM_STRIPES_LOG2)];
	int rc = 0;
	dt_lm_lock(s, solo);
	/* Keep the load factor at most 1/2: linear probing stays short. */
	if (__builtin_expect((uint64_t)(s->count + 1) * 2 > (uint64_t)s->mask + 1, 0) &&
	    dt_livemap_grow_locked(s) != 0) {
		rc = -ENOMEM;
		goto out;
	}
	uint32_t mask = s->mask;
	struct dt_lm_entry *t = s->tab;
	uint32_t i = dt_lm_home(h, mask);
	while (t[i].key && t[i].key != ptr)
		i = (i + 1) & mask;
	if (__builtin_expect(t[i].key == ptr, 0)) {
		/* The block was released without our hook seeing it (freed while tracking was skipped). */
		stale->size_bytes = t[i].size_bytes;
		stale->stack = t[i].stack;
		rc = 1;
	} else {
		s->count++;
	}
	t[i].key = ptr;
	t[i].size_bytes = size_bytes;
	t[i].stack = stack;
out:
	dt_lm_unlock(s, solo);
	return rc;
}

/* 1 and *out when ptr was tracked (its entry is gone), 0 otherwise. */
static inline int dt_livemap_remove(uintptr_t ptr, struct dt_live_block *out, int solo) /* ctx: hook */
{
	struct dt_lm_stripe *stripes = atomic_load_explicit(&dt_lm_stripes, memory_order_acquire);
	if (__builtin_expect(!stripes || ptr == 0, 0))
		return 0;
	uint64_t h = dt_lm_hash(ptr);
	struct dt_lm_stripe *s = &stripes[h >> (64 - DT_LM_STRIPES_LOG2)];
	int found = 0;
	dt_lm_lock(s, solo);
	uint32_t mask = s->mask;
	struct dt_lm_entry *t = s->tab;
	uint32_t i = dt_lm_home(h, mask);
	while (t[i].key && t[i].key != ptr)
		i = (i + 1) & mask;
	if (t[i].key == ptr) {
		found = 1;
		out->size_bytes = t[i].size_bytes;
		out->stack = t[i].stack;
		s->count--;
		/* Backward-shift deletion (Knuth's algorithm R): no tombstones, probe chains stay short. */
		uint32_t j = i;
		for (;;) {
			j = (j + 1) & mask;
			if (!t[j].key)
				break;
			uint32_t home = dt_lm_home(dt_lm_hash(t[j].key), mask);
			int stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
			if (stays)
				continue;
			t[i] = t[j];
			i = j;
		}
		t[i].key = 0;
	}
	dt_lm_unlock(s, solo);
	return found;
}

#endif
