#!/usr/bin/env bash
# Four threads allocate, hand blocks to each other and free them (cross-thread frees) while churning
# their own malloc/free pairs: per-function totals must be exact, and the summary must differ from a
# run of the same threads without the workload by exactly the workload's truth.
source "$(dirname "$0")/common.bash" "$@"
require "$SHIM" "$ANALYZE" "$TP/mem_threads"
command -v python3 >/dev/null || skip "python3 is needed to read the JSON report"

# run ROUNDS DIR: trace mem_threads, write DIR/truth.txt and DIR/report.json.
run()
{
	mkdir -p "$2"
	DEIATRACE_OUTPUT="$2/deiatrace.%n.%p.bin" traced "$TP/mem_threads" "$1" >"$2/truth.txt" 2>"$2/stderr.txt" ||
		{ fail "mem_threads $1 exited with status $?"; return 1; }
	local trace
	trace=$(only_trace "$2") || { fail "mem_threads $1: expected exactly one trace"; return 1; }
	"$ANALYZE" --format json "$trace" >"$2/report.json" 2>"$2/analyze.err" ||
		{ fail "deiatrace-analyze failed: $(head -c 300 "$2/analyze.err")"; return 1; }
}

if run 20 "$T/work" && run 0 "$T/base"; then
	out=$(python3 - "$T/work/truth.txt" "$T/work/report.json" "$T/base/report.json" <<'PY'
import json, sys
truth = {l.split()[1]: int(l.split()[2]) for l in open(sys.argv[1]) if l.startswith("truth ")}
work, base = (json.load(open(p)) for p in sys.argv[2:4])
funcs = {f["name"]: f for f in work["functions"]}
bad = []
for fn in ("mem_thread_batch", "mem_thread_churn"):
    f = funcs.get(fn, {})
    for field, key in (("alloc_calls", "calls"), ("alloc_bytes", "bytes")):
        if f.get(field) != truth[f"{fn}.{key}"]:
            bad.append(f"{fn}.{field}: expected {truth[fn + '.' + key]}, got {f.get(field)}")
    if f.get("leaked_bytes", 0) != 0:
        bad.append(f"{fn}.leaked_bytes: expected 0, got {f.get('leaked_bytes')}")
for field, key in (("allocations", "allocations"), ("frees", "frees"), ("allocated_bytes", "allocated_bytes"),
                   ("leaked_bytes", "leaked_bytes")):
    got = work["summary"].get(field, 0) - base["summary"].get(field, 0)
    if got != truth["workload." + key]:
        bad.append(f"summary.{field} minus the baseline run: expected {truth['workload.' + key]}, got {got}")
if work["summary"].get("threads", 0) < 5:
    bad.append(f"summary.threads: expected at least 5, got {work['summary'].get('threads')}")
print("; ".join(bad))
sys.exit(1 if bad else 0)
PY
) || fail "$out"
fi
finish
