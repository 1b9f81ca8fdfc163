/* Configuration: the one table of DEIATRACE_* options (name, default, bounds, help), read with
 * secure_getenv by dt_config_load from the shim's constructor. A bad value is reported in one
 * "deiatrace: ..." line (dt_warn, write(2), no stdio) and the default is kept. No malloc: values are
 * parsed in place and the result lives in static storage; dt_config_get is then signal-safe. */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "dt_shim.h"

#define CONFIG_FREQ_MIN_HZ 1u
#define CONFIG_FREQ_MAX_HZ 10000u /* 100 us between samples; faster costs more than it tells */
#define CONFIG_DEPTH_MIN_FRAMES 1u
#define CONFIG_CHECKPOINT_MAX_S 86400u /* one day */
#define CONFIG_NUMBER_MAX_CHARS 20u    /* digits of UINT64_MAX; longer is not a number we accept */
#define CONFIG_SHOWN_VALUE_BYTES 64u   /* how much of a bad value the warning repeats */
#define CONFIG_LINE_BYTES 512u

enum opt_kind {
	OPT_UINT,   /* decimal, within [min, max] */
	OPT_BOOL,   /* on/off, 1/0, yes/no, true/false */
	OPT_STRING, /* non-empty, shorter than the field */
	OPT_CHOICE, /* one word of `expect` ("a, b or c"), stored as its index */
};

struct opt {
	const char *name;
	enum opt_kind kind;
	const char *def;    /* default, as the variable would spell it (parsed by the same code) */
	uint32_t min, max;  /* OPT_UINT bounds */
	const char *expect; /* the accepted values, as the warning names them */
	size_t offset;	    /* of the field in struct dt_config */
	size_t size;	    /* of that field (OPT_STRING: the buffer) */
	const char *help;
};

#define FIELD(f) offsetof(struct dt_config, f), sizeof(((struct dt_config *)0)->f)

/* The table: dt_config_load, the warnings and docs/README read their option list from here. */
static const struct opt options[] = {
    {"DEIATRACE_FREQ", OPT_UINT, "1000", CONFIG_FREQ_MIN_HZ, CONFIG_FREQ_MAX_HZ, "Hz", FIELD(freq_hz),
     "CPU samples per second of each thread's CPU time"},
    {"DEIATRACE_OUTPUT", OPT_STRING, "deiatrace.%n.%p.bin", 0, 0, NULL, FIELD(output),
     "trace file; %p pid, %n program name, %% a percent sign; relative to the starting directory"},
    {"DEIATRACE_MALLOC", OPT_BOOL, "on", 0, 0, "on or off", FIELD(malloc_on),
     "track the malloc family (calls, bytes, peak, leaks per call stack)"},
    {"DEIATRACE_CPU", OPT_BOOL, "on", 0, 0, "on or off", FIELD(cpu_on),
     "sample call stacks on CPU time (SIGPROF); off: no signals, memory and call counts only"},
    {"DEIATRACE_DEPTH", OPT_UINT, "128", CONFIG_DEPTH_MIN_FRAMES, DT_MAX_STACK_DEPTH, "frames",
     FIELD(max_depth), "frames kept per call stack; deeper stacks are truncated"},
    {"DEIATRACE_CHECKPOINT_S", OPT_UINT, "5", 0, CONFIG_CHECKPOINT_MAX_S, "seconds", FIELD(checkpoint_s),
     "seconds between checkpoint traces of a running program (at most that much is lost to SIGKILL); 0 = "
     "off"},
    {"DEIATRACE_FOLLOW", OPT_BOOL, "1", 0, 0, "0 or 1", FIELD(follow),
     "1: forked children and exec'd images write their own traces; 0: only the first process does"},
    {"DEIATRACE_UNWIND_CACHE", OPT_BOOL, "on", 0, 0, "on or off", FIELD(unwind_cache_on),
     "reuse verified allocation unwinds; off: unwind every allocation with libunwind (slower, for checking)"},
    {"DEIATRACE_SAMPLER", OPT_CHOICE, "auto", 0, 0, "auto, perf or timer", FIELD(sampler),
     "CPU sample source: perf task-clock when allowed, else a POSIX CPU timer; or force one"},
};

#define NOPTIONS (sizeof(options) / sizeof(options[0]))

static struct dt_config cfg;
static int cfg_ready; /* defaults applied */

/* ---------------------------------------------------------------- one warning line, no stdio */

struct line {
	char buf[CONFIG_LINE_BYTES];
	size_t len;
};

static void line_put(struct line *l, const char *s) /* ctx: sigsafe */
{
	while (*s && l->len + 1 < sizeof(l->buf))
		l->buf[l->len++] = *s++;
	l->buf[l->len] = '\0';
}

/* A value from the environment, shortened and with control bytes replaced, so the warning stays
 * one short line whatever the variable holds. ctx: sigsafe */
static void line_put_value(struct line *l, const char *v)
{
	size_t i;
	for (i = 0; v[i] && i < CONFIG_SHOWN_VALUE_BYTES && l->len + 1 < sizeof(l->buf); i++) {
		unsigned char c = (unsigned char)v[i];
		l->buf[l->len++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	l->buf[l->len] = '\0';
	if (v[i])
		line_put(l, "...");
}

static void line_put_u64(struct line *l, uint64_t v) /* ctx: sigsafe */
{
	char digits[CONFIG_NUMBER_MAX_CHARS + 1];
	size_t n = sizeof(digits) - 1;
	digits[n] = '\0';
	do {
		digits[--n] = (char)('0' + v % 10);
		v /= 10;
	} while (v && n > 0);
	line_put(l, digits + n);
}

/* ---------------------------------------------------------------- parsers: 0 or -1 */

static int parse_uint(const char *s, uint32_t min, uint32_t max, uint32_t *out) /* ctx: sigsafe */
{
	uint64_t v = 0;
	size_t n = 0;
	if (!*s)
		return -1;
	for (; s[n]; n++) {
		if (s[n] < '0' || s[n] > '9' || n >= CONFIG_NUMBER_MAX_CHARS)
			return -1;
		v = v * 10 + (uint64_t)(s[n] - '0');
		if (v > max)
			return -1; /* also stops v from overflowing */
	}
	if (v < min)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static int parse_bool(const char *s, int *out) /* ctx: sigsafe */
{
	if (strcmp(s, "-") == 0) {
		/* Off: DEIATRACE_FOLLOW=0 rewritten by the first traced process for later images. */
		*out = 0;
		return 0;
	}
	static const char *const yes[] = {"on", "1", "yes", "true"};
	static const char *const no[] = {"off", "0", "no", "false"};
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcmp(s, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcmp(s, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

static int parse_string(const char *s, char *field, size_t size) /* ctx: sigsafe */
{
	size_t n = strnlen(s, size);
	if (n == 0 || n >= size)
		return -1;
	memcpy(field, s, n + 1);
	return 0;
}

/* The i-th word of "a, b or c" equals s. ctx: sigsafe */
static int parse_choice(const char *s, const char *expect, int *out)
{
	int index = 0;
	size_t slen = strlen(s);
	for (const char *w = expect; *w;) {
		size_t n = strcspn(w, ", ");
		if (n == slen && strncmp(w, s, n) == 0) {
			*out = index;
			return 0;
		}
		w += n;
		w += strspn(w, ", ");
		if (strncmp(w, "or ", 3) == 0)
			w += 3;
		index++;
	}
	return -1;
}

static int apply(const struct opt *o, const char *value, struct dt_config *c) /* ctx: sigsafe */
{
	char *field = (char *)c + o->offset;
	switch (o->kind) {
	case OPT_UINT:
		return parse_uint(value, o->min, o->max, (uint32_t *)(void *)field);
	case OPT_BOOL:
		return parse_bool(value, (int *)(void *)field);
	case OPT_STRING:
		return parse_string(value, field, o->size);
	case OPT_CHOICE:
		return parse_choice(value, o->expect, (int *)(void *)field);
	}
	return -1;
}

static void warn_bad(const struct opt *o, const char *value) /* ctx: any */
{
	struct line l = {.len = 0};
	line_put(&l, o->name);
	if (o->kind == OPT_STRING) {
		line_put(&l, " is longer than ");
		line_put_u64(&l, o->size - 1);
		line_put(&l, " bytes");
	} else {
		line_put(&l, "=");
		line_put_value(&l, value);
		if (o->kind == OPT_UINT) {
			line_put(&l, " is not a number of ");
			line_put(&l, o->expect);
			line_put(&l, " (");
			line_put_u64(&l, o->min);
			line_put(&l, "..");
			line_put_u64(&l, o->max);
			line_put(&l, ")");
		} else {
			line_put(&l, " is not ");
			line_put(&l, o->expect);
		}
	}
	line_put(&l, "; using ");
	line_put(&l, o->def);
	dt_warn(l.buf);
}

static void apply_defaults(struct dt_config *c) /* ctx: sigsafe */
{
	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < NOPTIONS; i++)
		apply(&options[i], options[i].def, c); /* the unit test checks every default parses */
}

/* Reads the environment each time it is called: the constructor calls it once; tests call it again
 * after setenv. An unset or empty variable means the default, silently. ctx: any */
void dt_config_load(void)
{
	struct dt_config c;
	apply_defaults(&c);
	for (size_t i = 0; i < NOPTIONS; i++) {
		const char *v = secure_getenv(options[i].name);
		if (!v || !*v)
			continue;
		struct dt_config trial = c;
		if (apply(&options[i], v, &trial) == 0)
			c = trial;
		else
			warn_bad(&options[i], v);
	}
	cfg = c;
	cfg_ready = 1;
}

const struct dt_config *dt_config_get(void) /* ctx: sigsafe after dt_config_load */
{
	if (!cfg_ready) {
		/* Asked before the constructor ran (another library's constructor): defaults. */
		apply_defaults(&cfg);
		cfg_ready = 1;
	}
	return &cfg;
}

/* The i-th option of the table, for tests and generated docs; -1 past the end. ctx: any */
int dt_config_describe(size_t i, const char **name, const char **def, const char **help)
{
	if (i >= NOPTIONS)
		return -1;
	*name = options[i].name;
	*def = options[i].def;
	*help = options[i].help;
	return 0;
}
