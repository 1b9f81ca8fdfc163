/* The diff analysis (dt_diff.h): matches functions of two profiles by name, computes deltas and the
 * verdict, and drives the whole command (dt_diff_run) so both front ends share one implementation.
 * Reads profile models only; the one place that decides what "slower" means. */
#include "dt_diff.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dt_reader.h"
#include "dt_report.h"
#include "dt_symbolize.h"

#define NS_PER_S 1e9

static void delta_set(struct dt_delta *d, double base, double opt)
{
	d->baseline = base;
	d->optimized = opt;
	d->known = 1;
	d->change_pct = base != 0 ? (opt - base) / base * 100.0 : DT_DIFF_NO_PCT;
}

/* One side's function, for the sort-and-walk match. */
struct side_fn {
	const struct dt_function *fn;
	int side; /* 0 baseline, 1 optimized */
};

static int cmp_side(const void *a, const void *b)
{
	const struct side_fn *x = a, *y = b;
	int c = strcmp(x->fn->name, y->fn->name);

	return c ? c : x->side - y->side;
}

static int cmp_change(const void *a, const void *b)
{
	const struct dt_diff_fn *x = a, *y = b;
	double dx = fabs(x->total_s.optimized - x->total_s.baseline);
	double dy = fabs(y->total_s.optimized - y->total_s.baseline);

	if (dx != dy)
		return dx < dy ? 1 : -1;
	return strcmp(x->name, y->name);
}

struct acc {
	double self_ns[2], total_ns[2], calls[2], alloc_calls[2], alloc_bytes[2];
	int calls_known[2], present[2];
};

static void acc_add(struct acc *a, const struct side_fn *s)
{
	const struct dt_function *f = s->fn;
	int k = s->side;

	a->present[k] = 1;
	a->self_ns[k] += (double)f->self_weight_ns;
	a->total_ns[k] += (double)f->total_weight_ns;
	a->alloc_calls[k] += (double)f->alloc_calls;
	a->alloc_bytes[k] += (double)f->alloc_bytes;
	if (f->calls != DT_CALLS_UNKNOWN) {
		a->calls[k] += (double)f->calls;
		a->calls_known[k] = 1;
	}
}

static void acc_store(const struct acc *a, struct dt_diff_fn *r)
{
	r->presence = a->present[0] && a->present[1] ? DT_DIFF_BOTH
		      : a->present[0]		     ? DT_DIFF_VANISHED
						     : DT_DIFF_APPEARED;
	delta_set(&r->self_s, a->self_ns[0] / NS_PER_S, a->self_ns[1] / NS_PER_S);
	delta_set(&r->total_s, a->total_ns[0] / NS_PER_S, a->total_ns[1] / NS_PER_S);
	delta_set(&r->alloc_calls, a->alloc_calls[0], a->alloc_calls[1]);
	delta_set(&r->alloc_bytes, a->alloc_bytes[0], a->alloc_bytes[1]);
	if (a->calls_known[0] || a->calls_known[1])
		delta_set(&r->calls, a->calls[0], a->calls[1]);
}

/* A function that neither profile measured anything for (symbol of a frame that only ever appeared
 * in an empty record) is noise in a diff. */
static int fn_has_data(const struct dt_function *f)
{
	return f->total_samples || f->alloc_calls || f->alloc_calls_total ||
	       (f->calls != DT_CALLS_UNKNOWN && f->calls);
}

static int build_fns(struct dt_diff *d, const struct dt_profile *p[2])
{
	size_t n = (size_t)p[0]->nfns + p[1]->nfns, k = 0;
	struct side_fn *all = malloc((n ? n : 1) * sizeof(*all));

	d->fns = calloc(n ? n : 1, sizeof(*d->fns));
	if (!all || !d->fns) {
		free(all);
		return -1;
	}
	for (int s = 0; s < 2; s++)
		for (uint32_t i = 0; i < p[s]->nfns; i++)
			if (fn_has_data(p[s]->fns[i]))
				all[k++] = (struct side_fn){p[s]->fns[i], s};
	qsort(all, k, sizeof(*all), cmp_side);
	for (size_t i = 0; i < k;) {
		struct acc a;
		struct dt_diff_fn *r = &d->fns[d->nfns++];
		size_t j = i;

		memset(&a, 0, sizeof(a));
		r->name = all[i].fn->name;
		r->module = all[i].fn->module;
		for (; j < k && strcmp(all[j].fn->name, r->name) == 0; j++)
			acc_add(&a, &all[j]);
		acc_store(&a, r);
		i = j;
	}
	free(all);
	qsort(d->fns, d->nfns, sizeof(*d->fns), cmp_change);
	return 0;
}

static enum dt_diff_verdict verdict_of(const struct dt_delta *q, double noise_pct)
{
	if (isnan(q->change_pct) || fabs(q->change_pct) <= noise_pct)
		return DT_DIFF_SAME;
	return q->change_pct < 0 ? DT_DIFF_FASTER : DT_DIFF_SLOWER;
}

/* Adds the regions of both traces (either may be empty). 0 or -1 (memory). */
static int add_regions(struct dt_diff *d, const struct dt_regions *base, const struct dt_regions *opt)
{
	const struct dt_regions *side[2] = {base, opt};
	uint32_t cap = base->n + opt->n;

	d->regions = calloc(cap ? cap : 1, sizeof(*d->regions));
	if (!d->regions)
		return -1;
	d->regions_alloc = (base->flags & opt->flags & DT_REGIONS_ALLOC_MEASURED) != 0;
	int peak_known = d->regions_alloc && dt_regions_has_field(base, DT_REGION_PEAK_LIVE_BYTES) &&
			 dt_regions_has_field(opt, DT_REGION_PEAK_LIVE_BYTES);
	for (int k = 0; k < 2; k++) {
		for (uint32_t i = 0; i < side[k]->n; i++) {
			const struct dt_region_stat *r = &side[k]->r[i];
			if (k == 1 && dt_regions_find(base, r->name))
				continue; /* listed with the baseline's */
			const struct dt_region_stat *b = k == 0 ? r : NULL;
			const struct dt_region_stat *o = k == 0 ? dt_regions_find(opt, r->name) : r;
			struct dt_diff_region *x = &d->regions[d->nregions++];
			uint64_t zero[DT_REGION_NFIELDS] = {0};
			const uint64_t *fb = b ? b->f : zero, *fo = o ? o->f : zero;

			x->name = r->name;
			x->presence = b && o ? DT_DIFF_BOTH : b ? DT_DIFF_VANISHED : DT_DIFF_APPEARED;
			delta_set(&x->count, (double)fb[DT_REGION_COUNT], (double)fo[DT_REGION_COUNT]);
			delta_set(&x->wall_s, (double)fb[DT_REGION_WALL_NS] / NS_PER_S,
				  (double)fo[DT_REGION_WALL_NS] / NS_PER_S);
			delta_set(&x->cpu_s, (double)fb[DT_REGION_CPU_NS] / NS_PER_S,
				  (double)fo[DT_REGION_CPU_NS] / NS_PER_S);
			delta_set(&x->alloc_calls, (double)fb[DT_REGION_ALLOC_CALLS],
				  (double)fo[DT_REGION_ALLOC_CALLS]);
			delta_set(&x->alloc_bytes, (double)fb[DT_REGION_ALLOC_BYTES],
				  (double)fo[DT_REGION_ALLOC_BYTES]);
			x->alloc_calls.known = x->alloc_bytes.known = d->regions_alloc;
			delta_set(&x->peak_live_bytes, (double)fb[DT_REGION_PEAK_LIVE_BYTES],
				  (double)fo[DT_REGION_PEAK_LIVE_BYTES]);
			x->peak_live_bytes.known = peak_known;
		}
	}
	return 0;
}

int dt_diff_build(const struct dt_profile *base, const struct dt_profile *opt, double noise_pct,
		  struct dt_diff **out)
{
	const struct dt_profile *p[2] = {base, opt};
	const struct dt_summary *s0 = &base->summary, *s1 = &opt->summary;
	struct dt_diff *d = calloc(1, sizeof(*d));

	*out = NULL;
	if (!d)
		return -1;
	d->program = s1->program;
	d->noise_pct = noise_pct;
	double cpu0 = s0->cpu_user_s + s0->cpu_sys_s, cpu1 = s1->cpu_user_s + s1->cpu_sys_s;
	delta_set(&d->sampled_s, (double)s0->sample_weight_ns / NS_PER_S,
		  (double)s1->sample_weight_ns / NS_PER_S);
	if (cpu0 > 0 && cpu1 > 0) {
		delta_set(&d->cpu_s, cpu0, cpu1);
		d->cpu_source = "rusage";
	} else {
		d->cpu_s = d->sampled_s;
		d->cpu_source = "samples";
	}
	delta_set(&d->wall_s, s0->wall_s, s1->wall_s);
	d->has_alloc = s0->has_alloc || s1->has_alloc;
	delta_set(&d->alloc_calls, (double)s0->alloc_calls, (double)s1->alloc_calls);
	delta_set(&d->alloc_bytes, (double)s0->alloc_bytes, (double)s1->alloc_bytes);
	delta_set(&d->heap_peak_bytes, (double)s0->heap_peak_bytes, (double)s1->heap_peak_bytes);
	delta_set(&d->rss_peak_bytes, (double)s0->rss_peak_bytes, (double)s1->rss_peak_bytes);
	d->verdict = verdict_of(&d->cpu_s, noise_pct);
	if (build_fns(d, p) || add_regions(d, base->regions, opt->regions)) {
		dt_diff_free(d);
		return -1;
	}
	*out = d;
	return 0;
}

const struct dt_diff_region *dt_diff_find_region(const struct dt_diff *d, const char *name)
{
	for (uint32_t i = 0; i < d->nregions; i++)
		if (strcmp(d->regions[i].name, name) == 0)
			return &d->regions[i];
	return NULL;
}

int dt_diff_focus_region(struct dt_diff *d, const char *name)
{
	const struct dt_diff_region *r = dt_diff_find_region(d, name);

	if (!r)
		return -1;
	d->focus = r;
	d->verdict = verdict_of(&r->wall_s, d->noise_pct);
	return 0;
}

const struct dt_delta *dt_diff_verdict_delta(const struct dt_diff *d)
{
	return d->focus ? &d->focus->wall_s : &d->cpu_s;
}

void dt_diff_free(struct dt_diff *d)
{
	if (!d)
		return;
	free(d->regions);
	free(d->fns);
	free(d);
}

static int name_matches(const char *fn, const char *want)
{
	size_t n = strlen(want);

	if (strcmp(fn, want) == 0)
		return 1;
	return strncmp(fn, want, n) == 0 && fn[n] == '(';
}

const struct dt_diff_fn *dt_diff_find(const struct dt_diff *d, const char *name)
{
	for (uint32_t i = 0; i < d->nfns; i++)
		if (name_matches(d->fns[i].name, name))
			return &d->fns[i];
	return NULL;
}

const char *dt_diff_verdict_name(enum dt_diff_verdict v)
{
	switch (v) {
	case DT_DIFF_FASTER:
		return "faster";
	case DT_DIFF_SLOWER:
		return "slower";
	default:
		return "no significant change";
	}
}

/* ---------------------------------------------------------------- the command */

#define EXIT_OK 0
#define EXIT_GATE 1
#define EXIT_BAD 2

void dt_diff_opts_default(struct dt_diff_opts *o, const char *prog)
{
	memset(o, 0, sizeof(*o));
	o->prog = prog;
	o->format = "text";
	o->top_n = DT_REPORT_DEFAULT_TOP;
	o->noise_pct = DT_DIFF_NOISE_PCT;
	o->fail_if_slower_pct = -1;
}

struct side {
	struct dt_trace *t;
	struct dt_symbolizer *sym;
	struct dt_profile *prof;
};

static int load_side(const struct dt_diff_opts *o, const char *path, struct side *s)
{
	char err[DT_READ_ERR_BYTES];

	int rc = dt_trace_read_file(path, &s->t, err, sizeof(err));

	if (rc != DT_READ_OK) {
		fprintf(stderr, "%s: %s: %s (%s)\n", o->prog, path, err, dt_read_status_advice(rc));
		return -1;
	}
	if (s->t->partial && !o->quiet)
		fprintf(stderr, "%s: warning: %s: partial trace: %s\n", o->prog, path, s->t->partial_why);
	if (dt_sym_open(s->t, o->sym_flags, o->quiet ? NULL : stderr, &s->sym) ||
	    dt_profile_build_progress(s->t, s->sym, o->progress, o->progress_ctx, &s->prof)) {
		fprintf(stderr, "%s: %s: out of memory while building the profile (try a smaller trace)\n",
			o->prog, path);
		return -1;
	}
	return 0;
}

static void free_side(struct side *s)
{
	dt_profile_free(s->prof);
	dt_sym_close(s->sym);
	dt_trace_free(s->t);
}

/* The gate: 1 when the chosen quantity regressed by more than the allowed percentage. */
static int gate(const struct dt_diff *d, const struct dt_diff_opts *o, int *bad)
{
	const struct dt_delta *q = dt_diff_verdict_delta(d);
	const char *what = d->focus ? d->focus->name : "total CPU time";

	*bad = 0;
	if (o->gate_function) {
		const struct dt_diff_fn *f = dt_diff_find(d, o->gate_function);
		if (!f) {
			fprintf(stderr,
				"%s: --function: a function present in either trace expected, found no '%s' "
				"(see the functions table of the diff)\n",
				o->prog, o->gate_function);
			*bad = 1;
			return 0;
		}
		q = &f->total_s;
		what = f->name;
	}
	if (isnan(q->change_pct)) {
		/* Nothing measured in the baseline: any time at all is an unbounded regression. */
		if (q->optimized > 0) {
			fprintf(stderr,
				"%s: gate: %s: slower: 0 s in the baseline, %.3f s now (limit +%.1f%%)\n",
				o->prog, what, q->optimized, o->fail_if_slower_pct);
			return 1;
		}
		return 0;
	}
	if (q->change_pct > o->fail_if_slower_pct) {
		fprintf(
		    stderr,
		    "%s: gate: %s regressed by %+.1f%% (%.3f s -> %.3f s), more than the allowed %.1f%%\n",
		    o->prog, what, q->change_pct, q->baseline, q->optimized, o->fail_if_slower_pct);
		return 1;
	}
	return 0;
}

int dt_diff_run(const char *baseline, const char *optimized, const struct dt_diff_opts *o)
{
	struct side s[2];
	struct dt_diff *d = NULL;
	FILE *out = stdout;
	int rc = EXIT_BAD, bad = 0, fired = 0;
	int (*report)(FILE *, const struct dt_diff *, uint32_t) = NULL;

	memset(s, 0, sizeof(s));
	if (strcmp(o->format, "text") == 0)
		report = dt_report_diff_text;
	else if (strcmp(o->format, "markdown") == 0)
		report = dt_report_diff_markdown;
	else if (strcmp(o->format, "json") == 0)
		report = dt_report_diff_json;
	if (!report) {
		fprintf(stderr,
			"%s: --format: text, markdown or json expected for a diff, found '%s' (report each "
			"trace for other formats)\n",
			o->prog, o->format);
		return EXIT_BAD;
	}
	if (load_side(o, baseline, &s[0]) || load_side(o, optimized, &s[1]))
		goto out;
	if (dt_diff_build(s[0].prof, s[1].prof, o->noise_pct, &d)) {
		fprintf(stderr,
			"%s: %s: out of memory while comparing (free some memory, or try --no-symbols)\n",
			o->prog, optimized);
		goto out;
	}
	if (o->region && dt_diff_focus_region(d, o->region)) {
		fprintf(stderr,
			"%s: --region: a region present in either trace expected, found no '%s' (the "
			"report's Regions section lists the names)\n",
			o->prog, o->region);
		goto out;
	}
	d->baseline_name = baseline;
	d->optimized_name = optimized;
	if (o->fail_if_slower_pct >= 0) {
		fired = gate(d, o, &bad);
		if (bad)
			goto out;
	}
	if (o->output && !(out = fopen(o->output, "w"))) {
		fprintf(stderr,
			"%s: %s: a writable output file expected, found: %m (check the directory exists and "
			"is writable)\n",
			o->prog, o->output);
		out = stdout;
		goto out;
	}
	if (report(out, d, o->top_n) || fflush(out)) {
		fprintf(stderr, "%s: %s: the report could not be written completely\n", o->prog,
			o->output ? o->output : "standard output");
		goto out;
	}
	rc = fired ? EXIT_GATE : EXIT_OK;
out:
	if (out != stdout && fclose(out) && rc != EXIT_BAD) {
		fprintf(stderr, "%s: %s: the report could not be written: %m\n", o->prog, o->output);
		rc = EXIT_BAD;
	}
	dt_diff_free(d);
	free_side(&s[1]);
	free_side(&s[0]);
	return rc;
}
