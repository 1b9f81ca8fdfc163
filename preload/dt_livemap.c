/* The live-block map's slow paths: set-up, stripe growth, fork locking, counting (the insert/remove
 * fast paths are inline in dt_livemap.h). Memory comes from mmap only, never from malloc.
 * Called from the malloc hooks (dt_in_shim not required: nothing here allocates) and fork handlers. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>

#include "dt_livemap.h"
#include "dt_shim.h"

#define LM_INITIAL_SLOTS 64u			  /* per stripe, carved from one initial mapping */
#define LM_CHUNK_BYTES (16u * DT_HUGE_PAGE_BYTES) /* tables are carved from chunks this big */

struct dt_lm_stripe *_Atomic dt_lm_stripes;

static void *lm_map(size_t bytes) /* ctx: any */
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

/* Tables live in huge-page-aligned chunks advised MADV_HUGEPAGE: a std::map workload's map outgrew
 * the cache and touched its tables at random, so with 4 KiB pages each free also missed the TLB, and
 * the first touch of each table page was a page fault (about 40 us each on this class of VM: 5000 of
 * them, a third of the tracing cost). Huge pages make both rare. Where THP is off the advice is a
 * no-op and this is a plain bump allocator. The cost: a process whose map grows at all holds at
 * least one huge page of tables (2 MiB of RSS). Chunks are never unmapped (tables are pooled). Taken
 * under pool_lock, inside a grow (which holds its stripe lock). */
static unsigned char *chunk_cur;
static size_t chunk_left;

static void *lm_chunk_map(size_t bytes) /* ctx: any; huge-page aligned and advised, or NULL */
{
	return dt_map_hugepage_aligned(bytes, bytes);
}

static void *lm_table_map(size_t bytes) /* ctx: hook; caller holds pool_lock; zeroed */
{
	bytes = (bytes + 63u) & ~(size_t)63u; /* tables start on cache lines */
	if (bytes > LM_CHUNK_BYTES / 4) {
		size_t whole = (bytes + DT_HUGE_PAGE_BYTES - 1) & ~(size_t)(DT_HUGE_PAGE_BYTES - 1);
		return lm_chunk_map(whole);
	}
	if (chunk_left < bytes) {
		unsigned char *c = lm_chunk_map(LM_CHUNK_BYTES);
		if (!c)
			return NULL;
		chunk_cur = c;
		chunk_left = LM_CHUNK_BYTES;
	}
	void *p = chunk_cur;
	chunk_cur += bytes;
	chunk_left -= bytes;
	return p;
}

/* A fresh, empty map: the stripes and one slab carved into their initial tables. NULL on failure.
 * prefault: the stripes and their lock lines are made present at once (every stripe is written
 * below, and nursery evictions and cross-thread frees take the locks of random stripes); not in a
 * fork child, which mostly execs before it allocates. ctx: any */
static struct dt_lm_stripe *lm_build(int prefault)
{
	/* The stripes, then their locks (dt_lm_lock_of): 16 KiB is a multiple of the lock lines' 64. */
	_Static_assert((DT_LM_STRIPES * sizeof(struct dt_lm_stripe)) % sizeof(struct dt_lm_lockline) == 0,
		       "lock lines must start aligned after the stripes");
	size_t sbytes = (size_t)DT_LM_STRIPES * (sizeof(struct dt_lm_stripe) + sizeof(struct dt_lm_lockline));
	size_t tbytes = (size_t)DT_LM_STRIPES * LM_INITIAL_SLOTS * sizeof(struct dt_lm_entry);
	struct dt_lm_stripe *s = lm_map(sbytes);
	/* Small pages for the initial tables: a program that never grows a stripe pays only for the
	 * pages it touches, not for whole huge pages. */
	struct dt_lm_entry *t = lm_map(tbytes);
	if (!s || !t) {
		if (s)
			munmap(s, sbytes);
		if (t)
			munmap(t, tbytes);
		return NULL;
	}
	if (prefault)
		dt_prefault(s, sbytes);
	for (uint32_t i = 0; i < DT_LM_STRIPES; i++) {
		s[i].mask = LM_INITIAL_SLOTS - 1;
		s[i].tab = t + (size_t)i * LM_INITIAL_SLOTS;
	}
	return s;
}

int dt_livemap_init(void) /* ctx: any; once */
{
	if (atomic_load_explicit(&dt_lm_stripes, memory_order_acquire))
		return 0;
	struct dt_lm_stripe *s = lm_build(1);
	if (!s)
		return -ENOMEM;
	/* Release: a hook that sees the pointer sees initialised stripes. */
	atomic_store_explicit(&dt_lm_stripes, s, memory_order_release);
	return 0;
}

/* The parent's map is left mapped, not unmapped: its pages are shared copy-on-write with the parent,
 * so keeping them costs no memory, where unmapping a big map would cost the child a walk of every
 * stripe and a TLB flush per table at every fork. */
int dt_livemap_reset_child(void) /* ctx: any; fork child, one thread */
{
	struct dt_lm_stripe *s = lm_build(0);
	if (!s)
		return -ENOMEM;
	atomic_store_explicit(&dt_lm_stripes, s, memory_order_release);
	return 0;
}

/* Tables a stripe outgrew, zeroed, one free list per size (log2 of the slot count), linked through
 * their first entry's key. A grown stripe's old table goes here and the next stripe that grows to
 * that size takes it: the stripes grow at about the same rate, so growth mostly recycles memory
 * instead of unmapping it (each munmap flushed the TLB: 8% of a std::map workload's time). Taken only
 * inside a grow, which holds its stripe's lock (or runs solo), so fork, holding every stripe lock,
 * never copies it held. */
#define LM_POOL_SIZES 33u
static _Atomic int pool_lock;
static struct dt_lm_entry *pool[LM_POOL_SIZES];

static uint32_t lm_log2(uint32_t slots) /* ctx: any; slots is a power of two */
{
	return (uint32_t)__builtin_ctz(slots);
}

static struct dt_lm_entry *pool_take(uint32_t slots) /* ctx: hook; zeroed, or NULL */
{
	uint32_t k = lm_log2(slots);
	while (atomic_exchange_explicit(&pool_lock, 1, memory_order_acquire))
		__builtin_ia32_pause();
	struct dt_lm_entry *t = pool[k];
	if (t) {
		pool[k] = (struct dt_lm_entry *)(uintptr_t)t[0].key;
		t[0].key = 0;
	} else {
		t = lm_table_map((size_t)slots * sizeof(*t));
	}
	atomic_store_explicit(&pool_lock, 0, memory_order_release);
	return t;
}

static void pool_give(struct dt_lm_entry *t, uint32_t slots) /* ctx: hook */
{
	uint32_t k = lm_log2(slots);
	memset(t, 0, (size_t)slots * sizeof(*t));
	while (atomic_exchange_explicit(&pool_lock, 1, memory_order_acquire))
		__builtin_ia32_pause();
	t[0].key = (uint64_t)(uintptr_t)pool[k];
	pool[k] = t;
	atomic_store_explicit(&pool_lock, 0, memory_order_release);
}

int dt_livemap_grow_locked(struct dt_lm_stripe *s) /* ctx: hook; stripe locked */
{
	uint32_t old_slots = s->mask + 1;
	uint32_t new_slots = old_slots * 2;
	if (new_slots == 0)
		return -ENOMEM; /* 2^32 slots: the stripe cannot double again */
	int saved_errno = errno;
	struct dt_lm_entry *nt = pool_take(new_slots);
	if (!nt) {
		errno = saved_errno;
		return -ENOMEM;
	}
	uint32_t nmask = new_slots - 1;
	for (uint32_t i = 0; i < old_slots; i++) {
		const struct dt_lm_entry *e = &s->tab[i];
		if (!e->key)
			continue;
		uint32_t j = dt_lm_home(e->key, dt_lm_hash(e->key), nmask);
		while (nt[j].key)
			j = (j + 1) & nmask;
		nt[j] = *e;
	}
	pool_give(s->tab, old_slots);
	/* Atomic stores: dt_livemap_prefetch reads them without the lock. */
	__atomic_store_n(&s->tab, nt, __ATOMIC_RELAXED);
	__atomic_store_n(&s->mask, nmask, __ATOMIC_RELAXED);
	errno = saved_errno;
	return 0;
}

int dt_livemap_replace_locked(struct dt_lm_stripe *s, uintptr_t ptr, uint64_t size_bytes, uint32_t stack,
			      struct dt_live_block *stale) /* ctx: hook; stripe locked */
{
	dt_livemap_remove_locked(s, ptr, stale); /* the caller found it: both of a big block's entries go */
	struct dt_live_block none;
	int rc = dt_livemap_insert_locked(s, ptr, size_bytes, stack, &none);
	return rc < 0 ? rc : 1;
}

/* Slot `slot` is ptr's (empty), and the caller made room for two entries. ctx: hook; stripe locked */
int dt_livemap_insert_big_locked(struct dt_lm_stripe *s, uint32_t slot, uintptr_t ptr, uint64_t size_bytes,
				 uint32_t stack)
{
	uint32_t mask = s->mask;
	struct dt_lm_entry *t = s->tab;
	t[slot].key = ptr;
	t[slot].size_bytes = DT_LM_SIZE_BIG;
	t[slot].stack = stack;
	uint64_t key = (uint64_t)ptr + DT_LM_BIG_KEY_OFFSET;
	uint32_t i = dt_lm_home(key, dt_lm_hash(key), mask);
	while (t[i].key && t[i].key != key)
		i = (i + 1) & mask;
	s->count += t[i].key ? 1u : 2u;
	t[i].key = key;
	t[i].size_bytes = (uint32_t)size_bytes;
	t[i].stack = (uint32_t)(size_bytes >> 32);
	return 0;
}

/* The size in ptr's second entry, which goes; DT_LM_SIZE_BIG if it is missing (never, if the map is
 * consistent). ctx: hook; stripe locked */
uint64_t dt_livemap_take_big_locked(struct dt_lm_stripe *s, uintptr_t ptr)
{
	uint32_t mask = s->mask;
	struct dt_lm_entry *t = s->tab;
	uint64_t key = (uint64_t)ptr + DT_LM_BIG_KEY_OFFSET;
	uint32_t i = dt_lm_home(key, dt_lm_hash(key), mask);
	while (t[i].key && t[i].key != key)
		i = (i + 1) & mask;
	if (t[i].key != key)
		return DT_LM_SIZE_BIG;
	uint64_t size_bytes = (uint64_t)t[i].stack << 32 | t[i].size_bytes;
	dt_lm_delete_at(s, i);
	return size_bytes;
}

uint64_t dt_livemap_count(void) /* ctx: any */
{
	struct dt_lm_stripe *stripes = atomic_load_explicit(&dt_lm_stripes, memory_order_acquire);
	uint64_t n = 0;
	for (uint32_t i = 0; stripes && i < DT_LM_STRIPES; i++)
		n += __atomic_load_n(&stripes[i].count, __ATOMIC_RELAXED);
	return n;
}

void dt_livemap_lock_all(void) /* ctx: any */
{
	struct dt_lm_stripe *stripes = atomic_load_explicit(&dt_lm_stripes, memory_order_acquire);
	for (uint32_t i = 0; stripes && i < DT_LM_STRIPES; i++)
		dt_lm_lock(&stripes[i], 0);
}

void dt_livemap_unlock_all(void) /* ctx: any */
{
	struct dt_lm_stripe *stripes = atomic_load_explicit(&dt_lm_stripes, memory_order_acquire);
	for (uint32_t i = 0; stripes && i < DT_LM_STRIPES; i++)
		dt_lm_unlock(&stripes[i], 0);
}
