/* Text reporter (the default): summary, functions table, bottlenecks, callers/callees of the
 * hottest functions, memory, named regions. Reads the profile model only; every line fits
 * DT_REPORT_WIDTH_COLS. ANSI colour only when opts->color says so (the CLI decides: a terminal, no
 * NO_COLOR, not --color=never); escape sequences never change the visible layout. */
#include "dt_report.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "dt_bottleneck.h"

#define NS_PER_S 1e9
#define FN_COL_WIDTH 30u	   /* function name column */
#define CALLS_COL_MAX 999999999ull /* wider counts are shown in billions ("12.3G") */
#define LOC_COL_WIDTH 18u	   /* file:line column */
#define SUMMARY_ARGV_WIDTH 78u
#define NAME_BUF_BYTES 512u
#define BOTTLENECK_NAME_WIDTH 30u /* the bottleneck table's function column */
#define NS_PER_US 1e3
#define NS_PER_MS 1e6
#define REGION_NAME_WIDTH 20u /* the regions table's name column */

/* SGR sequences (ECMA-48): every coloured span ends with SGR_RESET on the same line. */
#define SGR_BOLD "\033[1m"
#define SGR_RED "\033[31m"
#define SGR_YELLOW "\033[33m"
#define SGR_RESET "\033[0m"

static const char *sgr(const struct dt_report_opts *o, const char *code)
{
	return o->color ? code : "";
}

/* A section title: "\nTitle (details)\n", the title bold. */
static void print_heading(FILE *out, const struct dt_report_opts *o, const char *title, const char *details)
{
	fprintf(out, "\n%s%s%s%s\n", sgr(o, SGR_BOLD), title, sgr(o, SGR_RESET), details);
}

static void print_rule(FILE *out)
{
	for (unsigned i = 0; i < DT_REPORT_WIDTH_COLS; i++)
		fputc('-', out);
	fputc('\n', out);
}

static void print_summary(FILE *out, const struct dt_profile *p, const struct dt_report_opts *o)
{
	const struct dt_summary *s = &p->summary;
	char cmd[NAME_BUF_BYTES] = "", fit[NAME_BUF_BYTES], b1[32], b2[32];
	size_t used = 0;

	for (uint32_t i = 0; i < s->argc && used + 2 < sizeof(cmd); i++)
		used += (size_t)snprintf(cmd + used, sizeof(cmd) - used, "%s%s", i ? " " : "", s->argv[i]);
	if (used >= sizeof(cmd))
		used = sizeof(cmd) - 1;
	if (!s->argc)
		snprintf(cmd, sizeof(cmd), "%s", s->program);
	fprintf(out, "%sdeiatrace profile of %s%s\n", sgr(o, SGR_BOLD),
		dt_fmt_fit(fit, sizeof(fit), cmd, SUMMARY_ARGV_WIDTH), sgr(o, SGR_RESET));
	if (s->argc && strcmp(s->program, s->argv[0]) != 0)
		fprintf(out, "  program  %s\n",
			dt_fmt_fit_tail(fit, sizeof(fit), s->program, SUMMARY_ARGV_WIDTH));
	if (s->partial)
		fprintf(out, "  %s*** partial trace: %s ***%s\n", sgr(o, SGR_RED),
			dt_fmt_fit(fit, sizeof(fit), s->partial_why, 76), sgr(o, SGR_RESET));
	fprintf(out, "  pid %" PRIu64 ", wall %.3f s, CPU %.3f s user + %.3f s sys, %" PRIu64 " thread%s\n",
		s->pid, s->wall_s, s->cpu_user_s, s->cpu_sys_s, s->threads, s->threads == 1 ? "" : "s");
	fprintf(out,
		"  samples %" PRIu64 " (%.3f CPU s), lost %" PRIu64 ", rate asked %" PRIu64
		" Hz, achieved %.0f Hz\n",
		s->samples, (double)s->sample_weight_ns / NS_PER_S, s->samples_lost, s->sample_hz,
		s->achieved_hz);
	fprintf(out, "  sampler %s, unwind failures %" PRIu64 ", truncated stacks %" PRIu64 "\n",
		s->sampler_name, s->unwind_failures, s->stacks_truncated);
	fprintf(out, "  RSS %s at start, %s peak\n", dt_fmt_bytes(b1, sizeof(b1), s->rss_start_bytes),
		dt_fmt_bytes(b2, sizeof(b2), s->rss_peak_bytes));
	if (s->degraded) {
		fprintf(out, "  degraded:");
		if (s->degraded & DT_DEGRADED_SAMPLER_OFF)
			fprintf(out, " sampler-off");
		if (s->degraded & DT_DEGRADED_STEPPED_ASIDE)
			fprintf(out, " stepped-aside(host owns SIGPROF)");
		if (s->degraded & DT_DEGRADED_STACK_TABLE_FULL)
			fprintf(out, " stack-table-full");
		if (s->degraded & DT_DEGRADED_LIVE_MAP_FULL)
			fprintf(out, " live-map-full");
		if (s->degraded & DT_DEGRADED_MALLOC_OFF)
			fprintf(out, " malloc-tracking-off");
		if (s->degraded & DT_DEGRADED_TIMER_FALLBACK)
			fprintf(out, " timer-fallback(some threads tick-limited)");
		fputc('\n', out);
	}
}

/* "812 ns", "3.4 us", "12.0 ms", "25.1 s" for an average call (at most 9 columns); "-" when unknown. */
static const char *fmt_call_ns(char *buf, size_t len, double ns)
{
	if (ns < 0)
		snprintf(buf, len, "-");
	else if (ns < NS_PER_US * 10)
		snprintf(buf, len, "%.0f ns", ns);
	else if (ns < NS_PER_MS * 10)
		snprintf(buf, len, "%.1f us", ns / NS_PER_US);
	else if (ns < NS_PER_S * 10)
		snprintf(buf, len, "%.1f ms", ns / NS_PER_MS);
	else
		snprintf(buf, len, "%.1f s", ns / NS_PER_S);
	return buf;
}

static const char *fmt_calls(char *buf, size_t len, uint64_t calls)
{
	if (calls == DT_CALLS_UNKNOWN)
		snprintf(buf, len, "-");
	else if (calls > CALLS_COL_MAX)
		snprintf(buf, len, "%.1fG", (double)calls / 1e9);
	else
		snprintf(buf, len, "%" PRIu64, calls);
	return buf;
}

static void print_functions(FILE *out, const struct dt_profile *p, struct dt_function **sorted,
			    const struct dt_report_opts *o)
{
	char name[NAME_BUF_BYTES], loc[NAME_BUF_BYTES], locfit[NAME_BUF_BYTES], calls[24], det[64];
	uint32_t rows = 0;

	for (uint32_t i = 0; i < p->nfns; i++)
		rows += sorted[i]->total_samples > 0;
	snprintf(det, sizeof(det), " (top %" PRIu32 " of %" PRIu32 ")", rows < o->top_n ? rows : o->top_n,
		 rows);
	print_heading(out, o, "Functions by self time", det);
	const char *why = dt_profile_no_samples_why(p);
	if (why) {
		/* An empty table would read as "nothing ran". */
		fprintf(out, "  %s\n", why);
		return;
	}
	fprintf(out, "%6s %8s %6s %8s %8s %9s %-*s %s\n", "self%", "self s", "total%", "total s", "samples",
		"calls", FN_COL_WIDTH, "function", "file:line");
	for (uint32_t i = 0, shown = 0; i < p->nfns && shown < o->top_n; i++) {
		const struct dt_function *fn = sorted[i];

		if (!fn->total_samples)
			continue;
		fmt_calls(calls, sizeof(calls), fn->calls);
		dt_fmt_location(loc, sizeof(loc), fn);
		dt_fmt_fit(name, sizeof(name), fn->name, FN_COL_WIDTH);
		fprintf(out, "%5.1f%% %8.3f %5.1f%% %8.3f %8" PRIu64 " %9s ",
			dt_profile_pct(p, fn->self_samples), (double)fn->self_weight_ns / NS_PER_S,
			dt_profile_pct(p, fn->total_samples), (double)fn->total_weight_ns / NS_PER_S,
			fn->self_samples, calls);
		if (loc[0])
			fprintf(out, "%-*s %s\n", FN_COL_WIDTH, name,
				dt_fmt_fit_tail(locfit, sizeof(locfit), loc, LOC_COL_WIDTH));
		else
			fprintf(out, "%s\n", name); /* no trailing blanks */
		shown++;
	}
}

static int print_bottlenecks(FILE *out, const struct dt_profile *p, const struct dt_report_opts *o)
{
	struct dt_bottleneck *b;
	size_t n;
	char name[NAME_BUF_BYTES], calls[24], avg[24], alloc[32], peak[32], det[64];

	if (dt_bottlenecks_find(p, o->threshold_pct, o->inclusive, &b, &n))
		return -1;
	snprintf(det, sizeof(det), " (%s time >= %.1f%% of samples)", o->inclusive ? "total" : "self",
		 o->threshold_pct);
	print_heading(out, o, "Bottlenecks", det);
	if (!n) {
		fprintf(out, "  none\n");
		return 0;
	}
	fprintf(out, "  %6s %8s %8s %9s %9s %10s %10s  %s\n", "time%", o->inclusive ? "total s" : "self s",
		"samples", "calls", "avg/call", "allocated", "peak live", "function");
	for (size_t i = 0; i < n; i++) {
		const struct dt_function *fn = b[i].fn;
		uint64_t w = o->inclusive ? fn->total_weight_ns : fn->self_weight_ns;
		uint64_t smp = o->inclusive ? fn->total_samples : fn->self_samples;

		/* The worst bottleneck red, the others yellow: the eye goes to the first line. */
		fputs(sgr(o, i == 0 ? SGR_RED : SGR_YELLOW), out);
		fprintf(out, "  %5.1f%% %8.3f %8" PRIu64 " %9s %9s %10s %10s  %s", b[i].time_pct,
			(double)w / NS_PER_S, smp, fmt_calls(calls, sizeof(calls), fn->calls),
			fmt_call_ns(avg, sizeof(avg), dt_profile_avg_call_ns(fn)),
			dt_fmt_bytes(alloc, sizeof(alloc), fn->alloc_bytes),
			dt_fmt_bytes(peak, sizeof(peak), fn->peak_live_bytes),
			dt_fmt_fit(name, sizeof(name), fn->name, BOTTLENECK_NAME_WIDTH));
		fprintf(out, "%s\n", sgr(o, SGR_RESET));
	}
	free(b);
	return 0;
}

/* Prints text word by word after `indent`, wrapping before DT_REPORT_WIDTH_COLS; continuation lines
 * are indented with as many blanks. */
static void print_wrapped(FILE *out, const char *indent, const char *text)
{
	char buf[NAME_BUF_BYTES];
	size_t col = 0, ind = strlen(indent), line = 0;

	dt_fmt_fit(buf, sizeof(buf), text, sizeof(buf) - 1);
	for (char *w = strtok(buf, " "); w; w = strtok(NULL, " ")) {
		size_t wl = strlen(w);

		if (col && col + 1 + wl > DT_REPORT_WIDTH_COLS) {
			fputc('\n', out);
			col = 0;
		}
		if (!col) {
			fprintf(out, "%*s", (int)ind, line++ ? "" : indent);
			col = ind;
		} else {
			fputc(' ', out);
			col++;
		}
		if (col + wl > DT_REPORT_WIDTH_COLS) /* one word longer than a line */
			wl = DT_REPORT_WIDTH_COLS - col;
		fwrite(w, 1, wl, out);
		col += wl;
	}
	if (col)
		fputc('\n', out);
}

static int print_hints(FILE *out, const struct dt_profile *p, const struct dt_report_opts *o)
{
	struct dt_hint *h;
	size_t n;
	char name[NAME_BUF_BYTES], line[NAME_BUF_BYTES];

	if (!o->hints.enabled)
		return 0;
	if (dt_hints_find(p, &o->hints, o->threshold_pct, o->inclusive, &h, &n))
		return -1;
	print_heading(out, o, "Hints", "");
	if (!n)
		fprintf(out, "  none\n");
	for (size_t i = 0; i < n; i++) {
		int used = snprintf(line, sizeof(line), "  %s: ", h[i].rule);

		if (h[i].fn)
			dt_fmt_fit(name, sizeof(name), h[i].fn->name, DT_REPORT_WIDTH_COLS - (size_t)used);
		else
			snprintf(name, sizeof(name), "(whole program)");
		fprintf(out, "  %s%s%s: %s\n", sgr(o, SGR_YELLOW), h[i].rule, sgr(o, SGR_RESET), name);
		print_wrapped(out, "    ", h[i].evidence);
		if (h[i].related) {
			snprintf(line, sizeof(line), "caller: %s", h[i].related->name);
			print_wrapped(out, "    ", line);
		}
		print_wrapped(out, "    -> ", h[i].suggestion);
	}
	free(h);
	return 0;
}

static int cmp_edge_samples(const void *a, const void *b)
{
	const struct dt_edge *x = *(const struct dt_edge *const *)a, *y = *(const struct dt_edge *const *)b;

	if (x->samples != y->samples)
		return x->samples > y->samples ? -1 : 1;
	return (x->caller != y->caller) ? (x->caller < y->caller ? -1 : 1)
					: (x->callee < y->callee ? -1 : x->callee > y->callee);
}

static void print_edge_list(FILE *out, const struct dt_profile *p, const struct dt_function *fn,
			    const struct dt_edge **edges, uint32_t nedges, int callers)
{
	char name[NAME_BUF_BYTES];
	uint32_t shown = 0;

	fprintf(out, "    %s\n", callers ? "called from:" : "calls:");
	for (uint32_t i = 0; i < nedges && shown < DT_REPORT_RELATED_EDGES; i++) {
		const struct dt_edge *e = edges[i];
		uint32_t other;

		if (callers ? e->callee != fn->id : e->caller != fn->id)
			continue;
		other = callers ? e->caller : e->callee;
		fprintf(out, "      %5.1f%% %8" PRIu64 "  %s\n",
			fn->total_samples ? 100.0 * (double)e->samples / (double)fn->total_samples : 0.0,
			e->samples, dt_fmt_fit(name, sizeof(name), p->fns[other]->name, 76));
		shown++;
	}
	if (!shown)
		fprintf(out, "      (none)\n");
}

static int print_related(FILE *out, const struct dt_profile *p, struct dt_function **sorted,
			 const struct dt_report_opts *o)
{
	const struct dt_edge **edges = malloc((p->nedges ? p->nedges : 1) * sizeof(*edges));
	char name[NAME_BUF_BYTES];

	if (!edges)
		return -1;
	for (uint32_t i = 0; i < p->nedges; i++)
		edges[i] = &p->edges[i];
	qsort(edges, p->nedges, sizeof(*edges), cmp_edge_samples);
	char det[64];
	snprintf(det, sizeof(det), " of the top %u functions (%% of the function's total samples)",
		 DT_REPORT_RELATED_FNS);
	print_heading(out, o, "Callers and callees", det);
	for (uint32_t i = 0; i < p->nfns && i < DT_REPORT_RELATED_FNS; i++) {
		if (!sorted[i]->self_samples)
			break;
		fprintf(out, "  %s\n", dt_fmt_fit(name, sizeof(name), sorted[i]->name, 96));
		print_edge_list(out, p, sorted[i], edges, p->nedges, 1);
		print_edge_list(out, p, sorted[i], edges, p->nedges, 0);
	}
	free(edges);
	return 0;
}

static int print_memory(FILE *out, const struct dt_profile *p, const struct dt_report_opts *o)
{
	const struct dt_summary *s = &p->summary;
	struct dt_function **v;
	char b[5][32], name[NAME_BUF_BYTES];

	if (!s->has_alloc)
		return 0;
	v = dt_profile_sorted_by_alloc(p);
	if (!v)
		return -1;
	print_heading(out, o, "Memory", "");
	fprintf(out, "  %" PRIu64 " allocations, %" PRIu64 " frees, %s allocated, heap peak %s\n",
		s->alloc_calls, s->free_calls, dt_fmt_bytes(b[0], sizeof(b[0]), s->alloc_bytes),
		dt_fmt_bytes(b[1], sizeof(b[1]), s->heap_peak_bytes));
	fprintf(out, "  leaked %s in %" PRIu64 " blocks, RSS baseline %s\n",
		dt_fmt_bytes(b[0], sizeof(b[0]), s->leaked_bytes), s->leaked_blocks,
		dt_fmt_bytes(b[1], sizeof(b[1]), s->rss_start_bytes));
	fprintf(out, "  allocated/calls: by the function itself; incl.: with its callees\n");
	fprintf(out, "%10s %9s %10s %10s %10s  %s\n", "allocated", "calls", "incl.", "peak live", "leaked",
		"function");
	for (uint32_t i = 0, shown = 0; i < p->nfns && shown < o->top_n; i++) {
		const struct dt_function *fn = v[i];

		if (!fn->alloc_bytes && !fn->leaked_bytes && !fn->alloc_calls)
			break;
		fprintf(out, "%10s %9" PRIu64 " %10s %10s %10s  %s\n",
			dt_fmt_bytes(b[0], sizeof(b[0]), fn->alloc_bytes), fn->alloc_calls,
			dt_fmt_bytes(b[1], sizeof(b[1]), fn->alloc_bytes_total),
			dt_fmt_bytes(b[2], sizeof(b[2]), fn->peak_live_bytes),
			dt_fmt_bytes(b[3], sizeof(b[3]), fn->leaked_bytes),
			dt_fmt_fit(name, sizeof(name), fn->name, 44));
		shown++;
	}
	free(v);
	return 0;
}

static double sec(uint64_t ns)
{
	return (double)ns / NS_PER_S;
}

/* Named regions (include/deiatrace.h): nothing when the trace has none. */
static int print_regions(FILE *out, const struct dt_profile *p, const struct dt_report_opts *o)
{
	const struct dt_regions *r = p->regions;
	char name[NAME_BUF_BYTES], bytes[32], peak[32];
	int alloc = (r->flags & DT_REGIONS_ALLOC_MEASURED) != 0;
	int has_peak = alloc && dt_regions_has_field(r, DT_REGION_PEAK_LIVE_BYTES);

	if (!r->n && !r->dropped)
		return 0;
	print_heading(out, o, "Regions", " (include/deiatrace.h; seconds, nested regions included)");
	fprintf(out, "  %-*s %7s %8s %8s %8s %8s %9s %10s %10s\n", REGION_NAME_WIDTH, "region", "count",
		"wall s", "self s", "cpu s", "max s", "allocs", "bytes", "peak live");
	for (uint32_t i = 0; i < r->n; i++) {
		const uint64_t *f = r->r[i].f;

		fprintf(out, "  %-*s %7" PRIu64 " %8.3f %8.3f %8.3f %8.3f", REGION_NAME_WIDTH,
			dt_fmt_fit(name, sizeof(name), r->r[i].name, REGION_NAME_WIDTH), f[DT_REGION_COUNT],
			sec(f[DT_REGION_WALL_NS]), sec(f[DT_REGION_SELF_WALL_NS]), sec(f[DT_REGION_CPU_NS]),
			sec(f[DT_REGION_MAX_WALL_NS]));
		if (alloc)
			fprintf(out, " %9" PRIu64 " %10s", f[DT_REGION_ALLOC_CALLS],
				dt_fmt_bytes(bytes, sizeof(bytes), f[DT_REGION_ALLOC_BYTES]));
		else
			fprintf(out, " %9s %10s", "-", "-");
		fprintf(out, " %10s\n",
			has_peak ? dt_fmt_bytes(peak, sizeof(peak), f[DT_REGION_PEAK_LIVE_BYTES]) : "-");
	}
	if (r->dropped)
		fprintf(out,
			"  %" PRIu64
			" region begins/ends not recorded (table full, nested too deep, or unmatched)\n",
			r->dropped);
	return ferror(out) ? -1 : 0;
}

int dt_report_text(FILE *out, const struct dt_profile *p, const struct dt_report_opts *o)
{
	struct dt_function **sorted = dt_profile_sorted(p, 0);
	int rc = -1;

	if (!sorted)
		return -1;
	print_summary(out, p, o);
	print_rule(out);
	print_functions(out, p, sorted, o);
	if (print_bottlenecks(out, p, o) || print_hints(out, p, o) || print_related(out, p, sorted, o) ||
	    print_memory(out, p, o) || print_regions(out, p, o))
		goto out;
	rc = ferror(out) ? -1 : 0;
out:
	free(sorted);
	return rc;
}
