/* HTML reporter: one self-contained page (inline CSS and script, no network: a CSP forbids it) with
 * the summary, bottlenecks, hints, functions, memory and regions as server-rendered sortable tables,
 * and the flame graphs of dt_report_svg.c inline. Reads the profile model only. Every string from the
 * trace passes through dt_xml_put_text; the page's script holds no data: it sorts the rendered cells
 * (numbers from data-v attributes this file writes) and forwards search boxes to the flame graphs. */
#include "dt_report.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "dt_bottleneck.h"
#include "dt_flame.h"
#include "dt_hints.h"
#include "dt_regions.h"

#define NS_PER_S 1e9
#define NAME_CHARS DT_FLAME_NAME_MAX_CHARS
#define PROGRAM_TITLE_CHARS 200u /* the <title> and heading: the whole argv is in the summary */
#define INLINE_NAME_CHARS 300u	 /* names inside a sentence (hints); tables show up to NAME_CHARS */

static void text(FILE *out, const char *s)
{
	dt_xml_put_text(out, s, NAME_CHARS);
}

static double sec(uint64_t ns)
{
	return (double)ns / NS_PER_S;
}

/* ---------------------------------------------------------------- table cells */

/* A header cell; numeric columns sort by their cells' data-v, largest first on the first click. */
static void th(FILE *out, const char *label, int numeric)
{
	fprintf(out, "<th%s tabindex=\"0\">%s</th>", numeric ? " class=\"n\"" : "", label);
}

static void td_u64(FILE *out, uint64_t v)
{
	fprintf(out, "<td class=\"n\" data-v=\"%" PRIu64 "\">%" PRIu64 "</td>", v, v);
}

/* A number shown with `decimals` digits and sorted by its full value. */
static void td_num(FILE *out, double v, int decimals)
{
	fprintf(out, "<td class=\"n\" data-v=\"%.17g\">%.*f</td>", v, decimals, v);
}

static void td_bytes(FILE *out, uint64_t v)
{
	char b[32];

	fprintf(out, "<td class=\"n\" data-v=\"%" PRIu64 "\" title=\"%" PRIu64 " bytes\">%s</td>", v, v,
		dt_fmt_bytes(b, sizeof(b), v));
}

/* Unknown values sort below every known one. */
static void td_dash(FILE *out)
{
	fputs("<td class=\"n\" data-v=\"-1\">-</td>", out);
}

/* Text cells; the div scrolls a very long name instead of making its row a page high. */
static void td_text(FILE *out, const char *s, const char *cls)
{
	fprintf(out, "<td%s%s%s><div>", cls ? " class=\"" : "", cls ? cls : "", cls ? "\"" : "");
	text(out, s);
	fputs("</div></td>", out);
}

static void td_calls(FILE *out, const struct dt_function *fn)
{
	if (fn->calls == DT_CALLS_UNKNOWN)
		td_dash(out);
	else
		td_u64(out, fn->calls);
}

static void td_location(FILE *out, const struct dt_function *fn)
{
	char loc[512];

	td_text(out, dt_fmt_location(loc, sizeof(loc), fn), "loc");
}

/* ---------------------------------------------------------------- sections */

static void put_summary(FILE *out, const struct dt_profile *p)
{
	const struct dt_summary *s = &p->summary;
	char b1[32], b2[32];

	fputs(
	    "<section id=\"summary\"><h2>Summary</h2>\n<table class=\"kv\"><tbody>\n<tr><th>command</th><td>",
	    out);
	for (uint32_t i = 0; i < s->argc; i++) {
		if (i)
			fputc(' ', out);
		fputs("<span class=\"arg\">", out);
		text(out, s->argv[i]);
		fputs("</span>", out);
	}
	if (!s->argc)
		text(out, s->program);
	fprintf(out, "</td></tr>\n<tr><th>pid</th><td>%" PRIu64 "</td></tr>\n", s->pid);
	fprintf(out, "<tr><th>wall</th><td>%.3f s</td></tr>\n", s->wall_s);
	fprintf(out, "<tr><th>CPU</th><td>%.3f s user + %.3f s system</td></tr>\n", s->cpu_user_s,
		s->cpu_sys_s);
	fprintf(out, "<tr><th>threads</th><td>%" PRIu64 "</td></tr>\n", s->threads);
	fprintf(out,
		"<tr><th>samples</th><td>%" PRIu64 " (%.3f CPU s), %" PRIu64 " lost</td></tr>\n"
		"<tr><th>sampler</th><td>%s, asked %" PRIu64 " Hz, achieved %.0f Hz</td></tr>\n",
		s->samples, sec(s->sample_weight_ns), s->samples_lost, s->sampler_name, s->sample_hz,
		s->achieved_hz);
	fprintf(out, "<tr><th>unwind failures</th><td>%" PRIu64 ", %" PRIu64 " truncated stacks</td></tr>\n",
		s->unwind_failures, s->stacks_truncated);
	fprintf(out, "<tr><th>RSS</th><td>%s at start, %s peak</td></tr>\n",
		dt_fmt_bytes(b1, sizeof(b1), s->rss_start_bytes),
		dt_fmt_bytes(b2, sizeof(b2), s->rss_peak_bytes));
	if (s->has_alloc)
		fprintf(out,
			"<tr><th>heap</th><td>%" PRIu64 " allocations, %s allocated, %s peak</td></tr>\n",
			s->alloc_calls, dt_fmt_bytes(b1, sizeof(b1), s->alloc_bytes),
			dt_fmt_bytes(b2, sizeof(b2), s->heap_peak_bytes));
	fputs("</tbody></table></section>\n", out);
}

static void put_bottlenecks(FILE *out, const struct dt_bottleneck *b, size_t nb,
			    const struct dt_report_opts *o)
{
	fprintf(out, "<section id=\"bottlenecks\"><h2>Bottlenecks (%s time &#8805; %.1f%%)</h2>\n",
		o->inclusive ? "total" : "self", o->threshold_pct);
	if (!nb) {
		fputs("<p>None.</p></section>\n", out);
		return;
	}
	fputs("<table class=\"sortable\"><thead><tr>", out);
	th(out, "time %", 1);
	th(out, "CPU s", 1);
	th(out, "samples", 1);
	th(out, "calls", 1);
	th(out, "avg ns/call", 1);
	th(out, "allocated", 1);
	th(out, "peak live", 1);
	th(out, "function", 0);
	th(out, "module", 0);
	th(out, "file:line", 0);
	fputs("</tr></thead><tbody>\n", out);
	for (size_t i = 0; i < nb; i++) {
		const struct dt_function *fn = b[i].fn;
		double avg = dt_profile_avg_call_ns(fn);

		fputs("<tr>", out);
		td_num(out, b[i].time_pct, 1);
		td_num(out, sec(o->inclusive ? fn->total_weight_ns : fn->self_weight_ns), 3);
		td_u64(out, o->inclusive ? fn->total_samples : fn->self_samples);
		td_calls(out, fn);
		if (avg < 0)
			td_dash(out);
		else
			td_num(out, avg, 1);
		td_bytes(out, fn->alloc_bytes);
		td_bytes(out, fn->peak_live_bytes);
		td_text(out, fn->name, "fn");
		td_text(out, fn->module, NULL);
		td_location(out, fn);
		fputs("</tr>\n", out);
	}
	fputs("</tbody></table></section>\n", out);
}

static void put_hints(FILE *out, const struct dt_hint *h, size_t nh)
{
	fputs("<section id=\"hints\"><h2>Hints</h2>\n", out);
	if (!nh) {
		fputs("<p>None.</p></section>\n", out);
		return;
	}
	fputs("<ul class=\"hints\">\n", out);
	for (size_t i = 0; i < nh; i++) {
		fputs("<li><b>", out);
		text(out, h[i].rule);
		fputs("</b> <code>", out);
		if (h[i].fn)
			dt_xml_put_text(out, h[i].fn->name, INLINE_NAME_CHARS);
		else
			fputs("(whole program)", out);
		fputs("</code>: ", out);
		text(out, h[i].evidence);
		if (h[i].related) {
			fputs(" (caller: <code>", out);
			dt_xml_put_text(out, h[i].related->name, INLINE_NAME_CHARS);
			fputs("</code>)", out);
		}
		fputs(". ", out);
		text(out, h[i].suggestion);
		fputs("</li>\n", out);
	}
	fputs("</ul></section>\n", out);
}

static void put_functions(FILE *out, const struct dt_profile *p, struct dt_function **sorted,
			  const struct dt_report_opts *o)
{
	fputs("<section id=\"functions\"><h2>Functions by self time</h2>\n", out);
	const char *why = dt_profile_no_samples_why(p);
	if (why) {
		fprintf(out, "<p>%s.</p></section>\n", why); /* a fixed sentence, no markup in it */
		return;
	}
	fputs("<table class=\"sortable\"><thead><tr>", out);
	th(out, "self %", 1);
	th(out, "self s", 1);
	th(out, "total %", 1);
	th(out, "total s", 1);
	th(out, "samples", 1);
	th(out, "calls", 1);
	th(out, "function", 0);
	th(out, "module", 0);
	th(out, "file:line", 0);
	fputs("</tr></thead><tbody>\n", out);
	for (uint32_t i = 0, shown = 0; i < p->nfns && shown < o->top_n; i++) {
		const struct dt_function *fn = sorted[i];

		if (!fn->total_samples)
			continue;
		fputs("<tr>", out);
		td_num(out, dt_profile_pct(p, fn->self_samples), 1);
		td_num(out, sec(fn->self_weight_ns), 3);
		td_num(out, dt_profile_pct(p, fn->total_samples), 1);
		td_num(out, sec(fn->total_weight_ns), 3);
		td_u64(out, fn->self_samples);
		td_calls(out, fn);
		td_text(out, fn->name, "fn");
		td_text(out, fn->module, NULL);
		td_location(out, fn);
		fputs("</tr>\n", out);
		shown++;
	}
	fputs("</tbody></table></section>\n", out);
}

static int put_memory(FILE *out, const struct dt_profile *p, const struct dt_report_opts *o)
{
	const struct dt_summary *s = &p->summary;
	struct dt_function **v;
	char b1[32], b2[32];

	if (!s->has_alloc)
		return 0;
	v = dt_profile_sorted_by_alloc(p);
	if (!v)
		return -1;
	fprintf(out,
		"<section id=\"memory\"><h2>Memory</h2>\n<p>%" PRIu64 " allocations, %" PRIu64
		" frees, %s allocated, heap peak %s; ",
		s->alloc_calls, s->free_calls, dt_fmt_bytes(b1, sizeof(b1), s->alloc_bytes),
		dt_fmt_bytes(b2, sizeof(b2), s->heap_peak_bytes));
	fprintf(out, "leaked %s in %" PRIu64 " blocks.</p>\n", dt_fmt_bytes(b1, sizeof(b1), s->leaked_bytes),
		s->leaked_blocks);
	fputs("<table class=\"sortable\"><thead><tr>", out);
	th(out, "allocated", 1);
	th(out, "allocations", 1);
	th(out, "frees", 1);
	th(out, "peak live", 1);
	th(out, "leaked", 1);
	th(out, "function", 0);
	th(out, "module", 0);
	fputs("</tr></thead><tbody>\n", out);
	for (uint32_t i = 0, shown = 0; i < p->nfns && shown < o->top_n; i++) {
		const struct dt_function *fn = v[i];

		if (!fn->alloc_bytes && !fn->leaked_bytes && !fn->alloc_calls)
			break;
		fputs("<tr>", out);
		td_bytes(out, fn->alloc_bytes);
		td_u64(out, fn->alloc_calls);
		td_u64(out, fn->alloc_frees);
		td_bytes(out, fn->peak_live_bytes);
		td_bytes(out, fn->leaked_bytes);
		td_text(out, fn->name, "fn");
		td_text(out, fn->module, NULL);
		fputs("</tr>\n", out);
		shown++;
	}
	fputs("</tbody></table></section>\n", out);
	free(v);
	return 0;
}

/* Named regions (include/deiatrace.h), when the program marked any. */
static void put_regions(FILE *out, const struct dt_profile *p)
{
	const struct dt_regions *r = p->regions;
	int alloc, has_peak;

	if (!r || (!r->n && !r->dropped))
		return;
	alloc = (r->flags & DT_REGIONS_ALLOC_MEASURED) != 0;
	has_peak = alloc && dt_regions_has_field(r, DT_REGION_PEAK_LIVE_BYTES);
	fputs("<section id=\"regions\"><h2>Regions</h2>\n<p>Marked with include/deiatrace.h; seconds, nested "
	      "regions included.</p>\n<table class=\"sortable\"><thead><tr>",
	      out);
	th(out, "region", 0);
	th(out, "count", 1);
	th(out, "wall s", 1);
	th(out, "self s", 1);
	th(out, "CPU s", 1);
	th(out, "max s", 1);
	th(out, "allocations", 1);
	th(out, "allocated", 1);
	th(out, "peak live", 1);
	fputs("</tr></thead><tbody>\n", out);
	for (uint32_t i = 0; i < r->n; i++) {
		const uint64_t *f = r->r[i].f;

		fputs("<tr>", out);
		td_text(out, r->r[i].name, "fn");
		td_u64(out, f[DT_REGION_COUNT]);
		td_num(out, sec(f[DT_REGION_WALL_NS]), 3);
		td_num(out, sec(f[DT_REGION_SELF_WALL_NS]), 3);
		td_num(out, sec(f[DT_REGION_CPU_NS]), 3);
		td_num(out, sec(f[DT_REGION_MAX_WALL_NS]), 3);
		if (alloc) {
			td_u64(out, f[DT_REGION_ALLOC_CALLS]);
			td_bytes(out, f[DT_REGION_ALLOC_BYTES]);
		} else {
			td_dash(out);
			td_dash(out);
		}
		if (has_peak)
			td_bytes(out, f[DT_REGION_PEAK_LIVE_BYTES]);
		else
			td_dash(out);
		fputs("</tr>\n", out);
	}
	fputs("</tbody></table>\n", out);
	if (r->dropped)
		fprintf(out,
			"<p>%" PRIu64 " region begins/ends not recorded (table full, nested too deep, or "
			"unmatched).</p>\n",
			r->dropped);
	fputs("</section>\n", out);
}

static int put_flame(FILE *out, const struct dt_profile *p, enum dt_metric m, const char *title)
{
	fprintf(
	    out,
	    "<section id=\"flame-%s\" class=\"flame\"><h2>%s flame graph</h2>\n"
	    "<p class=\"tools\"><input type=\"search\" class=\"flame-search\" placeholder=\"search functions "
	    "(regular expression)\" aria-label=\"search the %s flame graph\"> <span class=\"hint\">Click a "
	    "frame to zoom, the bottom frame to zoom out; hover for values.</span></p>\n<div class=\"svg\">",
	    dt_metric_name(m), title, title);
	if (dt_flame_svg(out, p, m, 0))
		return -1;
	fputs("</div></section>\n", out);
	return 0;
}

static const char page_style[] =
    "<style>\n"
    "body { font: 14px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1240px; padding: 0 16px 40px;"
    " color: #1d1d1d; background: #fff; }\n"
    "h1 { font-size: 22px; margin: 18px 0 4px; overflow-wrap: anywhere; }\n"
    "h2 { font-size: 17px; margin: 26px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 3px; }\n"
    "nav a { margin-right: 12px; }\n"
    ".partial { background: #fff3cd; border: 1px solid #e0c060; padding: 6px 10px; }\n"
    "table { border-collapse: collapse; font-size: 13px; }\n"
    "th, td { padding: 3px 8px; border-bottom: 1px solid #eee; text-align: left; vertical-align: top; }\n"
    "td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }\n"
    "td.fn, code { font-family: monospace; overflow-wrap: anywhere; }\n"
    "td.fn { max-width: 520px; }\n"
    "td > div { max-height: 4.4em; overflow: auto; }\n"
    "td.loc { color: #555; max-width: 220px; overflow-wrap: anywhere; }\n"
    "table.kv th { width: 140px; color: #555; font-weight: normal; }\n"
    "table.kv td { overflow-wrap: anywhere; }\n"
    "table.sortable th { cursor: pointer; user-select: none; background: #f6f4f0; }\n"
    "table.sortable th[aria-sort=ascending]::after { content: ' \\25B2'; }\n"
    "table.sortable th[aria-sort=descending]::after { content: ' \\25BC'; }\n"
    "tbody tr:hover { background: #faf6ee; }\n"
    ".hints li { margin: 4px 0; }\n"
    ".tools input { width: 320px; padding: 3px 6px; }\n"
    ".tools .hint { color: #666; margin-left: 10px; }\n"
    ".svg svg { max-width: 100%; height: auto; }\n"
    ".arg { background: #f3f3f3; padding: 0 3px; font-family: monospace; }\n"
    "</style>\n";

/* Sorting and the search boxes. No data: it reads the cells and data-v attributes the page holds. */
static const char page_script[] =
    "<script>\n"
    "(function () {\n"
    "  'use strict';\n"
    "  function key(row, col, numeric) {\n"
    "    var c = row.cells[col];\n"
    "    if (!c) return numeric ? -Infinity : '';\n"
    "    return numeric ? parseFloat(c.getAttribute('data-v')) : c.textContent;\n"
    "  }\n"
    "  function sortBy(table, th) {\n"
    "    var col = th.cellIndex, numeric = th.classList.contains('n');\n"
    "    var asc = th.getAttribute('aria-sort') ? th.getAttribute('aria-sort') !== 'ascending' : !numeric;\n"
    "    var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);\n"
    "    rows.sort(function (a, b) {\n"
    "      var x = key(a, col, numeric), y = key(b, col, numeric);\n"
    "      var c = numeric ? (x < y ? -1 : x > y ? 1 : 0) : x.localeCompare(y);\n"
    "      return asc ? c : -c;\n"
    "    });\n"
    "    rows.forEach(function (r) { body.appendChild(r); });\n"
    "    Array.prototype.forEach.call(th.parentNode.cells, function (h) { h.removeAttribute('aria-sort'); "
    "});\n"
    "    th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');\n"
    "  }\n"
    "  document.querySelectorAll('table.sortable').forEach(function (table) {\n"
    "    table.querySelectorAll('thead th').forEach(function (th) {\n"
    "      th.addEventListener('click', function () { sortBy(table, th); });\n"
    "      th.addEventListener('keydown', function (e) {\n"
    "        if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); sortBy(table, th); }\n"
    "      });\n"
    "    });\n"
    "  });\n"
    "  document.querySelectorAll('section.flame').forEach(function (sec) {\n"
    "    var input = sec.querySelector('input.flame-search'), svg = sec.querySelector('svg');\n"
    "    if (!input || !svg) return;\n"
    "    input.addEventListener('input', function () { if (svg.dtSearch) svg.dtSearch(input.value); });\n"
    "  });\n"
    "  document.body.setAttribute('data-ready', '1');\n"
    "})();\n"
    "</script>\n";

int dt_report_html(FILE *out, const struct dt_profile *p, const struct dt_report_opts *o)
{
	const struct dt_summary *s = &p->summary;
	struct dt_function **sorted = dt_profile_sorted(p, 0);
	struct dt_bottleneck *b = NULL;
	struct dt_hint *h = NULL;
	size_t nb = 0, nh = 0;
	int rc = -1, has_regions = p->regions && (p->regions->n || p->regions->dropped);

	if (!sorted || dt_bottlenecks_find(p, o->threshold_pct, o->inclusive, &b, &nb) ||
	    dt_hints_find(p, &o->hints, o->threshold_pct, o->inclusive, &h, &nh))
		goto out;
	/* default-src 'none': the page loads nothing, whatever a name in it says. */
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
	      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
	      "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	      "<meta name=\"generator\" content=\"deiatrace " DT_VERSION "\">\n<title>deiatrace: ",
	      out);
	dt_xml_put_text(out, s->program, PROGRAM_TITLE_CHARS);
	fputs("</title>\n", out);
	fputs(page_style, out);
	fputs("</head>\n<body>\n<h1>deiatrace profile: <code>", out);
	dt_xml_put_text(out, s->program, PROGRAM_TITLE_CHARS);
	fputs("</code></h1>\n", out);
	if (s->partial) {
		fputs("<p class=\"partial\"><b>Partial trace:</b> ", out);
		text(out, s->partial_why);
		fputs("</p>\n", out);
	}
	fputs("<nav><a href=\"#summary\">summary</a><a href=\"#bottlenecks\">bottlenecks</a>", out);
	if (o->hints.enabled)
		fputs("<a href=\"#hints\">hints</a>", out);
	fputs("<a href=\"#functions\">functions</a>", out);
	if (s->has_alloc)
		fputs("<a href=\"#memory\">memory</a>", out);
	if (has_regions)
		fputs("<a href=\"#regions\">regions</a>", out);
	fputs("<a href=\"#flame-cpu\">CPU flame graph</a>", out);
	if (s->has_alloc)
		fputs("<a href=\"#flame-alloc_bytes\">memory flame graph</a>", out);
	fputs("</nav>\n", out);
	put_summary(out, p);
	put_bottlenecks(out, b, nb, o);
	if (o->hints.enabled)
		put_hints(out, h, nh);
	put_functions(out, p, sorted, o);
	if (put_memory(out, p, o))
		goto out;
	put_regions(out, p);
	if (put_flame(out, p, DT_METRIC_CPU, "CPU"))
		goto out;
	if (s->has_alloc && put_flame(out, p, DT_METRIC_ALLOC_BYTES, "Allocated bytes"))
		goto out;
	/* --metric asked for another memory view: that one too. */
	if (s->has_alloc && (o->metric == DT_METRIC_ALLOC_CALLS || o->metric == DT_METRIC_PEAK_BYTES) &&
	    put_flame(out, p, o->metric,
		      o->metric == DT_METRIC_ALLOC_CALLS ? "Allocation calls" : "Heap peak bytes"))
		goto out;
	fputs(page_script, out);
	fputs("</body></html>\n", out);
	rc = ferror(out) ? -1 : 0;
out:
	free(sorted);
	free(b);
	free(h);
	return rc;
}
