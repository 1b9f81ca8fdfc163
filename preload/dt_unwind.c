/* Unwinding with libunwind (local only): from the SIGPROF handler's ucontext and from hooks.
 * Never calls malloc or locks on the signal path: libunwind is warmed up once in normal context and
 * uses its per-thread cache; dl_iterate_phdr calls it makes from the handler are served lock-free by
 * dt_dlsafe.c, keyed by dt_unwind_sig_lookup_pc. Called by dt_sampler (handler) and dt_malloc (hooks). */
#define _GNU_SOURCE
#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

#include "dt_shim.h"

#define UNWIND_HERE_MAX_SKIP 16 /* frames dt_unwind_here may be asked to drop */
#define UNWIND_WARMUP_DEPTH 64

/* Address libunwind is about to look up while this thread unwinds inside the SIGPROF handler;
 * 0 outside it. dt_dlsafe's dl_iterate_phdr reads it to tell "in the handler" from normal context. */
DT_TLS __thread uintptr_t dt_unwind_sig_lookup_pc;

/* Set while this thread is inside libunwind. Breaks SIGPROF -> unwind re-entry into libunwind's
 * per-thread cache while a hook on the same thread is half-way through an unwind. */
static DT_TLS __thread int in_unwind;

static _Atomic uint64_t unwind_failures;
static _Atomic int unwind_ready;

void dt_unwind_reset_counts(void) /* ctx: any; fork child */
{
	atomic_store_explicit(&unwind_failures, 0, memory_order_relaxed);
}

uint64_t dt_unwind_failures(void) /* ctx: any */
{
	return atomic_load_explicit(&unwind_failures, memory_order_relaxed);
}

int dt_unwind_busy_sigsafe(void) /* ctx: sigsafe */
{
	return in_unwind;
}

static __attribute__((noinline)) int warm_step_loop(void) /* ctx: any */
{
	unw_context_t ctx;
	unw_cursor_t cur;
	int n = 0;
	if (unw_getcontext(&ctx) != 0 || unw_init_local(&cur, &ctx) != 0)
		return -1;
	while (n < UNWIND_WARMUP_DEPTH && unw_step(&cur) > 0)
		n++;
	return n;
}

/* ---- fork gate. libunwind keeps internal mutexes (its caches, dl_iterate_phdr bookkeeping); a
 * fork while another thread holds one leaves it locked for ever in the child, whose next unwind then
 * deadlocks (seen: 50 forks beside 4 allocating threads). fork waits until no thread is inside
 * libunwind; unwinds that start meanwhile wait (hooks) or drop their sample (the handler).
 * seq_cst on both counters: the Dekker pairing of "forking" and "active" needs a total order. */
static _Atomic int gate_forking;
static _Atomic int gate_active;
static DT_TLS __thread int gate_depth; /* this thread's own entries: fork never waits for itself */

int dt_unwind_gate_enter(int may_wait) /* ctx: sigsafe when may_wait is 0; 1 entered, 0 not */
{
	for (;;) {
		atomic_fetch_add(&gate_active, 1);
		if (!atomic_load(&gate_forking)) {
			gate_depth++;
			return 1;
		}
		atomic_fetch_sub(&gate_active, 1);
		if (!may_wait)
			return 0;
		while (atomic_load(&gate_forking))
			sched_yield();
	}
}

void dt_unwind_gate_leave(void) /* ctx: sigsafe */
{
	gate_depth--;
	atomic_fetch_sub(&gate_active, 1);
}

static void gate_fork_prepare(void) /* ctx: any; the forking thread */
{
	atomic_store(&gate_forking, 1);
	while (atomic_load(&gate_active) > gate_depth)
		sched_yield();
}

static void gate_fork_parent(void) /* ctx: any */
{
	atomic_store(&gate_forking, 0);
}

static void gate_fork_child(void) /* ctx: any; the child has only the forking thread */
{
	atomic_store(&gate_active, gate_depth);
	atomic_store(&gate_forking, 0);
}

int dt_unwind_init(void) /* ctx: any; once, before sampling starts */
{
	if (atomic_load_explicit(&unwind_ready, memory_order_acquire))
		return 0;
	/* Before libunwind initialises: its memory-validation pipe would be a descriptor in the host. */
	if (dt_unwind_redirect_imports((const void *)unw_backtrace) != 0)
		dt_warn("cannot redirect libunwind's memory validation; it keeps a pipe open");
	/* The global cache takes a lock with signals blocked; the per-thread one takes none. */
	unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
	/* First use initialises libunwind (locks, may allocate): do it here, not in the handler. */
	void *buf[UNWIND_WARMUP_DEPTH];
	int rc = 0;
	in_unwind = 1;
	if (unw_backtrace(buf, UNWIND_WARMUP_DEPTH) <= 0 || warm_step_loop() < 0)
		rc = -1;
	in_unwind = 0;
	pthread_atfork(gate_fork_prepare, gate_fork_parent, gate_fork_child);
	atomic_store_explicit(&unwind_ready, 1, memory_order_release);
	return rc;
}

int dt_unwind_sigsafe(uint64_t *pcs, int max_depth, void *ucontext, uint32_t *flags) /* ctx: sigsafe */
{
	unw_cursor_t cur;
	int n = 0;
	*flags = 0;
	if (max_depth <= 0 || !ucontext || in_unwind)
		return 0;
	if (!dt_unwind_gate_enter(0))
		return 0;
	in_unwind = 1;
	/* Any lookup libunwind makes from here on is served by dt_dlsafe, never the loader-locked one. */
	dt_unwind_sig_lookup_pc = (uintptr_t)((ucontext_t *)ucontext)->uc_mcontext.gregs[REG_RIP];
	/* x86-64 unw_context_t is ucontext_t: the handler's context starts the walk at the interrupted
	 * instruction, and UNW_INIT_SIGNAL_FRAME keeps libunwind from looking up pc-1 for it. */
	if (unw_init_local2(&cur, (unw_context_t *)ucontext, UNW_INIT_SIGNAL_FRAME) != 0) {
		atomic_fetch_add_explicit(&unwind_failures, 1, memory_order_relaxed);
		goto out;
	}
	*flags = DT_STACK_LEAF_EXACT;
	for (;;) {
		unw_word_t ip;
		if (unw_get_reg(&cur, UNW_REG_IP, &ip) != 0 || ip == 0)
			break;
		pcs[n++] = ip;
		if (n >= max_depth) {
			*flags |= DT_STACK_TRUNCATED;
			break;
		}
		/* libunwind looks up the exact pc for the leaf and pc-1 (inside the call) for callers. */
		dt_unwind_sig_lookup_pc = n == 1 ? ip : ip - 1;
		int step = unw_step(&cur);
		if (step < 0)
			atomic_fetch_add_explicit(&unwind_failures, 1, memory_order_relaxed);
		if (step <= 0)
			break;
	}
out:
	dt_unwind_sig_lookup_pc = 0;
	in_unwind = 0;
	dt_unwind_gate_leave();
	return n;
}

int dt_unwind_here(uint64_t *pcs, int max_depth, int skip, uint32_t *flags) /* ctx: hook */
{
	void *buf[DT_MAX_STACK_DEPTH + UNWIND_HERE_MAX_SKIP + 1];
	*flags = 0;
	if (skip < 0)
		skip = 0;
	if (skip > UNWIND_HERE_MAX_SKIP)
		skip = UNWIND_HERE_MAX_SKIP;
	if (max_depth > (int)DT_MAX_STACK_DEPTH)
		max_depth = DT_MAX_STACK_DEPTH;
	if (max_depth <= 0 || in_unwind)
		return 0;
	dt_unwind_gate_enter(1);
	in_unwind = 1;
	/* unw_backtrace walks with libunwind's frame cache (fast path) and falls back to unw_step.
	 * One extra frame: this function's own. Ask for one more than kept to see truncation. */
	int want = max_depth + skip + 1;
	int got = unw_backtrace(buf, want < (int)(sizeof(buf) / sizeof(buf[0])) ? want + 1 : want);
	in_unwind = 0;
	dt_unwind_gate_leave();
	if (got <= 0) {
		atomic_fetch_add_explicit(&unwind_failures, 1, memory_order_relaxed);
		return 0;
	}
	int first = skip + 1;
	int n = 0;
	for (int i = first; i < got && n < max_depth; i++)
		pcs[n++] = (uint64_t)(uintptr_t)buf[i];
	if (got > first + max_depth)
		*flags |= DT_STACK_TRUNCATED;
	return n;
}
