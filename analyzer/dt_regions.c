/* The regions model (dt_regions.h): summing runs by name, copying, sorting and lookup. Parsing is the
 * reader's (dt_reader.c, the only parser of trace files) and rendering the reporters'; this file
 * owns only the rules for combining region figures. */
#include "dt_regions.h"

#include <stdlib.h>
#include <string.h>

void dt_regions_free(struct dt_regions *r)
{
	if (!r)
		return;
	for (uint32_t i = 0; i < r->n; i++)
		free(r->r[i].name);
	free(r->r);
	free(r);
}

struct dt_regions *dt_regions_new(void)
{
	return calloc(1, sizeof(struct dt_regions));
}

const struct dt_region_stat *dt_regions_find(const struct dt_regions *r, const char *name)
{
	for (uint32_t i = 0; r && i < r->n; i++)
		if (strcmp(r->r[i].name, name) == 0)
			return &r->r[i];
	return NULL;
}

int dt_regions_has_field(const struct dt_regions *r, enum dt_region_field f)
{
	return r && r->runs && (uint32_t)f < r->nfields;
}

/* Per-pass extremes keep the largest run's value; everything else is a sum over passes. */
static int field_is_max(unsigned f)
{
	return f == DT_REGION_MAX_WALL_NS || f == DT_REGION_PEAK_LIVE_BYTES;
}

int dt_regions_add(struct dt_regions *a, const struct dt_regions *b)
{
	if (!b)
		return 0;
	a->flags = a->runs ? a->flags & b->flags : b->flags; /* alloc measured only if in every run */
	a->nfields = a->runs && a->nfields < b->nfields ? a->nfields : b->nfields;
	a->runs += b->runs ? b->runs : 1;
	a->dropped += b->dropped;
	for (uint32_t i = 0; i < b->n; i++) {
		struct dt_region_stat *s = (struct dt_region_stat *)dt_regions_find(a, b->r[i].name);
		if (!s) {
			struct dt_region_stat *grown = realloc(a->r, (a->n + 1) * sizeof(*grown));
			if (!grown)
				return -1;
			a->r = grown;
			s = &a->r[a->n];
			memset(s, 0, sizeof(*s));
			if (!(s->name = strdup(b->r[i].name)))
				return -1;
			a->n++;
		}
		for (unsigned f = 0; f < DT_REGION_NFIELDS; f++) {
			if (field_is_max(f))
				s->f[f] = b->r[i].f[f] > s->f[f] ? b->r[i].f[f] : s->f[f];
			else
				s->f[f] += b->r[i].f[f];
		}
	}
	return 0;
}

struct dt_regions *dt_regions_dup(const struct dt_regions *r)
{
	struct dt_regions *c = dt_regions_new();

	if (c && r && dt_regions_add(c, r)) {
		dt_regions_free(c);
		return NULL;
	}
	if (c && r)
		c->runs = r->runs; /* a copy, not one more run */
	return c;
}

static int cmp_wall(const void *x, const void *y)
{
	const struct dt_region_stat *a = x, *b = y;

	if (a->f[DT_REGION_WALL_NS] != b->f[DT_REGION_WALL_NS])
		return a->f[DT_REGION_WALL_NS] < b->f[DT_REGION_WALL_NS] ? 1 : -1;
	return strcmp(a->name, b->name);
}

void dt_regions_sort(struct dt_regions *r)
{
	if (r && r->n > 1)
		qsort(r->r, r->n, sizeof(*r->r), cmp_wall);
}
