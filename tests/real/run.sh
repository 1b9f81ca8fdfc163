#!/usr/bin/env bash
# Real programs under the shim: each tests/real/case_NAME.sh describes one unmodified Debian program
# (python3, perl, gcc, make, git, xz, sqlite3, sort, bash, a C++ program). For each case this runs the
# command untraced and traced (LD_PRELOAD=BUILD/libdeiatrace.so, one trace per process through %p),
# in the same fresh directory each time, and checks:
#   - stdout, stderr and the exit status are byte-for-byte the same (a case may name a filter for
#     output that is nondeterministic by nature, and says why);
#   - at least one trace was written, the traces analyze (deiatrace-analyze --format json exits 0
#     and prints JSON), and the processes the case names each wrote one;
#   - the analyzer names the functions the case expects (regexes over "module:function");
#   - the samples account for the CPU time the processes used (CPU_COVERAGE_MIN of it at least);
# and prints the traced/untraced wall-time ratio.
# Output: `PASS name (ratio X.XXx)`, `FAIL name: reason` (one line per failed check), `SKIP name: why`.
# Exit status: 0 all ran cases passed, 1 something failed, 77 every case was skipped.
# Usage: tests/real/run.sh BUILD_DIR [NAMES...]      DT_REAL_SHOW=1 also lists the top functions;
# DT_REAL_ANALYZE_ALL=1 analyzes every trace (default: the largest, and each named program's largest).
set -u

CASE_TIMEOUT_S=${DT_REAL_TIMEOUT_S:-60} # per program run; a hang under the shim is a failure
CPU_COVERAGE_MIN=0.5                    # sampled CPU s / used CPU s, over processes with enough CPU
CPU_COVERAGE_FLOOR_S=0.3                # processes using less CPU than this are too noisy to judge
ANALYZE_ALL_UP_TO=10                    # cases with more traces analyze a selection (see below)

if [ $# -lt 1 ] || [ ! -d "$1" ]; then
	echo "usage: $0 BUILD_DIR [NAMES...]" >&2
	exit 2
fi
B=$(cd "$1" && pwd)
shift
HERE=$(cd "$(dirname "$0")" && pwd)
SHIM=$B/libdeiatrace.so
ANALYZE=$B/deiatrace-analyze
export DT_REAL_SRC=$HERE DT_REAL_BUILD=$B

for f in "$SHIM" "$ANALYZE"; do
	if [ ! -f "$f" ]; then
		echo "FAIL real: missing $f (build it first: make all)"
		exit 1
	fi
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/dt-real.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

# The cases set the shim's variables themselves; inherited ones would change what they measure. The
# analyzer must not go to the network for debug info.
# shellcheck disable=SC2046 # variable names never contain spaces
unset LD_PRELOAD DEBUGINFOD_URLS $(env | sed -n 's/^\(DEIATRACE_[A-Z_]*\)=.*/\1/p')
# Same locale, time zone and PATH for both runs, and the system python3 (never a pyenv shim).
export LC_ALL=C.UTF-8 TZ=UTC PATH=/usr/local/bin:/usr/bin:/bin

if [ $# -eq 0 ]; then
	names=()
	for f in "$HERE"/case_*.sh; do
		n=${f##*/case_}
		names+=("${n%.sh}")
	done
else
	names=("$@")
fi

now_ns() { date +%s%N; }

# summarize OUT JSON...: one line per trace "prog cpu_s sampled_cpu_s" to OUT.cpu, and every function
# as "module:name" to OUT.fns; with DT_REAL_SHOW=1 the top self functions go to stdout.
summarize()
{
	local out=$1
	shift
	python3 - "$out" "${DT_REAL_SHOW:-0}" "$@" <<'PY'
import json, os, sys
out, show, files = sys.argv[1], sys.argv[2] == "1", sys.argv[3:]
fns, cpu = set(), []
for path in files:
    d = json.load(open(path))
    s = d.get("summary", {})
    prog = os.path.basename(s.get("program") or "?")
    used = float(s.get("cpu_user_s") or 0) + float(s.get("cpu_sys_s") or 0)
    cpu.append("%s %d %.3f %.3f %d %d" % (prog, s.get("pid") or 0, used, float(s.get("sample_cpu_s") or 0),
                                          s.get("threads") or 0, s.get("degraded") or 0))
    for f in d.get("functions", []):
        fns.add("%s:%s" % (f.get("module"), f.get("name")))
    if show:
        top = sorted(d.get("functions", []), key=lambda f: -int(f.get("self_samples") or 0))[:12]
        print("  %s[%s] cpu %.2fs, samples %s: %s" % (prog, s.get("pid"), used, s.get("samples"),
              ", ".join("%s:%s(%s)" % (f["module"], f["name"], f["self_samples"]) for f in top)))
open(out + ".fns", "w").write("\n".join(sorted(fns)) + "\n")
open(out + ".cpu", "w").write("\n".join(cpu) + "\n")
PY
}

# run_case NAME: runs one case in a subshell (its definitions stay there); prints its verdict lines;
# returns 0 pass, 1 fail, 77 skip.
run_case()
{
	local name=$1 file=$HERE/case_$1.sh
	if [ ! -f "$file" ]; then
		echo "FAIL $name: no such case ($file)"
		return 1
	fi
	(
		# What a case file defines (see case_python3.sh for a commented example):
		REQUIRES=()       # commands that must exist, else the case is skipped
		CMD=()            # the command, run in the case's directory
		EXPECT_FNS=()     # extended regexes, each must match some "module:function" in the traces
		EXPECT_PROGS=()   # extended regexes: each must match the basename of a traced program
		COVERAGE_CHECK=1  # 0: do not compare sampled CPU with used CPU (say why in the case)
		setup() { :; }    # prepares $PWD (a fresh, empty directory) before each run
		filter() { cat; } # stdout/stderr filter for nondeterministic output (say why in the case)
		# shellcheck source=/dev/null
		source "$file"
		local c failures=0 W=$TMP/$name
		for c in "${REQUIRES[@]}"; do
			if ! command -v "$c" >/dev/null 2>&1; then
				echo "SKIP $name: $c is not installed (scripts/deps.sh installs it)"
				exit 77
			fi
		done
		fail() { echo "FAIL $name: $*"; failures=$((failures + 1)); }
		mkdir -p "$W/traces" || exit 1

		# run_one KIND [ENV...]: fresh directory at the same path, then the command under timeout.
		run_one()
		{
			local kind=$1 rc=0 t0 t1
			shift
			rm -rf "$W/run" && mkdir "$W/run" || return 1
			if ! (cd "$W/run" && setup) >"$W/setup.log" 2>&1; then
				fail "setup failed: $(tail -c 300 "$W/setup.log")"
				return 1
			fi
			t0=$(now_ns)
			(cd "$W/run" && timeout -k 5 "$CASE_TIMEOUT_S" env "$@" "${CMD[@]}" \
				</dev/null >"$W/$kind.out" 2>"$W/$kind.err") || rc=$?
			t1=$(now_ns)
			echo "$rc" >"$W/$kind.rc"
			echo $((t1 - t0)) >"$W/$kind.ns"
			return 0
		}
		run_one plain || exit 1
		run_one traced LD_PRELOAD="$SHIM" DEIATRACE_OUTPUT="$W/traces/deiatrace.%n.%p.bin" || exit 1

		local urc trc
		urc=$(cat "$W/plain.rc")
		trc=$(cat "$W/traced.rc")
		if [ "$urc" = 124 ] || [ "$urc" = 137 ]; then
			fail "the untraced run timed out after ${CASE_TIMEOUT_S}s: the case is broken, not the shim"
		fi
		if [ "$trc" = 124 ] || [ "$trc" = 137 ]; then
			fail "the traced run timed out after ${CASE_TIMEOUT_S}s (untraced: exit $urc) - hang or deadlock under the shim?"
		elif [ "$urc" != "$trc" ]; then
			fail "exit status: untraced $urc, traced $trc; traced stderr: $(head -c 400 "$W/traced.err")"
		fi
		local s
		for s in out err; do
			filter <"$W/plain.$s" >"$W/plain.$s.f"
			filter <"$W/traced.$s" >"$W/traced.$s.f"
			if ! cmp -s "$W/plain.$s.f" "$W/traced.$s.f"; then
				fail "std$s differs (untraced $(wc -c <"$W/plain.$s") bytes, traced $(wc -c <"$W/traced.$s") bytes):" \
					"$(diff "$W/plain.$s.f" "$W/traced.$s.f" | head -n 8 | cut -c 1-200 | tr '\n' '|')"
			fi
		done

		local traces=("$W"/traces/deiatrace.*.bin) jsons=() tr j rc
		if [ ! -f "${traces[0]}" ]; then
			fail "no trace written in $W/traces ($(ls "$W/traces" | head -n 5 | tr '\n' ' '))"
			traces=()
		fi
		# Up to ANALYZE_ALL_UP_TO traces are all analyzed; beyond that only the largest trace, and the
		# largest of each program the case names (make -j2 writes over a hundred);
		# DT_REAL_ANALYZE_ALL=1 (make check-real) analyzes every one.
		local analyzed=("${traces[@]}")
		if [ "${DT_REAL_ANALYZE_ALL:-0}" != 1 ] && [ ${#traces[@]} -gt "$ANALYZE_ALL_UP_TO" ]; then
			# The largest trace overall, and the largest of each program EXPECT_PROGS names.
			local progs_re
			progs_re=$(IFS='|'; echo "${EXPECT_PROGS[*]:-}")
			mapfile -t analyzed < <(ls -S "${traces[@]}" | awk -v re="^($progs_re)\$" '{
				n = $0; sub(/.*\/deiatrace\./, "", n); sub(/\.[0-9]+\.bin$/, "", n)
				if (NR == 1 || (re != "^()$" && n ~ re && !seen[n]++)) print }' | sort -u)
		fi
		for tr in "${analyzed[@]}"; do
			j=${tr%.bin}.json
			rc=0
			timeout 120 "$ANALYZE" --format json "$tr" >"$j" 2>"$j.err" || rc=$?
			if [ "$rc" -ne 0 ]; then
				fail "deiatrace-analyze --format json ${tr##*/} exited $rc: $(head -c 300 "$j.err")"
			elif ! python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$j" 2>/dev/null; then
				fail "deiatrace-analyze --format json ${tr##*/} printed invalid JSON"
			else
				jsons+=("$j")
			fi
		done
		if [ ${#jsons[@]} -gt 0 ]; then
			summarize "$W/sum" "${jsons[@]}"
			local p re
			for p in "${EXPECT_PROGS[@]}"; do
				if ! cut -d' ' -f1 "$W/sum.cpu" | grep -Eqx -- "$p"; then
					fail "no trace from $p (traces from: $(cut -d' ' -f1 "$W/sum.cpu" | sort | uniq -c | tr -s ' \n' ' '))"
				fi
			done
			for re in "${EXPECT_FNS[@]}"; do
				if ! grep -Eq -- "$re" "$W/sum.fns"; then
					fail "no function matches /$re/ in the $(wc -l <"$W/sum.fns") functions of ${#jsons[@]} trace(s)"
				fi
			done
			if [ "$COVERAGE_CHECK" = 1 ]; then
				# A process whose samples stand for far less CPU than it used has threads the
				# sampler never reaches (e.g. threads started with every signal blocked).
				# A process that installed its own SIGPROF handler or ITIMER_PROF timer has the
				# shim step aside by design (degraded bit 1, DT_DEGRADED_STEPPED_ASIDE): not
				# judged here, but named, so the loss of its CPU profile stays visible.
				local bad aside
				bad=$(awk -v min="$CPU_COVERAGE_MIN" -v floor="$CPU_COVERAGE_FLOOR_S" \
					'int($6 / 2) % 2 == 0 && $3 >= floor && $4 < min * $3 { printf "%s[%s] used %.2f CPU s in %d threads, samples cover %.2f s; ", $1, $2, $3, $5, $4 }' \
					"$W/sum.cpu")
				[ -n "$bad" ] && fail "samples miss CPU time: ${bad%; }"
				aside=$(awk 'int($6 / 2) % 2 == 1 { printf "%s[%s] (%.2f CPU s) ", $1, $2, $3 }' "$W/sum.cpu")
				if [ -n "$aside" ]; then
					echo "KNOWN $name: the shim stepped aside (the program claimed SIGPROF or ITIMER_PROF; no CPU samples) in: ${aside% }"
				fi
			fi
		fi

		local ratio
		ratio=$(awk -v a="$(cat "$W/traced.ns")" -v b="$(cat "$W/plain.ns")" \
			'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
		local detail
		detail="ratio ${ratio}x, untraced $(awk -v b="$(cat "$W/plain.ns")" 'BEGIN { printf "%.2f", b / 1e9 }') s, traced $(awk -v b="$(cat "$W/traced.ns")" 'BEGIN { printf "%.2f", b / 1e9 }') s, ${#traces[@]} trace(s), ${#jsons[@]} analyzed"
		if [ "$failures" -eq 0 ]; then
			echo "PASS $name (ratio ${ratio}x)"
			echo "  $name: $detail"
			exit 0
		fi
		echo "  $name: $detail"
		exit 1
	)
}

passed=0
failed=0
skipped=0
for n in "${names[@]}"; do
	rc=0
	run_case "$n" || rc=$?
	case $rc in
	0) passed=$((passed + 1)) ;;
	77) skipped=$((skipped + 1)) ;;
	*) failed=$((failed + 1)) ;;
	esac
done
echo "real programs: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -gt 0 ] && exit 1
[ "$passed" -eq 0 ] && [ "$skipped" -gt 0 ] && exit 77
exit 0
