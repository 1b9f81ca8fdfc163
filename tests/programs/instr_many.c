/* instr_many: built with -finstrument-functions. 4096 distinct functions (many_000000 .. many_333333,
 * the digits in base 4), each called exactly twice while main and drive() are open: the shim's
 * per-thread function table must grow several times under open frames and lose nothing.
 * stdout is deterministic and states the truth. */
#include <inttypes.h>
#include <stdio.h>

#define MANY_FUNCTIONS 4096u
#define MANY_PASSES 2u

static uint64_t sink;

#define DEF1(p)                                                                                              \
	__attribute__((noinline, noclone)) void many_##p(void)                                               \
	{                                                                                                    \
		sink += 1;                                                                                   \
		__asm__ volatile("");                                                                        \
	}
#define DEF4(p) DEF1(p##0) DEF1(p##1) DEF1(p##2) DEF1(p##3)
#define DEF16(p) DEF4(p##0) DEF4(p##1) DEF4(p##2) DEF4(p##3)
#define DEF64(p) DEF16(p##0) DEF16(p##1) DEF16(p##2) DEF16(p##3)
#define DEF256(p) DEF64(p##0) DEF64(p##1) DEF64(p##2) DEF64(p##3)
#define DEF1024(p) DEF256(p##0) DEF256(p##1) DEF256(p##2) DEF256(p##3)
#define DEF4096() DEF1024(0) DEF1024(1) DEF1024(2) DEF1024(3)

#define CALL1(p) many_##p();
#define CALL4(p) CALL1(p##0) CALL1(p##1) CALL1(p##2) CALL1(p##3)
#define CALL16(p) CALL4(p##0) CALL4(p##1) CALL4(p##2) CALL4(p##3)
#define CALL64(p) CALL16(p##0) CALL16(p##1) CALL16(p##2) CALL16(p##3)
#define CALL256(p) CALL64(p##0) CALL64(p##1) CALL64(p##2) CALL64(p##3)
#define CALL1024(p) CALL256(p##0) CALL256(p##1) CALL256(p##2) CALL256(p##3)
#define CALL4096() CALL1024(0) CALL1024(1) CALL1024(2) CALL1024(3)

DEF4096()

__attribute__((noinline, noclone)) void drive(void)
{
	CALL4096()
}

int main(void)
{
	for (unsigned i = 0; i < MANY_PASSES; i++)
		drive();
	printf("sink %" PRIu64 "\n", sink);
	printf("truth calls drive %u\n", MANY_PASSES);
	printf("truth calls main 1\n");
	/* Every function named many_<6 base-4 digits>: 4096 of them, each called MANY_PASSES times. */
	printf("truth calls_each many_ %u %u\n", MANY_PASSES, MANY_FUNCTIONS);
	return 0;
}
