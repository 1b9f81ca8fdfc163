/* Unit tests for the shim's configuration table (dt_config), output naming and publishing
 * (dt_output), the trace buffer's section back-patching (dt_tracebuf), the writer's file layout
 * (dt_writer) and the module list (dt_modules). Linked with the non-interposing shim objects, the
 * shared services of dt_core.o included: warnings are read back from fd 2. */
#define _GNU_SOURCE
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "dt_shim.h"

/* ---------------------------------------------------------------- warnings
 * dt_warn (dt_core.o, linked as is) writes "deiatrace: ...\n" to fd 2: each test sends fd 2 to a
 * fresh temporary file and reads the lines back. */

static int warn_fd = -1;
static char warn_last_buf[2048];

static void warn_reset(void)
{
	char tmpl[] = "/tmp/dt-check-warn.XXXXXX";
	int fd = mkstemp(tmpl);
	ck_assert_int_ge(fd, 0);
	unlink(tmpl);
	ck_assert_int_ge(dup2(fd, STDERR_FILENO), 0);
	if (warn_fd >= 0)
		close(warn_fd);
	warn_fd = fd;
	warn_last_buf[0] = '\0';
}

/* The lines written to fd 2 since warn_reset; warn_last_buf gets the last one, prefix stripped. */
static int warn_lines(void)
{
	static char all[1 << 16];
	static const char prefix[] = "deiatrace: ";
	int n = 0;
	ssize_t len = pread(warn_fd, all, sizeof(all) - 1, 0);
	if (len <= 0)
		return 0;
	all[len] = '\0';
	for (char *line = all, *nl; (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
		*nl = '\0';
		n++;
		const char *text = strncmp(line, prefix, sizeof(prefix) - 1) == 0 ? line + sizeof(prefix) - 1 : line;
		size_t tn = strnlen(text, sizeof(warn_last_buf) - 1);
		memcpy(warn_last_buf, text, tn);
		warn_last_buf[tn] = '\0';
	}
	return n;
}

#define warn_count (warn_lines())
#define warn_last (warn_lines(), warn_last_buf)

/* ---------------------------------------------------------------- a counting malloc
 * The shim's writer path must never reach malloc (the malloc hooks may be what it is reporting on):
 * this executable's malloc family forwards to glibc's and counts calls while `counting` is set. */

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
/* volatile: gcc assumes the builtin malloc touches no user globals and would cache these. */
static volatile int counting, malloc_calls;

void *malloc(size_t n)
{
	malloc_calls += counting;
	return __libc_malloc(n);
}

void *calloc(size_t n, size_t m)
{
	malloc_calls += counting;
	return __libc_calloc(n, m);
}

void *realloc(void *p, size_t n)
{
	malloc_calls += counting;
	return __libc_realloc(p, n);
}

void free(void *p)
{
	__libc_free(p);
}

/* ---------------------------------------------------------------- helpers */

static void clear_env(void)
{
	const char *name, *def, *help;
	for (size_t i = 0; dt_config_describe(i, &name, &def, &help) == 0; i++)
		unsetenv(name);
	warn_reset();
}

static const struct dt_config *load_with(const char *name, const char *value)
{
	clear_env();
	if (name)
		setenv(name, value, 1);
	dt_config_load();
	return dt_config_get();
}

static char tmpdir[] = "/tmp/dt-check-config.XXXXXX";

static int tmpdir_made;

static void enter_tmpdir(void)
{
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	tmpdir_made = 1;
	ck_assert_int_eq(chdir(tmpdir), 0);
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st, (void)type, (void)ftw;
	return remove(path);
}

/* Checked fixture: runs in each test's forked child, after the test. */
static void remove_tmpdir(void)
{
	if (tmpdir_made)
		nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Names in the current directory, sorted, joined with ' '. */
static void list_dir(const char *dir, char *out, size_t outlen)
{
	struct dirent **names;
	int n = scandir(dir, &names, NULL, alphasort);
	size_t len = 0;
	out[0] = '\0';
	for (int i = 0; i < n; i++) {
		if (strcmp(names[i]->d_name, ".") && strcmp(names[i]->d_name, ".."))
			len += (size_t)snprintf(out + len, outlen - len, "%s%s", len ? " " : "",
						names[i]->d_name);
		free(names[i]);
	}
	free(names);
}

static size_t read_file(const char *path, uint8_t *buf, size_t cap)
{
	int fd = open(path, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ssize_t n = read(fd, buf, cap);
	close(fd);
	ck_assert_int_ge(n, 0);
	return (size_t)n;
}

/* ---------------------------------------------------------------- configuration */

START_TEST(defaults_parse_silently)
{
	const struct dt_config *c = load_with(NULL, NULL);
	ck_assert_int_eq(warn_count, 0);
	ck_assert_uint_eq(c->freq_hz, 1000);
	ck_assert_int_eq(c->malloc_on, 1);
	ck_assert_int_eq(c->cpu_on, 1);
	ck_assert_int_eq(c->unwind_cache_on, 1);
	ck_assert_uint_eq(c->max_depth, 128);
	ck_assert_uint_eq(c->checkpoint_s, 5);
	ck_assert_int_eq(c->follow, 1);
	ck_assert_str_eq(c->output, "deiatrace.%n.%p.bin");
}
END_TEST

START_TEST(every_option_is_documented)
{
	const char *name, *def, *help;
	size_t i;
	for (i = 0; dt_config_describe(i, &name, &def, &help) == 0; i++) {
		ck_assert_msg(strncmp(name, "DEIATRACE_", 10) == 0, "option %s lacks the prefix", name);
		ck_assert_msg(def && *def, "option %s has no default", name);
		ck_assert_msg(help && strlen(help) > 10, "option %s has no help text", name);
	}
	ck_assert_uint_eq(i, 9);
}
END_TEST

START_TEST(bad_freq_warns_once_exactly)
{
	const struct dt_config *c = load_with("DEIATRACE_FREQ", "abc");
	ck_assert_int_eq(warn_count, 1);
	ck_assert_str_eq(warn_last, "DEIATRACE_FREQ=abc is not a number of Hz (1..10000); using 1000");
	ck_assert_uint_eq(c->freq_hz, 1000);
}
END_TEST

static const struct {
	const char *value;
	int ok;
	uint32_t hz;
} freq_cases[] = {
    {"1", 1, 1},
    {"250", 1, 250},
    {"10000", 1, 10000},
    {"0", 0, 1000},
    {"10001", 0, 1000},
    {"-5", 0, 1000},
    {"+5", 0, 1000},
    {" 5", 0, 1000},
    {"5 ", 0, 1000},
    {"5hz", 0, 1000},
    {"0x10", 0, 1000},
    {"99999999999999999999999999", 0, 1000},
    {"4294967297", 0, 1000},
};

START_TEST(freq_bounds)
{
	const struct dt_config *c = load_with("DEIATRACE_FREQ", freq_cases[_i].value);
	ck_assert_msg(warn_count == !freq_cases[_i].ok, "DEIATRACE_FREQ=%s: %d warnings",
		      freq_cases[_i].value, warn_count);
	ck_assert_uint_eq(c->freq_hz, freq_cases[_i].hz);
}
END_TEST

START_TEST(depth_bounds)
{
	const struct dt_config *c = load_with("DEIATRACE_DEPTH", "512");
	ck_assert_int_eq(warn_count, 0);
	ck_assert_uint_eq(c->max_depth, DT_MAX_STACK_DEPTH);
	c = load_with("DEIATRACE_DEPTH", "513");
	ck_assert_int_eq(warn_count, 1);
	ck_assert_str_eq(warn_last, "DEIATRACE_DEPTH=513 is not a number of frames (1..512); using 128");
	ck_assert_uint_eq(c->max_depth, 128);
	c = load_with("DEIATRACE_CHECKPOINT_S", "0");
	ck_assert_int_eq(warn_count, 0);
	ck_assert_uint_eq(c->checkpoint_s, 0);
}
END_TEST

START_TEST(booleans)
{
	static const char *const on[] = {"on", "1", "yes", "true"};
	static const char *const off[] = {"off", "0", "no", "false"};
	for (size_t i = 0; i < 4; i++) {
		ck_assert_int_eq(load_with("DEIATRACE_MALLOC", off[i])->malloc_on, 0);
		ck_assert_int_eq(load_with("DEIATRACE_MALLOC", on[i])->malloc_on, 1);
		ck_assert_int_eq(load_with("DEIATRACE_FOLLOW", off[i])->follow, 0);
		ck_assert_int_eq(load_with("DEIATRACE_CPU", off[i])->cpu_on, 0);
		ck_assert_int_eq(load_with("DEIATRACE_CPU", on[i])->cpu_on, 1);
		ck_assert_int_eq(warn_count, 0);
	}
	ck_assert_int_eq(load_with("DEIATRACE_CPU", "half")->cpu_on, 1);
	ck_assert_str_eq(warn_last, "DEIATRACE_CPU=half is not on or off; using on");
	const struct dt_config *c = load_with("DEIATRACE_MALLOC", "maybe");
	ck_assert_int_eq(warn_count, 1);
	ck_assert_str_eq(warn_last, "DEIATRACE_MALLOC=maybe is not on or off; using on");
	ck_assert_int_eq(c->malloc_on, 1);
	c = load_with("DEIATRACE_FOLLOW", "2");
	ck_assert_str_eq(warn_last, "DEIATRACE_FOLLOW=2 is not 0 or 1; using 1");
	ck_assert_int_eq(c->follow, 1);
}
END_TEST

START_TEST(empty_means_default)
{
	const struct dt_config *c = load_with("DEIATRACE_FREQ", "");
	ck_assert_int_eq(warn_count, 0);
	ck_assert_uint_eq(c->freq_hz, 1000);
	c = load_with("DEIATRACE_OUTPUT", "");
	ck_assert_int_eq(warn_count, 0);
	ck_assert_str_eq(c->output, "deiatrace.%n.%p.bin");
}
END_TEST

START_TEST(output_length_checked)
{
	char v[1100];
	memset(v, 'a', sizeof(v) - 1);
	v[sizeof(v) - 1] = '\0';
	const struct dt_config *c = load_with("DEIATRACE_OUTPUT", v);
	ck_assert_int_eq(warn_count, 1);
	ck_assert_str_eq(warn_last, "DEIATRACE_OUTPUT is longer than 1023 bytes; using deiatrace.%n.%p.bin");
	ck_assert_str_eq(c->output, "deiatrace.%n.%p.bin");
	v[1023] = '\0';
	c = load_with("DEIATRACE_OUTPUT", v);
	ck_assert_int_eq(warn_count, 0);
	ck_assert_str_eq(c->output, v);
}
END_TEST

START_TEST(bad_value_shown_on_one_short_line)
{
	char v[300];
	memset(v, 'x', sizeof(v) - 1);
	v[sizeof(v) - 1] = '\0';
	v[3] = '\n';
	load_with("DEIATRACE_FREQ", v);
	ck_assert_int_eq(warn_count, 1);
	ck_assert_ptr_null(strchr(warn_last, '\n'));
	ck_assert_msg(strstr(warn_last, "=xxx?xxx") && strstr(warn_last, "...") && strlen(warn_last) < 200,
		      "warning: %s", warn_last);
}
END_TEST

START_TEST(several_bad_values_one_line_each)
{
	clear_env();
	setenv("DEIATRACE_FREQ", "abc", 1);
	setenv("DEIATRACE_DEPTH", "9999", 1);
	setenv("DEIATRACE_CHECKPOINT_S", "2", 1);
	dt_config_load();
	ck_assert_int_eq(warn_count, 2);
	ck_assert_uint_eq(dt_config_get()->checkpoint_s, 2);
}
END_TEST

/* ---------------------------------------------------------------- pattern expansion */

static const struct {
	const char *pattern;
	const char *prog;
	const char *want;
} expand_cases[] = {
    {"deiatrace.%n.%p.bin", "true", "deiatrace.true.4242.bin"},
    {"/abs/dir/t-%p", "x", "/abs/dir/t-4242"},
    {"100%%-%n", "a b/c", "100%-a_b_c"},
    {"%x%", "p", "%x%"},
    {"%n", "", "prog"},
    {"%n", "..", "prog"},
    {"%n.bin", "python3.11", "python3.11.bin"},
    {"%n", "caf\xc3\xa9", "caf__"},
    {"plain", "p", "plain"},
};

START_TEST(expand_patterns)
{
	char out[256];
	int rc = dt_output_expand(expand_cases[_i].pattern, 4242, expand_cases[_i].prog, out, sizeof(out));
	ck_assert_int_eq(rc, 0);
	ck_assert_str_eq(out, expand_cases[_i].want);
}
END_TEST

START_TEST(expand_limits)
{
	char out[8];
	ck_assert_int_eq(dt_output_expand("1234567", 1, "p", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "1234567");
	ck_assert_int_eq(dt_output_expand("12345678", 1, "p", out, sizeof(out)), -ENAMETOOLONG);
	ck_assert_int_eq(dt_output_expand("t%p", 1234567, "p", out, sizeof(out)), -ENAMETOOLONG);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(dt_output_expand("", 1, "p", out, sizeof(out)), -EINVAL);
	ck_assert_int_eq(dt_output_expand("%p", UINT64_MAX, "p", out, sizeof(out)), -ENAMETOOLONG);
	char big[32];
	ck_assert_int_eq(dt_output_expand("%p", UINT64_MAX, "p", big, sizeof(big)), 0);
	ck_assert_str_eq(big, "18446744073709551615");
}
END_TEST

/* ---------------------------------------------------------------- trace buffer */

START_TEST(section_back_patched)
{
	struct dt_tracebuf b = {0};
	dt_tracebuf_put_u32(&b, 0xdeadbeef);
	size_t mark = dt_tracebuf_section_begin(&b, DT_SEC_CMDLINE);
	ck_assert_uint_eq(mark, 4);
	dt_tracebuf_put_str(&b, "hello");
	dt_tracebuf_put_u64(&b, 0x0102030405060708ull);
	dt_tracebuf_section_end(&b, mark);
	ck_assert_int_eq(b.failed, 0);
	ck_assert_uint_eq(b.len, 4 + 16 + 4 + 5 + 8);
	const uint8_t *h = b.data + mark;
	ck_assert_uint_eq(dt_get_u32(h), DT_SEC_CMDLINE);
	ck_assert_uint_eq(dt_get_u64(h + 8), 17);
	const uint8_t *p = h + DT_SECTION_HEADER_BYTES;
	ck_assert_uint_eq(dt_get_u32(h + 4), (uint32_t)crc32(0, p, 17));
	ck_assert_uint_eq(dt_get_u32(p), 5);
	ck_assert_int_eq(memcmp(p + 4, "hello", 5), 0);
	ck_assert_uint_eq(p[9], 0x08); /* little-endian */
	ck_assert_uint_eq(p[16], 0x01);
	dt_tracebuf_free(&b);
	ck_assert_ptr_null(b.data);
}
END_TEST

START_TEST(empty_section_and_growth)
{
	struct dt_tracebuf b = {0};
	size_t mark = dt_tracebuf_section_begin(&b, DT_SEC_END);
	dt_tracebuf_section_end(&b, mark);
	ck_assert_uint_eq(dt_get_u64(b.data + 8), 0);
	ck_assert_uint_eq(dt_get_u32(b.data + 4), (uint32_t)crc32(0, NULL, 0));
	/* Past the first mapping several times over: mremap must keep what was written. */
	mark = dt_tracebuf_section_begin(&b, DT_SEC_STACKS);
	const uint32_t n = 300000;
	for (uint32_t i = 0; i < n; i++)
		dt_tracebuf_put_u32(&b, i * 2654435761u);
	dt_tracebuf_section_end(&b, mark);
	ck_assert_int_eq(b.failed, 0);
	ck_assert_uint_ge(b.cap, b.len);
	const uint8_t *p = b.data + mark + DT_SECTION_HEADER_BYTES;
	ck_assert_uint_eq(dt_get_u64(b.data + mark + 8), (uint64_t)n * 4);
	ck_assert_uint_eq(dt_get_u32(b.data + mark + 4), (uint32_t)crc32(0, p, n * 4));
	for (uint32_t i = 0; i < n; i += 997)
		ck_assert_uint_eq(dt_get_u32(p + 4 * i), i * 2654435761u);
	dt_tracebuf_free(&b);
}
END_TEST

START_TEST(failed_buffer_is_inert)
{
	struct dt_tracebuf b = {0};
	dt_tracebuf_put_u32(&b, 1);
	dt_tracebuf_section_end(&b, 0); /* a mark section_begin never returned */
	ck_assert_int_eq(b.failed, 1);
	size_t len = b.len;
	dt_tracebuf_put_str(&b, "more");
	dt_tracebuf_section_end(&b, dt_tracebuf_section_begin(&b, DT_SEC_META));
	ck_assert_uint_eq(b.len, len);
	dt_tracebuf_free(&b);
}
END_TEST

/* ---------------------------------------------------------------- publishing */

/* The same process publishing the same name again (a checkpoint, then the final trace) replaces its
 * own file; a file it did not create there is never replaced. */
START_TEST(publish_replaces_only_its_own)
{
	uint8_t got[64];
	char names[4096];
	struct dt_tracebuf b = {0}, b2 = {0};
	enter_tmpdir();
	load_with("DEIATRACE_OUTPUT", "t-%n-%p.bin");
	dt_tracebuf_put_bytes(&b, "checkpoint", 10);
	dt_tracebuf_put_bytes(&b2, "final", 5);
	ck_assert_int_eq(dt_output_publish(&b, 90, "prog"), 0);
	ck_assert_int_eq(dt_output_publish(&b2, 90, "prog"), 0);
	ck_assert_uint_eq(read_file("t-prog-90.bin", got, sizeof(got)), 5);
	ck_assert_int_eq(memcmp(got, "final", 5), 0);
	ck_assert_int_eq(warn_count, 0);
	/* Someone replaces our file: theirs stays, we warn. */
	ck_assert_int_eq(unlink("t-prog-90.bin"), 0);
	int fd = open("t-prog-90.bin", O_WRONLY | O_CREAT | O_EXCL, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "theirs", 6), 6);
	close(fd);
	ck_assert_int_eq(dt_output_publish(&b, 90, "prog"), -EEXIST);
	ck_assert_uint_eq(read_file("t-prog-90.bin", got, sizeof(got)), 6);
	ck_assert_int_eq(memcmp(got, "theirs", 6), 0);
	ck_assert_int_eq(warn_count, 1);
	/* A symlink at the name is not followed, not replaced. */
	ck_assert_int_eq(symlink("target-never-made", "t-prog-91.bin"), 0);
	ck_assert_int_eq(dt_output_publish(&b, 91, "prog"), -EEXIST);
	ck_assert_int_eq(access("target-never-made", F_OK), -1);
	list_dir(".", names, sizeof(names));
	ck_assert_str_eq(names, "t-prog-90.bin t-prog-91.bin"); /* no temporary file left */
	dt_tracebuf_free(&b);
	dt_tracebuf_free(&b2);
}
END_TEST

START_TEST(publish_writes_and_never_overwrites)
{
	char names[4096];
	uint8_t got[64];
	struct stat st;
	struct dt_tracebuf b = {0};
	enter_tmpdir();
	load_with("DEIATRACE_OUTPUT", "t-%n-%p.bin");
	dt_tracebuf_put_bytes(&b, "first", 5);
	ck_assert_int_eq(dt_output_publish(&b, 77, "prog"), 0);
	ck_assert_int_eq(warn_count, 0);
	ck_assert_int_eq(stat("t-prog-77.bin", &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0600 & ~(unsigned)umask(0));
	ck_assert_uint_eq(read_file("t-prog-77.bin", got, sizeof(got)), 5);

	struct dt_tracebuf b2 = {0};
	dt_tracebuf_put_bytes(&b2, "second", 6);
	/* Another process's trace under the same name (a fixed DEIATRACE_OUTPUT): never replaced. */
	load_with("DEIATRACE_OUTPUT", "t-prog-77.bin");
	ck_assert_int_eq(dt_output_publish(&b2, 78, "prog"), -EEXIST);
	ck_assert_int_eq(warn_count, 1);
	ck_assert_msg(strncmp(warn_last, "cannot write trace t-prog-77.bin: ", 34) == 0, "%s", warn_last);
	ck_assert_uint_eq(read_file("t-prog-77.bin", got, sizeof(got)), 5);
	ck_assert_int_eq(memcmp(got, "first", 5), 0);
	list_dir(".", names, sizeof(names));
	ck_assert_str_eq(names, "t-prog-77.bin"); /* no temporary file left */
	dt_tracebuf_free(&b);
	dt_tracebuf_free(&b2);
}
END_TEST

START_TEST(publish_failures_leave_nothing)
{
	static const char *const bad[] = {"no/such/dir/t.bin", "afile/t.bin", "sub/", "%n/x"};
	char names[4096];
	struct dt_tracebuf b = {0};
	enter_tmpdir();
	ck_assert_int_eq(mkdir("sub", 0700), 0);
	int fd = open("afile", O_WRONLY | O_CREAT, 0600);
	ck_assert_int_ge(fd, 0);
	close(fd);
	dt_tracebuf_put_bytes(&b, "x", 1);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		load_with("DEIATRACE_OUTPUT", bad[i]);
		ck_assert_int_lt(dt_output_publish(&b, 1, "prog"), 0);
		ck_assert_msg(warn_count == 1, "%s: %d warnings", bad[i], warn_count);
		ck_assert_msg(strncmp(warn_last, "cannot write trace ", 19) == 0, "%s", warn_last);
	}
	list_dir(".", names, sizeof(names));
	ck_assert_str_eq(names, "afile sub");
	list_dir("sub", names, sizeof(names));
	ck_assert_str_eq(names, "");
	dt_tracebuf_free(&b);
}
END_TEST

START_TEST(publish_resolves_against_start_dir)
{
	char names[4096];
	struct dt_tracebuf b = {0};
	enter_tmpdir();
	ck_assert_int_eq(mkdir("start", 0700), 0);
	ck_assert_int_eq(mkdir("elsewhere", 0700), 0);
	ck_assert_int_eq(chdir("start"), 0);
	load_with(NULL, NULL);
	ck_assert_int_eq(dt_output_init(), 0);
	ck_assert_int_eq(chdir("../elsewhere"), 0);
	dt_tracebuf_put_bytes(&b, "x", 1);
	ck_assert_int_eq(dt_output_publish(&b, 5, "spin"), 0);
	list_dir("../start", names, sizeof(names));
	ck_assert_str_eq(names, "deiatrace.spin.5.bin");
	list_dir(".", names, sizeof(names));
	ck_assert_str_eq(names, "");
	dt_tracebuf_free(&b);
}
END_TEST

START_TEST(publish_reports_encoding_failure)
{
	struct dt_tracebuf b = {0};
	enter_tmpdir();
	load_with(NULL, NULL);
	b.failed = 1;
	ck_assert_int_eq(dt_output_publish(&b, 5, "p"), -ENOMEM);
	ck_assert_int_eq(warn_count, 1);
	ck_assert_str_eq(warn_last,
			 "cannot write trace deiatrace.p.5.bin: out of memory for the trace buffer");
}
END_TEST

/* ---------------------------------------------------------------- writer and modules */

START_TEST(writer_layout)
{
	static const char args[] = "prog\0--flag\0two words\0";
	struct dt_proc proc = {
	    .exe = "/bin/prog", .args = args, .args_bytes = sizeof(args) - 1, .prog = "prog"};
	uint64_t meta[DT_META_NFIELDS] = {0};
	struct dt_tracebuf b = {0};
	meta[DT_META_PID] = 99;
	meta[DT_META_DEGRADED] = 5;
	dt_modules_snapshot();
	ck_assert_int_eq(dt_writer_encode(&b, meta, &proc, 1), 0);
	ck_assert_int_eq(memcmp(b.data, DT_TRACE_MAGIC, DT_TRACE_MAGIC_LEN), 0);
	ck_assert_uint_eq(dt_get_u32(b.data + 8), DT_TRACE_VERSION);
	ck_assert_uint_eq(dt_get_u32(b.data + 12), DT_FLAG_CHECKPOINT);
	static const uint32_t want[] = {DT_SEC_META,   DT_SEC_CMDLINE, DT_SEC_MODULES,
					DT_SEC_STACKS, DT_SEC_CPU,     DT_SEC_END};
	size_t off = DT_FILE_HEADER_BYTES, k = 0;
	while (off < b.len) {
		uint32_t id = dt_get_u32(b.data + off);
		uint64_t len = dt_get_u64(b.data + off + 8);
		const uint8_t *p = b.data + off + DT_SECTION_HEADER_BYTES;
		ck_assert_uint_le(len, b.len - off - DT_SECTION_HEADER_BYTES);
		ck_assert_uint_eq(dt_get_u32(b.data + off + 4), (uint32_t)crc32(0, p, (uInt)len));
		ck_assert_uint_lt(k, sizeof(want) / sizeof(want[0]));
		ck_assert_uint_eq(id, want[k]);
		if (id == DT_SEC_META) {
			ck_assert_uint_eq(len, 4 + 8 * DT_META_NFIELDS);
			ck_assert_uint_eq(dt_get_u32(p), DT_META_NFIELDS);
			ck_assert_uint_eq(dt_get_u64(p + 4 + 8 * DT_META_PID), 99);
			ck_assert_uint_eq(dt_get_u64(p + 4 + 8 * DT_META_DEGRADED), 5);
		}
		if (id == DT_SEC_CMDLINE) {
			static const uint8_t enc[] = "\x09\0\0\0/bin/prog\x03\0\0\0"
						     "\x04\0\0\0prog\x06\0\0\0--flag\x09\0\0\0two words";
			ck_assert_uint_eq(len, sizeof(enc) - 1);
			ck_assert_int_eq(memcmp(p, enc, sizeof(enc) - 1), 0);
		}
		if (id == DT_SEC_MODULES)
			ck_assert_uint_ge(dt_get_u32(p), 2); /* this program and libc at least */
		off += DT_SECTION_HEADER_BYTES + len;
		k++;
	}
	ck_assert_uint_eq(off, b.len);
	ck_assert_uint_eq(k, sizeof(want) / sizeof(want[0]));
	dt_tracebuf_free(&b);
}
END_TEST

START_TEST(cmdline_without_final_nul)
{
	struct dt_proc proc = {.exe = NULL, .args = "a\0bc", .args_bytes = 4, .prog = NULL};
	uint64_t meta[DT_META_NFIELDS] = {0};
	struct dt_tracebuf b = {0};
	ck_assert_int_eq(dt_writer_encode(&b, meta, &proc, 0), 0);
	size_t off = DT_FILE_HEADER_BYTES;
	off += DT_SECTION_HEADER_BYTES + dt_get_u64(b.data + off + 8); /* meta */
	ck_assert_uint_eq(dt_get_u32(b.data + off), DT_SEC_CMDLINE);
	static const uint8_t enc[] = "\0\0\0\0\x02\0\0\0\x01\0\0\0a\x02\0\0\0bc";
	ck_assert_uint_eq(dt_get_u64(b.data + off + 8), sizeof(enc) - 1);
	ck_assert_int_eq(memcmp(b.data + off + DT_SECTION_HEADER_BYTES, enc, sizeof(enc) - 1), 0);
	dt_tracebuf_free(&b);
}
END_TEST

/* The module list holds this executable with its real path and range, and a snapshot taken twice
 * does not list anything twice. */
START_TEST(modules_union_without_duplicates)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	ck_assert_int_gt(n, 0);
	exe[n] = '\0';
	dt_modules_snapshot();
	uint32_t first = dt_modules_count();
	dt_modules_snapshot();
	ck_assert_uint_eq(dt_modules_count(), first);
	struct dt_tracebuf b = {0};
	dt_modules_emit(&b);
	const uint8_t *p = b.data + DT_SECTION_HEADER_BYTES, *end = b.data + b.len;
	uint32_t count = dt_get_u32(p);
	ck_assert_uint_eq(count, first);
	p += 4;
	int found = 0;
	uint64_t here = (uint64_t)(uintptr_t)&modules_union_without_duplicates;
	for (uint32_t i = 0; i < count; i++) {
		uint64_t lo = dt_get_u64(p + 8), hi = dt_get_u64(p + 16);
		uint32_t idlen = dt_get_u32(p + 24);
		ck_assert_uint_le(idlen, DT_MAX_BUILD_ID_BYTES);
		p += 28 + idlen;
		uint32_t plen = dt_get_u32(p);
		if (plen == strlen(exe) && memcmp(p + 4, exe, plen) == 0) {
			found = 1;
			ck_assert_uint_le(lo, here);
			ck_assert_uint_lt(here, hi);
			ck_assert_uint_eq(idlen, 20); /* gcc on Debian links with --build-id (sha1) */
		}
		p += 4 + plen;
	}
	ck_assert_ptr_eq(p, end);
	ck_assert_msg(found, "%s not in the module list", exe);
	dt_tracebuf_free(&b);
}
END_TEST

START_TEST(writer_path_never_mallocs)
{
	static const char args[] = "prog\0a\0";
	struct dt_proc proc = {
	    .exe = "/bin/prog", .args = args, .args_bytes = sizeof(args) - 1, .prog = "prog"};
	uint64_t meta[DT_META_NFIELDS] = {0};
	struct dt_tracebuf b = {0};
	enter_tmpdir();
	load_with("DEIATRACE_OUTPUT", "sub/t.bin"); /* one name for pids 1 and 2: the second fails */
	ck_assert_int_eq(mkdir("sub", 0700), 0);
	ck_assert_int_eq(dt_output_init(), 0);
	counting = 1;
	dt_modules_snapshot();
	int rc = dt_writer_encode(&b, meta, &proc, 0);
	int rc_pub = dt_output_publish(&b, 1, "prog");
	int rc_again = dt_output_publish(&b, 2, "prog"); /* the failure path and its warning too */
	counting = 0;
	ck_assert_int_eq(rc, 0);
	ck_assert_int_eq(rc_pub, 0);
	ck_assert_int_eq(rc_again, -EEXIST);
	ck_assert_int_eq(malloc_calls, 0);
	/* The counter works: */
	counting = 1;
	void *volatile probe = malloc(1); /* volatile: the compiler may not elide the pair */
	free(probe);
	counting = 0;
	ck_assert_int_eq(malloc_calls, 1);
	dt_tracebuf_free(&b);
}
END_TEST

static Suite *config_suite(void)
{
	Suite *s = suite_create("preload_config");
	TCase *tc = tcase_create("config");
	tcase_add_test(tc, defaults_parse_silently);
	tcase_add_test(tc, every_option_is_documented);
	tcase_add_test(tc, bad_freq_warns_once_exactly);
	tcase_add_loop_test(tc, freq_bounds, 0, sizeof(freq_cases) / sizeof(freq_cases[0]));
	tcase_add_test(tc, depth_bounds);
	tcase_add_test(tc, booleans);
	tcase_add_test(tc, empty_means_default);
	tcase_add_test(tc, output_length_checked);
	tcase_add_test(tc, bad_value_shown_on_one_short_line);
	tcase_add_test(tc, several_bad_values_one_line_each);
	suite_add_tcase(s, tc);

	tc = tcase_create("output");
	tcase_add_checked_fixture(tc, NULL, remove_tmpdir);
	tcase_add_loop_test(tc, expand_patterns, 0, sizeof(expand_cases) / sizeof(expand_cases[0]));
	tcase_add_test(tc, expand_limits);
	tcase_add_test(tc, publish_writes_and_never_overwrites);
	tcase_add_test(tc, publish_replaces_only_its_own);
	tcase_add_test(tc, publish_failures_leave_nothing);
	tcase_add_test(tc, publish_resolves_against_start_dir);
	tcase_add_test(tc, publish_reports_encoding_failure);
	suite_add_tcase(s, tc);

	tc = tcase_create("tracebuf");
	tcase_add_test(tc, section_back_patched);
	tcase_add_test(tc, empty_section_and_growth);
	tcase_add_test(tc, failed_buffer_is_inert);
	suite_add_tcase(s, tc);

	tc = tcase_create("writer");
	tcase_add_test(tc, writer_layout);
	tcase_add_test(tc, cmdline_without_final_nul);
	tcase_add_test(tc, modules_union_without_duplicates);
	tcase_add_checked_fixture(tc, NULL, remove_tmpdir);
	tcase_add_test(tc, writer_path_never_mallocs);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(config_suite());
	srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
