/* libunwind's imports that would otherwise show in the host: its own GOT slots (nothing exported, the
 * host's calls untouched) for pipe2/pipe, read, write, syscall and mmap point at hooks here.
 * - Memory validation without a descriptor. libunwind 1.6.2 (built with CONSERVATIVE_CHECKS, as
 *   Debian's is) checks every address it reads by writing one byte from it into a pipe it opens at
 *   initialisation: "the pipe" becomes a number no descriptor can have and the check a
 *   process_vm_readv of our own memory.
 * - Start-up page faults. Each thread's first unw_backtrace maps a 256 KiB trace cache and writes
 *   every entry: 64 page faults, paid by every traced process (the warm-up) and every allocating
 *   thread. Its anonymous mappings are populated by the mmap call itself instead: /bin/true traced
 *   went from 177 to 101 page faults and from about 6.2 to 5.0 ms of CPU on this VM (perf stat -r 30).
 * Called once by dt_unwind_init before libunwind's first use; the hooks run inside libunwind, in
 * the SIGPROF handler too: async-signal-safe, no malloc, no locks. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "dt_shim.h"

/* The pipe libunwind is given: above any possible descriptor (fs.nr_open is at most 2^30 - 8), so
 * close() and every other call on it fail with EBADF and nothing of the host's is ever touched. */
#define FDS_VALIDATE_FD INT_MAX
/* Fallback when process_vm_readv is refused (seccomp): a real pipe, moved out of the host's way to
 * RLIMIT_NOFILE soft / 2, at least FDS_FALLBACK_FD_MIN and at most FDS_FALLBACK_FD_MAX (a descriptor
 * at N grows the fd table to the next power of two above N; 1024 keeps FD_SETSIZE's range free). */
#define FDS_FALLBACK_FD_MIN 64
#define FDS_FALLBACK_FD_MAX 1024
#define FDS_FALLBACK_FD_DIVISOR 2

typedef int (*pipe2_fn)(int[2], int);

static int validate_by_readv; /* 1: libunwind gets FDS_VALIDATE_FD; 0: a real pipe, moved high */

/* 1 if the byte at addr can be read: what a write() of it into a pipe would have told libunwind.
 * ctx: sigsafe */
static int readable_sigsafe(const void *addr)
{
	char byte;
	struct iovec local = {.iov_base = &byte, .iov_len = 1};
	struct iovec remote = {.iov_base = (void *)addr, .iov_len = 1};
	/* getpid each time, not cached: a fork child is another process. */
	return syscall(SYS_process_vm_readv, (pid_t)syscall(SYS_getpid), &local, 1UL, &remote, 1UL, 0UL) == 1;
}

/* write(FDS_VALIDATE_FD, addr, 1) as a pipe would answer it. errno is cleared on success: libunwind
 * loops while errno == EINTR and never clears it itself (a stale EINTR would spin). ctx: sigsafe */
static long validate_write_sigsafe(const void *addr, size_t n)
{
	if (n == 0 || readable_sigsafe(addr)) {
		errno = 0;
		return (long)n;
	}
	errno = EFAULT;
	return -1;
}

static int move_high(int fd) /* ctx: any; returns the new fd (fd closed) or fd itself */
{
	int floor = FDS_FALLBACK_FD_MIN;
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur / FDS_FALLBACK_FD_DIVISOR > (rlim_t)floor)
		floor = rl.rlim_cur / FDS_FALLBACK_FD_DIVISOR > FDS_FALLBACK_FD_MAX
			    ? FDS_FALLBACK_FD_MAX
			    : (int)(rl.rlim_cur / FDS_FALLBACK_FD_DIVISOR);
	int hi = fcntl(fd, F_DUPFD_CLOEXEC, floor);
	if (hi < 0)
		return fd;
	close(fd);
	return hi;
}

/* ---------------------------------------------------------------- what libunwind calls */

static int lu_pipe2(int fds[2], int flags) /* ctx: sigsafe */
{
	if (validate_by_readv) {
		fds[0] = fds[1] = FDS_VALIDATE_FD;
		return 0;
	}
	int rc = pipe2(fds, flags);
	if (rc == 0) {
		fds[0] = move_high(fds[0]);
		fds[1] = move_high(fds[1]);
	}
	return rc;
}

static int lu_pipe(int fds[2]) /* ctx: sigsafe */
{
	return lu_pipe2(fds, 0);
}

static ssize_t lu_read(int fd, void *buf, size_t n) /* ctx: sigsafe */
{
	if (fd == FDS_VALIDATE_FD) {
		/* An empty non-blocking pipe: the answer that makes libunwind keep it. */
		errno = EAGAIN;
		return -1;
	}
	return read(fd, buf, n);
}

static ssize_t lu_write(int fd, const void *buf, size_t n) /* ctx: sigsafe */
{
	if (fd == FDS_VALIDATE_FD)
		return validate_write_sigsafe(buf, n);
	return write(fd, buf, n);
}

/* Anonymous memory libunwind maps is memory it is about to write (the trace cache: all of it at
 * once): one populating call instead of a fault per page. File mappings (debug sections it reads)
 * are left lazy. ctx: sigsafe */
static void *lu_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	if ((flags & MAP_ANONYMOUS) && (prot & PROT_WRITE))
		flags |= MAP_POPULATE;
	return mmap(addr, len, prot, flags, fd, off);
}

/* syscall(2)'s six register arguments, passed through unless it is libunwind's validating write. */
static long lu_syscall(long nr, ...) /* ctx: sigsafe */
{
	va_list ap;
	va_start(ap, nr);
	long a[6];
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (nr == SYS_write && (int)a[0] == FDS_VALIDATE_FD)
		return validate_write_sigsafe((const void *)a[1], (size_t)a[2]);
	return syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

/* ---------------------------------------------------------------- GOT redirection */

struct redirect {
	const char *name;
	void *fn;
};

/* A d_ptr of l_ld: glibc relocates most in place on x86-64; an unrelocated one is an offset. */
static uintptr_t dyn_addr(const struct link_map *lm, ElfW(Addr) p) /* ctx: any */
{
	return p < lm->l_addr ? lm->l_addr + p : p;
}

/* Points every slot of lm's relocation table [rel, rel + bytes) that binds a name in r at its hook.
 * Slots inside PT_GNU_RELRO are made writable for the store and read-only again. Returns the number
 * of slots redirected. ctx: any */
static int redirect_table(const struct link_map *lm, const ElfW(Rela) * rel, size_t bytes,
			  const ElfW(Sym) * syms, const char *strs, const struct redirect *r, size_t nr,
			  uintptr_t relro_lo, uintptr_t relro_hi)
{
	uintptr_t page_bytes = (uintptr_t)sysconf(_SC_PAGESIZE); /* from the auxv: never fails */
	int done = 0;
	for (size_t i = 0; i < bytes / sizeof(*rel); i++) {
		unsigned long type = ELF64_R_TYPE(rel[i].r_info);
		if (type != R_X86_64_JUMP_SLOT && type != R_X86_64_GLOB_DAT)
			continue;
		const char *name = strs + syms[ELF64_R_SYM(rel[i].r_info)].st_name;
		for (size_t k = 0; k < nr; k++) {
			if (strcmp(name, r[k].name) != 0)
				continue;
			uintptr_t slot = lm->l_addr + rel[i].r_offset;
			/* The loader write-protects whole pages of RELRO only (start and end rounded down):
			 * a slot in its last, partial page is writable and shares the page with .data. */
			uintptr_t page_mask = ~(page_bytes - 1);
			int ro = slot >= (relro_lo & page_mask) && slot < (relro_hi & page_mask);
			void *pg = (void *)(slot & page_mask);
			if (ro && mprotect(pg, page_bytes, PROT_READ | PROT_WRITE) != 0)
				break;
			/* One aligned 8-byte store: a thread calling through the slot sees old or new. */
			__atomic_store_n((void **)slot, r[k].fn, __ATOMIC_RELEASE);
			if (ro)
				mprotect(pg, page_bytes, PROT_READ);
			done++;
			break;
		}
	}
	return done;
}

/* lm's PT_GNU_RELRO range, from the program headers its first page maps. ctx: any */
static void relro_range(const struct dl_find_object *fo, const struct link_map *lm, uintptr_t *lo,
			uintptr_t *hi)
{
	*lo = *hi = 0;
	const ElfW(Ehdr) *eh = (const ElfW(Ehdr) *)fo->dlfo_map_start;
	size_t span = (size_t)((const char *)fo->dlfo_map_end - (const char *)fo->dlfo_map_start);
	if (span < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 ||
	    eh->e_phentsize != sizeof(ElfW(Phdr)) || eh->e_phoff > span ||
	    (size_t)eh->e_phnum * sizeof(ElfW(Phdr)) > span - eh->e_phoff)
		return;
	const ElfW(Phdr) *ph = (const ElfW(Phdr) *)((const char *)eh + eh->e_phoff);
	for (int i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type == PT_GNU_RELRO) {
			*lo = lm->l_addr + ph[i].p_vaddr;
			*hi = *lo + ph[i].p_memsz;
		}
	}
}

int dt_unwind_redirect_imports(const void *in_libunwind) /* ctx: any; once, before libunwind runs */
{
	static const struct redirect hooks[] = {
	    {"pipe2", (void *)lu_pipe2}, {"pipe", (void *)lu_pipe},	  {"read", (void *)lu_read},
	    {"write", (void *)lu_write}, {"syscall", (void *)lu_syscall}, {"mmap", (void *)lu_mmap},
	};
	/* Probe: our own stack reads, page 0 does not. Seccomp profiles that refuse process_vm_readv
	 * leave libunwind a real pipe (moved high) instead. */
	int probe = 0;
	validate_by_readv = readable_sigsafe(&probe) && !readable_sigsafe(NULL);

	struct dl_find_object fo;
	if (_dl_find_object((void *)in_libunwind, &fo) != 0 || !fo.dlfo_link_map)
		return -ENOENT;
	const struct link_map *lm = fo.dlfo_link_map;
	const ElfW(Sym) *syms = NULL;
	const char *strs = NULL;
	const ElfW(Rela) *jmprel = NULL, *rela = NULL;
	size_t jmprel_bytes = 0, rela_bytes = 0;
	for (const ElfW(Dyn) *d = lm->l_ld; d && d->d_tag != DT_NULL; d++) {
		switch (d->d_tag) {
		case DT_SYMTAB:
			syms = (const ElfW(Sym) *)dyn_addr(lm, d->d_un.d_ptr);
			break;
		case DT_STRTAB:
			strs = (const char *)dyn_addr(lm, d->d_un.d_ptr);
			break;
		case DT_JMPREL:
			jmprel = (const ElfW(Rela) *)dyn_addr(lm, d->d_un.d_ptr);
			break;
		case DT_PLTRELSZ:
			jmprel_bytes = d->d_un.d_val;
			break;
		case DT_RELA:
			rela = (const ElfW(Rela) *)dyn_addr(lm, d->d_un.d_ptr);
			break;
		case DT_RELASZ:
			rela_bytes = d->d_un.d_val;
			break;
		}
	}
	if (!syms || !strs)
		return -ENOENT;
	uintptr_t relro_lo, relro_hi;
	relro_range(&fo, lm, &relro_lo, &relro_hi);
	size_t n = sizeof(hooks) / sizeof(hooks[0]);
	int done = 0;
	if (jmprel)
		done += redirect_table(lm, jmprel, jmprel_bytes, syms, strs, hooks, n, relro_lo, relro_hi);
	if (rela)
		done += redirect_table(lm, rela, rela_bytes, syms, strs, hooks, n, relro_lo, relro_hi);
	return done > 0 ? 0 : -ENOENT;
}
