# shellcheck shell=bash disable=SC2034 # sourced by tests/real/run.sh, which reads these variables
# sort of a generated 6 MB file (400000 lines) in the C.UTF-8 locale, twice (by key, numerically
# reversed). GNU sort is stripped (sort+0x...). Known: coreutils sort installs its own handler for
# SIGPROF (among the signals it catches to remove its temporary files), so the shim steps aside by
# design and sort has no CPU samples; the runner prints that as a KNOWN line. Its allocation stacks
# are still traced, which is what names sort's functions here.
REQUIRES=(sort python3)
setup()
{
	python3 -c '
import sys
w = sys.stdout.write
for i in range(400000):
    w("%08x %d row\n" % (i * 2654435761 % 4294967296, i))' >in.txt
}
CMD=(bash -c 'sort -k1,1 in.txt | md5sum; sort -n -k2,2r in.txt | head -n 3')
EXPECT_PROGS=(sort md5sum head)
EXPECT_FNS=('^sort:sort\+0x')
