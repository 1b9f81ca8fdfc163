/* Bottleneck analysis: selects functions at or above a share of all CPU samples, by self time
 * (or total time when inclusive). Reads the profile model only; allocates only its result. */
#include "dt_bottleneck.h"

#include <stdlib.h>

int dt_bottlenecks_find(const struct dt_profile *p, double threshold_pct, int inclusive,
			struct dt_bottleneck **out, size_t *n)
{
	struct dt_function **sorted = dt_profile_sorted(p, inclusive);
	struct dt_bottleneck *v = NULL;
	size_t k = 0;
	int rc = -1;

	*out = NULL;
	*n = 0;
	if (!sorted)
		return -1;
	if (!p->summary.samples) {
		rc = 0;
		goto out;
	}
	v = calloc(p->nfns ? p->nfns : 1, sizeof(*v));
	if (!v)
		goto out;
	for (uint32_t i = 0; i < p->nfns; i++) {
		uint64_t s = inclusive ? sorted[i]->total_samples : sorted[i]->self_samples;
		double pct = dt_profile_pct(p, s);

		if (s == 0 || pct < threshold_pct)
			break; /* sorted, so nothing later qualifies */
		v[k++] = (struct dt_bottleneck){sorted[i], pct};
	}
	rc = 0;
out:
	free(sorted);
	if (rc || k == 0) {
		free(v);
		return rc;
	}
	*out = v;
	*n = k;
	return 0;
}
