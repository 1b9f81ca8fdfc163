#!/usr/bin/env bash
# make demo: profile the bundled demo program (tests/programs/demo.c) under the shim and print the
# analyzer's report. Usage: scripts/demo.sh BUILD_DIR
set -u

if [ $# -ne 1 ] || [ ! -d "$1" ]; then
	echo "usage: $0 BUILD_DIR" >&2
	exit 2
fi
B=$(cd "$1" && pwd)
SHIM=$B/libdeiatrace.so
ANALYZE=$B/deiatrace-analyze
DEMO=$B/tests/programs/demo
for f in "$SHIM" "$ANALYZE" "$DEMO"; do
	if [ ! -f "$f" ]; then
		echo "demo: $f is missing; run: make B=$1 all $1/tests/programs/demo" >&2
		exit 1
	fi
done

dir=$(mktemp -d "${TMPDIR:-/tmp}/deiatrace-demo.XXXXXX") || exit 1
# DEMO_KEEP=1 keeps the directory (and the trace) for a closer look.
if [ "${DEMO_KEEP:-0}" != 1 ]; then
	trap 'rm -rf "$dir"' EXIT
fi

rule()
{
	printf '%s\n' "---------------------------------------------------------------- $*"
}

rule "1. run the demo under the shim"
echo "\$ cd $dir"
echo "\$ LD_PRELOAD=$SHIM $DEMO"
rc=0
(cd "$dir" && LD_PRELOAD=$SHIM "$DEMO") || rc=$?
if [ "$rc" -ne 0 ]; then
	echo "demo: the demo program exited with status $rc" >&2
	exit 1
fi
trace=$(find "$dir" -maxdepth 1 -name 'deiatrace.demo.*.bin' | head -n 1)
if [ -z "$trace" ]; then
	echo "demo: no trace was written to $dir" >&2
	exit 1
fi
echo
echo "trace written to: $trace ($(stat -c %s "$trace") bytes)"
echo "(default name deiatrace.<program>.<pid>.bin in the starting directory; DEIATRACE_OUTPUT changes it)"
echo

rule "2. analyze it"
echo "\$ $ANALYZE $(basename "$trace")"
echo
"$ANALYZE" "$trace" || {
	echo "demo: deiatrace-analyze failed with status $?" >&2
	exit 1
}
echo
if [ "${DEMO_KEEP:-0}" = 1 ]; then
	rule "done; the trace stays in $dir"
else
	rule "done; the trace was removed (DEMO_KEEP=1 keeps it)"
fi
