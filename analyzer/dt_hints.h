/* Optimization hints: a small rule engine over the profile model. Each rule reads the model, compares
 * it with named thresholds (settable as RULE.PARAM=VALUE) and emits hints that carry the rule, the
 * function, the evidence as named numbers and a one-sentence suggestion. */
#ifndef DT_HINTS_H
#define DT_HINTS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dt_profile.h"

/* Thresholds, one place, with units. The table in dt_hints.c maps each to its RULE.PARAM name. */
#define DT_HINT_HIGH_TIME_MIN_PCT 30.0		  /* self time, percent of all samples */
#define DT_HINT_HIGH_CALLS_MIN_CALLS 1000.0	  /* exact calls of a bottleneck */
#define DT_HINT_HIGH_CALLS_MIN_ALLOC_CALLS 1000.0 /* allocation calls made by one function */
#define DT_HINT_HIGH_MEMORY_MIN_MIB 100.0	  /* live at the heap peak, with callees, MiB */
#define DT_HINT_SMALL_ALLOCS_MIN_CALLS 1000.0	  /* allocation calls made by one function */
#define DT_HINT_SMALL_ALLOCS_MAX_AVG_BYTES 256.0  /* average requested size */
#define DT_HINT_SMALL_ALLOCS_MIN_FREE_RATIO 0.9	  /* frees / allocations of those blocks */
#define DT_HINT_REALLOC_MIN_CALLS 64.0		  /* realloc calls made by one function */
#define DT_HINT_LEAK_MIN_KIB 64.0		  /* bytes still live at exit, KiB, per function */
#define DT_HINT_HIGH_SYS_MIN_PCT 30.0		  /* system CPU, percent of user + system */
#define DT_HINT_HIGH_SYS_MIN_CPU_S 0.1		  /* below this much CPU the split is noise */
#define DT_HINT_CPU_MIN_SAMPLES 20.0		  /* samples a CPU rule needs about a function */

enum dt_hint_param {
	DT_HP_HIGH_TIME_MIN_PCT,
	DT_HP_HIGH_CALLS_MIN_CALLS,
	DT_HP_HIGH_CALLS_MIN_ALLOC_CALLS,
	DT_HP_HIGH_MEMORY_MIN_MIB,
	DT_HP_SMALL_ALLOCS_MIN_CALLS,
	DT_HP_SMALL_ALLOCS_MAX_AVG_BYTES,
	DT_HP_SMALL_ALLOCS_MIN_FREE_RATIO,
	DT_HP_REALLOC_MIN_CALLS,
	DT_HP_LEAK_MIN_KIB,
	DT_HP_HIGH_SYS_MIN_PCT,
	DT_HP_HIGH_SYS_MIN_CPU_S,
	DT_HP_CPU_MIN_SAMPLES,
	DT_HP_NPARAMS
};

struct dt_hint_config {
	int enabled; /* 0: no hints at all (--no-hints) */
	double v[DT_HP_NPARAMS];
};

#define DT_HINT_MAX_EVIDENCE 4u
#define DT_HINT_EVIDENCE_BYTES 160u

struct dt_hint_num {
	const char *name; /* JSON key, with its unit (`_pct`, `_bytes`, ...) */
	double value;
	int integer; /* print without decimals */
};

struct dt_hint {
	const char *rule;
	const struct dt_function *fn;	   /* NULL: the whole program */
	const struct dt_function *related; /* hot_leaf_single_caller: the one caller; else NULL */
	uint32_t nev;
	struct dt_hint_num ev[DT_HINT_MAX_EVIDENCE];
	char evidence[DT_HINT_EVIDENCE_BYTES]; /* the same numbers as a short phrase */
	const char *suggestion;		       /* one sentence */
};

void dt_hint_config_default(struct dt_hint_config *c);
/* Applies "RULE.PARAM=VALUE". 0, or -1 with a message in err ("what was expected, what was found"). */
int dt_hint_config_set(struct dt_hint_config *c, const char *assignment, char *err, size_t errlen);
/* One line per parameter: name, default, unit (for --help). */
void dt_hint_config_print(FILE *out, const char *indent);

/* Hints for p, rule by rule, then by function in self-time order. high_calls and
 * hot_leaf_single_caller look at bottlenecks: the report's filter (threshold_pct, inclusive). *out is a new
 * array (free it; NULL when *n is 0). 0 or -1. */
int dt_hints_find(const struct dt_profile *p, const struct dt_hint_config *c, double threshold_pct,
		  int inclusive, struct dt_hint **out, size_t *n);

#endif
