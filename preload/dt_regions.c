/* Named regions (include/deiatrace.h): the exported dt_region_push/dt_region_pop, a per-thread stack
 * of open regions in initial-exec TLS, and a fixed mmap'd table of per-name totals updated with
 * relaxed atomics; emitted as DT_SEC_REGIONS by the writer. Never mallocs, never locks, never aborts
 * the host: a full table, a too-deep stack or an unmatched end is counted as dropped. */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "dt_shim.h"

#define REGIONS_CAPACITY 1024u /* distinct names per process; a power of two (open addressing) */
#define REGIONS_MAX_DEPTH 32u  /* open regions per thread; deeper ones are counted, not timed */
#define NS_PER_S 1000000000ull
#define FNV_OFFSET 2166136261u
#define FNV_PRIME 16777619u

/* The malloc hooks provide it in the shim; unit tests and builds without them record no allocations. */
#pragma weak dt_malloc_thread_counts
#pragma weak dt_malloc_thread_live
#pragma weak dt_malloc_thread_set_high
#pragma weak dt_malloc_enabled

enum slot_state { SLOT_EMPTY = 0, SLOT_CLAIMED = 1, SLOT_READY = 2 };

struct region {
	_Atomic uint32_t state;
	uint32_t hash;
	char name[DT_REGION_NAME_BYTES + 1];
	_Atomic uint64_t f[DT_REGION_NFIELDS]; /* enum dt_region_field */
};

struct open_region {
	uint32_t id;
	uint64_t wall0_ns, cpu0_ns, calls0, bytes0;
	uint64_t nested_wall_ns; /* wall time of regions closed inside this one */
	/* The thread's net live bytes at begin, and the high-water mark it had then: the mark is set to
	 * live0 for this pass and restored (maxed with this pass's) at end, so that an inner region cannot
	 * hide a peak the outer one reached before the inner began. */
	int64_t live0_bytes, outer_high_bytes;
};

static struct region *table;	/* mmap'd on first use */
static _Atomic int table_state; /* 0 none, 1 mapping, 2 ready, -1 failed */
static _Atomic uint64_t dropped;
static _Atomic int used;

static DT_TLS __thread struct open_region tls_stack[REGIONS_MAX_DEPTH];
static DT_TLS __thread uint32_t tls_depth; /* may exceed REGIONS_MAX_DEPTH: those are untimed */

static uint64_t clock_ns(clockid_t c) /* ctx: sigsafe */
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static int table_ready(void) /* ctx: hook; 1 when the table exists */
{
	int s = atomic_load_explicit(&table_state, memory_order_acquire);
	if (s == 2)
		return 1;
	if (s == -1)
		return 0;
	int expect = 0;
	if (atomic_compare_exchange_strong_explicit(&table_state, &expect, 1, memory_order_acq_rel,
						    memory_order_acquire)) {
		void *p = mmap(NULL, REGIONS_CAPACITY * sizeof(struct region), PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED) {
			dt_warn("regions off: no memory for the region table");
			atomic_store_explicit(&table_state, -1, memory_order_release);
			return 0;
		}
		table = p;
		/* Release: a thread that sees 2 sees `table`. */
		atomic_store_explicit(&table_state, 2, memory_order_release);
		return 1;
	}
	while ((s = atomic_load_explicit(&table_state, memory_order_acquire)) == 1)
		; /* another thread is inside one mmap call */
	return s == 2;
}

/* The id of `name`, interning it; UINT32_MAX when the table is full. ctx: hook */
static uint32_t region_id(const char *name)
{
	char key[DT_REGION_NAME_BYTES + 1];
	size_t n = strnlen(name, DT_REGION_NAME_BYTES);
	uint32_t h = FNV_OFFSET;

	memcpy(key, name, n);
	key[n] = '\0';
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)key[i]) * FNV_PRIME;
	for (uint32_t probe = 0; probe < REGIONS_CAPACITY; probe++) {
		uint32_t i = (h + probe) & (REGIONS_CAPACITY - 1);
		struct region *r = &table[i];
		uint32_t s = atomic_load_explicit(&r->state, memory_order_acquire);

		if (s == SLOT_EMPTY) {
			uint32_t expect = SLOT_EMPTY;
			if (atomic_compare_exchange_strong_explicit(&r->state, &expect, SLOT_CLAIMED,
								    memory_order_acq_rel,
								    memory_order_acquire)) {
				r->hash = h;
				memcpy(r->name, key, n + 1);
				/* Release: readers that see READY see the name. */
				atomic_store_explicit(&r->state, SLOT_READY, memory_order_release);
				atomic_store_explicit(&used, 1, memory_order_relaxed);
				return i;
			}
			s = expect;
		}
		while (s == SLOT_CLAIMED) /* another thread is copying a name in: a few stores */
			s = atomic_load_explicit(&r->state, memory_order_acquire);
		if (r->hash == h && strcmp(r->name, key) == 0)
			return i;
	}
	return UINT32_MAX;
}

static void alloc_counts(uint64_t *calls, uint64_t *bytes) /* ctx: hook */
{
	*calls = *bytes = 0;
	if (dt_malloc_thread_counts)
		dt_malloc_thread_counts(calls, bytes);
}

static void live_counts(int64_t *live, int64_t *high) /* ctx: hook */
{
	*live = *high = 0;
	if (dt_malloc_thread_live)
		dt_malloc_thread_live(live, high);
}

static void live_set_high(int64_t high) /* ctx: hook */
{
	if (dt_malloc_thread_set_high)
		dt_malloc_thread_set_high(high);
}

static void store_max(struct region *r, enum dt_region_field f, uint64_t v) /* ctx: hook */
{
	uint64_t max = atomic_load_explicit(&r->f[f], memory_order_relaxed);
	while (v > max && !atomic_compare_exchange_weak_explicit(&r->f[f], &max, v, memory_order_relaxed,
								 memory_order_relaxed))
		;
}

DT_EXPORT void dt_region_push(const char *name) /* ctx: any host thread */
{
	uint32_t d = tls_depth++;

	if (d >= REGIONS_MAX_DEPTH || !name || !dt_shim_active() || !table_ready()) {
		if (d < REGIONS_MAX_DEPTH)
			tls_stack[d].id = UINT32_MAX;
		else
			atomic_fetch_add_explicit(&dropped, 1, memory_order_relaxed);
		return;
	}
	struct open_region *o = &tls_stack[d];
	o->id = region_id(name);
	if (o->id == UINT32_MAX) {
		atomic_fetch_add_explicit(&dropped, 1, memory_order_relaxed);
		return;
	}
	o->nested_wall_ns = 0;
	alloc_counts(&o->calls0, &o->bytes0);
	live_counts(&o->live0_bytes, &o->outer_high_bytes);
	live_set_high(o->live0_bytes);
	o->cpu0_ns = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	o->wall0_ns = clock_ns(CLOCK_MONOTONIC); /* last: the region's own set-up is not its time */
}

static void add(struct region *r, enum dt_region_field f, uint64_t v) /* ctx: hook */
{
	atomic_fetch_add_explicit(&r->f[f], v, memory_order_relaxed);
}

DT_EXPORT void dt_region_pop(void) /* ctx: any host thread */
{
	uint64_t wall1 = clock_ns(CLOCK_MONOTONIC);

	if (tls_depth == 0) {
		atomic_fetch_add_explicit(&dropped, 1, memory_order_relaxed); /* an end without a begin */
		return;
	}
	uint32_t d = --tls_depth;
	if (d >= REGIONS_MAX_DEPTH || tls_stack[d].id == UINT32_MAX)
		return;
	struct open_region *o = &tls_stack[d];
	uint64_t cpu1 = clock_ns(CLOCK_THREAD_CPUTIME_ID), calls1, bytes1;
	alloc_counts(&calls1, &bytes1);
	int64_t live1, high1;
	live_counts(&live1, &high1);
	live_set_high(high1 > o->outer_high_bytes ? high1 : o->outer_high_bytes);
	struct region *r = &table[o->id];
	uint64_t wall = wall1 - o->wall0_ns;

	add(r, DT_REGION_COUNT, 1);
	add(r, DT_REGION_WALL_NS, wall);
	add(r, DT_REGION_SELF_WALL_NS, wall > o->nested_wall_ns ? wall - o->nested_wall_ns : 0);
	add(r, DT_REGION_CPU_NS, cpu1 - o->cpu0_ns);
	add(r, DT_REGION_ALLOC_CALLS, calls1 - o->calls0);
	add(r, DT_REGION_ALLOC_BYTES, bytes1 - o->bytes0);
	store_max(r, DT_REGION_MAX_WALL_NS, wall);
	store_max(r, DT_REGION_PEAK_LIVE_BYTES,
		  high1 > o->live0_bytes ? (uint64_t)(high1 - o->live0_bytes) : 0);
	if (d > 0 && d - 1 < REGIONS_MAX_DEPTH)
		tls_stack[d - 1].nested_wall_ns += wall;
}

int dt_regions_active(void) /* ctx: any */
{
	return atomic_load_explicit(&used, memory_order_relaxed) ||
	       atomic_load_explicit(&dropped, memory_order_relaxed);
}

void dt_regions_emit(struct dt_tracebuf *b) /* ctx: any */
{
	uint32_t n = 0;
	int ready = atomic_load_explicit(&table_state, memory_order_acquire) == 2;

	for (uint32_t i = 0; ready && i < REGIONS_CAPACITY; i++)
		n += atomic_load_explicit(&table[i].state, memory_order_acquire) == SLOT_READY;
	size_t mark = dt_tracebuf_section_begin(b, DT_SEC_REGIONS);
	dt_tracebuf_put_u32(b, dt_malloc_thread_counts && dt_malloc_enabled && dt_malloc_enabled()
				   ? DT_REGIONS_ALLOC_MEASURED
				   : 0);
	dt_tracebuf_put_u64(b, atomic_load_explicit(&dropped, memory_order_relaxed));
	dt_tracebuf_put_u32(b, DT_REGION_NFIELDS);
	dt_tracebuf_put_u32(b, n);
	/* A thread may name a new region meanwhile: emit exactly the n counted. */
	for (uint32_t i = 0, k = 0; ready && i < REGIONS_CAPACITY && k < n; i++) {
		struct region *r = &table[i];
		if (atomic_load_explicit(&r->state, memory_order_acquire) != SLOT_READY)
			continue;
		k++;
		dt_tracebuf_put_str(b, r->name);
		for (unsigned f = 0; f < DT_REGION_NFIELDS; f++)
			dt_tracebuf_put_u64(b, atomic_load_explicit(&r->f[f], memory_order_relaxed));
	}
	dt_tracebuf_section_end(b, mark);
}
