/* Formatting helpers shared by the reporters: byte sizes, source locations, column fitting, and
 * making untrusted names (trace strings, symbol names) inert on a terminal. Pure functions into
 * caller buffers; no allocation. */
#include "dt_report.h"
#include "dt_bottleneck.h"

#include <inttypes.h>
#include <string.h>

#define KIB 1024.0
#define ELLIPSIS "..."
#define ELLIPSIS_LEN 3u
#define UNICODE_MAX 0x10ffffu
#define SURROGATE_FIRST 0xd800u
#define SURROGATE_LAST 0xdfffu

void dt_report_opts_default(struct dt_report_opts *o)
{
	o->top_n = DT_REPORT_DEFAULT_TOP;
	o->threshold_pct = DT_BOTTLENECK_DEFAULT_PCT;
	o->inclusive = 0;
	dt_hint_config_default(&o->hints);
	o->metric = DT_METRIC_CPU;
	o->color = 0;
}

static const char *const metric_names[] = {
    [DT_METRIC_CPU] = "cpu",
    [DT_METRIC_ALLOC_BYTES] = "alloc_bytes",
    [DT_METRIC_ALLOC_CALLS] = "alloc_calls",
    [DT_METRIC_PEAK_BYTES] = "peak_bytes",
};

int dt_metric_parse(const char *name, enum dt_metric *out)
{
	for (size_t i = 0; i < sizeof(metric_names) / sizeof(metric_names[0]); i++)
		if (strcmp(name, metric_names[i]) == 0) {
			*out = (enum dt_metric)i;
			return 0;
		}
	return -1;
}

const char *dt_metric_name(enum dt_metric m)
{
	return (size_t)m < sizeof(metric_names) / sizeof(metric_names[0]) ? metric_names[m] : "?";
}

const char *dt_fmt_bytes(char *buf, size_t len, uint64_t bytes)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)bytes;
	size_t u = 0;

	if (bytes < 1024) {
		snprintf(buf, len, "%" PRIu64 " B", bytes);
		return buf;
	}
	while (v >= KIB && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= KIB;
		u++;
	}
	snprintf(buf, len, "%.1f %s", v, units[u]);
	return buf;
}

const char *dt_fmt_location(char *buf, size_t len, const struct dt_function *fn)
{
	const char *base;

	buf[0] = '\0';
	if (!fn->file)
		return buf;
	base = strrchr(fn->file, '/');
	base = base ? base + 1 : fn->file;
	if (fn->line)
		snprintf(buf, len, "%s:%" PRIu32, base, fn->line);
	else
		snprintf(buf, len, "%s", base);
	return buf;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when it is not one: a stray continuation
 * byte, a truncated sequence (the NUL stops it), an overlong form, a surrogate, above U+10FFFF. */
static size_t utf8_seq_len(const unsigned char *s)
{
	static const uint32_t min_cp[] = {0, 0, 0x80, 0x800, 0x10000};
	size_t n = s[0] < 0x80		   ? 1
		   : (s[0] & 0xe0) == 0xc0 ? 2
		   : (s[0] & 0xf0) == 0xe0 ? 3
		   : (s[0] & 0xf8) == 0xf0 ? 4
					   : 0;
	uint32_t cp = n == 2 ? s[0] & 0x1fu : n == 3 ? s[0] & 0x0fu : s[0] & 0x07u;

	if (n <= 1)
		return n;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3fu);
	}
	if (cp < min_cp[n] || cp > UNICODE_MAX || (cp >= SURROGATE_FIRST && cp <= SURROGATE_LAST))
		return 0;
	return n;
}

/* Code points a terminal acts on or that reorder what it shows: C0, DEL, C1 (ESC's 8-bit forms
 * such as CSI 0x9b), and the bidirectional overrides of "Trojan Source" (U+202A..U+202E,
 * U+2066..U+2069). */
static int is_control(const unsigned char *s, size_t n)
{
	if (n == 1)
		return s[0] < 0x20 || s[0] == 0x7f;
	if (n == 2)
		return s[0] == 0xc2 && s[1] < 0xa0;
	if (n == 3 && s[0] == 0xe2)
		return (s[1] == 0x80 && s[2] >= 0xaa && s[2] <= 0xae) ||
		       (s[1] == 0x81 && s[2] >= 0xa6 && s[2] <= 0xa9);
	return 0;
}

/* Text reports go to terminals: a name from a hostile trace or binary must not move the cursor,
 * clear the screen, set the title or reorder the line. Controls become blanks (one per byte, so
 * columns stay put) and bytes that are not UTF-8 become '?' (an 8-bit terminal would read a stray
 * 0x9b as CSI). In place: the result is never longer than the input. */
static const char *sanitize(char *buf)
{
	unsigned char *p = (unsigned char *)buf;

	while (*p) {
		size_t n = utf8_seq_len(p);

		if (!n)
			*p++ = '?';
		else if (is_control(p, n))
			for (size_t i = 0; i < n; i++)
				*p++ = ' ';
		else
			p += n;
	}
	return buf;
}

/* Where to cut s to keep at most `at` bytes without splitting a UTF-8 sequence. */
static size_t char_boundary_before(const char *s, size_t at)
{
	while (at > 0 && ((unsigned char)s[at] & 0xc0) == 0x80)
		at--;
	return at;
}

static char *fit(char *buf, size_t len, const char *s, size_t width)
{
	size_t n = strlen(s), keep;

	if (width >= len)
		width = len - 1;
	if (n <= width) {
		memcpy(buf, s, n + 1);
		return buf;
	}
	if (width < ELLIPSIS_LEN) {
		keep = char_boundary_before(s, width);
		memcpy(buf, s, keep);
		buf[keep] = '\0';
		return buf;
	}
	keep = char_boundary_before(s, width - ELLIPSIS_LEN);
	memcpy(buf, s, keep);
	memcpy(buf + keep, ELLIPSIS, ELLIPSIS_LEN + 1);
	return buf;
}

const char *dt_fmt_fit_tail(char *buf, size_t len, const char *s, size_t width)
{
	size_t n = strlen(s), from;

	if (width >= len)
		width = len - 1;
	if (n <= width || width < ELLIPSIS_LEN)
		return dt_fmt_fit(buf, len, s, width);
	/* Start the kept tail on a character, not inside one. */
	from = n - (width - ELLIPSIS_LEN);
	while (from < n && ((unsigned char)s[from] & 0xc0) == 0x80)
		from++;
	memcpy(buf, ELLIPSIS, ELLIPSIS_LEN);
	memcpy(buf + ELLIPSIS_LEN, s + from, n - from + 1);
	return sanitize(buf);
}

const char *dt_fmt_fit(char *buf, size_t len, const char *s, size_t width)
{
	return sanitize(fit(buf, len, s, width));
}

static const struct {
	const char *name;
	dt_report_fn fn;
} report_formats[] = {
    {"text", dt_report_text},	  {"json", dt_report_json},   {"markdown", dt_report_markdown},
    {"folded", dt_report_folded}, {"pprof", dt_report_pprof}, {"svg", dt_report_svg},
    {"html", dt_report_html},
};

#define N_REPORT_FORMATS (sizeof(report_formats) / sizeof(report_formats[0]))

dt_report_fn dt_report_find(const char *name)
{
	for (size_t i = 0; i < N_REPORT_FORMATS; i++)
		if (strcmp(name, report_formats[i].name) == 0)
			return report_formats[i].fn;
	return NULL;
}

const char *dt_report_name(dt_report_fn fn)
{
	for (size_t i = 0; i < N_REPORT_FORMATS; i++)
		if (report_formats[i].fn == fn)
			return report_formats[i].name;
	return NULL;
}
