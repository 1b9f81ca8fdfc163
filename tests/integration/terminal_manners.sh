#!/usr/bin/env bash
# Terminal manners (issue 6): colour only on a terminal without NO_COLOR, or with --color=always, never
# with --color=never; -q silences informational lines but not errors; record's summary line (one per
# trace, children of a fork and images of an exec included) names the trace and its sample count, which equals the JSON
# report's; the program's stdout and exit status pass through; errors say what to do next.
# A pseudo-terminal comes from script(1) (bsdutils).
source "$(dirname "$0")/common.bash" "$@"
FE=$B/deiatrace
require "$FE" "$ANALYZE" "$SHIM" "$TP/regions" "$TP/life_fork" "$TP/exit_code"
cd "$T" || exit 1
ESC=$'\033['

# ---- record: summary line, pass-through, -q
out=$("$FE" record -o r.bin -- "$TP/regions" 1 2>err.txt) || fail "record regions: $(cat err.txt)"
[ "$out" = "$("$TP/regions" 1)" ] || fail "record changed the program's stdout: '$out'"
line=$(grep '^deiatrace: trace r.bin (' err.txt)
[ -n "$line" ] || fail "record printed no summary line for r.bin: $(cat err.txt)"
[ "$(grep -c '^deiatrace: trace ' err.txt)" -eq 1 ] || fail "one summary line expected: $(cat err.txt)"
samples=$(sed -n 's/^deiatrace: trace r.bin ([^)]*): \([0-9]*\) samples, \([0-9]*\) allocations.*/\1 \2/p' err.txt)
"$ANALYZE" -f json -o r.json r.bin 2>/dev/null || fail "analyze -f json r.bin"
want=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))["summary"]; print(d["samples"], d["allocations"])' r.json)
[ -n "$samples" ] && [ "$samples" = "$want" ] || fail "summary line says '$samples' (samples allocations), the JSON report '$want'"
[ "$want" != "0 0" ] || fail "the regions program produced no samples and no allocations"

"$FE" record -q -o q.bin -- "$TP/regions" 1 >/dev/null 2>err.txt || fail "record -q failed"
[ -s q.bin ] || fail "record -q wrote no trace"
[ ! -s err.txt ] || fail "record -q printed on stderr: $(cat err.txt)"

rc=0
"$FE" record -o e.bin -- "$TP/exit_code" 7 >/dev/null 2>err.txt || rc=$?
[ "$rc" -eq 7 ] || fail "record of a program exiting 7 exited $rc"
grep -q '^deiatrace: trace e.bin' err.txt || fail "no summary line after a non-zero exit: $(cat err.txt)"

# A fork: the parent's and the child's trace each get a line, the child's names an existing file.
"$FE" record -o f.bin -- "$TP/life_fork" fork >/dev/null 2>err.txt || true
[ "$(grep -c '^deiatrace: trace f.bin' err.txt)" -eq 2 ] || fail "fork: two summary lines (f.bin, f.bin.PID) expected: $(cat err.txt)"
child=$(sed -n 's/^deiatrace: trace \(f\.bin\.[0-9]*\) .*/\1/p' err.txt)
[ -n "$child" ] && [ -f "$child" ] || fail "fork: the child's summary line names no existing trace: '$child'"

# An exec: the image before and the one after each wrote a trace under the same pid; both get a line.
mkdir ex && (cd ex && "$FE" record -- "$TP/life_fork" exec "$TP/exit_code" 0 >/dev/null 2>../err.txt) || true
[ "$(grep -c '^deiatrace: trace deiatrace\.\(life_fork\|exit_code\)\.[0-9]*\.bin ' err.txt)" -eq 2 ] || fail "exec: a line for each image's trace expected: $(grep '^deiatrace:' err.txt)"

# ---- colour
"$ANALYZE" r.bin >plain.txt 2>/dev/null || fail "analyze r.bin"
! grep -qF "$ESC" plain.txt || fail "escape sequences in text written to a pipe"
"$ANALYZE" --color=always r.bin >always.txt 2>/dev/null || fail "analyze --color=always"
grep -qF "${ESC}1m" always.txt || fail "--color=always wrote no bold"
# Colour never changes the text: without the escapes it is the plain report.
sed "s/\x1b\[[0-9;]*m//g" always.txt | cmp -s - plain.txt || fail "--color=always differs from the plain report beyond escapes"
NO_COLOR=1 "$ANALYZE" --color=always r.bin 2>/dev/null | grep -qF "$ESC" || fail "--color=always must win over NO_COLOR"
"$FE" report --color=always -f json r.bin 2>/dev/null | grep -qF "$ESC" && fail "escape sequences in JSON"
"$FE" report --color=sometimes r.bin >/dev/null 2>err.txt
[ $? -eq 2 ] || fail "--color=sometimes did not exit 2"
if command -v script >/dev/null; then
	script -qec "'$ANALYZE' r.bin" /dev/null >tty.txt 2>&1
	grep -qF "$ESC" tty.txt || fail "no colour on a terminal (auto)"
	NO_COLOR=1 script -qec "'$ANALYZE' r.bin" /dev/null >tty.txt 2>&1
	! grep -qF "$ESC" tty.txt || fail "colour on a terminal with NO_COLOR=1"
	script -qec "'$FE' report --color=never r.bin" /dev/null >tty.txt 2>&1
	! grep -qF "$ESC" tty.txt || fail "colour on a terminal with --color=never"
	script -qec "'$FE' report -o tty.out r.bin" /dev/null >/dev/null 2>&1
	! grep -qF "$ESC" tty.out || fail "colour in a file written with -o from a terminal"
else
	note "script(1) missing (bsdutils): the terminal cases were not run"
	fail "script(1) is needed for the terminal cases"
fi

# ---- --quiet: informational lines go, errors stay
"$FE" report r.bin q.bin >/dev/null 2>err.txt || fail "report of two runs: $(cat err.txt)"
grep -q 'merged 2 runs' err.txt || fail "report of two runs did not say it merged them: $(cat err.txt)"
"$FE" report -q r.bin q.bin >/dev/null 2>err.txt || fail "report -q of two runs"
[ ! -s err.txt ] || fail "report -q printed: $(cat err.txt)"
rc=0
"$FE" report -q nosuch.bin >/dev/null 2>err.txt || rc=$?
[ "$rc" -eq 2 ] && grep -q 'nosuch.bin' err.txt || fail "report -q of a missing file: exit $rc, stderr '$(cat err.txt)'"

# ---- errors say what to do next
"$ANALYZE" nosuch.bin 2>err.txt >/dev/null
grep -q 'deiatrace record' err.txt || fail "a missing trace does not point at deiatrace record: $(cat err.txt)"
printf 'not a trace at all, just text of some length' >junk.bin
"$FE" report junk.bin 2>err.txt >/dev/null
grep -q 'record the program again' err.txt || fail "a non-trace does not say to record again: $(cat err.txt)"
"$FE" diff --region nosuch r.bin q.bin 2>err.txt >/dev/null
grep -q 'Regions section' err.txt || fail "an unknown --region does not say where the names are: $(cat err.txt)"
finish
