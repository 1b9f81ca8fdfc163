# shellcheck shell=bash disable=SC2034 # sourced by tests/real/run.sh, which reads these variables
# gcc compiling a generated C file (20 functions) to an object and disassembling nothing else: gcc
# forks and execs cc1 and as (follow-exec: each image writes its own trace). cc1 is stripped and
# exports nothing, so its own functions show as cc1+0x...; the check is that cc1 wrote a trace whose
# samples are in cc1 itself.
REQUIRES=(gcc)
setup()
{
	python3 -c '
for i in range(20):
    print("int f%d(int *a, int n) { int s = %d; for (int i = 0; i < n; i++) s += a[i] * %d ^ (s >> 3); return s; }" % (i, i, i + 1))
print("int main(void) { int a[4] = {1, 2, 3, 4}; return f0(a, 4) & 1; }")' >gen.c
}
CMD=(gcc -O2 -c gen.c -o gen.o)
EXPECT_PROGS=('(x86_64-linux-gnu-)?gcc(-[0-9]+)?' cc1 '(x86_64-linux-gnu-)?as')
EXPECT_FNS=('^cc1:toplev::main\(')
