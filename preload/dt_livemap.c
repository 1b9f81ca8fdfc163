/* The live-block map's slow paths: set-up, stripe growth, fork locking, counting (the insert/remove
 * fast paths are inline in dt_livemap.h). Memory comes from mmap only, never from malloc.
 * Called from the malloc hooks (dt_in_shim not required: nothing here allocates) and fork handlers. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>

#include "dt_livemap.h"
#include "dt_shim.h"

#define LM_INITIAL_SLOTS 64u /* per stripe, carved from one initial mapping */

struct dt_lm_stripe *_Atomic dt_lm_stripes;

static void *lm_map(size_t bytes) /* ctx: any */
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

int dt_livemap_init(void) /* ctx: any; once */
{
	if (atomic_load_explicit(&dt_lm_stripes, memory_order_acquire))
		return 0;
	size_t sbytes = (size_t)DT_LM_STRIPES * sizeof(struct dt_lm_stripe);
	size_t tbytes = (size_t)DT_LM_STRIPES * LM_INITIAL_SLOTS * sizeof(struct dt_lm_entry);
	struct dt_lm_stripe *s = lm_map(sbytes);
	struct dt_lm_entry *t = lm_map(tbytes);
	if (!s || !t) {
		if (s)
			munmap(s, sbytes);
		if (t)
			munmap(t, tbytes);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < DT_LM_STRIPES; i++) {
		s[i].mask = LM_INITIAL_SLOTS - 1;
		s[i].tab = t + (size_t)i * LM_INITIAL_SLOTS;
	}
	/* Release: a hook that sees the pointer sees initialised stripes. */
	atomic_store_explicit(&dt_lm_stripes, s, memory_order_release);
	return 0;
}

int dt_livemap_grow_locked(struct dt_lm_stripe *s) /* ctx: hook; stripe locked */
{
	uint32_t old_slots = s->mask + 1;
	uint32_t new_slots = old_slots * 2;
	int saved_errno = errno;
	struct dt_lm_entry *nt = lm_map((size_t)new_slots * sizeof(*nt));
	if (!nt) {
		errno = saved_errno;
		return -ENOMEM;
	}
	uint32_t nmask = new_slots - 1;
	for (uint32_t i = 0; i < old_slots; i++) {
		const struct dt_lm_entry *e = &s->tab[i];
		if (!e->key)
			continue;
		uint32_t j = dt_lm_home(dt_lm_hash(e->key), nmask);
		while (nt[j].key)
			j = (j + 1) & nmask;
		nt[j] = *e;
	}
	if (s->mapped)
		munmap(s->tab, (size_t)old_slots * sizeof(*nt));
	s->tab = nt;
	s->mask = nmask;
	s->mapped = 1;
	errno = saved_errno;
	return 0;
}

uint64_t dt_livemap_count(void) /* ctx: any */
{
	struct dt_lm_stripe *stripes = atomic_load_explicit(&dt_lm_stripes, memory_order_acquire);
	uint64_t n = 0;
	for (uint32_t i = 0; stripes && i < DT_LM_STRIPES; i++)
		n += __atomic_load_n(&stripes[i].count, __ATOMIC_RELAXED);
	return n;
}

void dt_livemap_lock_all(void) /* ctx: any */
{
	struct dt_lm_stripe *stripes = atomic_load_explicit(&dt_lm_stripes, memory_order_acquire);
	for (uint32_t i = 0; stripes && i < DT_LM_STRIPES; i++)
		dt_lm_lock(&stripes[i], 0);
}

void dt_livemap_unlock_all(void) /* ctx: any */
{
	struct dt_lm_stripe *stripes = atomic_load_explicit(&dt_lm_stripes, memory_order_acquire);
	for (uint32_t i = 0; stripes && i < DT_LM_STRIPES; i++)
		dt_lm_unlock(&stripes[i], 0);
}
