/* instr_ownhooks: built with -finstrument-functions, but defines __cyg_profile_func_enter/exit itself
 * (as many tutorials do). The executable's definitions win over the preloaded shim's, so the shim can
 * count nothing; it must say so on stderr instead of writing an empty or misleading calls section.
 * stdout is deterministic. */
#include <stdio.h>

static unsigned long own_enters, own_exits;

__attribute__((no_instrument_function)) void __cyg_profile_func_enter(void *fn, void *site)
{
	(void)fn;
	(void)site;
	own_enters++;
}

__attribute__((no_instrument_function)) void __cyg_profile_func_exit(void *fn, void *site)
{
	(void)fn;
	(void)site;
	own_exits++;
}

__attribute__((noinline, noclone)) int own_leaf(int x)
{
	__asm__ volatile("" : "+r"(x));
	return x + 1;
}

int main(void)
{
	int acc = 0;

	for (int i = 0; i < 1000; i++)
		acc += own_leaf(i);
	printf("acc %d\n", acc);
	printf("own hooks: %lu enters, %lu exits\n", own_enters, own_exits);
	return 0;
}
