/* The trace reader's API: the only code that parses a deiatrace file (common/dt_format.h).
 * The file is untrusted: every length, count and id is checked before use; errors are values. */
#ifndef DT_READER_H
#define DT_READER_H

#include <stddef.h>
#include <stdint.h>

#include "dt_format.h"
#include "dt_regions.h"

enum dt_read_status {
	DT_READ_OK = 0,
	DT_READ_EIO = -1,      /* the file could not be opened or read */
	DT_READ_EFORMAT = -2,  /* malformed, corrupt or inconsistent content */
	DT_READ_EVERSION = -3, /* written by a newer, incompatible format version */
	DT_READ_ENOMEM = -4,
};

#define DT_READ_ERR_BYTES 256u /* size of the caller's error buffer */

struct dt_module {
	uint64_t load_bias;
	uint64_t lo, hi; /* address range [lo, hi) */
	uint8_t build_id[DT_MAX_BUILD_ID_BYTES];
	uint32_t build_id_len;
	char *path;
};

struct dt_stack {
	uint32_t depth;
	uint32_t flags; /* DT_STACK_* */
	uint64_t *pcs;	/* pcs[0] is the leaf; points into dt_trace.pc_pool */
};

struct dt_cpu_rec {
	uint32_t stack;
	uint64_t samples;
	uint64_t weight_ns;
};

struct dt_alloc_rec {
	uint32_t stack;
	uint64_t f[DT_ALLOC_NFIELDS]; /* indexed by enum dt_alloc_field */
};

struct dt_call_rec {
	uint64_t fn_addr;
	uint64_t calls;
	uint64_t incl_ns;
	uint64_t excl_ns;
	uint64_t max_ns;
};

struct dt_trace {
	uint32_t version;
	uint32_t flags;			/* DT_FLAG_* from the file header */
	int partial;			/* no DT_SEC_END, a truncated tail, or a checkpoint */
	char partial_why[128];		/* human-readable reason when partial */
	uint64_t meta[DT_META_NFIELDS]; /* missing fields are 0 */
	uint32_t meta_fields;		/* fields present in the file (may exceed DT_META_NFIELDS) */
	int has_meta, has_cmdline, has_modules, has_stacks, has_cpu, has_alloc, has_calls, has_regions;

	char *exe;
	uint32_t argc;
	char **argv;

	uint32_t nmodules;
	struct dt_module *modules;
	uint32_t nstacks;
	struct dt_stack *stacks;
	uint64_t *pc_pool;
	uint32_t ncpu;
	struct dt_cpu_rec *cpu;
	uint32_t nalloc;
	struct dt_alloc_rec *alloc;
	uint32_t ncalls;
	struct dt_call_rec *calls;
	struct dt_regions *regions; /* DT_SEC_REGIONS (runs = 1); NULL when the trace has none */
	uint32_t unknown_sections;  /* skipped, ids not known to this reader */
};

/* Parse a trace held in memory. On DT_READ_OK *out owns a new trace (free with dt_trace_free);
 * otherwise *out is NULL and err holds "what was expected, what was found". */
int dt_trace_read_mem(const uint8_t *buf, size_t len, struct dt_trace **out, char *err, size_t errlen);
/* Read and parse the file at path (the whole file is read; bounded by its size). */
int dt_trace_read_file(const char *path, struct dt_trace **out, char *err, size_t errlen);
void dt_trace_free(struct dt_trace *t);
/* Parses one DT_SEC_REGIONS payload (untrusted; the reader calls it for that section, the tests
 * directly). DT_READ_OK and *out set, or a negative dt_read_status with *out NULL and err set. */
int dt_trace_parse_regions(const uint8_t *p, size_t len, struct dt_regions **out, char *err, size_t errlen);

/* What the user can do about a failed read, for the end of an error message: "give the trace path
 * that `deiatrace record` printed", "record the program again", ... Never NULL. */
const char *dt_read_status_advice(int status);

/* Module whose [lo, hi) holds pc, or NULL. */
const struct dt_module *dt_trace_module_for(const struct dt_trace *t, uint64_t pc);

#endif
