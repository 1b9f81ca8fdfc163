/* Thread lifecycle: pthread_create arms each new thread's CPU source and disarms it on every exit
 * path (return, pthread_exit, cancel); the exec family writes the trace so far and disarms the caller
 * before its image goes (if execve fails, the process carries on and its final trace replaces it).
 * Trampoline blocks come from an mmap'd slab with a lock-free freelist, never from malloc.
 * Called by the host; calls dt_sampler_thread_start/stop and dt_sampler_exec_*. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <sys/mman.h>

#include "dt_shim.h"

#define THREAD_SLAB_BLOCKS 1024u /* trampoline blocks in flight at once; beyond, one mmap each */
#define THREAD_BLOCK_NONE UINT32_MAX
#define THREAD_STACK_SLACK_BYTES (16u * 1024u) /* TLS and the guard may sit inside the size asked */

typedef int (*create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);

struct start_block {
	void *(*fn)(void *);
	void *arg;
	size_t stack_bytes; /* the new thread's stack size, 0 when unknown */
	uint32_t next;	    /* freelist link (slab blocks only) */
	uint32_t in_slab;
};

static _Atomic(create_fn) real_create;
static struct start_block *slab;
/* Treiber stack head: low 32 bits the block index, high 32 bits a tag against ABA. */
static _Atomic uint64_t free_head = THREAD_BLOCK_NONE;
static pthread_key_t exit_key;
static _Atomic int key_ok;
static _Atomic uint64_t n_untracked; /* threads started without our trampoline */

static void thread_key_destructor(void *v) /* ctx: any; thread exit */
{
	(void)v;
	dt_sampler_thread_stop();
}

__attribute__((constructor)) static void thread_init(void) /* ctx: any */
{
	atomic_store(&real_create, (create_fn)dlsym(RTLD_NEXT, "pthread_create"));
	/* pthread_key_create allocates nothing; it gives pthread_exit paths that skip our cleanup
	 * handler (a thread not started by our trampoline never needs one) a second chance. */
	if (pthread_key_create(&exit_key, thread_key_destructor) == 0)
		atomic_store(&key_ok, 1);
	/* Populated by the call: the loop below writes every page, and one fault per page costs more
	 * than the whole mapping in a VM (40 us each here), in every traced process. */
	void *p = mmap(NULL, THREAD_SLAB_BLOCKS * sizeof(*slab), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (p == MAP_FAILED)
		return;
	slab = p;
	for (uint32_t i = 0; i < THREAD_SLAB_BLOCKS; i++) {
		slab[i].in_slab = 1;
		slab[i].next = i + 1 < THREAD_SLAB_BLOCKS ? i + 1 : THREAD_BLOCK_NONE;
	}
	atomic_store(&free_head, 0);
}

static struct start_block *block_get(void) /* ctx: any */
{
	uint64_t head = atomic_load_explicit(&free_head, memory_order_acquire);
	while (slab && (uint32_t)head != THREAD_BLOCK_NONE) {
		uint32_t idx = (uint32_t)head;
		uint64_t next = ((head >> 32) + 1) << 32 | slab[idx].next;
		/* Acquire on success: the block's next link written by its last release is visible. */
		if (atomic_compare_exchange_weak_explicit(&free_head, &head, next, memory_order_acquire,
							  memory_order_acquire))
			return &slab[idx];
	}
	void *p = mmap(NULL, sizeof(struct start_block), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);
	return p == MAP_FAILED ? NULL : p; /* in_slab is 0 in fresh anonymous memory */
}

static void block_put(struct start_block *b) /* ctx: any */
{
	if (!b->in_slab) {
		munmap(b, sizeof(*b));
		return;
	}
	uint32_t idx = (uint32_t)(b - slab);
	uint64_t head = atomic_load_explicit(&free_head, memory_order_relaxed);
	uint64_t next;
	do {
		b->next = (uint32_t)head;
		next = ((head >> 32) + 1) << 32 | idx;
		/* Release: publishes b->next to the thread that pops it. */
	} while (!atomic_compare_exchange_weak_explicit(&free_head, &head, next, memory_order_release,
							memory_order_relaxed));
}

static void trampoline_cleanup(void *unused) /* ctx: any; thread exit or cancellation */
{
	(void)unused;
	dt_sampler_thread_stop();
}

static void *trampoline(void *p) /* ctx: any; first frame of every thread the host creates */
{
	struct start_block *b = p;
	void *(*fn)(void *) = b->fn;
	void *arg = b->arg;
	/* Our first frame is near the top of the stack: a checkpoint taken on this thread (dt_checkpoint)
	 * needs to know how far down it may go. */
	uintptr_t top = (uintptr_t)&fn;
	if (b->stack_bytes && b->stack_bytes < top)
		dt_thread_stack_floor = top - b->stack_bytes + THREAD_STACK_SLACK_BYTES;
	block_put(b);
	/* Thread pools (liblzma, many servers) start workers with every signal blocked so that process
	 * signals go to the main thread. SIGPROF from our per-thread CPU clock is meant for this thread
	 * only and our handler is invisible to the host, so let it through; otherwise such threads are
	 * never sampled (xz -T2 showed 0.02 of 0.7 CPU s). The host can block it again at any time. */
	if (dt_sampler_owns_sigprof()) {
		sigset_t cur, prof;
		sigemptyset(&prof);
		sigaddset(&prof, SIGPROF);
		if (pthread_sigmask(SIG_BLOCK, NULL, &cur) == 0 && sigismember(&cur, SIGPROF) == 1)
			pthread_sigmask(SIG_UNBLOCK, &prof, NULL);
	}
	dt_sampler_thread_start();
	if (atomic_load(&key_ok))
		pthread_setspecific(exit_key, (void *)1);
	void *ret;
	pthread_cleanup_push(trampoline_cleanup, NULL);
	ret = fn(arg);
	pthread_cleanup_pop(1);
	return ret;
}

DT_EXPORT int pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *),
			     void *arg) /* ctx: any */
{
	create_fn real = atomic_load(&real_create);
	if (!real) {
		/* Called before our constructor (another library's constructor starting a thread). */
		real = (create_fn)dlsym(RTLD_NEXT, "pthread_create");
		atomic_store(&real_create, real);
		if (!real)
			return EAGAIN;
	}
	struct start_block *b = block_get();
	if (!b) {
		atomic_fetch_add_explicit(&n_untracked, 1, memory_order_relaxed);
		return real(t, attr, fn, arg);
	}
	b->fn = fn;
	b->arg = arg;
	b->stack_bytes = 0;
	pthread_attr_t dflt;
	size_t bytes = 0;
	/* Neither call allocates: they copy fields of the attribute (or of glibc's default one). */
	if (attr) {
		if (pthread_attr_getstacksize(attr, &bytes) == 0)
			b->stack_bytes = bytes;
	} else if (pthread_getattr_default_np(&dflt) == 0) {
		if (pthread_attr_getstacksize(&dflt, &bytes) == 0)
			b->stack_bytes = bytes;
		pthread_attr_destroy(&dflt);
	}
	/* Before the thread exists, so it never sees the allocator's single-thread fast path. */
	dt_malloc_host_thread_created();
	int rc = real(t, attr, trampoline, b);
	if (rc != 0)
		block_put(b);
	return rc;
}

/* ---------------------------------------------------------------- exec family
 * glibc's exec variants reach execve internally, not through the PLT, so each is wrapped. */

typedef int (*execve_fn)(const char *, char *const[], char *const[]);
typedef int (*fexecve_fn)(int, char *const[], char *const[]);
typedef int (*execveat_fn)(int, const char *, char *const[], char *const[], int);

#define EXEC_MAX_LIST_ARGS 4096 /* execl* argument lists longer than this fail with E2BIG */

static void *resolve_next(_Atomic(void *) *slot, const char *name) /* ctx: any */
{
	void *fn = atomic_load_explicit(slot, memory_order_relaxed);
	if (!fn) {
		fn = dlsym(RTLD_NEXT, name);
		atomic_store_explicit(slot, fn, memory_order_relaxed);
	}
	return fn;
}

static _Atomic(void *) real_execve, real_execv, real_execvp, real_execvpe, real_fexecve, real_execveat;

DT_EXPORT int execve(const char *path, char *const argv[], char *const envp[]) /* ctx: hook */
{
	execve_fn real = (execve_fn)resolve_next(&real_execve, "execve");
	if (!real)
		return errno = ENOSYS, -1;
	dt_lifecycle_before_exec();
	int rearm = dt_sampler_exec_prepare();
	int rc = real(path, argv, envp);
	int err = errno;
	dt_sampler_exec_failed(rearm);
	errno = err;
	return rc;
}

DT_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[]) /* ctx: hook */
{
	execve_fn real = (execve_fn)resolve_next(&real_execvpe, "execvpe");
	if (!real)
		return errno = ENOSYS, -1;
	dt_lifecycle_before_exec();
	int rearm = dt_sampler_exec_prepare();
	int rc = real(file, argv, envp);
	int err = errno;
	dt_sampler_exec_failed(rearm);
	errno = err;
	return rc;
}

typedef int (*execv_fn)(const char *, char *const[]);

static int exec_v(_Atomic(void *) *slot, const char *name, const char *file,
		  char *const argv[]) /* ctx: hook */
{
	execv_fn real = (execv_fn)resolve_next(slot, name);
	if (!real)
		return errno = ENOSYS, -1;
	dt_lifecycle_before_exec();
	int rearm = dt_sampler_exec_prepare();
	int rc = real(file, argv);
	int err = errno;
	dt_sampler_exec_failed(rearm);
	errno = err;
	return rc;
}

DT_EXPORT int execv(const char *path, char *const argv[]) /* ctx: hook */
{
	return exec_v(&real_execv, "execv", path, argv);
}

DT_EXPORT int execvp(const char *file, char *const argv[]) /* ctx: hook */
{
	return exec_v(&real_execvp, "execvp", file, argv);
}

DT_EXPORT int fexecve(int fd, char *const argv[], char *const envp[]) /* ctx: hook */
{
	fexecve_fn real = (fexecve_fn)resolve_next(&real_fexecve, "fexecve");
	if (!real)
		return errno = ENOSYS, -1;
	dt_lifecycle_before_exec();
	int rearm = dt_sampler_exec_prepare();
	int rc = real(fd, argv, envp);
	int err = errno;
	dt_sampler_exec_failed(rearm);
	errno = err;
	return rc;
}

DT_EXPORT int execveat(int dirfd, const char *path, char *const argv[], char *const envp[],
		       int flags) /* ctx: hook */
{
	execveat_fn real = (execveat_fn)resolve_next(&real_execveat, "execveat");
	if (!real)
		return errno = ENOSYS, -1;
	dt_lifecycle_before_exec();
	int rearm = dt_sampler_exec_prepare();
	int rc = real(dirfd, path, argv, envp, flags);
	int err = errno;
	dt_sampler_exec_failed(rearm);
	errno = err;
	return rc;
}

/* execl, execle, execlp: collect the list on the stack (no malloc), then go through the wrappers
 * above. Returns the count, or -1 if the list is too long. ctx: hook */
static int count_list(const char *arg0, va_list ap)
{
	int n = 1;
	for (const char *a = arg0; a; a = va_arg(ap, const char *))
		if (++n > EXEC_MAX_LIST_ARGS)
			return -1;
	return n;
}

#define EXEC_LIST_BODY(arg, last_named, with_env)                                                            \
	va_list ap;                                                                                          \
	va_start(ap, last_named);                                                                            \
	int n = count_list(arg, ap);                                                                         \
	va_end(ap);                                                                                          \
	if (n < 0)                                                                                           \
		return errno = E2BIG, -1;                                                                    \
	char *argv[n];                                                                                       \
	char *const *envp = NULL;                                                                            \
	va_start(ap, last_named);                                                                            \
	argv[0] = (char *)arg;                                                                               \
	for (int i = 1; i < n; i++)                                                                          \
		argv[i] = va_arg(ap, char *);                                                                \
	if (with_env)                                                                                        \
		envp = va_arg(ap, char *const *);                                                            \
	va_end(ap);                                                                                          \
	(void)envp

DT_EXPORT int execl(const char *path, const char *arg, ...) /* ctx: hook */
{
	EXEC_LIST_BODY(arg, arg, 0);
	return execv(path, argv);
}

DT_EXPORT int execlp(const char *file, const char *arg, ...) /* ctx: hook */
{
	EXEC_LIST_BODY(arg, arg, 0);
	return execvp(file, argv);
}

DT_EXPORT int execle(const char *path, const char *arg, ...) /* ctx: hook */
{
	EXEC_LIST_BODY(arg, arg, 1);
	return execve(path, argv, envp);
}
