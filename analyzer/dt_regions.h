/* The regions model: named regions of include/deiatrace.h (DT_SEC_REGIONS, written by
 * preload/dt_regions.c), as the reader parsed them from one trace or as runs summed by name. The
 * reader fills it, dt_merge sums it, the profile carries a sorted copy, reporters render it. */
#ifndef DT_REGIONS_H
#define DT_REGIONS_H

#include <stddef.h>
#include <stdint.h>

#include "dt_format.h"

struct dt_region_stat {
	char *name;
	uint64_t f[DT_REGION_NFIELDS]; /* enum dt_region_field; fields the trace lacks are 0 */
};

struct dt_regions {
	uint32_t flags;	  /* DT_REGIONS_* */
	uint64_t dropped; /* begins/ends the shim could not record */
	uint32_t nfields; /* fields per region the trace(s) recorded: the fewest of any run summed */
	uint32_t runs;	  /* region sections summed into this one */
	uint32_t n;
	struct dt_region_stat *r; /* in the trace's order; dt_regions_sort orders by wall time */
};

/* An empty set (no runs yet), or NULL when out of memory. */
struct dt_regions *dt_regions_new(void);
/* Adds b's regions to a (by name: counts and times summed, the longest pass and the highest peak
 * kept). 0 or -1 (out of memory; a is then still valid). */
int dt_regions_add(struct dt_regions *a, const struct dt_regions *b);
/* A copy of r (NULL r gives an empty set), or NULL when out of memory. */
struct dt_regions *dt_regions_dup(const struct dt_regions *r);
void dt_regions_sort(struct dt_regions *r); /* by wall time, largest first */
const struct dt_region_stat *dt_regions_find(const struct dt_regions *r, const char *name);
/* 1 when field f was recorded (the trace is new enough to have it), else 0: a reporter shows "-". */
int dt_regions_has_field(const struct dt_regions *r, enum dt_region_field f);
void dt_regions_free(struct dt_regions *r);

#endif
