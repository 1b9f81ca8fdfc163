/* Exact allocation stacks at a few loads each: a per-thread cache of recent unwinds, keyed by every
 * value the unwind depended on (the caller's pc and sp, and each stack slot libunwind loaded a return
 * address, an rsp or a frame-defining rbp from), so that a hit is the unwind's own result, verified.
 * A miss walks with libunwind under the re-entry guard. Never calls malloc; a miss may take the
 * loader lock (dl_iterate_phdr). Called by dt_malloc only (hit path inline in dt_alloc.h).
 *
 * Why the verified set is enough. On x86-64 a step from frame i computes CFA_i from rsp_i (= CFA of
 * frame i-1) or rbp_i, then loads rip_{i+1} from CFA_i-8 and restores rsp/rbp (from memory only in
 * signal frames and saved-register slots). So the frames are fixed by: the start (pc, sp), the
 * return-address slots, rsp slots of signal frames, and -- only for frames whose CFA depends on rbp
 * -- where that rbp came from (a stack slot, or the caller's rbp at the call). A frame is taken to
 * depend on rbp when CFA_i == rbp_i + 16 (every frame-pointer prologue) or [rbp_i - 8] == CFA_i (gcc's
 * DRAP frames for realigned stacks); frames that merely keep data in rbp (code built without frame
 * pointers) are not, so their changing rbp does not defeat the cache. CFI using other registers or
 * other rbp offsets (hand-written assembly) is assumed not to call malloc. */
#define _GNU_SOURCE
#define UNW_LOCAL_ONLY
#include <errno.h>
#include <libunwind.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>

#include "dt_alloc.h"
#include "dt_shim.h"

#define UC_MAX_SKIP 32            /* shim frames between the walker and the hooked call, at most */
#define UC_FP_CFA_OFFSET_BYTES 16 /* CFA - rbp after "push %rbp; mov %rsp,%rbp" */
#define UC_DRAP_SLOT_OFFSET_BYTES 8 /* gcc DRAP: CFA = [rbp - 8] */

_Atomic uint64_t dt_uc_code_gen = 1;

struct dt_ucache *dt_ucache_new(void) /* ctx: any */
{
	void *p = mmap(NULL, sizeof(struct dt_ucache), PROT_READ | PROT_WRITE,
	               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return p == MAP_FAILED ? NULL : p; /* zero-filled: every entry has gen 0, i.e. empty */
}

void dt_ucache_reset(struct dt_ucache *c) /* ctx: any; owner only */
{
	/* A recycled thread state may sit on another stack: drop entries, keep the counters. */
	for (uint32_t i = 0; i < DT_UC_ENTRIES; i++)
		c->e[i].gen = 0;
	memset(c->misses_of, 0, sizeof(c->misses_of));
}

void dt_ucache_stats(const struct dt_ucache *c, struct dt_ucache_stats *out) /* ctx: any */
{
	out->hits = __atomic_load_n(&c->stats.hits, __ATOMIC_RELAXED);
	out->misses = __atomic_load_n(&c->stats.misses, __ATOMIC_RELAXED);
	out->uncacheable = __atomic_load_n(&c->stats.uncacheable, __ATOMIC_RELAXED);
	out->recorded = __atomic_load_n(&c->stats.recorded, __ATOMIC_RELAXED);
	out->unwind_failures = __atomic_load_n(&c->stats.unwind_failures, __ATOMIC_RELAXED);
}

/* Relaxed is enough: a hit compares the generation it loaded at its start, and the dlclose that calls
 * this (after the real dlclose returned) is ordered with any later dlopen of code at the same address
 * by the loader's lock, which the thread running that new code went through. No allocation, no lock:
 * callable from any context, the dlclose wrapper included. */
void dt_ucache_code_changed(void) /* ctx: any */
{
	atomic_fetch_add_explicit(&dt_uc_code_gen, 1, memory_order_relaxed);
}

/* The walk being recorded into a cache entry. */
struct uc_rec {
	struct dt_uc_entry *e;
	uint64_t own_lo, own_hi; /* our own frames and the walker's context: fixed by the key */
	uint64_t last_addr;      /* last slot appended (rbp slots repeat while rbp is not re-saved) */
	int ok;                  /* 0 once something could not be recorded: do not cache */
};

static void uc_append(struct uc_rec *r, uint64_t addr) /* ctx: hook */
{
	if (addr == r->last_addr)
		return;
	if (r->e->nslots >= DT_UC_SLOTS) {
		r->ok = 0;
		return;
	}
	r->e->slot[r->e->nslots].addr = addr;
	r->e->slot[r->e->nslots].val = *(const uint64_t *)(uintptr_t)addr;
	r->e->nslots++;
	r->last_addr = addr;
}

/* A value the walk used came from `loc`: verify it on a hit. Our own frames are covered by the key,
 * except the caller's rbp, which then joins the key (needs_rbp). */
static void uc_depends_on(struct uc_rec *r, const unw_save_loc_t *loc, int is_rbp) /* ctx: hook */
{
	if (loc->type != UNW_SLT_MEMORY) {
		if (is_rbp && loc->type == UNW_SLT_NONE)
			r->e->rbp_needed = 1; /* never saved anywhere: still the caller's register */
		else
			r->ok = 0;
		return;
	}
	uint64_t a = loc->u.addr;
	if (a >= r->own_lo && a < r->own_hi) {
		if (is_rbp)
			r->e->rbp_needed = 1;
		return;
	}
	uc_append(r, a);
}

/* The exact leaf below the caller (who->leaf, e.g. the shim's realloc), when there is one: written to
 * pcs[0] and flagged; returns how many frames it took (0 or 1). ctx: hook */
static int uc_lead(const struct dt_caller *who, uint64_t *pcs, uint32_t *flags) /* ctx: hook */
{
	if (!who->leaf)
		return 0;
	pcs[0] = who->leaf;
	*flags |= DT_STACK_LEAF_EXACT;
	return 1;
}

/* Frames the caller's part of the stack may take: the leaf counts against max_depth, but the call
 * site is always kept, so such a stack has at most max(max_depth, 2) <= DT_MAX_STACK_DEPTH frames. */
static int uc_cap(int lead, int max_depth) /* ctx: hook */
{
	return lead && max_depth > 1 ? max_depth - lead : max_depth;
}

static __attribute__((noinline)) uint32_t uc_walk(struct dt_ucache *c, struct dt_uc_entry *e,
                                                  const struct dt_caller *who, int max_depth,
                                                  uint64_t gen) /* ctx: hook */
{
	unw_context_t ctx;
	unw_cursor_t cur;
	uint64_t pcs[DT_MAX_STACK_DEPTH];
	uint32_t flags = 0;
	int n = 0;
	unw_word_t ip, sp, rbp;
	unw_save_loc_t rbp_loc, loc;
	int lead = uc_lead(who, pcs, &flags);
	int cap = uc_cap(lead, max_depth);

	struct uc_rec r = {.e = e, .own_hi = who->sp, .ok = 1};
	r.own_lo = (uint64_t)(uintptr_t)&ctx;
	if ((uint64_t)(uintptr_t)&cur < r.own_lo)
		r.own_lo = (uint64_t)(uintptr_t)&cur;
	if ((uint64_t)(uintptr_t)pcs < r.own_lo)
		r.own_lo = (uint64_t)(uintptr_t)pcs;

	e->gen = 0;
	e->nslots = 0;
	e->rbp_needed = 0;
	if (unw_getcontext(&ctx) != 0 || unw_init_local(&cur, &ctx) != 0)
		goto fail;
	/* Step out of the shim's own frames until the frame of the function that called malloc. */
	for (int k = 0;; k++) {
		if (unw_get_reg(&cur, UNW_REG_SP, &sp) != 0)
			goto fail;
		if (sp == who->sp)
			break;
		if (sp > who->sp || k >= UC_MAX_SKIP || unw_step(&cur) <= 0)
			goto fail;
	}
	if (unw_get_reg(&cur, UNW_REG_IP, &ip) != 0 || ip != who->ret)
		goto fail;

	n = lead;
	for (;;) {
		pcs[n++] = ip;
		if (unw_get_reg(&cur, UNW_X86_64_RBP, &rbp) != 0 ||
		    unw_get_save_loc(&cur, UNW_X86_64_RBP, &rbp_loc) != 0)
			r.ok = 0;
		int step = unw_step(&cur);
		if (step < 0) {
			DT_UC_COUNT(c, unwind_failures);
			r.ok = 0;
			break;
		}
		/* Did this step's CFA come from rbp? At the end of the chain the CFA may not have been
		 * computed at all: then count rbp as used, which can only cost hits, never exactness. */
		int rbp_used = 1;
		if (step > 0 && unw_get_reg(&cur, UNW_REG_SP, &sp) == 0) {
			uint64_t cfa = sp;
			rbp_used = cfa == rbp + UC_FP_CFA_OFFSET_BYTES;
			/* Dereference only inside the live frames between the caller and this CFA. */
			if (!rbp_used && rbp >= who->sp + UC_DRAP_SLOT_OFFSET_BYTES && rbp < cfa)
				rbp_used = *(const uint64_t *)(uintptr_t)(rbp - UC_DRAP_SLOT_OFFSET_BYTES) == cfa;
		}
		/* In walk order: the rbp the CFA came from, then what the step loaded from the CFA. */
		if (rbp_used)
			uc_depends_on(&r, &rbp_loc, 1);
		if (unw_get_save_loc(&cur, UNW_X86_64_RSP, &loc) == 0 && loc.type == UNW_SLT_MEMORY)
			uc_depends_on(&r, &loc, 0);
		if (unw_get_save_loc(&cur, UNW_X86_64_RIP, &loc) != 0)
			r.ok = 0;
		else if (loc.type == UNW_SLT_MEMORY)
			uc_depends_on(&r, &loc, 0);
		else if (step > 0)
			r.ok = 0; /* a return address must come from a slot we can re-check */
		if (step == 0 || unw_get_reg(&cur, UNW_REG_IP, &ip) != 0 || ip == 0)
			break;
		if (n - lead >= cap) {
			flags |= DT_STACK_TRUNCATED;
			break;
		}
	}
	uint32_t id = dt_stack_intern_sigsafe(pcs, (uint32_t)n, flags);
	if (!r.ok || id == DT_STACK_NONE) {
		if (!r.ok)
			DT_UC_COUNT(c, uncacheable);
		return id;
	}
	e->ret = who->ret;
	e->sp = who->sp;
	e->rbp = who->rbp;
	e->leaf = who->leaf;
	e->max_depth = max_depth;
	e->stack = id;
	e->gen = gen;
	return id;

fail:
	/* The caller's frame could not be reached: keep what is certain, the call site. */
	DT_UC_COUNT(c, unwind_failures);
	pcs[lead] = who->ret;
	return dt_stack_intern_sigsafe(pcs, (uint32_t)lead + 1, flags | DT_STACK_TRUNCATED);
}

/* The stack without recording: unw_backtrace's own per-pc frame cache makes it cheap once warm,
 * where every unw_step of libunwind 1.6.2 costs two sigprocmask calls (its cache lock blocks signals).
 * Same frames as uc_walk: libunwind's fast path and unw_step agree, and both stop at the same end. */
static __attribute__((noinline)) uint32_t uc_fast(struct dt_ucache *c, struct dt_uc_entry *e,
                                                  const struct dt_caller *who, int max_depth,
                                                  uint64_t gen) /* ctx: hook */
{
	void *buf[DT_MAX_STACK_DEPTH + UC_MAX_SKIP + 2];
	int got = unw_backtrace(buf, max_depth + UC_MAX_SKIP + 2);
	int k = 0;
	/* Our own frames come first; the caller's is the first to return to who->ret (the shim's return
	 * addresses are all inside the shim, the caller's never is). */
	while (k < got && k <= UC_MAX_SKIP && (uint64_t)(uintptr_t)buf[k] != who->ret)
		k++;
	if (k >= got || k > UC_MAX_SKIP)
		return uc_walk(c, e, who, max_depth, gen); /* not found: the recording walk knows better */
	uint64_t pcs[DT_MAX_STACK_DEPTH];
	uint32_t flags = 0;
	int lead = uc_lead(who, pcs, &flags);
	int cap = uc_cap(lead, max_depth);
	int n = got - k;
	if (n > cap) {
		n = cap;
		flags |= DT_STACK_TRUNCATED;
	}
	for (int i = 0; i < n; i++)
		pcs[lead + i] = (uint64_t)(uintptr_t)buf[k + i];
	return dt_stack_intern_sigsafe(pcs, (uint32_t)(lead + n), flags);
}

uint32_t dt_alloc_stack_id_miss(struct dt_ucache *c, struct dt_uc_entry *e, const struct dt_caller *who,
                                int max_depth, uint64_t gen) /* ctx: hook */
{
	DT_UC_COUNT(c, misses);
	/* The guard breaks malloc -> libunwind -> dl_iterate_phdr -> malloc, and keeps the SIGPROF handler
	 * out of libunwind's caches while this walk uses them. */
	int saved_errno = errno;
	dt_in_shim++;
	dt_unwind_gate_enter(1);
	uint32_t id;
	/* Admission: a key is recorded (the expensive walk) on its DT_UC_RECORD_AFTER_MISSES-th miss, so
	 * stacks seen a few times -- most of a big program's distinct stacks -- cost only fast walks.
	 * A different hash from the entry's: keys that share an entry do not share a counter. */
	uint8_t *misses = &c->misses_of[((who->ret ^ who->leaf) * 0xc2b2ae3d27d4eb4full ^ who->sp) >>
	                                (64 - DT_UC_MISS_COUNTERS_LOG2)];
	if (++*misses >= DT_UC_RECORD_AFTER_MISSES) {
		*misses = 0;
		DT_UC_COUNT(c, recorded);
		id = uc_walk(c, e, who, max_depth, gen);
	} else {
		id = uc_fast(c, e, who, max_depth, gen);
	}
	dt_unwind_gate_leave();
	dt_in_shim--;
	errno = saved_errno;
	return id;
}

