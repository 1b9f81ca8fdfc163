/* Unit tests for the memory-tracking core without LD_PRELOAD: the live-block map (dt_livemap) and the
 * cached exact allocation unwinder (dt_alloc_unwind), linked as plain objects. This executable
 * interposes the malloc family itself and asserts that the map and the unwinder, hits and misses
 * alike, never call it (libunwind's Gtest-nomalloc does the same for its unwinder). */
#define _GNU_SOURCE
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dt_alloc.h"
#include "dt_livemap.h"
#include "dt_shim.h"

#define TEST_STACK_CAPACITY 4096u
#define TEST_DEPTH 64
#define NOMALLOC_BLOCKS 20000u   /* enough to grow every stripe past its initial slab */
#define MT_THREADS 4u
#define MT_BLOCKS_PER_THREAD 50000u
#define MT_KEY_SPACE_SHIFT 40u   /* thread t owns fake addresses (t + 1) << 40 + 16 * i */
#define BLOCK_GRANULE_BYTES 16u

/* ---------------------------------------------------------------- shared services
 * dt_core.o provides these; the weak copies keep this suite linking while it moves (the strong
 * definitions win whenever the object is linked). */
__attribute__((weak)) DT_TLS __thread int dt_in_shim;
__attribute__((weak)) uint64_t dt_now_ns(void)
{
	return 0;
}
__attribute__((weak)) void dt_warn(const char *msg)
{
	(void)msg;
}
__attribute__((weak)) int dt_shim_active(void)
{
	return 1;
}

/* ---------------------------------------------------------------- malloc interposer
 * Counts calls made while armed; forwards to glibc either way. */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);

static _Atomic int malloc_armed;
static _Atomic uint64_t malloc_seen;

static void note_call(void)
{
	if (atomic_load_explicit(&malloc_armed, memory_order_relaxed))
		atomic_fetch_add_explicit(&malloc_seen, 1, memory_order_relaxed);
}

void *malloc(size_t n)
{
	note_call();
	return __libc_malloc(n);
}

void *calloc(size_t a, size_t b)
{
	note_call();
	return __libc_calloc(a, b);
}

void *realloc(void *p, size_t n)
{
	note_call();
	return __libc_realloc(p, n);
}

void free(void *p)
{
	if (p)
		note_call();
	__libc_free(p);
}

static void arm(void)
{
	atomic_store(&malloc_seen, 0);
	atomic_store(&malloc_armed, 1);
}

static uint64_t disarm(void)
{
	atomic_store(&malloc_armed, 0);
	return atomic_load(&malloc_seen);
}

/* ---------------------------------------------------------------- the live-block map */
static uint64_t size_of_key(uint64_t key)
{
	return (key >> 4) % 977u + 1u; /* any fixed function of the key, recomputable on removal */
}

START_TEST(livemap_exact_and_nomalloc)
{
	ck_assert_int_eq(dt_livemap_init(), 0);
	/* Check's assertions talk to the runner (and allocate): tally while armed, assert after. */
	const uint64_t base = 1ull << MT_KEY_SPACE_SHIFT;
	struct dt_live_block b = {0}, stale = {0};
	uint32_t bad = 0, found = 0;
	arm();
	for (uint32_t i = 0; i < NOMALLOC_BLOCKS; i++)
		bad += dt_livemap_insert(base + BLOCK_GRANULE_BYTES * i, size_of_key(base + 16u * i), i, &b, 0) != 0;
	uint64_t count = dt_livemap_count();
	/* The same pointer again: the map reports the stale entry it replaced. */
	int replaced = dt_livemap_insert(base, 7, 99, &stale, 1);
	for (uint32_t i = 0; i < NOMALLOC_BLOCKS; i += 2) {
		int had = dt_livemap_remove(base + BLOCK_GRANULE_BYTES * i, &b, i & 2u);
		found += (uint32_t)had;
		if (i == 0)
			bad += b.size_bytes != 7 || b.stack != 99;
		else
			bad += b.size_bytes != size_of_key(base + 16u * i) || b.stack != i;
	}
	int phantom = dt_livemap_remove(base + 8, &b, 0); /* never inserted */
	uint64_t calls = disarm();
	ck_assert_uint_eq(bad, 0);
	ck_assert_int_eq(replaced, 1);
	ck_assert_uint_eq(stale.size_bytes, size_of_key(base));
	ck_assert_uint_eq(stale.stack, 0);
	ck_assert_int_eq(phantom, 0);
	ck_assert_uint_eq(count, NOMALLOC_BLOCKS);
	ck_assert_uint_eq(found, NOMALLOC_BLOCKS / 2);
	ck_assert_uint_eq(dt_livemap_count(), NOMALLOC_BLOCKS / 2);
	ck_assert_uint_eq(calls, 0);
}
END_TEST

struct mt_arg {
	uint32_t t;
	pthread_barrier_t *bar;
	uint64_t mismatches;
	uint64_t removed;
};

static uint64_t mt_key(uint32_t t, uint32_t i)
{
	return ((uint64_t)(t + 1) << MT_KEY_SPACE_SHIFT) + (uint64_t)BLOCK_GRANULE_BYTES * i;
}

/* Each thread inserts its own blocks, then frees every other block of its neighbour (a cross-thread
 * free) while inserting a second batch of its own: the map must hand back exactly what was put in. */
static void *mt_worker(void *p)
{
	struct mt_arg *a = p;
	struct dt_live_block b;
	for (uint32_t i = 0; i < MT_BLOCKS_PER_THREAD; i++)
		if (dt_livemap_insert(mt_key(a->t, i), size_of_key(mt_key(a->t, i)), a->t, &b, 0) != 0)
			a->mismatches++;
	pthread_barrier_wait(a->bar);
	uint32_t peer = (a->t + 1) % MT_THREADS;
	for (uint32_t i = 0; i < MT_BLOCKS_PER_THREAD; i++) {
		if (dt_livemap_insert(mt_key(a->t, MT_BLOCKS_PER_THREAD + i),
		                      size_of_key(mt_key(a->t, MT_BLOCKS_PER_THREAD + i)), a->t, &b, 0) != 0)
			a->mismatches++;
		if (i % 2)
			continue;
		if (!dt_livemap_remove(mt_key(peer, i), &b, 0)) {
			a->mismatches++;
			continue;
		}
		a->removed++;
		if (b.size_bytes != size_of_key(mt_key(peer, i)) || b.stack != peer)
			a->mismatches++;
	}
	return NULL;
}

/* Sizes of 4 GiB - 1 and more do not fit a map slot's 32 bits: they take a second entry. Exact at the
 * edges, through a stale replacement (big by small and small by big) and among neighbours whose
 * removal shifts entries back over the second entries. */
START_TEST(livemap_big_sizes_exact)
{
	ck_assert_int_eq(dt_livemap_init(), 0);
	const uint64_t base = 3ull << MT_KEY_SPACE_SHIFT;
	const uint64_t sizes[] = {UINT32_MAX - 1ull, UINT32_MAX, 1ull << 32, 5ull << 30, UINT64_MAX - 15u, 17};
	const uint32_t n = sizeof(sizes) / sizeof(sizes[0]);
	struct dt_live_block b = {0}, stale = {0};
	uint64_t before = dt_livemap_count();
	uint32_t bad = 0;
	arm();
	for (uint32_t i = 0; i < n; i++)
		bad += dt_livemap_insert(base + BLOCK_GRANULE_BYTES * i, sizes[i], 100 + i, &stale, i & 1u) != 0;
	/* Stale replacements: a small block over a big one, a big one over a small one. */
	int r1 = dt_livemap_insert(base + BLOCK_GRANULE_BYTES * 1, 9, 7, &stale, 0);
	bad += stale.size_bytes != sizes[1] || stale.stack != 101;
	int r2 = dt_livemap_insert(base + BLOCK_GRANULE_BYTES * 5, 6ull << 30, 8, &stale, 1);
	bad += stale.size_bytes != sizes[5] || stale.stack != 105;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t want = i == 1 ? 9 : i == 5 ? 6ull << 30 : sizes[i];
		uint32_t want_stack = i == 1 ? 7 : i == 5 ? 8 : 100 + i;
		bad += dt_livemap_remove(base + BLOCK_GRANULE_BYTES * i, &b, 0) != 1;
		bad += b.size_bytes != want || b.stack != want_stack;
	}
	uint64_t calls = disarm();
	ck_assert_uint_eq(bad, 0);
	ck_assert_int_eq(r1, 1);
	ck_assert_int_eq(r2, 1);
	ck_assert_uint_eq(dt_livemap_count(), before); /* both entries of every big block are gone */
	ck_assert_uint_eq(calls, 0);
}
END_TEST

/* MT_THREADS workers started together (a barrier), joined before returning; args[t].t = t. */
static void run_workers(void *(*worker)(void *), struct mt_arg args[MT_THREADS])
{
	pthread_barrier_t bar;
	pthread_barrier_init(&bar, NULL, MT_THREADS);
	pthread_t th[MT_THREADS];
	for (uint32_t t = 0; t < MT_THREADS; t++) {
		args[t] = (struct mt_arg){.t = t, .bar = &bar};
		ck_assert_int_eq(pthread_create(&th[t], NULL, worker, &args[t]), 0);
	}
	for (uint32_t t = 0; t < MT_THREADS; t++)
		pthread_join(th[t], NULL);
	pthread_barrier_destroy(&bar);
}

START_TEST(livemap_four_threads_cross_free)
{
	ck_assert_int_eq(dt_livemap_init(), 0);
	struct mt_arg args[MT_THREADS];
	run_workers(mt_worker, args);
	uint64_t removed = 0;
	for (uint32_t t = 0; t < MT_THREADS; t++) {
		ck_assert_uint_eq(args[t].mismatches, 0);
		removed += args[t].removed;
	}
	const uint64_t inserted = (uint64_t)MT_THREADS * MT_BLOCKS_PER_THREAD * 2;
	ck_assert_uint_eq(removed, (uint64_t)MT_THREADS * MT_BLOCKS_PER_THREAD / 2);
	ck_assert_uint_eq(dt_livemap_count(), inserted - removed);
	/* Every survivor is there exactly once, with its own size and stack; the map ends empty. */
	struct dt_live_block b;
	uint64_t left = 0;
	for (uint32_t t = 0; t < MT_THREADS; t++)
		for (uint32_t i = 0; i < 2 * MT_BLOCKS_PER_THREAD; i++) {
			int was_removed = i < MT_BLOCKS_PER_THREAD && i % 2 == 0;
			int had = dt_livemap_remove(mt_key(t, i), &b, 1);
			ck_assert_int_eq(had, !was_removed);
			if (had) {
				left++;
				ck_assert_uint_eq(b.size_bytes, size_of_key(mt_key(t, i)));
				ck_assert_uint_eq(b.stack, t);
			}
		}
	ck_assert_uint_eq(left, inserted - removed);
	ck_assert_uint_eq(dt_livemap_count(), 0);
}
END_TEST

/* ---------------------------------------------------------------- nurseries in front of the map
 * The shim's protocol (dt_malloc.c): a thread inserts into its own nursery (evicting to the map under
 * the evicted pointer's stripe lock), takes its own blocks back without a lock, and frees anyone
 * else's under the pointer's stripe lock: the map first, then every nursery. */
#define NU_BLOCKS_PER_THREAD 20000u
#define NU_KEEP_OWN 64u /* own blocks kept live a while before the owner frees them */

static struct dt_lm_nursery nurseries[MT_THREADS];

static int nu_take_shared(uint64_t p, struct dt_live_block *b)
{
	struct dt_lm_stripe *s = dt_lm_stripe_of(p);
	dt_lm_lock(s, 0);
	int had = dt_livemap_remove_locked(s, p, b);
	for (uint32_t t = 0; !had && t < MT_THREADS; t++)
		had = dt_lm_nursery_claim(&nurseries[t], p, b);
	dt_lm_unlock(s, 0);
	return had;
}

static int nu_take(uint32_t self, uint64_t p, struct dt_live_block *b)
{
	return dt_lm_nursery_take(&nurseries[self], p, b) || nu_take_shared(p, b);
}

static int nu_check(const struct dt_live_block *b, uint64_t key, uint32_t owner)
{
	return b->size_bytes == size_of_key(key) && b->stack == owner;
}

/* Each thread inserts a first batch; then, while its neighbour frees every other block of that batch
 * (cross-thread frees racing the owner's own inserts, evictions and frees), it churns a second batch
 * of its own, freeing each block NU_KEEP_OWN inserts later. Every free must find its block exactly
 * once with its own size and stack, and no block may be lost between a nursery and the map. */
static void *nu_worker(void *p)
{
	struct mt_arg *a = p;
	struct dt_live_block b;
	for (uint32_t i = 0; i < NU_BLOCKS_PER_THREAD; i++) {
		uint64_t k = mt_key(a->t, i);
		if (dt_lm_nursery_insert(&nurseries[a->t], k, size_of_key(k), a->t, &b) != 0)
			a->mismatches++;
	}
	pthread_barrier_wait(a->bar);
	uint32_t peer = (a->t + 1) % MT_THREADS;
	for (uint32_t i = 0; i < NU_BLOCKS_PER_THREAD; i++) {
		uint64_t k = mt_key(a->t, NU_BLOCKS_PER_THREAD + i);
		if (dt_lm_nursery_insert(&nurseries[a->t], k, size_of_key(k), a->t, &b) != 0)
			a->mismatches++;
		if (i >= NU_KEEP_OWN) {
			uint64_t old = mt_key(a->t, NU_BLOCKS_PER_THREAD + i - NU_KEEP_OWN);
			if (!nu_take(a->t, old, &b) || !nu_check(&b, old, a->t))
				a->mismatches++;
		}
		if (i % 2)
			continue;
		uint64_t theirs = mt_key(peer, i);
		if (!nu_take(a->t, theirs, &b)) {
			a->mismatches++;
			continue;
		}
		a->removed++;
		if (!nu_check(&b, theirs, peer))
			a->mismatches++;
	}
	return NULL;
}

START_TEST(nursery_four_threads_cross_free)
{
	ck_assert_int_eq(dt_livemap_init(), 0);
	struct mt_arg args[MT_THREADS];
	run_workers(nu_worker, args);
	for (uint32_t t = 0; t < MT_THREADS; t++) {
		ck_assert_uint_eq(args[t].mismatches, 0);
		ck_assert_uint_eq(args[t].removed, NU_BLOCKS_PER_THREAD / 2);
	}
	/* Survivors: the odd blocks of each first batch and the last NU_KEEP_OWN of each second batch,
	 * each exactly once, wherever it ended up. */
	struct dt_live_block b;
	uint64_t left = 0;
	for (uint32_t t = 0; t < MT_THREADS; t++)
		for (uint32_t i = 0; i < 2 * NU_BLOCKS_PER_THREAD; i++) {
			int live = i < NU_BLOCKS_PER_THREAD ? i % 2 == 1 : i >= 2 * NU_BLOCKS_PER_THREAD - NU_KEEP_OWN;
			uint64_t k = mt_key(t, i);
			int had = nu_take_shared(k, &b);
			ck_assert_int_eq(had, live);
			if (had) {
				left++;
				ck_assert(nu_check(&b, k, t));
				ck_assert_int_eq(nu_take_shared(k, &b), 0); /* exactly once */
			}
		}
	ck_assert_uint_eq(left, (uint64_t)MT_THREADS * (NU_BLOCKS_PER_THREAD / 2 + NU_KEEP_OWN));
	ck_assert_uint_eq(dt_livemap_count(), 0);
}
END_TEST

/* ---------------------------------------------------------------- the cached unwinder
 * DT_CALLER_HERE needs a frame pointer in the function that expands it, as the shim's hooks have. */
#define FP_FN __attribute__((noinline, optimize("no-omit-frame-pointer")))

static struct dt_ucache *uc;
/* A key is recorded on its DT_UC_RECORD_AFTER_MISSES-th miss, then hits; the last round follows a code
 * change. volatile: the loop below must not be peeled (its call sites are the cache keys). */
#define UC_ROUNDS ((int)DT_UC_RECORD_AFTER_MISSES + 4)
static volatile int change_round = UC_ROUNDS - 1;

static FP_FN uint32_t fake_hook(uint64_t leaf, struct dt_caller *out)
{
	struct dt_caller who;
	DT_CALLER_HERE(who);
	who.leaf = leaf;
	*out = who;
	return dt_alloc_stack_id(uc, &who, TEST_DEPTH);
}

/* One call site for both kinds of call, as a tail-calling wrapper gives: same ret, same sp. */
static FP_FN uint32_t call_site(uint64_t leaf, struct dt_caller *out)
{
	uint32_t id = fake_hook(leaf, out);
	__asm__ volatile("" ::: "memory"); /* keep the call a call, not a tail jump */
	return id;
}

/* Both kinds from the same places every round (a loop in the test body may be peeled). */
static FP_FN void one_round(uint64_t leaf, struct dt_caller *who_plain, struct dt_caller *who_leaf,
                            uint32_t *plain, uint32_t *leafed)
{
	*plain = call_site(0, who_plain);
	*leafed = call_site(leaf, who_leaf);
	__asm__ volatile("" ::: "memory");
}

static void uc_setup(void)
{
	ck_assert_int_eq(dt_stack_table_init(TEST_STACK_CAPACITY), 0);
	uc = dt_ucache_new();
	ck_assert_ptr_nonnull(uc);
}

START_TEST(unwind_cache_exact_and_nomalloc)
{
	uc_setup();
	const uint64_t leaf = (uint64_t)(uintptr_t)&realloc;
	struct dt_caller who_plain, who_leaf;
	uint32_t plain[UC_ROUNDS], leafed[UC_ROUNDS];
	/* Warm libunwind's own caches first: its first use may set things up. */
	one_round(leaf, &who_plain, &who_leaf, &plain[0], &leafed[0]);
	struct dt_ucache_stats before;
	dt_ucache_stats(uc, &before);
	struct dt_ucache_stats mid;
	arm();
	for (int round = 0; round < UC_ROUNDS; round++) {
		if (round == change_round) {
			/* A code change (dlclose) makes every entry stale: the next lookups walk again. */
			dt_ucache_stats(uc, &mid);
			dt_ucache_code_changed();
		}
		one_round(leaf, &who_plain, &who_leaf, &plain[round], &leafed[round]);
	}
	uint64_t calls = disarm();
	ck_assert_uint_eq(calls, 0);

	struct dt_ucache_stats st;
	dt_ucache_stats(uc, &st);
	/* Fast walks (before recording), the recording walk and hits all give the same stacks. */
	for (int round = 1; round < UC_ROUNDS; round++) {
		ck_assert_uint_eq(plain[round], plain[0]);
		ck_assert_uint_eq(leafed[round], leafed[0]);
	}
	ck_assert_uint_ne(plain[0], leafed[0]); /* same call site, two stacks */
	ck_assert_uint_ge(mid.recorded - before.recorded, 2);
	ck_assert_uint_ge(mid.hits - before.hits, 4);   /* the rounds after recording were hits */
	ck_assert_uint_eq(st.misses - mid.misses, 2);    /* last round: both stale after the code change */

	const uint64_t *pp, *lp;
	uint32_t pf, lf;
	uint32_t pd = dt_stack_get(plain[0], &pp, &pf);
	uint32_t ld = dt_stack_get(leafed[0], &lp, &lf);
	ck_assert_uint_ge(pd, 2);
	ck_assert_uint_eq(ld, pd + 1);
	ck_assert_uint_eq(pp[0], who_plain.ret);
	ck_assert_uint_eq(pf & DT_STACK_LEAF_EXACT, 0);
	ck_assert_uint_eq(lp[0], leaf);
	ck_assert_uint_ne(lf & DT_STACK_LEAF_EXACT, 0);
	/* Below the leaf: the same hook frame, then one_round's two call sites, then the same callers. */
	ck_assert_uint_eq(lp[1], pp[0]);
	ck_assert_uint_ne(lp[2], pp[1]);
	ck_assert_int_eq(memcmp(lp + 3, pp + 2, (pd - 2) * sizeof(*pp)), 0);
}
END_TEST

/* The caller's frames are capped at max_depth - 1 when a leaf is added: the total stays in bounds. */
START_TEST(unwind_leaf_respects_depth)
{
	uc_setup();
	struct dt_caller who;
	DT_CALLER_HERE(who);
	who.leaf = (uint64_t)(uintptr_t)&realloc;
	const uint64_t *pcs;
	uint32_t flags;
	uint32_t id = dt_alloc_stack_id(uc, &who, 2);
	ck_assert_uint_eq(dt_stack_get(id, &pcs, &flags), 2);
	ck_assert_uint_ne(flags & DT_STACK_TRUNCATED, 0);
	ck_assert_uint_eq(pcs[1], who.ret);
	id = dt_alloc_stack_id(uc, &who, 1); /* the call site is always kept */
	ck_assert_uint_eq(dt_stack_get(id, &pcs, &flags), 2);
}
END_TEST

static Suite *mem_suite(void)
{
	Suite *s = suite_create("preload_mem");
	TCase *tc = tcase_create("livemap");
	tcase_add_test(tc, livemap_exact_and_nomalloc);
	tcase_add_test(tc, livemap_big_sizes_exact);
	tcase_add_test(tc, livemap_four_threads_cross_free);
	tcase_add_test(tc, nursery_four_threads_cross_free);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	tc = tcase_create("unwind");
	tcase_add_test(tc, unwind_cache_exact_and_nomalloc);
	tcase_add_test(tc, unwind_leaf_respects_depth);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(mem_suite());
	srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
