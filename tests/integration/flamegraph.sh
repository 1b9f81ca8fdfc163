#!/usr/bin/env bash
# flamegraph: --format svg (and html) from real traces with known answers, and from a hostile one.
#  - cpu_shares (it measures its own functions' CPU shares): the SVG parses as XML, the root frame is at
#    the bottom, main's widest children are work_large > work_medium > work_small, their widths and
#    data-v values are within 3 points of the measured shares, and each tooltip holds the sample count
#    the JSON report gives for that function.
#  - mem_truth (known bytes and calls per function): --metric alloc_bytes / alloc_calls / peak_bytes
#    frames carry exactly the true values, also in their tooltips; deiatrace report takes --metric too.
#  - DEIATRACE_MALLOC=off and --metric alloc_bytes: exit 2 and a message naming what to do.
#  - hostile names (hostile_trace.py: </script>, "><svg onload=...>, ]]>, ESC, invalid UTF-8, 1 MiB):
#    the SVG and the HTML page parse, the names are text in <title> and <text> nodes, no element or
#    attribute was injected, and the output stays small.
source "$(dirname "$0")/common.bash" "$@"
require "$SHIM" "$ANALYZE" "$TP/cpu_shares" "$TP/mem_truth"
command -v python3 >/dev/null || skip "python3 is needed to parse the SVG"
FRONTEND=$B/deiatrace

TOLERANCE_PTS=3
HOSTILE_MAX_BYTES=$((2 * 1024 * 1024)) # a 1 MiB name must not be repeated in full

# frames.py SVG: prints one JSON object {name: {"v": sum of data-v, "w": sum of widths, "titles": [...]}}
# plus "__root__" (value, width, y) and "__problems__" (structural problems).
cat >"$T/frames.py" <<'PY'
import json, sys
import xml.etree.ElementTree as ET
NS = "{http://www.w3.org/2000/svg}"
root = ET.parse(sys.argv[1]).getroot()
out, problems, frames = {}, [], []
if root.tag != NS + "svg":
    problems.append("root element is %s" % root.tag)
for g in root.iter(NS + "g"):
    if g.get("class") != "f":
        continue
    title, rect, text = g.find(NS + "title"), g.find(NS + "rect"), g.find(NS + "text")
    if title is None or rect is None or text is None:
        problems.append("frame without title/rect/text")
        continue
    frames.append((title.text.split("\n"), float(rect.get("x")), float(rect.get("width")),
                   int(rect.get("y")), int(g.get("data-v")), text.text or ""))
if not frames:
    problems.append("no frames")
else:
    lines, x, w, y, v, _ = frames[0]
    out["__root__"] = {"name": lines[0], "v": v, "w": w, "y": y, "max_y": max(f[3] for f in frames)}
for lines, x, w, y, v, text in frames[1:]:
    e = out.setdefault(lines[0], {"v": 0, "w": 0.0, "titles": [], "texts": []})
    e["v"] += v
    e["w"] += w
    e["titles"].append("\n".join(lines))
    e["texts"].append(text)
scripts = root.findall(NS + "script")
if len(scripts) != 1:
    problems.append("%d script elements, expected 1" % len(scripts))
out["__problems__"] = problems
json.dump(out, sys.stdout)
PY

# svg_frames SVG OUT: frames.py into OUT; fails the test when the SVG does not parse.
svg_frames()
{
	if ! python3 "$T/frames.py" "$1" >"$2" 2>"$2.err"; then
		fail "$(basename "$1") is not well-formed XML: $(tail -n 1 "$2.err")"
		return 1
	fi
	local problems
	problems=$(python3 -c 'import json,sys; print("; ".join(json.load(open(sys.argv[1]))["__problems__"]))' "$2")
	[ -z "$problems" ] || fail "$(basename "$1"): $problems"
}

# --- CPU: cpu_shares measures its own shares
mkdir "$T/cpu"
(cd "$T/cpu" && traced "$TP/cpu_shares" --truth "$T/truth.json" >/dev/null 2>"$T/cpu.err") ||
	fail "cpu_shares under the shim failed: $(head -c 200 "$T/cpu.err")"
if cpu_trace=$(only_trace "$T/cpu"); then
	"$ANALYZE" --format svg -o "$T/cpu.svg" "$cpu_trace" 2>"$T/svg.err" ||
		fail "--format svg exited $?: $(head -c 200 "$T/svg.err")"
	"$ANALYZE" --format svg --metric cpu "$cpu_trace" 2>/dev/null | cmp -s - "$T/cpu.svg" ||
		fail "--metric cpu differs from the default SVG"
	analyze_json "$cpu_trace" "$T/cpu.json"
	if svg_frames "$T/cpu.svg" "$T/cpu.frames"; then
		out=$(python3 - "$T/cpu.frames" "$T/truth.json" "$T/cpu.json" "$TOLERANCE_PTS" <<'PY'
import json, sys
fr = json.load(open(sys.argv[1]))
truth = json.load(open(sys.argv[2]))["functions"]
rep = {f["name"]: f for f in json.load(open(sys.argv[3]))["functions"]}
tol = float(sys.argv[4])
root = fr["__root__"]
if root["y"] != root["max_y"]:
    print("FAIL the root frame is not the lowest one (y %d, lowest %d)" % (root["y"], root["max_y"]))
if root["v"] != json.load(open(sys.argv[3]))["summary"]["samples"]:
    print("FAIL root value %d is not the summary's sample count" % root["v"])
want = ["work_large", "work_medium", "work_small"]
kids = sorted(((v["v"], n) for n, v in fr.items() if not n.startswith("__") and n in want + ["main"]),
              reverse=True)
order = [n for _, n in kids if n != "main"]
if order != want:
    print("FAIL widest children of main in order %s, expected %s" % (order, want))
for n in want:
    e = fr.get(n)
    if not e:
        print("FAIL no frame for %s" % n)
        continue
    share_v = 100.0 * e["v"] / root["v"]
    share_w = 100.0 * e["w"] / root["w"]
    t = float(truth[n]["self_pct"])
    print("  %s: frame %.2f%% of samples, %.2f%% of the width, measured %.2f%%" % (n, share_v, share_w, t))
    if abs(share_v - t) > tol or abs(share_w - share_v) > 0.1:
        print("FAIL %s: frame share %.2f%% (width %.2f%%), the program measured %.2f%%" % (n, share_v, share_w, t))
    samples = rep[n]["total_samples"]
    if not any("%d samples, " % samples in t for t in e["titles"]) or e["v"] != samples:
        print("FAIL %s: tooltip %r lacks the report's %d samples" % (n, e["titles"][:1], samples))
    if not any(x == n for x in e["texts"]):
        print("FAIL %s: no frame shows its name in full (texts %r)" % (n, e["texts"][:2]))
PY
		)
		while IFS= read -r line; do
			case $line in FAIL\ *) fail "cpu: ${line#FAIL }" ;; *) note "${line#  }" ;; esac
		done <<<"$out"
	fi
	# The HTML page of the same trace: well-formed enough for python's HTML parser, CPU and memory
	# flame graphs inline, the bottleneck visible.
	if "$ANALYZE" --format html -o "$T/cpu.html" "$cpu_trace" 2>"$T/html.err"; then
		python3 - "$T/cpu.html" <<'PY' || fail "cpu.html: $(python3 - "$T/cpu.html" 2>&1 | tail -n 1)"
import sys
from html.parser import HTMLParser
text = open(sys.argv[1], encoding="utf-8").read()
counts = {}
class P(HTMLParser):
    def handle_starttag(self, tag, attrs):
        counts[tag] = counts.get(tag, 0) + 1
P().feed(text)
assert counts.get("svg") == 2, "expected a CPU and an alloc_bytes flame graph, found %d svg" % counts.get("svg", 0)
assert counts.get("script") == 3, "expected 3 scripts (page + 2 graphs), found %d" % counts.get("script", 0)
assert "work_large" in text and 'data-metric="alloc_bytes"' in text
for bad in ("http://", "https://"):
    rest = text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert bad not in rest, "the page refers to the network: " + bad
PY
	else
		fail "--format html exited $?: $(head -c 200 "$T/html.err")"
	fi
else
	fail "cpu_shares left no single trace: $(ls "$T/cpu")"
fi

# --- memory: mem_truth knows its bytes and calls
mkdir "$T/mem"
(cd "$T/mem" && traced "$TP/mem_truth" >"$T/mem.truth" 2>"$T/mem.err") ||
	fail "mem_truth under the shim failed: $(head -c 200 "$T/mem.err")"
if mem_trace=$(only_trace "$T/mem"); then
	for metric in alloc_bytes alloc_calls peak_bytes; do
		if ! "$ANALYZE" --format svg --metric "$metric" -o "$T/mem-$metric.svg" "$mem_trace" 2>"$T/m.err"; then
			fail "--metric $metric exited $?: $(head -c 200 "$T/m.err")"
			continue
		fi
		svg_frames "$T/mem-$metric.svg" "$T/mem-$metric.frames" || continue
		out=$(python3 - "$T/mem-$metric.frames" "$T/mem.truth" "$metric" <<'PY'
import json, sys
fr = json.load(open(sys.argv[1]))
truth = dict((l.split()[1], int(l.split()[2])) for l in open(sys.argv[2]) if l.startswith("truth "))
metric = sys.argv[3]
key = {"alloc_bytes": "bytes", "alloc_calls": "calls", "peak_bytes": "peak_live"}[metric]
unit = {"alloc_bytes": " bytes allocated", "alloc_calls": " allocation calls",
        "peak_bytes": " bytes live at the heap peak"}[metric]
names = {"alloc_bytes": ["mem_small", "mem_medium", "mem_large", "mem_chain", "mem_hold_peak"],
         "alloc_calls": ["mem_small", "mem_medium", "mem_large", "mem_chain", "mem_hold_peak"],
         "peak_bytes": ["mem_hold_peak"]}[metric]
for n in names:
    want = truth["%s.%s" % (n, key)]
    e = fr.get(n)
    got = e["v"] if e else None
    if got != want:
        print("FAIL %s %s: frame value %s, the program says %d" % (metric, n, got, want))
    elif not any(t.split("\n")[-1].startswith("%d%s" % (want, unit)) for t in e["titles"]):
        print("FAIL %s %s: tooltip %r lacks %d%s" % (metric, n, e["titles"][:1], want, unit))
    else:
        print("  %s %s: %d" % (metric, n, got))
PY
		)
		while IFS= read -r line; do
			case $line in FAIL\ *) fail "mem: ${line#FAIL }" ;; *) note "${line#  }" ;; esac
		done <<<"$out"
	done
	if [ -x "$FRONTEND" ]; then
		if "$FRONTEND" report --format svg --metric alloc_calls -o "$T/fe.svg" "$mem_trace" 2>"$T/fe.err"; then
			cmp -s "$T/fe.svg" "$T/mem-alloc_calls.svg" ||
				fail "deiatrace report --metric alloc_calls differs from deiatrace-analyze's"
		else
			fail "deiatrace report --format svg --metric alloc_calls exited $?: $(head -c 200 "$T/fe.err")"
		fi
	fi
	"$ANALYZE" --format svg --metric bogus "$mem_trace" >/dev/null 2>"$T/bogus.err"
	rc=$?
	[ "$rc" -eq 2 ] && grep -q "alloc_bytes" "$T/bogus.err" ||
		fail "--metric bogus: exit $rc (2 expected) and the metric names in: $(head -c 200 "$T/bogus.err")"
else
	fail "mem_truth left no single trace: $(ls "$T/mem")"
fi

# --- no memory data: a memory metric is refused with advice, the CPU graph still works
mkdir "$T/off"
(cd "$T/off" && DEIATRACE_MALLOC=off traced "$TP/cpu_shares" --rounds 1 >/dev/null 2>&1)
if off_trace=$(only_trace "$T/off"); then
	"$ANALYZE" --format svg --metric alloc_bytes -o "$T/off.svg" "$off_trace" 2>"$T/off.err"
	rc=$?
	[ "$rc" -eq 2 ] || fail "--metric alloc_bytes on a DEIATRACE_MALLOC=off trace exited $rc, expected 2"
	grep -q "DEIATRACE_MALLOC=on" "$T/off.err" && grep -q -- "--metric cpu" "$T/off.err" ||
		fail "no advice for a trace without memory data: $(head -c 300 "$T/off.err")"
	"$ANALYZE" --format svg -o "$T/off-cpu.svg" "$off_trace" 2>/dev/null && svg_frames "$T/off-cpu.svg" "$T/off.frames" ||
		fail "the CPU flame graph of a DEIATRACE_MALLOC=off trace failed"
	"$ANALYZE" --format html -o "$T/off.html" "$off_trace" 2>/dev/null ||
		fail "--format html of a DEIATRACE_MALLOC=off trace failed"
	grep -q 'data-metric="alloc_bytes"' "$T/off.html" && fail "an alloc_bytes graph in a page without memory data"
else
	fail "cpu_shares (DEIATRACE_MALLOC=off) left no single trace"
fi

# --- hostile names
mkdir "$T/h"
if python3 "$SRC_ROOT/tests/integration/hostile_trace.py" "$T/h" 2>"$T/h.err"; then
	for fmt in svg html; do
		"$ANALYZE" --format "$fmt" -o "$T/h/out.$fmt" "$T/h/hostile.bin" 2>"$T/h.$fmt.err" ||
			fail "hostile: --format $fmt exited $?: $(head -c 200 "$T/h.$fmt.err")"
		size=$(stat -c %s "$T/h/out.$fmt" 2>/dev/null || echo 0)
		[ "$size" -gt 0 ] && [ "$size" -le "$HOSTILE_MAX_BYTES" ] ||
			fail "hostile: --format $fmt wrote $size bytes (1..$HOSTILE_MAX_BYTES expected)"
		"$ANALYZE" --format "$fmt" --metric alloc_bytes -o "$T/h/out-alloc.$fmt" "$T/h/hostile.bin" 2>/dev/null ||
			fail "hostile: --format $fmt --metric alloc_bytes failed"
	done
	if svg_frames "$T/h/out.svg" "$T/h/frames.json" && svg_frames "$T/h/out-alloc.svg" "$T/h/frames-alloc.json"; then
		out=$(python3 - "$T/h/frames.json" "$T/h/frames-alloc.json" "$T/h/names.json" <<'PY'
import json, sys
cpu, alloc = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
for want in json.load(open(sys.argv[3])):
    n = want["name"]
    short = n if len(n) < 40 else n[:40]
    for label, fr, key, unit in (("cpu", cpu, "samples", " samples, "), ("alloc_bytes", alloc, "bytes", " bytes allocated")):
        e = fr.get(n)
        if not e:
            print("FAIL %s: no frame whose title names %r" % (label, short))
            continue
        if e["v"] != want[key] or not e["titles"][0].split("\n")[-1].startswith("%d%s" % (want[key], unit)):
            print("FAIL %s %r: value %d / tooltip %r, expected %d" % (label, short, e["v"], e["titles"][0][-60:], want[key]))
        shown = e["texts"][0]
        if shown and not (n.startswith(shown) or (shown.endswith("..") and n.startswith(shown[:-2]))):
            print("FAIL %s %r: frame text %r is not the name's head" % (label, short, shown[:60]))
    print("  %r: title and frame text ok" % short)
PY
		)
		while IFS= read -r line; do
			case $line in FAIL\ *) fail "hostile: ${line#FAIL }" ;; *) note "${line#  }" ;; esac
		done <<<"$out"
	fi
	# The page: nothing outside our own markup, every name present as text.
	python3 - "$T/h/out.html" "$T/h/names.json" <<'PY' >"$T/h/page.out" 2>&1 || fail "hostile page: $(tail -n 3 "$T/h/page.out" | tr '\n' '|')"
import json, sys
from html.parser import HTMLParser
counts, bad, texts = {}, [], []
class P(HTMLParser):
    def handle_starttag(self, tag, attrs):
        counts[tag] = counts.get(tag, 0) + 1
        bad.extend("%s %s" % (tag, k) for k, v in attrs if k.startswith("on"))
    def handle_data(self, d):
        texts.append(d)
P(convert_charrefs=True).feed(open(sys.argv[1], encoding="utf-8").read())
text = "".join(texts)
assert not bad, "event handler attributes: %s" % bad
for tag, n in (("script", 3), ("svg", 2), ("img", 0), ("x", 0), ("title", None)):
    if n is not None:
        assert counts.get(tag, 0) == n, "%d <%s> elements, expected %d" % (counts.get(tag, 0), tag, n)
for w in json.load(open(sys.argv[2])):
    assert w["name"] in text, "name missing as text: %r" % w["name"][:60]
for argv in ("/nonexistent/</title><script>alert(3)</script>", '"><svg onload=alert(4)>', "\u241b]0;pwn\u2407"):
    assert argv in text, "argv missing as text: %r" % argv
PY
else
	fail "hostile_trace.py failed: $(head -c 300 "$T/h.err")"
fi
finish
