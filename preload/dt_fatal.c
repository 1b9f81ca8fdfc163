/* Fatal signals: where the host leaves SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTERM or SIGINT at
 * SIG_DFL, our handler stands in for the default: it writes the trace, restores SIG_DFL and re-raises,
 * so the process dies of the same signal. The host never sees it (sigaction reports SIG_DFL; a host
 * handler replaces it; a host reset to SIG_DFL brings it back). Handler path: async-signal-safe only. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "dt_shim.h"

#define FATAL_NSIG 65 /* signal numbers 1..64 on Linux */
/* Stack the trace write needs (gcc -fstack-usage: dt_output_publish alone takes 9 KB, 13.5 KB when
 * it warns), with a margin. On a host's alternate stack with less room left it is skipped: writing
 * would overflow that stack into whatever lies below (CPython's is a 16 KB heap block). */
#define FATAL_WRITE_STACK_BYTES (24u * 1024u)

typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);

static const int fatal_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTERM, SIGINT};
#define FATAL_COUNT (sizeof(fatal_signals) / sizeof(fatal_signals[0]))

static _Atomic(sigaction_fn) real_sigaction;
static _Atomic int installed; /* dt_fatal_install ran: we manage the fatal set from then on */

static int is_fatal(int sig) /* ctx: sigsafe */
{
	for (size_t i = 0; i < FATAL_COUNT; i++)
		if (fatal_signals[i] == sig)
			return 1;
	return 0;
}

static sigaction_fn real(void) /* ctx: any; dlsym allocates nothing for an existing symbol */
{
	sigaction_fn fn = atomic_load_explicit(&real_sigaction, memory_order_relaxed);
	if (!fn) {
		fn = (sigaction_fn)dlsym(RTLD_NEXT, "sigaction");
		atomic_store_explicit(&real_sigaction, fn, memory_order_relaxed);
	}
	return fn;
}

/* 1 unless this handler runs on the thread's alternate signal stack (the uc_stack range the kernel
 * saved) with less than FATAL_WRITE_STACK_BYTES below its frame. ctx: sigsafe */
static int room_to_write(const void *uc)
{
	if (!uc)
		return 1;
	const stack_t *alt = &((const ucontext_t *)uc)->uc_stack;
	if ((alt->ss_flags & SS_DISABLE) || !alt->ss_sp || alt->ss_size == 0)
		return 1;
	uintptr_t here = (uintptr_t)__builtin_frame_address(0), lo = (uintptr_t)alt->ss_sp;
	if (here < lo || here - lo >= alt->ss_size)
		return 1; /* not on it */
	return here - lo >= FATAL_WRITE_STACK_BYTES;
}

static void fatal_handler(int sig, siginfo_t *si, void *uc) /* ctx: sigsafe */
{
	(void)si;
	int saved_errno = errno;
	if (room_to_write(uc))
		dt_lifecycle_fatal_sigsafe(sig);
	/* The default action, as if we had never been here: SIG_DFL, unblocked, raised again at this
	 * thread. A fault (SIGSEGV from a bad access) would also recur on return; raising is uniform. */
	struct sigaction dfl;
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	sigaction_fn fn = atomic_load_explicit(&real_sigaction, memory_order_relaxed);
	if (fn)
		fn(sig, &dfl, NULL);
	sigset_t one;
	sigemptyset(&one);
	sigaddset(&one, sig);
	syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), sig);
	pthread_sigmask(SIG_UNBLOCK, &one, NULL);
	errno = saved_errno;
}

static void fill_ours(struct sigaction *sa) /* ctx: sigsafe */
{
	memset(sa, 0, sizeof(*sa));
	sa->sa_sigaction = fatal_handler;
	/* SA_ONSTACK: a host's alternate stack (for stack overflows) is used if it has one. SA_RESTART:
	 * SIGTERM/SIGINT are process-directed; the handler never returns to the host anyway. Everything
	 * else is blocked while the trace is written (SIGPROF above all). */
	sa->sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
	sigfillset(&sa->sa_mask);
}

static int is_ours(const struct sigaction *sa) /* ctx: sigsafe */
{
	return (sa->sa_flags & SA_SIGINFO) && sa->sa_sigaction == fatal_handler;
}

static int is_default(const struct sigaction *sa) /* ctx: sigsafe */
{
	return (sa->sa_flags & SA_SIGINFO) ? sa->sa_sigaction == NULL : sa->sa_handler == SIG_DFL;
}

/* What the host would have seen: SIG_DFL where our stand-in is installed. ctx: sigsafe */
static void disguise(struct sigaction *old)
{
	if (old && is_ours(old)) {
		memset(old, 0, sizeof(*old));
		old->sa_handler = SIG_DFL;
		sigemptyset(&old->sa_mask);
	}
}

void dt_fatal_install(void) /* ctx: any; constructor, after the state became active */
{
	sigaction_fn fn = real();
	if (!fn)
		return;
	for (size_t i = 0; i < FATAL_COUNT; i++) {
		struct sigaction cur, ours;
		/* SIG_IGN (SIGINT in a background job) and handlers of an earlier library stay. */
		if (fn(fatal_signals[i], NULL, &cur) != 0 || !is_default(&cur))
			continue;
		fill_ours(&ours);
		fn(fatal_signals[i], &ours, NULL);
	}
	atomic_store(&installed, 1);
}

int dt_fatal_sigaction(int sig, const struct sigaction *act, struct sigaction *old, int *rc) /* ctx: any */
{
	sigaction_fn fn = real();
	if (!fn || !is_fatal(sig) || !atomic_load(&installed))
		return 0;
	if (act && is_default(act) && dt_shim_active()) {
		/* The host asks for the default (often just before re-raising from its own handler): our
		 * stand-in gives the default's outcome and writes the trace first. */
		struct sigaction ours, prev;
		fill_ours(&ours);
		*rc = fn(sig, &ours, &prev);
		if (*rc == 0 && old) {
			*old = prev;
			disguise(old);
		}
		return 1;
	}
	*rc = fn(sig, act, old);
	if (*rc == 0)
		disguise(old);
	return 1;
}
