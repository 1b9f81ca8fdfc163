/* Ground truth for allocation stacks that share a deep root and differ near the leaf: a fixed
 * recursion ROOT_DEPTH frames deep, then a chain of 1..CHAIN_MAX frames of two kinds (deep_plain,
 * and deep_vla, whose variable-length array makes its CFA come from rbp) chosen by the bits of a
 * pattern, then one of LEAVES leaf functions that mallocs a known size. Every (chain, leaf) stack is
 * allocated ROUNDS times, rounds outermost, so a key (return address and sp) sees many stacks.
 * Prints with write(2): "truth FUNCTION.calls N" per leaf and "stack N LEAF;FN;...;main" (leaf first,
 * the program's own frames only) per distinct stack. Usage: mem_deep_stacks */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ROOT_DEPTH 40u /* frames of deep_root below main: the shared root part */
#define CHAIN_MAX 8u   /* chain lengths 1..CHAIN_MAX: 2^1 + ... + 2^CHAIN_MAX patterns */
#define LEAVES 8u
#define ROUNDS 24u
#define LEAF_BASE_BYTES 40u /* leaf j allocates LEAF_BASE_BYTES + j * LEAF_STEP_BYTES */
#define LEAF_STEP_BYTES 8u
#define VLA_STEP_BYTES 16u
#define LINE_BYTES 4096u

/* noipa and KEEP: every call stays a real call (no inlining, cloning or tail call), so each function
 * is one frame and the stack is exactly the call chain. */
#define WORKLOAD __attribute__((noinline, noipa))
#define KEEP(p) __asm__ volatile("" : : "r"(p) : "memory")

#define LEAF(j)                                                                                              \
	WORKLOAD void *deep_leaf_##j(void)                                                                   \
	{                                                                                                    \
		void *p = malloc(LEAF_BASE_BYTES + (j)*LEAF_STEP_BYTES);                                     \
		KEEP(p);                                                                                     \
		return p;                                                                                    \
	}
LEAF(0)
LEAF(1)
LEAF(2)
LEAF(3)
LEAF(4)
LEAF(5)
LEAF(6)
LEAF(7)
static void *(*const leaves[LEAVES])(void) = {deep_leaf_0, deep_leaf_1, deep_leaf_2, deep_leaf_3,
					      deep_leaf_4, deep_leaf_5, deep_leaf_6, deep_leaf_7};

void *deep_plain(unsigned pattern, unsigned left, unsigned leaf);
void *deep_vla(unsigned pattern, unsigned left, unsigned leaf);

/* The next chain frame (bit 0 of pattern picks its kind), or the leaf when none is left. */
static inline void *deep_next(unsigned pattern, unsigned left, unsigned leaf)
{
	if (left == 0)
		return leaves[leaf]();
	return (pattern & 1u) ? deep_vla(pattern >> 1, left - 1, leaf)
			      : deep_plain(pattern >> 1, left - 1, leaf);
}

WORKLOAD void *deep_plain(unsigned pattern, unsigned left, unsigned leaf)
{
	void *p = deep_next(pattern, left, leaf);
	KEEP(p);
	return p;
}

WORKLOAD void *deep_vla(unsigned pattern, unsigned left, unsigned leaf)
{
	volatile char pad[VLA_STEP_BYTES * (1u + (left & 3u))]; /* alloca'd: the frame needs rbp */
	pad[0] = (char)leaf;
	void *p = deep_next(pattern, left, leaf);
	KEEP(p);
	KEEP(pad);
	return p;
}

/* One allocation through a chain of `len` frames whose kinds are the low bits of pattern (bit 0 the
 * outermost), below ROOT_DEPTH - level frames of deep_root. */
WORKLOAD void *deep_root(unsigned level, unsigned pattern, unsigned len, unsigned leaf)
{
	void *p =
	    level + 1 < ROOT_DEPTH ? deep_root(level + 1, pattern, len, leaf) : deep_next(pattern, len, leaf);
	KEEP(p);
	return p;
}

static char line[LINE_BYTES];

static void put(const char *s)
{
	size_t n = strlen(s);
	if (write(1, s, n) != (ssize_t)n)
		_exit(3);
}

int main(void)
{
	for (unsigned round = 0; round < ROUNDS; round++)
		for (unsigned len = 1; len <= CHAIN_MAX; len++)
			for (unsigned pattern = 0; pattern < (1u << len); pattern++)
				for (unsigned leaf = 0; leaf < LEAVES; leaf++)
					free(deep_root(0, pattern, len, leaf));
	/* The truth, printed after the workload (snprintf into a static buffer does not allocate). */
	unsigned stacks_per_leaf = (1u << (CHAIN_MAX + 1)) - 2u;
	for (unsigned leaf = 0; leaf < LEAVES; leaf++) {
		snprintf(line, sizeof line, "truth deep_leaf_%u.calls %u\n", leaf, stacks_per_leaf * ROUNDS);
		put(line);
	}
	for (unsigned len = 1; len <= CHAIN_MAX; len++)
		for (unsigned pattern = 0; pattern < (1u << len); pattern++)
			for (unsigned leaf = 0; leaf < LEAVES; leaf++) {
				int n = snprintf(line, sizeof line, "stack %u deep_leaf_%u", ROUNDS, leaf);
				for (unsigned i = len; i-- > 0;)
					n += snprintf(line + n, sizeof line - (size_t)n, ";%s",
						      (pattern >> i) & 1u ? "deep_vla" : "deep_plain");
				for (unsigned i = 0; i < ROOT_DEPTH; i++)
					n += snprintf(line + n, sizeof line - (size_t)n, ";deep_root");
				snprintf(line + n, sizeof line - (size_t)n, ";main\n");
				put(line);
			}
	return 0;
}
