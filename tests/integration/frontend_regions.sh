#!/usr/bin/env bash
# Named regions (include/deiatrace.h): the regions program runs with and without the shim and prints
# the same; built with DEIATRACE_NO_REGIONS it references no region symbol; the header compiles
# warning-free as C and C++; under deiatrace record the report's regions section has the known counts
# (3 passes of outer/inner_cpu/inner_sleep on the main thread, 2 of worker on another thread), the
# known sleeps, and nesting arithmetic (outer's self time = outer - its nested regions), each region's
# peak live bytes (nested regions do not hide the outer's peak); regions diff.
source "$(dirname "$0")/common.bash" "$@"
FE=$B/deiatrace
require "$FE" "$ANALYZE" "$SHIM" "$TP/regions" "$TP/regions_off" "$TP/exit_code"
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
    # The exact nanosecond members: the _s ones are rounded to 6 decimals.
    if abs(o["self_wall_ns"] - (o["wall_ns"] - ic["wall_ns"] - s["wall_ns"])) > 1000: bad.append("outer self_wall_ns %d != wall - nested %d" % (o["self_wall_ns"], o["wall_ns"] - ic["wall_ns"] - s["wall_ns"]))
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
# Peak live bytes per pass, read from the trace itself (DT_SEC_REGIONS; field index from dt_format.h):
# inner_cpu holds 10 x 1000 B at once; outer also holds 500 B across it, then churns 3000 B alone
# (an outer peak of 3000 would mean the nested region hid the outer's); the rest allocate nothing.
python3 - reg.bin "$SRC_ROOT/common/dt_format.h" <<'PY' || fail "regions peak live bytes: see above"
import re, struct, sys
d = open(sys.argv[1], "rb").read()
enum = re.search(r"enum dt_region_field \{(.*?)\}", open(sys.argv[2]).read(), re.S).group(1)
names = re.findall(r"^\s*(DT_REGION_[A-Z_]+)", enum, re.M)
peak_ix = names.index("DT_REGION_PEAK_LIVE_BYTES")
got, off = {}, 16
while off + 16 <= len(d):
    sid, _, n = struct.unpack_from("<IIQ", d, off)
    off += 16
    if sid == 8:  # DT_SEC_REGIONS: u32 flags; u64 dropped; u32 nfields; u32 n; n x {str; u64[nfields]}
        p = off + 12
        nf, nr = struct.unpack_from("<II", d, p)
        p += 8
        for _ in range(nr):
            ln, = struct.unpack_from("<I", d, p)
            name = d[p + 4:p + 4 + ln].decode()
            p += 4 + ln
            got[name] = struct.unpack_from("<%dQ" % nf, d, p)[peak_ix] if peak_ix < nf else None
            p += 8 * nf
    off += n
want = {"inner_cpu": 10000, "outer": 10500, "inner_sleep": 0, "worker": 0}
bad = ["%s peak_live_bytes %s, expected %d" % (k, got.get(k), v) for k, v in want.items() if got.get(k) != v]
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

# The analyzer shows the regions itself, in every format, peak live bytes included: inner_cpu holds
# its 10 blocks of 1000 B at once (10000), outer adds a 500-byte block held across it (10500).
"$ANALYZE" -f json -o areg.json reg.bin 2>err.txt || fail "analyze -f json: $(cat err.txt)"
python3 - areg.json <<'PY' || fail "analyzer regions (JSON): see above"
import json, sys
d = json.load(open(sys.argv[1])); bad = []
regs = {r["name"]: r for r in d.get("regions", {}).get("list", [])}
if set(regs) != {"outer", "inner_cpu", "inner_sleep", "worker"}: bad.append("regions %s" % sorted(regs))
else:
    if regs["outer"]["count"] != 3: bad.append("outer count %s" % regs["outer"]["count"])
    if regs["inner_cpu"]["peak_live_bytes"] != 10000: bad.append("inner_cpu peak_live_bytes %s, expected 10000" % regs["inner_cpu"]["peak_live_bytes"])
    if regs["outer"]["peak_live_bytes"] != 10500: bad.append("outer peak_live_bytes %s, expected 10500" % regs["outer"]["peak_live_bytes"])
    if regs["outer"]["wall_ns"] != round(regs["outer"]["wall_s"] * 1e9) and abs(regs["outer"]["wall_ns"] - regs["outer"]["wall_s"] * 1e9) > 1000: bad.append("outer wall_ns disagrees with wall_s")
    if [r["name"] for r in d["regions"]["list"]][0] != max(regs, key=lambda n: regs[n]["wall_s"]): bad.append("regions not sorted by wall time")
for b in bad: print("  frontend_regions:", b)
sys.exit(1 if bad else 0)
PY
"$ANALYZE" reg.bin >areg.txt 2>/dev/null || fail "analyze text"
grep -q '^Regions' areg.txt || fail "analyzer text report has no Regions section"
grep -Eq '^  inner_cpu +3 .* 9\.8 KiB$' areg.txt || fail "text: inner_cpu row without count 3 and peak 9.8 KiB: $(grep inner_cpu areg.txt | tail -1)"
"$ANALYZE" -f markdown reg.bin >areg.md 2>/dev/null || fail "analyze markdown"
grep -q '^## Regions' areg.md || fail "analyzer Markdown report has no Regions section"
grep -Eq '^\| outer \| 3 \|.*\| 10500 \|$' areg.md || fail "markdown: outer row without count 3 and peak 10500: $(grep '^| outer' areg.md)"
# A trace without regions: no section in text, an empty list in JSON.
"$FE" record -o none.bin -- "$TP/exit_code" 0 >/dev/null 2>&1
"$ANALYZE" none.bin 2>/dev/null | grep -q '^Regions' && fail "a trace without regions got a Regions section"
"$ANALYZE" -f json none.bin 2>/dev/null | python3 -c 'import json,sys; r=json.load(sys.stdin)["regions"]; sys.exit(0 if r["list"] == [] else 1)' || fail "JSON of a trace without regions: an empty regions list expected"

# A region as the unit of the diff, from both commands: verdict on its wall time, and the gate.
for cmd in "$ANALYZE --baseline" "$FE diff"; do
	# shellcheck disable=SC2086 # cmd is two words
	$cmd reg1.bin --region outer -f json -o v.json reg.bin 2>err.txt || fail "$cmd --region outer: $(cat err.txt)"
	python3 - v.json <<'PY' || fail "$cmd --region verdict: see above"
import json, sys
d = json.load(open(sys.argv[1])); bad = []
if d.get("verdict_region") != "outer" or d.get("verdict_quantity") != "region_wall_s": bad.append("verdict on %s/%s" % (d.get("verdict_quantity"), d.get("verdict_region")))
r = {x["name"]: x for x in d["regions"]}["outer"]
if d["verdict"] != "slower": bad.append("1 pass -> 3 passes of outer: verdict %s" % d["verdict"])
if abs(d["improvement_pct"] + r["wall_s"]["change_pct"]) > 1e-6: bad.append("improvement_pct is not the region's")
if r["peak_live_bytes"] is None or r["peak_live_bytes"]["optimized"] != 10500: bad.append("peak_live_bytes delta %s" % r["peak_live_bytes"])
for b in bad: print("  frontend_regions:", b)
sys.exit(1 if bad else 0)
PY
	rc=0
	# shellcheck disable=SC2086
	$cmd reg.bin --region outer --fail-if-slower 10 reg1.bin >/dev/null 2>&1 || rc=$?
	[ "$rc" -eq 0 ] || fail "$cmd: outer got faster (3 passes -> 1) but the gate exited $rc"
	rc=0
	# shellcheck disable=SC2086
	$cmd reg1.bin --region outer --fail-if-slower 10 reg.bin >/dev/null 2>&1 || rc=$?
	[ "$rc" -eq 1 ] || fail "$cmd: outer got slower (1 pass -> 3) but the gate exited $rc"
	rc=0
	# shellcheck disable=SC2086
	$cmd reg1.bin --region no_such_region reg.bin >/dev/null 2>&1 || rc=$?
	[ "$rc" -eq 2 ] || fail "$cmd: an unknown region exited $rc, expected 2"
done
"$ANALYZE" --region outer reg.bin >/dev/null 2>&1 && fail "--region without --baseline was accepted"
finish
