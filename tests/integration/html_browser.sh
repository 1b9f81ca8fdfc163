#!/usr/bin/env bash
# html_browser: the --format html page in a real browser (headless Chromium, Debian's package).
#  - cpu_shares' page: its own script ran (body data-ready, both flame graphs' data-ready), the
#    bottleneck table holds work_large; a test copy of the page with one more script drives the page
#    the way a person would: clicking a numeric header sorts the rows (descending, then ascending),
#    the search box highlights frames and reports the matched share (the work_* functions' sum),
#    clicking a frame zooms it to the full width and hides its siblings.
#  - the hostile trace's page (hostile_trace.py): the DOM Chromium built holds exactly our elements
#    (3 scripts, 2 svg, no img, no on* attribute, no data-pwned), and every name appears as text.
#  - the standalone SVG's script runs in the browser as well.
#  - a screenshot is a non-empty PNG of the asked size.
# Chromium runs as root here, hence --no-sandbox; every run has a timeout.
source "$(dirname "$0")/common.bash" "$@"
require "$SHIM" "$ANALYZE" "$TP/cpu_shares"
CHROMIUM=$(command -v chromium || true)
[ -n "$CHROMIUM" ] || skip "chromium is not installed (scripts/deps.sh installs it)"
command -v python3 >/dev/null || skip "python3 is needed to read the DOM"

CHROMIUM_TIMEOUT_S=60
WINDOW=1280,2000

# browse ARGS... URL: one headless Chromium run; stdout is the caller's, stderr goes to a log.
browse()
{
	timeout -k 5 "$CHROMIUM_TIMEOUT_S" "$CHROMIUM" --headless=new --no-sandbox --disable-gpu \
		--no-first-run --user-data-dir="$T/profile" "$@" 2>>"$T/chromium.log"
}

# dom_check DOM CHECK...: python assertions over the dumped DOM; prints failures.
cat >"$T/dom.py" <<'PY'
import json, sys
from html.parser import HTMLParser
path, checks = sys.argv[1], sys.argv[2:]
tags, attrs, bodyattrs, texts, svgs_ready, cells = {}, [], {}, [], 0, []
class P(HTMLParser):
    cell = None
    def handle_starttag(self, tag, a):
        global svgs_ready
        tags[tag] = tags.get(tag, 0) + 1
        d = dict(a)
        attrs.extend("%s[%s]" % (tag, k) for k in d if k.startswith("on") or k == "data-pwned")
        if tag == "body":
            bodyattrs.update(d)
        if tag == "svg" and d.get("data-ready") == "1":
            svgs_ready += 1
    def handle_data(self, data):
        texts.append(data)
P(convert_charrefs=True).feed(open(path, encoding="utf-8").read())
text = "".join(texts)
problems = []
for c in checks:
    kind, _, arg = c.partition("=")
    if kind == "tags":
        for spec in arg.split(","):
            t, n = spec.split(":")
            if tags.get(t, 0) != int(n):
                problems.append("%d <%s> elements, expected %s" % (tags.get(t, 0), t, n))
    elif kind == "noinject" and attrs:
        problems.append("injected attributes: %s" % attrs[:5])
    elif kind == "ready":
        if bodyattrs.get("data-ready") != "1":
            problems.append("the page's script did not run (body %s)" % bodyattrs)
        if svgs_ready != int(arg):
            problems.append("%d flame graph scripts ran, expected %s" % (svgs_ready, arg))
    elif kind == "text" and arg not in text:
        problems.append("text missing: %r" % arg[:60])
    elif kind == "names":
        for w in json.load(open(arg)):
            if w["name"] not in text:
                problems.append("name missing as text: %r" % w["name"][:60])
    elif kind == "body":
        json.dump(bodyattrs, open(arg, "w"))
print("\n".join(problems))
PY
dom_check()
{
	local out
	out=$(python3 "$T/dom.py" "$@" 2>&1) || out="the DOM does not parse: $(echo "$out" | tail -n 1)"
	[ -z "$out" ] || fail "$(basename "$1"): $(echo "$out" | head -n 4 | tr '\n' '|')"
}

# --- pages
mkdir "$T/cpu" "$T/h"
(cd "$T/cpu" && traced "$TP/cpu_shares" --rounds 2 >/dev/null 2>&1)
cpu_trace=$(only_trace "$T/cpu") || { fail "cpu_shares left no single trace"; finish; }
"$ANALYZE" --format html -o "$T/cpu.html" "$cpu_trace" 2>"$T/a.err" ||
	{ fail "--format html exited $?: $(head -c 200 "$T/a.err")"; finish; }
python3 "$SRC_ROOT/tests/integration/hostile_trace.py" "$T/h" && "$ANALYZE" --format html -o "$T/hostile.html" "$T/h/hostile.bin" 2>"$T/a.err" ||
	{ fail "hostile page: $(head -c 200 "$T/a.err")"; finish; }

# The test copy: one more script after the page's own, acting as a person would and leaving what it
# saw in data-t-* attributes of <body> (the page's CSP allows inline scripts; it allows no network).
python3 - "$T/cpu.html" "$T/cpu-driven.html" <<'PY'
import sys
page = open(sys.argv[1], encoding="utf-8").read()
driver = r"""<script>
(function () {
  var b = document.body, svg = document.querySelector('#flame-cpu svg');
  function set(k, v) { b.setAttribute('data-t-' + k, String(v)); }
  try {
    var table = document.querySelector('#bottlenecks table'), th = null;
    table.querySelectorAll('thead th').forEach(function (h) { if (h.textContent === 'samples') th = h; });
    var col = th.cellIndex;
    function column() {
      return Array.prototype.map.call(table.tBodies[0].rows, function (r) { return r.cells[col].getAttribute('data-v'); }).join(',');
    }
    th.click();
    set('sort1', column());
    th.click();
    set('sort2', column());
    var input = document.querySelector('#flame-cpu input.flame-search');
    input.value = '^work_';
    input.dispatchEvent(new Event('input'));
    set('matched', svg.querySelector('.matched').textContent);
    set('magenta', svg.querySelectorAll('rect[fill="#e040e0"]').length);
    var gs = svg.querySelectorAll('g.f'), target = null, main = null;
    gs.forEach(function (g) {
      var n = g.querySelector('title').textContent.split('\n')[0];
      if (n === 'work_medium') target = g;
      if (n === 'main') main = g;
    });
    target.dispatchEvent(new MouseEvent('click', { bubbles: true }));
    set('zoom-w', target.querySelector('rect').getAttribute('width'));
    set('zoom-main', main.querySelector('rect').getAttribute('width') + ' ' + main.getAttribute('class'));
    set('zoom-hidden', svg.querySelectorAll('g.f.hidden').length);
    set('zoom-text', target.querySelector('text').textContent);
    svg.querySelector('.reset').dispatchEvent(new MouseEvent('click', { bubbles: true }));
    set('unzoom-hidden', svg.querySelectorAll('g.f.hidden').length);
  } catch (e) {
    set('error', e);
  }
})();
</script>
"""
i = page.rindex("</body>")
open(sys.argv[2], "w", encoding="utf-8").write(page[:i] + driver + page[i:])
PY

# --- 1. the first run measures Chromium's start (cold profile directory)
start=$(date +%s%N)
browse --dump-dom "file://$T/cpu.html" >"$T/cpu.dom" || fail "chromium --dump-dom exited $? (log: $(tail -c 200 "$T/chromium.log"))"
note "chromium --dump-dom, first run: $((($(date +%s%N) - start) / 1000000)) ms"
dom_check "$T/cpu.dom" ready=2 noinject text=work_large tags=script:3,svg:2

# --- 2. the driven copy
browse --dump-dom "file://$T/cpu-driven.html" >"$T/driven.dom" || fail "chromium --dump-dom (driven) exited $?"
dom_check "$T/driven.dom" ready=2 "body=$T/driven.json"
if [ -s "$T/driven.json" ]; then
	out=$(python3 - "$T/driven.json" "$cpu_trace" "$ANALYZE" <<'PY'
import json, subprocess, sys
b = json.load(open(sys.argv[1]))
if "data-t-error" in b:
    print("FAIL the driver script failed: %s" % b["data-t-error"])
    sys.exit()
s1 = [float(x) for x in b.get("data-t-sort1", "").split(",") if x]
s2 = [float(x) for x in b.get("data-t-sort2", "").split(",") if x]
if len(s1) < 2 or s1 != sorted(s1, reverse=True) or s2 != sorted(s2):
    print("FAIL sorting by samples: first click %s (descending expected), second %s (ascending expected)" % (s1, s2))
rep = json.loads(subprocess.run([sys.argv[3], "--format", "json", sys.argv[2]], capture_output=True).stdout)
share = sum(f["total_samples"] for f in rep["functions"] if f["name"].startswith("work_")) * 100.0 / rep["summary"]["samples"]
m = b.get("data-t-matched", "")
print("  search ^work_: %s, the report's work_* share %.1f%%" % (m, share))
if not m.startswith("Matched: ") or abs(float(m[9:-1]) - share) > 0.15:
    print("FAIL search: %r, expected Matched: %.1f%%" % (m, share))
if int(b.get("data-t-magenta", 0)) < 3:
    print("FAIL search highlighted %s frames, expected the 3 work_* frames" % b.get("data-t-magenta"))
w, mainw = float(b.get("data-t-zoom-w", 0)), b.get("data-t-zoom-main", "")
if abs(w - 1180) > 0.01 or not mainw.startswith("1180.00") or "dim" not in mainw:
    print("FAIL zoom: work_medium %s wide, main %r (1180 and dimmed expected)" % (w, mainw))
if int(b.get("data-t-zoom-hidden", 0)) < 2 or b.get("data-t-unzoom-hidden") != "0":
    print("FAIL zoom hid %s frames (siblings expected), reset left %s hidden" % (b.get("data-t-zoom-hidden"), b.get("data-t-unzoom-hidden")))
if b.get("data-t-zoom-text") != "work_medium":
    print("FAIL the zoomed frame shows %r" % b.get("data-t-zoom-text"))
PY
	)
	while IFS= read -r line; do
		case $line in FAIL\ *) fail "driven: ${line#FAIL }" ;; "") ;; *) note "${line#  }" ;; esac
	done <<<"$out"
fi

# --- 3. the hostile page: nothing injected, every name shown as text
browse --dump-dom "file://$T/hostile.html" >"$T/hostile.dom" || fail "chromium --dump-dom (hostile) exited $?"
dom_check "$T/hostile.dom" ready=2 noinject tags=script:3,svg:2,img:0,x:0 "names=$T/h/names.json" \
	'text=/nonexistent/</title><script>alert(3)</script>' 'text="><svg onload=alert(4)>'

# --- 4. the standalone SVG's own script runs too (document.currentScript in an SVG document)
"$ANALYZE" --format svg -o "$T/cpu.svg" "$cpu_trace" 2>/dev/null || fail "--format svg failed"
browse --dump-dom "file://$T/cpu.svg" >"$T/svg.dom" || fail "chromium --dump-dom (svg) exited $?"
grep -q '<svg[^>]* data-ready="1"' "$T/svg.dom" || fail "the standalone SVG's script did not run: $(head -c 300 "$T/svg.dom")"

# --- 5. a screenshot
start=$(date +%s%N)
(cd "$T" && browse --screenshot="$T/page.png" --window-size="$WINDOW" "file://$T/cpu.html" >/dev/null) ||
	fail "chromium --screenshot exited $?"
note "chromium --screenshot: $((($(date +%s%N) - start) / 1000000)) ms"
python3 - "$T/page.png" "$WINDOW" <<'PY' || fail "screenshot: $(python3 - "$T/page.png" "$WINDOW" 2>&1 | tail -n 1)"
import struct, sys
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG (%d bytes)" % len(data)
w, h = struct.unpack(">II", data[16:24])
want = tuple(int(x) for x in sys.argv[2].split(","))
assert (w, h) == want, "PNG is %dx%d, expected %dx%d" % (w, h, want[0], want[1])
assert len(data) > 10000, "PNG of %d bytes: a blank page?" % len(data)
PY
finish
