/* Check suite for dt_symbolize against real binaries: this test executable (a static function,
 * file:line) and libc (a shared-library function), plus missing modules, build-id mismatch and
 * C++ demangling. Module ranges and biases come from dl_iterate_phdr, as the shim records them. */
#define _GNU_SOURCE
#include <check.h>
#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_analyzer_encoder.h"
#include "dt_reader.h"
#include "dt_symbolize.h"

#define MAX_MODS 64
#define PATH_BYTES 4096

static struct tmod mods[MAX_MODS];
static char paths[MAX_MODS][PATH_BYTES];
static uint32_t nmods;

static const int static_target_line = __LINE__ + 2;
__attribute__((noinline)) static int dt_test_static_target(int x)
{
	/* Enough work that the function has a body of its own. */
	volatile int acc = x;
	for (int i = 0; i < x; i++)
		acc += i * 3;
	return acc;
}

static int add_module(struct dl_phdr_info *info, size_t size, void *arg)
{
	uint64_t lo = UINT64_MAX, hi = 0;

	(void)size;
	(void)arg;
	if (nmods == MAX_MODS)
		return 1;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD)
			continue;
		if (info->dlpi_addr + ph->p_vaddr < lo)
			lo = info->dlpi_addr + ph->p_vaddr;
		if (info->dlpi_addr + ph->p_vaddr + ph->p_memsz > hi)
			hi = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
	}
	if (lo >= hi)
		return 0;
	if (info->dlpi_name[0])
		snprintf(paths[nmods], PATH_BYTES, "%s", info->dlpi_name);
	else if (readlink("/proc/self/exe", paths[nmods], PATH_BYTES - 1) < 0)
		return 0;
	mods[nmods] = (struct tmod){info->dlpi_addr, lo, hi, paths[nmods], NULL, 0};
	nmods++;
	return 0;
}

struct fixture {
	uint8_t *buf;
	struct dt_trace *t;
	struct dt_symbolizer *sym;
	char *warnings;
	size_t warnings_len;
	FILE *warn;
};

static void open_self(struct fixture *f, const struct tmod *extra, uint32_t nextra)
{
	static const struct tstack st[] = {{0, 0, {0}}};
	struct tmod all[MAX_MODS + 4];
	char err[DT_READ_ERR_BYTES];
	size_t len;

	nmods = 0;
	dl_iterate_phdr(add_module, NULL);
	ck_assert_uint_gt(nmods, 1);
	memcpy(all, mods, nmods * sizeof(*mods));
	if (nextra)
		memcpy(all + nmods, extra, nextra * sizeof(*extra));
	struct tspec s = {.mods = all, .nmods = nmods + nextra, .stacks = st, .nstacks = 1};
	f->buf = enc_trace(&s, &len);
	ck_assert_int_eq(dt_trace_read_mem(f->buf, len, &f->t, err, sizeof(err)), DT_READ_OK);
	f->warnings = NULL;
	f->warn = open_memstream(&f->warnings, &f->warnings_len);
	ck_assert_int_eq(dt_sym_open(f->t, 0, f->warn, &f->sym), 0);
	fflush(f->warn);
}

static void close_fixture(struct fixture *f)
{
	dt_sym_close(f->sym);
	dt_trace_free(f->t);
	free(f->buf);
	fclose(f->warn);
	free(f->warnings);
}

START_TEST(test_static_function_and_line)
{
	struct fixture f;
	struct dt_frame_info fi, again;
	uint64_t entry = (uint64_t)(uintptr_t)&dt_test_static_target;

	open_self(&f, NULL, 0);
	ck_assert_int_eq(dt_test_static_target(3), 3 + 0 + 3 + 6);
	/* a return address inside the function, as an unwinder would report it */
	dt_sym_lookup(f.sym, entry + 5, 1, &fi);
	ck_assert_int_eq(fi.resolved, 1);
	ck_assert_str_eq(fi.function, "dt_test_static_target");
	ck_assert_str_eq(fi.module, "check_analyzer_symbolize");
	ck_assert_uint_eq(fi.fn_addr, entry);
	ck_assert_ptr_nonnull(fi.fn_file);
	ck_assert_ptr_nonnull(strstr(fi.fn_file, "check_analyzer_symbolize.c"));
	ck_assert_msg(fi.fn_line >= (uint32_t)static_target_line - 1 &&
			  fi.fn_line <= (uint32_t)static_target_line + 2,
		      "entry line %u, defined at %d", fi.fn_line, static_target_line);
	ck_assert_ptr_nonnull(fi.file);
	ck_assert_uint_gt(fi.line, 0);
	/* cached: the same strings come back */
	dt_sym_lookup(f.sym, entry + 5, 1, &again);
	ck_assert_ptr_eq(again.function, fi.function);
	close_fixture(&f);
}
END_TEST

START_TEST(test_shared_library_function)
{
	struct fixture f;
	struct dt_frame_info fi;
	/* Ask libc itself: under ASan, RTLD_DEFAULT finds the sanitizer's interceptor. */
	void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
	ck_assert_ptr_nonnull(libc);
	void *qs = dlsym(libc, "qsort");

	ck_assert_ptr_nonnull(qs);
	dlclose(libc);
	open_self(&f, NULL, 0);
	dt_sym_lookup(f.sym, (uint64_t)(uintptr_t)qs + 1, 1, &fi);
	ck_assert_int_eq(fi.resolved, 1);
	ck_assert_msg(strstr(fi.function, "qsort"), "qsort resolved as %s", fi.function);
	ck_assert_ptr_nonnull(strstr(fi.module, "libc"));
	close_fixture(&f);
}
END_TEST

START_TEST(test_cpp_symbol_demangled)
{
	struct fixture f;
	struct dt_frame_info fi;
	/* libstdc++ is loaded: the analyzer library links it for __cxa_demangle. */
	void *lib = dlopen("libstdc++.so.6", RTLD_LAZY | RTLD_NOLOAD);
	ck_assert_ptr_nonnull(lib);
	void *fn = dlsym(lib, "_ZNSt9exceptionD1Ev");

	ck_assert_ptr_nonnull(fn);
	open_self(&f, NULL, 0);
	dt_sym_lookup(f.sym, (uint64_t)(uintptr_t)fn, 0, &fi);
	ck_assert_int_eq(fi.resolved, 1);
	ck_assert_str_eq(fi.function, "std::exception::~exception()");
	ck_assert_ptr_nonnull(strstr(fi.module, "libstdc++"));
	close_fixture(&f);
	dlclose(lib);
}
END_TEST

START_TEST(test_missing_module_and_unknown_address)
{
	static const struct tmod gone[] = {
	    {0x100000000000, 0x100000000000, 0x100000010000, "/nonexistent/libgone.so.1", NULL, 0},
	    /* not regular files: never opened (a FIFO would block, a device never ends) */
	    {0x100000100000, 0x100000100000, 0x100000110000, "/dev/zero", NULL, 0},
	    {0x100000200000, 0x100000200000, 0x100000210000, "/tmp", NULL, 0},
	};
	struct fixture f;
	struct dt_frame_info fi;

	open_self(&f, gone, 3);
	dt_sym_lookup(f.sym, 0x100000100010, 0, &fi);
	ck_assert_str_eq(fi.function, "zero+0x10");
	dt_sym_lookup(f.sym, 0x100000000123, 0, &fi);
	ck_assert_int_eq(fi.resolved, 0);
	ck_assert_str_eq(fi.function, "libgone.so.1+0x123");
	ck_assert_str_eq(fi.module, "libgone.so.1");
	ck_assert_ptr_null(fi.file);
	dt_sym_lookup(f.sym, 0x10, 1, &fi);
	ck_assert_str_eq(fi.function, "0xf");
	ck_assert_str_eq(fi.module, "[unknown]");
	ck_assert_str_eq(f.warnings, ""); /* a missing file is not a build-id mismatch */
	close_fixture(&f);
}
END_TEST

START_TEST(test_build_id_mismatch_warns)
{
	static const uint8_t wrong[] = {1,  2,	3,  4,	5,  6,	7,  8,	9,  10,
					11, 12, 13, 14, 15, 16, 17, 18, 19, 20};
	struct fixture f;
	char libc_path[PATH_BYTES] = "";

	/* A second copy of libc's path with a wrong build-id, placed where nothing is mapped. */
	nmods = 0;
	dl_iterate_phdr(add_module, NULL);
	for (uint32_t i = 0; i < nmods; i++)
		if (strstr(paths[i], "libc.so"))
			snprintf(libc_path, sizeof(libc_path), "%s", paths[i]);
	ck_assert_str_ne(libc_path, "");
	struct tmod stale = {0x200000000000, 0x200000000000, 0x200000400000, libc_path, wrong, sizeof(wrong)};
	open_self(&f, &stale, 1);
	ck_assert_ptr_nonnull(strstr(f.warnings, "build-id differs from the traced binary"));
	ck_assert_ptr_nonnull(strstr(f.warnings, libc_path));
	close_fixture(&f);
}
END_TEST

START_TEST(test_no_debug_mode)
{
	struct fixture f;
	struct dt_frame_info fi;
	char err[DT_READ_ERR_BYTES];
	size_t len;
	static const struct tstack st[] = {{0, 0, {0}}};

	nmods = 0;
	dl_iterate_phdr(add_module, NULL);
	struct tspec s = {.mods = mods, .nmods = nmods, .stacks = st, .nstacks = 1};
	f.buf = enc_trace(&s, &len);
	ck_assert_int_eq(dt_trace_read_mem(f.buf, len, &f.t, err, sizeof(err)), DT_READ_OK);
	ck_assert_int_eq(dt_sym_open(f.t, DT_SYM_NO_DEBUG, NULL, &f.sym), 0);
	dt_sym_lookup(f.sym, (uint64_t)(uintptr_t)&dt_test_static_target, 0, &fi);
	ck_assert_int_eq(fi.resolved, 0);
	ck_assert_ptr_nonnull(strstr(fi.function, "check_analyzer_symbolize+0x"));
	dt_sym_close(f.sym);
	dt_trace_free(f.t);
	free(f.buf);
}
END_TEST

START_TEST(test_demangle)
{
	char *d = dt_sym_demangle("_ZN2ns3Foo3barEi");

	ck_assert_ptr_nonnull(d);
	ck_assert_str_eq(d, "ns::Foo::bar(int)");
	free(d);
	d = dt_sym_demangle("_ZNKSt6vectorIiSaIiEE4sizeEv");
	ck_assert_str_eq(d, "std::vector<int, std::allocator<int> >::size() const");
	free(d);
	ck_assert_ptr_null(dt_sym_demangle("main"));
	ck_assert_ptr_null(dt_sym_demangle("_Z_not_valid"));
	ck_assert_ptr_null(dt_sym_demangle(NULL));
}
END_TEST

static Suite *symbolize_suite(void)
{
	Suite *s = suite_create("dt_symbolize");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_static_function_and_line);
	tcase_add_test(tc, test_shared_library_function);
	tcase_add_test(tc, test_cpp_symbol_demangled);
	tcase_add_test(tc, test_missing_module_and_unknown_address);
	tcase_add_test(tc, test_build_id_mismatch_warns);
	tcase_add_test(tc, test_no_debug_mode);
	tcase_add_test(tc, test_demangle);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(symbolize_suite());
	int failed;

	srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
