/* Comparing two `deiatrace bench -f json` results (frontend/dt_bench_diff.c). */
#ifndef DT_BENCH_DIFF_H
#define DT_BENCH_DIFF_H

#include "analyzer/dt_diff.h"

int dt_bench_diff_is_json(const char *path); /* 1 when the file's first non-blank byte is '{' */
/* Reports the comparison; returns the exit status (0, 1 gate fired, 2 bad input). */
int dt_bench_diff_run(const char *baseline, const char *optimized, const struct dt_diff_opts *o);

#endif
