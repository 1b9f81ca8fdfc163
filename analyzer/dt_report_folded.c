/* Folded-stacks reporter ("root;...;leaf count", the input of flamegraph.pl and speedscope):
 * one line per distinct function sequence, sorted. Frame names never contain ';' or newlines.
 * Reads the profile model (its per-stack function ids) only. */
#include "dt_report.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

struct folded {
	UT_hash_handle hh;
	uint64_t samples;
	char line[];
};

static size_t frame_len(const char *name)
{
	return strlen(name) + 1; /* plus the separator */
}

static void put_frame(char *dst, const char *name)
{
	for (; *name; name++)
		*dst++ = (*name == ';') ? ':' : (*name == '\n' || *name == '\r') ? ' ' : *name;
}

static int cmp_folded(struct folded *a, struct folded *b)
{
	return strcmp(a->line, b->line);
}

int dt_report_folded(FILE *out, const struct dt_profile *p, const struct dt_report_opts *o)
{
	const struct dt_trace *t = p->trace;
	struct folded *table = NULL, *f, *tmp;
	int rc = -1;

	(void)o;
	for (uint32_t i = 0; i < t->ncpu; i++) {
		const struct dt_cpu_rec *r = &t->cpu[i];
		const uint32_t *ids = p->stack_fns[r->stack];
		uint32_t depth = t->stacks[r->stack].depth ? t->stacks[r->stack].depth : 1;
		size_t len = 0, at = 0;

		if (!r->samples || !ids)
			continue;
		for (uint32_t d = 0; d < depth; d++)
			len += frame_len(p->fns[ids[d]]->name);
		char *line = malloc(len);
		if (!line)
			goto out;
		for (uint32_t d = depth; d-- > 0;) { /* root first */
			const char *name = p->fns[ids[d]]->name;
			put_frame(line + at, name);
			at += strlen(name);
			line[at++] = d ? ';' : '\0';
		}
		HASH_FIND_STR(table, line, f);
		if (!f) {
			f = malloc(sizeof(*f) + at);
			if (!f) {
				free(line);
				goto out;
			}
			memcpy(f->line, line, at);
			f->samples = 0;
			HASH_ADD_STR(table, line, f);
		}
		f->samples += r->samples;
		free(line);
	}
	HASH_SORT(table, cmp_folded);
	HASH_ITER(hh, table, f, tmp)
	fprintf(out, "%s %" PRIu64 "\n", f->line, f->samples);
	rc = ferror(out) ? -1 : 0;
out:
	HASH_ITER(hh, table, f, tmp)
	{
		HASH_DEL(table, f);
		free(f);
	}
	return rc;
}
