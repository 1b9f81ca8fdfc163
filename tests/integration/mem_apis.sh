#!/usr/bin/env bash
# The whole malloc family under the shim: mem_apis asserts glibc's behaviour itself (alignment, errno,
# calloc/reallocarray overflow, realloc(NULL, n), realloc(p, 0), free(NULL)) and must exit 0 both
# untraced and traced; the traced report counts exactly the blocks it made.
source "$(dirname "$0")/common.bash" "$@"
require "$SHIM" "$ANALYZE" "$TP/mem_apis"
command -v python3 >/dev/null || skip "python3 is needed to read the JSON report"

"$TP/mem_apis" >"$T/untraced.txt" 2>&1 || fail "mem_apis fails untraced: $(head -c 300 "$T/untraced.txt")"
mkdir -p "$T/run"
if DEIATRACE_OUTPUT="$T/run/deiatrace.%n.%p.bin" traced "$TP/mem_apis" >"$T/truth.txt" 2>"$T/stderr.txt"; then
	if trace=$(only_trace "$T/run") && "$ANALYZE" --format json "$trace" >"$T/report.json" 2>/dev/null; then
		out=$(python3 - "$T/truth.txt" "$T/report.json" <<'PY'
import json, sys
truth = {l.split()[1]: int(l.split()[2]) for l in open(sys.argv[1]) if l.startswith("truth ")}
s = json.load(open(sys.argv[2]))["summary"]
bad = [f"summary.{k}: expected {v}, got {s.get(k)}" for k, v in sorted(truth.items()) if s.get(k) != v]
for k in ("leaked_bytes", "leaked_allocations"):
    if s.get(k) != 0:
        bad.append(f"summary.{k}: expected 0, got {s.get(k)}")
print("; ".join(bad))
sys.exit(1 if bad else 0)
PY
) || fail "$out"
	else
		fail "no readable trace"
	fi
else
	fail "mem_apis fails under the shim: $(head -c 300 "$T/stderr.txt")"
fi
finish
