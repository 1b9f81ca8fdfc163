#!/usr/bin/env bash
# reports_formats: the JSON and Markdown reports checked structurally, and names that need escaping
# surviving every format. JSON: parses with python3, and every field docs/json-schema.md documents for
# summary, functions, bottlenecks, callgraph and hints is present (the doc's tables are the list).
# Markdown: every table's rows have as many cells as its header; summary, bottlenecks, hints and memory
# sections exist. Names: a C++ program (hint_cxx: Acc<unsigned long>::operator<<, operator|,
# spin_n<3>, "[clone .isra.0]") under the shim, and a synthetic trace (written here per
# docs/trace-format.md) whose module name holds | ` [ ] < > & * _ and a double quote, read with
# --no-symbols (names are module+offset).
source "$(dirname "$0")/common.bash" "$@"
require "$SHIM" "$ANALYZE" "$TP/hint_cxx" "$TP/hint_rules"
DOC=$SRC_ROOT/docs/json-schema.md

# check_json JSON: documented fields present, types sane. Prints one line per problem.
cat >"$T/check_json.py" <<'PY'
import json, re, sys

doc_path, path = sys.argv[1:3]
doc = json.load(open(path))
fields, section, in_table = {}, None, False
for line in open(doc_path):
    m = re.match(r"^## `(\w+)`", line)
    if m:
        section, in_table = m.group(1), False
        fields[section] = []
        continue
    if line.startswith("## "):
        section = None
        continue
    if section is None:
        continue
    if line.startswith("|"):
        in_table = True
        cell = line.split("|")[1]
        if cell.strip() in ("field", "---", "rule") or set(cell.strip()) <= set("-:"):
            continue
        fields[section] += re.findall(r"`(\w+)`", cell)
    elif in_table:
        section = None  # only the first table of a section lists fields
problems = []
if doc.get("deiatrace_json_version") != 1:
    problems.append("deiatrace_json_version is %r" % doc.get("deiatrace_json_version"))
for sec, names in sorted(fields.items()):
    if sec not in doc:
        problems.append("top-level %s missing" % sec)
        continue
    objs = [doc[sec]] if isinstance(doc[sec], dict) else doc[sec]
    if not objs and sec != "hints":
        problems.append("%s is empty" % sec)
    for o in objs:
        missing = [n for n in names if n not in o]
        if missing:
            problems.append("%s object lacks %s" % (sec, missing))
            break
for f in doc.get("functions", []):
    if f["calls"] is None and (f["avg_call_ns"] is not None or f["max_call_ns"] is not None):
        problems.append("%s: avg/max per call without a call count" % f["name"])
for h in doc.get("hints", []):
    if not isinstance(h["evidence"], dict) or not all(isinstance(v, (int, float)) for v in h["evidence"].values()):
        problems.append("hint %s: evidence is not an object of numbers" % h["rule"])
for p in problems:
    print(p)
PY

# check_md MD: table column counts, sections. Prints one line per problem.
cat >"$T/check_md.py" <<'PY'
import re, sys

text = open(sys.argv[1]).read()
problems, want, tables = [], None, 0
def cells(line):
    n, i = 0, 0
    while i < len(line):
        if line[i] == "\\":
            i += 2
            continue
        n += line[i] == "|"
        i += 1
    return n - 1
for no, line in enumerate(text.split("\n"), 1):
    if line.startswith("|"):
        if not line.rstrip().endswith("|") or line.rstrip().endswith("\\|"):
            problems.append("line %d: row does not end with an unescaped |: %s" % (no, line[:80]))
        c = cells(line)
        if want is None:
            want, tables = c, tables + 1
        elif c != want:
            problems.append("line %d: %d cells, the table's header has %d: %s" % (no, c, want, line[:120]))
    else:
        want = None
    if re.search(r"(?<!\\)<[A-Za-z/]", line):
        problems.append("line %d: raw HTML-like tag: %s" % (no, line[:120]))
for sec in ("## Summary", "## Functions by self time", "## Bottlenecks", "## Hints"):
    if sec not in text:
        problems.append("no %s section" % sec)
if tables < 3:
    problems.append("%d tables, expected at least 3" % tables)
for p in problems:
    print(p)
PY

# run_formats NAME TRACE [ANALYZER OPTIONS...]: every format into $T/NAME.{json,md,txt,folded}.
run_formats()
{
	local name=$1 trace=$2 f ext
	shift 2
	for f in json markdown text folded; do
		case $f in markdown) ext=md ;; text) ext=txt ;; *) ext=$f ;; esac
		if ! "$ANALYZE" "$@" --format "$f" -o "$T/$name.$ext" "$trace" 2>"$T/$name.$ext.err"; then
			fail "$name: --format $f failed: $(head -c 200 "$T/$name.$ext.err")"
			return 1
		fi
	done
	local out
	out=$(python3 "$T/check_json.py" "$DOC" "$T/$name.json" 2>&1) || out="JSON does not parse: $out"
	[ -z "$out" ] || fail "$name JSON: $(echo "$out" | head -n 3 | tr '\n' '|')"
	out=$(python3 "$T/check_md.py" "$T/$name.md" 2>&1)
	[ -z "$out" ] || fail "$name Markdown: $(echo "$out" | head -n 3 | tr '\n' '|')"
}

# contains FILE NEEDLE WHAT: fixed-string search.
contains()
{
	grep -qF -- "$2" "$1" || fail "$3: $(basename "$1") lacks: $2"
}

# --- a real C++ program under the shim
d=$T/cxx
mkdir -p "$d"
if (cd "$d" && LD_PRELOAD=$SHIM "$TP/hint_cxx" >/dev/null 2>&1) && trace=$(only_trace "$d"); then
	run_formats cxx "$trace"
	shl='demo::Acc<unsigned long>::operator<<(unsigned long)'
	pipe='demo::Acc<unsigned long>::operator|(unsigned long)'
	tmpl='unsigned long demo::spin_n<3>(unsigned long)'
	for n in "$shl" "$pipe" "$tmpl"; do
		contains "$T/cxx.json" "\"name\":\"$n" "cxx"
		contains "$T/cxx.folded" ";$n" "cxx"
		md=$(printf '%s' "$n" | sed -e 's/[][\\`*_<>|~&#!]/\\&/g')
		contains "$T/cxx.md" "| $md" "cxx"
	done
	contains "$T/cxx.txt" "  high_time: $shl" "cxx"
	contains "$T/cxx.md" '- **high\_time** demo::Acc\<unsigned long\>::operator\<\<(unsigned long)' "cxx"
else
	fail "hint_cxx under the shim left no trace"
fi

# --- a memory-heavy real program: the Markdown memory section and JSON memory fields
d=$T/small
mkdir -p "$d"
if (cd "$d" && LD_PRELOAD=$SHIM "$TP/hint_rules" small >/dev/null 2>&1) && trace=$(only_trace "$d"); then
	run_formats small "$trace"
	contains "$T/small.md" "## Memory" "small"
	contains "$T/small.md" "| churn\\_small |" "small"
	contains "$T/small.md" "- **small\\_allocs** churn\\_small: 200000 allocations of 24.0 bytes on average" "small"
else
	fail "hint_rules small under the shim left no trace"
fi

# --- a synthetic trace with hostile names (module basename), no symbolizer
odd='op<<|`x`[1]<T>&*_"q".so'
python3 - "$T/odd.bin" "/nonexistent/$odd" <<'PY'
import struct, sys, zlib
out, modpath = sys.argv[1], sys.argv[2].encode()
def sec(sid, payload):
    return struct.pack("<IIQ", sid, zlib.crc32(payload) & 0xFFFFFFFF, len(payload)) + payload
def s(b):
    return struct.pack("<I", len(b)) + b
meta = [0] * 27
meta[0], meta[3], meta[4], meta[9], meta[13] = 99, 10**9, 10**8, 1000, 10**8
blob = b"DEIATRC\x1a" + struct.pack("<II", 1, 0)
blob += sec(1, struct.pack("<I", len(meta)) + b"".join(struct.pack("<Q", v) for v in meta))
blob += sec(2, s(b"/nonexistent/prog") + struct.pack("<I", 1) + s(b"prog"))
blob += sec(3, struct.pack("<I", 1) + struct.pack("<QQQI", 0, 0x1000, 0x2000, 0) + s(modpath))
stacks = [[0x1300, 0x1201, 0x1101], [0x1200, 0x1101]]
blob += sec(4, struct.pack("<I", len(stacks)) + b"".join(
    struct.pack("<II", len(st), 1) + b"".join(struct.pack("<Q", pc) for pc in st) for st in stacks))
cpu = [(0, 70, 70 * 10**6), (1, 30, 30 * 10**6)]
blob += sec(5, struct.pack("<I", len(cpu)) + b"".join(struct.pack("<IQQ", *c) for c in cpu))
blob += sec(0x7FFF, b"")
open(out, "wb").write(blob)
PY
run_formats odd "$T/odd.bin" --no-symbols
leaf="$odd+0x1300"
contains "$T/odd.json" "\"name\":\"${leaf//\"/\\\"}\"" "odd"
contains "$T/odd.json" "\"function\":\"${leaf//\"/\\\"}\"" "odd"
contains "$T/odd.folded" ";$leaf 70" "odd"
contains "$T/odd.txt" "  high_time: $leaf" "odd"
contains "$T/odd.md" '| op\<\<\|\`x\`\[1\]\<T\>\&\*\_"q".so+0x1300 |' "odd"
contains "$T/odd.md" '- **high\_time** op\<\<\|\`x\`\[1\]\<T\>\&\*\_"q".so+0x1300: 70.0% of samples' "odd"
python3 - "$T/odd.json" "$leaf" <<'PY' || fail "odd: the JSON name does not round-trip exactly"
import json, sys
doc = json.load(open(sys.argv[1]))
sys.exit(0 if any(f["name"] == sys.argv[2] for f in doc["functions"]) else 1)
PY
finish
