/* `deiatrace diff OLD.json NEW.json` for two `deiatrace bench -f json` results: the change of each
 * measured mean with the 95% interval of the ratio (analyzer/dt_stats.c), a verdict and the gate.
 * Owns a minimal JSON walker for that one document shape (lookups by key, no tree is built). */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyzer/dt_diff.h"
#include "analyzer/dt_report.h"
#include "analyzer/dt_stats.h"
#include "dt_bench_diff.h"
#include "dt_fe.h"

#define BENCH_FILE_MAX_BYTES (64u << 20)
#define JSON_MAX_DEPTH 64
#define BENCH_DIFF_JSON_VERSION 1
#define PCT 100.0

/* ---------------------------------------------------------------- a JSON walker */

static const char *ws(const char *p)
{
	while (*p && isspace((unsigned char)*p))
		p++;
	return p;
}

/* Past the string at p ('"'), or NULL. */
static const char *skip_string(const char *p)
{
	for (p++; *p; p++) {
		if (*p == '\\') {
			if (!*++p)
				return NULL;
		} else if (*p == '"') {
			return p + 1;
		}
	}
	return NULL;
}

/* Past the value at p, or NULL when it is malformed. */
static const char *skip_value(const char *p, int depth)
{
	p = ws(p);
	if (depth > JSON_MAX_DEPTH)
		return NULL;
	if (*p == '"')
		return skip_string(p);
	if (*p == '{' || *p == '[') {
		char close = *p == '{' ? '}' : ']';
		p = ws(p + 1);
		if (*p == close)
			return p + 1;
		for (;;) {
			if (close == '}') {
				if (*p != '"' || !(p = skip_string(p)))
					return NULL;
				p = ws(p);
				if (*p++ != ':')
					return NULL;
			}
			if (!(p = skip_value(p, depth + 1)))
				return NULL;
			p = ws(p);
			if (*p == close)
				return p + 1;
			if (*p++ != ',')
				return NULL;
			p = ws(p);
		}
	}
	const char *s = p;
	while (*p && (isalnum((unsigned char)*p) || strchr("+-.", *p)))
		p++;
	return p > s ? p : NULL;
}

/* The value of member `key` of the object at p, or NULL. */
static const char *member(const char *p, const char *key)
{
	size_t klen = strlen(key);

	if (!p || *(p = ws(p)) != '{')
		return NULL;
	p = ws(p + 1);
	while (*p == '"') {
		const char *k = p + 1, *end = skip_string(p);
		if (!end)
			return NULL;
		int match = (size_t)(end - 1 - k) == klen && memcmp(k, key, klen) == 0;
		p = ws(end);
		if (*p++ != ':')
			return NULL;
		p = ws(p);
		if (match)
			return p;
		if (!(p = skip_value(p, 0)))
			return NULL;
		p = ws(p);
		if (*p != ',')
			return NULL;
		p = ws(p + 1);
	}
	return NULL;
}

static const char *element(const char *p, size_t idx)
{
	if (!p || *(p = ws(p)) != '[')
		return NULL;
	p = ws(p + 1);
	for (size_t i = 0; *p && *p != ']'; i++) {
		if (i == idx)
			return p;
		if (!(p = skip_value(p, 0)))
			return NULL;
		p = ws(p);
		if (*p == ',')
			p = ws(p + 1);
	}
	return NULL;
}

static int number(const char *p, double *out)
{
	char *end;

	if (!p)
		return -1;
	errno = 0;
	*out = strtod(p, &end);
	return errno || end == p ? -1 : 0;
}

/* ---------------------------------------------------------------- loading */

static const char *const keys[] = {"wall_s", "cpu_s", "user_s", "sys_s", "peak_rss_bytes"};
static const char *const labels[] = {"wall time", "user+system", "user CPU", "system CPU", "peak RSS"};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

struct bench_side {
	char *doc;
	char command[256];
	struct dt_stats st[NKEYS];
};

/* 1 when the file looks like JSON (its first non-blank byte is '{'). */
int dt_bench_diff_is_json(const char *path)
{
	FILE *f = fopen(path, "rb");
	int c = EOF;

	if (!f)
		return 0;
	while ((c = fgetc(f)) != EOF && isspace(c))
		;
	fclose(f);
	return c == '{';
}

static int load(const char *path, struct bench_side *s)
{
	FILE *f = fopen(path, "rb");
	size_t len = 0;

	memset(s, 0, sizeof(*s));
	if (!f) {
		fprintf(stderr,
			DT_FE_PROG ": %s: a readable bench result expected, found: %m (give the file that "
				   "'deiatrace bench -f json -o FILE' wrote)\n",
			path);
		return -1;
	}
	s->doc = malloc(BENCH_FILE_MAX_BYTES + 1);
	if (s->doc)
		len = fread(s->doc, 1, BENCH_FILE_MAX_BYTES, f);
	fclose(f);
	if (!s->doc)
		return -1;
	s->doc[len] = '\0';
	const char *cmd = element(member(s->doc, "commands"), 0), *name = member(cmd, "command");
	double runs = 0;
	if (!member(s->doc, "deiatrace_bench_version") || !cmd || number(member(cmd, "runs"), &runs) ||
	    runs < 1) {
		fprintf(stderr,
			DT_FE_PROG ": %s: a 'deiatrace bench -f json' result expected, found other JSON "
				   "(compare two bench results, or two .bin traces)\n",
			path);
		return -1;
	}
	if (name && *name == '"') {
		const char *end = skip_string(name);
		size_t n = end ? (size_t)(end - name - 2) : 0;
		if (n >= sizeof(s->command))
			n = sizeof(s->command) - 1;
		memcpy(s->command, name + 1, n);
	}
	for (size_t k = 0; k < NKEYS; k++) {
		const char *q = member(cmd, keys[k]);
		s->st[k].n = (size_t)runs;
		if (number(member(q, "mean"), &s->st[k].mean) ||
		    number(member(q, "stddev"), &s->st[k].stddev)) {
			fprintf(stderr, DT_FE_PROG ": %s: %s.mean and .stddev expected, found none\n", path,
				keys[k]);
			return -1;
		}
	}
	return 0;
}

/* ---------------------------------------------------------------- comparing and reporting */

struct row {
	double base, opt, change_pct;
	struct dt_ratio r;
	int has_ratio;
};

static void compare(const struct bench_side *a, const struct bench_side *b, struct row rows[NKEYS])
{
	for (size_t k = 0; k < NKEYS; k++) {
		rows[k].base = a->st[k].mean;
		rows[k].opt = b->st[k].mean;
		rows[k].change_pct =
		    a->st[k].mean != 0 ? (b->st[k].mean - a->st[k].mean) / a->st[k].mean * PCT : NAN;
		rows[k].has_ratio = dt_stats_ratio(&a->st[k], &b->st[k], &rows[k].r) == 0;
	}
}

/* Faster/slower only when the interval of the wall-time ratio excludes 1 and the change exceeds the
 * noise threshold. */
static const char *verdict(const struct row *w, double noise_pct)
{
	if (!w->has_ratio || isnan(w->change_pct) || fabs(w->change_pct) <= noise_pct)
		return "no significant change";
	if (w->r.ci_hi < 1)
		return "faster";
	if (w->r.ci_lo > 1)
		return "slower";
	return "no significant change";
}

static void put_value(FILE *out, size_t k, double v)
{
	char buf[32];

	if (strcmp(keys[k], "peak_rss_bytes") == 0)
		fputs(dt_fmt_bytes(buf, sizeof(buf), (uint64_t)v), out);
	else
		fprintf(out, "%.4f s", v);
}

static void report_text(FILE *out, const char *pa, const char *pb, const struct bench_side *a,
			const struct bench_side *b, const struct row rows[NKEYS], double noise, int md)
{
	const char *v = verdict(&rows[0], noise);

	fprintf(out,
		md ? "# deiatrace diff (bench results)\n\n- baseline: `%s` (%s, %zu runs)\n- optimized: `%s` "
		     "(%s, %zu runs)\n\n"
		   : "deiatrace diff (bench results)\n  baseline:  %s (%s, %zu runs)\n  optimized: %s (%s, "
		     "%zu runs)\n\n",
		pa, a->command, a->st[0].n, pb, b->command, b->st[0].n);
	fprintf(out,
		"%sVerdict: %s%s (mean wall time, 95%% interval of the ratio; changes within +-%.1f%% are "
		"noise)\n\n",
		md ? "**" : "", v, md ? "**" : "", noise);
	if (md)
		fputs("| quantity | baseline mean | optimized mean | change | ratio | 95% CI "
		      "|\n|---|---:|---:|---:|---:|---|\n",
		      out);
	else
		fprintf(out, "  %-12s %14s %14s %9s %7s  %s\n", "quantity", "baseline", "optimized", "change",
			"ratio", "95% CI");
	for (size_t k = 0; k < NKEYS; k++) {
		const struct row *r = &rows[k];
		fprintf(out, md ? "| %s | " : "  %-12s ", labels[k]);
		char bb[32], ob[32];
		FILE *m = fmemopen(bb, sizeof(bb), "w");
		if (m) {
			put_value(m, k, r->base);
			fclose(m);
		}
		m = fmemopen(ob, sizeof(ob), "w");
		if (m) {
			put_value(m, k, r->opt);
			fclose(m);
		}
		fprintf(out, md ? "%s | %s | " : "%14s %14s ", bb, ob);
		if (isnan(r->change_pct))
			fprintf(out, md ? "- | " : "%9s ", "-");
		else
			fprintf(out, md ? "%+.1f%% | " : "%+8.1f%% ", r->change_pct);
		if (r->has_ratio)
			fprintf(out, md ? "%.3f | %.3f .. %.3f |\n" : "%7.3f  %.3f .. %.3f\n", r->r.ratio,
				r->r.ci_lo, r->r.ci_hi);
		else
			fputs(md ? "- | - |\n" : "      -  -\n", out);
	}
}

static void report_json(FILE *out, const char *pa, const char *pb, const struct row rows[NKEYS], double noise)
{
	fprintf(out, "{\n  \"deiatrace_bench_diff_version\": %d,\n  \"baseline\": ", BENCH_DIFF_JSON_VERSION);
	dt_json_put_string(out, pa);
	fputs(",\n  \"optimized\": ", out);
	dt_json_put_string(out, pb);
	fprintf(out, ",\n  \"verdict\": \"%s\",\n  \"noise_pct\": ", verdict(&rows[0], noise));
	dt_json_put_number(out, noise);
	fputs(",\n  \"quantities\": {", out);
	for (size_t k = 0; k < NKEYS; k++) {
		const struct row *r = &rows[k];
		fprintf(out, "%s\n    \"%s\": {\"baseline\": ", k ? "," : "", keys[k]);
		dt_json_put_number(out, r->base);
		fputs(", \"optimized\": ", out);
		dt_json_put_number(out, r->opt);
		fputs(", \"change_pct\": ", out);
		dt_json_put_number(out, r->change_pct);
		fputs(", \"ratio\": ", out);
		dt_json_put_number(out, r->has_ratio ? r->r.ratio : NAN);
		fputs(", \"ci_low\": ", out);
		dt_json_put_number(out, r->has_ratio ? r->r.ci_lo : NAN);
		fputs(", \"ci_high\": ", out);
		dt_json_put_number(out, r->has_ratio ? r->r.ci_hi : NAN);
		fputs("}", out);
	}
	fputs("\n  }\n}\n", out);
}

int dt_bench_diff_run(const char *pa, const char *pb, const struct dt_diff_opts *o)
{
	struct bench_side a, b;
	struct row rows[NKEYS];
	FILE *out = stdout;
	int rc = DT_FE_EXIT_USAGE;

	memset(&b, 0, sizeof(b));
	if (o->gate_function || o->region) {
		fprintf(stderr, DT_FE_PROG ": --function/--region: traces expected for them, found bench "
					   "results (diff two .bin traces for those)\n");
		return DT_FE_EXIT_USAGE;
	}
	if (load(pa, &a) || load(pb, &b))
		goto out;
	compare(&a, &b, rows);
	if (o->output && !(out = fopen(o->output, "w"))) {
		fprintf(stderr,
			DT_FE_PROG ": %s: a writable output file expected, found: %m (check the directory "
				   "exists and is writable)\n",
			o->output);
		out = stdout;
		goto out;
	}
	if (strcmp(o->format, "json") == 0)
		report_json(out, pa, pb, rows, o->noise_pct);
	else
		report_text(out, pa, pb, &a, &b, rows, o->noise_pct, strcmp(o->format, "markdown") == 0);
	if (fflush(out) || ferror(out)) {
		fprintf(stderr, DT_FE_PROG ": %s: the report could not be written completely\n",
			o->output ? o->output : "standard output");
		goto out;
	}
	rc = DT_FE_EXIT_OK;
	/* The gate: the mean wall time grew by more than the limit, and the interval says it is real. */
	const struct row *w = &rows[0];
	if (o->fail_if_slower_pct >= 0 && !isnan(w->change_pct) && w->change_pct > o->fail_if_slower_pct &&
	    (!w->has_ratio || w->r.ci_lo > 1)) {
		fprintf(stderr,
			DT_FE_PROG ": gate: mean wall time regressed by %+.1f%% (%.4f s -> %.4f s), more "
				   "than the allowed %.1f%%\n",
			w->change_pct, w->base, w->opt, o->fail_if_slower_pct);
		rc = DT_FE_EXIT_FAIL;
	}
out:
	if (out != stdout && fclose(out) && rc != DT_FE_EXIT_USAGE)
		rc = DT_FE_EXIT_USAGE;
	free(a.doc);
	free(b.doc);
	return rc;
}
