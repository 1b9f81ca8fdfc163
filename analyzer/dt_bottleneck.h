/* Bottleneck analysis: the functions whose share of CPU samples reaches a threshold. */
#ifndef DT_BOTTLENECK_H
#define DT_BOTTLENECK_H

#include <stddef.h>

#include "dt_profile.h"

#define DT_BOTTLENECK_DEFAULT_PCT 5.0 /* percent of all samples */

struct dt_bottleneck {
	const struct dt_function *fn;
	double time_pct; /* self % (or total % when inclusive) */
};

/* Largest first. *out is a new array (free it; NULL when *n is 0). 0 or -1 (out of memory). */
int dt_bottlenecks_find(const struct dt_profile *p, double threshold_pct, int inclusive,
			struct dt_bottleneck **out, size_t *n);

#endif
