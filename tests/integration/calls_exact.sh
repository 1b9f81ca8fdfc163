#!/usr/bin/env bash
# calls_exact: a -finstrument-functions program run under the shim gets exact call counts and consistent
# times in DT_SEC_CALLS, and its stdout is the same as without the shim. instr_calls: recursion, a 1M-call
# leaf, timed work, a recursion past the shadow-stack cap, longjmp; instr_threads: exited threads;
# instr_many: 4096 functions (table growth under open frames); instr_ownhooks defines the hooks itself,
# which defeats the preload: the shim must say so on stderr and write no call records.
# The figures come from the analyzer's JSON (`functions[]`: calls, max_call_ns, calls_incl_ns,
# calls_excl_ns; docs/json-schema.md), so the whole path shim -> trace -> reader -> symbolizer -> report
# is checked against the program's own counts.
source "$(dirname "$0")/common.bash" "$@"
require "$SHIM" "$ANALYZE" "$TP/instr_calls" "$TP/instr_threads" "$TP/instr_many" "$TP/instr_ownhooks"

# The checker: reads the analyzer's JSON; prints NOTE lines and one FAILMSG line per failed assertion.
cat >"$T/decode.py" <<'PY'
import json, re, sys

json_path, out_path, truth_path = sys.argv[1:4]
fails = []

def fail(msg):
    fails.append(msg)

doc = json.load(open(json_path))
if doc.get("summary", {}).get("partial"):
    fail("the trace is partial: %s" % doc["summary"].get("partial_reason"))
stats, unnamed, timed = {}, 0, 0
for f in doc.get("functions", []):
    if f.get("calls") is None:
        for k in ("avg_call_ns", "max_call_ns", "calls_incl_ns", "calls_excl_ns"):
            if f.get(k) is not None:
                fail("%s: %s is %r but calls is null" % (f.get("name"), k, f.get(k)))
        continue
    timed += 1
    name = f["name"]
    if re.search(r"\+0x[0-9a-f]+$", name) or name.startswith("0x"):
        unnamed += 1
        continue
    row = (f["calls"], f["calls_incl_ns"], f["calls_excl_ns"], f["max_call_ns"])
    if name in stats:  # the same name in two modules: add up
        o = stats[name]
        row = (o[0] + row[0], o[1] + row[1], o[2] + row[2], max(o[3], row[3]))
    stats[name] = row
    avg = f.get("avg_call_ns")
    if avg is None or (f["calls"] and abs(avg - f["calls_incl_ns"] / f["calls"]) > 0.01):
        fail("%s: avg_call_ns %r is not calls_incl_ns / calls" % (name, avg))
if not timed:
    fail("no function has exact calls in the JSON (no DT_SEC_CALLS records?)")
if unnamed:
    fail("%d functions with exact calls have no symbol name" % unnamed)

truth, each = {}, []
for line in open(out_path):
    parts = line.split()
    if parts[:2] == ["truth", "calls"]:
        truth[parts[2]] = int(parts[3])
    elif parts[:2] == ["truth", "calls_each"]:  # PREFIX CALLS N: N functions named PREFIX*, CALLS each
        each.append((parts[2], int(parts[3]), int(parts[4])))
for prefix, want, nfuncs in each:
    got = {k: v[0] for k, v in stats.items() if k.startswith(prefix)}
    if len(got) != nfuncs:
        fail("%d functions named %s* in the trace, the program has %d" % (len(got), prefix, nfuncs))
    wrong = sorted(k for k, v in got.items() if v != want)
    if wrong:
        fail("%d functions %s* not called exactly %d times, e.g. %s: %d"
             % (len(wrong), prefix, want, wrong[0], got[wrong[0]]))
if "fib" in truth and (truth.get("fib") != 242785 or truth.get("leaf") != 1000000):
    fail("the program's own truth is off: %r" % truth)
for name, want in sorted(truth.items()):
    got = stats.get(name, (0,))[0]
    if got != want:
        fail("calls of %s: trace has %d, the program counted %d" % (name, got, want))

for name, (n, incl, excl, mx) in sorted(stats.items()):
    if n == 0 or mx == 0:
        fail("%s: %d calls with max %d ns" % (name, n, mx))
    if mx > incl + 1:
        fail("%s: max %d ns above its inclusive total %d ns" % (name, mx, incl))
    if mx * n + n < incl:
        fail("%s: max %d ns below the average %d ns" % (name, mx, incl // n))

def get(name):
    return stats.get(name, (0, 0, 0, 0))

# fib calls only fib: the outermost activation's inclusive time is the sum of every level's own time.
has = lambda *names: all(nm_ in stats for nm_ in names)
n, incl, excl, mx = get("fib")
if has("fib") and abs(incl - excl) > max(1000, incl // 100):
    fail("fib: inclusive %d ns vs exclusive %d ns, expected equal (recursion)" % (incl, excl))
if has("fib") and mx != incl:
    fail("fib: max %d ns should be the single outermost call, %d ns" % (mx, incl))

# work_outer only loops over work_unit; its own wall time was measured by the program around the call.
wall = 0
for line in open(truth_path) if has("work_outer") else []:
    k, v = line.split()
    if k == "work_outer_wall_ns":
        wall = int(v)
n, incl, excl, mx = get("work_outer")
if has("work_outer") and not (0.90 * wall <= incl <= 1.01 * wall + 2000):
    fail("work_outer: inclusive %d ns, the program measured %d ns around the call" % (incl, wall))
if has("work_outer") and excl > incl * 0.05:
    fail("work_outer: exclusive %d ns is over 5%% of its inclusive %d ns" % (excl, incl))
un, uincl, uexcl, umx = get("work_unit")
if has("work_unit") and abs((incl - excl) - uincl) > max(2000, uincl // 1000):
    fail("work_outer callee time %d ns != work_unit inclusive %d ns" % (incl - excl, uincl))
bn, bincl, bexcl, bmx = get("dt_burn")
if has("dt_burn") and abs((uincl - uexcl) - bincl) > max(2000, bincl // 1000):
    fail("work_unit callee time %d ns != dt_burn inclusive %d ns" % (uincl - uexcl, bincl))
if has("dt_burn") and abs(bincl - bexcl) > 1:
    fail("dt_burn is a leaf: inclusive %d ns != exclusive %d ns" % (bincl, bexcl))

# main's inclusive time covers everything it called.
n, incl, excl, mx = get("main")
inner = sum(get(f)[1] for f in ("fib", "leaf_loop", "work_outer", "deep", "jump_outer"))
if incl < inner:
    fail("main: inclusive %d ns below the sum of its callees' %d ns" % (incl, inner))

for name in sorted(truth):
    n, incl, excl, mx = get(name)
    print("NOTE %-10s calls %8d  incl %12d ns  excl %12d ns  avg %9.1f ns  max %10d ns"
          % (name, n, incl, excl, incl / n if n else 0, mx))
for m in fails:
    print("FAILMSG " + m)
PY

# run_case PROG: run PROG untraced and traced in empty directories, compare stdout, decode the trace.
run_case()
{
	local prog=$1 name rc d
	name=$(basename "$prog")
	d=$T/$name
	mkdir -p "$d/plain" "$d/traced"
	: >"$d/truth"
	rc=0
	(cd "$d/plain" && "$prog" >"$d/plain.out") || rc=$?
	[ "$rc" -eq 0 ] || fail "$name exited $rc without the shim"
	rc=0
	if [ "$name" = instr_calls ]; then
		(cd "$d/traced" && LD_PRELOAD=$SHIM "$prog" --truth "$d/truth" >"$d/traced.out") || rc=$?
	else
		(cd "$d/traced" && LD_PRELOAD=$SHIM "$prog" >"$d/traced.out") || rc=$?
	fi
	[ "$rc" -eq 0 ] || fail "$name exited $rc under the shim"
	cmp -s "$d/plain.out" "$d/traced.out" ||
		fail "$name: stdout differs under the shim: $(diff "$d/plain.out" "$d/traced.out" | head -n 4 | tr '\n' '|')"
	local trace
	trace=$(only_trace "$d/traced") || {
		fail "$name: expected one deiatrace.*.bin in the working directory, found: $(find "$d/traced" -mindepth 1 -printf "%f ")"
		return
	}
	analyze_json "$trace" "$d/report.json" || return
	python3 "$T/decode.py" "$d/report.json" "$d/traced.out" "$d/truth" >"$d/verdict" 2>&1 ||
		fail "$name: decoder crashed: $(tail -n 3 "$d/verdict" | tr '\n' '|')"
	local line
	while IFS= read -r line; do
		case $line in
		FAILMSG\ *) fail "$name: ${line#FAILMSG }" ;;
		NOTE\ *) note "$name: ${line#NOTE }" ;;
		*) note "$name: $line" ;;
		esac
	done <"$d/verdict"
}

run_case "$TP/instr_calls"
run_case "$TP/instr_threads"
run_case "$TP/instr_many"

# A program with its own hooks: same stdout, one warning naming the culprit, no call records.
d=$T/ownhooks
mkdir -p "$d/plain" "$d/traced"
(cd "$d/plain" && "$TP/instr_ownhooks" >"$d/plain.out") || fail "instr_ownhooks failed without the shim"
(cd "$d/traced" && LD_PRELOAD=$SHIM "$TP/instr_ownhooks" >"$d/traced.out" 2>"$d/traced.err") ||
	fail "instr_ownhooks failed under the shim"
cmp -s "$d/plain.out" "$d/traced.out" || fail "instr_ownhooks: stdout differs under the shim"
grep -q '^deiatrace: calls: __cyg_profile_func_enter is defined by .*instr_ownhooks' "$d/traced.err" ||
	fail "instr_ownhooks: no warning that the program's own hooks win: $(head -c 300 "$d/traced.err")"
if trace=$(only_trace "$d/traced"); then
	if analyze_json "$trace" "$d/report.json"; then
		python3 - "$d/report.json" <<'PY' || fail "instr_ownhooks: the report has exact calls, but the shim's hooks never ran"
import json, sys
sys.exit(1 if any(f.get("calls") is not None for f in json.load(open(sys.argv[1]))["functions"]) else 0)
PY
	fi
else
	fail "instr_ownhooks: expected one trace in the working directory"
fi
finish
