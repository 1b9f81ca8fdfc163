#!/usr/bin/env bash
# symbols: the profile names a static function of the executable (static_spin), a function of a shared
# library (dt_shared_spin in libdtshared.so) and a demangled C++ method (demo::Matrix::multiply(...)),
# each with the right module, source file, and a line inside the function's body.
# shellcheck source=tests/integration/common.bash
source "$(dirname "$0")/common.bash" "$@"
require "$SHIM" "$ANALYZE" "$TP/symbols" "$TP/cxx_methods" "$TP/libdtshared.so"

MIN_SELF_PCT=25 # each function burns about 50% (symbols) or 95% (cxx_methods) of the CPU

# profile PROG: run PROG under the shim, leave its JSON report in $T/PROG.json.
profile()
{
	local prog=$1 rc=0 trace
	mkdir "$T/$prog"
	(cd "$T/$prog" && traced "$TP/$prog" >"$T/$prog.out" 2>"$T/$prog.err") || rc=$?
	[ "$rc" -eq 0 ] || fail "$prog under the shim exited $rc: $(head -c 300 "$T/$prog.err")"
	trace=$(only_trace "$T/$prog") || {
		fail "$prog: expected one deiatrace.*.bin, found: $(ls "$T/$prog")"
		return 1
	}
	analyze_json "$trace" "$T/$prog.json"
}

# expect JSON NAME_PREFIX MODULE SOURCE START_REGEX: one function whose name is NAME_PREFIX or starts
# with NAME_PREFIX + "(" must have module basename MODULE, file basename SOURCE, a line within the
# function's body in SRC_ROOT/tests/programs/... and at least MIN_SELF_PCT self time.
expect()
{
	local out
	out=$(python3 - "$@" "$SRC_ROOT" "$MIN_SELF_PCT" <<'PY'
import json, os, re, sys
report, name, module, source, start_re, root, min_pct = sys.argv[1:8]
doc = json.load(open(report))

def body_lines(path, regex):
    """First and last line of the function whose definition matches regex (brace matching)."""
    lines = open(path).read().split("\n")
    for i, l in enumerate(lines):
        if re.search(regex, l):
            depth, seen = 0, False
            for j in range(i, len(lines)):
                depth += lines[j].count("{") - lines[j].count("}")
                seen = seen or "{" in lines[j]
                if seen and depth <= 0:
                    return i + 1, j + 1
    return None

src_path = os.path.join(root, "tests/programs", source)
span = body_lines(src_path, start_re)
cands = [f for f in doc.get("functions", [])
         if f.get("name") == name or (f.get("name") or "").startswith(name + "(")]
if not cands:
    near = sorted(doc.get("functions", []), key=lambda f: -float(f.get("self_pct") or 0))[:5]
    print("FAIL %s not in the report; top functions: %s" % (name, ", ".join(
        "%s [%s]" % (f.get("name"), f.get("module")) for f in near)))
    sys.exit(0)
f = max(cands, key=lambda f: float(f.get("self_pct") or 0))
problems = []
mod = os.path.basename(f.get("module") or "")
if mod != module:
    problems.append("module is '%s', expected %s" % (f.get("module"), module))
fil = f.get("file") or ""
if os.path.basename(fil) != os.path.basename(source):
    problems.append("file is '%s', expected .../%s" % (fil, source))
line = f.get("line") or 0
if span is None:
    problems.append("cannot find the definition /%s/ in %s" % (start_re, src_path))
elif not (span[0] <= int(line) <= span[1]):
    problems.append("line %s is outside the function's lines %d-%d" % (line, span[0], span[1]))
if float(f.get("self_pct") or 0) < float(min_pct):
    problems.append("self_pct %s < %s" % (f.get("self_pct"), min_pct))
desc = "%s [%s] %s:%s self %s%%" % (f.get("name"), f.get("module"), fil, line, f.get("self_pct"))
print(("FAIL " + desc + ": " + "; ".join(problems)) if problems else ("OK " + desc))
PY
)
	case $out in
	OK*) note "${out#OK }" ;;
	FAIL*) fail "${out#FAIL }" ;;
	*) fail "$2: checker failed: $out" ;;
	esac
}

if profile symbols; then
	expect "$T/symbols.json" static_spin symbols symbols.c 'uint64_t static_spin\('
	expect "$T/symbols.json" dt_shared_spin libdtshared.so lib/dtshared.c 'uint64_t dt_shared_spin\('
fi
if profile cxx_methods; then
	expect "$T/cxx_methods.json" 'demo::Matrix::multiply' cxx_methods cxx_methods.cpp 'Matrix multiply\('
	# The demangled name carries the parameter list: a raw _ZNK4demo... or a bare name means no demangling.
	python3 -c '
import json, sys
names = [f.get("name") or "" for f in json.load(open(sys.argv[1])).get("functions", [])]
sys.exit(0 if any(n.startswith("demo::Matrix::multiply(") for n in names) else 1)' "$T/cxx_methods.json" ||
		fail "no function named demo::Matrix::multiply(...) with its parameter list"
fi
finish
