/* Merging several traces of one program (repeated runs) into one trace that the ordinary
 * profile -> report path reads: CPU samples, allocations and call counts are summed, per-run peaks
 * (RSS, heap) keep the largest run's value; named regions are summed by name (dt_regions_add). */
#ifndef DT_MERGE_H
#define DT_MERGE_H

#include <stddef.h>

#include "dt_reader.h"

/* 1 when a and b look like runs of the same program (same executable path, else same argv[0]). */
int dt_merge_same_program(const struct dt_trace *a, const struct dt_trace *b);

/* Builds a new trace from t[0..n) (n >= 1; the inputs are not modified and may be freed after).
 * Modules are matched across runs by build-id (else path) and every pc is rebased onto the first
 * run's load address of its module, so address-space layout randomization does not split a function
 * in two. Returns DT_READ_OK, or DT_READ_ENOMEM with err set. Free the result with dt_trace_free. */
int dt_trace_merge(struct dt_trace *const *t, size_t n, struct dt_trace **out, char *err, size_t errlen);

#endif
