#!/usr/bin/env bash
# Exact memory tracking against ground truth: tests/programs/mem_truth knows how many calls and bytes
# each of its allocating functions makes, which one holds the heap peak and which one leaks; the
# report must show exactly those numbers (per function and in the summary). Also: DEIATRACE_MALLOC=off,
# and DEIATRACE_CPU=off (same numbers, no samples, no SIGPROF handler).
source "$(dirname "$0")/common.bash" "$@"
require "$SHIM" "$ANALYZE" "$TP/mem_truth"
command -v python3 >/dev/null || skip "python3 is needed to read the JSON report"

# compare TRUTH JSON: every "truth KEY VALUE" line must match the report (see mem_threads.sh for keys).
compare()
{
	python3 - "$1" "$2" <<'PY'
import json, sys
truth = {}
for line in open(sys.argv[1]):
    parts = line.split()
    if len(parts) == 3 and parts[0] == "truth":
        truth[parts[1]] = int(parts[2])
report = json.load(open(sys.argv[2]))
summary = report["summary"]
funcs = {}
for f in report["functions"]:
    funcs.setdefault(f["name"], f)
SUMMARY = {"allocations": "allocations", "frees": "frees", "allocated_bytes": "allocated_bytes",
           "heap_peak": "heap_peak_bytes", "leaked_bytes": "leaked_bytes",
           "leaked_allocations": "leaked_allocations"}
FUNC = {"calls": "alloc_calls", "bytes": "alloc_bytes", "peak_live": "peak_live_bytes", "leaked": "leaked_bytes",
        "realloc_calls": "realloc_calls"}
bad = 0
for key, want in sorted(truth.items()):
    scope, field = key.split(".", 1)
    if scope == "total":
        got = summary.get(SUMMARY[field])
    else:
        f = funcs.get(scope)
        got = f.get(FUNC[field]) if f else None
    if got != want:
        print(f"{key}: expected {want}, report says {got}")
        bad += 1
# Only mem_chain resizes: no other function may be charged realloc calls (the shim marks a resize with
# an exact leaf frame, its own realloc; a stack mixed up with a malloc stack would show here).
for name, f in funcs.items():
    if name != "mem_chain" and not f.get("allocator") and f.get("realloc_calls"):
        print(f"{name}: realloc_calls {f.get('realloc_calls')}, expected 0")
        bad += 1
# Nothing else may hold memory at the peak or leak: those belong to the two functions that do.
for name, f in funcs.items():
    if name not in ("mem_hold_peak", "mem_leak") and (f.get("peak_live_bytes") or f.get("leaked_bytes")):
        if name not in ("main", "__libc_start_call_main", "__libc_start_main", "_start"):
            print(f"{name}: peak_live_bytes {f.get('peak_live_bytes')} leaked_bytes {f.get('leaked_bytes')}, expected 0")
            bad += 1
sys.exit(1 if bad else 0)
PY
}

DEIATRACE_OUTPUT="$T/deiatrace.%n.%p.bin" traced "$TP/mem_truth" >"$T/truth.txt" 2>"$T/stderr.txt" ||
	fail "mem_truth exited with status $? under the shim"
if trace=$(only_trace "$T"); then
	if "$ANALYZE" --format json "$trace" >"$T/report.json" 2>"$T/analyze.err"; then
		grep -q "^truth total.allocations 6002007$" "$T/truth.txt" || fail "mem_truth printed an unexpected truth"
		out=$(compare "$T/truth.txt" "$T/report.json") || fail "report differs from the truth: $(echo "$out" | tr '\n' ';')"
		python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["summary"]; sys.exit(0 if s.get("memory_tracked") is True and s.get("heap_peak_time_s", 1) is not None else 1)' \
			"$T/report.json" || fail "summary.memory_tracked is not true"
	else
		fail "deiatrace-analyze failed: $(head -c 300 "$T/analyze.err")"
	fi
else
	fail "expected exactly one trace in $T, found: $(ls "$T" | tr '\n' ' ')"
fi

# DEIATRACE_MALLOC=off: the hooks forward untracked and the report says so.
mkdir -p "$T/off"
DEIATRACE_MALLOC=off DEIATRACE_OUTPUT="$T/off/deiatrace.%n.%p.bin" traced "$TP/mem_truth" >/dev/null 2>&1 ||
	fail "mem_truth exited with status $? under the shim with DEIATRACE_MALLOC=off"
if trace=$(only_trace "$T/off") && "$ANALYZE" --format json "$trace" >"$T/off.json" 2>/dev/null; then
	python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["summary"]; sys.exit(0 if not s.get("memory_tracked") and not s.get("allocations") else 1)' \
		"$T/off.json" || fail "DEIATRACE_MALLOC=off still tracked allocations"
else
	fail "no readable trace with DEIATRACE_MALLOC=off"
fi
# DEIATRACE_CPU=off: the same exact counts, no CPU samples, and SIGPROF left alone (no handler:
# bit SIGPROF-1 of SigCgt in /proc/self/status, which cat reads about itself).
mkdir -p "$T/nocpu"
DEIATRACE_CPU=off DEIATRACE_OUTPUT="$T/nocpu/deiatrace.%n.%p.bin" traced "$TP/mem_truth" >"$T/nocpu.txt" 2>/dev/null ||
	fail "mem_truth exited with status $? under the shim with DEIATRACE_CPU=off"
if trace=$(only_trace "$T/nocpu") && "$ANALYZE" --format json "$trace" >"$T/nocpu.json" 2>/dev/null; then
	out=$(compare "$T/nocpu.txt" "$T/nocpu.json") ||
		fail "DEIATRACE_CPU=off: report differs from the truth: $(echo "$out" | tr '\n' ';')"
	python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["summary"]; sys.exit(0 if s["samples"] == 0 and s["sampler"].startswith("off") else 1)' \
		"$T/nocpu.json" || fail "DEIATRACE_CPU=off: the trace has samples or does not name the sampler off"
	for fmt in text markdown html; do
		"$ANALYZE" --format "$fmt" "$trace" 2>/dev/null | grep -q "CPU sampling was off (DEIATRACE_CPU=off)" ||
			fail "DEIATRACE_CPU=off: the $fmt report does not say that CPU sampling was off"
	done
else
	fail "no readable trace with DEIATRACE_CPU=off"
fi
sigprof_caught()
{
	local mask
	mask=$(grep '^SigCgt:' | awk '{print $2}')
	[ -n "$mask" ] && (((0x$mask >> 26) & 1))
}
mkdir -p "$T/cat"
DEIATRACE_OUTPUT="$T/cat/deiatrace.%n.%p.bin" traced cat /proc/self/status | sigprof_caught ||
	fail "cat under the shim does not catch SIGPROF: the SigCgt check below would prove nothing"
DEIATRACE_CPU=off DEIATRACE_OUTPUT="$T/cat/deiatrace.%n.%p.bin" traced cat /proc/self/status | sigprof_caught &&
	fail "DEIATRACE_CPU=off still installed a SIGPROF handler"
finish
