#!/usr/bin/env bash
# make bench: the shim's overhead on CPU-bound workloads, measured in one run against an untraced run
# and against gperftools' CPU profiler when it is installed. Variants alternate within each round so
# that drift (other load, frequency changes) hits all of them alike; medians are reported.
# Never part of `make check`: timings are not pass/fail.
# Usage: bench/run.sh BUILD_DIR        BENCH_ROUNDS=N (default 5) rounds per workload
set -u

ROUNDS=${BENCH_ROUNDS:-5}
GPERF_LIB=/usr/lib/x86_64-linux-gnu/libprofiler.so.0

if [ $# -ne 1 ] || [ ! -d "$1" ]; then
	echo "usage: $0 BUILD_DIR" >&2
	exit 2
fi
B=$(cd "$1" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
SHIM=$B/libdeiatrace.so
ANALYZE=$B/deiatrace-analyze
TP=$B/tests/programs
for f in "$SHIM" "$ANALYZE" "$TP/cpu_shares" "$TP/threads_ratio"; do
	if [ ! -f "$f" ]; then
		echo "bench: $f is missing; run: make B=$1 all tests" >&2
		exit 1
	fi
done
W=$(mktemp -d "${TMPDIR:-/tmp}/deiatrace-bench.XXXXXX") || exit 1
trap 'rm -rf "$W"' EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
unset LD_PRELOAD CPUPROFILE
# shellcheck disable=SC2046 # variable names never contain spaces
unset $(env | sed -n 's/^\(DEIATRACE_[A-Z_]*\)=.*/\1/p')

variants=(untraced deiatrace)
if [ -f "$GPERF_LIB" ]; then
	variants+=(gperftools)
else
	echo "bench: $GPERF_LIB not found (apt-get install libgoogle-perftools4): gperftools skipped"
fi

# median FILE: the median of the numbers in FILE, one per line.
median()
{
	sort -g "$1" | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.6f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# run_variant VARIANT DIR CMD...: run CMD once as VARIANT in DIR; append its wall seconds to
# $W/VARIANT.times and its CPU seconds (user + sys, children included) to $W/VARIANT.cpu.
# stdout goes to $W/VARIANT.out. CPU time is the steadier number on a busy machine.
run_variant()
{
	local variant=$1 dir=$2 rc=0 TIMEFORMAT='%R %U %S'
	shift 2
	mkdir -p "$dir"
	{
		time case $variant in
		untraced) (cd "$dir" && "$@") >"$W/$variant.out" 2>"$W/$variant.err" || rc=$? ;;
		deiatrace) (cd "$dir" && LD_PRELOAD=$SHIM "$@") >"$W/$variant.out" 2>"$W/$variant.err" || rc=$? ;;
		gperftools) (cd "$dir" && LD_PRELOAD=$GPERF_LIB CPUPROFILE=$dir/gperf.prof CPUPROFILE_FREQUENCY=1000 "$@") \
			>"$W/$variant.out" 2>"$W/$variant.err" || rc=$? ;;
		esac
	} 2>"$W/time.txt"
	if [ "$rc" -ne 0 ]; then
		echo "bench: $variant run of $* failed with status $rc: $(head -c 200 "$W/$variant.err")" >&2
		return 1
	fi
	awk '{ print $1 }' "$W/time.txt" >>"$W/$variant.times"
	awk '{ printf "%.3f\n", $2 + $3 }' "$W/time.txt" >>"$W/$variant.cpu"
}

# bench_workload NAME CMD...: ROUNDS alternating rounds of every variant, then the table.
bench_workload()
{
	local name=$1 r v base base_cpu m c trace
	shift
	rm -f "$W"/*.times "$W"/*.cpu
	echo
	echo "== $name: $* ($ROUNDS rounds, variants alternating)"
	for ((r = 1; r <= ROUNDS; r++)); do
		for v in "${variants[@]}"; do
			rm -rf "$W/run-$v"
			run_variant "$v" "$W/run-$v" "$@" || return 1
		done
	done
	cmp -s "$W/untraced.out" "$W/deiatrace.out" || echo "bench: WARNING: $name's stdout differs under the shim"
	base=$(median "$W/untraced.times")
	base_cpu=$(median "$W/untraced.cpu")
	printf '%-12s %12s %8s %9s   %12s %8s %9s\n' variant "median wall" ratio overhead "median CPU" ratio overhead
	for v in "${variants[@]}"; do
		m=$(median "$W/$v.times")
		c=$(median "$W/$v.cpu")
		awk -v v="$v" -v m="$m" -v b="$base" -v c="$c" -v bc="$base_cpu" 'BEGIN {
			printf "%-12s %10.3f s %8.3f %+8.1f%%   %10.3f s %8.3f %+8.1f%%\n",
			       v, m, m / b, (m / b - 1) * 100, c, c / bc, (c / bc - 1) * 100 }'
	done
	echo "(load average now: $(cut -d' ' -f1-3 /proc/loadavg); wall times suffer from other load, CPU times less)"

	trace=$(find "$W/run-deiatrace" -maxdepth 1 -name 'deiatrace.*.bin' | head -n 1)
	if [ -n "$trace" ]; then
		local t0 t1 times=$W/analyze.times
		rm -f "$times"
		for _ in 1 2 3; do
			t0=$EPOCHREALTIME
			"$ANALYZE" "$trace" >/dev/null 2>&1 || echo "bench: deiatrace-analyze failed on $trace"
			t1=$EPOCHREALTIME
			awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f\n", b - a }' >>"$times"
		done
		echo "deiatrace trace: $(stat -c %s "$trace") bytes; analysis (text report): $(median "$times") s median of 3"
		"$ANALYZE" --format json "$trace" 2>/dev/null | python3 -c '
import json, sys
try:
    s = json.load(sys.stdin)["summary"]
except Exception:
    sys.exit(0)
print("deiatrace summary: %s samples at %s Hz asked, %s Hz achieved" % (s.get("samples"), s.get("sample_hz"), s.get("achieved_hz")))'
	else
		echo "bench: WARNING: the traced run left no trace"
	fi
	if [ -f "$W/run-gperftools/gperf.prof" ]; then
		echo "gperftools profile: $(stat -c %s "$W/run-gperftools/gperf.prof") bytes"
	fi
}

echo "deiatrace benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, $(uname -r)"
status=0
bench_workload cpu_shares "$TP/cpu_shares" || status=1
bench_workload threads_ratio "$TP/threads_ratio" || status=1

# ---------------------------------------------------------------- more benchmarks
# Every other bench/*.sh (e.g. the malloc benchmark, bench/malloc_*.sh) runs here with BUILD_DIR as
# its only argument; each prints its own section. A failing one makes `make bench` fail.
for extra in "$HERE"/*.sh; do
	[ "$(basename "$extra")" = run.sh ] && continue
	[ -f "$extra" ] || continue
	echo
	echo "== $(basename "$extra")"
	bash "$extra" "$B" || {
		echo "bench: $(basename "$extra") failed" >&2
		status=1
	}
done
exit "$status"
