# shellcheck shell=bash disable=SC2034 # sourced by tests/real/run.sh, which reads these variables
# xz -T2 compressing a generated 6 MB text file in 1 MiB blocks, so that both worker threads of
# liblzma's multithreaded encoder compress; then xz -t tests the result. liblzma's internals are
# hidden symbols; its exported entry points (lzma_code, ...) are on the stacks.
REQUIRES=(xz python3)
setup()
{
	python3 -c '
import sys
w = sys.stdout.write
for i in range(150000):
    w("%d %x line %d of the generated input %s\n" % (i, i * 2654435761 % 4294967296, i % 977, "ab" * (i % 13)))' >in.txt
}
CMD=(bash -c 'xz -T2 -1 --block-size=1MiB -k in.txt && xz -t in.txt.xz && ls -l in.txt.xz | cut -d" " -f5')
EXPECT_PROGS=(xz)
EXPECT_FNS=('^liblzma\.so[.0-9]*:lzma_code$' '^liblzma\.so[.0-9]*:lzma_')
