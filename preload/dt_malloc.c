/* The malloc family, interposed: exact per-stack heap accounting (calls, bytes, frees, peak-live,
 * leaks) and the process heap totals, emitted as DT_SEC_ALLOC and the heap fields of DT_SEC_META.
 * Never allocates through the interposed functions (mmap and the real allocator only), holds no
 * global lock on the hot path, never aborts its host. Called by the host (hooks) and the writer. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <linux/membarrier.h>
#include <sys/mman.h>
#include <sys/single_threaded.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "dt_alloc.h"
#include "dt_livemap.h"
#include "dt_shim.h"

#define BOOT_BYTES (256u * 1024u)   /* static heap for allocations made while dlsym resolves */
#define BOOT_ALIGN_BYTES 16u
#define BOOT_HEADER_BYTES 16u       /* size of a bootstrap block, kept in front of it */
#define CELLS_PER_PAGE_LOG2 6u      /* per-thread counters: 64 stacks per lazily mapped page */
#define CELLS_PER_PAGE (1u << CELLS_PER_PAGE_LOG2)
#define ARENA_CHUNK_BYTES (1u << 20) /* thread states and counter pages are carved from these */
#define ARENA_ALIGN_BYTES 64u
#define SOLO_SPINS_BEFORE_YIELD 128u /* waiting for the solo owner to leave its pass, then sched_yield */
#define HEAP_CREDIT_MAX_BYTES (16 * 1024) /* freed bytes a thread may hold back from the heap counter */

/* ------------------------------------------------------------------ the real allocator */
struct real_fns {
	void *(*malloc)(size_t);
	void *(*calloc)(size_t, size_t);
	void *(*realloc)(void *, size_t);
	void (*free)(void *);
	int (*posix_memalign)(void **, size_t, size_t);
	void *(*aligned_alloc)(size_t, size_t);
	void *(*memalign)(size_t, size_t);
	void *(*valloc)(size_t);
	void *(*pvalloc)(size_t);
	size_t (*malloc_usable_size)(void *);
};

enum real_state { REAL_NONE, REAL_RESOLVING, REAL_READY };

static struct real_fns real;
static _Atomic int real_state;

/* glibc's own entry points: the fallback when dlsym(RTLD_NEXT) finds nothing after us. */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);
extern void *__libc_valloc(size_t);
extern void *__libc_pvalloc(size_t);

/* ------------------------------------------------------------------ bootstrap heap
 * dlsym may allocate (dlerror buffers, the first use of libdl state): those requests, and any made by
 * other threads before resolution finishes, are served here and never freed. */
static _Alignas(64) unsigned char boot_buf[BOOT_BYTES];
static _Atomic size_t boot_used;

static int boot_owns(const void *p) /* ctx: any */
{
	return (uintptr_t)p >= (uintptr_t)boot_buf && (uintptr_t)p < (uintptr_t)boot_buf + BOOT_BYTES;
}

static void *boot_alloc(size_t n, size_t align) /* ctx: any; zero-filled, like calloc */
{
	if (align < BOOT_ALIGN_BYTES)
		align = BOOT_ALIGN_BYTES;
	if (n > BOOT_BYTES || (align & (align - 1)) || align > BOOT_BYTES / 4) {
		errno = ENOMEM;
		return NULL;
	}
	size_t cur = atomic_load_explicit(&boot_used, memory_order_relaxed);
	for (;;) {
		size_t start = (cur + BOOT_HEADER_BYTES + align - 1) & ~(align - 1);
		size_t end = start + ((n + BOOT_ALIGN_BYTES - 1) & ~(size_t)(BOOT_ALIGN_BYTES - 1));
		if (end > BOOT_BYTES) {
			errno = ENOMEM;
			return NULL;
		}
		if (atomic_compare_exchange_weak_explicit(&boot_used, &cur, end, memory_order_relaxed,
		                                          memory_order_relaxed)) {
			memcpy(&boot_buf[start - sizeof(size_t)], &n, sizeof(n));
			return &boot_buf[start];
		}
	}
}

static size_t boot_size(const void *p) /* ctx: any */
{
	size_t n;
	memcpy(&n, (const unsigned char *)p - sizeof(size_t), sizeof(n));
	return n;
}

static __attribute__((noinline)) int real_resolve(void) /* ctx: any; 1 when the real allocator is ready */
{
	int expect = REAL_NONE;
	if (!atomic_compare_exchange_strong_explicit(&real_state, &expect, REAL_RESOLVING,
	                                             memory_order_acq_rel, memory_order_acquire))
		return expect == REAL_READY; /* resolving right now (maybe in dlsym below us): bootstrap */
	int saved_errno = errno;
	struct real_fns r;
	r.malloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
	r.calloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "calloc");
	r.realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
	r.free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
	r.posix_memalign = (int (*)(void **, size_t, size_t))dlsym(RTLD_NEXT, "posix_memalign");
	r.aligned_alloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "aligned_alloc");
	r.memalign = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "memalign");
	r.valloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "valloc");
	r.pvalloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "pvalloc");
	r.malloc_usable_size = (size_t(*)(void *))dlsym(RTLD_NEXT, "malloc_usable_size");
	if (!r.malloc || !r.calloc || !r.realloc || !r.free || !r.memalign || !r.valloc || !r.pvalloc ||
	    !r.posix_memalign || !r.aligned_alloc || !r.malloc_usable_size) {
		/* Keep the pieces of one allocator together: all of glibc's, never a mix. */
		r.malloc = __libc_malloc;
		r.calloc = __libc_calloc;
		r.realloc = __libc_realloc;
		r.free = __libc_free;
		r.memalign = __libc_memalign;
		r.valloc = __libc_valloc;
		r.pvalloc = __libc_pvalloc;
		r.posix_memalign = NULL; /* served through memalign below */
		r.aligned_alloc = NULL;
		r.malloc_usable_size = NULL;
	}
	real = r;
	/* Release: a thread that sees READY sees every pointer in `real`. */
	atomic_store_explicit(&real_state, REAL_READY, memory_order_release);
	errno = saved_errno;
	return 1;
}

static inline int real_ready(void) /* ctx: any */
{
	return __builtin_expect(atomic_load_explicit(&real_state, memory_order_acquire) == REAL_READY, 1) ||
	       real_resolve();
}

/* ------------------------------------------------------------------ per-thread state
 * Counters are per thread and per stack, written only by their owner with plain (relaxed) stores, so
 * the hot path takes no lock and bounces no cache line but the heap's live-bytes counter. The writer
 * sums them. A freeing thread accounts the free in its own cell for the block's stack: sums are exact,
 * single cells may go negative. */
struct mcell {
	int64_t calls;
	int64_t bytes;
	int64_t frees;
	int64_t freed_bytes;
	int64_t live_bytes;
	int64_t live_at_peak_bytes; /* live_bytes when the heap peak `peak_tag` was set */
	uint64_t peak_tag;          /* heap peak value seen at the last update (see cell_update) */
	uint64_t pad;
};

struct mthread {
	struct mthread *next; /* every state ever made; states are recycled, never freed */
	_Atomic int in_use;
	struct mcell none_cell;            /* allocations whose stack could not be interned */
	struct mcell *_Atomic *pages;      /* capacity / CELLS_PER_PAGE pointers */
	struct dt_ucache *ucache;
	/* Freed bytes not yet taken off heap_live_bytes, spent by this thread's next allocations first
	 * (see heap_grow): owner writes, the writer reads racily. 0 while the process is solo. */
	int64_t credit_bytes;
	struct dt_lm_nursery nursery; /* this thread's young blocks, while several threads allocate */
	/* Running totals of this state's owner thread, for named regions (differences of two reads).
	 * live: bytes this thread allocated minus bytes it freed (any thread's blocks), so it may go
	 * negative; live_high: its high-water mark since regions last set it (dt_malloc_thread_set_high). */
	uint64_t thread_alloc_calls;
	uint64_t thread_alloc_bytes;
	int64_t thread_live_bytes;
	int64_t thread_live_high_bytes;
};

enum mstate { M_UNINIT, M_INITIALIZING, M_READY, M_OFF };

static _Atomic int mstate;
static uint32_t stack_capacity;
static uint32_t npages;
static int max_depth;
static pthread_key_t mt_key;
static _Atomic(struct mthread *) mt_list;
static DT_TLS __thread struct mthread *tls_mt;

/* Process-wide heap: the only shared lines the hot path writes (heap_live_bytes is defined above
 * mt_release). While the process is solo it is exact; with several threads it runs ahead of the exact
 * value by the threads' credits (heap_grow), and heap_live_now subtracts them. */
static _Atomic uint64_t heap_peak_bytes;
static _Atomic uint64_t heap_peak_ns;    /* dt_now_ns() just after the peak (see peak_stamp_now) */
static _Atomic int peak_pending;         /* a new peak is not stamped yet */
static uint64_t init_ns;                 /* dt_now_ns() when tracking started */

static _Atomic uint64_t reentries_skipped;
static _Atomic uint64_t blocks_dropped;   /* tracked nowhere: no thread state or the map was full */
static _Atomic uint64_t frees_unattributed;
static _Atomic uint32_t degraded;

/* Owner-only add that another thread may read without tearing (plain mov on x86-64). */
#define OWNER_ADD(lv, v) __atomic_store_n(&(lv), (lv) + (v), __ATOMIC_RELAXED)
#define OWNER_SET(lv, v) __atomic_store_n(&(lv), (v), __ATOMIC_RELAXED)
#define RELAXED_LOAD(lv) __atomic_load_n(&(lv), __ATOMIC_RELAXED)

/* A bump arena in mmap'd chunks for thread states and counter pages; a tiny spinlock, taken only
 * when a thread starts or first meets a block of 64 stack ids. */
static _Atomic int arena_lock;
static unsigned char *arena_cur;
static size_t arena_left;

static void arena_lock_take(void) /* ctx: any */
{
	while (atomic_exchange_explicit(&arena_lock, 1, memory_order_acquire))
		sched_yield();
}

static void arena_lock_drop(void) /* ctx: any */
{
	atomic_store_explicit(&arena_lock, 0, memory_order_release);
}

static void *arena_alloc(size_t bytes) /* ctx: hook; zero-filled */
{
	bytes = (bytes + ARENA_ALIGN_BYTES - 1) & ~(size_t)(ARENA_ALIGN_BYTES - 1);
	if (bytes > ARENA_CHUNK_BYTES / 4) {
		void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		return p == MAP_FAILED ? NULL : p;
	}
	void *p = NULL;
	arena_lock_take();
	if (arena_left < bytes) {
		void *c = mmap(NULL, ARENA_CHUNK_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (c == MAP_FAILED)
			goto out;
		arena_cur = c;
		arena_left = ARENA_CHUNK_BYTES;
	}
	p = arena_cur;
	arena_cur += bytes;
	arena_left -= bytes;
out:
	arena_lock_drop();
	return p;
}

static _Atomic int64_t heap_live_bytes;

static void mt_release(void *arg) /* ctx: any; pthread key destructor at thread exit */
{
	struct mthread *mt = arg;
	tls_mt = NULL;
	/* Hand the credit back: the heap counter is exact again for this thread's part. */
	int64_t credit = RELAXED_LOAD(mt->credit_bytes);
	if (credit) {
		atomic_fetch_sub_explicit(&heap_live_bytes, credit, memory_order_relaxed);
		OWNER_SET(mt->credit_bytes, 0);
	}
	/* Release: the next owner sees every counter this thread wrote. */
	atomic_store_explicit(&mt->in_use, 0, memory_order_release);
}

static __attribute__((noinline)) struct mthread *mt_acquire_guarded(void);

/* The guard breaks malloc -> pthread_setspecific -> calloc (a key past glibc's first block). */
static __attribute__((noinline)) struct mthread *mt_acquire(void) /* ctx: hook */
{
	int saved_errno = errno;
	dt_in_shim++;
	struct mthread *mt = mt_acquire_guarded();
	dt_in_shim--;
	errno = saved_errno;
	return mt;
}

static struct mthread *mt_acquire_guarded(void) /* ctx: hook, dt_in_shim set */
{
	struct mthread *mt;
	for (mt = atomic_load_explicit(&mt_list, memory_order_acquire); mt; mt = mt->next) {
		int expect = 0;
		if (atomic_load_explicit(&mt->in_use, memory_order_relaxed) == 0 &&
		    atomic_compare_exchange_strong_explicit(&mt->in_use, &expect, 1, memory_order_acquire,
		                                            memory_order_relaxed)) {
			dt_ucache_reset(mt->ucache);
			/* The region figures are the new thread's own: a region it opened before its
			 * first allocation read them as 0. */
			mt->thread_alloc_calls = mt->thread_alloc_bytes = 0;
			mt->thread_live_bytes = mt->thread_live_high_bytes = 0;
			goto own;
		}
	}
	mt = arena_alloc(sizeof(*mt));
	struct mcell *_Atomic *pages = arena_alloc((size_t)npages * sizeof(*pages));
	struct dt_ucache *uc = dt_ucache_new();
	if (!mt || !pages || !uc)
		return NULL; /* the pieces stay in the arena: a bounded loss, and mmap already failed */
	mt->pages = pages;
	mt->ucache = uc;
	atomic_store_explicit(&mt->in_use, 1, memory_order_relaxed);
	struct mthread *head = atomic_load_explicit(&mt_list, memory_order_relaxed);
	do
		mt->next = head;
	while (!atomic_compare_exchange_weak_explicit(&mt_list, &head, mt, memory_order_release,
	                                              memory_order_relaxed));
own:
	tls_mt = mt;
	/* Keys below PTHREAD_KEY_2NDLEVEL_SIZE need no allocation; if glibc allocates anyway, the
	 * re-entry guard sends that calloc straight to the real allocator. */
	pthread_setspecific(mt_key, mt);
	return mt;
}

static inline struct mthread *mt_get(void) /* ctx: hook */
{
	struct mthread *mt = tls_mt;
	return __builtin_expect(mt != NULL, 1) ? mt : mt_acquire();
}

static __attribute__((noinline)) struct mcell *cell_page(struct mthread *mt, uint32_t page) /* ctx: hook */
{
	int saved_errno = errno;
	struct mcell *p = arena_alloc(CELLS_PER_PAGE * sizeof(struct mcell));
	errno = saved_errno;
	if (!p)
		return NULL;
	/* Release: the writer, reading this pointer with acquire, sees a zeroed page. */
	atomic_store_explicit(&mt->pages[page], p, memory_order_release);
	return p;
}

static inline struct mcell *cell_of(struct mthread *mt, uint32_t stack) /* ctx: hook */
{
	if (stack >= stack_capacity)
		return &mt->none_cell;
	uint32_t page = stack >> CELLS_PER_PAGE_LOG2;
	struct mcell *p = atomic_load_explicit(&mt->pages[page], memory_order_relaxed);
	if (__builtin_expect(!p, 0) && !(p = cell_page(mt, page)))
		return &mt->none_cell;
	return &p[stack & (CELLS_PER_PAGE - 1)];
}

/* ------------------------------------------------------------------ the solo gate
 * While one thread uses the books (live map, heap counters), it skips the stripe locks and locked
 * adds. glibc's __libc_single_threaded cannot tell us that: the shim's own threads (the checkpoint
 * thread) clear it for good. So the solo owner is the first thread to pass the gate, and the process
 * leaves solo mode for good (solo_go_multi) when
 *   - the host creates a thread: dt_malloc_host_thread_created, called by the pthread_create
 *     wrapper in the parent before the real pthread_create (the new thread starts after it), or
 *   - any other thread reaches the gate (a thread created behind the wrapper's back: glibc's own
 *     timer/AIO helpers call its internal pthread_create; or a shim thread that allocates).
 * The second case races with the owner, which may be in the middle of a lock-free pass. It is an
 * asymmetric Dekker handshake (as userspace RCU does it):
 *   owner:    store busy = 1; compiler barrier; load multi    -> 1: leave busy, take the locked path
 *   switcher: store multi = 1; membarrier(PRIVATE_EXPEDITED); wait until busy == 0 (acquire)
 * membarrier runs a full barrier on every thread of the process that is running, so either the
 * owner's busy store is visible to the switcher's wait, or the owner's multi load sees 1. The owner
 * clears busy with a release store, so the switcher (and everyone who later reads `settled` with
 * acquire) sees the map as the last solo pass left it. The owner pays two plain stores and a load.
 * Where membarrier cannot be registered, solo mode is __libc_single_threaded, as before: with one
 * thread there is nobody to race with, and only this thread can create the second one. */
static _Atomic int solo_multi;   /* 1: the gate is closed for good (written once, by the switcher) */
static _Atomic int solo_settled; /* 1: solo_multi is set and the owner has left its last solo pass */
static _Atomic int solo_claimed; /* 1 once a thread owns the solo mode */
static _Atomic int solo_busy;    /* the owner is inside a solo pass */
static int solo_barrier_ok;      /* membarrier(PRIVATE_EXPEDITED) registered; set before M_READY */
static DT_TLS __thread int tls_solo_owner;
static DT_TLS __thread unsigned tls_solo_depth; /* passes the owner is inside (they nest: free_solo) */

static long solo_membarrier(int cmd) /* ctx: any; errno preserved */
{
	int saved_errno = errno;
	long rc = syscall(SYS_membarrier, cmd, 0, 0);
	errno = saved_errno;
	return rc;
}

/* Close the solo gate and wait until the owner is out of its pass. ctx: any (not inside a pass) */
static __attribute__((noinline)) void solo_go_multi(void)
{
	if (atomic_load_explicit(&solo_settled, memory_order_acquire))
		return;
	if (atomic_exchange_explicit(&solo_multi, 1, memory_order_seq_cst) == 0) {
		if (!tls_solo_owner && atomic_load_explicit(&solo_claimed, memory_order_seq_cst)) {
			solo_membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED);
			uint32_t spins = 0;
			/* Acquire pairs with solo_leave's release: the owner's last pass is visible. */
			while (atomic_load_explicit(&solo_busy, memory_order_acquire)) {
				if (++spins >= SOLO_SPINS_BEFORE_YIELD) {
					spins = 0;
					int saved_errno = errno;
					sched_yield();
					errno = saved_errno;
				}
			}
		}
		atomic_store_explicit(&solo_settled, 1, memory_order_release);
		return;
	}
	/* Another thread is switching: it is done when the owner is out. */
	while (!atomic_load_explicit(&solo_settled, memory_order_acquire)) {
		int saved_errno = errno;
		sched_yield();
		errno = saved_errno;
	}
}

static inline int solo_enter(void);

static __attribute__((noinline)) int solo_enter_slow(void) /* ctx: hook */
{
	if (!solo_barrier_ok)
		return __libc_single_threaded;
	int expect = 0;
	if (atomic_compare_exchange_strong_explicit(&solo_claimed, &expect, 1, memory_order_seq_cst,
	                                            memory_order_relaxed)) {
		tls_solo_owner = 1;
		return solo_enter();
	}
	solo_go_multi();
	return 0;
}

/* 1: this thread is alone in the books until solo_leave(1); 0: take the locked paths. A pass begun
 * inside one of ours (the real free that free_solo calls may call back into the hooks) is still
 * alone: the switcher waits for the outermost. ctx: hook */
static inline int solo_enter(void)
{
	if (__builtin_expect(tls_solo_owner, 1)) {
		if (tls_solo_depth) {
			tls_solo_depth++;
			return 1;
		}
		atomic_store_explicit(&solo_busy, 1, memory_order_relaxed);
		/* The store must not sink below the load in our own code; the CPU's store->load
		 * reordering is what the switcher's membarrier covers. */
		atomic_signal_fence(memory_order_seq_cst);
		if (__builtin_expect(!atomic_load_explicit(&solo_multi, memory_order_relaxed), 1)) {
			tls_solo_depth = 1;
			return 1;
		}
		atomic_store_explicit(&solo_busy, 0, memory_order_release);
		return 0;
	}
	if (atomic_load_explicit(&solo_settled, memory_order_acquire))
		return 0;
	return solo_enter_slow();
}

static inline void solo_leave(int solo) /* ctx: hook */
{
	if (solo && --tls_solo_depth == 0)
		atomic_store_explicit(&solo_busy, 0, memory_order_release);
}

/* The host is about to create a thread. Called in the parent before the real pthread_create: the
 * switch is complete when this returns (settled, release), and pthread_create orders it before
 * anything the new thread does, so the new thread never sees solo mode. ctx: any */
void dt_malloc_host_thread_created(void)
{
	solo_go_multi();
}

/* Peak-live per stack without snapshotting every stack at every new heap peak: the heap peak value
 * is the epoch (it only grows, so it names one peak). A cell about to change while its tag is an
 * older peak first saves its live bytes: that value is what it held when the current peak was set.
 * At the end, a cell tagged with the final peak reports the saved value, any other its live bytes. */
static inline void cell_live_add(struct mcell *c, int64_t delta) /* ctx: hook; owner only */
{
	uint64_t peak = atomic_load_explicit(&heap_peak_bytes, memory_order_relaxed);
	if (c->peak_tag != peak) {
		OWNER_SET(c->live_at_peak_bytes, c->live_bytes);
		OWNER_SET(c->peak_tag, peak);
	}
	OWNER_ADD(c->live_bytes, delta);
}

/* The time of the heap peak without reading a clock on every new peak (77 ns for clock_gettime on
 * this class of VM, 31 ns for rdtsc, and a growing heap sets a new peak on every allocation): the
 * clock is read at the first heap event after a run of new peaks, i.e. one hook call after the last
 * peak of the run. A peak that lasts until the trace is written is stamped at the write. */
static __attribute__((noinline)) void peak_stamp_now(void) /* ctx: hook */
{
	atomic_store_explicit(&peak_pending, 0, memory_order_relaxed);
	atomic_store_explicit(&heap_peak_ns, dt_now_ns(), memory_order_relaxed);
}

/* The heap's live bytes and peak. Solo: plain loads and stores, exact. With several threads a shared
 * counter written on every call was the bottleneck (4 threads on 2 cores: the line bounced on every
 * malloc and free), so each thread keeps the bytes it frees as a credit (at most
 * HEAP_CREDIT_MAX_BYTES) and spends it on its next allocations before touching the counter. The
 * counter is then the exact live bytes plus the credits held, so the peak it records is an upper
 * bound of the exact peak, above it by at most HEAP_CREDIT_MAX_BYTES per thread holding credit (a
 * malloc/free loop holds at most its largest block). The leak figures are exact: heap_live_now
 * subtracts the credits, and a thread hands its credit back when it exits. */
static inline void heap_grow(struct mthread *mt, uint64_t n, int solo) /* ctx: hook */
{
	if (solo) {
		/* Alone in the books (solo gate): no locked instruction (about 13-20 ns each here). */
		int64_t live = atomic_load_explicit(&heap_live_bytes, memory_order_relaxed) + (int64_t)n;
		atomic_store_explicit(&heap_live_bytes, live, memory_order_relaxed);
		if (live > 0 && (uint64_t)live > atomic_load_explicit(&heap_peak_bytes, memory_order_relaxed)) {
			atomic_store_explicit(&heap_peak_bytes, (uint64_t)live, memory_order_relaxed);
			atomic_store_explicit(&peak_pending, 1, memory_order_relaxed);
		} else if (atomic_load_explicit(&peak_pending, memory_order_relaxed)) {
			peak_stamp_now();
		}
		return;
	}
	if (mt) {
		int64_t credit = mt->credit_bytes;
		if (credit >= (int64_t)n) {
			/* Exact live bytes grow, the counter (already above them) stays: no new peak. */
			OWNER_SET(mt->credit_bytes, credit - (int64_t)n);
			if (atomic_load_explicit(&peak_pending, memory_order_relaxed))
				peak_stamp_now();
			return;
		}
		OWNER_SET(mt->credit_bytes, 0);
		n -= (uint64_t)credit;
	}
	/* Relaxed: the counter is its own total order; the peak only has to be its running maximum. */
	int64_t live = atomic_fetch_add_explicit(&heap_live_bytes, (int64_t)n, memory_order_relaxed) + (int64_t)n;
	uint64_t peak = atomic_load_explicit(&heap_peak_bytes, memory_order_relaxed);
	while (live > 0 && (uint64_t)live > peak) {
		if (atomic_compare_exchange_weak_explicit(&heap_peak_bytes, &peak, (uint64_t)live,
		                                          memory_order_relaxed, memory_order_relaxed)) {
			atomic_store_explicit(&peak_pending, 1, memory_order_relaxed);
			return;
		}
	}
	if (atomic_load_explicit(&peak_pending, memory_order_relaxed))
		peak_stamp_now();
}

static inline void heap_shrink(struct mthread *mt, uint64_t n, int solo) /* ctx: hook */
{
	if (solo) {
		atomic_store_explicit(&heap_live_bytes,
		                      atomic_load_explicit(&heap_live_bytes, memory_order_relaxed) - (int64_t)n,
		                      memory_order_relaxed);
	} else if (mt) {
		int64_t credit = mt->credit_bytes + (int64_t)n;
		if (credit > HEAP_CREDIT_MAX_BYTES) {
			atomic_fetch_sub_explicit(&heap_live_bytes, credit, memory_order_relaxed);
			credit = 0;
		}
		OWNER_SET(mt->credit_bytes, credit);
	} else {
		atomic_fetch_sub_explicit(&heap_live_bytes, (int64_t)n, memory_order_relaxed);
	}
	if (atomic_load_explicit(&peak_pending, memory_order_relaxed))
		peak_stamp_now();
}

/* The exact live bytes: the counter minus the credits. ctx: any; racy while threads run */
static int64_t heap_live_now(void)
{
	int64_t live = atomic_load_explicit(&heap_live_bytes, memory_order_relaxed);
	for (struct mthread *mt = atomic_load_explicit(&mt_list, memory_order_acquire); mt; mt = mt->next)
		live -= RELAXED_LOAD(mt->credit_bytes);
	return live;
}

/* The block at p (n bytes requested by `who`'s stack) now exists. ctx: hook */
static inline void account_alloc(struct mthread *mt, void *p, uint64_t n, const struct dt_caller *who)
{
	/* The map slot is a cache miss once the map outgrows the cache: start loading it now, so that it
	 * arrives while the stack is looked up. */
	if (tls_solo_owner)
		dt_livemap_prefetch((uintptr_t)p);
	uint32_t stack = dt_alloc_stack_id(mt->ucache, who, max_depth);
	struct dt_live_block stale = {0};
	int solo = solo_enter();
	int rc = solo ? dt_livemap_insert((uintptr_t)p, n, stack, &stale, 1)
	              : dt_lm_nursery_insert(&mt->nursery, (uintptr_t)p, n, stack, &stale);
	if (rc < 0) {
		atomic_fetch_add_explicit(&blocks_dropped, 1, memory_order_relaxed);
		atomic_fetch_or_explicit(&degraded, DT_DEGRADED_LIVE_MAP_FULL, memory_order_relaxed);
		if (solo) {
			solo_leave(solo);
			return; /* p is untracked: its free will count nothing either */
		}
		/* The nursery holds p; the block it pushed out is lost (it will show as leaked). */
	}
	if (rc == 1 || rc == 2) {
		/* A block at that address was freed where we could not see it: close it first. */
		struct mcell *sc = cell_of(mt, stale.stack);
		OWNER_ADD(sc->frees, 1);
		OWNER_ADD(sc->freed_bytes, (int64_t)stale.size_bytes);
		cell_live_add(sc, -(int64_t)stale.size_bytes);
		heap_shrink(mt, stale.size_bytes, solo);
	}
	struct mcell *c = cell_of(mt, stack);
	OWNER_ADD(c->calls, 1);
	OWNER_ADD(c->bytes, (int64_t)n);
	cell_live_add(c, (int64_t)n);
	heap_grow(mt, n, solo);
	solo_leave(solo);
	mt->thread_alloc_calls++;
	mt->thread_alloc_bytes += n;
	mt->thread_live_bytes += (int64_t)n;
	if (mt->thread_live_bytes > mt->thread_live_high_bytes)
		mt->thread_live_high_bytes = mt->thread_live_bytes;
}

void dt_malloc_thread_counts(uint64_t *calls, uint64_t *bytes) /* ctx: any; the calling thread */
{
	struct mthread *mt = tls_mt;
	*calls = mt ? mt->thread_alloc_calls : 0;
	*bytes = mt ? mt->thread_alloc_bytes : 0;
}

void dt_malloc_thread_live(int64_t *live_bytes, int64_t *high_bytes) /* ctx: any; the calling thread */
{
	struct mthread *mt = tls_mt;
	*live_bytes = mt ? mt->thread_live_bytes : 0;
	*high_bytes = mt ? mt->thread_live_high_bytes : 0;
}

void dt_malloc_thread_set_high(int64_t high_bytes) /* ctx: any; the calling thread */
{
	struct mthread *mt = tls_mt;
	/* Without a state the thread has allocated nothing: its first state starts at 0, 0. */
	if (mt)
		mt->thread_live_high_bytes = high_bytes;
}

/* The block described by b was released (its map entry is already gone). ctx: hook, solo as given */
static inline void account_free(struct mthread *mt, const struct dt_live_block *b, int solo)
{
	heap_shrink(mt, b->size_bytes, solo);
	if (!mt) {
		atomic_fetch_add_explicit(&frees_unattributed, 1, memory_order_relaxed);
		return;
	}
	struct mcell *c = cell_of(mt, b->stack);
	OWNER_ADD(c->frees, 1);
	OWNER_ADD(c->freed_bytes, (int64_t)b->size_bytes);
	cell_live_add(c, -(int64_t)b->size_bytes);
	mt->thread_live_bytes -= (int64_t)b->size_bytes;
}

static void fork_prepare(void) /* ctx: any */
{
	/* The stripe locks stop locked passes only: a solo owner racing a fork from another thread
	 * would leave the child a half-updated stripe. */
	if (!tls_solo_owner)
		solo_go_multi();
	arena_lock_take();
	dt_livemap_lock_all();
}

static void fork_after(void) /* ctx: any; parent */
{
	dt_livemap_unlock_all();
	arena_lock_drop();
}

static void fork_child(void) /* ctx: any; the child, one thread */
{
	fork_after();
	/* The child's one thread owns solo mode again; membarrier registration is per address space
	 * and not inherited, so register anew (or fall back to __libc_single_threaded). */
	solo_barrier_ok = solo_membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0;
	tls_solo_owner = solo_barrier_ok;
	tls_solo_depth = 0;
	atomic_store_explicit(&solo_busy, 0, memory_order_relaxed);
	atomic_store_explicit(&solo_claimed, solo_barrier_ok, memory_order_relaxed);
	atomic_store_explicit(&solo_settled, 0, memory_order_relaxed);
	atomic_store_explicit(&solo_multi, 0, memory_order_release);
}

/* The child's books start empty: it counts only its own allocations. The live map is replaced by an
 * empty one, so blocks inherited from the parent are untracked here, like blocks allocated before the
 * shim was ready: freeing or resizing one counts no free and moves neither the heap's live bytes nor
 * its peak (they could otherwise go negative, or the child's peak would include the parent's heap).
 * Cell pages are dropped, not cleared: they are shared copy-on-write with the parent, and fresh
 * pages are mapped on demand. Runs in the atfork child, one thread, before or after fork_child.
 * ctx: any (atfork child) */
void dt_malloc_atfork_child(void)
{
	if (atomic_load_explicit(&mstate, memory_order_acquire) != M_READY)
		return;
	if (dt_livemap_reset_child() != 0) {
		dt_warn("memory tracking off in the forked child: no memory for its live-block map");
		atomic_fetch_or_explicit(&degraded, DT_DEGRADED_MALLOC_OFF, memory_order_relaxed);
		atomic_store_explicit(&mstate, M_OFF, memory_order_release);
		return;
	}
	for (struct mthread *mt = atomic_load_explicit(&mt_list, memory_order_acquire); mt; mt = mt->next) {
		for (uint32_t pg = 0; pg < npages; pg++)
			atomic_store_explicit(&mt->pages[pg], NULL, memory_order_relaxed);
		memset(&mt->none_cell, 0, sizeof(mt->none_cell));
		memset(&mt->nursery, 0, sizeof(mt->nursery));
		mt->credit_bytes = 0;
		/* The other threads do not exist in the child: their states are free for reuse. The
		 * forking thread keeps its running region figures (an open region spans the fork). */
		if (mt != tls_mt)
			atomic_store_explicit(&mt->in_use, 0, memory_order_relaxed);
	}
	atomic_store_explicit(&heap_live_bytes, 0, memory_order_relaxed);
	atomic_store_explicit(&heap_peak_bytes, 0, memory_order_relaxed);
	atomic_store_explicit(&heap_peak_ns, 0, memory_order_relaxed);
	atomic_store_explicit(&peak_pending, 0, memory_order_relaxed);
	atomic_store_explicit(&reentries_skipped, 0, memory_order_relaxed);
	atomic_store_explicit(&blocks_dropped, 0, memory_order_relaxed);
	atomic_store_explicit(&frees_unattributed, 0, memory_order_relaxed);
	init_ns = dt_now_ns();
}

static __attribute__((noinline)) int malloc_init(void) /* ctx: hook; 1 when tracking is on */
{
	if (!dt_shim_active())
		return 0;
	const struct dt_config *cfg = dt_config_get();
	if (!cfg || !cfg->malloc_on) {
		atomic_store_explicit(&mstate, M_OFF, memory_order_release);
		return 0;
	}
	uint32_t cap = dt_stack_capacity();
	if (cap == 0)
		return 0; /* the stack table is not up yet: stay untracked, ask again next call */
	int expect = M_UNINIT;
	if (!atomic_compare_exchange_strong_explicit(&mstate, &expect, M_INITIALIZING, memory_order_acq_rel,
	                                             memory_order_acquire))
		return expect == M_READY;
	dt_in_shim++; /* pthread_key_create/pthread_atfork may allocate: keep those calls untracked */
	int saved_errno = errno;
	int ok = dt_livemap_init() == 0 && pthread_key_create(&mt_key, mt_release) == 0;
	if (ok) {
		stack_capacity = cap;
		npages = (cap + CELLS_PER_PAGE - 1) / CELLS_PER_PAGE;
		max_depth = cfg->max_depth ? (int)cfg->max_depth : (int)DT_MAX_STACK_DEPTH;
		if (max_depth > (int)DT_MAX_STACK_DEPTH)
			max_depth = DT_MAX_STACK_DEPTH;
		init_ns = dt_now_ns();
		solo_barrier_ok = solo_membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0;
		pthread_atfork(fork_prepare, fork_after, fork_child);
	} else {
		dt_warn("memory tracking off: no memory for the live-block map");
		atomic_fetch_or_explicit(&degraded, DT_DEGRADED_MALLOC_OFF, memory_order_relaxed);
	}
	errno = saved_errno;
	dt_in_shim--;
	/* Release: a hook that sees READY sees the fields above. */
	atomic_store_explicit(&mstate, ok ? M_READY : M_OFF, memory_order_release);
	return ok;
}

/* 1 when this call should be tracked. The re-entry guard (dt_in_shim) breaks malloc -> unwind ->
 * dl_iterate_phdr -> malloc and malloc -> pthread_setspecific -> calloc, and keeps the shim's own
 * allocations (writer, sampler set-up) out of the books. It is set only around the parts that can
 * recurse (the libunwind walk of a cache miss, thread-state set-up, init), not around the counters
 * and the live map: those never allocate, and a CPU sample taken there is kept (the sampler drops
 * samples while the guard is set, which would hide the cost of allocating from the CPU profile). */
static inline int tracking(void) /* ctx: hook */
{
	if (__builtin_expect(dt_in_shim != 0, 0)) {
		if (atomic_load_explicit(&mstate, memory_order_relaxed) == M_READY)
			atomic_fetch_add_explicit(&reentries_skipped, 1, memory_order_relaxed);
		return 0;
	}
	int s = atomic_load_explicit(&mstate, memory_order_acquire);
	if (__builtin_expect(s == M_READY, 1))
		return dt_shim_active();
	return s == M_UNINIT ? malloc_init() : 0;
}

/* Record a fresh block (p may be NULL: nothing to record). errno is left as the allocator set it:
 * the hit path makes no system call, and every slow path that may (the unwinder's miss, mmap for a
 * thread state, a counter page or a bigger map stripe) saves and restores errno itself. */
static inline void track_new(void *p, uint64_t n, const struct dt_caller *who) /* ctx: hook */
{
	if (!p)
		return;
	struct mthread *mt = mt_get();
	if (mt)
		account_alloc(mt, p, n, who);
	else
		atomic_fetch_add_explicit(&blocks_dropped, 1, memory_order_relaxed);
}

/* A block that is neither in the caller's nursery nor solo: the map, then every thread's nursery,
 * under the stripe lock of p (see dt_livemap.h). 1 and *b when found. ctx: hook, not solo */
static __attribute__((noinline)) int take_shared(void *p, struct dt_live_block *b)
{
	struct dt_lm_stripe *s = dt_lm_stripe_of((uintptr_t)p);
	if (!s)
		return 0;
	dt_lm_lock(s, 0);
	int had = dt_livemap_remove_locked(s, (uintptr_t)p, b);
	for (struct mthread *o = atomic_load_explicit(&mt_list, memory_order_acquire); !had && o; o = o->next)
		had = dt_lm_nursery_claim(&o->nursery, (uintptr_t)p, b);
	dt_lm_unlock(s, 0);
	return had;
}

/* Forget the block at p before it goes back to the allocator; 1 and *b when it was tracked. */
static inline int track_take(struct mthread *mt, void *p, struct dt_live_block *b) /* ctx: hook */
{
	int solo = solo_enter();
	int had;
	if (solo)
		had = dt_livemap_remove((uintptr_t)p, b, 1);
	else
		had = (mt && dt_lm_nursery_take(&mt->nursery, (uintptr_t)p, b)) || take_shared(p, b);
	solo_leave(solo);
	return had;
}

static inline void track_released(struct mthread *mt, const struct dt_live_block *b) /* ctx: hook */
{
	int solo = solo_enter();
	account_free(mt, b, solo);
	solo_leave(solo);
}

/* Put back a block a failed realloc left with its owner; 0, or -ENOMEM. ctx: hook */
static inline int track_restore(void *p, const struct dt_live_block *b)
{
	struct dt_live_block stale = {0};
	int solo = solo_enter();
	int rc = dt_livemap_insert((uintptr_t)p, b->size_bytes, b->stack, &stale, solo);
	solo_leave(solo);
	return rc < 0 ? rc : 0;
}

/* free while solo: the block goes back to the allocator first and its map entry is read after, so the
 * entry's cache miss (prefetched) overlaps the allocator's own work. Safe only inside the solo pass:
 * no other thread uses the books until it ends, so nobody can get p back from the allocator and
 * record it while the old entry is still in the map. 0: not solo, nothing done. ctx: hook */
static inline int free_solo(struct mthread *mt, void *p)
{
	int solo = solo_enter();
	if (!solo)
		return 0;
	dt_livemap_prefetch((uintptr_t)p);
	real.free(p);
	struct dt_live_block b;
	if (dt_livemap_remove((uintptr_t)p, &b, 1))
		account_free(mt, &b, 1);
	solo_leave(solo);
	return 1;
}

/* ------------------------------------------------------------------ the interposers */
static __attribute__((noinline)) void *do_malloc(size_t n, const struct dt_caller *who) /* ctx: hook */
{
	void *p = real.malloc(n);
	track_new(p, n, who);
	return p;
}

static __attribute__((noinline)) void *do_realloc(void *p, size_t n, const struct dt_caller *who) /* ctx: hook */
{
	struct dt_live_block old;
	struct mthread *mt = mt_get();
	int had = track_take(mt, p, &old);
	void *q = real.realloc(p, n);
	if (!q && n != 0) {
		/* Failed: p is untouched and still the caller's. Put it back as it was. */
		if (had && track_restore(p, &old) < 0)
			track_released(mt, &old);
		return NULL;
	}
	/* Counted as a free of the old block and, when a block came back, an allocation of n bytes:
	 * the same books heaptrack keeps. realloc(p, 0) frees p and returns NULL in glibc. */
	if (had)
		track_released(mt, &old);
	track_new(q, n, who);
	return q;
}

/* Hidden aliases of our exported realloc and reallocarray (defined below): their addresses, reached
 * PC-relative, are the exact leaf of a resize's stack (an address of the exported symbol could be a
 * non-PIE executable's PLT stub). The analyzer names the frame "realloc" in libdeiatrace.so, an
 * allocator frame of the profiler: it charges the caller and counts the call in realloc_calls. */
DT_HIDDEN extern __typeof__(realloc) dt_malloc_realloc_leaf __attribute__((copy(realloc)));
DT_HIDDEN extern __typeof__(reallocarray) dt_malloc_reallocarray_leaf __attribute__((copy(reallocarray)));
#define REALLOC_LEAF_PC ((uint64_t)(uintptr_t)&dt_malloc_realloc_leaf)
#define REALLOCARRAY_LEAF_PC ((uint64_t)(uintptr_t)&dt_malloc_reallocarray_leaf)

static void *boot_realloc(void *p, size_t n) /* ctx: any; p is a bootstrap block or NULL */
{
	void *q = boot_alloc(n, BOOT_ALIGN_BYTES);
	if (q && p) {
		size_t old = boot_size(p);
		memcpy(q, p, old < n ? old : n);
	}
	return q;
}

DT_EXPORT void *malloc(size_t n)
{
	if (!real_ready())
		return boot_alloc(n, BOOT_ALIGN_BYTES);
	if (!tracking())
		return real.malloc(n);
	struct dt_caller who;
	DT_CALLER_HERE(who);
	return do_malloc(n, &who);
}

DT_EXPORT void *calloc(size_t nmemb, size_t size)
{
	size_t bytes;
	if (__builtin_mul_overflow(nmemb, size, &bytes)) {
		errno = ENOMEM;
		return NULL;
	}
	if (!real_ready())
		return boot_alloc(bytes, BOOT_ALIGN_BYTES);
	if (!tracking())
		return real.calloc(nmemb, size);
	struct dt_caller who;
	DT_CALLER_HERE(who);
	void *p = real.calloc(nmemb, size);
	track_new(p, bytes, &who);
	return p;
}

DT_EXPORT void free(void *p)
{
	if (!p || boot_owns(p))
		return; /* bootstrap blocks are never reused */
	if (!real_ready())
		return; /* unreachable: a non-bootstrap block came from the real allocator */
	if (tracking()) {
		struct dt_live_block b;
		struct mthread *mt = mt_get();
		if (tls_solo_owner && free_solo(mt, p))
			return;
		if (track_take(mt, p, &b))
			track_released(mt, &b);
	}
	real.free(p);
}

DT_EXPORT void *realloc(void *p, size_t n)
{
	if (!real_ready() || (p && boot_owns(p))) {
		if (!real_ready())
			return boot_realloc(p, n);
		/* A bootstrap block grows into a real one: copy it out (the old one is never reused). */
		void *q = malloc(n);
		if (q) {
			size_t old = boot_size(p);
			memcpy(q, p, old < n ? old : n);
		}
		return q;
	}
	if (!tracking())
		return real.realloc(p, n);
	struct dt_caller who;
	DT_CALLER_HERE(who);
	who.leaf = REALLOC_LEAF_PC;
	return do_realloc(p, n, &who);
}
__typeof__(realloc) dt_malloc_realloc_leaf __attribute__((copy(realloc), alias("realloc")));

/* The realloc every object binds to. Not ours when an allocator is preloaded ahead of the shim
 * (jemalloc and tcmalloc define no reallocarray, so the program's reallocarray still lands here) or
 * the executable defines its own: its blocks must be resized by it, not by glibc's realloc behind
 * us (tcmalloc then aborted in free: "Attempt to free invalid pointer", life_allocators). */
static _Atomic(void *(*)(void *, size_t)) global_realloc;

DT_EXPORT void *reallocarray(void *p, size_t nmemb, size_t size)
{
	size_t bytes;
	if (__builtin_mul_overflow(nmemb, size, &bytes)) {
		errno = ENOMEM;
		return NULL;
	}
	void *(*g)(void *, size_t) = atomic_load_explicit(&global_realloc, memory_order_relaxed);
	if (!g && real_ready()) {
		/* dlsym of an existing symbol allocates nothing (FIELD-NOTES). */
		g = (void *(*)(void *, size_t))dlsym(RTLD_DEFAULT, "realloc");
		if (!g)
			g = dt_malloc_realloc_leaf;
		atomic_store_explicit(&global_realloc, g, memory_order_relaxed);
	}
	if (g && g != dt_malloc_realloc_leaf)
		return g(p, bytes);
	if (!real_ready() || (p && boot_owns(p)) || !tracking())
		return realloc(p, bytes);
	struct dt_caller who;
	DT_CALLER_HERE(who);
	who.leaf = REALLOCARRAY_LEAF_PC;
	return do_realloc(p, bytes, &who);
}
__typeof__(reallocarray) dt_malloc_reallocarray_leaf __attribute__((copy(reallocarray), alias("reallocarray")));

static void *real_memalign(size_t align, size_t n) /* ctx: any */
{
	return real.memalign(align, n);
}

DT_EXPORT int posix_memalign(void **out, size_t align, size_t n)
{
	if (!real_ready()) {
		if (align < sizeof(void *) || (align & (align - 1)))
			return EINVAL;
		void *p = boot_alloc(n, align);
		if (!p)
			return ENOMEM;
		*out = p;
		return 0;
	}
	int rc;
	if (real.posix_memalign) {
		rc = real.posix_memalign(out, align, n);
	} else {
		if (align < sizeof(void *) || (align & (align - 1)))
			return EINVAL;
		int saved_errno = errno;
		void *p = real_memalign(align, n);
		errno = saved_errno;
		if (!p)
			return ENOMEM;
		*out = p;
		rc = 0;
	}
	if (rc == 0 && tracking()) {
		struct dt_caller who;
		DT_CALLER_HERE(who);
		track_new(*out, n, &who);
	}
	return rc;
}

DT_EXPORT void *aligned_alloc(size_t align, size_t n)
{
	if (!real_ready())
		return boot_alloc(n, align);
	void *p = real.aligned_alloc ? real.aligned_alloc(align, n) : real_memalign(align, n);
	if (p && tracking()) {
		struct dt_caller who;
		DT_CALLER_HERE(who);
		track_new(p, n, &who);
	}
	return p;
}

DT_EXPORT void *memalign(size_t align, size_t n)
{
	if (!real_ready())
		return boot_alloc(n, align);
	void *p = real_memalign(align, n);
	if (p && tracking()) {
		struct dt_caller who;
		DT_CALLER_HERE(who);
		track_new(p, n, &who);
	}
	return p;
}

DT_EXPORT void *valloc(size_t n)
{
	if (!real_ready())
		return boot_alloc(n, (size_t)sysconf(_SC_PAGESIZE));
	void *p = real.valloc(n);
	if (p && tracking()) {
		struct dt_caller who;
		DT_CALLER_HERE(who);
		track_new(p, n, &who);
	}
	return p;
}

DT_EXPORT void *pvalloc(size_t n)
{
	if (!real_ready())
		return boot_alloc(n, (size_t)sysconf(_SC_PAGESIZE));
	void *p = real.pvalloc(n);
	if (p && tracking()) {
		struct dt_caller who;
		DT_CALLER_HERE(who);
		track_new(p, n, &who); /* the requested size; pvalloc rounds the block up to a page */
	}
	return p;
}

DT_EXPORT size_t malloc_usable_size(void *p)
{
	if (!p)
		return 0;
	if (boot_owns(p))
		return boot_size(p);
	if (!real_ready())
		return 0;
	return real.malloc_usable_size ? real.malloc_usable_size(p) : 0;
}

/* ------------------------------------------------------------------ the writer's side */
struct msum {
	int64_t calls, bytes, frees, freed_bytes, live_bytes, peak_live_bytes;
};

int dt_malloc_enabled(void) /* ctx: any */
{
	return atomic_load_explicit(&mstate, memory_order_acquire) == M_READY;
}

static void cell_fold(struct msum *s, const struct mcell *c, uint64_t final_peak) /* ctx: any */
{
	int64_t live = RELAXED_LOAD(c->live_bytes);
	s->calls += RELAXED_LOAD(c->calls);
	s->bytes += RELAXED_LOAD(c->bytes);
	s->frees += RELAXED_LOAD(c->frees);
	s->freed_bytes += RELAXED_LOAD(c->freed_bytes);
	s->live_bytes += live;
	s->peak_live_bytes += RELAXED_LOAD(c->peak_tag) == final_peak ? RELAXED_LOAD(c->live_at_peak_bytes) : live;
}

/* Sum every thread's cells into sum[0..n) (n stack ids) and *all (every cell, the unattributed
 * ones included). ctx: any; racy against running threads, exact once they are quiet */
static void fold_all(struct msum *sum, uint32_t n, struct msum *all, uint64_t final_peak)
{
	for (struct mthread *mt = atomic_load_explicit(&mt_list, memory_order_acquire); mt; mt = mt->next) {
		cell_fold(all, &mt->none_cell, final_peak);
		for (uint32_t pg = 0; pg < npages; pg++) {
			/* Acquire pairs with cell_page's release: a published page is seen zeroed or later. */
			const struct mcell *cells = atomic_load_explicit(&mt->pages[pg], memory_order_acquire);
			if (!cells)
				continue;
			for (uint32_t j = 0; j < CELLS_PER_PAGE; j++) {
				uint32_t id = pg * CELLS_PER_PAGE + j;
				cell_fold(all, &cells[j], final_peak);
				if (sum && id < n)
					cell_fold(&sum[id], &cells[j], final_peak);
			}
		}
	}
}

void dt_malloc_fill_meta(uint64_t meta[DT_META_NFIELDS]) /* ctx: any */
{
	meta[DT_META_DEGRADED] |= atomic_load_explicit(&degraded, memory_order_relaxed);
	if (!dt_malloc_enabled())
		return;
	struct msum all = {0};
	fold_all(NULL, 0, &all, atomic_load_explicit(&heap_peak_bytes, memory_order_relaxed));
	uint64_t calls = (uint64_t)all.calls, bytes = (uint64_t)all.bytes, frees = (uint64_t)all.frees;
	int64_t live = heap_live_now();
	uint64_t now_ns = dt_now_ns();
	uint64_t peak_ns = atomic_load_explicit(&peak_pending, memory_order_relaxed)
	                       ? now_ns /* the heap is still at its peak */
	                       : atomic_load_explicit(&heap_peak_ns, memory_order_relaxed);
	meta[DT_META_MALLOC_TRACKED] = 1;
	meta[DT_META_ALLOC_CALLS] = calls;
	meta[DT_META_FREE_CALLS] = frees;
	meta[DT_META_ALLOC_BYTES] = bytes;
	meta[DT_META_HEAP_PEAK_BYTES] = atomic_load_explicit(&heap_peak_bytes, memory_order_relaxed);
	/* Relative to the shim's start: the lifecycle's wall time ends "now", so start = now - wall. */
	if (!peak_ns)
		peak_ns = init_ns;
	uint64_t wall_ns = meta[DT_META_WALL_NS];
	uint64_t start_ns = wall_ns && wall_ns <= now_ns ? now_ns - wall_ns : init_ns;
	meta[DT_META_HEAP_PEAK_TIME_NS] = peak_ns > start_ns ? peak_ns - start_ns : 0;
	meta[DT_META_LEAKED_BYTES] = live > 0 ? (uint64_t)live : 0;
	meta[DT_META_LEAKED_BLOCKS] = calls > frees ? calls - frees : 0;
	meta[DT_META_REENTRIES_SKIPPED] += atomic_load_explicit(&reentries_skipped, memory_order_relaxed);
}

void dt_malloc_emit(struct dt_tracebuf *b) /* ctx: any */
{
	if (!dt_malloc_enabled())
		return;
	uint32_t n = dt_stack_count();
	if (n > stack_capacity)
		n = stack_capacity;
	size_t map_bytes = ((size_t)n + 1) * sizeof(struct msum);
	struct msum *sum = mmap(NULL, map_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (sum == MAP_FAILED) {
		b->failed = 1;
		return;
	}
	struct msum all = {0};
	fold_all(sum, n, &all, atomic_load_explicit(&heap_peak_bytes, memory_order_relaxed));
	uint32_t records = 0;
	for (uint32_t id = 0; id < n; id++)
		records += sum[id].calls != 0 || sum[id].frees != 0;

	size_t mark = dt_tracebuf_section_begin(b, DT_SEC_ALLOC);
	dt_tracebuf_put_u32(b, records);
	for (uint32_t id = 0; id < n; id++) {
		const struct msum *s = &sum[id];
		if (s->calls == 0 && s->frees == 0)
			continue;
		uint64_t f[DT_ALLOC_NFIELDS];
		f[DT_ALLOC_CALLS] = (uint64_t)s->calls;
		f[DT_ALLOC_BYTES] = (uint64_t)s->bytes;
		f[DT_ALLOC_FREES] = (uint64_t)s->frees;
		f[DT_ALLOC_FREED_BYTES] = (uint64_t)s->freed_bytes;
		f[DT_ALLOC_PEAK_LIVE_BYTES] = s->peak_live_bytes > 0 ? (uint64_t)s->peak_live_bytes : 0;
		f[DT_ALLOC_LEAKED_BYTES] = s->live_bytes > 0 ? (uint64_t)s->live_bytes : 0;
		f[DT_ALLOC_LEAKED_BLOCKS] = s->calls > s->frees ? (uint64_t)(s->calls - s->frees) : 0;
		dt_tracebuf_put_u32(b, id);
		for (uint32_t k = 0; k < DT_ALLOC_NFIELDS; k++)
			dt_tracebuf_put_u64(b, f[k]);
	}
	dt_tracebuf_section_end(b, mark);
	munmap(sum, map_bytes);
}
