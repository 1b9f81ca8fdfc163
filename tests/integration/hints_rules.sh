#!/usr/bin/env bash
# hints_rules: real programs under the shim, then `deiatrace-analyze --format json`: each hint rule fires
# on the workload built to trigger it (tests/programs/hint_rules.c MODE) and stays silent on its twin
# built not to. Also: high_calls from exact -finstrument-functions counts (instr_calls' leaf, 1,000,000
# calls), --no-hints, --hint RULE.PARAM=VALUE, and a bad --hint is a usage error (exit 2).
source "$(dirname "$0")/common.bash" "$@"
require "$SHIM" "$ANALYZE" "$TP/hint_rules" "$TP/instr_calls"

# trace_of MODE: run hint_rules MODE under the shim in its own directory; prints the trace path.
trace_of()
{
	local d=$T/$1 rc=0
	mkdir -p "$d"
	(cd "$d" && LD_PRELOAD=$SHIM "$TP/hint_rules" "$1" >"$d/out" 2>"$d/err") || rc=$?
	if [ "$rc" -ne 0 ]; then
		fail "hint_rules $1 exited $rc under the shim: $(head -c 200 "$d/err")"
		return 1
	fi
	only_trace "$d" || {
		fail "hint_rules $1: expected one deiatrace.*.bin"
		return 1
	}
}

# expect JSON MODE fires|silent RULE [FUNCTION]: FUNCTION "-" or absent means any function; "null" the
# whole program.
expect()
{
	local verdict
	verdict=$(python3 - "$@" <<'PY'
import json, sys
path, mode, want, rule = sys.argv[1:5]
fn = sys.argv[5] if len(sys.argv) > 5 else "-"
doc = json.load(open(path))
hits = [h for h in doc["hints"] if h["rule"] == rule and
        (fn == "-" or (fn == "null" and h["function"] is None) or h["function"] == fn)]
for h in hits:
    for k in ("rule", "function", "module", "related_function", "evidence", "evidence_text", "suggestion"):
        if k not in h:
            print("hint %s lacks %s" % (rule, k))
    if not isinstance(h["evidence"], dict) or not h["evidence"] or \
       not all(isinstance(v, (int, float)) for v in h["evidence"].values()):
        print("hint %s: evidence is not an object of numbers: %r" % (rule, h["evidence"]))
    if not h["suggestion"].endswith("."):
        print("hint %s: suggestion is not one sentence: %r" % (rule, h["suggestion"]))
if want == "fires" and not hits:
    print("%s: no %s hint for %s; hints: %s" % (mode, rule, fn,
          [(h["rule"], h["function"]) for h in doc["hints"]]))
if want == "silent" and hits:
    print("%s: unexpected %s hint: %s" % (mode, rule, [(h["function"], h["evidence"]) for h in hits]))
PY
	)
	[ -z "$verdict" ] || fail "$verdict"
}

for mode in cpu_hot cpu_flat small big leak noleak mem memsmall sys; do
	trace=$(trace_of "$mode") || continue
	analyze_json "$trace" "$T/$mode.json" || continue
	J=$T/$mode.json
	case $mode in
	cpu_hot)
		expect "$J" $mode fires high_time hot_leaf
		expect "$J" $mode fires hot_leaf_single_caller hot_leaf
		expect "$J" $mode silent high_time hot_caller
		expect "$J" $mode silent high_sys
		expect "$J" $mode silent small_allocs
		python3 - "$J" <<'PY' || fail "cpu_hot: hot_leaf_single_caller does not name hot_caller as the caller"
import json, sys
h = [h for h in json.load(open(sys.argv[1]))["hints"] if h["rule"] == "hot_leaf_single_caller"]
sys.exit(0 if h and h[0]["related_function"] == "hot_caller" else 1)
PY
		;;
	cpu_flat)
		expect "$J" $mode silent high_time
		expect "$J" $mode silent hot_leaf_single_caller
		;;
	small)
		expect "$J" $mode fires small_allocs churn_small
		expect "$J" $mode fires high_calls churn_small
		;;
	big)
		expect "$J" $mode silent small_allocs
		expect "$J" $mode silent high_calls
		;;
	leak) expect "$J" $mode fires leak leak_blocks ;;
	noleak) expect "$J" $mode silent leak ;;
	mem)
		expect "$J" $mode fires high_memory hold_big
		expect "$J" $mode silent high_memory main
		;;
	memsmall) expect "$J" $mode silent high_memory ;;
	sys)
		expect "$J" $mode fires high_sys null
		;;
	esac
done

# Exact calls: with --inclusive the 1M-call leaf is a bottleneck, and its count is the exact one.
d=$T/instr
mkdir -p "$d"
if (cd "$d" && LD_PRELOAD=$SHIM "$TP/instr_calls" >/dev/null 2>&1) && trace=$(only_trace "$d"); then
	"$ANALYZE" --format json --inclusive "$trace" >"$d/incl.json" 2>/dev/null ||
		fail "deiatrace-analyze --inclusive failed on instr_calls"
	verdict=$(python3 - "$d/incl.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
h = [h for h in doc["hints"] if h["rule"] == "high_calls" and h["function"] == "leaf"]
if not h:
    print("instr_calls --inclusive: no high_calls hint for leaf: %s" % [(x["rule"], x["function"]) for x in doc["hints"]])
elif h[0]["evidence"].get("calls") != 1000000:
    print("instr_calls: high_calls evidence %r, expected calls 1000000" % h[0]["evidence"])
if any(x["rule"] == "high_calls" and x["function"] in ("work_unit", "work_outer", "main") for x in doc["hints"]):
    print("instr_calls: high_calls for a function called at most 40 times")
PY
	)
	[ -z "$verdict" ] || fail "$verdict"
else
	fail "instr_calls under the shim left no trace"
fi

# Switches: --no-hints, a threshold that silences a rule, and usage errors.
if trace=$(only_trace "$T/cpu_hot"); then
	"$ANALYZE" --format json --no-hints "$trace" >"$T/nohints.json" 2>/dev/null || fail "--no-hints failed"
	python3 -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))["hints"] == [] else 1)' \
		"$T/nohints.json" || fail "--no-hints: the JSON still has hints"
	"$ANALYZE" --no-hints "$trace" 2>/dev/null | grep -q '^Hints' && fail "--no-hints: the text report has a Hints section"
	"$ANALYZE" --hint high_time.min_pct=100 --format json "$trace" >"$T/t100.json" 2>/dev/null ||
		fail "--hint high_time.min_pct=100 failed"
	expect "$T/t100.json" "cpu_hot (high_time.min_pct=100)" silent high_time
	expect "$T/t100.json" "cpu_hot (high_time.min_pct=100)" fires hot_leaf_single_caller hot_leaf
	"$ANALYZE" "$trace" 2>/dev/null | grep -q '^  high_time: hot_leaf$' || fail "text report: no 'high_time: hot_leaf' hint"
	for bad in nosuch.param=1 high_time.min_pct=abc high_time.min_pct; do
		rc=0
		"$ANALYZE" --hint "$bad" "$trace" >/dev/null 2>"$T/bad.err" || rc=$?
		[ "$rc" -eq 2 ] || fail "--hint $bad: exit $rc, expected 2"
		grep -q '^deiatrace-analyze: --hint: ' "$T/bad.err" || fail "--hint $bad: no usage message: $(head -c 200 "$T/bad.err")"
	done
	"$ANALYZE" --help | grep -q 'high_memory.min_mib' || fail "--help does not list the hint parameters"
fi
finish
