/* CPU sampling: per-thread SIGPROF sources on the thread's own CPU clock (perf task-clock; POSIX
 * thread-CPU timer fallback, forced with DEIATRACE_SAMPLER=timer), the handler, per-stack counters.
 * The handler is async-signal-safe only (no malloc, stdio or locks); sources never signal a sleeper
 * and never survive exec; setitimer is never used. The handler also takes due checkpoints
 * (dt_checkpoint). Called by dt_lifecycle, dt_thread, dt_dlsafe. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "dt_shim.h"

#define NS_PER_S 1000000000ull
#define SAMPLER_DEFAULT_HZ 1000u
#define SAMPLER_MAX_HZ 100000u
#define SAMPLER_MAX_THREADS 8192u /* live armed threads at once; beyond, threads go unsampled */
/* A perf event is kept alive by a mapping of its metadata page alone (no ring-buffer pages), not by a
 * descriptor: the host's fd table stays exactly as it would be untraced. */
#define SAMPLER_PERF_MAP_PAGES 1
#define SAMPLER_STACK_CAPACITY (64u * 1024u)
#define SAMPLER_DRAIN_TIMEOUT_NS (2ull * NS_PER_S) /* waiting for in-flight handlers, at most */

enum source_state {
	SRC_FREE = 0,
	SRC_CLAIMED = 1, /* being armed by its thread */
	SRC_ARMED = 2,
	SRC_CLOSING = 3, /* one party (thread exit, stop, fork child) is tearing it down */
};

/* One per armed thread, in an mmap'd registry so dt_sampler_stop can disarm every thread. */
struct source {
	_Atomic int state;
	void *perf_page; /* the perf event's mapped metadata page (it holds the event), or NULL */
	int perf_sig_fd; /* the fd number the event had when armed: its signals carry it in si_fd */
	timer_t timer;	 /* POSIX timer when perf_page is NULL */
	pid_t tid;
};

struct stack_cpu {
	_Atomic uint64_t samples;
	_Atomic uint64_t weight_ns;
};

static struct source *sources;
/* Entries ever claimed: loops over the registry stop here, so stop and fork do not fault in all of
 * its pages (a short-lived process paid about 3% of its start-up in those page faults). */
static _Atomic uint32_t sources_used;
/* The event choose_kind opened (disabled) to probe perf, handed to arm_calling_thread on the same thread
 * (start-up runs single-threaded in the constructor), which maps and closes it; -1 once used or closed. */
static int probe_fd = -1;
static pid_t probe_tid;
static size_t perf_map_bytes;
static struct stack_cpu *cpu_by_stack;
static uint32_t cpu_capacity;

static int sampler_kind = DT_SAMPLER_NONE;
static uint32_t freq_asked_hz;
static uint64_t period_ns;
static uint32_t depth_cap;

static _Atomic int running;   /* handlers sample only while set */
static _Atomic int in_flight; /* handlers past their first instruction */
static _Atomic int loader_busy;
static _Atomic int started;
static _Atomic uint32_t degraded;

static _Atomic uint64_t n_samples, n_lost, weight_total_ns, n_truncated, n_threads, n_unarmed;

static DT_TLS __thread struct source *my_source;
static DT_TLS __thread uint64_t my_last_ns; /* thread CPU clock at this thread's last sample */

static pid_t gettid_sigsafe(void) /* ctx: sigsafe */
{
	return (pid_t)syscall(SYS_gettid);
}

/* The calling thread's CPU time: what the task clock counts while enabled. ctx: sigsafe */
static uint64_t thread_cpu_ns_sigsafe(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
		return 0;
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static void count_lost_sigsafe(void) /* ctx: sigsafe */
{
	atomic_fetch_add_explicit(&n_lost, 1, memory_order_relaxed);
}

/* ---------------------------------------------------------------- the handler */

/* 1 if this handler runs on the thread's alternate signal stack: it is installed without SA_ONSTACK,
 * so it does when the code it interrupted did (a host handler with SA_ONSTACK). The kernel copies
 * the thread's sigaltstack settings into the ucontext; their flags carry no SS_ONSTACK (Linux
 * saves the settings, not where sp was), so compare an address in this frame with the range.
 * ctx: sigsafe */
static __attribute__((noinline)) int on_alt_stack_sigsafe(const void *uc)
{
	if (!uc)
		return 0;
	const stack_t *alt = &((const ucontext_t *)uc)->uc_stack;
	if ((alt->ss_flags & SS_DISABLE) || !alt->ss_sp || alt->ss_size == 0)
		return 0;
	uintptr_t here = (uintptr_t)__builtin_frame_address(0);
	uintptr_t lo = (uintptr_t)alt->ss_sp;
	return here >= lo && here - lo < alt->ss_size;
}

/* The sample itself: unwind, intern, count. Kept out of sigprof_handler (noinline) so that its
 * frame (the pcs array, libunwind's cursor and DWARF state: about 13 KB measured) is only pushed
 * when there is room for it. ctx: sigsafe, inside the handler's guard */
static __attribute__((noinline)) void take_sample_sigsafe(void *uc, uint64_t weight)
{
	uint64_t pcs[DT_MAX_STACK_DEPTH];
	uint32_t flags = 0;
	int depth = dt_unwind_sigsafe(pcs, (int)depth_cap, uc, &flags);
	uint32_t id = DT_STACK_NONE;
	if (depth > 0)
		id = dt_stack_intern_sigsafe(pcs, (uint32_t)depth, flags);
	if (id == DT_STACK_NONE || id >= cpu_capacity) {
		if (depth > 0)
			atomic_fetch_or_explicit(&degraded, DT_DEGRADED_STACK_TABLE_FULL,
						 memory_order_relaxed);
		count_lost_sigsafe();
		return;
	}
	atomic_fetch_add_explicit(&cpu_by_stack[id].samples, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&cpu_by_stack[id].weight_ns, weight, memory_order_relaxed);
	atomic_fetch_add_explicit(&n_samples, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&weight_total_ns, weight, memory_order_relaxed);
	if (flags & DT_STACK_TRUNCATED)
		atomic_fetch_add_explicit(&n_truncated, 1, memory_order_relaxed);
	/* Still inside the guard: a checkpoint due now is written from here (dt_checkpoint). */
	dt_checkpoint_tick_sigsafe();
}

static void sigprof_handler(int sig, siginfo_t *si, void *uc) /* ctx: sigsafe */
{
	int saved_errno = errno;
	/* seq_cst pairs with dt_sampler_stop / dt_sampler_loader_enter: either they see us in flight
	 * or we see their flag (Dekker). */
	atomic_fetch_add(&in_flight, 1);
	if (!atomic_load(&running))
		goto out;
	/* Loader busy (dlclose may unmap what we would read); re-entry into the shim on this thread
	 * (libunwind's per-thread cache and the hooks' state are not re-entrant): drop and count. */
	if (atomic_load(&loader_busy) || dt_in_shim || dt_unwind_busy_sigsafe()) {
		count_lost_sigsafe();
		goto out;
	}
	/* A host handler running on its alternate stack (CPython gives every signal handler
	 * SA_ONSTACK over faulthandler's ~16 KB stack): the sample's frame would overflow that stack
	 * into the heap below it, which is how test_selectors and test_eintr crashed. Drop and count. */
	if (on_alt_stack_sigsafe(uc)) {
		count_lost_sigsafe();
		goto out;
	}
	dt_in_shim++;
	/* A deferred cancel acted on at a cancellation point inside the handler (libunwind's memory
	 * validation calls read and msync) would unwind the thread out of it with in_flight raised.
	 * glibc's pthread_setcancelstate is one atomic update of the thread's own word: no lock. */
	int cancel_state;
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel_state);
	uint64_t weight = period_ns;
	struct source *src = my_source;
	if (si && si->si_code == SI_TIMER) {
		/* A POSIX CPU timer only fires on scheduler ticks (250 Hz here) and reports the periods
		 * it skipped as overruns: each signal stands for (1 + overrun) periods. */
		if (si->si_overrun > 0)
			weight *= 1u + (uint64_t)si->si_overrun;
	} else if (si && src && src->perf_page && si->si_fd == src->perf_sig_fd) {
		/* The task clock counts this thread's CPU ns, as its CPU clock does (the event has no fd
		 * left to read): weigh by what elapsed since the last sample, which also covers coalesced
		 * signals and periods that ended in the kernel. */
		uint64_t now_ns = thread_cpu_ns_sigsafe();
		if (now_ns > my_last_ns) {
			weight = now_ns - my_last_ns;
			my_last_ns = now_ns;
		}
	}
	take_sample_sigsafe(uc, weight);
	pthread_setcancelstate(cancel_state, NULL);
	dt_in_shim--;
out:
	atomic_fetch_sub(&in_flight, 1);
	errno = saved_errno;
}

/* Handlers finish in microseconds; the bound only guards the host's exit against a count that
 * can never drop (a thread killed inside the handler). ctx: any */
static void wait_handlers_drained(void)
{
	uint64_t deadline_ns = 0;
	while (atomic_load(&in_flight) != 0) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		uint64_t now_ns = (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
		if (!deadline_ns) {
			deadline_ns = now_ns + SAMPLER_DRAIN_TIMEOUT_NS;
		} else if (now_ns > deadline_ns) {
			dt_warn("a SIGPROF handler never finished; continuing without it");
			atomic_store(&in_flight, 0);
			return;
		}
		sched_yield();
	}
}

/* ---------------------------------------------------------------- per-thread sources */

/* Opens a task-clock event for tid, disabled, its overflow signal (SIGPROF, si_fd = the fd) directed
 * at tid. Returns the fd or -errno. ctx: any */
static int perf_open(pid_t tid)
{
	struct perf_event_attr a;
	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.type = PERF_TYPE_SOFTWARE;
	a.config = PERF_COUNT_SW_TASK_CLOCK;
	a.sample_period = period_ns;
	a.disabled = 1;
	a.wakeup_events = 1; /* a signal per overflow */
	/* User mode only, even where the kernel would allow more: a period ending inside a syscall
	 * would leave SIGPROF pending there, cutting short reads from /dev/zero or pipes, or killing
	 * the process if the syscall is execve (the handler is reset, the signal stays pending).
	 * Kernel time is not lost: the handler weighs each sample by the thread's CPU clock. */
	a.exclude_kernel = 1;
	a.exclude_hv = 1;
	int fd = (int)syscall(SYS_perf_event_open, &a, tid, -1, -1, PERF_FLAG_FD_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct f_owner_ex owner = {.type = F_OWNER_TID, .pid = tid};
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_ASYNC) < 0 || fcntl(fd, F_SETSIG, SIGPROF) < 0 ||
	    fcntl(fd, F_SETOWN_EX, &owner) < 0) {
		int err = errno;
		close(fd);
		return -err;
	}
	return fd;
}

/* Maps fd's metadata page, enables the event and closes fd: the mapping holds the event's file, with
 * its signal owner, until munmap (or exec) destroys it; perf mappings are VM_DONTCOPY, so a fork
 * child never inherits one. Sets *page; 0 or -errno, fd closed either way. ctx: any */
static int perf_commit(int fd, void **page)
{
	int rc = 0;
	void *p = mmap(NULL, perf_map_bytes, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		/* Over perf_event_mlock_kb and RLIMIT_MEMLOCK (hundreds of threads): a timer instead. */
		rc = -errno;
		goto out;
	}
	if (ioctl(fd, PERF_EVENT_IOC_RESET, 0) < 0 || ioctl(fd, PERF_EVENT_IOC_ENABLE, 0) < 0) {
		rc = -errno;
		munmap(p, perf_map_bytes);
		goto out;
	}
	*page = p;
out:
	close(fd);
	return rc;
}

static int timer_arm(pid_t tid, timer_t *out) /* ctx: any */
{
	struct sigevent sev;
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = SIGPROF;
	sev._sigev_un._tid = tid;
	if (timer_create(CLOCK_THREAD_CPUTIME_ID, &sev, out) != 0)
		return -errno;
	struct itimerspec its;
	its.it_interval.tv_sec = (time_t)(period_ns / NS_PER_S);
	its.it_interval.tv_nsec = (long)(period_ns % NS_PER_S);
	its.it_value = its.it_interval;
	if (timer_settime(*out, 0, &its, NULL) != 0) {
		int err = errno;
		timer_delete(*out);
		return -err;
	}
	return 0;
}

static struct source *source_claim(void) /* ctx: any */
{
	for (uint32_t i = 0; i < SAMPLER_MAX_THREADS; i++) {
		int expect = SRC_FREE;
		if (atomic_compare_exchange_strong(&sources[i].state, &expect, SRC_CLAIMED)) {
			uint32_t used = atomic_load(&sources_used);
			while (used < i + 1 && !atomic_compare_exchange_weak(&sources_used, &used, i + 1))
				;
			return &sources[i];
		}
	}
	return NULL;
}

static void source_teardown(struct source *s) /* ctx: any; the caller won the ARMED -> CLOSING race */
{
	if (s->perf_page) {
		/* The last reference to the event: it is destroyed as munmap returns to user mode, before
		 * this thread runs another instruction that could overflow it. */
		munmap(s->perf_page, perf_map_bytes);
		s->perf_page = NULL;
	} else {
		timer_delete(s->timer);
	}
	atomic_store(&s->state, SRC_FREE);
}

static int arm_calling_thread(void) /* ctx: any */
{
	if (my_source)
		return 0;
	struct source *s = source_claim();
	if (!s) {
		atomic_fetch_add_explicit(&n_unarmed, 1, memory_order_relaxed);
		return -ENOSPC;
	}
	s->tid = gettid_sigsafe();
	s->perf_page = NULL;
	int rc = -ENODEV;
	if (sampler_kind == DT_SAMPLER_PERF_TASK_CLOCK) {
		int fd = probe_fd; /* choose_kind's event, opened for this thread and disabled */
		if (fd >= 0 && probe_tid == s->tid)
			probe_fd = -1;
		else
			fd = perf_open(s->tid);
		if (fd >= 0) {
			s->perf_sig_fd = fd;
			rc = perf_commit(fd, &s->perf_page);
		}
	}
	/* Perf refused this thread (no memory-lock allowance left for its page): a CPU timer instead,
	 * tick-limited, which the trace must admit to (the sampler field names perf). */
	if (rc < 0) {
		if (sampler_kind == DT_SAMPLER_PERF_TASK_CLOCK)
			atomic_fetch_or(&degraded, DT_DEGRADED_TIMER_FALLBACK);
		rc = timer_arm(s->tid, &s->timer);
	}
	if (rc < 0) {
		atomic_store(&s->state, SRC_FREE);
		atomic_fetch_add_explicit(&n_unarmed, 1, memory_order_relaxed);
		return rc;
	}
	my_last_ns = thread_cpu_ns_sigsafe(); /* samples weigh CPU time from the arming on */
	my_source = s;
	atomic_store(&s->state, SRC_ARMED);
	return 0;
}

int dt_sampler_thread_start(void) /* ctx: any */
{
	atomic_fetch_add_explicit(&n_threads, 1, memory_order_relaxed);
	if (!atomic_load(&running))
		return 0;
	return arm_calling_thread();
}

void dt_sampler_thread_stop(void) /* ctx: any */
{
	struct source *s = my_source;
	my_source = NULL;
	if (!s)
		return;
	int expect = SRC_ARMED;
	if (atomic_compare_exchange_strong(&s->state, &expect, SRC_CLOSING))
		source_teardown(s);
}

/* A SIGPROF still pending when execve resets our handler kills the new image (a POSIX CPU timer
 * ticks in the kernel too). Disarm the calling thread first: a signal it already generated is
 * delivered to our handler as the disarming syscalls return. Other threads' signals are directed
 * at them and die with them in execve. Returns 1 if the thread must be re-armed if exec fails. */
int dt_sampler_exec_prepare(void) /* ctx: hook */
{
	struct source *s = my_source;
	/* In a vfork child, TLS and memory are the parent's: leave the parent's source alone. */
	if (!s || s->tid != gettid_sigsafe())
		return 0;
	dt_sampler_thread_stop();
	return 1;
}

void dt_sampler_exec_failed(int rearm) /* ctx: hook */
{
	if (rearm && atomic_load(&running))
		arm_calling_thread();
}

/* ---------------------------------------------------------------- process-wide */

static int choose_kind(void) /* ctx: any; probes perf on the calling thread */
{
	int force = dt_config_get()->sampler; /* DEIATRACE_SAMPLER */
	if (force == DT_CONFIG_SAMPLER_TIMER)
		return DT_SAMPLER_POSIX_TIMER;
	pid_t tid = gettid_sigsafe();
	int fd = perf_open(tid);
	if (fd >= 0) {
		/* Kept (disabled) for arming this thread: closing a perf event and opening another cost
		 * a tenth of the shim's start-up in a short-lived process. */
		probe_fd = fd;
		probe_tid = tid;
		return DT_SAMPLER_PERF_TASK_CLOCK;
	}
	if (force == DT_CONFIG_SAMPLER_PERF)
		return DT_SAMPLER_NONE;
	return DT_SAMPLER_POSIX_TIMER;
}

static void fork_child(void) /* ctx: any; pthread_atfork child handler */
{
	/* The child inherits neither the parent's perf mappings (VM_DONTCOPY) nor its POSIX timers: the
	 * registry's addresses are holes here, never to be unmapped. Forget every entry, re-arm the one
	 * thread that exists. */
	my_source = NULL;
	for (uint32_t i = 0, n = atomic_load(&sources_used); i < n; i++) {
		sources[i].perf_page = NULL;
		atomic_store(&sources[i].state, SRC_FREE);
	}
	atomic_store(&in_flight, 0);
	/* The child writes its own trace (or none): its counts start from zero, like its CPU time. */
	uint32_t used = dt_stack_count() < cpu_capacity ? dt_stack_count() : cpu_capacity;
	for (uint32_t id = 0; id < used; id++) {
		atomic_store_explicit(&cpu_by_stack[id].samples, 0, memory_order_relaxed);
		atomic_store_explicit(&cpu_by_stack[id].weight_ns, 0, memory_order_relaxed);
	}
	atomic_store(&n_samples, 0);
	atomic_store(&n_lost, 0);
	atomic_store(&weight_total_ns, 0);
	atomic_store(&n_truncated, 0);
	atomic_store(&n_unarmed, 0);
	atomic_store(&n_threads, 1);
	if (atomic_load(&running))
		arm_calling_thread();
}

static int install_handler(void) /* ctx: any */
{
	struct sigaction sa, old;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = sigprof_handler;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	/* dt_in_shim tells our own sigaction interposer (dt_dlsafe.c) that this is the shim. */
	dt_in_shim++;
	int rc = sigaction(SIGPROF, NULL, &old);
	if (rc == 0 &&
	    ((old.sa_flags & SA_SIGINFO) ? old.sa_sigaction != NULL
					 : old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN)) {
		/* Someone (an earlier constructor) already profiles this process: theirs wins. */
		atomic_fetch_or(&degraded, DT_DEGRADED_STEPPED_ASIDE);
		rc = -1;
	} else if (rc == 0) {
		rc = sigaction(SIGPROF, &sa, NULL);
	}
	dt_in_shim--;
	return rc;
}

int dt_sampler_start(uint32_t freq_hz) /* ctx: any; once, from the constructor */
{
	int expect = 0;
	if (!atomic_compare_exchange_strong(&started, &expect, 1))
		return 0;
	atomic_fetch_add_explicit(&n_threads, 1, memory_order_relaxed); /* the main thread */
	if (freq_hz == 0)
		freq_hz = SAMPLER_DEFAULT_HZ;
	if (freq_hz > SAMPLER_MAX_HZ)
		freq_hz = SAMPLER_MAX_HZ;
	freq_asked_hz = freq_hz;
	period_ns = NS_PER_S / freq_hz;
	const struct dt_config *cfg = dt_config_get();
	depth_cap = cfg && cfg->max_depth ? cfg->max_depth : DT_MAX_STACK_DEPTH;
	if (depth_cap > DT_MAX_STACK_DEPTH)
		depth_cap = DT_MAX_STACK_DEPTH;

	/* sysconf(_SC_PAGESIZE) reads the auxiliary vector: it cannot fail on Linux. */
	perf_map_bytes = (size_t)sysconf(_SC_PAGESIZE) * SAMPLER_PERF_MAP_PAGES;

	if (dt_stack_table_init(SAMPLER_STACK_CAPACITY) != 0)
		goto off;
	cpu_capacity = dt_stack_capacity();
	cpu_by_stack = mmap(NULL, cpu_capacity * sizeof(*cpu_by_stack), PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	sources = mmap(NULL, SAMPLER_MAX_THREADS * sizeof(*sources), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (cpu_by_stack == MAP_FAILED || sources == MAP_FAILED) {
		cpu_by_stack = NULL;
		cpu_capacity = 0;
		goto off;
	}
	/* The main thread's entry is written below: present at once rather than by a page fault. */
	dt_prefault(sources, (size_t)sysconf(_SC_PAGESIZE));
	if (dt_unwind_init() != 0)
		dt_warn("libunwind warm-up failed; CPU stacks may be incomplete");
	if (cfg && !cfg->cpu_on) {
		/* Asked for: no handler, no timer, SIGPROF left entirely to the host. The stack table and
		 * the warmed-up unwinder above still serve the malloc hooks. */
		sampler_kind = DT_SAMPLER_OFF;
		return 0;
	}

	sampler_kind = choose_kind();
	if (sampler_kind == DT_SAMPLER_NONE)
		goto off;
	if (install_handler() != 0)
		goto off;
	pthread_atfork(NULL, NULL, fork_child);
	atomic_store(&running, 1);
	/* arm_calling_thread falls back to a POSIX timer by itself: a failure here means neither works. */
	if (arm_calling_thread() != 0 && sampler_kind == DT_SAMPLER_PERF_TASK_CLOCK) {
		atomic_store(&running, 0);
		goto off;
	}
	return 0;
off:
	if (probe_fd >= 0) {
		close(probe_fd);
		probe_fd = -1;
	}
	sampler_kind = DT_SAMPLER_NONE;
	atomic_fetch_or(&degraded, DT_DEGRADED_SAMPLER_OFF);
	dt_warn("CPU sampling is off (no CPU timer could be armed, or the host owns SIGPROF)");
	return -1;
}

void dt_sampler_stop(void) /* ctx: any */
{
	if (!atomic_exchange(&running, 0))
		return;
	/* Handlers entering from now on see running == 0; wait out those already past the check. */
	wait_handlers_drained();
	my_source = NULL;
	for (uint32_t i = 0, n = atomic_load(&sources_used); sources && i < n; i++) {
		int expect = SRC_ARMED;
		if (atomic_compare_exchange_strong(&sources[i].state, &expect, SRC_CLOSING))
			source_teardown(&sources[i]);
	}
	/* SIGPROF stays handled by our (now inert) handler: one may still be pending somewhere, and its
	 * default action would kill the host. */
}

void dt_sampler_step_aside(void) /* ctx: any; the host claims SIGPROF or ITIMER_PROF */
{
	atomic_fetch_or(&degraded, DT_DEGRADED_STEPPED_ASIDE);
	dt_sampler_stop();
}

void dt_sampler_loader_enter(void) /* ctx: any; around dlclose */
{
	atomic_fetch_add(&loader_busy, 1);
	/* Handlers that began before loader_busy was visible may be reading the object being closed. */
	wait_handlers_drained();
}

void dt_sampler_loader_leave(void) /* ctx: any */
{
	atomic_fetch_sub(&loader_busy, 1);
}

int dt_sampler_owns_sigprof(void) /* ctx: any */
{
	return atomic_load(&started) && sampler_kind != DT_SAMPLER_NONE && sampler_kind != DT_SAMPLER_OFF &&
	       !(atomic_load(&degraded) & DT_DEGRADED_STEPPED_ASIDE);
}

void dt_sampler_fill_meta(uint64_t meta[DT_META_NFIELDS]) /* ctx: any */
{
	meta[DT_META_THREADS] = atomic_load(&n_threads);
	meta[DT_META_FREQ_ASKED_HZ] = freq_asked_hz;
	meta[DT_META_SAMPLER] = (uint64_t)sampler_kind;
	meta[DT_META_SAMPLES] = atomic_load(&n_samples);
	meta[DT_META_SAMPLES_LOST] = atomic_load(&n_lost);
	meta[DT_META_SAMPLE_WEIGHT_NS] = atomic_load(&weight_total_ns);
	meta[DT_META_UNWIND_FAILURES] = dt_unwind_failures();
	meta[DT_META_STACK_DEPTH_CAP] = depth_cap;
	meta[DT_META_STACKS_TRUNCATED] = atomic_load(&n_truncated);
	meta[DT_META_DEGRADED] |= atomic_load(&degraded);
}

void dt_sampler_emit(struct dt_tracebuf *b) /* ctx: any */
{
	size_t mark = dt_tracebuf_section_begin(b, DT_SEC_CPU);
	uint32_t n = 0, limit = dt_stack_count();
	if (limit > cpu_capacity)
		limit = cpu_capacity;
	for (uint32_t id = 0; id < limit; id++)
		n += atomic_load_explicit(&cpu_by_stack[id].samples, memory_order_relaxed) != 0;
	dt_tracebuf_put_u32(b, n);
	uint32_t written = 0;
	for (uint32_t id = 0; id < limit && written < n; id++) {
		uint64_t s = atomic_load_explicit(&cpu_by_stack[id].samples, memory_order_relaxed);
		if (!s)
			continue;
		dt_tracebuf_put_u32(b, id);
		dt_tracebuf_put_u64(b, s);
		dt_tracebuf_put_u64(b,
				    atomic_load_explicit(&cpu_by_stack[id].weight_ns, memory_order_relaxed));
		written++;
	}
	/* Counts only grow, so the second pass finds at least n entries even while a checkpoint races
	 * with sampling; a stack that gained its first sample in between waits for the next write. */
	dt_tracebuf_section_end(b, mark);
}
