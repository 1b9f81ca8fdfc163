#!/usr/bin/env bash
# Named regions (include/deiatrace.h): the regions program runs with and without the shim and prints
# the same; built with DEIATRACE_NO_REGIONS it references no region symbol; the header compiles
# warning-free as C and C++; under deiatrace record the report's regions section has the known counts
# (3 passes of outer/inner_cpu/inner_sleep on the main thread, 2 of worker on another thread), the
# known sleeps, and nesting arithmetic (outer's self time = outer - its nested regions); regions diff.
source "$(dirname "$0")/common.bash" "$@"
FE=$B/deiatrace
require "$FE" "$SHIM" "$TP/regions" "$TP/regions_off"
cd "$T" || exit 1

plain=$("$TP/regions" 3) || fail "regions without the shim exited non-zero"
off=$("$TP/regions_off" 3) || fail "regions_off exited non-zero"
[ "$plain" = "$off" ] || fail "regions and regions_off print different checksums: $plain / $off"
if nm "$TP/regions_off" | grep -q dt_region_; then
	fail "regions_off still references dt_region_* with DEIATRACE_NO_REGIONS"
fi
nm -D "$TP/regions" | grep -q ' w dt_region_push' || fail "regions does not reference dt_region_push weakly"

cat >hdr.c <<'C'
#include "deiatrace.h"
int main(void) { DT_REGION("a"); dt_region_begin("b"); dt_region_end(); return 0; }
C
${CC:-cc} -std=c99 -Wall -Wextra -Werror -I"$SRC_ROOT/include" -o hdr_c hdr.c 2>err.txt || fail "header as C99: $(head -c 300 err.txt)"
[ -x hdr_c ] && { ./hdr_c || fail "a C program with regions and no shim failed"; }
if command -v "${CXX:-c++}" >/dev/null; then
	cp hdr.c hdr.cpp
	${CXX:-c++} -Wall -Wextra -Werror -I"$SRC_ROOT/include" -o hdr_cxx hdr.cpp 2>err.txt || fail "header as C++: $(head -c 300 err.txt)"
fi
[ -x hdr_c ] && { LD_PRELOAD=$SHIM DEIATRACE_OUTPUT="$T/hdr.%p.bin" ./hdr_c || fail "hdr_c under the shim failed"; }

traced_out=$("$FE" record -o reg.bin -- "$TP/regions" 3 2>err.txt) || fail "record regions: $(cat err.txt)"
[ "$traced_out" = "$plain" ] || fail "regions prints $traced_out under the shim, $plain without"
"$FE" report -f json -o reg.json reg.bin 2>err.txt || fail "report -f json: $(cat err.txt)"
python3 - reg.json <<'PY' || fail "regions section: see above"
import json, sys
d = json.load(open(sys.argv[1])); bad = []
regs = {r["name"]: r for r in d.get("regions", {}).get("list", [])}
want = {"outer": 3, "inner_cpu": 3, "inner_sleep": 3, "worker": 2}
for n, c in want.items():
    if n not in regs: bad.append("region %s missing" % n); continue
    if regs[n]["count"] != c: bad.append("%s count %s, expected %d" % (n, regs[n]["count"], c))
if not bad:
    o, ic, s = regs["outer"], regs["inner_cpu"], regs["inner_sleep"]
    if s["wall_s"] < 0.060: bad.append("inner_sleep wall %.3f s < 3 x 20 ms" % s["wall_s"])
    if s["cpu_s"] > s["wall_s"] / 2: bad.append("inner_sleep CPU %.3f s is not small next to its wall" % s["cpu_s"])
    if ic["cpu_s"] <= 0.01: bad.append("inner_cpu CPU %.3f s" % ic["cpu_s"])
    # Nesting: outer's self time is outer minus what ran in its two nested regions (same clock reads).
    if abs(o["self_wall_s"] - (o["wall_s"] - ic["wall_s"] - s["wall_s"])) > 1e-6: bad.append("outer self_wall_s %.9f != wall - nested %.9f" % (o["self_wall_s"], o["wall_s"] - ic["wall_s"] - s["wall_s"]))
    if o["wall_s"] < ic["wall_s"] + s["wall_s"]: bad.append("outer shorter than its nested regions")
    if ic["self_wall_s"] != ic["wall_s"]: bad.append("inner_cpu has no nested region but self != wall")
    if o["max_wall_s"] > o["wall_s"] or o["max_wall_s"] < o["wall_s"] / 3: bad.append("outer max_wall_s out of range")
    if d["regions"]["dropped"] != 0: bad.append("dropped %s" % d["regions"]["dropped"])
    # Memory is tracked by default: the region's allocation figures are exact (3 rounds x 10 x 1000 B).
    if not d["regions"]["alloc_measured"]: bad.append("alloc_measured is false with memory tracking on")
    elif (regs["inner_cpu"]["alloc_calls"], regs["inner_cpu"]["alloc_bytes"]) != (30, 30000): bad.append("inner_cpu allocations %s calls %s bytes, expected 30 and 30000" % (regs["inner_cpu"]["alloc_calls"], regs["inner_cpu"]["alloc_bytes"]))
for b in bad: print("  frontend_regions:", b)
sys.exit(1 if bad else 0)
PY
"$FE" report reg.bin 2>/dev/null | grep -q "^Regions" || fail "text report has no Regions section"
"$FE" record -o reg1.bin -- "$TP/regions" 1 >/dev/null 2>&1 || fail "record regions 1"
"$FE" diff -f json -o rdiff.json reg.bin reg1.bin 2>err.txt || fail "diff with regions: $(cat err.txt)"
python3 - rdiff.json <<'PY' || fail "regions in diff: see above"
import json, sys
d = json.load(open(sys.argv[1])); r = {x["name"]: x for x in d.get("regions", [])}; bad = []
if "outer" not in r: bad.append("outer missing from the diff")
elif (r["outer"]["count"]["baseline"], r["outer"]["count"]["optimized"]) != (3, 1): bad.append("outer counts %s" % r["outer"]["count"])
for b in bad: print("  frontend_regions:", b)
sys.exit(1 if bad else 0)
PY
rc=0
"$FE" diff --fail-if-slower 10 --region outer reg1.bin reg.bin >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 1 ] || fail "--region outer gate (1 pass -> 3 passes) exited $rc, expected 1"
finish
