/* dt_calls.c: exact call statistics for programs built with -finstrument-functions. Owns the exported
 * __cyg_profile_func_enter/exit, per-thread shadow stacks and function tables, and DT_SEC_CALLS.
 * The hooks run on every instrumented call: no locks, no malloc, no libc call on the hot path (rdtsc or
 * the vDSO clock); all memory is mmap'd. dt_calls_emit is called by the trace writer, from any thread. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <cpuid.h>
#include <x86intrin.h>
#endif

#include "dt_shim.h"

/* Everything here must stay uninstrumented even if someone builds the shim with -finstrument-functions:
 * an instrumented hook would call itself forever. */
#define DT_NOINSTR __attribute__((no_instrument_function))

#define DT_CALLS_MAX_DEPTH 4096u /* shadow-stack frames per thread; deeper calls are counted, not timed */
#define DT_CALLS_TABLE_INIT_SLOTS 1024u	    /* first per-thread function table (power of two) */
#define DT_CALLS_TABLE_MAX_SLOTS (1u << 20) /* growth stops here (48 MiB); new functions are then dropped */
#define DT_CALLS_CALIB_MIN_NS 2000000ull    /* the TSC is calibrated over at least 2 ms of CLOCK_MONOTONIC */
#define DT_CALLS_CALIB_TRIES 7		    /* (tsc, ns) pair reads; the tightest bracket wins */
#define DT_NS_PER_S 1000000000ull
#define DT_CALLS_INVARIANT_TSC_BIT (1u << 8) /* CPUID 0x80000007 EDX: the TSC ticks at a constant rate */

/* One function in one thread's table. The owner thread is the only writer; the writer thread reads
 * concurrently (checkpoints), so every field is accessed with relaxed atomics and `fn` is published last. */
struct dt_calls_fn {
	uint64_t fn; /* 0: empty slot */
	uint64_t calls;
	uint64_t incl_ticks; /* outermost activations only, so recursion is not counted twice */
	uint64_t excl_ticks;
	uint64_t max_ticks; /* longest single activation */
	uint64_t active;    /* activations of fn open on the owner's shadow stack (owner only) */
};

struct dt_calls_table {
	uint32_t mask; /* slots - 1 */
	uint32_t used;
	size_t map_bytes;
	struct dt_calls_table *retired; /* the table this one replaced, kept mapped for concurrent readers */
	struct dt_calls_fn slot[];
};

struct dt_calls_frame {
	uint64_t fn;
	struct dt_calls_fn *e; /* NULL when the function could not get a table slot */
	uint64_t enter_ticks;
	uint64_t child_ticks; /* inclusive time of the callees that returned so far */
};

/* One per thread that ever ran instrumented code; pushed on a list, never freed. A record whose thread
 * exited is released (owner = 0) and adopted by the next new thread, whose counts simply add to it. */
struct dt_calls_thread {
	struct dt_calls_thread *next;
	struct dt_calls_table *table; /* release-published by the owner on growth */
	uint32_t owner;		      /* 1 while a live thread uses the record */
	uint32_t depth;
	uint64_t overflow_depth; /* activations open above DT_CALLS_MAX_DEPTH */
	uint64_t overflows;	 /* calls entered above the cap: counted, not timed */
	uint64_t skipped;	 /* calls not counted: the shim was busy on this thread */
	uint64_t dropped;	 /* calls counted nowhere: no table slot */
	uint64_t stray_exits;	 /* exits with no matching enter (longjmp, a guard change mid-call) */
	int grow_failed;
	struct dt_calls_frame frame[DT_CALLS_MAX_DEPTH];
};

enum { DT_CALLS_T_NEW, DT_CALLS_T_LIVE, DT_CALLS_T_OFF };
enum { DT_CALLS_G_NONE, DT_CALLS_G_BUSY, DT_CALLS_G_DONE };

static DT_TLS __thread struct dt_calls_thread *dt_calls_self;
static DT_TLS __thread uint32_t dt_calls_tstate; /* DT_CALLS_T_* */
/* Set while this thread is inside a hook or the emitter: an instrumented signal handler that lands in
 * the middle of a push or pop must not touch the half-updated stack. */
static DT_TLS __thread uint32_t dt_calls_busy;

static struct dt_calls_thread *dt_calls_threads; /* push-only list head (acquire/release) */
static uint32_t dt_calls_gstate;		 /* DT_CALLS_G_* */
static int dt_calls_seen;			 /* an instrumented function ran */
static int dt_calls_use_tsc;
static uint64_t dt_calls_base_tsc, dt_calls_base_ns; /* calibration origin */
static pthread_key_t dt_calls_key;
static int dt_calls_key_ok;
static int dt_calls_warned; /* the losses line was printed */

/* ---------------------------------------------------------------- clock */

static inline DT_NOINSTR uint64_t dt_calls_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * DT_NS_PER_S + (uint64_t)ts.tv_nsec;
}

/* ctx: sigsafe. Ticks are TSC cycles when the TSC is invariant, nanoseconds otherwise. */
static inline DT_NOINSTR uint64_t dt_calls_ticks(void)
{
#if defined(__x86_64__)
	if (__builtin_expect(dt_calls_use_tsc, 1))
		return __rdtsc();
#endif
	return dt_calls_mono_ns();
}

/* ctx: any. Reads a (ticks, ns) pair; the tightest of a few brackets keeps the pair within ~20 ns. */
static DT_NOINSTR void dt_calls_clock_pair(uint64_t *ticks, uint64_t *ns)
{
	uint64_t best = UINT64_MAX;

	for (int i = 0; i < DT_CALLS_CALIB_TRIES; i++) {
		uint64_t a = dt_calls_ticks();
		uint64_t t = dt_calls_mono_ns();
		uint64_t b = dt_calls_ticks();

		if (b - a < best) {
			best = b - a;
			*ticks = a + (b - a) / 2;
			*ns = t;
		}
	}
}

static DT_NOINSTR int dt_calls_tsc_usable(void)
{
#if defined(__x86_64__)
	unsigned int a, b, c, d;

	if (__get_cpuid(0x80000007u, &a, &b, &c, &d) && (d & DT_CALLS_INVARIANT_TSC_BIT))
		return 1;
#endif
	return 0;
}

/* ---------------------------------------------------------------- small helpers */

static inline DT_NOINSTR uint64_t dt_calls_load(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/* Owner-only read-modify-write: a plain add, but a single store the concurrent reader cannot tear. */
static inline DT_NOINSTR void dt_calls_add(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, *p + v, __ATOMIC_RELAXED);
}

static inline DT_NOINSTR uint32_t dt_calls_hash(uint64_t fn, uint32_t mask)
{
	/* Fibonacci hashing; functions are usually 16-byte aligned, so the low bits carry nothing. */
	return (uint32_t)(((fn >> 4) * 0x9e3779b97f4a7c15ull) >> 32) & mask;
}

static DT_NOINSTR void *dt_calls_map(size_t bytes)
{
	void *p =
	    mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static DT_NOINSTR char *dt_calls_fmt_u64(char *p, uint64_t v)
{
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

static DT_NOINSTR char *dt_calls_fmt_str(char *p, const char *s)
{
	size_t n = strlen(s);

	memcpy(p, s, n);
	return p + n;
}

/* ---------------------------------------------------------------- per-thread function table */

static DT_NOINSTR struct dt_calls_table *dt_calls_table_new(uint32_t slots)
{
	size_t bytes = sizeof(struct dt_calls_table) + (size_t)slots * sizeof(struct dt_calls_fn);
	struct dt_calls_table *t = dt_calls_map(bytes);

	if (!t)
		return NULL;
	t->mask = slots - 1;
	t->map_bytes = bytes;
	return t;
}

static DT_NOINSTR struct dt_calls_fn *dt_calls_probe(struct dt_calls_table *tab, uint64_t fn)
{
	uint32_t i = dt_calls_hash(fn, tab->mask);

	while (tab->slot[i].fn != fn && tab->slot[i].fn != 0)
		i = (i + 1) & tab->mask;
	return &tab->slot[i];
}

/* ctx: hook (owner thread). Doubles the table; the old one stays mapped because the writer may be
 * reading it right now. Open frames are re-pointed at the new slots. */
static DT_NOINSTR int dt_calls_grow(struct dt_calls_thread *t)
{
	struct dt_calls_table *old = t->table, *tab;
	uint32_t slots = (old->mask + 1) * 2;

	if (slots > DT_CALLS_TABLE_MAX_SLOTS || !(tab = dt_calls_table_new(slots)))
		return -1;
	for (uint32_t i = 0; i <= old->mask; i++) {
		if (old->slot[i].fn)
			*dt_calls_probe(tab, old->slot[i].fn) = old->slot[i];
	}
	tab->used = old->used;
	tab->retired = old;
	for (uint32_t d = 0; d < t->depth; d++) {
		if (t->frame[d].e)
			t->frame[d].e = dt_calls_probe(tab, t->frame[d].fn);
	}
	/* Release: a reader that sees the new table sees its filled slots. */
	__atomic_store_n(&t->table, tab, __ATOMIC_RELEASE);
	return 0;
}

/* ctx: hook. Slow path of dt_calls_lookup: first call of fn on this thread. */
static __attribute__((noinline)) DT_NOINSTR struct dt_calls_fn *dt_calls_insert(struct dt_calls_thread *t,
										uint64_t fn)
{
	struct dt_calls_table *tab = t->table;
	struct dt_calls_fn *e;

	/* Keep the load at or under one half so probes stay short; if growing fails, fill up to all but
	 * one slot (an empty slot ends every probe). */
	if ((tab->used + 1) * 2 > tab->mask + 1 && !t->grow_failed && dt_calls_grow(t) < 0)
		t->grow_failed = 1;
	tab = t->table;
	if (tab->used + 1 >= tab->mask + 1)
		return NULL;
	e = dt_calls_probe(tab, fn);
	tab->used++;
	/* Release: a reader that sees fn sees zeroed counters, never a previous occupant's. */
	__atomic_store_n(&e->fn, fn, __ATOMIC_RELEASE);
	return e;
}

static inline DT_NOINSTR struct dt_calls_fn *dt_calls_lookup(struct dt_calls_thread *t, uint64_t fn)
{
	struct dt_calls_table *tab = t->table;
	uint32_t i = dt_calls_hash(fn, tab->mask);

	for (;;) {
		struct dt_calls_fn *e = &tab->slot[i];

		if (__builtin_expect(e->fn == fn, 1))
			return e;
		if (e->fn == 0)
			return dt_calls_insert(t, fn);
		i = (i + 1) & tab->mask;
	}
}

/* ---------------------------------------------------------------- thread and process setup */

/* ctx: any (thread exit). Releases the record for adoption; open frames will never return. */
static DT_NOINSTR void dt_calls_thread_exit(void *arg)
{
	struct dt_calls_thread *t = arg;

	dt_calls_busy = 1;
	for (uint32_t d = 0; d < t->depth; d++) {
		if (t->frame[d].e)
			t->frame[d].e->active = 0;
	}
	t->depth = 0;
	t->overflow_depth = 0;
	dt_calls_self = NULL;
	/* Instrumented code in later TLS destructors of this thread is ignored, not re-registered. */
	dt_calls_tstate = DT_CALLS_T_OFF;
	/* Release: the adopting thread sees the cleaned stack. */
	__atomic_store_n(&t->owner, 0, __ATOMIC_RELEASE);
	dt_calls_busy = 0;
}

/* ctx: any (fork child, single-threaded). The inherited counts are the parent's: start from zero. */
static DT_NOINSTR void dt_calls_atfork_child(void)
{
	uint64_t now = dt_calls_ticks();

	for (struct dt_calls_thread *t = dt_calls_threads; t; t = t->next) {
		struct dt_calls_table *tab = t->table;

		for (uint32_t i = 0; i <= tab->mask; i++) {
			struct dt_calls_fn *e = &tab->slot[i];

			e->calls = e->incl_ticks = e->excl_ticks = e->max_ticks = e->active = 0;
		}
		t->overflows = t->skipped = t->dropped = t->stray_exits = 0;
		if (t != dt_calls_self) {
			t->depth = 0;
			t->overflow_depth = 0;
			t->owner = 0;
		}
	}
	if (dt_calls_self) {
		struct dt_calls_thread *t = dt_calls_self;

		for (uint32_t d = 0; d < t->depth; d++) {
			t->frame[d].enter_ticks = now;
			t->frame[d].child_ticks = 0;
			if (t->frame[d].e)
				t->frame[d].e->active++;
		}
	}
	dt_calls_warned = 0;
}

/* ctx: any, once per process. */
static DT_NOINSTR void dt_calls_global_init(void)
{
	uint32_t expected = DT_CALLS_G_NONE;

	if (__atomic_load_n(&dt_calls_gstate, __ATOMIC_ACQUIRE) == DT_CALLS_G_DONE)
		return;
	if (!__atomic_compare_exchange_n(&dt_calls_gstate, &expected, DT_CALLS_G_BUSY, 0, __ATOMIC_ACQUIRE,
					 __ATOMIC_ACQUIRE)) {
		while (__atomic_load_n(&dt_calls_gstate, __ATOMIC_ACQUIRE) != DT_CALLS_G_DONE)
			sched_yield();
		return;
	}
	dt_in_shim++; /* pthread_key_create/pthread_atfork may allocate: keep the malloc hook out */
	dt_calls_use_tsc = dt_calls_tsc_usable();
	dt_calls_clock_pair(&dt_calls_base_tsc, &dt_calls_base_ns);
	dt_calls_key_ok = pthread_key_create(&dt_calls_key, dt_calls_thread_exit) == 0;
	if (pthread_atfork(NULL, NULL, dt_calls_atfork_child) != 0)
		dt_warn("calls: pthread_atfork failed; a forked child's call counts include its parent's");
	dt_in_shim--;
	__atomic_store_n(&dt_calls_gstate, DT_CALLS_G_DONE, __ATOMIC_RELEASE);
}

/* ctx: hook. First instrumented call on this thread: adopt a released record or map a new one. */
static __attribute__((noinline)) DT_NOINSTR struct dt_calls_thread *dt_calls_thread_init(void)
{
	struct dt_calls_thread *t, *head;

	if (dt_calls_tstate != DT_CALLS_T_NEW)
		return NULL;
	dt_calls_global_init();
	for (t = __atomic_load_n(&dt_calls_threads, __ATOMIC_ACQUIRE); t; t = t->next) {
		uint32_t free_owner = 0;

		if (__atomic_load_n(&t->owner, __ATOMIC_RELAXED) == 0 &&
		    __atomic_compare_exchange_n(&t->owner, &free_owner, 1, 0, __ATOMIC_ACQUIRE,
						__ATOMIC_RELAXED))
			break;
	}
	if (!t) {
		t = dt_calls_map(sizeof(*t));
		if (!t || !(t->table = dt_calls_table_new(DT_CALLS_TABLE_INIT_SLOTS))) {
			if (t)
				munmap(t, sizeof(*t));
			dt_calls_tstate = DT_CALLS_T_OFF;
			dt_warn("calls: out of memory for a thread's call table; its calls are not counted");
			return NULL;
		}
		t->owner = 1;
		head = __atomic_load_n(&dt_calls_threads, __ATOMIC_RELAXED);
		do
			t->next = head;
		/* Release: a reader that finds t sees its table. */
		while (!__atomic_compare_exchange_n(&dt_calls_threads, &head, t, 1, __ATOMIC_RELEASE,
						    __ATOMIC_RELAXED));
	}
	if (dt_calls_key_ok) {
		dt_in_shim++; /* a key index past the first block makes glibc calloc */
		pthread_setspecific(dt_calls_key, t);
		dt_in_shim--;
	}
	__atomic_store_n(&dt_calls_seen, 1, __ATOMIC_RELAXED);
	dt_calls_tstate = DT_CALLS_T_LIVE;
	dt_calls_self = t;
	return t;
}

/* At load: the process-wide setup, so that it never runs first inside a signal handler (it takes
 * glibc's key and atfork locks) and the TSC calibration spans the whole run. Then, a program that
 * defines __cyg_profile_func_enter itself keeps its own: say so instead of reporting nothing.
 * dlsym of a defined name does not allocate on glibc 2.36. */
extern void dt_calls_enter_self(void *fn, void *site)
    __attribute__((alias("__cyg_profile_func_enter"), visibility("hidden")));

static __attribute__((constructor)) DT_NOINSTR void dt_calls_at_load(void)
{
	void *bound;
	Dl_info info;
	char msg[512], *p = msg;

	dt_calls_global_init();
	dt_in_shim++;
	bound = dlsym(RTLD_DEFAULT, "__cyg_profile_func_enter");
	if (bound && bound != (void *)dt_calls_enter_self) {
		const char *who = dladdr(bound, &info) && info.dli_fname && info.dli_fname[0] ? info.dli_fname
											      : "the program";
		p = dt_calls_fmt_str(p, "calls: __cyg_profile_func_enter is defined by ");
		p = dt_calls_fmt_str(p, strlen(who) < sizeof(msg) - 160 ? who : "another object");
		p = dt_calls_fmt_str(p, ", which wins over the preloaded one; exact call counts are off");
		*p = '\0';
		dt_warn(msg);
	}
	dt_in_shim--;
}

/* ---------------------------------------------------------------- the hooks */

/* ctx: hook (owner thread, busy set). Closes the top frame at `now`. */
static inline DT_NOINSTR void dt_calls_pop(struct dt_calls_thread *t, uint64_t now)
{
	struct dt_calls_frame *f = &t->frame[--t->depth];
	struct dt_calls_fn *e = f->e;
	/* A migration between cores with slightly skewed TSCs must not wrap to a huge duration. */
	uint64_t dur = now > f->enter_ticks ? now - f->enter_ticks : 0;
	uint64_t self = dur > f->child_ticks ? dur - f->child_ticks : 0;

	if (t->depth)
		t->frame[t->depth - 1].child_ticks += dur;
	if (!e)
		return;
	dt_calls_add(&e->excl_ticks, self);
	if (dur > e->max_ticks)
		__atomic_store_n(&e->max_ticks, dur, __ATOMIC_RELAXED);
	if (--e->active == 0)
		dt_calls_add(&e->incl_ticks, dur);
}

/* ctx: hook. An exit whose function is not on top: frames above it were left by longjmp (or a C++
 * exception through uninstrumented code). Close them now; return 0 if fn is not open at all. */
static __attribute__((noinline)) DT_NOINSTR int dt_calls_unwind_to(struct dt_calls_thread *t, uint64_t fn,
								   uint64_t now)
{
	uint32_t d = t->depth;

	while (d > 0 && t->frame[d - 1].fn != fn)
		d--;
	if (d == 0)
		return 0;
	while (t->depth > d)
		dt_calls_pop(t, now);
	return 1;
}

DT_EXPORT DT_NOINSTR void __cyg_profile_func_enter(void *fn, void *site)
{
	struct dt_calls_thread *t = dt_calls_self;
	struct dt_calls_fn *e;

	(void)site;
	if (__builtin_expect(t == NULL, 0) && !(t = dt_calls_thread_init()))
		return;
	if (__builtin_expect(dt_in_shim | dt_calls_busy, 0)) {
		/* The shim (or this hook, interrupted by an instrumented signal handler) is running on this
		 * thread: the matching exit sees the same flag and is skipped too. */
		t->skipped++;
		return;
	}
	dt_calls_busy = 1;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	e = dt_calls_lookup(t, (uint64_t)(uintptr_t)fn);
	if (__builtin_expect(e != NULL, 1))
		dt_calls_add(&e->calls, 1);
	else
		t->dropped++;
	if (__builtin_expect(t->depth < DT_CALLS_MAX_DEPTH && t->overflow_depth == 0, 1)) {
		struct dt_calls_frame *f = &t->frame[t->depth++];

		f->fn = (uint64_t)(uintptr_t)fn;
		f->e = e;
		f->child_ticks = 0;
		if (e)
			e->active++;
		/* Read the clock last so the hook's own work is not charged to fn. */
		f->enter_ticks = dt_calls_ticks();
	} else {
		t->overflow_depth++;
		t->overflows++;
	}
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	dt_calls_busy = 0;
}

DT_EXPORT DT_NOINSTR void __cyg_profile_func_exit(void *fn, void *site)
{
	uint64_t now = dt_calls_ticks(); /* first, for the same reason */
	struct dt_calls_thread *t = dt_calls_self;

	(void)site;
	if (__builtin_expect(t == NULL || (dt_in_shim | dt_calls_busy), 0))
		return;
	dt_calls_busy = 1;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	if (__builtin_expect(t->overflow_depth != 0, 0))
		t->overflow_depth--;
	else if (__builtin_expect(t->depth != 0 && t->frame[t->depth - 1].fn == (uint64_t)(uintptr_t)fn, 1))
		dt_calls_pop(t, now);
	else if (dt_calls_unwind_to(t, (uint64_t)(uintptr_t)fn, now))
		dt_calls_pop(t, now);
	else
		t->stray_exits++;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	dt_calls_busy = 0;
}

/* ---------------------------------------------------------------- the writer's side */

int dt_calls_active(void)
{
	return __atomic_load_n(&dt_calls_seen, __ATOMIC_RELAXED);
}

struct dt_calls_out {
	uint64_t fn, calls, incl_ticks, excl_ticks, max_ticks;
};

/* The writer's merged table: open addressing over every thread's entries. */
struct dt_calls_merged {
	struct dt_calls_out *slot;
	uint32_t mask;
	uint32_t used;
	uint64_t lost; /* entries that found no room: a table grew after the merge was sized */
};

/* ctx: any. Adds one function's numbers to the merged table. */
static DT_NOINSTR void dt_calls_merge(struct dt_calls_merged *m, const struct dt_calls_out *v)
{
	uint32_t i = dt_calls_hash(v->fn, m->mask);
	struct dt_calls_out *o;

	while (m->slot[i].fn != v->fn && m->slot[i].fn != 0)
		i = (i + 1) & m->mask;
	o = &m->slot[i];
	if (o->fn == 0) {
		/* An owner may have grown its table since the sizing pass: keep one slot empty so probes end.
		 */
		if (m->used + 1 >= m->mask + 1) {
			m->lost++;
			return;
		}
		m->used++;
		o->fn = v->fn;
	}
	o->calls += v->calls;
	o->incl_ticks += v->incl_ticks;
	o->excl_ticks += v->excl_ticks;
	if (v->max_ticks > o->max_ticks)
		o->max_ticks = v->max_ticks;
}

/* ctx: any. The calling thread's own open frames count as if they returned now: exit() called from deep
 * inside the program would otherwise leave main and its callers out. Other threads' stacks move under
 * us and are left alone. */
static DT_NOINSTR void dt_calls_merge_open_frames(struct dt_calls_merged *m, uint64_t now)
{
	struct dt_calls_thread *t = dt_calls_self;
	uint64_t callee_ticks = 0;

	if (!t)
		return;
	/* Walking down with e->active decremented tells which frame is a function's outermost one; the
	 * counts are restored below (owner thread, busy set: nothing else touches them). */
	for (uint32_t d = t->depth; d-- > 0;) {
		struct dt_calls_frame *f = &t->frame[d];
		uint64_t dur = now > f->enter_ticks ? now - f->enter_ticks : 0;
		uint64_t child = f->child_ticks + callee_ticks;
		struct dt_calls_out v = {.fn = f->fn, .max_ticks = dur};

		v.excl_ticks = dur > child ? dur - child : 0;
		callee_ticks = dur;
		if (f->e && --f->e->active == 0)
			v.incl_ticks = dur;
		dt_calls_merge(m, &v);
	}
	for (uint32_t d = 0; d < t->depth; d++) {
		if (t->frame[d].e)
			t->frame[d].e->active++;
	}
}

/* ctx: any. Heapsort by address (no qsort: glibc's may malloc), so traces are deterministic. */
static DT_NOINSTR void dt_calls_sift(struct dt_calls_out *a, size_t root, size_t n)
{
	for (;;) {
		size_t c = 2 * root + 1;
		struct dt_calls_out tmp;

		if (c >= n)
			return;
		if (c + 1 < n && a[c + 1].fn > a[c].fn)
			c++;
		if (a[root].fn >= a[c].fn)
			return;
		tmp = a[root];
		a[root] = a[c];
		a[c] = tmp;
		root = c;
	}
}

static DT_NOINSTR void dt_calls_sort(struct dt_calls_out *a, size_t n)
{
	for (size_t i = n / 2; i-- > 0;)
		dt_calls_sift(a, i, n);
	for (size_t i = n; i-- > 1;) {
		struct dt_calls_out tmp = a[0];

		a[0] = a[i];
		a[i] = tmp;
		dt_calls_sift(a, 0, i);
	}
}

/* ctx: any. Converts ticks to ns with a (ticks, ns) span measured now against the origin. */
static DT_NOINSTR void dt_calls_scale(uint64_t *span_ticks, uint64_t *span_ns)
{
	uint64_t ticks, ns;

	if (!dt_calls_use_tsc) {
		*span_ticks = *span_ns = 1;
		return;
	}
	dt_calls_clock_pair(&ticks, &ns);
	if (ns - dt_calls_base_ns < DT_CALLS_CALIB_MIN_NS) {
		uint64_t left_ns = DT_CALLS_CALIB_MIN_NS - (ns - dt_calls_base_ns);
		struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)left_ns};

		while (nanosleep(&ts, &ts) != 0)
			;
		dt_calls_clock_pair(&ticks, &ns);
	}
	*span_ticks = ticks - dt_calls_base_tsc;
	*span_ns = ns - dt_calls_base_ns;
	if (*span_ticks == 0)
		*span_ticks = *span_ns = 1;
}

static inline DT_NOINSTR uint64_t dt_calls_to_ns(uint64_t ticks, uint64_t span_ticks, uint64_t span_ns)
{
	return (uint64_t)((unsigned __int128)ticks * span_ns / span_ticks);
}

/* ctx: any. One line per process: checkpoints would otherwise repeat it every few seconds. The trace
 * format has no field for these counts yet. */
static DT_NOINSTR void dt_calls_warn_losses(uint64_t overflows, uint64_t skipped, uint64_t dropped,
					    uint64_t stray)
{
	char msg[256], *p = msg;
	int expected = 0;

	if (overflows + skipped + dropped + stray == 0 ||
	    !__atomic_compare_exchange_n(&dt_calls_warned, &expected, 1, 0, __ATOMIC_RELAXED,
					 __ATOMIC_RELAXED))
		return;
	p = dt_calls_fmt_str(p, "calls: so far ");
	p = dt_calls_fmt_u64(p, overflows);
	p = dt_calls_fmt_str(p, " calls deeper than the shadow stack (counted, not timed), ");
	p = dt_calls_fmt_u64(p, skipped + dropped);
	p = dt_calls_fmt_str(p, " calls not counted (shim busy, table full), ");
	p = dt_calls_fmt_u64(p, stray);
	p = dt_calls_fmt_str(p, " unmatched exits");
	*p = '\0';
	dt_warn(msg);
}

void dt_calls_emit(struct dt_tracebuf *b)
{
	uint64_t slots_needed = 0, overflows = 0, skipped = 0, dropped = 0, stray = 0;
	uint64_t now, span_ticks, span_ns;
	struct dt_calls_thread *head = __atomic_load_n(&dt_calls_threads, __ATOMIC_ACQUIRE);
	struct dt_calls_merged m = {.mask = 15};
	struct dt_calls_out *rows;
	uint32_t n = 0;
	size_t map_bytes, mark;
	/* Called from a signal handler that interrupted one of the hooks: this thread's stack is half
	 * updated and its open frames are left out. */
	int interrupted_hook = dt_calls_busy++ != 0;

	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	now = dt_calls_ticks();
	for (struct dt_calls_thread *t = head; t; t = t->next) {
		struct dt_calls_table *tab = __atomic_load_n(&t->table, __ATOMIC_ACQUIRE);

		slots_needed += tab->mask + 1;
	}
	if (dt_calls_self)
		slots_needed += dt_calls_self->depth;
	while ((uint64_t)m.mask + 1 < 2 * slots_needed && m.mask < UINT32_MAX / 4)
		m.mask = m.mask * 2 + 1;
	map_bytes = ((size_t)m.mask + 1) * sizeof(*m.slot);
	m.slot = dt_calls_map(map_bytes);
	if (!m.slot) {
		dt_warn("calls: out of memory while writing call statistics; section left out");
		goto out;
	}
	for (struct dt_calls_thread *t = head; t; t = t->next) {
		struct dt_calls_table *tab = __atomic_load_n(&t->table, __ATOMIC_ACQUIRE);

		for (uint32_t i = 0; i <= tab->mask; i++) {
			struct dt_calls_fn *e = &tab->slot[i];
			struct dt_calls_out v;

			/* Acquire pairs with the owner's publication of a new slot. */
			v.fn = __atomic_load_n(&e->fn, __ATOMIC_ACQUIRE);
			if (v.fn == 0)
				continue;
			v.calls = dt_calls_load(&e->calls);
			v.incl_ticks = dt_calls_load(&e->incl_ticks);
			v.excl_ticks = dt_calls_load(&e->excl_ticks);
			v.max_ticks = dt_calls_load(&e->max_ticks);
			dt_calls_merge(&m, &v);
		}
		overflows += dt_calls_load(&t->overflows);
		skipped += dt_calls_load(&t->skipped);
		dropped += dt_calls_load(&t->dropped);
		stray += dt_calls_load(&t->stray_exits);
	}
	if (!interrupted_hook)
		dt_calls_merge_open_frames(&m, now);
	rows = m.slot;
	for (uint32_t i = 0; i <= m.mask; i++) {
		if (m.slot[i].fn != 0 && m.slot[i].calls != 0)
			rows[n++] = m.slot[i];
	}
	dt_calls_sort(rows, n);
	dt_calls_scale(&span_ticks, &span_ns);
	mark = dt_tracebuf_section_begin(b, DT_SEC_CALLS);
	dt_tracebuf_put_u32(b, n);
	for (uint32_t i = 0; i < n; i++) {
		dt_tracebuf_put_u64(b, rows[i].fn);
		dt_tracebuf_put_u64(b, rows[i].calls);
		dt_tracebuf_put_u64(b, dt_calls_to_ns(rows[i].incl_ticks, span_ticks, span_ns));
		dt_tracebuf_put_u64(b, dt_calls_to_ns(rows[i].excl_ticks, span_ticks, span_ns));
		dt_tracebuf_put_u64(b, dt_calls_to_ns(rows[i].max_ticks, span_ticks, span_ns));
	}
	dt_tracebuf_section_end(b, mark);
	munmap(m.slot, map_bytes);
	dt_calls_warn_losses(overflows, skipped, dropped + m.lost, stray);
out:
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	dt_calls_busy--;
}
