/* Markdown reporter: the text report's content as GitHub-flavoured markdown (summary list,
 * functions table, bottlenecks, memory). Reads the profile model only. */
#include "dt_report.h"

#include <inttypes.h>
#include <stdlib.h>

#include "dt_bottleneck.h"

#define NS_PER_S 1e9

/* Table cells: pipes would split the cell, backticks and newlines would break the row. */
static void md_cell(FILE *out, const char *s)
{
	for (; s && *s; s++) {
		if (*s == '|' || *s == '`' || *s == '*' || *s == '_' || *s == '<' || *s == '>')
			fputc('\\', out);
		fputc((unsigned char)*s < 0x20 || *s == 0x7f ? ' ' : *s, out);
	}
}

int dt_report_markdown(FILE *out, const struct dt_profile *p, const struct dt_report_opts *o)
{
	const struct dt_summary *s = &p->summary;
	struct dt_function **sorted = dt_profile_sorted(p, 0);
	struct dt_bottleneck *b = NULL;
	size_t nb = 0;
	char loc[512], b1[32], b2[32];
	int rc = -1;

	if (!sorted || dt_bottlenecks_find(p, o->threshold_pct, o->inclusive, &b, &nb))
		goto out;
	fputs("# deiatrace profile: ", out);
	md_cell(out, s->program);
	fputs("\n\n", out);
	if (s->partial) {
		fputs("> **Partial trace:** ", out);
		md_cell(out, s->partial_why);
		fputs("\n\n", out);
	}
	fputs("- command:", out);
	for (uint32_t i = 0; i < s->argc; i++) {
		fputc(' ', out);
		md_cell(out, s->argv[i]);
	}
	fprintf(out, "\n- pid %" PRIu64 ", wall %.3f s, CPU %.3f s user + %.3f s sys, %" PRIu64 " threads\n",
		s->pid, s->wall_s, s->cpu_user_s, s->cpu_sys_s, s->threads);
	fprintf(out,
		"- samples %" PRIu64 ", lost %" PRIu64 ", asked %" PRIu64
		" Hz, achieved %.0f Hz, sampler %s\n",
		s->samples, s->samples_lost, s->sample_hz, s->achieved_hz, s->sampler_name);
	fprintf(out,
		"- unwind failures %" PRIu64 ", truncated stacks %" PRIu64 ", RSS %s at start, %s peak\n\n",
		s->unwind_failures, s->stacks_truncated, dt_fmt_bytes(b1, sizeof(b1), s->rss_start_bytes),
		dt_fmt_bytes(b2, sizeof(b2), s->rss_peak_bytes));

	fputs("## Functions by self time\n\n", out);
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
		if (fn->calls == DT_CALLS_UNKNOWN)
			fputs("-", out);
		else
			fprintf(out, "%" PRIu64, fn->calls);
		fputs(" | ", out);
		md_cell(out, fn->name);
		fputs(" | ", out);
		md_cell(out, fn->module);
		fputs(" | ", out);
		md_cell(out, dt_fmt_location(loc, sizeof(loc), fn));
		fputs(" |\n", out);
		shown++;
	}
	fprintf(out, "\n## Bottlenecks (%s time >= %.1f%%)\n\n", o->inclusive ? "total" : "self",
		o->threshold_pct);
	if (!nb)
		fputs("None.\n", out);
	for (size_t i = 0; i < nb; i++) {
		fprintf(out, "1. **%.1f%%** ", b[i].time_pct);
		md_cell(out, b[i].fn->name);
		fputc('\n', out);
	}
	if (s->has_alloc) {
		fprintf(out,
			"\n## Memory\n\n- %" PRIu64 " allocations, %" PRIu64
			" frees, %s allocated, heap peak %s\n",
			s->alloc_calls, s->free_calls, dt_fmt_bytes(b1, sizeof(b1), s->alloc_bytes),
			dt_fmt_bytes(b2, sizeof(b2), s->heap_peak_bytes));
		fprintf(out, "- leaked %s in %" PRIu64 " blocks\n",
			dt_fmt_bytes(b1, sizeof(b1), s->leaked_bytes), s->leaked_blocks);
	}
	rc = ferror(out) ? -1 : 0;
out:
	free(sorted);
	free(b);
	return rc;
}
