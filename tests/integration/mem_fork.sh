#!/usr/bin/env bash
# Memory tracking across fork: tests/programs/mem_fork's parent holds blocks over a fork, its child
# allocates its own, frees some inherited ones and leaks a few. Each process's trace must count only
# its own allocations (summary totals and peak exact); the inherited blocks the child frees must not
# show up as its frees or push its live bytes below zero; per function, the parent's allocator is
# charged only in the parent's trace and the child's only in the child's.
source "$(dirname "$0")/common.bash" "$@"
require "$SHIM" "$ANALYZE" "$TP/mem_fork"
command -v python3 >/dev/null || skip "python3 is needed to read the JSON report"

DEIATRACE_OUTPUT="$T/deiatrace.%n.%p.bin" traced "$TP/mem_fork" >"$T/truth.txt" 2>"$T/stderr.txt" ||
	fail "mem_fork exited with status $? under the shim: $(head -c 300 "$T/stderr.txt")"
for scope in parent child; do
	pid=$(awk -v s="$scope" '$1 == "pid" && $2 == s {print $3}' "$T/truth.txt")
	trace=$T/deiatrace.mem_fork.$pid.bin
	if [ -z "$pid" ] || [ ! -f "$trace" ]; then
		fail "no trace for the $scope (pid '${pid:-?}'): $(ls "$T" | tr '\n' ' ')"
		continue
	fi
	analyze_json "$trace" "$T/$scope.json" || continue
	out=$(python3 - "$T/truth.txt" "$T/$scope.json" "$scope" <<'PY'
import json, sys
scope = sys.argv[3]
truth = {}
for line in open(sys.argv[1]):
    parts = line.split()
    if len(parts) == 3 and parts[0] == "truth" and parts[1].startswith(scope + "."):
        truth[parts[1].split(".", 1)[1]] = int(parts[2])
report = json.load(open(sys.argv[2]))
summary = report["summary"]
bad = []
if len(truth) != 6:
    bad.append(f"expected 6 truth lines for {scope}, found {len(truth)}")
for key, want in sorted(truth.items()):
    if summary.get(key) != want:
        bad.append(f"{scope} summary.{key}: expected {want}, got {summary.get(key)}")
calls = {}
for f in report["functions"]:
    calls[f["name"]] = calls.get(f["name"], 0) + (f.get("alloc_calls") or 0)
mine = "mem_fork_parent_alloc" if scope == "parent" else "mem_fork_child_alloc"
other = "mem_fork_child_alloc" if scope == "parent" else "mem_fork_parent_alloc"
if calls.get(mine) != truth.get("allocations"):
    bad.append(f"{scope} {mine}.alloc_calls: expected {truth.get('allocations')}, got {calls.get(mine)}")
if calls.get(other, 0) != 0:
    bad.append(f"{scope} {other}.alloc_calls: expected 0, got {calls.get(other)}")
print("; ".join(bad))
sys.exit(1 if bad else 0)
PY
) || fail "$out"
done
finish
