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
 * other rbp offsets (hand-written assembly) is assumed not to call malloc.
 *
 * Recording walks start at the caller's frame: a context with rip = who->ret, rsp = who->sp and rbp =
 * who->rbp is exactly the state libunwind has there after stepping out of our frames (unw_init_local
 * takes its first pc as a return address, as a step does), since no other register decides a frame.
 *
 * Why a spliced root part is exact. From frame k on, libunwind's steps depend only on its state at k
 * -- pc_k, sp_k, rbp's value R_k, and whether k was reached out of a signal frame (which decides
 * whether pc_k or pc_k - 1 is looked up; such a step, and only such, loads rsp from memory) -- and on
 * the memory the steps load, all of it in slots at or above sp_k, except rbp's value: while no frame
 * from k up reloads rbp, it comes from where it was saved below sp_k, i.e. it is R_k. So when a walk
 * reaches a frame whose (pc, sp, arrival) equal those of frame k of a live entry, whose R equals that
 * entry's R_k if any step from k up used rbp before reloading it (rbp_dep), and whose slots at or above
 * sp_k recorded from frame k on still hold their values (checked in walk order, so each is the address
 * the walk itself would read), libunwind would take exactly the entry's steps from there: the entry's
 * frames k.. are the rest of the stack. Its slots below sp_k only ever stood for R_k and are dropped;
 * the new entry depends instead on where the walk's own rbp came from. A truncated entry is never a
 * splice source (its end is the depth cap, not the stack's). */
#define _GNU_SOURCE
#define UNW_LOCAL_ONLY
#include <errno.h>
#include <libunwind.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>

#include "dt_alloc.h"
#include "dt_shim.h"

#define UC_MAX_SKIP 32		    /* shim frames between the walker and the hooked call, at most */
#define UC_FP_CFA_OFFSET_BYTES 16   /* CFA - rbp after "push %rbp; mov %rsp,%rbp" */
#define UC_DRAP_SLOT_OFFSET_BYTES 8 /* gcc DRAP: CFA = [rbp - 8] */

_Atomic uint64_t dt_uc_code_gen = 1;

/* DEIATRACE_UNWIND_CACHE=off: every allocation is unwound by unw_backtrace, nothing is cached or
 * spliced. For checking the cache's stacks against libunwind's own (tests/integration/
 * mem_deep_stacks.sh). Allocations made before the shim's constructor read the configuration use the
 * default (on). */
static int uc_cache_off(void) /* ctx: any */
{
	return !dt_config_get()->unwind_cache_on;
}

/* The first thread's cache (1.8 MiB) goes in one huge page: its entries are written where
 * keys hash, two 4 KiB pages each, so with small pages a short process that allocates from a hundred
 * call sites pays a hundred-odd page faults (`cc --version` 142, about 13 us each on our VMs) for
 * its main thread alone. Measured by the start-up work: `cc --version` traced 13.7 -> 11.6 ms CPU,
 * `bash -c true` 17.3 -> 14.9. Other threads keep small pages: a huge page each would cost 2 MiB of
 * RSS per allocating thread. */
struct dt_ucache *dt_ucache_new(void) /* ctx: any */
{
	static _Atomic int huge_page_taken;
	void *p = NULL;
	if (!atomic_exchange_explicit(&huge_page_taken, 1, memory_order_relaxed))
		p = dt_map_hugepage_aligned(sizeof(struct dt_ucache), sizeof(struct dt_ucache));
	if (!p) {
		p = mmap(NULL, sizeof(struct dt_ucache), PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (p == MAP_FAILED)
			return NULL;
	}
	return p; /* zero-filled: every entry has gen 0, i.e. empty */
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
	out->spliced = __atomic_load_n(&c->stats.spliced, __ATOMIC_RELAXED);
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
	uint64_t last_addr;	 /* last slot appended (rbp slots repeat while rbp is not re-saved) */
	int ok;			 /* 0 once something could not be recorded: do not cache */
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

/* rbp's save location as one comparable word: its address, or 0 when it is in no memory slot. */
static uint64_t uc_loc_key(const unw_save_loc_t *loc) /* ctx: hook */
{
	return loc->type == UNW_SLT_MEMORY ? (uint64_t)loc->u.addr : 0;
}

static uint32_t uc_anchor_index(uint64_t pc, uint64_t sp) /* ctx: hook */
{
	return (uint32_t)(((pc ^ (sp >> 3)) * 0x9e3779b97f4a7c15ull) >> (64 - DT_UC_ANCHORS_LOG2));
}

/* A frame of another live, complete entry that libunwind's state at this frame (pc, sp, rbp, how it
 * was reached) matches, and whose slots from there up still hold what they held: frame index in
 * *k, or NULL. Slots below sp are rbp save slots of that entry's own leaf part: they only ever gave
 * rbp's value at the frame, which the rbp comparison replaces. ctx: hook */
static const struct dt_uc_entry *uc_splice_find(const struct dt_ucache *c, const struct dt_uc_entry *self,
						uint64_t gen, uint64_t pc, uint64_t sp, uint64_t rbp,
						int via_sig, uint32_t *k, const uint64_t **opcs)
{
	const struct dt_uc_anchor *a = &c->anchor[uc_anchor_index(pc, sp)];
	if (a->pc != pc || a->sp != sp)
		return NULL;
	const struct dt_uc_entry *o = &c->e[a->entry];
	if (o == self || o->gen != gen || o->serial != a->serial || o->truncated ||
	    a->frame >= o->nframe_info)
		return NULL;
	const struct dt_uc_frame *f = &o->frame[a->frame];
	if (f->sp != sp || f->via_sig != via_sig || (f->rbp_dep && f->rbp != rbp))
		return NULL;
	for (uint32_t i = f->slot0; i < o->nslots; i++) {
		const struct dt_uc_slot *s = &o->slot[i];
		if (s->addr >= sp && *(const volatile uint64_t *)(uintptr_t)s->addr != s->val)
			return NULL;
	}
	uint32_t oflags;
	if (dt_stack_get(o->stack, opcs, &oflags) != (uint32_t)o->lead + o->nframes)
		return NULL; /* cannot happen: an entry's stack has its frames */
	*k = a->frame;
	return o;
}

/* Frames the caller's part of the stack may take: the leaf counts against max_depth, but the call
 * site is always kept, so such a stack has at most max(max_depth, 2) <= DT_MAX_STACK_DEPTH frames. */
static int uc_cap(int lead, int max_depth) /* ctx: hook */
{
	return lead && max_depth > 1 ? max_depth - lead : max_depth;
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

/* The recording walk's per-frame facts needed after it ends (rbp_dep is computed backwards). */
struct uc_walked {
	uint64_t rbp_loc[DT_UC_FRAMES]; /* uc_loc_key of rbp at the frame */
	uint8_t rbp_used[DT_UC_FRAMES]; /* the step from the frame computed its CFA from rbp */
};

/* Copy the root part of `o` (stack opcs) from its frame k onto the walk being recorded, which is at
 * its frame fi (not yet in pcs) with the same pc, sp, rbp value and arrival. Returns the frame count. */
static int uc_splice(struct uc_rec *r, const struct dt_uc_entry *o, const uint64_t *opcs, uint32_t k, int fi,
		     uint64_t *pcs, int n, int lead, int cap, uint32_t *flags,
		     const unw_save_loc_t *rbp_loc) /* ctx: hook */
{
	struct dt_uc_entry *e = r->e;
	const struct dt_uc_frame *of = &o->frame[k];
	/* The root part used this frame's rbp: it is now whatever the new walk's rbp came from. */
	if (of->rbp_dep)
		uc_depends_on(r, rbp_loc, 1);
	uint32_t si = of->slot0;
	for (uint32_t m = k; m < o->nframes; m++, fi++) {
		if (n - lead >= cap) {
			*flags |= DT_STACK_TRUNCATED;
			e->truncated = 1;
			break;
		}
		pcs[n++] = opcs[o->lead + m];
		if (m < o->nframe_info && (uint32_t)fi < DT_UC_FRAMES && e->nframe_info == (uint32_t)fi) {
			e->frame[fi] = o->frame[m];
			e->frame[fi].slot0 = (uint16_t)e->nslots;
			e->nframe_info = (uint32_t)fi + 1;
		}
		/* This frame's slots in `o`: up to the next frame's start, or all the rest at the top. */
		uint32_t end = m + 1 < o->nframe_info ? o->frame[m + 1].slot0 : o->nslots;
		r->last_addr = 0;
		for (; si < end; si++)
			if (o->slot[si].addr >= of->sp)
				uc_append(r, o->slot[si].addr);
	}
	e->nframes = (uint16_t)(n - lead);
	return n;
}

/* rbp_dep of every described frame, from the top down: a frame's rbp matters above it when the step
 * from it used rbp, or when the next frame kept rbp where it was (not reloaded) and it matters there.
 * `top_dep` is rbp_dep of the frame above the last described one (0 when the walk ended). */
static void uc_rbp_deps(struct dt_uc_entry *e, const struct uc_walked *w, uint32_t nw, uint64_t top_loc,
			int top_dep) /* ctx: hook */
{
	uint64_t next_loc = top_loc;
	int next_dep = top_dep;
	for (uint32_t i = nw; i-- > 0;) {
		int dep = w->rbp_used[i] || (w->rbp_loc[i] == next_loc && next_dep);
		e->frame[i].rbp_dep = (uint8_t)dep;
		next_loc = w->rbp_loc[i];
		next_dep = dep;
	}
}

/* Every described frame of e becomes a splice point for later walks. pcs: e's stack. */
static void uc_anchor_all(struct dt_ucache *c, const struct dt_uc_entry *e,
			  const uint64_t *pcs) /* ctx: hook */
{
	uint16_t self = (uint16_t)(e - c->e);
	for (uint32_t i = 0; i < e->nframe_info; i++) {
		uint64_t pc = pcs[e->lead + i];
		struct dt_uc_anchor *a = &c->anchor[uc_anchor_index(pc, e->frame[i].sp)];
		*a = (struct dt_uc_anchor){
		    .pc = pc, .sp = e->frame[i].sp, .serial = e->serial, .entry = self, .frame = (uint16_t)i};
	}
}

/* Into the cache entry: the walk's result, its slots and its described frames. */
static void uc_install(struct dt_uc_entry *e, const struct dt_uc_entry *x) /* ctx: hook */
{
	e->gen = 0;
	e->ret = x->ret;
	e->sp = x->sp;
	e->rbp = x->rbp;
	e->leaf = x->leaf;
	e->stack = x->stack;
	e->nslots = x->nslots;
	e->max_depth = x->max_depth;
	e->rbp_needed = x->rbp_needed;
	memcpy(e->slot, x->slot, x->nslots * sizeof(x->slot[0]));
	e->serial++;
	e->nframes = x->nframes;
	e->lead = x->lead;
	e->truncated = x->truncated;
	e->nframe_info = x->nframe_info;
	memcpy(e->frame, x->frame, x->nframe_info * sizeof(x->frame[0]));
	e->gen = x->gen;
}

static struct dt_uc_entry *uc_other_way(struct dt_ucache *c, const struct dt_uc_entry *e) /* ctx: hook */
{
	return &c->e[(uint32_t)(e - c->e) ^ 1u];
}

/* Records into the cache's scratch entry, so that the entry being replaced can still serve as a
 * splice source (a key whose slots changed usually shares most of its stack with its old self). */
static __attribute__((noinline)) uint32_t uc_walk(struct dt_ucache *c, struct dt_uc_entry *e,
						  const struct dt_caller *who, int max_depth,
						  uint64_t gen) /* ctx: hook */
{
	struct dt_uc_entry *slot_e = e;
	e = &c->scratch;
	unw_context_t ctx;
	unw_cursor_t cur;
	uint64_t pcs[DT_MAX_STACK_DEPTH];
	struct uc_walked w;
	uint32_t flags = 0;
	int n = 0;
	unw_word_t ip, sp, rbp;
	unw_save_loc_t rbp_loc, loc;
	int lead = uc_lead(who, pcs, &flags);
	int cap = uc_cap(lead, max_depth);
	uint64_t top_loc = 0;
	int top_dep = 0;

	struct uc_rec r = {.e = e, .own_hi = who->sp, .ok = 1};
	r.own_lo = (uint64_t)(uintptr_t)&ctx;
	if ((uint64_t)(uintptr_t)&cur < r.own_lo)
		r.own_lo = (uint64_t)(uintptr_t)&cur;
	if ((uint64_t)(uintptr_t)pcs < r.own_lo)
		r.own_lo = (uint64_t)(uintptr_t)pcs;

	e->gen = 0;
	e->nslots = 0;
	e->rbp_needed = 0;
	e->nframes = 0;
	e->nframe_info = 0;
	e->truncated = 0;
	e->lead = (uint8_t)lead;
	/* Start at the caller's frame itself: the state libunwind reaches there after stepping out of our
	 * frames is rip = who->ret (a return address, as unw_init_local takes its first pc), rsp = who->sp
	 * and the caller's rbp; the other registers never decide a frame (see the opening comment). */
	if (unw_getcontext(&ctx) != 0)
		goto fail;
	ctx.uc_mcontext.gregs[REG_RIP] = (greg_t)who->ret;
	ctx.uc_mcontext.gregs[REG_RSP] = (greg_t)who->sp;
	ctx.uc_mcontext.gregs[REG_RBP] = (greg_t)who->rbp;
	if (unw_init_local(&cur, &ctx) != 0)
		goto fail;
	ip = who->ret;
	sp = who->sp;

	n = lead;
	int via_sig = 0;
	for (;;) {
		int fi = n - lead;
		uint64_t frame_sp = sp;
		if (unw_get_reg(&cur, UNW_X86_64_RBP, &rbp) != 0 ||
		    unw_get_save_loc(&cur, UNW_X86_64_RBP, &rbp_loc) != 0) {
			r.ok = 0; /* the stack is still walked to its end, just not cached */
			rbp = 0;
			rbp_loc.type = UNW_SLT_NONE;
		}
		uint32_t k;
		const uint64_t *opcs;
		const struct dt_uc_entry *o =
		    r.ok ? uc_splice_find(c, e, gen, ip, frame_sp, rbp, via_sig, &k, &opcs) : NULL;
		if (o) {
			DT_UC_COUNT(c, spliced);
			uint32_t nw = (uint32_t)fi < DT_UC_FRAMES ? (uint32_t)fi : DT_UC_FRAMES;
			top_loc = uc_loc_key(&rbp_loc);
			top_dep = o->frame[k].rbp_dep;
			if (nw < (uint32_t)fi) { /* undescribed frames in between: assume they used rbp */
				top_loc = w.rbp_loc[nw - 1];
				top_dep = 1;
			}
			n = uc_splice(&r, o, opcs, k, fi, pcs, n, lead, cap, &flags, &rbp_loc);
			uc_rbp_deps(e, &w, nw, top_loc, top_dep);
			goto done;
		}
		pcs[n++] = ip;
		if (fi < (int)DT_UC_FRAMES) {
			e->frame[fi] = (struct dt_uc_frame){.sp = frame_sp,
							    .rbp = rbp,
							    .slot0 = (uint16_t)e->nslots,
							    .via_sig = (uint8_t)via_sig};
			e->nframe_info = (uint32_t)fi + 1;
			w.rbp_loc[fi] = uc_loc_key(&rbp_loc);
			w.rbp_used[fi] = 1;
		}
		r.last_addr = 0; /* a frame's slots start afresh: splice points verify from slot0 on */
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
				rbp_used =
				    *(const uint64_t *)(uintptr_t)(rbp - UC_DRAP_SLOT_OFFSET_BYTES) == cfa;
		} else if (step > 0) {
			r.ok = 0;
		}
		if (fi < (int)DT_UC_FRAMES)
			w.rbp_used[fi] = (uint8_t)rbp_used;
		/* In walk order: the rbp the CFA came from, then what the step loaded from the CFA. */
		if (rbp_used)
			uc_depends_on(&r, &rbp_loc, 1);
		via_sig = 0;
		if (unw_get_save_loc(&cur, UNW_X86_64_RSP, &loc) == 0 && loc.type == UNW_SLT_MEMORY) {
			uc_depends_on(&r, &loc, 0);
			via_sig = 1;
		}
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
			e->truncated = 1;
			break;
		}
	}
	e->nframes = (uint16_t)(n - lead);
	/* Nothing above the walk's last frame depends on anything; frames above the described ones are
	 * not known here: assume they used rbp (which only costs splices). */
	if (e->nframe_info < e->nframes)
		uc_rbp_deps(e, &w, e->nframe_info, w.rbp_loc[e->nframe_info - 1], 1);
	else
		uc_rbp_deps(e, &w, e->nframe_info, 0, 0);
done:;
	uint32_t id = dt_stack_intern_sigsafe(pcs, (uint32_t)n, flags);
	if (!r.ok || id == DT_STACK_NONE || uc_cache_off()) {
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
	/* Two ways per pair of entries: what the new stack displaces from its own entry (often the same
	 * call site reached from another caller) moves to the pair's other entry. */
	if (slot_e->gen == gen) {
		struct dt_uc_entry *other = uc_other_way(c, slot_e);
		const uint64_t *opcs;
		uint32_t oflags;
		if (dt_stack_get(slot_e->stack, &opcs, &oflags) == (uint32_t)slot_e->lead + slot_e->nframes) {
			uc_install(other, slot_e);
			uc_anchor_all(c, other, opcs);
		}
	}
	uc_install(slot_e, e);
	e = slot_e;
	uc_anchor_all(c, e, pcs);
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
	/* The pair's other entry: the same checks as the hit path in dt_alloc.h. */
	const struct dt_uc_entry *o = uc_other_way(c, e);
	if (!uc_cache_off() && o->gen == gen && o->ret == who->ret && o->sp == who->sp &&
	    o->leaf == who->leaf && (o->rbp == who->rbp || !o->rbp_needed) && o->max_depth == max_depth) {
		const struct dt_uc_slot *s = o->slot, *end = o->slot + o->nslots;
		while (s < end && *(const volatile uint64_t *)(uintptr_t)s->addr == s->val)
			s++;
		if (s == end) {
			DT_UC_COUNT(c, hits);
			return o->stack;
		}
	}
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
	if (uc_cache_off()) {
		id = uc_fast(c, e, who, max_depth, gen);
	} else if (++*misses >= DT_UC_RECORD_AFTER_MISSES) {
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
