#!/usr/bin/env bash
# The manual pages in man/: `mandoc -T lint -W warning` is silent, each page renders (mandoc; groff
# and man -l too where installed, with their warnings on), and the pages cannot drift from the
# built programs: every long option (with its short form, its listed choices and its default) that
# `deiatrace-analyze --help`, `deiatrace --help` and `deiatrace COMMAND --help` print is an entry of
# the page's OPTIONS (one subsection per command in deiatrace(1)) and every entry there is printed
# by the program; the hint parameters and their defaults match; the ENVIRONMENT of deiatrace(1) and
# libdeiatrace(7) lists exactly the shim's option table (preload/dt_config.c) with its defaults.
# Usage: tests/integration/man_pages.sh BUILD_DIR
source "$(dirname "$0")/common.bash" "$@"

MAN_DIR=$SRC_ROOT/man
PAGES=("$MAN_DIR/deiatrace.1" "$MAN_DIR/deiatrace-analyze.1" "$MAN_DIR/libdeiatrace.7")
require "$ANALYZE" "$B/deiatrace" "${PAGES[@]}"
if ! command -v mandoc >/dev/null; then
	fail "mandoc is not installed (scripts/deps.sh installs it)"
	finish
fi

# ---------------------------------------------------------------- lint and render
rc=0
lint=$(mandoc -T lint -W warning "${PAGES[@]}" 2>&1) || rc=$?
if [ "$rc" -ne 0 ] || [ -n "$lint" ]; then
	fail "mandoc -T lint -W warning exited $rc: $(printf '%s' "$lint" | head -n 5 | tr '\n' ' ')"
fi
for page in "${PAGES[@]}"; do
	name=$(basename "$page")
	title=$(printf '%s' "${name%.*}" | tr '[:lower:]' '[:upper:]')"(${name##*.})"
	# Bold is overstruck (X backspace X): strip it to read the text.
	mandoc -T utf8 "$page" 2>"$T/$name.err" | sed 's/.\x08//g' >"$T/$name.txt"
	rc=${PIPESTATUS[0]}
	if [ "$rc" -ne 0 ] || ! head -n 1 "$T/$name.txt" | grep -qF "$title" || ! grep -q '^NAME' "$T/$name.txt"; then
		fail "mandoc -T utf8 $name: exit $rc, no '$title' header or NAME section: $(head -c 200 "$T/$name.err")"
	fi
	if command -v groff >/dev/null; then
		warn=$(groff -ww -mandoc -z -Tutf8 "$page" 2>&1)
		[ -z "$warn" ] || fail "groff -ww -mandoc $name warns: $(printf '%s' "$warn" | head -n 3 | tr '\n' ' ')"
	fi
	if command -v man >/dev/null; then
		rc=0
		MANPAGER=cat MANWIDTH=80 man -l "$page" >"$T/$name.man" 2>"$T/$name.man.err" </dev/null || rc=$?
		if [ "$rc" -ne 0 ] || ! grep -q 'SYNOPSIS' "$T/$name.man"; then
			fail "man -l $name: exit $rc, no SYNOPSIS: $(head -c 200 "$T/$name.man.err")"
		fi
	fi
done

# ---------------------------------------------------------------- drift between pages and programs
python3 - "$B" "$MAN_DIR" "$SRC_ROOT/preload/dt_config.c" >"$T/drift.out" 2>&1 <<'PY' || true
import re, subprocess, sys

build, man_dir, config_c = sys.argv[1:4]
bad, checked = [], 0

def run(argv):
    p = subprocess.run(argv, capture_output=True, text=True)
    if p.returncode != 0:
        bad.append("%s exited %d" % (" ".join(argv), p.returncode))
    return p.stdout

def render(page):
    p = subprocess.run(["mandoc", "-T", "ascii", page], capture_output=True, text=True)
    return re.sub(r".\x08", "", p.stdout).splitlines()  # drop bold/underline overstrikes

def sections(lines):
    """{section: {subsection or '': [lines]}}: mandoc puts .Sh at column 0 and .Ss at column 3."""
    out, sec, sub = {}, None, ""
    for l in lines:
        if re.match(r"^[A-Z]", l):
            sec, sub = l.strip(), ""
            out.setdefault(sec, {}).setdefault(sub, [])
        elif re.match(r"^   \S", l) and sec:
            sub = l.strip()
            out[sec].setdefault(sub, [])
        elif sec:
            out[sec][sub].append(l)
    return out

OPT_LINE = re.compile(r"^\s{1,8}(?:-(\w), )?--([a-z][a-z0-9-]*)(.*)$")

def help_options(text):
    """{long: (short or None, description with continuation lines)} and every --long mentioned."""
    opts, cur = {}, None
    for l in text.splitlines():
        m = OPT_LINE.match(l)
        if m:
            cur = m.group(2)
            opts[cur] = [m.group(1), m.group(3)]
        elif cur and re.match(r"^\s{10,}\S", l):
            opts[cur][1] += " " + l.strip()
        else:
            cur = None
    mentioned = set(re.findall(r"(?<![\w-])--([a-z][a-z0-9-]*)", text))
    return opts, mentioned

def man_items(lines):
    """Option entries of one (sub)section: {long: (short or None, the entry's text)}."""
    items, cur = {}, None
    for l in lines:
        m = re.match(r"^ {5}(?:-(\w), )?--([a-z][a-z0-9-]*)(.*)$", l)
        if m:
            cur = m.group(2)
            items[cur] = [m.group(1), m.group(3)]
        elif re.match(r"^ {5}\S", l):
            cur = None
        elif cur:
            items[cur][1] += " " + l.strip()
    return items

def choices(desc):
    """'text (default), json, markdown or folded ...' -> the listed words, else []."""
    m = re.search(r"(?:^|\s)((?:[a-z_]+(?: \(default\))?, )+[a-z_]+(?: \(default\))? or [a-z_]+)", desc)
    if not m:
        return []
    return [w.split()[0] for w in re.split(r", | or ", m.group(1))]

def compare(where, cmd, help_text, lines):
    global checked
    opts, mentioned = help_options(help_text)
    items = man_items(lines)
    for name in sorted(mentioned | set(opts)):
        checked += 1
        if name not in items:
            bad.append("%s: --%s is printed by `%s --help` but has no entry" % (where, name, cmd))
            continue
        short, desc = opts.get(name, [None, ""])
        if name in opts and items[name][0] != short:
            bad.append("%s: --%s: `%s --help` says short option %s, the page %s"
                       % (where, name, cmd, short and "-" + short, items[name][0] and "-" + items[name][0]))
        words = [w.rstrip(".") for w in re.findall(r"[\w.%/+-]+", items[name][1])]
        for c in choices(desc):
            if c not in words:
                bad.append("%s: --%s: `%s --help` lists %r, the page does not" % (where, name, cmd, c))
        for d in re.findall(r"default:?\s+([\w.%/+-]*\w)", desc):
            if d not in words:
                bad.append("%s: --%s: `%s --help` says default %s, the page does not" % (where, name, cmd, d))
    for name in sorted(set(items) - mentioned - set(opts)):
        bad.append("%s: documents --%s, which `%s --help` does not print" % (where, name, cmd))

fe, an = build + "/deiatrace", build + "/deiatrace-analyze"
fe_page = sections(render(man_dir + "/deiatrace.1"))
an_page = sections(render(man_dir + "/deiatrace-analyze.1"))
lib_page = sections(render(man_dir + "/libdeiatrace.7"))

# deiatrace(1): "Global options" for `deiatrace --help`, "deiatrace CMD" for each command it lists.
fe_help = run([fe, "--help"])
block = re.search(r"^Commands:\n((?:  \S.*\n)+)", fe_help, re.M)
commands = re.findall(r"^  ([a-z]+)\s", block.group(1), re.M) if block else []
if len(commands) < 4:
    bad.append("`deiatrace --help`: found commands %s, expected record, report, diff, bench" % commands)
fe_opts = fe_page.get("OPTIONS", {})
compare("deiatrace.1 Global options", "deiatrace", fe_help, fe_opts.get("Global options", []))
for c in commands:
    sub = "deiatrace " + c
    if sub not in fe_opts:
        bad.append("deiatrace.1: no OPTIONS subsection '%s' for the command `deiatrace --help` lists" % sub)
    compare("deiatrace.1 " + sub, "deiatrace " + c, run([fe, c, "--help"]), fe_opts.get(sub, []))
for sub in fe_opts:
    if sub.startswith("deiatrace ") and sub.split()[1] not in commands:
        bad.append("deiatrace.1: subsection '%s' documents a command `deiatrace --help` does not list" % sub)

# deiatrace-analyze(1): its OPTIONS, and the hint parameters with their defaults.
an_help = run([an, "--help"])
compare("deiatrace-analyze.1 OPTIONS", "deiatrace-analyze", an_help, an_page.get("OPTIONS", {}).get("", []))
hp = re.search(r"^Hint parameters.*\n((?:  \S.*\n)+)", an_help, re.M)
help_hints = dict(re.findall(r"^\s+([a-z_]+\.[a-z_]+)\s+(\S+)", hp.group(1), re.M)) if hp else {}
man_hints = dict(re.findall(r"^\s+([a-z_]+\.[a-z_]+)\s+(\S+?):", "\n".join(an_page.get("OPTIONS", {}).get("", [])), re.M))
if len(help_hints) < 5:
    bad.append("`deiatrace-analyze --help`: found %d hint parameters; the parser is out of date" % len(help_hints))
for k, v in sorted(help_hints.items()):
    checked += 1
    if man_hints.get(k) != v:
        bad.append("deiatrace-analyze.1: hint %s: --help says %s, the page %s" % (k, v, man_hints.get(k)))
for k in sorted(set(man_hints) - set(help_hints)):
    bad.append("deiatrace-analyze.1: documents hint %s, which --help does not list" % k)

# ENVIRONMENT of deiatrace(1) and libdeiatrace(7) against the shim's option table.
table = dict(re.findall(r'\{"(DEIATRACE_[A-Z_]+)",\s*OPT_[A-Z]+,\s*"([^"]*)"', open(config_c).read()))
if len(table) < 5:
    bad.append("found only %d options in dt_config.c: the parser is out of date" % len(table))
for page, secs in (("deiatrace.1", fe_page), ("libdeiatrace.7", lib_page)):
    env, cur = {}, None
    for l in secs.get("ENVIRONMENT", {}).get("", []):
        m = re.match(r"^ {5}(\S+)\s*$", l)
        if m:
            cur = m.group(1)
            env[cur] = ""
        elif re.match(r"^ {5}\S", l):
            cur = None
        elif cur:
            env[cur] += " " + l.strip()
    for name, default in sorted(table.items()):
        checked += 1
        if name not in env:
            bad.append("%s: ENVIRONMENT lacks %s (preload/dt_config.c)" % (page, name))
            continue
        m = re.search(r"Default:\s+(\S+?)\.(?:\s|$)", env[name])
        if not m or m.group(1) != default:
            bad.append("%s: %s: the option table's default is %r, the page says %r"
                       % (page, name, default, m and m.group(1)))
    for name in sorted(n for n in env if n.startswith("DEIATRACE_") and n not in table):
        bad.append("%s: ENVIRONMENT lists %s, which the shim does not read" % (page, name))

for b in bad:
    print("DRIFT " + b)
print("CHECKED %d" % checked)
PY
if ! grep -q '^CHECKED' "$T/drift.out"; then
	fail "the drift check crashed: $(tail -n 5 "$T/drift.out" | tr '\n' ' ')"
fi
while IFS= read -r line; do
	fail "${line#DRIFT }"
done < <(grep '^DRIFT ' "$T/drift.out")
note "$(grep '^CHECKED' "$T/drift.out" | sed 's/CHECKED/checked/') options, hint parameters and variables against the built programs"
finish
