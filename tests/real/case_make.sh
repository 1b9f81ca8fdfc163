# shellcheck shell=bash disable=SC2034 # sourced by tests/real/run.sh, which reads these variables
# make -j2 building a small project: 8 C files compiled and linked, plus 20 shell recipes (fork+exec
# heavy: make -> sh -> gcc -> cc1/as/collect2/ld). make -j2 interleaves the output of parallel
# recipes, so the filter sorts the lines: what is compared is the set of lines printed.
REQUIRES=(make gcc)
setup()
{
	local i
	for i in $(seq 1 8); do
		printf 'int f%d(int x) { return x * %d + 1; }\n' "$i" "$i" >"f$i.c"
	done
	{
		printf 'int f%d(int);\n' $(seq 1 8)
		printf 'int main(void) { int s = 0;\n'
		printf '  s += f%d(s);\n' $(seq 1 8)
		printf '  return s == 0; }\n'
	} >main.c
	{
		echo 'OBJS = main.o $(patsubst %.c,%.o,$(wildcard f*.c))'
		echo 'STAMPS = $(addprefix s,$(addsuffix .stamp,$(shell seq 1 20)))'
		echo 'all: prog $(STAMPS)'
		echo '	@./prog; echo "prog exit $$?"'
		echo 'prog: $(OBJS)'
		echo '	@$(CC) -o $@ $(OBJS)'
		echo '%.o: %.c'
		echo '	@$(CC) -O1 -c $< -o $@ && echo "cc $<"'
		echo 's%.stamp:'
		echo '	@echo "stamp $* $$(echo $* | tr 0-9 a-j)" && touch $@'
	} >Makefile
}
CMD=(make -j2 --no-print-directory)
filter() { LC_ALL=C sort; }
EXPECT_PROGS=(make cc1 '(x86_64-linux-gnu-)?as' '(x86_64-linux-gnu-)?ld(\.bfd)?' prog)
EXPECT_FNS=('^make:make\+0x' '^cc1:')
