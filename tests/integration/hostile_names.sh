#!/usr/bin/env bash
# hostile_names: names that attack the output formats come out inert in every format, end to end.
# A real program whose function symbols are renamed (objcopy --redefine-sym, after assembly, so any
# byte but NUL goes in) to </script>, "><svg onload=alert(1)>, &amp;, ]]>, |, backticks, a Markdown
# link, <b>, ESC [ 2 J, ESC ] 0 ; title BEL, C1 CSI (U+009B and a raw 0x9b), invalid UTF-8, ';',
# newlines, a bidi override and a 1 MiB name runs under the shim and is symbolized normally; a
# synthetic trace carries the same bytes in its module paths, exe and argv (read with --no-symbols).
# Asserted: JSON parses and round-trips each name exactly (invalid UTF-8 -> U+FFFD); text has no
# control characters and is valid UTF-8; folded keeps every name as one frame; Markdown rendered by
# cmark-gfm (GitHub's renderer) has no tag, attribute or link the names brought, and a plain escape
# check without it; SVG parses as XML and HTML has the same elements and attributes as the report of
# the same program with plain names (names only ever as text). SVG and HTML are skipped with a note
# while those formats answer "not implemented".
# shellcheck source=tests/integration/common.bash
source "$(dirname "$0")/common.bash" "$@"
require "$SHIM" "$ANALYZE"
command -v objcopy >/dev/null || skip "objcopy (binutils) is not installed"
FORMATS="text json markdown folded svg html"

# The names, shared by every Python step below.
cat >"$T/names.py" <<'PY'
NAMES = [
    b"</script>",
    b'"><svg onload=alert(1)>',
    b"&amp;",
    b"]]>",
    b"|",
    b"`backtick` | pipe",
    b"[x](http://evil.example/)",
    b"<b>bold</b>",
    b"\x1b[2J",
    b"\x1b]0;title\x07",
    b"\xc2\x9b" b"31m c1 csi",
    b"raw \x9b csi",
    b"bad \xff\xfe \xc0\x80 utf8",
    b"semi;colon",
    b"new\nline\rcr\ttab",
    b"bidi \xe2\x80\xae gnp.exe",
    b"L" * (1 << 20),
]
REGION_NAMES = [b"</script>", b"\x1b[2J", b"bad\xff", b"a|b`c`"]
PLAIN = ["hx_%02d" % i for i in range(len(NAMES))]
PY

# ---- a program whose functions carry the names: hx_NN call each other in a chain, each burns CPU;
# hx_04 allocates (and leaks a little) so the memory section lists a hostile name too.
python3 - "$T" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
from names import NAMES, REGION_NAMES, PLAIN
n = len(NAMES)
def c_str(b):
    return '"' + "".join("\\x%02x" % c for c in b) + '"'
src = ['#include <stdlib.h>', '#include "deiatrace.h"', "#define SPIN_ITERATIONS 12000000u",
       "static volatile unsigned long sink;", "typedef void (*step_fn)(unsigned);",
       "extern step_fn steps[%d];" % n]
for i, name in enumerate(PLAIN):
    body = "for (unsigned k = 0; k < SPIN_ITERATIONS; k++) sink += k ^ %d;" % i
    if i == 4:
        body += " for (int k = 0; k < 1000; k++) { void *p = malloc(64 + k); if (k % 100) free(p); else sink += (unsigned long)p; }"
    src.append("__attribute__((noinline)) void %s(unsigned depth) { %s if (depth) steps[%d](depth - 1); }"
               % (name, body, (i + 1) % n))
src.append("step_fn steps[%d] = {%s};" % (n, ", ".join(PLAIN)))
src.append("int main(void) {")
for r in REGION_NAMES:
    src.append("  dt_region_begin(%s);" % c_str(r))
src.append("  steps[0](%d);" % (n - 1))
for r in REGION_NAMES:
    src.append("  dt_region_end();")
src.append("  return (int)(sink & 0);\n}")
open(sys.argv[1] + "/hostile.c", "w").write("\n".join(src) + "\n")
PY
if ! gcc -O1 -g -fno-omit-frame-pointer -I"$SRC_ROOT/include" -c "$T/hostile.c" -o "$T/plain.o" 2>"$T/cc.err"; then
	fail "compiling the test program failed: $(head -c 300 "$T/cc.err")"
	finish
fi
gcc -o "$T/plain" "$T/plain.o" || fail "linking the plain program failed"
python3 - "$T" <<'PY' || fail "objcopy could not rename the symbols"
import subprocess, sys
sys.path.insert(0, sys.argv[1])
from names import NAMES, PLAIN
d = sys.argv[1]
args = [b"objcopy"]
big = []
for plain, name in zip(PLAIN, NAMES):
    if len(name) > 4096:  # argv strings are limited to 128 KiB: the map file takes the long one
        big.append(plain.encode() + b" " + name + b"\n")
    else:
        args += [b"--redefine-sym", plain.encode() + b"=" + name]
open(d + "/big.map", "wb").write(b"".join(big))
args += [b"--redefine-syms=" + d.encode() + b"/big.map", d.encode() + b"/plain.o", d.encode() + b"/hostile.o"]
subprocess.run(args, check=True)
PY
gcc -o "$T/hostile" "$T/hostile.o" || fail "linking the renamed program failed"
nm "$T/hostile" | grep -qF '</script>' || fail "the renamed program has no </script> symbol"

for prog in plain hostile; do
	mkdir -p "$T/run-$prog"
	(cd "$T/run-$prog" && traced "$T/$prog" >/dev/null 2>"$T/$prog.err") || fail "$prog under the shim failed: $(head -c 200 "$T/$prog.err")"
done

# ---- a synthetic trace: the names as module paths (so as --no-symbols function names), exe and argv
python3 - "$T" <<'PY'
import struct, sys, zlib
sys.path.insert(0, sys.argv[1])
from names import NAMES, REGION_NAMES
def sec(sid, payload):
    return struct.pack("<IIQ", sid, zlib.crc32(payload) & 0xFFFFFFFF, len(payload)) + payload
def s(b):
    return struct.pack("<I", len(b)) + b
names = [n.replace(b"/", b"_") for n in NAMES]  # basenames: no '/'
names[-1] = names[-1][: (1 << 20) - 4]          # path "/x/" + name stays within 1 MiB
meta = [0] * 27
meta[0], meta[3], meta[4], meta[9], meta[13], meta[18] = 99, 10**9, 10**8, 1000, 10**8, 1
blob = b"DEIATRC\x1a" + struct.pack("<II", 1, 0)
blob += sec(1, struct.pack("<I", len(meta)) + b"".join(struct.pack("<Q", v) for v in meta))
blob += sec(2, s(b"/x/" + names[0]) + struct.pack("<I", len(NAMES)) + b"".join(s(n) for n in NAMES))
mods = b"".join(struct.pack("<QQQI", 0x100000 * (i + 1), 0x100000 * (i + 1), 0x100000 * (i + 1) + 0x10000, 0)
                + s(b"/x/" + n)
                for i, n in enumerate(names))
blob += sec(3, struct.pack("<I", len(names)) + mods)
stacks = [[0x100000 * (i + 1) + 0x10, 0x100000 * ((i + 1) % len(names) + 1) + 0x20] for i in range(len(names))]
blob += sec(4, struct.pack("<I", len(stacks)) + b"".join(
    struct.pack("<II", len(st), 1) + b"".join(struct.pack("<Q", pc) for pc in st) for st in stacks))
cpu = [(i, 10 + i, (10 + i) * 10**6) for i in range(len(stacks))]
blob += sec(5, struct.pack("<I", len(cpu)) + b"".join(struct.pack("<IQQ", *c) for c in cpu))
alloc = [(i, 5, 500, 4, 400, 100, 100, 1) for i in range(len(stacks))]
blob += sec(6, struct.pack("<I", len(alloc)) + b"".join(struct.pack("<I7Q", *a) for a in alloc))
regions = b"".join(s(r) + struct.pack("<8Q", *range(1, 9)) for r in REGION_NAMES)
blob += sec(8, struct.pack("<IQII", 1, 0, 8, len(REGION_NAMES)) + regions)
blob += sec(0x7FFF, b"")
open(sys.argv[1] + "/synthetic.bin", "wb").write(blob)
PY

# report NAME TRACE [ARGS...]: every format into $T/NAME.FORMAT; a format answering "not
# implemented" leaves $T/NAME.FORMAT.missing instead.
report()
{
	local name=$1 trace=$2 f rc
	shift 2
	for f in $FORMATS; do
		rc=0
		timeout -k 5 60 "$ANALYZE" "$@" --format "$f" -o "$T/$name.$f" "$trace" 2>"$T/$name.$f.err" || rc=$?
		if [ "$rc" -ne 0 ] && grep -q 'not implemented' "$T/$name.$f.err"; then
			: >"$T/$name.$f.missing"
		elif [ "$rc" -ne 0 ]; then
			fail "$name: --format $f exited $rc: $(head -c 300 "$T/$name.$f.err")"
		fi
	done
}

plain_trace=$(only_trace "$T/run-plain") || fail "the plain program left no trace"
hostile_trace=$(only_trace "$T/run-hostile") || fail "the hostile program left no trace"
[ "$FAILURES" -eq 0 ] || finish
FORMATS="svg html" report plain "$plain_trace" # the reference structure for the flame graphs
report elf "$hostile_trace"
report synthetic "$T/synthetic.bin" --no-symbols

cat >"$T/check.py" <<'PY'
import html.parser, json, os, re, shutil, subprocess, sys, xml.etree.ElementTree as ET
d, which = sys.argv[1], sys.argv[2]
sys.path.insert(0, d)
from names import NAMES, REGION_NAMES
problems = []
def problem(fmt, msg):
    problems.append("%s %s: %s" % (which, fmt, msg))
def read(fmt):
    if os.path.exists("%s/%s.%s.missing" % (d, which, fmt)):
        return None
    try:
        return open("%s/%s.%s" % (d, which, fmt), "rb").read()
    except OSError:
        return None
def shown(b):
    # What a name looks like once made safe: invalid UTF-8 -> U+FFFD.
    return b.decode("utf-8", "replace")
def short(s):
    return repr(s[:40])
synthetic = which == "synthetic"
names = NAMES
if synthetic:  # function names are "basename+0xOFFSET", cut at 511 bytes by the symbolizer
    names = [n.replace(b"/", b"_") for n in NAMES]
    names[-1] = names[-1][: (1 << 20) - 4]
    fn_names = [n + b"+0x10" for n in names if len(n) < 400]
else:
    fn_names = names

# JSON: parses; every name is one function, exactly; argv/regions round-trip too.
raw = read("json")
doc = None
try:
    doc = json.loads(raw.decode("utf-8"))
except Exception as e:
    problem("json", "does not parse: %s" % e)
if doc:
    have = {f["name"] for f in doc.get("functions", [])}
    for n in fn_names:
        if shown(n) not in have:
            problem("json", "no function named exactly %s" % short(shown(n)))
    edges = {e.get("caller") for e in doc.get("callgraph", [])} | {e.get("callee") for e in doc.get("callgraph", [])}
    if shown(fn_names[0]) not in edges:
        problem("json", "the call graph lacks %s" % short(shown(fn_names[0])))
    if synthetic and doc.get("summary", {}).get("argv") != [shown(n) for n in NAMES]:
        problem("json", "summary.argv does not round-trip")
    if synthetic:
        mods = {f.get("module") for f in doc.get("functions", [])}
        for n in names:
            if shown(n) not in mods:
                problem("json", "no module named exactly %s" % short(shown(n)))
    regs = doc.get("regions")
    if isinstance(regs, dict) and regs.get("list"):
        got = {r.get("name") for r in regs["list"]}
        for r in REGION_NAMES:
            if shown(r) not in got:
                problem("json", "region %s missing" % short(shown(r)))

# text: valid UTF-8 without C0 (but \n, \t), DEL, C1 or bidi controls; the names are visible.
raw = read("text")
try:
    txt = raw.decode("utf-8")
except UnicodeDecodeError as e:
    problem("text", "not valid UTF-8: %s" % e)
    txt = raw.decode("utf-8", "replace")
bad = re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", txt)
if bad:
    problem("text", "control character U+%04X near %s" % (ord(bad.group()), short(txt[max(0, bad.start() - 20):])))
for needle in (shown(n) for n in names[:8]):  # printable ASCII: shown as written
    if needle not in txt:
        problem("text", "%s not shown" % short(needle))

# folded: "frame;frame;... count" lines; each name is exactly one frame (';' and line breaks replaced).
raw = read("folded")
frames = set()
for no, line in enumerate(raw.split(b"\n")[:-1], 1):
    m = re.match(rb"^(.+) ([0-9]+)$", line, re.S)
    if not m:
        problem("folded", "line %d is not 'frames count': %s" % (no, short(line)))
        continue
    frames.update(m.group(1).split(b";"))
for n in fn_names:
    want = n.replace(b";", b":").replace(b"\n", b" ").replace(b"\r", b" ")
    if want not in frames:
        problem("folded", "no frame %s" % short(want))

# Markdown: render as GitHub does; only the report's own structure may become tags.
raw = read("markdown")
md = raw.decode("utf-8", "replace")
for no, line in enumerate(md.split("\n"), 1):
    if re.search(r"(?<!\\)<[A-Za-z/!?]", line):
        problem("markdown", "line %d: unescaped '<': %s" % (no, short(line)))
    if re.search(r"(?<!\\)\]\(", line) or re.search(r"(?<!\\)\[[^\]]*(?<!\\)\]\(", line):
        problem("markdown", "line %d: link syntax: %s" % (no, short(line)))
    if "\x1b" in line or "\x07" in line:
        problem("markdown", "line %d: a control character" % no)
allowed = {"h1", "h2", "h3", "p", "table", "thead", "tbody", "tr", "th", "td", "ul", "li", "strong",
           "blockquote", "br", "em", "code"}
class Tags(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags, self.attrs, self.text = set(), set(), []
    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attrs.update(a for a, _ in attrs)
    def handle_data(self, data):
        self.text.append(data)
if shutil.which("cmark-gfm"):
    out = subprocess.run(["cmark-gfm", "-e", "table", "-e", "autolink", "-e", "strikethrough",
                          "-e", "tagfilter"], input=raw, capture_output=True).stdout
    p = Tags()
    p.feed(out.decode("utf-8", "replace"))
    if p.tags - allowed:
        problem("markdown", "rendered with tags %s" % sorted(p.tags - allowed))
    if p.attrs - {"align"}:
        problem("markdown", "rendered with attributes %s" % sorted(p.attrs - {"align"}))
    text = " ".join(" ".join(p.text).split())
    for needle in (shown(n) for n in names[:8]):
        if needle not in text:
            problem("markdown", "rendered text lacks %s" % short(needle))
else:
    print("  hostile_names: note: cmark-gfm not installed, Markdown checked by escapes only")

# The flame graphs: only when the format exists.
def structure(kind, raw):
    # (tags, attribute names) of an SVG (XML) or HTML document.
    p = Tags()
    p.feed(raw.decode("utf-8", "replace"))
    return p.tags, p.attrs, p
for fmt in ("svg", "html"):
    raw = read(fmt)
    if raw is None:
        print("  hostile_names: note: --format %s not implemented yet: %s checks skipped" % (fmt, fmt.upper()))
        continue
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as e:
        problem(fmt, "not valid UTF-8: %s" % e)
    if fmt == "svg":
        try:
            ET.fromstring(raw)
        except ET.ParseError as e:
            problem(fmt, "not well-formed XML: %s" % e)
    low = raw.lower()
    if low.count(b"<script") != low.count(b"</script"):
        problem(fmt, "%d '<script' but %d '</script'" % (low.count(b"<script"), low.count(b"</script")))
    ref = open("%s/plain.%s" % (d, fmt), "rb").read() if not synthetic else None
    tags, attrs, p = structure(fmt, raw)
    if ref is not None:
        rtags, rattrs, _ = structure(fmt, ref)
        if tags - rtags:
            problem(fmt, "elements that plain names do not produce: %s" % sorted(tags - rtags))
        if attrs - rattrs:
            problem(fmt, "attributes that plain names do not produce: %s" % sorted(attrs - rattrs))
    if any(a.startswith("on") for a in attrs) and (ref is None or not any(a.startswith("on") for a in rattrs)):
        problem(fmt, "an event handler attribute appeared")
    text = "".join(p.text)
    if shown(names[1]) not in text:
        problem(fmt, "the name %s is not shown as text" % short(shown(names[1])))
for p in problems:
    print("PROBLEM " + p)
PY

for which in elf synthetic; do
	out=$(python3 "$T/check.py" "$T" "$which" 2>&1) || fail "$which: the checker failed: $(echo "$out" | tail -n 3 | tr '\n' '|')"
	echo "$out" | grep -v -e '^PROBLEM ' -e '^$' | sort -u
	while IFS= read -r line; do
		fail "${line#PROBLEM }"
	done < <(echo "$out" | grep '^PROBLEM ' | head -n 20)
done
finish
