/* deiatrace.h — the public regions API of deiatrace (the only public header).
 *
 *   #include <deiatrace.h>
 *   dt_region_begin("parse");  ...  dt_region_end();
 *   { DT_REGION("solve"); ... }       // ends at the closing brace (GCC/Clang cleanup attribute)
 *
 * Under the profiler (`deiatrace record -- prog`, or LD_PRELOAD=libdeiatrace.so) each region name
 * gets its count, wall and CPU time (with and without nested regions), the longest pass, and the
 * allocation calls and bytes made inside it; regions nest and every thread has its own stack.
 *
 * Without the profiler the program links and runs unchanged, needing no library: the two entry points
 * are weak references that stay NULL unless libdeiatrace.so is loaded, and the inline wrappers below
 * then do nothing but one pointer test. Define DEIATRACE_NO_REGIONS to compile every call away
 * (for toolchains without weak symbols, or static links, where weak references resolve to NULL anyway).
 *
 * Names are copied (up to 64 bytes); 1024 distinct names per process, 32 open regions per thread.
 * Each begin/end pair costs two clock reads of the thread CPU clock (a system call): mark phases,
 * not functions called millions of times. Every begin must be matched by an end on the same thread. */
#ifndef DEIATRACE_H
#define DEIATRACE_H

#ifdef __cplusplus
extern "C" {
#endif

#ifndef DEIATRACE_NO_REGIONS

/* Provided by libdeiatrace.so. Call the wrappers, not these. */
extern void dt_region_push(const char *name) __attribute__((weak));
extern void dt_region_pop(void) __attribute__((weak));

static inline void dt_region_begin(const char *name)
{
	if (dt_region_push)
		dt_region_push(name);
}

static inline void dt_region_end(void)
{
	if (dt_region_pop)
		dt_region_pop();
}

#else

static inline void dt_region_begin(const char *name)
{
	(void)name;
}

static inline void dt_region_end(void)
{
}

#endif

/* Scoped region: begins here, ends when the enclosing block is left (return, break, goto included). */
static inline void dt_region_scope_end_(int *unused)
{
	(void)unused;
	dt_region_end();
}

#define DT_REGION_CAT2_(a, b) a##b
#define DT_REGION_CAT_(a, b) DT_REGION_CAT2_(a, b)
#define DT_REGION(name)                                                                                      \
	int DT_REGION_CAT_(dt_region_scope_, __LINE__)                                                       \
	    __attribute__((cleanup(dt_region_scope_end_), unused)) = (dt_region_begin(name), 0)

#ifdef __cplusplus
}
#endif

#endif
