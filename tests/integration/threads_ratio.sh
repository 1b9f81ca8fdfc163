#!/usr/bin/env bash
# threads_ratio: two threads burn CPU concurrently, one twice as much as the other. With per-thread
# sampling work_double gets 2/3 of the two functions' samples (within 5 points), and the trace counts
# at least two threads.
# shellcheck source=tests/integration/common.bash
source "$(dirname "$0")/common.bash" "$@"
require "$SHIM" "$ANALYZE" "$TP/threads_ratio"

TOLERANCE_PTS=5

mkdir "$T/run"
rc=0
(cd "$T/run" && traced "$TP/threads_ratio" --truth "$T/truth.json" >"$T/out" 2>"$T/err") || rc=$?
[ "$rc" -eq 0 ] || fail "threads_ratio under the shim exited $rc: $(head -c 300 "$T/err")"
trace=$(only_trace "$T/run") || { fail "expected one deiatrace.*.bin in the run directory, found: $(ls "$T/run")"; finish; }
analyze_json "$trace" "$T/report.json" || finish

double=$(self_pct "$T/report.json" work_double)
single=$(self_pct "$T/report.json" work_single)
truth=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); a=d["work_double_cpu_ns"]; b=d["work_single_cpu_ns"]; print("%.2f" % (100.0*a/(a+b)))' "$T/truth.json")
share=$(python3 -c 'import sys; a, b = map(float, sys.argv[1:3]); print("%.2f" % (100.0 * a / (a + b) if a + b > 0 else 0))' "$double" "$single")
note "work_double $double%, work_single $single% -> work_double's share $share% (2:1 is 66.67%, thread clocks measured $truth%)"
within "$share" 66.667 "$TOLERANCE_PTS" ||
	fail "work_double:work_single is not 2:1: work_double has $share% of their samples (want 66.67 +- $TOLERANCE_PTS; self_pct $double vs $single)"

threads=$(summary_field "$T/report.json" threads)
note "summary.threads = $threads"
python3 -c 'import sys; sys.exit(0 if float(sys.argv[1] or 0) >= 2 else 1)' "$threads" ||
	fail "summary.threads is '$threads', expected >= 2"
finish
