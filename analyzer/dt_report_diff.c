/* Diff reporters: a dt_diff (never a trace or a profile) as text, Markdown or JSON. The JSON field
 * names are a public contract (docs/json-schema.md, "diff"): add, never rename. Formatting only. */
#include "dt_diff.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "dt_report.h"

#define NAME_COLS 44u
#define REGION_NAME_COLS 34u /* the regions table has one column more */
#define DIFF_JSON_VERSION 1

static const char *presence_name(enum dt_diff_presence p)
{
	switch (p) {
	case DT_DIFF_APPEARED:
		return "appeared";
	case DT_DIFF_VANISHED:
		return "vanished";
	default:
		return "both";
	}
}

/* "-50.0%", "+3.2%", "new" (baseline 0) or "=" (both 0). */
static const char *fmt_pct(char *buf, size_t len, const struct dt_delta *d)
{
	if (!d->known)
		snprintf(buf, len, "-");
	else if (isnan(d->change_pct))
		snprintf(buf, len, d->optimized != 0 ? "new" : "=");
	else
		snprintf(buf, len, "%+.1f%%", d->change_pct);
	return buf;
}

static const char *fmt_count(char *buf, size_t len, const struct dt_delta *d, int which)
{
	if (!d->known)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.0f", which ? d->optimized : d->baseline);
	return buf;
}

static void verdict_line(FILE *out, const struct dt_diff *d, const char *bold)
{
	const struct dt_delta *c = dt_diff_verdict_delta(d);

	fprintf(out, "%sVerdict: %s%s", bold, dt_diff_verdict_name(d->verdict), bold);
	if (d->focus)
		fprintf(out, " (region %s, wall time", d->focus->name);
	if (!isnan(c->change_pct)) {
		fprintf(out, "%s %.3f s -> %.3f s, %+.1f%%", d->focus ? "" : " (CPU time", c->baseline,
			c->optimized, c->change_pct);
		if (c->optimized > 0 && c->baseline > 0)
			fprintf(out, ", %.2fx %s",
				c->baseline >= c->optimized ? c->baseline / c->optimized
							    : c->optimized / c->baseline,
				c->baseline >= c->optimized ? "as fast" : "as slow");
		fprintf(out, ")");
	} else if (d->focus) {
		fprintf(out, " %.3f s -> %.3f s)", c->baseline, c->optimized);
	}
	fprintf(out, "; changes within +-%.1f%% count as noise\n", d->noise_pct);
}

struct total_row {
	const char *label;
	const struct dt_delta *d;
	int bytes; /* 1 bytes, 0 seconds, 2 plain count */
};

static void total_rows(const struct dt_diff *d, struct total_row rows[7], size_t *n)
{
	size_t k = 0;

	rows[k++] = (struct total_row){strcmp(d->cpu_source, "rusage") == 0 ? "CPU time (user+sys)"
									    : "CPU time (sampled)",
				       &d->cpu_s, 0};
	rows[k++] = (struct total_row){"CPU time sampled", &d->sampled_s, 0};
	rows[k++] = (struct total_row){"wall time", &d->wall_s, 0};
	if (d->has_alloc) {
		rows[k++] = (struct total_row){"allocations", &d->alloc_calls, 2};
		rows[k++] = (struct total_row){"bytes allocated", &d->alloc_bytes, 1};
		rows[k++] = (struct total_row){"heap peak", &d->heap_peak_bytes, 1};
	}
	rows[k++] = (struct total_row){"RSS peak", &d->rss_peak_bytes, 1};
	*n = k;
}

static const char *fmt_value(char *buf, size_t len, double v, int kind)
{
	if (kind == 1)
		return dt_fmt_bytes(buf, len, (uint64_t)v);
	if (kind == 2)
		snprintf(buf, len, "%.0f", v);
	else
		snprintf(buf, len, "%.3f s", v);
	return buf;
}

static void count_presence(const struct dt_diff *d, uint32_t *appeared, uint32_t *vanished)
{
	*appeared = *vanished = 0;
	for (uint32_t i = 0; i < d->nfns; i++) {
		*appeared += d->fns[i].presence == DT_DIFF_APPEARED;
		*vanished += d->fns[i].presence == DT_DIFF_VANISHED;
	}
}

static void regions_text(FILE *out, const struct dt_diff *d)
{
	char c[32], e[32], g[32], name[NAME_COLS + 8];

	if (!d->nregions)
		return;
	fprintf(out, "\nRegions (wall time; include/deiatrace.h)\n");
	fprintf(out, "  %-10s %10s %10s %8s %9s %9s %9s  %s\n", "status", "base s", "opt s", "change",
		"cpu chg", "peak chg", "count o", "region");
	for (uint32_t i = 0; i < d->nregions; i++) {
		const struct dt_diff_region *r = &d->regions[i];
		fprintf(out, "  %-10s %10.3f %10.3f %8s %9s %9s %9.0f  %s\n", presence_name(r->presence),
			r->wall_s.baseline, r->wall_s.optimized, fmt_pct(c, sizeof(c), &r->wall_s),
			fmt_pct(e, sizeof(e), &r->cpu_s), fmt_pct(g, sizeof(g), &r->peak_live_bytes),
			r->count.optimized, dt_fmt_fit(name, sizeof(name), r->name, REGION_NAME_COLS));
	}
}

int dt_report_diff_text(FILE *out, const struct dt_diff *d, uint32_t top_n)
{
	struct total_row rows[7];
	size_t nrows;
	char a[32], b[32], c[32], e[32], f[32], name[NAME_COLS + 8];
	uint32_t appeared, vanished;

	fprintf(out, "deiatrace diff\n  baseline:  %s\n  optimized: %s\n  program:   %s\n\n",
		d->baseline_name ? d->baseline_name : "", d->optimized_name ? d->optimized_name : "",
		dt_fmt_fit(name, sizeof(name), d->program ? d->program : "", NAME_COLS));
	verdict_line(out, d, "");
	fprintf(out, "\nTotals%20s %14s %14s %9s\n", "", "baseline", "optimized", "change");
	total_rows(d, rows, &nrows);
	for (size_t i = 0; i < nrows; i++)
		fprintf(out, "  %-24s %14s %14s %9s\n", rows[i].label,
			fmt_value(a, sizeof(a), rows[i].d->baseline, rows[i].bytes),
			fmt_value(b, sizeof(b), rows[i].d->optimized, rows[i].bytes),
			fmt_pct(c, sizeof(c), rows[i].d));

	count_presence(d, &appeared, &vanished);
	fprintf(out,
		"\nFunctions by change of CPU time (total = inclusive; %" PRIu32 " appeared, %" PRIu32
		" vanished)\n",
		appeared, vanished);
	fprintf(out, "  %-10s %10s %10s %8s %9s %9s  %s\n", "status", "base s", "opt s", "change", "calls b",
		"calls o", "function");
	for (uint32_t i = 0; i < d->nfns && (top_n == 0 || i < top_n); i++) {
		const struct dt_diff_fn *r = &d->fns[i];
		fprintf(out, "  %-10s %10.3f %10.3f %8s %9s %9s  %s\n", presence_name(r->presence),
			r->total_s.baseline, r->total_s.optimized, fmt_pct(c, sizeof(c), &r->total_s),
			fmt_count(e, sizeof(e), &r->calls, 0), fmt_count(f, sizeof(f), &r->calls, 1),
			dt_fmt_fit(name, sizeof(name), r->name, NAME_COLS));
	}
	if (top_n && d->nfns > top_n)
		fprintf(out, "  (%" PRIu32 " more; --top 0 lists every function)\n", d->nfns - top_n);
	regions_text(out, d);
	return ferror(out) ? -1 : 0;
}

/* Markdown table cells: '|' would end the cell, newlines the row. */
static void md_cell(FILE *out, const char *s)
{
	for (; s && *s; s++) {
		if (*s == '|')
			fputs("\\|", out);
		else if ((unsigned char)*s < 0x20)
			fputc(' ', out);
		else
			fputc(*s, out);
	}
}

int dt_report_diff_markdown(FILE *out, const struct dt_diff *d, uint32_t top_n)
{
	struct total_row rows[7];
	size_t nrows;
	char a[32], b[32], c[32], e[32], f[32];
	uint32_t appeared, vanished;

	fprintf(out, "# deiatrace diff\n\n- baseline: `");
	md_cell(out, d->baseline_name);
	fprintf(out, "`\n- optimized: `");
	md_cell(out, d->optimized_name);
	fprintf(out, "`\n- program: `");
	md_cell(out, d->program);
	fprintf(out, "`\n\n");
	verdict_line(out, d, "**");
	fprintf(out, "\n## Totals\n\n| quantity | baseline | optimized | change |\n|---|---:|---:|---:|\n");
	total_rows(d, rows, &nrows);
	for (size_t i = 0; i < nrows; i++)
		fprintf(out, "| %s | %s | %s | %s |\n", rows[i].label,
			fmt_value(a, sizeof(a), rows[i].d->baseline, rows[i].bytes),
			fmt_value(b, sizeof(b), rows[i].d->optimized, rows[i].bytes),
			fmt_pct(c, sizeof(c), rows[i].d));
	count_presence(d, &appeared, &vanished);
	fprintf(out,
		"\n## Functions\n\n%" PRIu32 " appeared, %" PRIu32 " vanished. CPU time is inclusive.\n\n",
		appeared, vanished);
	fprintf(
	    out,
	    "| function | status | baseline s | optimized s | change | calls baseline | calls optimized |\n"
	    "|---|---|---:|---:|---:|---:|---:|\n");
	for (uint32_t i = 0; i < d->nfns && (top_n == 0 || i < top_n); i++) {
		const struct dt_diff_fn *r = &d->fns[i];
		fputs("| `", out);
		md_cell(out, r->name);
		fprintf(out, "` | %s | %.3f | %.3f | %s | %s | %s |\n", presence_name(r->presence),
			r->total_s.baseline, r->total_s.optimized, fmt_pct(c, sizeof(c), &r->total_s),
			fmt_count(e, sizeof(e), &r->calls, 0), fmt_count(f, sizeof(f), &r->calls, 1));
	}
	if (d->nregions)
		fprintf(out, "\n## Regions\n\n| region | status | baseline wall s | optimized wall s | "
			     "change | CPU change | peak live change |\n"
			     "|---|---|---:|---:|---:|---:|---:|\n");
	for (uint32_t i = 0; i < d->nregions; i++) {
		const struct dt_diff_region *r = &d->regions[i];
		fputs("| `", out);
		md_cell(out, r->name);
		fprintf(out, "` | %s | %.3f | %.3f | %s | %s | %s |\n", presence_name(r->presence),
			r->wall_s.baseline, r->wall_s.optimized, fmt_pct(c, sizeof(c), &r->wall_s),
			fmt_pct(e, sizeof(e), &r->cpu_s), fmt_pct(f, sizeof(f), &r->peak_live_bytes));
	}
	return ferror(out) ? -1 : 0;
}

static void json_delta(FILE *out, const char *key, const struct dt_delta *d)
{
	fprintf(out, "\"%s\": ", key);
	if (!d->known) {
		fputs("null", out);
		return;
	}
	fputs("{\"baseline\": ", out);
	dt_json_put_number(out, d->baseline);
	fputs(", \"optimized\": ", out);
	dt_json_put_number(out, d->optimized);
	fputs(", \"change_pct\": ", out);
	dt_json_put_number(out, d->change_pct);
	fputs("}", out);
}

int dt_report_diff_json(FILE *out, const struct dt_diff *d, uint32_t top_n)
{
	(void)top_n;
	fprintf(out, "{\n  \"deiatrace_diff_version\": %d,\n  \"baseline\": ", DIFF_JSON_VERSION);
	dt_json_put_string(out, d->baseline_name);
	fputs(",\n  \"optimized\": ", out);
	dt_json_put_string(out, d->optimized_name);
	fputs(",\n  \"program\": ", out);
	dt_json_put_string(out, d->program);
	fprintf(out, ",\n  \"verdict\": \"%s\",\n  \"noise_pct\": ", dt_diff_verdict_name(d->verdict));
	dt_json_put_number(out, d->noise_pct);
	fputs(",\n  \"verdict_quantity\": ", out);
	fputs(d->focus ? "\"region_wall_s\"" : "\"cpu_s\"", out);
	fputs(",\n  \"verdict_region\": ", out);
	dt_json_put_string(out, d->focus ? d->focus->name : NULL);
	fprintf(out, ",\n  \"improvement_pct\": ");
	dt_json_put_number(out, -dt_diff_verdict_delta(d)->change_pct);
	fprintf(out, ",\n  \"totals\": {\n    \"cpu_source\": \"%s\",\n    ", d->cpu_source);
	json_delta(out, "cpu_s", &d->cpu_s);
	fputs(",\n    ", out);
	json_delta(out, "sampled_cpu_s", &d->sampled_s);
	fputs(",\n    ", out);
	json_delta(out, "wall_s", &d->wall_s);
	fputs(",\n    ", out);
	json_delta(out, "alloc_calls", &d->alloc_calls);
	fputs(",\n    ", out);
	json_delta(out, "alloc_bytes", &d->alloc_bytes);
	fputs(",\n    ", out);
	json_delta(out, "heap_peak_bytes", &d->heap_peak_bytes);
	fputs(",\n    ", out);
	json_delta(out, "rss_peak_bytes", &d->rss_peak_bytes);
	fputs("\n  },\n  \"functions\": [", out);
	for (uint32_t i = 0; i < d->nfns; i++) {
		const struct dt_diff_fn *r = &d->fns[i];
		fputs(i ? ",\n    {\"name\": " : "\n    {\"name\": ", out);
		dt_json_put_string(out, r->name);
		fputs(", \"module\": ", out);
		dt_json_put_string(out, r->module);
		fprintf(out, ", \"status\": \"%s\", \"baseline\": ", presence_name(r->presence));
		dt_json_put_number(out, r->total_s.baseline);
		fputs(", \"optimized\": ", out);
		dt_json_put_number(out, r->total_s.optimized);
		fputs(", \"change_pct\": ", out);
		dt_json_put_number(out, r->total_s.change_pct);
		fputs(", \"improvement_pct\": ", out);
		dt_json_put_number(out, -r->total_s.change_pct);
		fputs(", ", out);
		json_delta(out, "total_cpu_s", &r->total_s);
		fputs(", ", out);
		json_delta(out, "self_cpu_s", &r->self_s);
		fputs(", ", out);
		json_delta(out, "calls", &r->calls);
		fputs(", ", out);
		json_delta(out, "alloc_calls", &r->alloc_calls);
		fputs(", ", out);
		json_delta(out, "alloc_bytes", &r->alloc_bytes);
		fputs("}", out);
	}
	fputs(d->nfns ? "\n  ],\n  \"regions\": [" : "],\n  \"regions\": [", out);
	for (uint32_t i = 0; i < d->nregions; i++) {
		const struct dt_diff_region *r = &d->regions[i];
		fputs(i ? ",\n    {\"name\": " : "\n    {\"name\": ", out);
		dt_json_put_string(out, r->name);
		fprintf(out, ", \"status\": \"%s\", \"baseline\": ", presence_name(r->presence));
		dt_json_put_number(out, r->wall_s.baseline);
		fputs(", \"optimized\": ", out);
		dt_json_put_number(out, r->wall_s.optimized);
		fputs(", \"change_pct\": ", out);
		dt_json_put_number(out, r->wall_s.change_pct);
		fputs(", ", out);
		json_delta(out, "wall_s", &r->wall_s);
		fputs(", ", out);
		json_delta(out, "cpu_s", &r->cpu_s);
		fputs(", ", out);
		json_delta(out, "count", &r->count);
		fputs(", ", out);
		json_delta(out, "alloc_calls", &r->alloc_calls);
		fputs(", ", out);
		json_delta(out, "alloc_bytes", &r->alloc_bytes);
		fputs(", ", out);
		json_delta(out, "peak_live_bytes", &r->peak_live_bytes);
		fputs("}", out);
	}
	fputs(d->nregions ? "\n  ]\n}\n" : "]\n}\n", out);
	return ferror(out) ? -1 : 0;
}
