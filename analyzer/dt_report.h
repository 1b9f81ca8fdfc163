/* Reporters: render a profile model (never a trace) as text, markdown, JSON or folded stacks.
 * Each returns 0, or -1 when writing failed or memory ran out. */
#ifndef DT_REPORT_H
#define DT_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "dt_hints.h"
#include "dt_profile.h"

#define DT_REPORT_DEFAULT_TOP 25u
#define DT_REPORT_WIDTH_COLS 100u  /* text reports fit this many columns */
#define DT_REPORT_RELATED_FNS 5u   /* functions whose callers/callees are listed */
#define DT_REPORT_RELATED_EDGES 5u /* callers (and callees) listed per function */
#define DT_JSON_VERSION 1

/* What a flame graph's widths stand for (--metric). */
enum dt_metric {
	DT_METRIC_CPU,	       /* CPU samples (default) */
	DT_METRIC_ALLOC_BYTES, /* bytes requested from the allocator */
	DT_METRIC_ALLOC_CALLS, /* allocation calls */
	DT_METRIC_PEAK_BYTES,  /* bytes live at the heap peak */
};
#define DT_METRIC_NAMES "cpu, alloc_bytes, alloc_calls or peak_bytes"
/* 0 and sets *out, or -1 for an unknown name. */
int dt_metric_parse(const char *name, enum dt_metric *out);
const char *dt_metric_name(enum dt_metric m);

struct dt_report_opts {
	uint32_t top_n;		     /* rows in text/markdown tables */
	double threshold_pct;	     /* bottleneck threshold */
	int inclusive;		     /* bottlenecks by total rather than self */
	struct dt_hint_config hints; /* thresholds; hints.enabled = 0 for --no-hints */
	enum dt_metric metric;	     /* flame graphs (svg, html) */
	int color;		     /* 1: text output may use ANSI colour (a terminal, no NO_COLOR) */
};

void dt_report_opts_default(struct dt_report_opts *o);

int dt_report_text(FILE *out, const struct dt_profile *p, const struct dt_report_opts *o);
int dt_report_markdown(FILE *out, const struct dt_profile *p, const struct dt_report_opts *o);
int dt_report_json(FILE *out, const struct dt_profile *p, const struct dt_report_opts *o);
int dt_report_folded(FILE *out, const struct dt_profile *p, const struct dt_report_opts *o);
/* gzip-compressed profile.proto (binary): analyzer/dt_report_pprof.c */
int dt_report_pprof(FILE *out, const struct dt_profile *p, const struct dt_report_opts *o);
/* Self-contained SVG flame graph of o->metric: analyzer/dt_report_svg.c */
int dt_report_svg(FILE *out, const struct dt_profile *p, const struct dt_report_opts *o);
/* One self-contained HTML page: analyzer/dt_report_html.c */
int dt_report_html(FILE *out, const struct dt_profile *p, const struct dt_report_opts *o);

/* The report formats by name, for every command that takes --format. */
typedef int (*dt_report_fn)(FILE *out, const struct dt_profile *p, const struct dt_report_opts *o);
#define DT_REPORT_FORMAT_NAMES "text, json, markdown, folded, pprof, svg or html"
dt_report_fn dt_report_find(const char *name); /* NULL when no format has that name */
const char *dt_report_name(dt_report_fn fn);   /* NULL for an unknown reporter */

/* A JSON string literal for s: quotes, escapes, control characters as \u00XX, invalid UTF-8
 * replaced by U+FFFD. NULL prints null. */
void dt_json_put_string(FILE *out, const char *s);
/* A JSON number; NaN and infinities (no JSON form) are written as null. */
void dt_json_put_number(FILE *out, double v);

/* Shared formatting helpers (dt_report_common.c). */
const char *dt_fmt_bytes(char *buf, size_t len, uint64_t bytes); /* "12.3 MiB" */
/* "file.c:123" (basename) or "" when unknown. */
const char *dt_fmt_location(char *buf, size_t len, const struct dt_function *fn);
/* Copies s into buf; when longer than width bytes, keeps the head and ends with "...". Control
 * characters become blanks. */
const char *dt_fmt_fit(char *buf, size_t len, const char *s, size_t width);
/* Same, keeping the tail ("...ong/file.c:12"). */
const char *dt_fmt_fit_tail(char *buf, size_t len, const char *s, size_t width);

#endif
