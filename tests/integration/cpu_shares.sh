#!/usr/bin/env bash
# cpu_shares: the profile's self_pct of work_large/work_medium/work_small must be within 3 points of
# the shares the program measured itself with the thread CPU clock around every call.
# shellcheck source=tests/integration/common.bash
source "$(dirname "$0")/common.bash" "$@"
require "$SHIM" "$ANALYZE" "$TP/cpu_shares"

TOLERANCE_PTS=3

mkdir "$T/run"
rc=0
(cd "$T/run" && traced "$TP/cpu_shares" --truth "$T/truth.json" >"$T/out" 2>"$T/err") || rc=$?
[ "$rc" -eq 0 ] || fail "cpu_shares under the shim exited $rc: $(head -c 300 "$T/err")"
trace=$(only_trace "$T/run") || { fail "expected one deiatrace.*.bin in the run directory, found: $(ls "$T/run")"; finish; }
analyze_json "$trace" "$T/report.json" || finish

for fn in work_large work_medium work_small; do
	want=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["functions"][sys.argv[2]]["self_pct"])' \
		"$T/truth.json" "$fn")
	got=$(self_pct "$T/report.json" "$fn")
	note "$fn: profile self_pct $got, measured $want"
	within "$got" "$want" "$TOLERANCE_PTS" ||
		fail "$fn: self_pct $got, the program measured $want (tolerance $TOLERANCE_PTS points)"
done
# Unwinding: every sample after startup has main on its stack (the test programs are built without
# frame pointers, so this goes through DWARF CFI).
main_total=$(python3 -c '
import json, sys
print(max([float(f.get("total_pct") or 0) for f in json.load(open(sys.argv[1])).get("functions", [])
           if f.get("name") == "main"] or [0]))' "$T/report.json")
note "main: total_pct $main_total"
python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) >= 95 else 1)' "$main_total" ||
	fail "main's total_pct is $main_total, expected >= 95 (stacks not unwound to main?)"
finish
