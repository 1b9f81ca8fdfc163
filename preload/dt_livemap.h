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

/* A map slot, 16 bytes: four to a cache line, and a third less memory than with a 64-bit size (the
 * tables of a big heap outgrow the cache, so their size is cache and TLB misses on every call). A
 * block of DT_LM_SIZE_BIG bytes or more stores DT_LM_SIZE_BIG here and its exact size in a second
 * entry, keyed ptr + DT_LM_BIG_KEY_OFFSET (blocks are at least 8-byte aligned, so no block has that
 * key), low half in size_bytes, high half in stack: same page, so same stripe and lock, and the same
 * home slot. */
struct dt_lm_entry {
	uint64_t key; /* block address; 0 = empty (a live block is never at 0) */
	uint32_t size_bytes;
	uint32_t stack;
};

#define DT_LM_SIZE_BIG UINT32_MAX /* in size_bytes: the size is in the block's second entry */
#define DT_LM_BIG_KEY_OFFSET 1u

/* A nursery slot: the full size inline (the nursery is small and per thread). */
struct dt_lm_nentry {
	uint64_t key; /* block address; 0 = empty */
	uint64_t size_bytes;
	uint32_t stack;
	uint32_t pad;
};

/* A stripe's table, 16 bytes: the 1024 of them fit in 16 KiB, which a single-threaded program (no
 * locks) keeps in cache; with 64-byte stripes the stripe itself was a cache miss on most calls of a
 * std::map workload. The locks live apart, one per cache line, right after the stripes in the same
 * mapping (dt_lm_lock_of): only a multi-threaded process touches them. */
struct dt_lm_stripe {
	struct dt_lm_entry *tab;
	uint32_t mask;
	uint32_t count;
};

struct dt_lm_lockline {
	_Atomic uint32_t lock;
} __attribute__((aligned(64)));

/* NULL until dt_livemap_init; published with release, read with acquire. */
extern struct dt_lm_stripe *_Atomic dt_lm_stripes;

int dt_livemap_init(void);                          /* ctx: any; once; 0 or -ENOMEM */
/* A fork child starts from an empty map: blocks inherited from the parent are untracked in the child
 * (their frees count nothing, like blocks allocated before the shim was ready). 0 or -ENOMEM. */
int dt_livemap_reset_child(void);                   /* ctx: any; fork child, one thread */
int dt_livemap_grow_locked(struct dt_lm_stripe *s); /* ctx: hook; stripe locked; 0 or -ENOMEM */
/* The rare paths of insert and remove (dt_livemap.c): a stale entry for the pointer, a block of
 * DT_LM_SIZE_BIG bytes or more. Same contract as dt_livemap_insert_locked / the removal. */
int dt_livemap_replace_locked(struct dt_lm_stripe *s, uintptr_t ptr, uint64_t size_bytes, uint32_t stack,
                              struct dt_live_block *stale);       /* ctx: hook; stripe locked */
int dt_livemap_insert_big_locked(struct dt_lm_stripe *s, uint32_t slot, uintptr_t ptr, uint64_t size_bytes,
                                 uint32_t stack);                  /* ctx: hook; stripe locked; 0 */
uint64_t dt_livemap_take_big_locked(struct dt_lm_stripe *s, uintptr_t ptr); /* ctx: hook; stripe locked */
uint64_t dt_livemap_count(void); /* ctx: any; racy sum of entries (a big block has two), for tests */
void dt_livemap_lock_all(void);                     /* ctx: any; fork prepare */
void dt_livemap_unlock_all(void);                   /* ctx: any; fork parent and child */

#define DT_LM_PAGE_SHIFT 12u    /* blocks in one 4 KiB page share a stripe and a run of slots */
#define DT_LM_GRANULE_SHIFT 4u  /* malloc's 16-byte granule: the block's offset within its run */

/* Fibonacci hashing of the page: the top bits pick the stripe, the 32 below them where the page's run
 * of slots starts. Within the run a block sits at its 16-byte granule's offset in the page, so blocks
 * allocated one after another (a growing std::map, a list) land in neighbouring slots, usually on a
 * cache line the previous insert already brought in, where hashing every block apart cost one cache
 * miss per insert and per free once the map outgrew the cache. Different pages still start at
 * scattered places (a multiplicative hash of the page number): page-aligned blocks do not pile up. */
static inline uint64_t dt_lm_hash(uint64_t ptr) /* ctx: any */
{
	return (ptr >> DT_LM_PAGE_SHIFT) * 0x9e3779b97f4a7c15ull;
}

static inline uint32_t dt_lm_home(uint64_t ptr, uint64_t h, uint32_t mask) /* ctx: any; slot in the stripe */
{
	uint32_t in_page = (uint32_t)(ptr >> DT_LM_GRANULE_SHIFT) &
	                   ((1u << (DT_LM_PAGE_SHIFT - DT_LM_GRANULE_SHIFT)) - 1u);
	return ((uint32_t)(h >> (64 - DT_LM_STRIPES_LOG2 - 32)) + in_page) & mask;
}

/* `solo`: the caller is the only thread that can touch the map until it is done (dt_malloc's solo
 * gate), so the stripe lock is skipped: a locked instruction costs about 20 ns on this class of VM.
 * The caller passes the same value to the matching unlock. */
/* The lock of stripe s, which belongs to the current map. ctx: any */
static inline _Atomic uint32_t *dt_lm_lock_of(struct dt_lm_stripe *s)
{
	struct dt_lm_stripe *base = atomic_load_explicit(&dt_lm_stripes, memory_order_relaxed);
	return &((struct dt_lm_lockline *)(base + DT_LM_STRIPES))[s - base].lock;
}

static inline void dt_lm_lock(struct dt_lm_stripe *s, int solo) /* ctx: hook */
{
	if (solo)
		return;
	_Atomic uint32_t *lock = dt_lm_lock_of(s);
	uint32_t spins = 0;
	/* Acquire pairs with the release in dt_lm_unlock: the table is seen as the last holder left it. */
	while (atomic_exchange_explicit(lock, 1, memory_order_acquire)) {
		while (atomic_load_explicit(lock, memory_order_relaxed)) {
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
	atomic_store_explicit(dt_lm_lock_of(s), 0, memory_order_release);
}

/* The stripe that holds ptr; NULL before dt_livemap_init. ctx: any */
static inline struct dt_lm_stripe *dt_lm_stripe_of(uintptr_t ptr)
{
	struct dt_lm_stripe *stripes = atomic_load_explicit(&dt_lm_stripes, memory_order_acquire);
	if (__builtin_expect(!stripes, 0))
		return NULL;
	return &stripes[dt_lm_hash(ptr) >> (64 - DT_LM_STRIPES_LOG2)];
}

/* Start loading the slot where ptr's entry would be. Reads the stripe without its lock: a stale
 * table or mask only prefetches the wrong line (tables are never unmapped). ctx: hook */
static inline void dt_livemap_prefetch(uintptr_t ptr)
{
	struct dt_lm_stripe *s = dt_lm_stripe_of(ptr);
	if (!s)
		return;
	uint32_t mask = __atomic_load_n(&s->mask, __ATOMIC_RELAXED);
	struct dt_lm_entry *t = __atomic_load_n(&s->tab, __ATOMIC_RELAXED);
	__builtin_prefetch(&t[dt_lm_home(ptr, dt_lm_hash(ptr), mask)], 1);
}

/* Insert into a stripe the caller has locked (or owns solo): 0 inserted; 1 replaced a stale entry for
 * the same pointer (its old value in *stale); -ENOMEM. ctx: hook */
static inline int dt_livemap_insert_locked(struct dt_lm_stripe *s, uintptr_t ptr, uint64_t size_bytes,
                                           uint32_t stack, struct dt_live_block *stale)
{
	uint32_t big = size_bytes >= DT_LM_SIZE_BIG;
	/* Keep the load factor at most 1/2: linear probing stays short. */
	if (__builtin_expect((uint64_t)(s->count + 1 + big) * 2 > (uint64_t)s->mask + 1, 0) &&
	    dt_livemap_grow_locked(s) != 0)
		return -ENOMEM;
	uint32_t mask = s->mask;
	struct dt_lm_entry *t = s->tab;
	uint32_t i = dt_lm_home(ptr, dt_lm_hash(ptr), mask);
	while (t[i].key && t[i].key != ptr)
		i = (i + 1) & mask;
	/* A stale entry: the block was released without our hook seeing it (freed while tracking was
	 * skipped). */
	if (__builtin_expect(t[i].key == ptr, 0))
		return dt_livemap_replace_locked(s, ptr, size_bytes, stack, stale);
	if (__builtin_expect(big, 0))
		return dt_livemap_insert_big_locked(s, i, ptr, size_bytes, stack);
	s->count++;
	t[i].key = ptr;
	t[i].size_bytes = (uint32_t)size_bytes;
	t[i].stack = stack;
	return 0;
}

/* Empty slot i of a stripe the caller has locked. ctx: hook */
static inline void dt_lm_delete_at(struct dt_lm_stripe *s, uint32_t i)
{
	uint32_t mask = s->mask;
	struct dt_lm_entry *t = s->tab;
	s->count--;
	/* Backward-shift deletion (Knuth's algorithm R): no tombstones, probe chains stay short. */
	uint32_t j = i;
	for (;;) {
		j = (j + 1) & mask;
		if (!t[j].key)
			break;
		uint32_t home = dt_lm_home(t[j].key, dt_lm_hash(t[j].key), mask);
		int stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
		if (stays)
			continue;
		t[i] = t[j];
		i = j;
	}
	t[i].key = 0;
}

/* Remove from a stripe the caller has locked (or owns solo): 1 and *out when ptr was there. ctx: hook */
static inline int dt_livemap_remove_locked(struct dt_lm_stripe *s, uintptr_t ptr, struct dt_live_block *out)
{
	uint32_t mask = s->mask;
	struct dt_lm_entry *t = s->tab;
	uint32_t i = dt_lm_home(ptr, dt_lm_hash(ptr), mask);
	while (t[i].key && t[i].key != ptr)
		i = (i + 1) & mask;
	if (t[i].key != ptr)
		return 0;
	uint32_t size32 = t[i].size_bytes;
	out->stack = t[i].stack;
	dt_lm_delete_at(s, i);
	out->size_bytes = __builtin_expect(size32 == DT_LM_SIZE_BIG, 0) ? dt_livemap_take_big_locked(s, ptr) : size32;
	return 1;
}

/* 0 inserted; 1 replaced a stale entry for the same pointer (its old value in *stale); -ENOMEM. */
static inline int dt_livemap_insert(uintptr_t ptr, uint64_t size_bytes, uint32_t stack,
                                    struct dt_live_block *stale, int solo) /* ctx: hook */
{
	struct dt_lm_stripe *s = dt_lm_stripe_of(ptr);
	if (__builtin_expect(!s || ptr == 0, 0))
		return -ENOMEM;
	dt_lm_lock(s, solo);
	int rc = dt_livemap_insert_locked(s, ptr, size_bytes, stack, stale);
	dt_lm_unlock(s, solo);
	return rc;
}

/* 1 and *out when ptr was tracked (its entry is gone), 0 otherwise. */
static inline int dt_livemap_remove(uintptr_t ptr, struct dt_live_block *out, int solo) /* ctx: hook */
{
	struct dt_lm_stripe *s = dt_lm_stripe_of(ptr);
	if (__builtin_expect(!s || ptr == 0, 0))
		return 0;
	dt_lm_lock(s, solo);
	int found = dt_livemap_remove_locked(s, ptr, out);
	dt_lm_unlock(s, solo);
	return found;
}

/* ---- the nursery: a small per-thread, direct-mapped cache of the blocks the thread allocated last,
 * in front of the map, used while several threads are allocating. Most blocks die young on the
 * thread that made them (a malloc/free pair in a loop, a temporary): those are inserted and removed
 * here by the owner with plain loads and stores, no lock and no locked instruction (about 13 ns
 * each on this class of VM, two per pair through the striped map, plus the contended line). Rules:
 *   - Only the owner writes a free slot (key 0 -> ptr, release: size and stack first) and removes
 *     its own blocks (ptr -> 0) without a lock: in a correct program nobody else frees them then.
 *   - An entry leaves the nursery for the map (eviction, when its slot is wanted) only under the
 *     stripe lock of its pointer, and so does a free by another thread, which looks in the map and
 *     then in every thread's nursery (dt_lm_nursery_claim) under that same lock: a block is always
 *     found in exactly one of the two, never in neither.
 *   - A slot holding the pointer being inserted again is a stale entry (freed unseen), as in the map.
 * The fork child empties every nursery with its map. */
#define DT_LM_NURSERY_LOG2 7u /* 128 slots, 3 KiB per thread */
#define DT_LM_NURSERY_SLOTS (1u << DT_LM_NURSERY_LOG2)

struct dt_lm_nursery {
	struct dt_lm_nentry slot[DT_LM_NURSERY_SLOTS];
};

static inline struct dt_lm_nentry *dt_lm_nursery_slot(struct dt_lm_nursery *n, uintptr_t ptr) /* ctx: any */
{
	return &n->slot[((ptr >> DT_LM_GRANULE_SHIFT) * 0x9e3779b97f4a7c15ull) >> (64 - DT_LM_NURSERY_LOG2)];
}

/* Owner only. 0 inserted; 1 replaced a stale entry for ptr (*stale); 2 the slot's previous block went
 * to the map, which held a stale entry for that pointer (*stale: count its free); -ENOMEM the previous
 * block was lost (the map could not grow; ptr is in the nursery). ctx: hook */
static inline int dt_lm_nursery_insert(struct dt_lm_nursery *n, uintptr_t ptr, uint64_t size_bytes,
                                       uint32_t stack, struct dt_live_block *stale)
{
	struct dt_lm_nentry *e = dt_lm_nursery_slot(n, ptr);
	int rc = 0;
	/* Acquire pairs with a claimer's release: its reads of the old entry are done before we reuse it. */
	uint64_t k = __atomic_load_n(&e->key, __ATOMIC_ACQUIRE);
	if (__builtin_expect(k == ptr, 0)) {
		stale->size_bytes = e->size_bytes;
		stale->stack = e->stack;
		rc = 1;
	} else if (k) {
		/* Nurseries are used only once the map exists: s is never NULL here. */
		struct dt_lm_stripe *s = dt_lm_stripe_of(k);
		dt_lm_lock(s, 0);
		/* Re-read under the lock: another thread may have freed (claimed) it meanwhile. */
		if (__atomic_load_n(&e->key, __ATOMIC_ACQUIRE) == k) {
			int r = dt_livemap_insert_locked(s, k, e->size_bytes, e->stack, stale);
			rc = r < 0 ? r : r == 1 ? 2 : 0;
			__atomic_store_n(&e->key, 0, __ATOMIC_RELAXED);
		}
		dt_lm_unlock(s, 0);
	}
	e->size_bytes = size_bytes;
	e->stack = stack;
	/* Release: a claimer that sees the key sees the size and stack. */
	__atomic_store_n(&e->key, ptr, __ATOMIC_RELEASE);
	return rc;
}

/* Owner only, no lock: 1 and *out when ptr is in the caller's own nursery (its entry is gone). */
static inline int dt_lm_nursery_take(struct dt_lm_nursery *n, uintptr_t ptr, struct dt_live_block *out)
{
	struct dt_lm_nentry *e = dt_lm_nursery_slot(n, ptr);
	if (__atomic_load_n(&e->key, __ATOMIC_RELAXED) != ptr)
		return 0;
	out->size_bytes = e->size_bytes;
	out->stack = e->stack;
	__atomic_store_n(&e->key, 0, __ATOMIC_RELAXED);
	return 1;
}

/* Any thread, holding the stripe lock of ptr: 1 and *out when ptr is in nursery n (its entry is gone). */
static inline int dt_lm_nursery_claim(struct dt_lm_nursery *n, uintptr_t ptr, struct dt_live_block *out)
{
	struct dt_lm_nentry *e = dt_lm_nursery_slot(n, ptr);
	/* Acquire pairs with the owner's release of the key: size and stack are the entry's. */
	if (__atomic_load_n(&e->key, __ATOMIC_ACQUIRE) != ptr)
		return 0;
	out->size_bytes = e->size_bytes;
	out->stack = e->stack;
	__atomic_store_n(&e->key, 0, __ATOMIC_RELEASE);
	return 1;
}

#endif
