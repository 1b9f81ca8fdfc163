#!/usr/bin/env bash
# deiatrace diff on two traces of one workload before/after a known 2x speed-up of diff_target
# (tests/programs/diff_work.c): the function improves by about 50%, the verdict is "faster", the
# gate stays quiet; on the reverse the gate fires (exit 1), also for the function alone and through
# deiatrace-analyze --baseline. Markdown and text render; wrong usage exits 2.
source "$(dirname "$0")/common.bash" "$@"
FE=$B/deiatrace
require "$FE" "$ANALYZE" "$SHIM" "$TP/diff_work"
cd "$T" || exit 1

"$FE" record -o slow.bin -- "$TP/diff_work" slow >/dev/null 2>err.txt || fail "record slow: $(cat err.txt)"
"$FE" record -o fast.bin -- "$TP/diff_work" fast >/dev/null 2>err.txt || fail "record fast: $(cat err.txt)"
[ -s slow.bin ] && [ -s fast.bin ] || finish

rc=0
"$FE" diff -f json -o diff.json --fail-if-slower 10 slow.bin fast.bin 2>err.txt || rc=$?
[ "$rc" -eq 0 ] || fail "diff slow fast with the gate exited $rc: $(head -c 300 err.txt)"
python3 - diff.json <<'PY' || fail "diff slow -> fast: see above"
import json, sys
d = json.load(open(sys.argv[1])); bad = []
fn = {f["name"]: f for f in d["functions"]}
t = fn.get("diff_target")
# 2x less work in diff_target: -50% expected; a loaded machine moves it a little.
if not t: bad.append("diff_target missing")
elif not (-65 <= t["change_pct"] <= -35): bad.append("diff_target change %.1f%%, expected about -50%%" % t["change_pct"])
elif abs(t["improvement_pct"] + t["change_pct"]) > 1e-6: bad.append("improvement_pct is not -change_pct")
elif not (t["baseline"] > t["optimized"] > 0): bad.append("diff_target baseline/optimized %s/%s" % (t["baseline"], t["optimized"]))
if d["verdict"] != "faster": bad.append("verdict %r, expected faster" % d["verdict"])
if d["totals"]["cpu_s"]["change_pct"] >= 0: bad.append("total CPU did not drop")
for b in bad: print("  frontend_diff:", b)
sys.exit(1 if bad else 0)
PY

rc=0
"$FE" diff --fail-if-slower 10 fast.bin slow.bin >/dev/null 2>err.txt || rc=$?
[ "$rc" -eq 1 ] || fail "the reverse diff with --fail-if-slower 10 exited $rc, expected 1"
grep -q "regressed" err.txt || fail "the gate says nothing on stderr: $(cat err.txt)"
rc=0
"$FE" diff --fail-if-slower 30 --function diff_target fast.bin slow.bin >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 1 ] || fail "--function diff_target gate on the reverse exited $rc, expected 1"
rc=0
"$FE" diff --fail-if-slower 10 --function no_such_fn fast.bin slow.bin >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 2 ] || fail "--function of an unknown function exited $rc, expected 2"
rc=0
"$ANALYZE" --baseline fast.bin --fail-if-slower 10 slow.bin >an.txt 2>&1 || rc=$?
[ "$rc" -eq 1 ] || fail "deiatrace-analyze --baseline gate exited $rc, expected 1"
grep -q "Verdict: slower" an.txt || fail "deiatrace-analyze --baseline: no 'Verdict: slower' line"
"$FE" diff -f markdown slow.bin fast.bin | grep -q '^| `diff_target` |' || fail "markdown lacks the diff_target row"
"$FE" diff slow.bin fast.bin | grep -q 'Verdict: faster' || fail "text lacks the verdict"
for args in "slow.bin" "-f folded slow.bin fast.bin" "--function x slow.bin fast.bin" "slow.bin missing.bin"; do
	rc=0
	# shellcheck disable=SC2086
	"$FE" diff $args >/dev/null 2>&1 || rc=$?
	[ "$rc" -eq 2 ] || fail "deiatrace diff $args exited $rc, expected 2"
done
finish
