#!/usr/bin/env bash
# Exact allocation stacks where the unwind cache splices: tests/programs/mem_deep_stacks allocates from
# 4080 distinct stacks that share a 40-frame root and differ in the 2-9 frames near the leaf, many per
# cache key. Run once with the cache (hits, recording walks, spliced root parts) and once with
# DEIATRACE_UNWIND_CACHE=off (libunwind's unw_backtrace for every allocation). Checks: every stack the
# program made has exactly its count, leaf first, function by function (pprof heap profile); the two
# runs give the same stacks address by address (offsets in their modules); per-leaf JSON counts.
source "$(dirname "$0")/common.bash" "$@"
require "$SHIM" "$ANALYZE" "$TP/mem_deep_stacks"
command -v python3 >/dev/null || skip "python3 is needed to read the reports"
command -v go >/dev/null || skip "go (golang-go) is needed to read the pprof profile"

# stacks PPROF OUT: "count;frame;frame..." per sample with allocations, frames as
# "function@module+offset", leaf first.
stacks()
{
	go tool pprof -raw "$1" 2>/dev/null | python3 -c '
import re, sys
sec, samples, locs, maps = None, [], {}, {}
for line in sys.stdin:
    s = line.strip()
    if s in ("Samples:", "Locations", "Mappings"):
        sec = s
        continue
    if sec == "Samples:" and ":" in s and s[0].isdigit():
        vals, ids = s.split(":", 1)
        vals = vals.split()
        if len(vals) >= 3 and int(vals[2]) > 0:
            samples.append((int(vals[2]), ids.split()))
    elif sec == "Locations":
        m = re.match(r"(\d+): (0x[0-9a-f]+) M=(\d+) (\S+)?", s)
        if m:
            locs[m.group(1)] = (int(m.group(2), 16), m.group(3), m.group(4) or "?")
    elif sec == "Mappings":
        m = re.match(r"(\d+): (0x[0-9a-f]+)/0x[0-9a-f]+/0x[0-9a-f]+ (\S+)", s)
        if m:
            maps[m.group(1)] = (int(m.group(2), 16), m.group(3).rsplit("/", 1)[-1])
for count, ids in samples:
    frames = []
    for i in ids:
        addr, mid, fn = locs[i]
        base, mod = maps[mid]
        frames.append("%s@%s+%x" % (fn, mod, addr - base))
    print("%d;%s" % (count, ";".join(frames)))
' | sort >"$2"
}

run() # NAME [VAR=VALUE...]: trace the program into $T/NAME, write $T/NAME.truth, .json, .stacks
{
	local name=$1
	shift
	mkdir -p "$T/$name"
	env "$@" DEIATRACE_CPU=off DEIATRACE_OUTPUT="$T/$name/deiatrace.%n.%p.bin" LD_PRELOAD="$SHIM" \
		"$TP/mem_deep_stacks" >"$T/$name.truth" 2>"$T/$name.err" || {
		fail "$name: mem_deep_stacks exited with status $?: $(head -c 300 "$T/$name.err")"
		return 1
	}
	local trace
	trace=$(only_trace "$T/$name") || {
		fail "$name: expected exactly one trace in $T/$name"
		return 1
	}
	"$ANALYZE" --format json "$trace" >"$T/$name.json" 2>/dev/null &&
		"$ANALYZE" --format pprof -o "$T/$name.pb.gz" "$trace" 2>/dev/null || {
		fail "$name: deiatrace-analyze failed on $trace"
		return 1
	}
	stacks "$T/$name.pb.gz" "$T/$name.stacks"
}

# check NAME: the program's stacks and per-leaf counts, exactly.
check()
{
	python3 - "$T/$1.truth" "$T/$1.stacks" "$T/$1.json" <<'PY' || fail "$1: $(cat "$T/check.out" | head -c 600)"
import collections, json, sys
want, calls = collections.Counter(), {}
for line in open(sys.argv[1]):
    p = line.split()
    if p[0] == "stack":
        want[p[2]] += int(p[1])
    elif p[0] == "truth":
        calls[p[1].split(".")[0]] = int(p[2])
got = collections.Counter()
for line in open(sys.argv[2]):
    count, *frames = line.strip().split(";")
    names = [f.split("@")[0] for f in frames]
    if not names or not names[0].startswith("deep_leaf_"):
        continue
    if "main" not in names:
        got["<no main>:" + ";".join(names[:3])] += int(count)
        continue
    got[";".join(names[:names.index("main") + 1])] += int(count)
bad = []
if len(want) != 4080:
    bad.append("the program printed %d stacks, expected 4080" % len(want))
for k in set(want) | set(got):
    if want[k] != got[k]:
        bad.append("%s: expected %d, profile has %d" % (k[:120], want[k], got[k]))
funcs = {f["name"]: f for f in json.load(open(sys.argv[3]))["functions"]}
for name, n in calls.items():
    have = funcs.get(name, {}).get("alloc_calls")
    if have != n:
        bad.append("%s: alloc_calls %s, expected %d" % (name, have, n))
if bad:
    open(sys.argv[1].rsplit("/", 1)[0] + "/check.out", "w").write("%d differences: %s" % (len(bad), "; ".join(sorted(bad)[:5])))
    sys.exit(1)
PY
}

run cached && check cached
run uncached DEIATRACE_UNWIND_CACHE=off && check uncached
if [ -s "$T/cached.stacks" ] && [ -s "$T/uncached.stacks" ]; then
	cmp -s "$T/cached.stacks" "$T/uncached.stacks" ||
		fail "cached and uncached stacks differ: $(diff "$T/cached.stacks" "$T/uncached.stacks" | head -c 400 | tr '\n' ' ')"
fi
finish
