/* JSON reporter: one versioned object (docs/json-schema.md). Field names are a public contract:
 * later versions add fields, never rename or remove them. Reads the profile model only. */
#include "dt_report.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dt_bottleneck.h"

#define NS_PER_S 1e9
#define UTF8_REPLACEMENT "\xef\xbf\xbd" /* U+FFFD */

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when it is not one (overlong forms,
 * surrogates and code points above U+10FFFF are invalid). */
static size_t utf8_seq_len(const unsigned char *s)
{
	unsigned char c = s[0];
	size_t n;
	uint32_t cp, min;

	if (c < 0x80)
		return 1;
	if ((c & 0xe0) == 0xc0) {
		n = 2;
		cp = c & 0x1f;
		min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		n = 3;
		cp = c & 0x0f;
		min = 0x800;
	} else if ((c & 0xf8) == 0xf0) {
		n = 4;
		cp = c & 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80) /* also stops at the terminating NUL */
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

void dt_json_put_number(FILE *out, double v)
{
	if (isnan(v) || isinf(v))
		fputs("null", out);
	else
		fprintf(out, "%.9g", v);
}

void dt_json_put_string(FILE *out, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	if (!s) {
		fputs("null", out);
		return;
	}
	fputc('"', out);
	while (*s) {
		size_t n;

		switch (*s) {
		case '"':
			fputs("\\\"", out);
			s++;
			continue;
		case '\\':
			fputs("\\\\", out);
			s++;
			continue;
		case '\n':
			fputs("\\n", out);
			s++;
			continue;
		case '\r':
			fputs("\\r", out);
			s++;
			continue;
		case '\t':
			fputs("\\t", out);
			s++;
			continue;
		default:
			break;
		}
		if (*s < 0x20 || *s == 0x7f) {
			fprintf(out, "\\u%04x", *s);
			s++;
			continue;
		}
		n = utf8_seq_len(s);
		if (!n) {
			fputs(UTF8_REPLACEMENT, out);
			s++;
			continue;
		}
		fwrite(s, 1, n, out);
		s += n;
	}
	fputc('"', out);
}

/* JSON has no NaN or infinity. */
static void put_num(FILE *out, double v)
{
	fprintf(out, "%.6f", isfinite(v) ? v : 0.0);
}

static void key(FILE *out, const char *k, int *first)
{
	if (!*first)
		fputc(',', out);
	*first = 0;
	fputs("\n    ", out);
	dt_json_put_string(out, k);
	fputc(':', out);
}

static void kv_u64(FILE *out, const char *k, uint64_t v, int *first)
{
	key(out, k, first);
	fprintf(out, "%" PRIu64, v);
}

static void kv_num(FILE *out, const char *k, double v, int *first)
{
	key(out, k, first);
	put_num(out, v);
}

static void kv_str(FILE *out, const char *k, const char *v, int *first)
{
	key(out, k, first);
	dt_json_put_string(out, v);
}

/* An exact count, or null when the trace does not know it. */
static void kv_calls(FILE *out, const char *k, const struct dt_function *fn, uint64_t v, int *first)
{
	key(out, k, first);
	if (fn->calls == DT_CALLS_UNKNOWN)
		fputs("null", out);
	else
		fprintf(out, "%" PRIu64, v);
}

static void kv_avg_call(FILE *out, const struct dt_function *fn, int *first)
{
	double avg = dt_profile_avg_call_ns(fn);

	key(out, "avg_call_ns", first);
	if (avg < 0)
		fputs("null", out);
	else
		put_num(out, avg);
}

static void put_summary(FILE *out, const struct dt_profile *p)
{
	const struct dt_summary *s = &p->summary;
	int first = 1;

	fputs("\"summary\":{", out);
	kv_str(out, "program", s->program, &first);
	key(out, "argv", &first);
	fputc('[', out);
	for (uint32_t i = 0; i < s->argc; i++) {
		if (i)
			fputc(',', out);
		dt_json_put_string(out, s->argv[i]);
	}
	fputc(']', out);
	kv_u64(out, "pid", s->pid, &first);
	kv_num(out, "wall_s", s->wall_s, &first);
	kv_num(out, "cpu_user_s", s->cpu_user_s, &first);
	kv_num(out, "cpu_sys_s", s->cpu_sys_s, &first);
	kv_u64(out, "samples", s->samples, &first);
	kv_u64(out, "samples_lost", s->samples_lost, &first);
	kv_num(out, "sample_cpu_s", (double)s->sample_weight_ns / NS_PER_S, &first);
	kv_u64(out, "sample_hz", s->sample_hz, &first);
	kv_num(out, "achieved_hz", s->achieved_hz, &first);
	kv_str(out, "sampler", s->sampler_name, &first);
	kv_u64(out, "threads", s->threads, &first);
	kv_u64(out, "rss_start_bytes", s->rss_start_bytes, &first);
	kv_u64(out, "rss_peak_bytes", s->rss_peak_bytes, &first);
	kv_u64(out, "unwind_failures", s->unwind_failures, &first);
	kv_u64(out, "stacks_truncated", s->stacks_truncated, &first);
	kv_u64(out, "degraded", s->degraded, &first);
	key(out, "partial", &first);
	fputs(s->partial ? "true" : "false", out);
	kv_str(out, "partial_reason", s->partial ? s->partial_why : NULL, &first);
	key(out, "memory_tracked", &first);
	fputs(s->has_alloc ? "true" : "false", out);
	kv_u64(out, "allocations", s->alloc_calls, &first);
	kv_u64(out, "frees", s->free_calls, &first);
	kv_u64(out, "allocated_bytes", s->alloc_bytes, &first);
	kv_u64(out, "heap_peak_bytes", s->heap_peak_bytes, &first);
	kv_u64(out, "leaked_bytes", s->leaked_bytes, &first);
	kv_u64(out, "leaked_allocations", s->leaked_blocks, &first);
	kv_u64(out, "rss_baseline_bytes", s->rss_start_bytes, &first);
	fputs("\n  }", out);
}

static void put_function(FILE *out, const struct dt_profile *p, const struct dt_function *fn)
{
	int first = 1;

	fputs("{", out);
	kv_str(out, "name", fn->name, &first);
	kv_str(out, "module", fn->module, &first);
	kv_str(out, "file", fn->file, &first);
	key(out, "line", &first);
	if (fn->line)
		fprintf(out, "%" PRIu32, fn->line);
	else
		fputs("null", out);
	kv_u64(out, "self_samples", fn->self_samples, &first);
	kv_u64(out, "total_samples", fn->total_samples, &first);
	kv_num(out, "self_pct", dt_profile_pct(p, fn->self_samples), &first);
	kv_num(out, "total_pct", dt_profile_pct(p, fn->total_samples), &first);
	kv_num(out, "self_s", (double)fn->self_weight_ns / NS_PER_S, &first);
	kv_num(out, "total_s", (double)fn->total_weight_ns / NS_PER_S, &first);
	kv_calls(out, "calls", fn, fn->calls, &first);
	kv_avg_call(out, fn, &first);
	kv_calls(out, "max_call_ns", fn, fn->calls_max_ns, &first);
	kv_calls(out, "calls_incl_ns", fn, fn->calls_incl_ns, &first);
	kv_calls(out, "calls_excl_ns", fn, fn->calls_excl_ns, &first);
	kv_u64(out, "alloc_calls", fn->alloc_calls, &first);
	kv_u64(out, "alloc_bytes", fn->alloc_bytes, &first);
	kv_u64(out, "alloc_calls_total", fn->alloc_calls_total, &first);
	kv_u64(out, "alloc_bytes_total", fn->alloc_bytes_total, &first);
	kv_u64(out, "peak_live_bytes", fn->peak_live_bytes, &first);
	kv_u64(out, "leaked_bytes", fn->leaked_bytes, &first);
	kv_u64(out, "leaked_allocations", fn->leaked_blocks, &first);
	kv_u64(out, "alloc_frees", fn->alloc_frees, &first);
	kv_u64(out, "realloc_calls", fn->realloc_calls, &first);
	fputs("}", out);
}

static void put_hint(FILE *out, const struct dt_hint *h)
{
	int first = 1;

	fputs("{", out);
	kv_str(out, "rule", h->rule, &first);
	kv_str(out, "function", h->fn ? h->fn->name : NULL, &first);
	kv_str(out, "module", h->fn ? h->fn->module : NULL, &first);
	kv_str(out, "related_function", h->related ? h->related->name : NULL, &first);
	key(out, "evidence", &first);
	fputc('{', out);
	for (uint32_t i = 0; i < h->nev; i++) {
		if (i)
			fputc(',', out);
		dt_json_put_string(out, h->ev[i].name);
		fputc(':', out);
		if (h->ev[i].integer && isfinite(h->ev[i].value))
			fprintf(out, "%.0f", h->ev[i].value);
		else
			put_num(out, h->ev[i].value);
	}
	fputc('}', out);
	kv_str(out, "evidence_text", h->evidence, &first);
	kv_str(out, "suggestion", h->suggestion, &first);
	fputs("}", out);
}

static int cmp_edge(const void *a, const void *b)
{
	const struct dt_edge *x = a, *y = b;

	if (x->samples != y->samples)
		return x->samples > y->samples ? -1 : 1;
	if (x->caller != y->caller)
		return x->caller < y->caller ? -1 : 1;
	return x->callee < y->callee ? -1 : x->callee > y->callee;
}

/* "regions" (docs/json-schema.md): always present, an empty list when the trace has none. Figures
 * the trace did not record are null. */
static void put_regions(FILE *out, const struct dt_profile *p)
{
	const struct dt_regions *r = p->regions;
	int alloc = (r->flags & DT_REGIONS_ALLOC_MEASURED) != 0;
	int has_peak = alloc && dt_regions_has_field(r, DT_REGION_PEAK_LIVE_BYTES);

	fprintf(out, ",\n  \"regions\":{\"alloc_measured\":%s,\"dropped\":%" PRIu64 ",\"list\":[",
		alloc ? "true" : "false", r->dropped);
	for (uint32_t i = 0; i < r->n; i++) {
		const uint64_t *f = r->r[i].f;
		int first = 1;

		fputs(i ? ",\n  {" : "\n  {", out);
		kv_str(out, "name", r->r[i].name, &first);
		kv_u64(out, "count", f[DT_REGION_COUNT], &first);
		kv_num(out, "wall_s", (double)f[DT_REGION_WALL_NS] / NS_PER_S, &first);
		kv_num(out, "self_wall_s", (double)f[DT_REGION_SELF_WALL_NS] / NS_PER_S, &first);
		kv_num(out, "cpu_s", (double)f[DT_REGION_CPU_NS] / NS_PER_S, &first);
		kv_num(out, "max_wall_s", (double)f[DT_REGION_MAX_WALL_NS] / NS_PER_S, &first);
		kv_u64(out, "wall_ns", f[DT_REGION_WALL_NS], &first);
		kv_u64(out, "self_wall_ns", f[DT_REGION_SELF_WALL_NS], &first);
		kv_u64(out, "cpu_ns", f[DT_REGION_CPU_NS], &first);
		kv_u64(out, "max_wall_ns", f[DT_REGION_MAX_WALL_NS], &first);
		key(out, "alloc_calls", &first);
		fputs(alloc ? "" : "null", out);
		if (alloc)
			fprintf(out, "%" PRIu64, f[DT_REGION_ALLOC_CALLS]);
		key(out, "alloc_bytes", &first);
		fputs(alloc ? "" : "null", out);
		if (alloc)
			fprintf(out, "%" PRIu64, f[DT_REGION_ALLOC_BYTES]);
		key(out, "peak_live_bytes", &first);
		fputs(has_peak ? "" : "null", out);
		if (has_peak)
			fprintf(out, "%" PRIu64, f[DT_REGION_PEAK_LIVE_BYTES]);
		fputs("}", out);
	}
	fputs("]}", out);
}

int dt_report_json(FILE *out, const struct dt_profile *p, const struct dt_report_opts *o)
{
	struct dt_function **sorted = dt_profile_sorted(p, 0);
	struct dt_edge *edges = malloc((p->nedges ? p->nedges : 1) * sizeof(*edges));
	struct dt_bottleneck *b = NULL;
	struct dt_hint *h = NULL;
	size_t nb = 0, nh = 0;
	int rc = -1;

	if (!sorted || !edges || dt_bottlenecks_find(p, o->threshold_pct, o->inclusive, &b, &nb) ||
	    dt_hints_find(p, &o->hints, o->threshold_pct, o->inclusive, &h, &nh))
		goto out;
	fprintf(out, "{\"deiatrace_json_version\":%d,\n  ", DT_JSON_VERSION);
	put_summary(out, p);
	fputs(",\n  \"functions\":[", out);
	for (uint32_t i = 0; i < p->nfns; i++) {
		fputs(i ? ",\n  " : "\n  ", out);
		put_function(out, p, sorted[i]);
	}
	fputs("],\n  \"bottlenecks\":[", out);
	for (size_t i = 0; i < nb; i++) {
		const struct dt_function *fn = b[i].fn;
		int first = 1;

		fputs(i ? ",\n  {" : "\n  {", out);
		kv_str(out, "name", fn->name, &first);
		kv_str(out, "module", fn->module, &first);
		kv_num(out, "time_pct", b[i].time_pct, &first);
		kv_u64(out, "self_samples", fn->self_samples, &first);
		kv_num(out, "self_s", (double)fn->self_weight_ns / NS_PER_S, &first);
		kv_u64(out, "total_samples", fn->total_samples, &first);
		kv_num(out, "total_s", (double)fn->total_weight_ns / NS_PER_S, &first);
		kv_calls(out, "calls", fn, fn->calls, &first);
		kv_avg_call(out, fn, &first);
		kv_calls(out, "max_call_ns", fn, fn->calls_max_ns, &first);
		kv_u64(out, "alloc_calls", fn->alloc_calls, &first);
		kv_u64(out, "alloc_bytes", fn->alloc_bytes, &first);
		kv_u64(out, "peak_live_bytes", fn->peak_live_bytes, &first);
		fputs("}", out);
	}
	fputs("],\n  \"callgraph\":[", out);
	if (p->nedges)
		memcpy(edges, p->edges, p->nedges * sizeof(*edges));
	qsort(edges, p->nedges, sizeof(*edges), cmp_edge);
	for (uint32_t i = 0; i < p->nedges; i++) {
		const struct dt_function *caller = p->fns[edges[i].caller], *callee = p->fns[edges[i].callee];

		fputs(i ? ",\n  {\"caller\":" : "\n  {\"caller\":", out);
		dt_json_put_string(out, caller->name);
		fputs(",\"callee\":", out);
		dt_json_put_string(out, callee->name);
		fprintf(out, ",\"samples\":%" PRIu64 ",\"caller_module\":", edges[i].samples);
		dt_json_put_string(out, caller->module);
		fputs(",\"callee_module\":", out);
		dt_json_put_string(out, callee->module);
		fputs(",\"s\":", out);
		put_num(out, (double)edges[i].weight_ns / NS_PER_S);
		fputs("}", out);
	}
	fputs("],\n  \"hints\":[", out);
	for (size_t i = 0; i < nh; i++) {
		fputs(i ? ",\n  " : "\n  ", out);
		put_hint(out, &h[i]);
	}
	fputs("]", out);
	put_regions(out, p);
	fputs("\n}\n", out);
	rc = ferror(out) ? -1 : 0;
out:
	free(sorted);
	free(edges);
	free(b);
	free(h);
	return rc;
}
