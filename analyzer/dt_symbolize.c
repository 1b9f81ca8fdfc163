/* Symbolizer: maps trace pcs to functions with libdwfl, offline (modules reported by path and load
 * bias, separate debug info found by build-id). Owns its caches and interned strings.
 * dwfl_module_addrinfo scans the symbol table on each call (~150 us), so each module's function
 * symbols are sorted once and binary-searched, and every looked-up address is cached. */
#include "dt_symbolize.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <gelf.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <uthash.h>

/* From the C++ ABI (libstdc++); declared here so this stays a C file. */
extern char *__cxa_demangle(const char *mangled, char *buf, size_t *len, int *status);

struct fn_sym {
	uint64_t addr; /* runtime address (bias applied) */
	uint64_t size;
	const char *name; /* libdwfl-owned, valid while the Dwfl lives */
	int rank;	  /* binding preference among aliases at one address */
	int decl_done;	  /* decl_file/decl_line looked up (once per function: dwarf_getscopes is slow) */
	const char *decl_file;
	uint32_t decl_line;
};

struct sym_module {
	const struct dt_module *tm;
	Dwfl_Module *mod; /* NULL when the file is gone or unreadable */
	const char *basename;
	struct fn_sym *syms;
	size_t nsyms;
	int syms_loaded;
};

struct pc_entry {
	uint64_t addr; /* the looked-up address (pc or pc-1) */
	struct dt_frame_info info;
	UT_hash_handle hh;
};

struct interned {
	UT_hash_handle hh;
	char s[]; /* key */
};

struct dt_symbolizer {
	const struct dt_trace *t;
	Dwfl *dwfl;
	Dwfl_Callbacks callbacks;
	char *debuginfo_path;
	struct sym_module *mods;
	uint32_t nmods;
	struct pc_entry *cache;
	struct interned *strings;
};

#define UNKNOWN_MODULE "[unknown]"

static const char *intern(struct dt_symbolizer *s, const char *str)
{
	struct interned *e;
	size_t len;

	if (!str)
		return NULL;
	HASH_FIND_STR(s->strings, str, e);
	if (e)
		return e->s;
	len = strlen(str);
	e = malloc(sizeof(*e) + len + 1);
	if (!e)
		return "[out of memory]";
	memcpy(e->s, str, len + 1);
	HASH_ADD_STR(s->strings, s, e);
	return e->s;
}

static const char *path_basename(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash && slash[1] ? slash + 1 : path;
}

char *dt_sym_demangle(const char *name)
{
	int status = -1;
	char *out;

	if (!name || strncmp(name, "_Z", 2) != 0)
		return NULL;
	out = __cxa_demangle(name, NULL, NULL, &status);
	if (status != 0) {
		free(out);
		return NULL;
	}
	return out;
}

static int bind_rank(unsigned char info)
{
	switch (GELF_ST_BIND(info)) {
	case STB_GLOBAL:
		return 0;
	case STB_WEAK:
		return 1;
	default:
		return 2;
	}
}

static int cmp_sym(const void *a, const void *b)
{
	const struct fn_sym *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	if (x->rank != y->rank)
		return x->rank - y->rank;
	if (x->size != y->size)
		return x->size > y->size ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Collects the module's function symbols (.symtab when present, so static functions resolve;
 * .dynsym otherwise) into one sorted array. */
static void load_syms(struct sym_module *m)
{
	int n;
	size_t k = 0;

	m->syms_loaded = 1;
	n = dwfl_module_getsymtab(m->mod);
	if (n <= 0)
		return;
	m->syms = calloc((size_t)n, sizeof(*m->syms));
	if (!m->syms)
		return;
	for (int i = 1; i < n; i++) {
		GElf_Sym sym;
		GElf_Addr addr;
		GElf_Word shndx;
		const char *name = dwfl_module_getsym_info(m->mod, i, &sym, &addr, &shndx, NULL, NULL);
		int type = GELF_ST_TYPE(sym.st_info);

		if (!name || !name[0] || shndx == SHN_UNDEF || (type != STT_FUNC && type != STT_GNU_IFUNC))
			continue;
		m->syms[k++] = (struct fn_sym){
		    .addr = addr, .size = sym.st_size, .name = name, .rank = bind_rank(sym.st_info)};
	}
	m->nsyms = k;
	qsort(m->syms, k, sizeof(*m->syms), cmp_sym);
}

/* The symbol containing addr: the last one starting at or below it, if its size covers addr. */
static struct fn_sym *find_sym(struct sym_module *m, uint64_t addr)
{
	size_t lo = 0, hi = m->nsyms;
	struct fn_sym *best;

	if (!m->syms_loaded)
		load_syms(m);
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->syms[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	best = &m->syms[lo - 1];
	/* Aliases share an address; step back to the preferred one (sorted first). */
	while (best > m->syms && best[-1].addr == best->addr)
		best--;
	if (best->size && addr >= best->addr + best->size)
		return NULL;
	return best;
}

static void src_line(Dwfl_Module *mod, uint64_t addr, const char **file, uint32_t *line)
{
	Dwfl_Line *l = dwfl_module_getsrc(mod, addr);
	Dwarf_Addr la;
	Dwarf_Word mtime, length;
	int lineno = 0, col = 0;

	*file = NULL;
	*line = 0;
	if (!l)
		return;
	*file = dwfl_lineinfo(l, &la, &lineno, &col, &mtime, &length);
	*line = lineno > 0 ? (uint32_t)lineno : 0;
}

/* Where the function at entry is defined: DW_AT_decl_file/line of its subprogram DIE; the line
 * table's line at the entry (the first statement, with optimization) when there is no DIE. */
static void decl_line(Dwfl_Module *mod, uint64_t entry, const char **file, uint32_t *line)
{
	Dwarf_Addr bias = 0;
	Dwarf_Die *cu = dwfl_module_addrdie(mod, entry, &bias);
	Dwarf_Die *scopes = NULL;
	int n = cu ? dwarf_getscopes(cu, entry - bias, &scopes) : 0;

	*file = NULL;
	*line = 0;
	for (int i = n - 1; i >= 0; i--) { /* outermost first: the out-of-line function itself */
		int l = 0;

		if (dwarf_tag(&scopes[i]) != DW_TAG_subprogram)
			continue;
		if (dwarf_decl_line(&scopes[i], &l) == 0 && l > 0) {
			*file = dwarf_decl_file(&scopes[i]);
			*line = (uint32_t)l;
		}
		break;
	}
	free(scopes);
	if (!*file)
		src_line(mod, entry, file, line);
}

static void warn_build_id(struct sym_module *m, FILE *warn)
{
	const unsigned char *bits = NULL;
	GElf_Addr vaddr;
	int len;

	if (!m->mod || !m->tm->build_id_len)
		return;
	len = dwfl_module_build_id(m->mod, &bits, &vaddr);
	if (len == (int)m->tm->build_id_len && memcmp(bits, m->tm->build_id, (size_t)len) == 0)
		return;
	if (warn)
		fprintf(warn,
			"deiatrace-analyze: warning: %s: build-id differs from the traced binary (rebuilt "
			"since the run?)\n",
			m->tm->path);
}

int dt_sym_open(const struct dt_trace *t, unsigned flags, FILE *warn, struct dt_symbolizer **out)
{
	struct dt_symbolizer *s = calloc(1, sizeof(*s));
	int rc = 0;

	*out = NULL;
	if (!s)
		return -1;
	s->t = t;
	s->nmods = t->nmodules;
	s->mods = calloc(t->nmodules ? t->nmodules : 1, sizeof(*s->mods));
	if (!s->mods) {
		rc = -1;
		goto out;
	}
	for (uint32_t i = 0; i < t->nmodules; i++) {
		s->mods[i].tm = &t->modules[i];
		s->mods[i].basename = intern(s, path_basename(t->modules[i].path));
	}
	if (flags & DT_SYM_NO_DEBUG)
		goto out;

	s->callbacks.find_elf = dwfl_build_id_find_elf;
	s->callbacks.find_debuginfo = dwfl_standard_find_debuginfo;
	s->callbacks.section_address = dwfl_offline_section_address;
	s->callbacks.debuginfo_path = &s->debuginfo_path; /* NULL: the default search path */
	s->dwfl = dwfl_begin(&s->callbacks);
	if (!s->dwfl)
		goto out; /* no libdwfl: everything stays module+offset */
	dwfl_report_begin(s->dwfl);
	for (uint32_t i = 0; i < t->nmodules; i++) {
		const struct dt_module *m = &t->modules[i];
		struct stat st;

		/* Pseudo-modules ([vdso], [heap]) and deleted files have no path to open; the paths
		 * come from an untrusted file, so only regular files are opened (a FIFO would block,
		 * a device would be read without end). */
		if (m->path[0] != '/' || stat(m->path, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		s->mods[i].mod = dwfl_report_elf(s->dwfl, m->path, m->path, -1, m->load_bias, false);
	}
	dwfl_report_end(s->dwfl, NULL, NULL);
	for (uint32_t i = 0; i < s->nmods; i++)
		warn_build_id(&s->mods[i], warn);
out:
	if (rc) {
		dt_sym_close(s);
		return rc;
	}
	*out = s;
	return 0;
}

static struct sym_module *module_for(struct dt_symbolizer *s, uint64_t addr)
{
	const struct dt_module *m = dt_trace_module_for(s->t, addr);

	return m ? &s->mods[m - s->t->modules] : NULL;
}

static void resolve(struct dt_symbolizer *s, uint64_t addr, struct dt_frame_info *fi)
{
	struct sym_module *m = module_for(s, addr);
	char buf[512];
	struct fn_sym *sym = NULL;
	const char *name = NULL;
	uint64_t fn_addr = addr;

	memset(fi, 0, sizeof(*fi));
	fi->fn_addr = addr;
	if (!m) {
		snprintf(buf, sizeof(buf), "0x%" PRIx64, addr);
		fi->function = intern(s, buf);
		fi->module = UNKNOWN_MODULE;
		return;
	}
	fi->module = m->basename;
	if (m->mod) {
		sym = find_sym(m, addr);
		if (sym) {
			name = sym->name;
			fn_addr = sym->addr;
		} else {
			/* Slow path for symbols the sorted table cannot place (size 0 gaps, nesting). */
			GElf_Off off;
			GElf_Sym gs;
			name = dwfl_module_addrinfo(m->mod, addr, &off, &gs, NULL, NULL, NULL);
			/* A sized symbol that ends before addr is a neighbour, not the function (PLT
			 * stubs and padding have no symbol): module+offset is more honest. */
			if (name && name[0] && (gs.st_size == 0 || off < gs.st_size))
				fn_addr = addr - off;
			else
				name = NULL;
		}
	}
	if (!name) {
		snprintf(buf, sizeof(buf), "%s+0x%" PRIx64, m->basename, addr - m->tm->load_bias);
		fi->function = intern(s, buf);
		return;
	}
	/* Versioned names from a symtab ("__libc_start_main@@GLIBC_2.34"): the version is noise. */
	const char *at = strchr(name, '@');
	if (at && at > name) {
		snprintf(buf, sizeof(buf), "%.*s", (int)(at - name), name);
		name = buf;
	}
	char *dem = dt_sym_demangle(name);
	fi->function = intern(s, dem ? dem : name);
	free(dem);
	fi->fn_addr = fn_addr;
	fi->resolved = 1;
	src_line(m->mod, addr, &fi->file, &fi->line);
	fi->file = intern(s, fi->file);
	if (sym && !sym->decl_done) {
		decl_line(m->mod, fn_addr, &sym->decl_file, &sym->decl_line);
		sym->decl_file = intern(s, sym->decl_file);
		sym->decl_done = 1;
	}
	if (sym) {
		fi->fn_file = sym->decl_file;
		fi->fn_line = sym->decl_line;
	} else {
		decl_line(m->mod, fn_addr, &fi->fn_file, &fi->fn_line);
	}
	fi->fn_file = intern(s, fi->fn_file);
}

void dt_sym_lookup(struct dt_symbolizer *s, uint64_t pc, int is_return, struct dt_frame_info *out)
{
	/* A return address points after the call; pc-1 lies inside the call instruction, which
	 * belongs to the caller's function and line even when the call is the function's last. */
	uint64_t addr = is_return && pc ? pc - 1 : pc;
	struct pc_entry *e;

	HASH_FIND(hh, s->cache, &addr, sizeof(addr), e);
	if (e) {
		*out = e->info;
		return;
	}
	resolve(s, addr, out);
	e = malloc(sizeof(*e));
	if (!e)
		return; /* uncached, still answered */
	e->addr = addr;
	e->info = *out;
	HASH_ADD(hh, s->cache, addr, sizeof(e->addr), e);
}

void dt_sym_close(struct dt_symbolizer *s)
{
	struct pc_entry *e, *etmp;
	struct interned *in, *itmp;

	if (!s)
		return;
	HASH_ITER(hh, s->cache, e, etmp)
	{
		HASH_DEL(s->cache, e);
		free(e);
	}
	HASH_ITER(hh, s->strings, in, itmp)
	{
		HASH_DEL(s->strings, in);
		free(in);
	}
	for (uint32_t i = 0; s->mods && i < s->nmods; i++)
		free(s->mods[i].syms);
	free(s->mods);
	if (s->dwfl)
		dwfl_end(s->dwfl);
	free(s);
}
