/* Page-level placement of the shim's own tables: mappings that start on a transparent-huge-page
 * boundary and are advised MADV_HUGEPAGE, for tables written at scattered places, where each first
 * touch of a 4 KiB page is a page fault (about 13 us on the paravirtualised VMs this runs on) and one
 * 2 MiB fault costs about as much as ten. mmap and munmap only: no malloc, no locks. */
#define _GNU_SOURCE
#include <stdint.h>
#include <sys/mman.h>

#include "dt_shim.h"

void *dt_map_hugepage_aligned(size_t bytes, size_t advise_bytes) /* ctx: any */
{
	/* A huge page backs only a 2 MiB range that lies wholly inside the mapping: keep whole ones. */
	bytes = (bytes + DT_HUGE_PAGE_BYTES - 1) & ~(size_t)(DT_HUGE_PAGE_BYTES - 1);
	size_t span = bytes + DT_HUGE_PAGE_BYTES;
	unsigned char *p =
	    mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	uintptr_t a = ((uintptr_t)p + DT_HUGE_PAGE_BYTES - 1) & ~(uintptr_t)(DT_HUGE_PAGE_BYTES - 1);
	/* The unaligned head and the tail past `bytes` go back: never touched, but address space. */
	if (a > (uintptr_t)p)
		munmap(p, a - (uintptr_t)p);
	size_t tail = (size_t)((uintptr_t)p + span - (a + bytes));
	if (tail)
		munmap((void *)(a + bytes), tail);
	advise_bytes = (advise_bytes + DT_HUGE_PAGE_BYTES - 1) & ~(size_t)(DT_HUGE_PAGE_BYTES - 1);
	if (advise_bytes > bytes)
		advise_bytes = bytes;
	if (advise_bytes)
		madvise((void *)a, advise_bytes, MADV_HUGEPAGE); /* advice: with THP off, plain pages */
	return (void *)a;
}
