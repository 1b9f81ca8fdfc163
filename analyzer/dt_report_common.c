/* Formatting helpers shared by the reporters: byte sizes, source locations, column fitting.
 * Pure functions into caller buffers; no allocation. */
#include "dt_report.h"
#include "dt_bottleneck.h"

#include <inttypes.h>
#include <string.h>

#define KIB 1024.0
#define ELLIPSIS "..."
#define ELLIPSIS_LEN 3u

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

/* Control characters (newlines in argv, escape sequences in a hostile trace) would break the
 * layout or drive the terminal: show them as blanks. */
static const char *sanitize(char *buf)
{
	for (unsigned char *p = (unsigned char *)buf; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			*p = ' ';
	return buf;
}

static char *fit(char *buf, size_t len, const char *s, size_t width)
{
	size_t n = strlen(s);

	if (width >= len)
		width = len - 1;
	if (n <= width) {
		memcpy(buf, s, n + 1);
		return buf;
	}
	if (width < ELLIPSIS_LEN) {
		memcpy(buf, s, width);
		buf[width] = '\0';
		return buf;
	}
	memcpy(buf, s, width - ELLIPSIS_LEN);
	memcpy(buf + width - ELLIPSIS_LEN, ELLIPSIS, ELLIPSIS_LEN + 1);
	return buf;
}

const char *dt_fmt_fit_tail(char *buf, size_t len, const char *s, size_t width)
{
	size_t n = strlen(s);

	if (width >= len)
		width = len - 1;
	if (n <= width || width < ELLIPSIS_LEN)
		return dt_fmt_fit(buf, len, s, width);
	memcpy(buf, ELLIPSIS, ELLIPSIS_LEN);
	memcpy(buf + ELLIPSIS_LEN, s + n - (width - ELLIPSIS_LEN), width - ELLIPSIS_LEN + 1);
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
    {"text", dt_report_text},
    {"json", dt_report_json},
    {"markdown", dt_report_markdown},
    {"folded", dt_report_folded},
    {"pprof", dt_report_pprof},
    {"svg", dt_report_svg},
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
