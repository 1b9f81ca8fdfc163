/* Named regions (DT_SEC_REGIONS, written by preload/dt_regions.c for include/deiatrace.h): reading
 * them from a trace file, summing runs, and rendering the report's regions section. */
#ifndef DT_REGIONS_H
#define DT_REGIONS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dt_format.h"

struct dt_region_stat {
	char *name;
	uint64_t f[DT_REGION_NFIELDS]; /* enum dt_region_field */
};

struct dt_regions {
	uint32_t flags;	  /* DT_REGIONS_* */
	uint64_t dropped; /* begins/ends the shim could not record */
	uint32_t n;
	struct dt_region_stat *r; /* in the trace's order; dt_regions_sort orders by wall time */
};

/* Reads the regions section of the trace at path. A trace without one gives an empty set (n = 0).
 * 0, or a negative dt_read_status with err "what was expected, what was found". */
int dt_regions_read_file(const char *path, struct dt_regions **out, char *err, size_t errlen);
/* Parses one DT_SEC_REGIONS payload (untrusted). 0 or a negative dt_read_status. */
int dt_regions_parse(const uint8_t *p, size_t len, struct dt_regions **out, char *err, size_t errlen);
/* Adds b's regions to a (by name: sums, the longest pass kept). 0 or -1 (out of memory). */
int dt_regions_add(struct dt_regions *a, const struct dt_regions *b);
void dt_regions_sort(struct dt_regions *r); /* by wall time, largest first */
const struct dt_region_stat *dt_regions_find(const struct dt_regions *r, const char *name);
void dt_regions_free(struct dt_regions *r);

/* The report's regions section. Text and Markdown print nothing when there are no regions; JSON
 * prints the value of a "regions" member (an object, see docs/json-schema.md). 0 or -1. */
int dt_regions_report_text(FILE *out, const struct dt_regions *r);
int dt_regions_report_markdown(FILE *out, const struct dt_regions *r);
int dt_regions_report_json(FILE *out, const struct dt_regions *r);

#endif
