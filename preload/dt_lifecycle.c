/* The shim's lifecycle: constructor (config, identity, starting directory, modules, sampler, fatal
 * signals, checkpoints), every way the trace gets written (exit, _exit, fatal signal, before exec,
 * checkpoint), and fork. Never changes what the host sees: errno restored, no stdio, no malloc, no low
 * fds; does nothing in a secure-execution process. Called by the loader, libc, dt_fatal, dt_thread. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "dt_shim.h"

#define NS_PER_S 1000000000ull
#define NS_PER_US 1000ull
#define BYTES_PER_KIB 1024ull
#define LIFECYCLE_WARN_LINE_BYTES 1024u /* one stderr line, "deiatrace: " and "\n" included */
/* argv's buffer starts at one page (most command lines fit) and doubles */
#define LIFECYCLE_ARGS_INITIAL_BYTES (4u * 1024u)
/* argv kept; beyond, it is cut (the kernel's ARG_MAX is a quarter of the stack limit) */
#define LIFECYCLE_ARGS_MAX_BYTES (16u << 20)
#define LIFECYCLE_STATM_BYTES 128u
#define LIFECYCLE_STACK_CAPACITY 0u /* the stack table's own default */
#define LIFECYCLE_PROG_BYTES 256u

typedef void (*exit_fn)(int);

extern void *__libc_stack_end; /* ld.so: the initial stack pointer, below argv and the environment */

#define LIFECYCLE_WRITER_WAIT_NS (5ull * NS_PER_S) /* a fatal write waits this long for a checkpoint */
#define LIFECYCLE_WRITER_NAP_NS 1000000l	   /* between looks at the writer flag */
/* DEIATRACE_FOLLOW=0: the first process rewrites the value in its own environment to this, in
 * place, so every later image (exec, posix_spawn, system) knows it is not the first one. */
#define LIFECYCLE_FOLLOW_VAR "DEIATRACE_FOLLOW"
#define LIFECYCLE_NOT_FIRST_MARK '-'

static uint64_t start_mono_ns, start_real_ns, rss_start_bytes;
static uint64_t self_pid, parent_pid;
/* Set in the constructor when the program's malloc is not the shim's (another allocator preloaded
 * ahead of us, or one linked into the executable): every malloc call binds to it, our hooks never
 * run, and the trace must say "memory not tracked", not "0 allocations". */
static int malloc_bound_elsewhere;
static uint64_t first_pid; /* the process the constructor ran in; _exit writes only there */
static char exe_path[PATH_MAX];
static char *args; /* /proc/self/cmdline, mmap'd */
static size_t args_bytes, args_cap;
static char prog_name[LIFECYCLE_PROG_BYTES];
/* Resolved in the constructor: a vfork child's _exit must not take the loader lock in dlsym. */
static _Atomic(exit_fn) real_exit_fn, real_Exit_fn;

/* One writer at a time (checkpoint thread, exec wrapper, exit, fatal signal): a flag, not a lock, so
 * that a signal handler can wait for it with a bound and then go ahead anyway. */
static _Atomic int writer_busy;

static uint64_t realtime_ns(void) /* ctx: sigsafe */
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

/* Returns 1 once the flag is ours; 0 after wait_ns without it (wait_ns 0: one try). ctx: sigsafe */
static int writer_take_sigsafe(uint64_t wait_ns)
{
	uint64_t deadline_ns = dt_now_ns() + wait_ns;
	for (;;) {
		int expect = 0;
		/* Acquire: the previous writer's stores (output's record of its file) are visible. */
		if (atomic_compare_exchange_strong_explicit(&writer_busy, &expect, 1, memory_order_acquire,
							    memory_order_relaxed))
			return 1;
		if (dt_now_ns() >= deadline_ns)
			return 0;
		struct timespec nap = {.tv_sec = 0, .tv_nsec = LIFECYCLE_WRITER_NAP_NS};
		nanosleep(&nap, NULL);
	}
}

static void writer_drop(void) /* ctx: sigsafe */
{
	atomic_store_explicit(&writer_busy, 0, memory_order_release);
}

/* ---------------------------------------------------------------- identity, without stdio */

/* Reads a whole /proc file into an mmap'd buffer grown with mremap. Returns the bytes read, or 0.
 * The pages are made present by the call that maps them (each is written at once): no page faults.
 * ctx: any */
static size_t read_proc_file(const char *path, char **buf, size_t *cap, size_t max_bytes)
{
	size_t len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	for (;;) {
		if (len == *cap) {
			size_t want = *cap ? *cap * 2 : LIFECYCLE_ARGS_INITIAL_BYTES;
			if (*cap >= max_bytes)
				break; /* cut: argv beyond the cap is not kept */
			void *p = *buf ? mremap(*buf, *cap, want, MREMAP_MAYMOVE)
				       : mmap(NULL, want, PROT_READ | PROT_WRITE,
					      MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
			if (p == MAP_FAILED)
				break;
			if (*buf)
				dt_prefault((char *)p + *cap, want - *cap);
			*buf = p;
			*cap = want;
		}
		ssize_t r = read(fd, *buf + len, *cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	return len;
}

static uint64_t rss_bytes(void) /* ctx: any; /proc/self/statm: "size resident shared ..." in pages */
{
	char buf[LIFECYCLE_STATM_BYTES];
	uint64_t pages = 0;
	int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	const char *p = strchr(buf, ' ');
	if (!p)
		return 0;
	for (p++; *p >= '0' && *p <= '9'; p++)
		pages = pages * 10 + (uint64_t)(*p - '0');
	return pages * getauxval(AT_PAGESZ);
}

static void set_prog_name(void) /* ctx: any; %n: basename of argv[0], else of the executable */
{
	const char *src = args_bytes && args[0] ? args : exe_path;
	size_t n = args_bytes && args[0] ? strnlen(args, args_bytes) : strlen(exe_path);
	const char *base = src;
	for (size_t i = 0; i < n; i++)
		if (src[i] == '/' && i + 1 < n)
			base = src + i + 1;
	n -= (size_t)(base - src);
	if (n >= sizeof(prog_name))
		n = sizeof(prog_name) - 1;
	memcpy(prog_name, base, n);
	prog_name[n] = '\0';
	/* A trailing '/' in argv[0] (odd, but possible) is not part of a name. */
	while (n > 0 && prog_name[n - 1] == '/')
		prog_name[--n] = '\0';
}

static void record_identity(void) /* ctx: any, constructor */
{
	start_real_ns = realtime_ns();
	start_mono_ns = dt_now_ns();
	self_pid = (uint64_t)getpid();
	first_pid = self_pid;
	parent_pid = (uint64_t)getppid();
	rss_start_bytes = rss_bytes();
	ssize_t n = readlink("/proc/self/exe", exe_path, sizeof(exe_path) - 1);
	exe_path[n > 0 ? n : 0] = '\0';
	args_bytes = read_proc_file("/proc/self/cmdline", &args, &args_cap, LIFECYCLE_ARGS_MAX_BYTES);
	set_prog_name();
}

/* For dt_modules: the main program's file without a second readlink. ctx: any */
const char *dt_lifecycle_exe_path(void)
{
	return exe_path[0] ? exe_path : NULL;
}

/* ---------------------------------------------------------------- fork */

#pragma weak dt_malloc_atfork_child

/* The child runs alone and must not take locks: a few syscalls and stores. It gets its own pid (so
 * its own trace name), its own start and its own counts: the sampler and the calls module reset
 * theirs in their own atfork handlers (registered earlier), malloc through a weak call; the stack
 * table and the module list are kept (the same code is mapped). ctx: any (atfork child) */
static void atfork_child(void)
{
	int saved_errno = errno;
	if (atomic_load(&dt_shim_state) != DT_SHIM_ACTIVE)
		goto out;
	if (!dt_config_get()->follow) {
		atomic_store(&dt_shim_state, DT_SHIM_OFF);
		/* Registered after the sampler's own atfork handler, which re-armed this thread. */
		dt_sampler_stop();
		goto out;
	}
	parent_pid = self_pid;
	self_pid = (uint64_t)getpid();
	start_real_ns = realtime_ns();
	start_mono_ns = dt_now_ns();
	rss_start_bytes = rss_bytes();
	atomic_store(&writer_busy, 0); /* a parent thread may have been writing a checkpoint */
	dt_unwind_reset_counts();
	if (dt_malloc_atfork_child)
		dt_malloc_atfork_child();
	dt_checkpoint_start(dt_config_get()->checkpoint_s); /* the child's first one a period from now */
out:
	errno = saved_errno;
}

/* ---------------------------------------------------------------- start and end */

static void fill_meta(uint64_t meta[DT_META_NFIELDS]) /* ctx: any */
{
	struct rusage ru;
	memset(meta, 0, DT_META_NFIELDS * sizeof(meta[0]));
	meta[DT_META_PID] = self_pid;
	meta[DT_META_PPID] = parent_pid;
	meta[DT_META_START_REALTIME_NS] = start_real_ns;
	meta[DT_META_WALL_NS] = dt_now_ns() - start_mono_ns;
	meta[DT_META_RSS_START_BYTES] = rss_start_bytes;
	if (getrusage(RUSAGE_SELF, &ru) == 0) {
		meta[DT_META_CPU_USER_NS] =
		    (uint64_t)ru.ru_utime.tv_sec * NS_PER_S + (uint64_t)ru.ru_utime.tv_usec * NS_PER_US;
		meta[DT_META_CPU_SYS_NS] =
		    (uint64_t)ru.ru_stime.tv_sec * NS_PER_S + (uint64_t)ru.ru_stime.tv_usec * NS_PER_US;
		meta[DT_META_RSS_PEAK_BYTES] = (uint64_t)ru.ru_maxrss * BYTES_PER_KIB;
	}
	dt_sampler_fill_meta(meta);
	dt_malloc_fill_meta(meta);
	if (malloc_bound_elsewhere)
		meta[DT_META_MALLOC_TRACKED] = 0;
}

/* 1 if the symbol `malloc` that the program (and every library in the global scope) binds to is
 * defined outside the shim. ctx: any, constructor (dladdr may take the loader lock) */
static int malloc_is_someone_elses(void)
{
	Dl_info mine, bound;
	void *global = dlsym(RTLD_DEFAULT, "malloc");
	if (!global || !dladdr((void *)&malloc_is_someone_elses, &mine) || !dladdr(global, &bound))
		return 0;
	return mine.dli_fbase != bound.dli_fbase;
}

/* DEIATRACE_FOLLOW=0: 1 if this image is not the first process (the mark is in the environment);
 * in the first process, leave the mark for every later image. ctx: any, constructor */
static int follow_mark_says_not_first(void)
{
	char *v = secure_getenv(LIFECYCLE_FOLLOW_VAR);
	if (!v)
		return 0;
	if (v[0] == LIFECYCLE_NOT_FIRST_MARK && v[1] == '\0')
		return 1;
	/* Only a string the kernel put on the initial stack (between the stack's start and the exec
	 * file name at its top) is surely writable; a shim dlopen'ed into a program that built its
	 * environment from literals leaves it alone. */
	uintptr_t lo = (uintptr_t)__libc_stack_end, hi = (uintptr_t)getauxval(AT_EXECFN);
	if (!dt_config_get()->follow && v[0] && lo && hi && (uintptr_t)v > lo && (uintptr_t)v < hi) {
		/* The string lives in the environment block: rewriting it in place allocates nothing and
		 * reaches images that exec or posix_spawn inherit the environment into. */
		v[0] = LIFECYCLE_NOT_FIRST_MARK;
		v[1] = '\0';
	}
	return 0;
}

__attribute__((constructor)) static void lifecycle_start(void) /* ctx: any, before main */
{
	int saved_errno = errno;
	/* dlsym(RTLD_NEXT) of an existing symbol allocates nothing on glibc 2.36 (FIELD-NOTES). */
	atomic_store(&real_exit_fn, (exit_fn)dlsym(RTLD_NEXT, "_exit"));
	atomic_store(&real_Exit_fn, (exit_fn)dlsym(RTLD_NEXT, "_Exit"));
	/* setuid/setgid/capabilities: the loader already ignores a non-system LD_PRELOAD; if we are
	 * loaded anyway, write nothing anywhere on behalf of a privileged process. */
	if (getauxval(AT_SECURE))
		goto out;
	/* Restored by value, not decremented: callees may set and clear the guard themselves. */
	int saved_in_shim = dt_in_shim;
	dt_in_shim = saved_in_shim + 1;
	dt_config_load();
	if (follow_mark_says_not_first())
		goto guard_out; /* DEIATRACE_FOLLOW=0 and an earlier process was the traced one */
	record_identity();
	malloc_bound_elsewhere = malloc_is_someone_elses();
	dt_output_init(); /* on failure relative names resolve against the directory at exit */
	dt_stack_table_init(LIFECYCLE_STACK_CAPACITY);
	dt_modules_snapshot();
	atomic_store(&dt_shim_state, DT_SHIM_ACTIVE);
	dt_sampler_start(dt_config_get()->freq_hz);
	dt_fatal_install();
	/* After dt_sampler_start, so that in a child our handler runs after the sampler's. */
	if (pthread_atfork(NULL, NULL, atfork_child) != 0)
		dt_warn("pthread_atfork failed; a forked child's trace may carry its parent's pid");
	dt_checkpoint_start(dt_config_get()->checkpoint_s);
guard_out:
	dt_in_shim = saved_in_shim;
out:
	errno = saved_errno;
}

/* Encodes and publishes the trace as it stands. The caller holds the writer flag. A trace published
 * earlier by this process (a checkpoint, or the one written before a failed exec) is replaced; any
 * other file at the name is left alone (dt_output). ctx: sigsafe (mmap, write, linkat, renameat2) */
static int write_now_sigsafe(int checkpoint)
{
	uint64_t meta[DT_META_NFIELDS];
	fill_meta(meta);
	struct dt_proc proc = {.exe = exe_path, .args = args, .args_bytes = args_bytes, .prog = prog_name};
	return dt_writer_write_trace(meta, &proc, checkpoint);
}

/* Runs on exit() and on return from main; the state exchange makes it run once even if the host
 * calls exit() from a destructor. ctx: any */
__attribute__((destructor)) static void lifecycle_end(void)
{
	int saved_errno = errno;
	int expect = DT_SHIM_ACTIVE;
	/* A vfork child (no atfork handlers ran, so self_pid is still the parent's) shares our memory:
	 * writing there would also mark the parent's trace as written. */
	if ((uint64_t)getpid() != self_pid)
		goto out;
	if (!atomic_compare_exchange_strong(&dt_shim_state, &expect, DT_SHIM_WRITING))
		goto out;
	int saved_in_shim = dt_in_shim;
	dt_in_shim = saved_in_shim + 1;
	/* A checkpoint in progress finishes first; its file is then replaced by the complete trace. */
	int took = writer_take_sigsafe(LIFECYCLE_WRITER_WAIT_NS);
	dt_sampler_stop();
	dt_modules_snapshot();
	write_now_sigsafe(0);
	if (took)
		writer_drop();
	atomic_store(&dt_shim_state, DT_SHIM_DONE);
	dt_in_shim = saved_in_shim;
out:
	errno = saved_errno;
}

/* From the SIGPROF handler when a checkpoint is due (dt_checkpoint). No module snapshot (the
 * interrupted code may hold the loader lock): objects dlopen'ed since the last snapshot (start,
 * dlclose, exec) are missing from a checkpoint, not from the final trace. ctx: sigsafe */
int dt_lifecycle_checkpoint_sigsafe(void)
{
	int rc = -1;
	if ((uint64_t)getpid() != self_pid || !writer_take_sigsafe(0))
		return rc;
	/* Checked after taking the flag: the final write takes it too before it begins. */
	if (atomic_load(&dt_shim_state) == DT_SHIM_ACTIVE)
		rc = write_now_sigsafe(1);
	writer_drop();
	return rc;
}

/* From the exec wrappers, before execve: the image about to go writes what it has, as a complete
 * trace (no checkpoint flag). Sampling goes on, so if execve fails the final write replaces it.
 * Not in a vfork child (its memory is its parent's). ctx: hook */
int dt_lifecycle_before_exec(void)
{
	int rc = -1;
	int saved_errno = errno;
	if ((uint64_t)getpid() != self_pid || atomic_load(&dt_shim_state) != DT_SHIM_ACTIVE)
		goto out;
	int saved_in_shim = dt_in_shim;
	dt_in_shim = saved_in_shim + 1;
	if (writer_take_sigsafe(LIFECYCLE_WRITER_WAIT_NS)) {
		dt_modules_snapshot();
		rc = write_now_sigsafe(0);
		writer_drop();
	}
	dt_in_shim = saved_in_shim;
out:
	errno = saved_errno;
	return rc;
}

/* A fatal signal with no handler of the host's: write the final trace, once. Not when the signal hit
 * the shim itself on this thread (its tables may be mid-update), and without a module snapshot (the
 * faulting thread may hold the loader lock): objects dlopen'ed since the last checkpoint or dlclose
 * are missing from the list. Another thread already writing: wait for it (bounded), so the process
 * does not die under it. ctx: sigsafe */
void dt_lifecycle_fatal_sigsafe(int sig)
{
	(void)sig;
	int saved_errno = errno;
	int expect = DT_SHIM_ACTIVE;
	if ((uint64_t)getpid() != self_pid || dt_in_shim)
		goto out;
	if (!atomic_compare_exchange_strong(&dt_shim_state, &expect, DT_SHIM_WRITING)) {
		uint64_t deadline_ns = dt_now_ns() + LIFECYCLE_WRITER_WAIT_NS;
		while (atomic_load(&dt_shim_state) == DT_SHIM_WRITING && dt_now_ns() < deadline_ns) {
			struct timespec nap = {.tv_sec = 0, .tv_nsec = LIFECYCLE_WRITER_NAP_NS};
			nanosleep(&nap, NULL);
		}
		goto out;
	}
	dt_in_shim++;
	int took = writer_take_sigsafe(LIFECYCLE_WRITER_WAIT_NS);
	dt_sampler_stop();
	write_now_sigsafe(0);
	if (took)
		writer_drop();
	atomic_store(&dt_shim_state, DT_SHIM_DONE);
	dt_in_shim--;
out:
	errno = saved_errno;
}

/* ---------------------------------------------------------------- _exit */

/* Programs that end with _exit (dash does, after flushing its output) skip destructors; the trace is
 * written here instead, but only in the process the shim started in: a vfork child shares our
 * memory (and getpid() tells it apart, atfork handlers do not run for vfork), and a fork child of a
 * threaded host may only call async-signal-safe functions before it execs or _exits. ctx: any */
static void write_before_exit(void)
{
	/* dt_in_shim: _exit from a signal handler that interrupted the shim on this thread (its tables
	 * are mid-update): leave without a trace rather than read them. */
	if ((uint64_t)getpid() == first_pid && !dt_in_shim)
		lifecycle_end();
}

/* Looked up again only when _exit runs before our constructor. ctx: any */
static __attribute__((noreturn)) void real_exit(_Atomic(exit_fn) *slot, const char *name, int status)
{
	exit_fn fn = atomic_load_explicit(slot, memory_order_relaxed);
	if (!fn)
		fn = (exit_fn)dlsym(RTLD_NEXT, name);
	if (fn)
		fn(status);
	syscall(SYS_exit_group, status);
	__builtin_unreachable();
}

DT_EXPORT void _exit(int status) /* ctx: any */
{
	write_before_exit();
	real_exit(&real_exit_fn, "_exit", status);
}

DT_EXPORT void _Exit(int status) /* ctx: any */
{
	write_before_exit();
	real_exit(&real_Exit_fn, "_Exit", status);
}
