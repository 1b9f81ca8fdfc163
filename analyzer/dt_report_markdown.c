/* Markdown reporter: GitHub-flavoured markdown ready to paste into an issue or a PR: summary table,
 * functions and bottleneck tables, hints list, memory and regions sections. Reads the profile model only.
 * Every name passes through md_text: no raw HTML, no links, no emphasis, no broken table rows. */
#include "dt_report.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dt_bottleneck.h"
#include "dt_hints.h"

#define NS_PER_S 1e9
#define MD_ESCAPED "\\`*_[]<>|~&#!"

/* Backslash-escapes every ASCII punctuation character markdown could read as syntax (CommonMark
 * allows a backslash before any of them): templates, operator<<, pipes and backticks print as
 * written, inside or outside a table. Control characters would end the line: blanks. GitHub also
 * links bare "scheme://" and "www." text (the autolink extension): an escaped ':' before "//" and
 * '.' after "www" keep those inert (cmark-gfm 0.29 checked; "user@host.tld" mail links cannot be
 * stopped by escapes). */
static void md_text(FILE *out, const char *s)
{
	for (const char *start = s; s && *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (strchr(MD_ESCAPED, c) || (c == ':' && strncmp(s + 1, "//", 2) == 0) ||
		    (c == '.' && s - start >= 3 && strncasecmp(s - 3, "www", 3) == 0))
			fputc('\\', out);
		fputc(c < 0x20 || c == 0x7f ? ' ' : c, out);
	}
}

static void md_calls(FILE *out, const struct dt_function *fn)
{
	if (fn->calls == DT_CALLS_UNKNOWN)
		fputs("-", out);
	else
		fprintf(out, "%" PRIu64, fn->calls);
}

static void md_avg_call(FILE *out, const struct dt_function *fn)
{
	double avg = dt_profile_avg_call_ns(fn);

	if (avg < 0)
		fputs("-", out);
	else
		fprintf(out, "%.1f", avg);
}

static void put_summary(FILE *out, const struct dt_profile *p)
{
	const struct dt_summary *s = &p->summary;
	char b1[32], b2[32];

	fputs("## Summary\n\n| metric | value |\n|---|---|\n| command |", out);
	for (uint32_t i = 0; i < s->argc; i++) {
		fputc(' ', out);
		md_text(out, s->argv[i]);
	}
	if (!s->argc) {
		fputc(' ', out);
		md_text(out, s->program);
	}
	fprintf(out, " |\n| pid | %" PRIu64 " |\n", s->pid);
	fprintf(out, "| wall | %.3f s |\n| CPU | %.3f s user + %.3f s sys |\n", s->wall_s, s->cpu_user_s,
		s->cpu_sys_s);
	fprintf(out, "| threads | %" PRIu64 " |\n", s->threads);
	fprintf(out, "| samples | %" PRIu64 " (%.3f CPU s), %" PRIu64 " lost |\n", s->samples,
		(double)s->sample_weight_ns / NS_PER_S, s->samples_lost);
	fprintf(out, "| sampler | %s, asked %" PRIu64 " Hz, achieved %.0f Hz |\n", s->sampler_name,
		s->sample_hz, s->achieved_hz);
	fprintf(out, "| unwind failures | %" PRIu64 ", %" PRIu64 " truncated stacks |\n", s->unwind_failures,
		s->stacks_truncated);
	fprintf(out, "| RSS | %s at start, %s peak |\n", dt_fmt_bytes(b1, sizeof(b1), s->rss_start_bytes),
		dt_fmt_bytes(b2, sizeof(b2), s->rss_peak_bytes));
	if (s->has_alloc)
		fprintf(out, "| heap | %" PRIu64 " allocations, %s peak |\n", s->alloc_calls,
			dt_fmt_bytes(b1, sizeof(b1), s->heap_peak_bytes));
	fputc('\n', out);
}

static void put_functions(FILE *out, const struct dt_profile *p, struct dt_function **sorted,
			  const struct dt_report_opts *o)
{
	char loc[512];

	fputs("## Functions by self time\n\n", out);
	const char *why = dt_profile_no_samples_why(p);
	if (why) {
		fprintf(out, "%s.\n", why); /* a fixed sentence: nothing from the trace to escape */
		return;
	}
	fputs("| self % | self s | total % | total s | samples | calls | function | module | file:line |\n",
	      out);
	fputs("|---:|---:|---:|---:|---:|---:|---|---|---|\n", out);
	for (uint32_t i = 0, shown = 0; i < p->nfns && shown < o->top_n; i++) {
		const struct dt_function *fn = sorted[i];

		if (!fn->total_samples)
			continue;
		fprintf(out, "| %.1f | %.3f | %.1f | %.3f | %" PRIu64 " | ",
			dt_profile_pct(p, fn->self_samples), (double)fn->self_weight_ns / NS_PER_S,
			dt_profile_pct(p, fn->total_samples), (double)fn->total_weight_ns / NS_PER_S,
			fn->self_samples);
		md_calls(out, fn);
		fputs(" | ", out);
		md_text(out, fn->name);
		fputs(" | ", out);
		md_text(out, fn->module);
		fputs(" | ", out);
		md_text(out, dt_fmt_location(loc, sizeof(loc), fn));
		fputs(" |\n", out);
		shown++;
	}
}

static void put_bottlenecks(FILE *out, const struct dt_bottleneck *b, size_t nb,
			    const struct dt_report_opts *o)
{
	fprintf(out, "\n## Bottlenecks (%s time >= %.1f%%)\n\n", o->inclusive ? "total" : "self",
		o->threshold_pct);
	if (!nb) {
		fputs("None.\n", out);
		return;
	}
	fputs("| time % | s | samples | calls | avg ns/call | allocated bytes | peak live bytes | function "
	      "| module |\n",
	      out);
	fputs("|---:|---:|---:|---:|---:|---:|---:|---|---|\n", out);
	for (size_t i = 0; i < nb; i++) {
		const struct dt_function *fn = b[i].fn;
		uint64_t w = o->inclusive ? fn->total_weight_ns : fn->self_weight_ns;

		fprintf(out, "| %.1f | %.3f | %" PRIu64 " | ", b[i].time_pct, (double)w / NS_PER_S,
			o->inclusive ? fn->total_samples : fn->self_samples);
		md_calls(out, fn);
		fputs(" | ", out);
		md_avg_call(out, fn);
		fprintf(out, " | %" PRIu64 " | %" PRIu64 " | ", fn->alloc_bytes, fn->peak_live_bytes);
		md_text(out, fn->name);
		fputs(" | ", out);
		md_text(out, fn->module);
		fputs(" |\n", out);
	}
}

static void put_hints(FILE *out, const struct dt_hint *h, size_t nh)
{
	fputs("\n## Hints\n\n", out);
	if (!nh)
		fputs("None.\n", out);
	for (size_t i = 0; i < nh; i++) {
		fputs("- **", out);
		md_text(out, h[i].rule);
		fputs("** ", out);
		if (h[i].fn)
			md_text(out, h[i].fn->name);
		else
			fputs("(whole program)", out);
		fputs(": ", out);
		md_text(out, h[i].evidence);
		if (h[i].related) {
			fputs(" (caller: ", out);
			md_text(out, h[i].related->name);
			fputc(')', out);
		}
		fputs(". ", out);
		md_text(out, h[i].suggestion);
		fputc('\n', out);
	}
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
		"\n## Memory\n\n- %" PRIu64 " allocations, %" PRIu64 " frees, %s allocated, heap peak %s\n",
		s->alloc_calls, s->free_calls, dt_fmt_bytes(b1, sizeof(b1), s->alloc_bytes),
		dt_fmt_bytes(b2, sizeof(b2), s->heap_peak_bytes));
	fprintf(out, "- leaked %s in %" PRIu64 " blocks\n\n", dt_fmt_bytes(b1, sizeof(b1), s->leaked_bytes),
		s->leaked_blocks);
	fputs("| allocated bytes | allocations | frees | peak live bytes | leaked bytes | function | module "
	      "|\n",
	      out);
	fputs("|---:|---:|---:|---:|---:|---|---|\n", out);
	for (uint32_t i = 0, shown = 0; i < p->nfns && shown < o->top_n; i++) {
		const struct dt_function *fn = v[i];

		if (!fn->alloc_bytes && !fn->leaked_bytes && !fn->alloc_calls)
			break;
		fprintf(out, "| %" PRIu64 " | %" PRIu64 " | %" PRIu64 " | %" PRIu64 " | %" PRIu64 " | ",
			fn->alloc_bytes, fn->alloc_calls, fn->alloc_frees, fn->peak_live_bytes,
			fn->leaked_bytes);
		md_text(out, fn->name);
		fputs(" | ", out);
		md_text(out, fn->module);
		fputs(" |\n", out);
		shown++;
	}
	free(v);
	return 0;
}

/* Named regions (include/deiatrace.h): nothing when the trace has none. Unknown figures are "-". */
static void put_regions(FILE *out, const struct dt_profile *p)
{
	const struct dt_regions *r = p->regions;
	int alloc = (r->flags & DT_REGIONS_ALLOC_MEASURED) != 0;
	int has_peak = alloc && dt_regions_has_field(r, DT_REGION_PEAK_LIVE_BYTES);

	if (!r->n && !r->dropped)
		return;
	fputs("\n## Regions\n\nWall and CPU seconds include nested regions; self excludes them.\n\n"
	      "| region | count | wall s | self s | CPU s | max s | allocations | allocated bytes | peak "
	      "live bytes |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
	      out);
	for (uint32_t i = 0; i < r->n; i++) {
		const uint64_t *f = r->r[i].f;

		fputs("| ", out);
		md_text(out, r->r[i].name);
		fprintf(out, " | %" PRIu64 " | %.3f | %.3f | %.3f | %.3f | ", f[DT_REGION_COUNT],
			(double)f[DT_REGION_WALL_NS] / NS_PER_S, (double)f[DT_REGION_SELF_WALL_NS] / NS_PER_S,
			(double)f[DT_REGION_CPU_NS] / NS_PER_S, (double)f[DT_REGION_MAX_WALL_NS] / NS_PER_S);
		if (alloc)
			fprintf(out, "%" PRIu64 " | %" PRIu64 " | ", f[DT_REGION_ALLOC_CALLS],
				f[DT_REGION_ALLOC_BYTES]);
		else
			fputs("- | - | ", out);
		if (has_peak)
			fprintf(out, "%" PRIu64 " |\n", f[DT_REGION_PEAK_LIVE_BYTES]);
		else
			fputs("- |\n", out);
	}
	if (r->dropped)
		fprintf(out, "\n%" PRIu64 " region begins/ends were not recorded.\n", r->dropped);
}

int dt_report_markdown(FILE *out, const struct dt_profile *p, const struct dt_report_opts *o)
{
	const struct dt_summary *s = &p->summary;
	struct dt_function **sorted = dt_profile_sorted(p, 0);
	struct dt_bottleneck *b = NULL;
	struct dt_hint *h = NULL;
	size_t nb = 0, nh = 0;
	int rc = -1;

	if (!sorted || dt_bottlenecks_find(p, o->threshold_pct, o->inclusive, &b, &nb) ||
	    dt_hints_find(p, &o->hints, o->threshold_pct, o->inclusive, &h, &nh))
		goto out;
	fputs("# deiatrace profile: ", out);
	md_text(out, s->program);
	fputs("\n\n", out);
	if (s->partial) {
		fputs("> **Partial trace:** ", out);
		md_text(out, s->partial_why);
		fputs("\n\n", out);
	}
	put_summary(out, p);
	put_functions(out, p, sorted, o);
	put_bottlenecks(out, b, nb, o);
	if (o->hints.enabled)
		put_hints(out, h, nh);
	if (put_memory(out, p, o))
		goto out;
	put_regions(out, p);
	rc = ferror(out) ? -1 : 0;
out:
	free(sorted);
	free(b);
	free(h);
	return rc;
}
