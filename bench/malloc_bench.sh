#!/usr/bin/env bash
# Memory tracking overhead in one run: untraced vs deiatrace vs heaptrack vs the tcmalloc heap
# profiler (when installed) on a pure malloc/free loop (1 thread, then 4 threads), a C++ std::map
# workload and a python3 script. Per tool: median wall time and its ratio to untraced, ns added per
# allocation (loops), peak RSS of the traced process, profile size, analysis time. Variants alternate
# within each round so that drift on a shared machine hits them alike. CPU time (user + sys of the
# process and its children, e.g. heaptrack's interpreter) is reported next to wall time: on a machine
# shared with other jobs it is the steadier of the two. Timings are never pass/fail.
# Usage: bench/malloc_bench.sh BUILD_DIR     BENCH_ROUNDS=N (default 3), BENCH_TCMALLOC=1 adds tcmalloc
set -u

ROUNDS=${BENCH_ROUNDS:-3}
LOOP_PAIRS=2000000        # single-thread malloc+free pairs
LOOP4_PAIRS=500000        # per thread, 4 threads
MAP_KEYS=100000
PY_ITEMS=10000
TCMALLOC=/usr/lib/x86_64-linux-gnu/libtcmalloc.so.4

if [ $# -ne 1 ] || [ ! -d "$1" ]; then
	echo "usage: $0 BUILD_DIR" >&2
	exit 2
fi
B=$(cd "$1" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
SHIM=$B/libdeiatrace.so
ANALYZE=$B/deiatrace-analyze
for f in "$SHIM" "$ANALYZE" "$B/bench/malloc_loop" "$B/bench/malloc_map"; do
	if [ ! -f "$f" ]; then
		echo "malloc_bench: $f is missing; run: make B=$1 all bench" >&2
		exit 1
	fi
done
W=$(mktemp -d "${TMPDIR:-/tmp}/deiatrace-mbench.XXXXXX") || exit 1
trap 'rm -rf "$W"' EXIT
unset LD_PRELOAD HEAPPROFILE
# shellcheck disable=SC2046 # variable names never contain spaces
unset $(env | sed -n 's/^\(DEIATRACE_[A-Z_]*\)=.*/\1/p')

# deia-nocpu is deiatrace with DEIATRACE_CPU=off: memory tracking alone, like heaptrack (which samples
# no CPU time); deiatrace is the default, memory tracking plus 1 kHz CPU sampling.
TOOLS="untraced deiatrace deia-nocpu"
command -v heaptrack >/dev/null && TOOLS="$TOOLS heaptrack"
# Opt-in: on a 2-CPU VM its heap profiler took 125 us per allocation on the 1-thread loop (1237x;
# it unwinds every allocation with libunwind), which alone would make this bench run for an hour.
[ -f "$TCMALLOC" ] && [ "${BENCH_TCMALLOC:-0}" = 1 ] && TOOLS="$TOOLS tcmalloc"

now_ns() { date +%s%N; }

# usage OUT CMD...: runs CMD, writes "peak_rss_kb cpu_ns" to OUT: wait4's rusage in microseconds (GNU
# time prints centiseconds, too coarse for a 40 ms loop); it covers the descendants CMD waited for.
usage()
{
	python3 -c 'import os, sys
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
_, status, ru = os.wait4(pid, 0)
open(sys.argv[1], "w").write("%d %d\n" % (ru.ru_maxrss, round((ru.ru_utime + ru.ru_stime) * 1e9)))
sys.exit(os.waitstatus_to_exitcode(status) & 0xff)' "$@"
}

# run TOOL OUTDIR CMD...: run CMD under TOOL; prints "wall_ns peak_rss_kb cpu_ns".
run()
{
	local tool=$1 out=$2
	shift 2
	rm -rf "$out" && mkdir -p "$out"
	local t0 t1
	t0=$(now_ns)
	case $tool in
	untraced) usage "$out/rss" "$@" >/dev/null 2>&1 ;;
	deiatrace) DEIATRACE_OUTPUT="$out/deiatrace.%n.%p.bin" usage "$out/rss" \
		env LD_PRELOAD="$SHIM" "$@" >/dev/null 2>&1 ;;
	deia-nocpu) DEIATRACE_CPU=off DEIATRACE_OUTPUT="$out/deiatrace.%n.%p.bin" usage "$out/rss" \
		env LD_PRELOAD="$SHIM" "$@" >/dev/null 2>&1 ;;
	heaptrack) usage "$out/rss" heaptrack -o "$out/heaptrack" "$@" >/dev/null 2>&1 ;;
	tcmalloc) HEAPPROFILE="$out/heap" usage "$out/rss" \
		env LD_PRELOAD="$TCMALLOC" "$@" >/dev/null 2>&1 ;;
	esac
	t1=$(now_ns)
	echo "$((t1 - t0)) $(tail -n 1 "$out/rss")"
}

# analyze TOOL OUTDIR: prints "profile_bytes analysis_ns" (the largest profile file of the run).
analyze()
{
	local tool=$1 out=$2 f t0 t1 bytes
	case $tool in
	deiatrace | deia-nocpu) f=$(ls -S "$out"/deiatrace.*.bin 2>/dev/null | head -n 1) ;;
	heaptrack) f=$(ls -S "$out"/heaptrack* 2>/dev/null | head -n 1) ;;
	tcmalloc) f=$(ls -S "$out"/heap* 2>/dev/null | head -n 1) ;;
	*) echo "- -"; return ;;
	esac
	[ -n "$f" ] || { echo "- -"; return; }
	bytes=$(stat -c %s "$f")
	t0=$(now_ns)
	case $tool in
	deiatrace | deia-nocpu) "$ANALYZE" --format json "$f" >/dev/null 2>&1 ;;
	heaptrack) heaptrack_print "$f" >/dev/null 2>&1 ;;
	tcmalloc) google-pprof --text "$1" "$f" >/dev/null 2>&1 || true ;;
	esac
	t1=$(now_ns)
	echo "$bytes $((t1 - t0))"
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR ? a[int((NR + 1) / 2)] : 0)}'; }

# bench NAME ALLOCS CMD...: ALLOCS is the allocation count (0 when unknown) for ns per allocation.
bench()
{
	local name=$1 allocs=$2
	shift 2
	local tool r
	for r in $(seq "$ROUNDS"); do
		for tool in $TOOLS; do
			run "$tool" "$W/$name.$tool" "$@" >>"$W/$name.$tool.runs"
			[ "$r" -eq "$ROUNDS" ] && analyze "$tool" "$W/$name.$tool" >"$W/$name.$tool.analysis"
		done
	done
	local base cbase
	base=$(awk '{print $1}' "$W/$name.untraced.runs" | median)
	cbase=$(awk '{print $3}' "$W/$name.untraced.runs" | median)
	printf '%-16s %-10s %9s %7s %8s %7s %12s %10s %11s %10s\n' workload tool wall_ms ratio cpu_ms ratio \
		cpu_ns/alloc peak_rss_MB profile_KB analysis_ms
	for tool in $TOOLS; do
		local wall cpu rss prof ana
		wall=$(awk '{print $1}' "$W/$name.$tool.runs" | median)
		rss=$(awk '{print $2}' "$W/$name.$tool.runs" | median)
		cpu=$(awk '{print $3}' "$W/$name.$tool.runs" | median)
		read -r prof ana <"$W/$name.$tool.analysis" 2>/dev/null || { prof=-; ana=-; }
		awk -v n="$name" -v t="$tool" -v w="$wall" -v b="$base" -v c="$cpu" -v cb="$cbase" -v a="$allocs" \
			-v r="$rss" -v p="$prof" -v s="$ana" 'BEGIN {
			printf "%-16s %-10s %9.1f %6.2fx %8.1f %6.2fx %12s %10.1f %11s %10s\n", n, t, w / 1e6, w / b,
			       c / 1e6, (cb > 0 ? c / cb : 0), (a > 0 ? sprintf("%.1f", (c - cb) / a) : "-"), r / 1024,
			       (p == "-" ? "-" : sprintf("%.0f", p / 1024)), (s == "-" ? "-" : sprintf("%.0f", s / 1e6)) }'
	done
	echo
}

echo "malloc_bench: median of $ROUNDS rounds; tools: $TOOLS; $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
bench malloc_loop_1t "$LOOP_PAIRS" "$B/bench/malloc_loop" "$LOOP_PAIRS" 1
bench malloc_loop_4t "$((LOOP4_PAIRS * 4))" "$B/bench/malloc_loop" "$LOOP4_PAIRS" 4
bench std_map 0 "$B/bench/malloc_map" "$MAP_KEYS" 5
if command -v python3 >/dev/null; then
	bench python3_json 0 python3 "$HERE/malloc_script.py" "$PY_ITEMS"
fi
exit 0
