/* SVG flame graph reporter (--format svg) and the flame graph the HTML page embeds: a tree of call
 * paths merged by function (root first) from the per-stack CPU or allocation records, drawn root at
 * the bottom, one self-contained SVG with an inline script for zoom and search. Reads the profile
 * model only. Names from the trace reach the SVG only as escaped text: never inside the script, never
 * in an attribute but as escaped character data. */
#define _GNU_SOURCE /* qsort_r */
#include "dt_flame.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define NS_PER_S 1e9

/* Layout, in SVG user units (pixels at 100%). Text is monospace, so a character's width is known
 * well enough to fit names to frames here and in the script (which reads these from attributes). */
#define WIDTH_PX 1200.0
#define PAD_SIDE_PX 10.0
#define PAD_TOP_PX 64
#define PAD_BOTTOM_PX 34
#define FRAME_H_PX 16
#define FRAME_GAP_PX 1
#define FONT_PX 12
#define CHAR_W_PX 7.3	   /* DejaVu Sans Mono (Debian's monospace) is 0.602 em */
#define TEXT_INSET_PX 3.0  /* text starts this far inside its frame, on both sides */
#define MIN_FRAME_W_PX 0.1 /* narrower frames (and their callees) are left out, as flamegraph.pl does */
#define MIN_TEXT_CHARS 3u  /* fewer would show only "..": show nothing */
#define FIT_MARK ".."
#define FIT_MARK_CHARS 2u

#define ROOT_FN UINT32_MAX
#define NO_NODE UINT32_MAX
#define HASH_MIN_SLOTS 64u

/* Colours: the program's own module in reds and oranges, libraries in ambers and yellows (one hue
 * per module from a stable hash), the shim's frames grey, search matches magenta. */
#define HUE_PROGRAM_LO 0.0
#define HUE_PROGRAM_SPAN 30.0
#define HUE_LIB_LO 36.0
#define HUE_LIB_SPAN 22.0
#define SAT_PROGRAM 0.80
#define SAT_LIB 0.70
#define LIGHT_PROGRAM 0.58
#define LIGHT_LIB 0.64
#define LIGHT_JITTER 0.04 /* per function, so neighbours of one module stay apart */
#define COLOR_PROFILER "#b4b4b4"
#define COLOR_ROOT "#d9d4cc"
#define FNV_OFFSET 2166136261u
#define FNV_PRIME 16777619u

#define UTF8_REPLACEMENT 0xfffdu
#define CONTROL_PICTURES 0x2400u /* U+2400 + c shows C0 control c */
#define DEL_PICTURE 0x2421u
#define ELLIPSIS_CP 0x2026u

struct fnode {
	uint32_t fn;	 /* function id; ROOT_FN for the root */
	uint32_t parent; /* NO_NODE for the root */
	uint32_t depth;
	uint32_t kids, nkids; /* range in flame.kids */
	uint64_t value;	      /* the metric, over every path through this node */
	uint64_t weight_ns;   /* CPU time the samples stand for (CPU metric only) */
};

struct flame {
	const struct dt_profile *p;
	enum dt_metric metric;
	struct fnode *n;
	uint32_t nn, cap;
	uint32_t *slots; /* open addressing on (parent, fn): node index + 1, 0 empty */
	uint32_t nslots;
	uint32_t *kids;	     /* children of each node, contiguous, largest first */
	const char *program; /* basename of the traced executable */
	uint32_t max_depth;  /* deepest frame wide enough to draw */
	double scale;	     /* pixels per unit of value */
};

/* ---------------------------------------------------------------- text */

/* Decodes one character at s (not at its NUL): its length in bytes (1..4) and code point; an invalid
 * sequence (overlong, surrogate, above U+10FFFF, cut short) is one byte of U+FFFD. */
static size_t next_char(const unsigned char *s, uint32_t *cp)
{
	unsigned char c = s[0];
	size_t n;
	uint32_t v, min;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if ((c & 0xe0) == 0xc0) {
		n = 2;
		v = c & 0x1f;
		min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		n = 3;
		v = c & 0x0f;
		min = 0x800;
	} else if ((c & 0xf8) == 0xf0) {
		n = 4;
		v = c & 0x07;
		min = 0x10000;
	} else {
		*cp = UTF8_REPLACEMENT;
		return 1;
	}
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80) { /* also stops at the terminating NUL */
			*cp = UTF8_REPLACEMENT;
			return 1;
		}
		v = v << 6 | (s[i] & 0x3f);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) {
		*cp = UTF8_REPLACEMENT;
		return 1;
	}
	*cp = v;
	return n;
}

static void put_utf8(FILE *out, uint32_t cp)
{
	if (cp < 0x80) {
		fputc((int)cp, out);
	} else if (cp < 0x800) {
		fputc((int)(0xc0 | cp >> 6), out);
		fputc((int)(0x80 | (cp & 0x3f)), out);
	} else if (cp < 0x10000) {
		fputc((int)(0xe0 | cp >> 12), out);
		fputc((int)(0x80 | (cp >> 6 & 0x3f)), out);
		fputc((int)(0x80 | (cp & 0x3f)), out);
	} else {
		fputc((int)(0xf0 | cp >> 18), out);
		fputc((int)(0x80 | (cp >> 12 & 0x3f)), out);
		fputc((int)(0x80 | (cp >> 6 & 0x3f)), out);
		fputc((int)(0x80 | (cp & 0x3f)), out);
	}
}

/* One character as XML text. XML 1.0 has no form for C0 controls (not even &#27;), so they become
 * their visible pictures; C1 controls would drive some terminals a page is copied into. */
static void put_xml_char(FILE *out, uint32_t cp)
{
	switch (cp) {
	case '&':
		fputs("&amp;", out);
		return;
	case '<':
		fputs("&lt;", out);
		return;
	case '>':
		fputs("&gt;", out);
		return;
	case '"':
		fputs("&quot;", out);
		return;
	case '\'':
		fputs("&#39;", out);
		return;
	default:
		break;
	}
	if (cp < 0x20)
		cp += CONTROL_PICTURES;
	else if (cp == 0x7f)
		cp = DEL_PICTURE;
	else if ((cp >= 0x80 && cp <= 0x9f) || cp == 0xfffe || cp == 0xffff)
		cp = UTF8_REPLACEMENT;
	put_utf8(out, cp);
}

/* Characters in s, counting no further than limit. */
static size_t count_chars(const char *str, size_t limit)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n = 0;
	uint32_t cp;

	while (*s && n < limit) {
		s += next_char(s, &cp);
		n++;
	}
	return n;
}

/* The first max_chars characters of s; 1 when s had more. */
static int put_chars(FILE *out, const char *str, size_t max_chars)
{
	const unsigned char *s = (const unsigned char *)str;
	uint32_t cp;

	for (size_t n = 0; *s; n++) {
		if (n == max_chars)
			return 1;
		s += next_char(s, &cp);
		put_xml_char(out, cp);
	}
	return 0;
}

void dt_xml_put_text(FILE *out, const char *s, size_t max_chars)
{
	if (s && put_chars(out, s, max_chars))
		put_utf8(out, ELLIPSIS_CP);
}

/* A name fitted to a frame w pixels wide: whole, cut with "..", or nothing. The script's fit() does
 * the same after a zoom. */
static void put_fitted(FILE *out, const char *name, double w)
{
	double room = (w - 2 * TEXT_INSET_PX) / CHAR_W_PX;
	size_t chars = room > 0 ? (size_t)room : 0;

	if (chars < MIN_TEXT_CHARS)
		return;
	if (chars > DT_FLAME_NAME_MAX_CHARS)
		chars = DT_FLAME_NAME_MAX_CHARS;
	if (count_chars(name, chars + 1) <= chars) {
		put_chars(out, name, chars);
		return;
	}
	put_chars(out, name, chars - FIT_MARK_CHARS);
	fputs(FIT_MARK, out);
}

/* ---------------------------------------------------------------- the tree */

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint32_t slot_hash(uint32_t parent, uint32_t fn)
{
	uint64_t k = ((uint64_t)parent << 32 | fn) * 0x9e3779b97f4a7c15ull;

	return (uint32_t)(k >> 32);
}

static int rehash(struct flame *f, uint32_t nslots)
{
	uint32_t *slots = calloc(nslots, sizeof(*slots));

	if (!slots)
		return -1;
	for (uint32_t i = 1; i < f->nn; i++) { /* the root is never looked up */
		uint32_t h = slot_hash(f->n[i].parent, f->n[i].fn) & (nslots - 1);
		while (slots[h])
			h = (h + 1) & (nslots - 1);
		slots[h] = i + 1;
	}
	free(f->slots);
	f->slots = slots;
	f->nslots = nslots;
	return 0;
}

/* The child of `parent` for function fn, made when missing. NO_NODE when memory ran out. */
static uint32_t child(struct flame *f, uint32_t parent, uint32_t fn)
{
	uint32_t h;

	if ((uint64_t)(f->nn + 1) * 2 > f->nslots && rehash(f, f->nslots ? f->nslots * 2 : HASH_MIN_SLOTS))
		return NO_NODE;
	h = slot_hash(parent, fn) & (f->nslots - 1);
	for (; f->slots[h]; h = (h + 1) & (f->nslots - 1)) {
		const struct fnode *c = &f->n[f->slots[h] - 1];
		if (c->parent == parent && c->fn == fn)
			return f->slots[h] - 1;
	}
	if (f->nn == f->cap) {
		uint32_t cap = f->cap * 2;
		struct fnode *n = realloc(f->n, cap * sizeof(*n));
		if (!n)
			return NO_NODE;
		f->n = n;
		f->cap = cap;
	}
	f->n[f->nn] = (struct fnode){.fn = fn, .parent = parent, .depth = f->n[parent].depth + 1};
	f->slots[h] = ++f->nn;
	return f->nn - 1;
}

/* Adds one stack (function ids leaf first) with its value. 0 or -1. */
static int add_path(struct flame *f, uint32_t sid, uint64_t value, uint64_t weight_ns)
{
	const struct dt_trace *t = f->p->trace;
	const uint32_t *ids = f->p->stack_fns[sid];
	uint32_t depth = t->stacks[sid].depth ? t->stacks[sid].depth : 1, cur = 0;

	if (!value || !ids)
		return 0;
	f->n[0].value = sat_add(f->n[0].value, value);
	f->n[0].weight_ns = sat_add(f->n[0].weight_ns, weight_ns);
	for (uint32_t d = depth; d-- > 0;) {
		cur = child(f, cur, ids[d]);
		if (cur == NO_NODE)
			return -1;
		f->n[cur].value = sat_add(f->n[cur].value, value);
		f->n[cur].weight_ns = sat_add(f->n[cur].weight_ns, weight_ns);
	}
	return 0;
}

static uint64_t alloc_value(const struct dt_alloc_rec *r, enum dt_metric m)
{
	switch (m) {
	case DT_METRIC_ALLOC_BYTES:
		return r->f[DT_ALLOC_BYTES];
	case DT_METRIC_ALLOC_CALLS:
		return r->f[DT_ALLOC_CALLS];
	case DT_METRIC_PEAK_BYTES:
		return r->f[DT_ALLOC_PEAK_LIVE_BYTES];
	case DT_METRIC_CPU:
	default:
		return 0;
	}
}

static const char *fn_name(const struct flame *f, uint32_t node)
{
	return f->n[node].fn == ROOT_FN ? "all" : f->p->fns[f->n[node].fn]->name;
}

/* Largest first; ties by name, so the picture does not depend on the trace's record order. */
static int cmp_kids(const void *a, const void *b, void *arg)
{
	const struct flame *f = arg;
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	int c;

	if (f->n[x].value != f->n[y].value)
		return f->n[x].value > f->n[y].value ? -1 : 1;
	c = strcmp(fn_name(f, x), fn_name(f, y));
	return c ? c : (f->n[x].fn > f->n[y].fn) - (f->n[x].fn < f->n[y].fn);
}

/* Children lists (contiguous per parent, sorted) and the drawn depth. 0 or -1. */
static int finish_tree(struct flame *f)
{
	uint32_t *fill = calloc(f->nn, sizeof(*fill));

	f->kids = malloc((f->nn ? f->nn : 1) * sizeof(*f->kids));
	if (!fill || !f->kids) {
		free(fill);
		return -1;
	}
	for (uint32_t i = 1; i < f->nn; i++)
		f->n[f->n[i].parent].nkids++;
	for (uint32_t i = 0, at = 0; i < f->nn; i++) {
		f->n[i].kids = at;
		at += f->n[i].nkids;
	}
	for (uint32_t i = 1; i < f->nn; i++) {
		uint32_t par = f->n[i].parent;
		f->kids[f->n[par].kids + fill[par]++] = i;
	}
	free(fill);
	for (uint32_t i = 0; i < f->nn; i++)
		if (f->n[i].nkids > 1)
			qsort_r(f->kids + f->n[i].kids, f->n[i].nkids, sizeof(*f->kids), cmp_kids, f);
	f->scale = f->n[0].value ? (WIDTH_PX - 2 * PAD_SIDE_PX) / (double)f->n[0].value : 0;
	/* A child is never wider than its parent, so every frame this wide is drawn. */
	for (uint32_t i = 0; i < f->nn; i++)
		if ((double)f->n[i].value * f->scale >= MIN_FRAME_W_PX && f->n[i].depth > f->max_depth)
			f->max_depth = f->n[i].depth;
	return 0;
}

static int build(struct flame *f, const struct dt_profile *p, enum dt_metric m)
{
	const struct dt_trace *t = p->trace;
	const char *slash = strrchr(p->summary.program, '/');

	memset(f, 0, sizeof(*f));
	f->p = p;
	f->metric = m;
	f->program = slash ? slash + 1 : p->summary.program;
	f->cap = HASH_MIN_SLOTS;
	f->n = malloc(f->cap * sizeof(*f->n));
	if (!f->n)
		return -1;
	f->n[0] = (struct fnode){.fn = ROOT_FN, .parent = NO_NODE};
	f->nn = 1;
	if (m == DT_METRIC_CPU) {
		for (uint32_t i = 0; i < t->ncpu; i++)
			if (add_path(f, t->cpu[i].stack, t->cpu[i].samples, t->cpu[i].weight_ns))
				return -1;
	} else {
		for (uint32_t i = 0; i < t->nalloc; i++)
			if (add_path(f, t->alloc[i].stack, alloc_value(&t->alloc[i], m), 0))
				return -1;
	}
	return finish_tree(f);
}

static void flame_free(struct flame *f)
{
	free(f->n);
	free(f->slots);
	free(f->kids);
}

/* ---------------------------------------------------------------- colours */

static uint32_t fnv1a(const char *s)
{
	uint32_t h = FNV_OFFSET;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * FNV_PRIME;
	return h;
}

static double hue_to_rgb(double p, double q, double t)
{
	if (t < 0)
		t += 1;
	if (t > 1)
		t -= 1;
	if (t < 1.0 / 6)
		return p + (q - p) * 6 * t;
	if (t < 1.0 / 2)
		return q;
	if (t < 2.0 / 3)
		return p + (q - p) * (2.0 / 3 - t) * 6;
	return p;
}

static void put_hsl(FILE *out, double hue_deg, double s, double l)
{
	double q = l < 0.5 ? l * (1 + s) : l + s - l * s, p = 2 * l - q, h = hue_deg / 360.0;
	int r = (int)(hue_to_rgb(p, q, h + 1.0 / 3) * 255 + 0.5);
	int g = (int)(hue_to_rgb(p, q, h) * 255 + 0.5);
	int b = (int)(hue_to_rgb(p, q, h - 1.0 / 3) * 255 + 0.5);

	fprintf(out, "#%02x%02x%02x", r, g, b);
}

/* The module picks the hue (stable across runs and traces), the function a small lightness step. */
static void put_color(FILE *out, const struct flame *f, uint32_t node)
{
	const struct dt_function *fn;
	uint32_t hm, hf;
	double jitter;

	if (f->n[node].fn == ROOT_FN) {
		fputs(COLOR_ROOT, out);
		return;
	}
	fn = f->p->fns[f->n[node].fn];
	if (fn->profiler) {
		fputs(COLOR_PROFILER, out);
		return;
	}
	hm = fnv1a(fn->module);
	hf = fnv1a(fn->name);
	jitter = LIGHT_JITTER * ((double)(hf % 1001) / 500.0 - 1.0);
	if (strcmp(fn->module, f->program) == 0)
		put_hsl(out, HUE_PROGRAM_LO + HUE_PROGRAM_SPAN * (double)(hm % 1000) / 1000.0, SAT_PROGRAM,
			LIGHT_PROGRAM + jitter);
	else
		put_hsl(out, HUE_LIB_LO + HUE_LIB_SPAN * (double)(hm % 1000) / 1000.0, SAT_LIB,
			LIGHT_LIB + jitter);
}

/* ---------------------------------------------------------------- drawing */

static const char *metric_title(enum dt_metric m)
{
	switch (m) {
	case DT_METRIC_ALLOC_BYTES:
		return "Allocated bytes";
	case DT_METRIC_ALLOC_CALLS:
		return "Allocation calls";
	case DT_METRIC_PEAK_BYTES:
		return "Bytes live at the heap peak";
	case DT_METRIC_CPU:
	default:
		return "CPU";
	}
}

/* "123 samples, 0.123 s CPU, 45.67%" and the like: the value with its unit (and share). */
static void put_value(FILE *out, const struct flame *f, uint64_t v, uint64_t weight_ns, int with_pct)
{
	double pct = f->n[0].value ? 100.0 * (double)v / (double)f->n[0].value : 0;
	char b[32];

	switch (f->metric) {
	case DT_METRIC_ALLOC_BYTES:
		fprintf(out, "%" PRIu64 " bytes allocated (%s)", v, dt_fmt_bytes(b, sizeof(b), v));
		break;
	case DT_METRIC_ALLOC_CALLS:
		fprintf(out, "%" PRIu64 " allocation calls", v);
		break;
	case DT_METRIC_PEAK_BYTES:
		fprintf(out, "%" PRIu64 " bytes live at the heap peak (%s)", v,
			dt_fmt_bytes(b, sizeof(b), v));
		break;
	case DT_METRIC_CPU:
	default:
		fprintf(out, "%" PRIu64 " samples, %.3f s CPU", v, (double)weight_ns / NS_PER_S);
		break;
	}
	if (with_pct)
		fprintf(out, ", %.2f%%", pct);
}

/* One frame and, depth first, its callees: the script rebuilds the tree from this pre-order. */
static void put_frame(FILE *out, const struct flame *f, uint32_t node, double x, int base_y)
{
	const struct fnode *n = &f->n[node];
	double w = (double)n->value * f->scale;
	int y = base_y - (int)n->depth * FRAME_H_PX;
	char loc[512];

	fprintf(out, "<g class=\"f\" data-v=\"%" PRIu64 "\"><title>", n->value);
	dt_xml_put_text(out, fn_name(f, node), DT_FLAME_NAME_MAX_CHARS);
	fputc('\n', out);
	if (n->fn != ROOT_FN) {
		const struct dt_function *fn = f->p->fns[n->fn];
		fputs("in ", out);
		dt_xml_put_text(out, fn->module, DT_FLAME_NAME_MAX_CHARS);
		if (fn->file) {
			fputs(", ", out);
			dt_xml_put_text(out, dt_fmt_location(loc, sizeof(loc), fn), DT_FLAME_NAME_MAX_CHARS);
		}
		fputc('\n', out);
	}
	put_value(out, f, n->value, n->weight_ns, 1);
	fprintf(out, "</title><rect x=\"%.2f\" y=\"%d\" width=\"%.2f\" height=\"%d\" fill=\"", x, y, w,
		FRAME_H_PX - FRAME_GAP_PX);
	put_color(out, f, node);
	fprintf(out, "\"/><text x=\"%.2f\" y=\"%d\">", x + TEXT_INSET_PX, y + FONT_PX);
	put_fitted(out, fn_name(f, node), w);
	fputs("</text></g>\n", out);
	for (uint32_t k = 0; k < n->nkids; k++) {
		uint32_t c = f->kids[n->kids + k];
		double cw = (double)f->n[c].value * f->scale;
		if (cw < MIN_FRAME_W_PX)
			break; /* sorted largest first: the rest are narrower still */
		put_frame(out, f, c, x, base_y);
		x += cw;
	}
}

static const char svg_style[] = "<style>\n"
				".dt-flame text { font-family: monospace; font-size: 12px; fill: #000; }\n"
				".dt-flame .hdr { font-size: 16px; text-anchor: middle; }\n"
				".dt-flame .sub { fill: #555; text-anchor: middle; }\n"
				".dt-flame .f { cursor: pointer; }\n"
				".dt-flame .f text { pointer-events: none; }\n"
				".dt-flame .f rect { stroke: #fbf8f3; stroke-width: 0.5; }\n"
				".dt-flame .f:hover rect { stroke: #222; stroke-width: 0.6; }\n"
				".dt-flame .dim rect { opacity: 0.55; }\n"
				".dt-flame .btn { fill: #1f5fbf; cursor: pointer; }\n"
				".dt-flame .hidden { display: none; }\n"
				"</style>\n";

/* Zoom, search and details. Reads only the drawing (pre-order frames, each with its <title>, rect and
 * data-v) and the layout numbers in the root's data-* attributes; holds no data of its own. */
static const char svg_script[] =
    "<script type=\"text/ecmascript\"><![CDATA[\n"
    "(function () {\n"
    "  'use strict';\n"
    "  var cs = document.currentScript;\n"
    "  var svg = (cs && cs.ownerSVGElement) || document.documentElement;\n"
    "  var W = +svg.getAttribute('data-width'), FH = +svg.getAttribute('data-frame-h');\n"
    "  var PAD = +svg.getAttribute('data-pad'), CW = +svg.getAttribute('data-char-w');\n"
    "  var INSET = +svg.getAttribute('data-inset'), MINC = +svg.getAttribute('data-min-chars');\n"
    "  var MATCH = '#e040e0';\n"
    "  var details = svg.querySelector('.details'), matched = svg.querySelector('.matched');\n"
    "  var reset = svg.querySelector('.reset'), searchBtn = svg.querySelector('.search');\n"
    "  var frames = [], open = [], gs = svg.querySelectorAll('g.f'), i;\n"
    "  for (i = 0; i < gs.length; i++) {\n"
    "    var g = gs[i], r = g.querySelector('rect'), ti = g.querySelector('title');\n"
    "    var f = { i: i, g: g, r: r, t: g.querySelector('text'), x: +r.getAttribute('x'),\n"
    "      w: +r.getAttribute('width'), y: +r.getAttribute('y'), v: +g.getAttribute('data-v'),\n"
    "      fill: r.getAttribute('fill'), info: ti ? ti.textContent.split('\\n') : [''],\n"
    "      parent: null, end: gs.length, m: false };\n"
    "    f.name = f.info[0];\n"
    "    f.depth = frames.length ? Math.round((frames[0].y - f.y) / FH) : 0;\n"
    "    while (open.length && open[open.length - 1].depth >= f.depth) open.pop().end = i;\n"
    "    f.parent = open.length ? open[open.length - 1] : null;\n"
    "    open.push(f);\n"
    "    frames.push(f);\n"
    "    g.dtFrame = f;\n"
    "  }\n"
    "  function fit(name, w) {\n"
    "    var n = Math.floor((w - 2 * INSET) / CW), c = Array.from(name);\n"
    "    if (n < MINC) return '';\n"
    "    return c.length <= n ? name : c.slice(0, n - 2).join('') + '..';\n"
    "  }\n"
    "  function place(f, x, w, dim) {\n"
    "    f.r.setAttribute('x', x.toFixed(2));\n"
    "    f.r.setAttribute('width', w.toFixed(2));\n"
    "    f.t.setAttribute('x', (x + INSET).toFixed(2));\n"
    "    f.t.textContent = fit(f.name, w);\n"
    "    f.g.classList.remove('hidden');\n"
    "    f.g.classList.toggle('dim', dim);\n"
    "  }\n"
    "  function unzoom() {\n"
    "    frames.forEach(function (f) { place(f, f.x, f.w, false); });\n"
    "    reset.classList.add('hidden');\n"
    "  }\n"
    "  function zoom(t) {\n"
    "    if (!t.parent) { unzoom(); return; }\n"
    "    var sx = (W - 2 * PAD) / t.w, a;\n"
    "    frames.forEach(function (f) { f.g.classList.add('hidden'); });\n"
    "    for (a = t.parent; a; a = a.parent) place(a, PAD, W - 2 * PAD, true);\n"
    "    for (i = t.i; i < t.end; i++) {\n"
    "      var f = frames[i];\n"
    "      place(f, PAD + (f.x - t.x) * sx, f.w * sx, false);\n"
    "    }\n"
    "    reset.classList.remove('hidden');\n"
    "  }\n"
    "  function search(term) {\n"
    "    var re = null, sum = 0, total = frames.length ? frames[0].v : 0;\n"
    "    if (term) { try { re = new RegExp(term); } catch (e) { re = null; } }\n"
    "    frames.forEach(function (f) {\n"
    "      f.m = !!term && (re ? re.test(f.name) : f.name.indexOf(term) >= 0);\n"
    "      f.r.setAttribute('fill', f.m ? MATCH : f.fill);\n"
    "      var a = f.parent;\n"
    "      while (a && !a.m) a = a.parent;\n"
    "      if (f.m && !a) sum += f.v;\n"
    "    });\n"
    "    var pct = total ? 100 * sum / total : 0;\n"
    "    matched.textContent = term ? 'Matched: ' + pct.toFixed(1) + '%' : '';\n"
    "    return pct;\n"
    "  }\n"
    "  svg.addEventListener('click', function (e) {\n"
    "    var g = e.target.closest && e.target.closest('g.f');\n"
    "    if (g && g.dtFrame) zoom(g.dtFrame);\n"
    "  });\n"
    "  svg.addEventListener('mouseover', function (e) {\n"
    "    var g = e.target.closest && e.target.closest('g.f');\n"
    "    details.textContent = g && g.dtFrame ? g.dtFrame.info.join(' \\u2014 ') : ' ';\n"
    "  });\n"
    "  reset.addEventListener('click', unzoom);\n"
    "  matched.addEventListener('click', function () { search(''); });\n"
    "  searchBtn.addEventListener('click', function () {\n"
    "    var term = window.prompt('Search functions (regular expression)', '');\n"
    "    if (term !== null) search(term);\n"
    "  });\n"
    "  svg.dtSearch = search;\n"
    "  svg.dtZoom = function (k) { if (frames[k]) zoom(frames[k]); };\n"
    "  svg.setAttribute('data-ready', '1');\n"
    "})();\n"
    "]]></script>\n";

static void put_legend(FILE *out, const struct flame *f, double y)
{
	double x = PAD_SIDE_PX;

	fprintf(out, "<rect x=\"%.0f\" y=\"%.0f\" width=\"12\" height=\"12\" fill=\"", x, y - 10);
	put_hsl(out, HUE_PROGRAM_LO + HUE_PROGRAM_SPAN / 2, SAT_PROGRAM, LIGHT_PROGRAM);
	fprintf(out, "\"/><text x=\"%.0f\" y=\"%.0f\">program: ", x + 16, y);
	dt_xml_put_text(out, f->program, 40);
	fputs("</text>", out);
	x += 16 + CHAR_W_PX * (10 + (double)count_chars(f->program, 41)) + 14;
	fprintf(out, "<rect x=\"%.0f\" y=\"%.0f\" width=\"12\" height=\"12\" fill=\"", x, y - 10);
	put_hsl(out, HUE_LIB_LO + HUE_LIB_SPAN / 2, SAT_LIB, LIGHT_LIB);
	fprintf(out, "\"/><text x=\"%.0f\" y=\"%.0f\">libraries</text>", x + 16, y);
	x += 16 + CHAR_W_PX * 9 + 14;
	fprintf(out,
		"<rect x=\"%.0f\" y=\"%.0f\" width=\"12\" height=\"12\" fill=\"" COLOR_PROFILER
		"\"/><text x=\"%.0f\" y=\"%.0f\">deiatrace (profiler overhead)</text>\n",
		x, y - 10, x + 16, y);
}

int dt_flame_has_metric(const struct dt_profile *p, enum dt_metric m)
{
	return m == DT_METRIC_CPU || p->summary.has_alloc;
}

int dt_flame_svg(FILE *out, const struct dt_profile *p, enum dt_metric m, int standalone)
{
	struct flame f;
	int height, base_y, rc = -1;

	if (build(&f, p, m))
		goto out;
	height = PAD_TOP_PX + ((int)f.max_depth + 1) * FRAME_H_PX + PAD_BOTTOM_PX;
	base_y = height - PAD_BOTTOM_PX - FRAME_H_PX;
	if (standalone)
		fputs("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n", out);
	fprintf(out,
		"<svg version=\"1.1\" xmlns=\"http://www.w3.org/2000/svg\" class=\"dt-flame\" "
		"width=\"%.0f\" height=\"%d\" viewBox=\"0 0 %.0f %d\" data-metric=\"%s\" data-width=\"%.0f\" "
		"data-frame-h=\"%d\" data-pad=\"%.0f\" data-char-w=\"%.2f\" data-inset=\"%.0f\" "
		"data-min-chars=\"%u\">\n",
		WIDTH_PX, height, WIDTH_PX, height, dt_metric_name(m), WIDTH_PX, FRAME_H_PX, PAD_SIDE_PX,
		CHAR_W_PX, TEXT_INSET_PX, MIN_TEXT_CHARS);
	fputs(svg_style, out);
	fprintf(out, "<rect x=\"0\" y=\"0\" width=\"%.0f\" height=\"%d\" fill=\"#fbf8f3\"/>\n", WIDTH_PX,
		height);
	fprintf(out, "<text class=\"hdr\" x=\"%.0f\" y=\"20\">%s flame graph: ", WIDTH_PX / 2,
		metric_title(m));
	dt_xml_put_text(out, f.program, DT_FLAME_NAME_MAX_CHARS / 16);
	fprintf(out, "</text>\n<text class=\"sub\" x=\"%.0f\" y=\"38\">", WIDTH_PX / 2);
	if (f.n[0].value) {
		put_value(out, &f, f.n[0].value, f.n[0].weight_ns, 0);
		fputs(" in all; width = share, root at the bottom; click a frame to zoom", out);
	} else {
		fputs(m == DT_METRIC_CPU ? "no CPU samples in this trace" : "no allocations in this trace",
		      out);
	}
	fputs("</text>\n", out);
	put_legend(out, &f, 56);
	fprintf(out, "<text class=\"btn reset hidden\" x=\"%.0f\" y=\"20\">Reset zoom</text>\n", PAD_SIDE_PX);
	fprintf(out, "<text class=\"btn search\" x=\"%.0f\" y=\"20\" text-anchor=\"end\">Search</text>\n",
		WIDTH_PX - PAD_SIDE_PX);
	if (f.n[0].value)
		put_frame(out, &f, 0, PAD_SIDE_PX, base_y);
	fprintf(out, "<text class=\"details\" x=\"%.0f\" y=\"%d\"> </text>\n", PAD_SIDE_PX, height - 12);
	fprintf(out, "<text class=\"btn matched\" x=\"%.0f\" y=\"%d\" text-anchor=\"end\"></text>\n",
		WIDTH_PX - PAD_SIDE_PX, height - 12);
	fputs(svg_script, out);
	fputs("</svg>\n", out);
	rc = ferror(out) ? -1 : 0;
out:
	flame_free(&f);
	return rc;
}

int dt_report_svg(FILE *out, const struct dt_profile *p, const struct dt_report_opts *o)
{
	/* A memory metric without memory data: the caller (dt_cli) says what to do; a reporter
	 * never prints. */
	if (!dt_flame_has_metric(p, o->metric))
		return -1;
	return dt_flame_svg(out, p, o->metric, 1);
}
