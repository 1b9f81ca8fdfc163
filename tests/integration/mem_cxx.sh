#!/usr/bin/env bash
# C++ new/delete reach the malloc hooks (libstdc++'s operator new calls malloc): std::map, std::string
# and std::vector allocations appear under their demangled methods, with exact counts: per key one
# string, one map node and one allocation per vector growth (capacity 1, 2, 4, 8, 16, 32 for 20 values).
source "$(dirname "$0")/common.bash" "$@"
require "$SHIM" "$ANALYZE" "$TP/mem_cxx"
command -v python3 >/dev/null || skip "python3 is needed to read the JSON report"

KEYS=5000
mkdir -p "$T/run"
if DEIATRACE_OUTPUT="$T/run/deiatrace.%n.%p.bin" traced "$TP/mem_cxx" $KEYS >"$T/truth.txt" 2>"$T/stderr.txt"; then
	if trace=$(only_trace "$T/run") && "$ANALYZE" --format json "$trace" >"$T/report.json" 2>/dev/null; then
		out=$(python3 - "$T/report.json" $KEYS <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
keys = int(sys.argv[2])
growths = 6  # vector<int> capacities 1, 2, 4, 8, 16, 32 for 20 push_backs
fns = r["functions"]
bad = []
def find(part):
    return [f for f in fns if part in f["name"]]
s = r["summary"]
if s.get("allocations") != keys * (2 + growths) or s.get("frees") != s.get("allocations") or s.get("leaked_bytes") != 0:
    bad.append(f"summary: allocations {s.get('allocations')} frees {s.get('frees')} leaked {s.get('leaked_bytes')}, expected {keys * (2 + growths)} each and no leak")
grow = find("std::vector<int, std::allocator<int> >::_M_realloc_insert")
if not grow or sum(f.get("alloc_calls_total", 0) for f in grow) != keys * growths:
    bad.append(f"std::vector<int>::_M_realloc_insert: expected {keys * growths} allocations, found {[(f['name'], f.get('alloc_calls_total')) for f in grow]}")
mk = find("make_key")
if not mk or mk[0].get("alloc_calls_total") != keys:
    bad.append(f"make_key: expected {keys} allocations in total, found {[(f['name'], f.get('alloc_calls_total')) for f in mk]}")
if not any("std::__cxx11::basic_string" in f["name"] and f.get("alloc_calls", 0) > 0 for f in fns):
    bad.append("no std::__cxx11::basic_string method allocates")
if not any("operator new" in f["name"] and f.get("alloc_calls_total", 0) >= keys * (2 + growths) for f in fns):
    bad.append("operator new is not on the allocation stacks")
print("; ".join(bad))
sys.exit(1 if bad else 0)
PY
) || fail "$out"
	else
		fail "no readable trace"
	fi
else
	fail "mem_cxx fails under the shim: $(head -c 300 "$T/stderr.txt")"
fi
finish
