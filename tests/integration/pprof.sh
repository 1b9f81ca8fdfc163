#!/usr/bin/env bash
# pprof export read back by pprof itself (Debian golang-go's `go tool pprof`): the gzip'd profile.proto
# must agree with deiatrace's own JSON report (top self function, total samples, total allocated bytes)
# and with mem_truth's ground truth (alloc_space and inuse_space per allocating function, exact). A
# trace without memory data has exactly the two CPU sample types. Skipped (77) only without `go`.
# shellcheck source=tests/integration/common.bash
source "$(dirname "$0")/common.bash" "$@"
require "$SHIM" "$ANALYZE" "$TP/mem_truth" "$TP/cpu_shares"
command -v go >/dev/null || skip "go (Debian golang-go) is needed for go tool pprof"
command -v python3 >/dev/null || skip "python3 is needed to read the reports"

# pprof writes a cache and its own temp files: keep them all in $T, and never touch the network.
export HOME=$T/home GOCACHE=$T/gocache GOPATH=$T/gopath PPROF_TMPDIR=$T/pprof GOPROXY=off GOFLAGS=
mkdir -p "$HOME" "$PPROF_TMPDIR"

# pprof_raw PROFILE OUT: `go tool pprof -raw` into OUT; fails the test when pprof rejects the file.
pprof_raw()
{
	if ! go tool pprof -raw "$1" >"$2" 2>"$2.err"; then
		fail "go tool pprof -raw rejected $1: $(head -c 300 "$2.err")"
		return 1
	fi
}

# check_profile RAW JSON [TRUTH]: compares pprof's reading of the profile with the JSON report (and
# with mem_truth's "truth KEY VALUE" lines). Prints one line per disagreement; exit 1 if any.
check_profile()
{
	python3 - "$@" <<'PY'
import json, re, sys
raw, report = open(sys.argv[1]).read().splitlines(), json.load(open(sys.argv[2]))
truth = {}
if len(sys.argv) > 3:
    for line in open(sys.argv[3]):
        p = line.split()
        if len(p) == 3 and p[0] == "truth":
            truth[p[1]] = int(p[2])
bad = []
types, samples, fn_of_loc, section = [], [], {}, None
for line in raw:
    if line.startswith("Samples:"):
        section = "types"
    elif line.startswith("Locations"):
        section = "locations"
    elif line.startswith("Mappings"):
        section = None
    elif section == "types":
        types = [t.replace("[dflt]", "") for t in line.split()]
        section = "samples"
    elif section == "samples":
        m = re.match(r"^\s*(-?\d+(?:\s+-?\d+)*):\s*(.*)$", line)
        if m:
            samples.append(([int(v) for v in m.group(1).split()], [int(x) for x in m.group(2).split()]))
    elif section == "locations":
        m = re.match(r"^\s*(\d+): 0x[0-9a-f]+ (?:M=\d+ )?(.*) \S*:-?\d+ s=-?\d+$", line)
        if m:
            fn_of_loc[int(m.group(1))] = m.group(2)
s = report["summary"]
want_types = ["samples/count", "cpu/nanoseconds"]
if s.get("memory_tracked"):
    want_types += ["alloc_objects/count", "alloc_space/bytes", "inuse_space/bytes"]
if types != want_types:
    bad.append(f"sample types {types}, expected {want_types}")
col = {t.split("/")[0]: i for i, t in enumerate(types)}
total = lambda c: sum(v[col[c]] for v, _ in samples) if c in col else None
if total("samples") != s["samples"]:
    bad.append(f"pprof total samples {total('samples')}, JSON summary.samples {s['samples']}")
if s.get("memory_tracked"):
    if total("alloc_space") != s["allocated_bytes"]:
        bad.append(f"pprof total alloc_space {total('alloc_space')}, JSON allocated_bytes {s['allocated_bytes']}")
    if total("alloc_objects") != s["allocations"]:
        bad.append(f"pprof total alloc_objects {total('alloc_objects')}, JSON allocations {s['allocations']}")
    leaf = {}
    for v, locs in samples:
        if locs and (v[col["alloc_space"]] or v[col["inuse_space"]]):
            a = leaf.setdefault(fn_of_loc.get(locs[0], "?"), [0, 0, 0])
            a[0] += v[col["alloc_objects"]]
            a[1] += v[col["alloc_space"]]
            a[2] += v[col["inuse_space"]]
    for key, want in sorted(truth.items()):
        fn, field = key.split(".", 1)
        idx = {"calls": 0, "bytes": 1, "peak_live": 2}.get(field)
        if fn == "total" or idx is None:
            continue
        got = leaf.get(fn, [0, 0, 0])[idx]
        if got != want:
            bad.append(f"{fn} {['alloc_objects', 'alloc_space', 'inuse_space'][idx]}: pprof {got}, truth {want}")
for b in bad:
    print(b)
sys.exit(1 if bad else 0)
PY
}

# check_top PROFILE JSON: pprof's top function by flat samples is the report's top self function
# (or ties with it), and pprof's total is the report's sample count.
check_top()
{
	local top
	if ! go tool pprof -top -sample_index=samples "$1" >"$T/top.txt" 2>"$T/top.err"; then
		fail "go tool pprof -top failed on $1: $(head -c 300 "$T/top.err")"
		return
	fi
	top=$(python3 - "$T/top.txt" "$2" <<'PY'
import json, re, sys
text, report = open(sys.argv[1]).read(), json.load(open(sys.argv[2]))
first = report["functions"][0]
m = re.search(r"of (\d+) total", text)
rows = re.findall(r"^\s*(\d+)\s+[\d.]+%\s+[\d.]+%\s+\d+\s+[\d.]+%\s+(.+)$", text, re.M)
if not m or int(m.group(1)) != report["summary"]["samples"]:
    print(f"pprof -top total {m.group(1) if m else '?'}, JSON samples {report['summary']['samples']}")
elif not rows:
    print("pprof -top printed no rows")
elif rows[0][1] != first["name"] and int(rows[0][0]) != first["self_samples"]:
    print(f"pprof top {rows[0][1]} ({rows[0][0]}), JSON top self {first['name']} ({first['self_samples']})")
else:
    print(f"ok {rows[0][1]} {rows[0][0]}")
PY
)
	case $top in
	ok*) note "top self function: ${top#ok }" ;;
	*) fail "$1: $top" ;;
	esac
}

# 1. Memory and CPU: mem_truth, whose allocating functions' calls and bytes are known.
mkdir "$T/mem"
(cd "$T/mem" && traced "$TP/mem_truth" >"$T/truth.txt" 2>"$T/mem.err") ||
	fail "mem_truth exited $? under the shim: $(head -c 300 "$T/mem.err")"
if trace=$(only_trace "$T/mem"); then
	analyze_json "$trace" "$T/mem.json"
	if "$ANALYZE" --format pprof -o "$T/mem.pb.gz" "$trace" 2>"$T/pprof.err"; then
		[ "$(od -An -tx1 -N2 "$T/mem.pb.gz" | tr -d ' ')" = 1f8b ] || fail "mem.pb.gz is not gzip"
		if pprof_raw "$T/mem.pb.gz" "$T/mem.raw"; then
			out=$(check_profile "$T/mem.raw" "$T/mem.json" "$T/truth.txt") ||
				fail "mem_truth profile: $(echo "$out" | tr '\n' ';')"
		fi
		check_top "$T/mem.pb.gz" "$T/mem.json"
		# pprof's own aggregation by function (-top, exact bytes): each allocating function's flat
		# alloc_space is the truth, and the largest is mem_large.
		if go tool pprof -top -sample_index=alloc_space -unit=B -nodefraction=0 -edgefraction=0 \
			"$T/mem.pb.gz" >"$T/alloc_top.txt" 2>"$T/alloc_top.err"; then
			out=$(python3 - "$T/alloc_top.txt" "$T/truth.txt" <<'PY'
import re, sys
rows = re.findall(r"^ *(\d+)B? +[\d.]+% +[\d.]+% +\d+B? +[\d.]+% +(.+)$", open(sys.argv[1]).read(), re.M)
flat = {name: int(v) for v, name in rows}
bad = [] if rows and rows[0][1] == "mem_large" else [f"top alloc_space function {rows[0] if rows else None}, expected mem_large"]
for line in open(sys.argv[2]):
    p = line.split()
    if len(p) == 3 and p[0] == "truth" and p[1].endswith(".bytes") and not p[1].startswith("total."):
        fn = p[1][:-len(".bytes")]
        if flat.get(fn) != int(p[2]):
            bad.append(f"{fn}: pprof -top flat {flat.get(fn)} B, truth {p[2]} B")
print("; ".join(bad))
sys.exit(1 if bad else 0)
PY
) || fail "pprof -top -sample_index=alloc_space: $out"
		else
			fail "go tool pprof -top -sample_index=alloc_space failed: $(head -c 300 "$T/alloc_top.err")"
		fi
	else
		fail "--format pprof failed: $(head -c 300 "$T/pprof.err")"
	fi
else
	fail "expected one trace in $T/mem, found: $(ls "$T/mem" | tr '\n' ' ')"
fi

# 2. CPU only (DEIATRACE_MALLOC=off): two sample types, and the top self function of cpu_shares.
mkdir "$T/cpu"
(cd "$T/cpu" && DEIATRACE_MALLOC=off traced "$TP/cpu_shares" >/dev/null 2>"$T/cpu.err") ||
	fail "cpu_shares exited $? under the shim: $(head -c 300 "$T/cpu.err")"
if trace=$(only_trace "$T/cpu"); then
	analyze_json "$trace" "$T/cpu.json"
	if "$ANALYZE" --format pprof -o "$T/cpu.pb.gz" "$trace" 2>"$T/pprof.err"; then
		if pprof_raw "$T/cpu.pb.gz" "$T/cpu.raw"; then
			out=$(check_profile "$T/cpu.raw" "$T/cpu.json") || fail "cpu_shares profile: $(echo "$out" | tr '\n' ';')"
		fi
		check_top "$T/cpu.pb.gz" "$T/cpu.json"
	else
		fail "--format pprof failed: $(head -c 300 "$T/pprof.err")"
	fi
else
	fail "expected one trace in $T/cpu, found: $(ls "$T/cpu" | tr '\n' ' ')"
fi

# 3. Binary output is never sprayed on a terminal: without -o and with stdout a tty, exit 2.
if command -v script >/dev/null && [ -n "${trace:-}" ]; then
	rc=0
	script -qec "'$ANALYZE' --format pprof '$trace'" /dev/null >"$T/tty.out" 2>&1 </dev/null || rc=$?
	[ "$rc" -eq 2 ] || fail "--format pprof to a terminal exited $rc, expected 2: $(head -c 200 "$T/tty.out" | tr -cd '[:print:]')"
fi
finish
