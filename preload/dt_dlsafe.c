/* Interposers that keep the SIGPROF handler safe inside its host: dl_iterate_phdr (served lock-free
 * from _dl_find_object while the handler unwinds, so it never waits on glibc's loader lock), dlclose
 * (samples are dropped while an object may be unmapped), and sigaction, the signal() family and
 * setitimer (the host claiming SIGPROF or ITIMER_PROF makes the shim step aside; fatal signals go
 * through dt_fatal). No malloc, no locks on the handler path. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/time.h>

#include "dt_shim.h"

typedef int (*iterate_fn)(int (*)(struct dl_phdr_info *, size_t, void *), void *);
typedef int (*dlclose_fn)(void *);
typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);
typedef sighandler_t (*signal_fn)(int, sighandler_t);
typedef int (*setitimer_fn)(int, const struct itimerval *, struct itimerval *);

static _Atomic(iterate_fn) real_iterate;
static _Atomic(dlclose_fn) real_dlclose;
static _Atomic(sigaction_fn) real_sigaction;
static _Atomic(signal_fn) real_signal;
static _Atomic(setitimer_fn) real_setitimer;

/* dlsym(RTLD_NEXT) of an existing symbol allocates nothing on glibc 2.36 (FIELD-NOTES). Relaxed:
 * every thread resolves the same value; a race only repeats the lookup. ctx: any */
static void *resolve(_Atomic(void *) *slot, const char *name)
{
	void *fn = atomic_load_explicit(slot, memory_order_relaxed);
	if (!fn) {
		fn = dlsym(RTLD_NEXT, name);
		atomic_store_explicit(slot, fn, memory_order_relaxed);
	}
	return fn;
}
#define RESOLVE(slot, name) ((__typeof__(atomic_load(&(slot))))resolve((_Atomic(void *) *)&(slot), name))

__attribute__((constructor)) static void dlsafe_init(void) /* ctx: any */
{
	RESOLVE(real_iterate, "dl_iterate_phdr");
	RESOLVE(real_dlclose, "dlclose");
	RESOLVE(real_sigaction, "sigaction");
	RESOLVE(real_signal, "signal");
	RESOLVE(real_setitimer, "setitimer");
}

/* ---------------------------------------------------------------- dl_iterate_phdr */

/* Describe the object containing pc the way dl_iterate_phdr would, from _dl_find_object (lock-free,
 * async-signal-safe since glibc 2.35) and the ELF header the first PT_LOAD maps. ctx: sigsafe */
static int describe_object_sigsafe(uintptr_t pc, struct dl_phdr_info *info)
{
	struct dl_find_object fo;
	if (_dl_find_object((void *)pc, &fo) != 0 || !fo.dlfo_link_map)
		return -1;
	const uint8_t *start = fo.dlfo_map_start;
	size_t span = (size_t)((const uint8_t *)fo.dlfo_map_end - start);
	const ElfW(Ehdr) *eh = (const ElfW(Ehdr) *)start;
	if (span < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 ||
	    eh->e_phentsize != sizeof(ElfW(Phdr)) || eh->e_phoff > span ||
	    (size_t)eh->e_phnum * sizeof(ElfW(Phdr)) > span - eh->e_phoff)
		return -1;
	memset(info, 0, sizeof(*info));
	info->dlpi_addr = fo.dlfo_link_map->l_addr;
	info->dlpi_name = fo.dlfo_link_map->l_name ? fo.dlfo_link_map->l_name : "";
	info->dlpi_phdr = (const ElfW(Phdr) *)(start + eh->e_phoff);
	info->dlpi_phnum = eh->e_phnum;
	return 0;
}

DT_EXPORT int dl_iterate_phdr(int (*cb)(struct dl_phdr_info *, size_t, void *), void *data) /* ctx: any */
{
	uintptr_t pc = dt_unwind_sig_lookup_pc;
	if (pc == 0) {
		iterate_fn real = RESOLVE(real_iterate, "dl_iterate_phdr");
		return real ? real(cb, data) : 0;
	}
	/* Inside the SIGPROF handler (libunwind looking up pc): the real one takes the loader lock,
	 * which another thread may hold in dlopen while waiting for a lock the interrupted code holds.
	 * libunwind only wants the object containing pc, so offer exactly that one. */
	struct dl_phdr_info info;
	if (describe_object_sigsafe(pc, &info) != 0)
		return 0; /* JIT code or an unmapped pc: the unwind ends early at this frame */
	return cb(&info, sizeof(info), data);
}

/* dlopen is deliberately not interposed: glibc resolves $ORIGIN and the caller's DT_RUNPATH from
 * dlopen's return address, which a wrapper would turn into ours. New objects need no refresh here:
 * _dl_find_object sees them once dlopen has made them visible. */

DT_EXPORT int dlclose(void *handle) /* ctx: any */
{
	dlclose_fn real = RESOLVE(real_dlclose, "dlclose");
	if (!real)
		return -1;
	/* Record the object while it is still mapped: samples taken in it need its path and build-id. */
	dt_modules_snapshot();
	/* Handlers that might be reading the object's headers or unwind tables finish before it can be
	 * unmapped; later ones drop their sample while the counter is raised. */
	dt_sampler_loader_enter();
	int rc = real(handle);
	/* After, not before: an unwind cached in between could be re-filled from the old code. */
	dt_ucache_code_changed();
	dt_sampler_loader_leave();
	return rc;
}

/* ---------------------------------------------------------------- SIGPROF ownership */

static int is_host_handler(const struct sigaction *act) /* ctx: any */
{
	if (act->sa_flags & SA_SIGINFO)
		return act->sa_sigaction != NULL;
	return act->sa_handler != SIG_DFL && act->sa_handler != SIG_IGN;
}

DT_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old) /* ctx: any */
{
	sigaction_fn real = RESOLVE(real_sigaction, "sigaction");
	if (!real)
		return -1;
	int rc;
	/* SIGSEGV, SIGTERM & co.: our stand-in for SIG_DFL stays invisible to the host (dt_fatal). */
	if (!dt_in_shim && dt_fatal_sigaction(sig, act, old, &rc))
		return rc;
	/* dt_in_shim: the shim installing its own handler. A host resetting SIGPROF to SIG_DFL or
	 * SIG_IGN (daemons reset every signal) keeps ours: with timers possibly pending, SIG_DFL would
	 * kill it. A host installing a real handler wins, and the shim stops sampling for good. */
	if (sig == SIGPROF && !act && old && !dt_in_shim && dt_sampler_owns_sigprof()) {
		/* Asked only: our handler stands for the default the host would see without us. */
		int rc2 = real(sig, NULL, old);
		if (rc2 == 0 && (old->sa_flags & SA_SIGINFO) && is_host_handler(old) &&
		    dt_sampler_owns_sigprof()) {
			memset(old, 0, sizeof(*old));
			old->sa_handler = SIG_DFL;
		}
		return rc2;
	}
	if (sig == SIGPROF && act && !dt_in_shim && dt_sampler_owns_sigprof()) {
		struct sigaction cur;
		/* Restoring what an earlier call returned (our handler) is not a claim either. */
		int ours = real(SIGPROF, NULL, &cur) == 0 && (act->sa_flags & SA_SIGINFO) &&
			   act->sa_sigaction == cur.sa_sigaction;
		if (!is_host_handler(act) || ours)
			return real(sig, NULL, old);
		dt_sampler_step_aside();
	}
	return real(sig, act, old);
}

static int managed_signal(int sig) /* ctx: any; the signals whose disposition the shim watches */
{
	return sig == SIGPROF || sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE ||
	       sig == SIGABRT || sig == SIGTERM || sig == SIGINT;
}

/* signal(), bsd_signal() and sysv_signal() reach the kernel through glibc's internal sigaction, not
 * ours: for the managed signals they are re-expressed as a sigaction call with glibc's flags. */
static sighandler_t signal_like(int sig, sighandler_t handler, int flags, _Atomic(signal_fn) *slot,
				const char *name) /* ctx: any */
{
	if (dt_in_shim || !managed_signal(sig) || handler == SIG_ERR) {
		signal_fn real = (signal_fn)resolve((_Atomic(void *) *)slot, name);
		return real ? real(sig, handler) : SIG_ERR;
	}
	struct sigaction sa, old;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	if (!(flags & SA_NODEFER))
		sigaddset(&sa.sa_mask, sig);
	if (sigaction(sig, &sa, &old) != 0)
		return SIG_ERR;
	return (old.sa_flags & SA_SIGINFO) ? (sighandler_t)(void *)old.sa_sigaction : old.sa_handler;
}

static _Atomic(signal_fn) real_bsd_signal, real_sysv_signal, real_sigset;

DT_EXPORT sighandler_t signal(int sig, sighandler_t handler) /* ctx: any */
{
	return signal_like(sig, handler, SA_RESTART, &real_signal, "signal");
}

DT_EXPORT sighandler_t bsd_signal(int sig, sighandler_t handler) /* ctx: any */
{
	return signal_like(sig, handler, SA_RESTART, &real_bsd_signal, "bsd_signal");
}

DT_EXPORT sighandler_t sysv_signal(int sig, sighandler_t handler) /* ctx: any */
{
	return signal_like(sig, handler, SA_RESETHAND | SA_NODEFER, &real_sysv_signal, "sysv_signal");
}

/* System V sigset: SIG_HOLD blocks; any other disposition is installed and the signal unblocked;
 * returns SIG_HOLD when it was blocked before. ctx: any */
DT_EXPORT sighandler_t sigset(int sig, sighandler_t disp)
{
	if (dt_in_shim || !managed_signal(sig) || disp == SIG_HOLD || disp == SIG_ERR) {
		signal_fn real = RESOLVE(real_sigset, "sigset");
		return real ? real(sig, disp) : SIG_ERR;
	}
	sigset_t one, was;
	sigemptyset(&one);
	sigaddset(&one, sig);
	if (pthread_sigmask(SIG_BLOCK, NULL, &was) != 0)
		return SIG_ERR;
	sighandler_t prev = signal_like(sig, disp, 0, &real_sigset, "sigset");
	if (prev == SIG_ERR)
		return SIG_ERR;
	pthread_sigmask(SIG_UNBLOCK, &one, NULL);
	return sigismember(&was, sig) ? SIG_HOLD : prev;
}

DT_EXPORT int setitimer(__itimer_which_t which, const struct itimerval *nv,
			struct itimerval *ov) /* ctx: any */
{
	setitimer_fn real = RESOLVE(real_setitimer, "setitimer");
	if (!real)
		return -1;
	if (which == ITIMER_PROF && nv && (nv->it_value.tv_sec || nv->it_value.tv_usec) &&
	    dt_sampler_owns_sigprof())
		dt_sampler_step_aside();
	return real(which, nv, ov);
}
