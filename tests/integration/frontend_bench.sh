#!/usr/bin/env bash
# deiatrace bench against a command with known sleep times: N runs counted, median within tolerance
# of the sleep, p99 >= median >= min, exit statuses reported (and a failing run makes bench exit 1),
# --compare gives a ratio near the ratio of the sleeps with a 95% interval that contains it.
source "$(dirname "$0")/common.bash" "$@"
FE=$B/deiatrace
require "$FE" "$TP/sleeper"
cd "$T" || exit 1

SLEEP_MS=100
SLOW_MS=200
# Process start-up and a loaded CI machine add time; never less than the sleep.
TOLERANCE_S=0.15

rc=0
"$FE" bench -n 7 --warmup 1 -f json -o bench.json -- "$TP/sleeper" $SLEEP_MS 2>err.txt || rc=$?
[ "$rc" -eq 0 ] || fail "bench exited $rc: $(head -c 300 err.txt)"
python3 - bench.json $SLEEP_MS $TOLERANCE_S <<'PY' || fail "bench statistics: see above"
import json, sys
d = json.load(open(sys.argv[1])); sleep = float(sys.argv[2]) / 1000; tol = float(sys.argv[3])
c = d["commands"][0]; w = c["wall_s"]; bad = []
if d["runs"] != 7 or c["runs"] != 7 or len(w["values"]) != 7: bad.append("7 runs expected, found %s" % c["runs"])
if not (sleep <= w["median"] <= sleep + tol): bad.append("median %.3f s not within [%.3f, %.3f]" % (w["median"], sleep, sleep + tol))
if not (w["min"] <= w["median"] <= w["p95"] <= w["p99"] <= w["max"]): bad.append("order min<=median<=p95<=p99<=max broken: %s" % w)
if w["stddev"] < 0: bad.append("negative stddev")
for k in ("min", "max", "mean", "median", "p95", "p99", "stddev"):
    for q in ("wall_s", "user_s", "sys_s", "cpu_s", "peak_rss_bytes"):
        if k not in c[q]: bad.append("%s.%s missing" % (q, k))
if c["peak_rss_bytes"]["max"] <= 0: bad.append("peak RSS is 0")
if c["exit_statuses"] != [0] * 7: bad.append("exit statuses %s" % c["exit_statuses"])
for b in bad: print("  frontend_bench:", b)
sys.exit(1 if bad else 0)
PY

rc=0
"$FE" bench -n 3 -- "$TP/sleeper" 10 3 >text.txt 2>&1 || rc=$?
[ "$rc" -eq 1 ] || fail "bench of a command exiting 3 exited $rc, expected 1"
grep -q "exit statuses: 3 x3" text.txt || fail "text report does not count the exit statuses: $(grep -i exit text.txt)"
grep -q "median" text.txt && grep -q "p99" text.txt || fail "text report lacks the median/p99 columns"

rc=0
"$FE" bench -n 6 -f json -o cmp.json --compare "$TP/sleeper $SLOW_MS" -- "$TP/sleeper" $SLEEP_MS 2>err.txt || rc=$?
[ "$rc" -eq 0 ] || fail "bench --compare exited $rc: $(head -c 300 err.txt)"
python3 - cmp.json <<'PY' || fail "bench --compare: see above"
import json, sys
d = json.load(open(sys.argv[1])); c = d["comparison"]; bad = []
if len(d["commands"]) != 2 or any(x["runs"] != 6 for x in d["commands"]): bad.append("two commands of 6 runs expected")
a, b = (x["wall_s"]["mean"] for x in d["commands"])
# Sleeps of 0.1 and 0.2 s: about 2, moved by start-up costs (B also starts a shell) on a loaded machine.
if c is None or not (1.3 <= c["ratio"] <= 3.0): bad.append("ratio %s not in [1.3, 3.0]" % (c and c["ratio"]))
elif abs(c["ratio"] - b / a) > 1e-6 * c["ratio"]: bad.append("ratio %s is not mean B / mean A = %s" % (c["ratio"], b / a))
elif not (1.0 < c["ci_low"] <= c["ratio"] <= c["ci_high"]): bad.append("interval [%s, %s] does not contain the ratio or reaches 1" % (c["ci_low"], c["ci_high"]))
elif c["confidence"] != 0.95: bad.append("confidence %s" % c["confidence"])
for b in bad: print("  frontend_bench:", b)
sys.exit(1 if bad else 0)
PY
# --profile: a trace per run, merged: the merged sample count is what the runs' traces hold.
require "$TP/spin" "$SHIM"
rc=0
TMPDIR=$T "$FE" bench -n 3 --profile -f json -o prof.json -- "$TP/spin" --iterations 30000000 2>err.txt || rc=$?
[ "$rc" -eq 0 ] || fail "bench --profile exited $rc: $(head -c 300 err.txt)"
traces=("$T"/deiatrace-bench.*/run.*.bin)
[ "${#traces[@]}" -eq 3 ] && [ -f "${traces[0]}" ] || fail "bench --profile -n 3 left ${#traces[@]} traces, expected 3"
if [ -f "${traces[0]}" ]; then
	sum=0
	for t in "${traces[@]}"; do
		analyze_json "$t" one.json || break
		sum=$((sum + $(summary_field one.json samples)))
	done
	merged=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["profile"]["summary"]["samples"])' prof.json)
	[ "$merged" = "$sum" ] && [ "$sum" -gt 0 ] || fail "bench --profile merged $merged samples, the runs hold $sum"
fi
# Bench results compare like traces: sleeper 100 -> 200 is a significant slow-down.
"$FE" bench -n 5 -f json -o slow.json -- "$TP/sleeper" $SLOW_MS 2>/dev/null || fail "bench sleeper $SLOW_MS"
rc=0
"$FE" diff --fail-if-slower 20 -f json -o bdiff.json bench.json slow.json 2>err.txt || rc=$?
[ "$rc" -eq 1 ] || fail "diff of bench results 100 ms -> 200 ms with --fail-if-slower 20 exited $rc, expected 1"
python3 - bdiff.json <<'PY' || fail "bench diff: see above"
import json, sys
d = json.load(open(sys.argv[1])); w = d["quantities"]["wall_s"]; bad = []
if d["verdict"] != "slower": bad.append("verdict %r, expected slower" % d["verdict"])
if not (w["ci_low"] > 1 and 30 <= w["change_pct"] <= 150): bad.append("wall change %s%%, interval from %s" % (w["change_pct"], w["ci_low"]))
for b in bad: print("  frontend_bench:", b)
sys.exit(1 if bad else 0)
PY
rc=0
"$FE" diff --fail-if-slower 20 slow.json bench.json >out.txt 2>&1 || rc=$?
[ "$rc" -eq 0 ] && grep -q "Verdict: faster" out.txt || fail "diff of bench results 200 ms -> 100 ms: exit $rc, $(grep Verdict out.txt)"
"$FE" bench -n 2 -f markdown -- "$TP/sleeper" 1 | grep -q '^| wall time |' || fail "markdown table missing"
rc=0
"$FE" bench -n 0 -- true >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 2 ] || fail "bench -n 0 exited $rc, expected 2"
finish
