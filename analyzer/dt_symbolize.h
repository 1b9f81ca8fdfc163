/* Offline symbolization of trace pcs with elfutils libdwfl: function (demangled), module, file:line.
 * Every pc gets a name: unresolved addresses become "module+0xOFFSET", never dropped. */
#ifndef DT_SYMBOLIZE_H
#define DT_SYMBOLIZE_H

#include <stdint.h>
#include <stdio.h>

#include "dt_reader.h"

struct dt_symbolizer;

enum dt_sym_flags {
	DT_SYM_NO_DEBUG = 1u << 0, /* open no files: every pc becomes module+offset (fuzzing, --no-symbols) */
};

/* What one pc resolves to. Strings are owned by the symbolizer and live until dt_sym_close. */
struct dt_frame_info {
	const char *function; /* demangled name, or "module+0xOFFSET" */
	const char *module;   /* basename of the module path, "[unknown]" outside every module */
	const char *file;     /* source file of this pc, NULL when unknown */
	uint32_t line;
	const char *fn_file; /* source file:line of the function's entry, NULL when unknown */
	uint32_t fn_line;
	uint64_t fn_addr; /* runtime address of the function's entry; the looked-up address if unresolved */
	int resolved;	  /* 1 when a symbol was found */
};

/* Reports the trace's modules to libdwfl. Warnings (build-id mismatch) go to `warn` (may be NULL).
 * Returns 0, or a negative value when out of memory. */
int dt_sym_open(const struct dt_trace *t, unsigned flags, FILE *warn, struct dt_symbolizer **out);
/* Resolves pc. is_return: pc is a return address, so pc-1 is looked up (the call instruction). */
void dt_sym_lookup(struct dt_symbolizer *s, uint64_t pc, int is_return, struct dt_frame_info *out);
void dt_sym_close(struct dt_symbolizer *s);

/* Demangled copy of a C++ symbol (free it), or NULL when `name` is not a mangled name. */
char *dt_sym_demangle(const char *name);

#endif
