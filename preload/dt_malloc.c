/* Placeholder for the malloc-family hooks (memory tracking), replaced by the memory module.
 * Reports "not tracked" so the writer and lifecycle build and run without it. */
#include "dt_shim.h"

int dt_malloc_enabled(void)
{
	return 0;
}

void dt_malloc_fill_meta(uint64_t meta[DT_META_NFIELDS])
{
	(void)meta;
}

void dt_malloc_emit(struct dt_tracebuf *b)
{
	(void)b;
}
