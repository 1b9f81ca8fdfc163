/* The module list: every object seen loaded (path, load bias, [lo, hi) of its PT_LOAD segments, GNU
 * build-id from memory), a union across snapshots so a dlclose()d library is still listed. Fixed
 * capacity in mmap'd memory, no malloc, a bounded try-lock (no deadlock, even after fork). Normal context
 * only (dl_iterate_phdr takes the loader lock). Called by dt_lifecycle (snapshots) and dt_writer. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <limits.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dt_shim.h"

#define MODULES_MAX 4096u		    /* objects listed; beyond, new ones are dropped */
#define MODULES_PATH_ARENA_BYTES (4u << 20) /* all paths together */
#define MODULES_LOCK_SPINS 10000u	    /* sched_yield()s before a snapshot gives up */
#define MODULES_NOTE_NAME_GNU "GNU"
#define MODULES_SELF_EXE "/proc/self/exe"

struct module {
	uint64_t load_bias;
	uint64_t lo, hi; /* absolute addresses, [lo, hi) */
	uint32_t id_len;
	uint8_t id[DT_MAX_BUILD_ID_BYTES];
	uint32_t path_off; /* into the path arena, NUL-terminated */
	uint32_t path_len;
};

typedef int (*iterate_fn)(int (*)(struct dl_phdr_info *, size_t, void *), void *);

static struct module *mods;
static char *arena;
static uint32_t nmods;
static uint32_t arena_used;
static uint64_t n_dropped; /* objects not listed: table or arena full */
static atomic_flag busy = ATOMIC_FLAG_INIT;

/* The executable's path as dt_lifecycle read it at start-up (weak: unit tests link this file
 * without it); NULL when unknown, and the walk reads /proc/self/exe itself. */
#pragma weak dt_lifecycle_exe_path

/* State of one snapshot walk. Its two path buffers live in the tables' mapping, not in the shim's
 * .bss: they are written only when needed (a relative object name, an executable path dt_lifecycle
 * does not know), and every page written costs a page fault. */
struct walk {
	unsigned index;
	int cwd_known;
	const char *exe;
	char *exe_buf; /* PATH_MAX bytes */
	char *cwd;     /* PATH_MAX bytes */
};

/* Bounded: a thread that forked while another held the lock leaves it set in the child; the child
 * then skips snapshots instead of hanging. ctx: any */
static int lock_modules(void)
{
	for (unsigned i = 0; i < MODULES_LOCK_SPINS; i++) {
		/* Acquire: the previous holder's table writes are visible. */
		if (!atomic_flag_test_and_set_explicit(&busy, memory_order_acquire))
			return 0;
		sched_yield();
	}
	return -1;
}

static void unlock_modules(void) /* ctx: any */
{
	atomic_flag_clear_explicit(&busy, memory_order_release);
}

/* One mapping: the table, the path arena, the walk's two path buffers. The first snapshot writes the
 * first page of the table and of the arena (a program's first few dozen objects): they are made
 * present by one call each instead of a fault each. ctx: any, under the lock */
static int map_tables(struct walk *w)
{
	if (mods)
		return 0;
	size_t table_bytes = MODULES_MAX * sizeof(*mods);
	unsigned char *m = mmap(NULL, table_bytes + MODULES_PATH_ARENA_BYTES + 2 * PATH_MAX,
				PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED)
		return -1;
	size_t page_bytes = (size_t)getpagesize();
	dt_prefault(m, page_bytes);
	dt_prefault(m + table_bytes, page_bytes);
	mods = (struct module *)(void *)m;
	arena = (char *)m + table_bytes;
	w->exe_buf = arena + MODULES_PATH_ARENA_BYTES;
	w->cwd = w->exe_buf + PATH_MAX;
	return 0;
}

/* The GNU build-id from the object's PT_NOTE segments, as mapped in memory. Returns its length, 0
 * when there is none. ctx: any */
static uint32_t find_build_id(const struct dl_phdr_info *info, uint8_t *out)
{
	for (unsigned i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_NOTE)
			continue;
		/* Notes are 4-byte aligned, 8 in segments that say so (.note.gnu.property). */
		size_t align = ph->p_align == 8 ? 8 : 4;
		const uint8_t *p = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr);
		size_t left = ph->p_memsz;
		while (left >= sizeof(ElfW(Nhdr))) {
			const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)(const void *)p;
			size_t name_sz = (nh->n_namesz + align - 1) & ~(align - 1);
			size_t desc_sz = (nh->n_descsz + align - 1) & ~(align - 1);
			size_t hdr = sizeof(*nh);
			if (name_sz > left - hdr || desc_sz > left - hdr - name_sz)
				break;
			const char *name = (const char *)(p + hdr);
			if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == sizeof(MODULES_NOTE_NAME_GNU) &&
			    memcmp(name, MODULES_NOTE_NAME_GNU, sizeof(MODULES_NOTE_NAME_GNU)) == 0 &&
			    nh->n_descsz > 0 && nh->n_descsz <= DT_MAX_BUILD_ID_BYTES) {
				memcpy(out, p + hdr + name_sz, nh->n_descsz);
				return nh->n_descsz;
			}
			p += hdr + name_sz + desc_sz;
			left -= hdr + name_sz + desc_sz;
		}
	}
	return 0;
}

/* The file an object came from: the main program's is /proc/self/exe; a relative name (a relative
 * LD_PRELOAD or dlopen path) is made absolute with the current directory; a name without any '/'
 * (linux-vdso.so.1) has no file and is kept as it is. Returns NULL to skip the object. ctx: any */
static const char *object_path(struct walk *w, const char *name, char *buf, size_t buflen)
{
	if (!name || !*name) {
		if (w->index != 0)
			return NULL; /* an unnamed object that is not the main program */
		if (!w->exe && dt_lifecycle_exe_path)
			w->exe = dt_lifecycle_exe_path();
		if (!w->exe) {
			ssize_t n = readlink(MODULES_SELF_EXE, w->exe_buf, PATH_MAX - 1);
			if (n <= 0)
				return NULL;
			w->exe_buf[n] = '\0';
			w->exe = w->exe_buf;
		}
		return w->exe;
	}
	if (name[0] == '/' || !strchr(name, '/'))
		return name;
	if (!w->cwd_known) {
		if (!getcwd(w->cwd, PATH_MAX))
			return name;
		w->cwd_known = 1;
	}
	size_t c = strlen(w->cwd), n = strlen(name);
	if (c + 1 + n + 1 > buflen)
		return name;
	memcpy(buf, w->cwd, c);
	buf[c] = '/';
	memcpy(buf + c + 1, name, n + 1);
	return buf;
}

static int same_module(const struct module *m, const struct module *k, const char *path,
		       size_t len) /* ctx: any */
{
	return m->load_bias == k->load_bias && m->lo == k->lo && m->hi == k->hi && m->id_len == k->id_len &&
	       memcmp(m->id, k->id, k->id_len) == 0 && m->path_len == len &&
	       memcmp(arena + m->path_off, path, len) == 0;
}

static void add_module(const struct module *k, const char *path) /* ctx: any, under the lock */
{
	size_t len = strnlen(path, PATH_MAX);
	for (uint32_t i = 0; i < nmods; i++)
		if (same_module(&mods[i], k, path, len))
			return;
	if (nmods >= MODULES_MAX || len + 1 > MODULES_PATH_ARENA_BYTES - arena_used) {
		n_dropped++;
		return;
	}
	struct module *m = &mods[nmods];
	*m = *k;
	m->path_off = arena_used;
	m->path_len = (uint32_t)len;
	memcpy(arena + arena_used, path, len);
	arena[arena_used + len] = '\0';
	arena_used += (uint32_t)len + 1;
	nmods++;
}

static int on_object(struct dl_phdr_info *info, size_t size, void *data) /* ctx: any, loader lock held */
{
	struct walk *w = data;
	struct module k;
	char buf[PATH_MAX];
	(void)size;
	memset(&k, 0, sizeof(k));
	uint64_t lo = UINT64_MAX, hi = 0;
	for (unsigned i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD)
			continue;
		if (ph->p_vaddr < lo)
			lo = ph->p_vaddr;
		if (ph->p_vaddr + ph->p_memsz > hi)
			hi = ph->p_vaddr + ph->p_memsz;
	}
	const char *path = object_path(w, info->dlpi_name, buf, sizeof(buf));
	w->index++;
	if (lo >= hi || !path)
		return 0;
	k.load_bias = info->dlpi_addr;
	k.lo = info->dlpi_addr + lo;
	k.hi = info->dlpi_addr + hi;
	k.id_len = find_build_id(info, k.id);
	add_module(&k, path);
	return 0;
}

/* The real dl_iterate_phdr: dt_dlsafe interposes it for the signal handler; this walk runs in normal
 * context and wants the loader's own answer. dlsym(RTLD_NEXT) of an existing symbol allocates
 * nothing on glibc 2.36 (FIELD-NOTES). ctx: any */
static iterate_fn real_iterate(void)
{
	static _Atomic(iterate_fn) fn;
	iterate_fn f = atomic_load_explicit(&fn, memory_order_relaxed);
	if (!f) {
		f = (iterate_fn)dlsym(RTLD_NEXT, "dl_iterate_phdr");
		if (!f)
			f = dl_iterate_phdr;
		atomic_store_explicit(&fn, f, memory_order_relaxed);
	}
	return f;
}

void dt_modules_snapshot(void) /* ctx: any; at start, before the write, after loader changes */
{
	static struct walk w; /* used under the lock */
	if (lock_modules() != 0)
		return;
	if (map_tables(&w) == 0) {
		w.index = 0;
		w.cwd_known = 0; /* the directory may have changed since the last snapshot */
		real_iterate()(on_object, &w);
	}
	unlock_modules();
}

uint32_t dt_modules_count(void) /* ctx: any */
{
	return nmods;
}

void dt_modules_emit(struct dt_tracebuf *b) /* ctx: any */
{
	int locked = lock_modules() == 0;
	size_t mark = dt_tracebuf_section_begin(b, DT_SEC_MODULES);
	/* Without the lock (a stuck holder after fork) the list is read as it is: entries below nmods
	 * are complete, since nmods is raised after each is filled. */
	uint32_t n = mods ? nmods : 0;
	dt_tracebuf_put_u32(b, n);
	for (uint32_t i = 0; i < n; i++) {
		const struct module *m = &mods[i];
		dt_tracebuf_put_u64(b, m->load_bias);
		dt_tracebuf_put_u64(b, m->lo);
		dt_tracebuf_put_u64(b, m->hi);
		dt_tracebuf_put_u32(b, m->id_len);
		dt_tracebuf_put_bytes(b, m->id, m->id_len);
		dt_tracebuf_put_str(b, arena + m->path_off);
	}
	dt_tracebuf_section_end(b, mark);
	if (locked)
		unlock_modules();
}
