/* The stack table: unique call stacks (pcs + flags) interned to dense ids, shared by CPU samples and
 * allocation hooks on every thread. Lock-free open addressing in mmap'd memory, fixed capacity; it
 * never calls malloc, never locks, and interning is async-signal-safe (called from the SIGPROF
 * handler and from malloc hooks). Emitted once by the trace writer as DT_SEC_STACKS. */
#define _GNU_SOURCE
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>

#include "dt_shim.h"

#define STACK_DEFAULT_CAPACITY (64u * 1024u) /* stacks, when the caller passes 0 */
#define STACK_MAX_CAPACITY (16u * 1024u * 1024u)
#define STACK_SLOTS_PER_STACK 2u	 /* load factor <= 1/2 keeps probe chains short */
#define STACK_ARENA_FRAMES_PER_STACK 32u /* average frames budgeted per stack */
#define STACK_PUBLISH_BUSY_SPINS 1000u	 /* pure spins before yielding to a preempted publisher */
#define STACK_PUBLISH_SPINS 1000000u	 /* bound on waiting for a slot being published */


enum slot_state {
	SLOT_EMPTY = 0,
	SLOT_BUSY = 1,	/* claimed, being filled by one writer */
	SLOT_READY = 2, /* immutable from now on */
	SLOT_DEAD = 3,	/* claimed when the id space was exhausted; never matches */
};

struct stack_slot {
	_Atomic uint32_t state;
	uint32_t depth;
	uint32_t flags;
	uint32_t id;
	uint64_t hash;
	uint64_t frames_off; /* index into the frame arena */
};

static struct stack_slot *slots;
static _Atomic uint32_t *id_to_slot; /* slot index + 1; 0 while the id is being published */
static uint64_t *arena;
static uint32_t slot_mask;
static uint32_t capacity_stacks;
static uint64_t arena_frames;
static _Atomic uint32_t next_id;
static _Atomic uint64_t arena_used;
static _Atomic int table_ready;
static DT_TLS __thread int in_intern; /* breaks SIGPROF -> intern re-entry on the same thread */

/* One reservation holds the slots, the id index and the frame arena (one mmap, not three).
 * The slot array is probed where a stack's hash points: every new stack writes a random page of it,
 * so with 4 KiB pages a program's first thousand stacks cost a page fault each (`cc --version` 160,
 * `bash -c true` 354; about 13 us each on our VMs, where a 2 MiB huge page costs 120-170 us). It
 * therefore starts on a huge-page boundary and is advised MADV_HUGEPAGE: at most one fault per
 * 2 MiB; measured, `bash -c true` traced 20.2 -> 16.1 ms CPU. Nothing is touched (or resident) until a
 * stack is interned, so a process that interns none pays nothing (dt_map_hugepage_aligned). Where
 * THP is off the advice is a no-op. Copy-on-write after fork splits the huge page and copies 4 KiB,
 * as before. */
int dt_stack_table_init(size_t capacity) /* ctx: any, before sampling */
{
	if (atomic_load_explicit(&table_ready, memory_order_acquire))
		return 0;
	if (capacity == 0)
		capacity = STACK_DEFAULT_CAPACITY;
	if (capacity > STACK_MAX_CAPACITY)
		capacity = STACK_MAX_CAPACITY;
	uint32_t nslots = 1;
	while (nslots < capacity * STACK_SLOTS_PER_STACK)
		nslots <<= 1;
	uint64_t nframes = (uint64_t)capacity * STACK_ARENA_FRAMES_PER_STACK;

	size_t slot_bytes = (size_t)nslots * sizeof(struct stack_slot);
	size_t id_bytes = (capacity * sizeof(*id_to_slot) + sizeof(*arena) - 1) & ~(sizeof(*arena) - 1);
	/* Small tables (unit tests) are not worth huge pages: aligned, not advised. */
	unsigned char *p = dt_map_hugepage_aligned(slot_bytes + id_bytes + nframes * sizeof(*arena),
						   slot_bytes >= DT_HUGE_PAGE_BYTES ? slot_bytes : 0);
	if (!p)
		return -1;
	uintptr_t s = (uintptr_t)p;
	slots = (struct stack_slot *)s;
	id_to_slot = (_Atomic uint32_t *)(s + slot_bytes);
	arena = (uint64_t *)(s + slot_bytes + id_bytes);
	slot_mask = nslots - 1;
	capacity_stacks = (uint32_t)capacity;
	arena_frames = nframes;
	/* Release: a thread that sees table_ready sees the pointers above. */
	atomic_store_explicit(&table_ready, 1, memory_order_release);
	return 0;
}

uint32_t dt_stack_capacity(void) /* ctx: sigsafe */
{
	return atomic_load_explicit(&table_ready, memory_order_acquire) ? capacity_stacks : 0;
}

static uint64_t mix64(uint64_t x) /* ctx: sigsafe; splitmix64 finalizer */
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

static uint64_t stack_hash(const uint64_t *pcs, uint32_t depth, uint32_t flags) /* ctx: sigsafe */
{
	uint64_t h = mix64(((uint64_t)depth << 32) | flags);
	for (uint32_t i = 0; i < depth; i++)
		h = mix64(h ^ pcs[i]) + i;
	return h;
}

static int slot_matches(const struct stack_slot *s, uint64_t h, const uint64_t *pcs, uint32_t depth,
			uint32_t flags) /* ctx: sigsafe; s is READY */
{
	return s->hash == h && s->depth == depth && s->flags == flags &&
	       memcmp(&arena[s->frames_off], pcs, depth * sizeof(*pcs)) == 0;
}

uint32_t dt_stack_intern_sigsafe(const uint64_t *pcs, uint32_t depth, uint32_t flags) /* ctx: sigsafe */
{
	if (!atomic_load_explicit(&table_ready, memory_order_acquire) || depth > DT_MAX_STACK_DEPTH)
		return DT_STACK_NONE;
	/* A signal handler interrupting this thread's own insert must not wait for the slot it holds. */
	if (in_intern)
		return DT_STACK_NONE;
	in_intern = 1;
	uint32_t id = DT_STACK_NONE;
	uint64_t h = stack_hash(pcs, depth, flags);
	uint64_t frames_off = UINT64_MAX; /* reserved lazily, kept across a lost race */
	uint32_t i = (uint32_t)h & slot_mask;

	for (uint32_t probe = 0; probe <= slot_mask; probe++, i = (i + 1) & slot_mask) {
		struct stack_slot *s = &slots[i];
		/* Acquire pairs with the writer's release of READY: the slot's fields are visible. */
		uint32_t st = atomic_load_explicit(&s->state, memory_order_acquire);
		if (st == SLOT_EMPTY) {
			if (frames_off == UINT64_MAX) {
				uint64_t off =
				    atomic_fetch_add_explicit(&arena_used, depth, memory_order_relaxed);
				if (off + depth > arena_frames)
					goto out; /* frame arena exhausted */
				frames_off = off;
				memcpy(&arena[frames_off], pcs, depth * sizeof(*pcs));
			}
			uint32_t expect = SLOT_EMPTY;
			if (atomic_compare_exchange_strong_explicit(
				&s->state, &expect, SLOT_BUSY, memory_order_acq_rel, memory_order_acquire)) {
				id = atomic_fetch_add_explicit(&next_id, 1, memory_order_relaxed);
				if (id >= capacity_stacks) {
					atomic_store_explicit(&s->state, SLOT_DEAD, memory_order_release);
					id = DT_STACK_NONE;
					goto out;
				}
				s->hash = h;
				s->depth = depth;
				s->flags = flags;
				s->id = id;
				s->frames_off = frames_off;
				atomic_store_explicit(&s->state, SLOT_READY, memory_order_release);
				atomic_store_explicit(&id_to_slot[id], i + 1, memory_order_release);
				goto out;
			}
			st = expect; /* lost the race: look at what the winner put there */
		}
		if (st == SLOT_BUSY) {
			/* The publisher is another thread (in_intern rules out this one), a few stores from
			 * done unless it was preempted: spin, then yield, but never forever. */
			uint32_t spins = 0;
			while ((st = atomic_load_explicit(&s->state, memory_order_acquire)) == SLOT_BUSY) {
				if (++spins >= STACK_PUBLISH_SPINS) {
					id = DT_STACK_NONE;
					goto out;
				}
				if (spins > STACK_PUBLISH_BUSY_SPINS)
					sched_yield(); /* a bare syscall: no lock, fine in a handler */
			}
		}
		if (st == SLOT_READY && slot_matches(s, h, pcs, depth, flags)) {
			id = s->id;
			goto out;
		}
	}
out:
	in_intern = 0;
	return id;
}

uint32_t dt_stack_count(void) /* ctx: any */
{
	uint32_t n = atomic_load_explicit(&next_id, memory_order_acquire);
	return n < capacity_stacks ? n : capacity_stacks;
}

uint32_t dt_stack_get(uint32_t id, const uint64_t **pcs, uint32_t *flags) /* ctx: any */
{
	*pcs = NULL;
	*flags = 0;
	if (id >= dt_stack_count())
		return 0;
	uint32_t slot1;
	/* An id below the count is published within a few instructions; wait for it, not forever. */
	for (uint32_t spins = 0; (slot1 = atomic_load_explicit(&id_to_slot[id], memory_order_acquire)) == 0;
	     spins++) {
		if (spins >= STACK_PUBLISH_SPINS)
			return 0;
		sched_yield();
	}
	const struct stack_slot *s = &slots[slot1 - 1];
	*pcs = &arena[s->frames_off];
	*flags = s->flags;
	return s->depth;
}

void dt_stack_emit(struct dt_tracebuf *b) /* ctx: any */
{
	size_t mark = dt_tracebuf_section_begin(b, DT_SEC_STACKS);
	uint32_t n = dt_stack_count();
	dt_tracebuf_put_u32(b, n);
	for (uint32_t id = 0; id < n; id++) {
		const uint64_t *pcs;
		uint32_t flags;
		/* An unpublished id is written empty so that ids stay positional. */
		uint32_t depth = dt_stack_get(id, &pcs, &flags);
		dt_tracebuf_put_u32(b, depth);
		dt_tracebuf_put_u32(b, flags);
		for (uint32_t i = 0; i < depth; i++)
			dt_tracebuf_put_u64(b, pcs[i]);
	}
	dt_tracebuf_section_end(b, mark);
}
