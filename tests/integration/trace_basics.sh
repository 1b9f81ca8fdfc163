#!/usr/bin/env bash
# trace_basics: where the trace goes and how the shim behaves on bad settings.
#  - default name deiatrace.<prog>.<pid>.bin in the starting directory, even after the program chdir()s
#  - DEIATRACE_OUTPUT with %p and %n; an existing file is never overwritten
#  - DEIATRACE_FREQ=abc: exactly one "deiatrace:" line on stderr, the program runs unchanged
#  - an unwritable output path: one "deiatrace:" line, output and exit status unchanged
#  - summary.sample_hz is the asked rate, achieved_hz within 15% of it
#  - the timer fallback (DEIATRACE_SAMPLER=timer, when the shim has it) accounts CPU time within 15%
# shellcheck source=tests/integration/common.bash
source "$(dirname "$0")/common.bash" "$@"
require "$SHIM" "$ANALYZE" "$TP/spin" "$TP/exit_code"

RATE_TOLERANCE=0.15
SPIN_1S=600000000 # iterations: about one second of CPU

# ---- default name, starting directory, chdir
mkdir "$T/start"
rc=0
(cd "$T/start" && traced "$TP/spin" --chdir / --print-pid --iterations 50000000 >"$T/spin.out" 2>"$T/spin.err") || rc=$?
[ "$rc" -eq 0 ] || fail "spin --chdir / under the shim exited $rc: $(head -c 200 "$T/spin.err")"
pid=$(sed -n 's/^spin: pid \([0-9]*\)$/\1/p' "$T/spin.out")
if [ -z "$pid" ]; then
	fail "spin did not print its pid"
elif [ ! -s "$T/start/deiatrace.spin.$pid.bin" ]; then
	fail "no trace named deiatrace.spin.$pid.bin in the starting directory; it holds: $(ls "$T/start" | tr '\n' ' ')"
	[ -e "/deiatrace.spin.$pid.bin" ] && fail "the trace went to the directory the program chdir()ed to (/)"
fi
rm -f "/deiatrace.spin.$pid.bin" 2>/dev/null
[ -s "$T/spin.err" ] && fail "spin under the shim wrote to stderr: $(head -c 200 "$T/spin.err")"

# ---- DEIATRACE_OUTPUT with %p and %n
mkdir "$T/out"
rc=0
(cd "$T/start" && DEIATRACE_OUTPUT="$T/out/trace-%n-%p.bin" traced "$TP/spin" --print-pid --iterations 50000000 \
	>"$T/spin2.out" 2>"$T/spin2.err") || rc=$?
pid=$(sed -n 's/^spin: pid \([0-9]*\)$/\1/p' "$T/spin2.out")
[ "$rc" -eq 0 ] || fail "spin with DEIATRACE_OUTPUT exited $rc"
if [ ! -s "$T/out/trace-spin-$pid.bin" ]; then
	fail "DEIATRACE_OUTPUT=$T/out/trace-%n-%p.bin: expected trace-spin-$pid.bin, found: $(ls "$T/out" | tr '\n' ' ')"
fi

# ---- an existing file is not overwritten
mkdir "$T/exist"
printf 'precious\n' >"$T/exist/trace.bin"
rc=0
(cd "$T/exist" && DEIATRACE_OUTPUT="$T/exist/trace.bin" traced "$TP/spin" --iterations 20000000 \
	>"$T/exist.out" 2>"$T/exist.err") || rc=$?
[ "$rc" -eq 0 ] || fail "spin with an existing DEIATRACE_OUTPUT file exited $rc"
[ "$(cat "$T/exist/trace.bin")" = precious ] || fail "the existing file $T/exist/trace.bin was overwritten"
note "existing output file: stderr said: $(tr '\n' '|' <"$T/exist.err")"

# stderr_check LABEL ERR_FILE PLAIN_ERR: exactly one deiatrace: line, the rest as in the plain run.
stderr_check()
{
	local n
	n=$(grep -c '^deiatrace: ' "$2")
	[ "$n" -eq 1 ] || fail "$1: $n 'deiatrace:' lines on stderr, expected exactly 1: $(tr '\n' '|' <"$2")"
	grep -v '^deiatrace: ' "$2" | cmp -s - "$3" || fail "$1: the program's own stderr changed"
	note "$1: $(grep '^deiatrace: ' "$2" | head -n 1)"
}

# ---- bad DEIATRACE_FREQ
mkdir "$T/freq"
plain_rc=0
(cd "$T/freq" && "$TP/exit_code" 4 x >"$T/plain.out" 2>"$T/plain.err") || plain_rc=$?
rc=0
(cd "$T/freq" && DEIATRACE_FREQ=abc traced "$TP/exit_code" 4 x >"$T/freq.out" 2>"$T/freq.err") || rc=$?
[ "$rc" -eq "$plain_rc" ] || fail "DEIATRACE_FREQ=abc: exit status $rc, expected $plain_rc"
cmp -s "$T/plain.out" "$T/freq.out" || fail "DEIATRACE_FREQ=abc: stdout changed"
stderr_check "DEIATRACE_FREQ=abc" "$T/freq.err" "$T/plain.err"

# ---- unwritable output locations (a missing directory, a path through a regular file, and for
# non-root users a read-only directory; root writes through mode 0555)
printf 'x' >"$T/afile"
bad_paths=("$T/no/such/dir/t.bin" "$T/afile/t.bin")
if [ "$(id -u)" -ne 0 ]; then
	mkdir "$T/ro" && chmod 555 "$T/ro"
	bad_paths+=("$T/ro/t.bin")
fi
for p in "${bad_paths[@]}"; do
	rc=0
	(cd "$T/freq" && DEIATRACE_OUTPUT=$p traced "$TP/exit_code" 4 x >"$T/bad.out" 2>"$T/bad.err") || rc=$?
	[ "$rc" -eq "$plain_rc" ] || fail "DEIATRACE_OUTPUT=$p: exit status $rc, expected $plain_rc"
	cmp -s "$T/plain.out" "$T/bad.out" || fail "DEIATRACE_OUTPUT=$p: stdout changed"
	stderr_check "DEIATRACE_OUTPUT=$p" "$T/bad.err" "$T/plain.err"
done

# ---- sampling rate: asked and achieved
# rate_check LABEL JSON ASKED_HZ
rate_check()
{
	local asked achieved
	asked=$(summary_field "$2" sample_hz)
	achieved=$(summary_field "$2" achieved_hz)
	note "$1: sample_hz=$asked achieved_hz=$achieved"
	within "${asked:-0}" "$3" 0.001 || fail "$1: summary.sample_hz is '$asked', expected $3"
	within "${achieved:-0}" "$3" "$(python3 -c "print($3 * $RATE_TOLERANCE)")" ||
		fail "$1: summary.achieved_hz is '$achieved', expected $3 +- $(python3 -c "print(int($RATE_TOLERANCE * 100))")%"
}

for hz in default 250; do
	mkdir "$T/rate$hz"
	rc=0
	if [ "$hz" = default ]; then
		(cd "$T/rate$hz" && traced "$TP/spin" --iterations $SPIN_1S >/dev/null 2>"$T/rate.err") || rc=$?
		asked=1000
	else
		(cd "$T/rate$hz" && DEIATRACE_FREQ=$hz traced "$TP/spin" --iterations $SPIN_1S >/dev/null 2>"$T/rate.err") || rc=$?
		asked=$hz
	fi
	[ "$rc" -eq 0 ] || fail "spin at $hz Hz exited $rc"
	trace=$(only_trace "$T/rate$hz") || { fail "rate $hz: no single trace in $T/rate$hz"; continue; }
	analyze_json "$trace" "$T/rate$hz.json" && rate_check "rate $hz" "$T/rate$hz.json" "$asked"
done

# ---- the timer fallback
if grep -qs 'DEIATRACE_SAMPLER' "$SRC_ROOT"/preload/*.c; then
	mkdir "$T/timer"
	rc=0
	(cd "$T/timer" && DEIATRACE_SAMPLER=timer traced "$TP/spin" --iterations $SPIN_1S >/dev/null 2>"$T/timer.err") || rc=$?
	[ "$rc" -eq 0 ] || fail "spin with DEIATRACE_SAMPLER=timer exited $rc"
	[ -s "$T/timer.err" ] && fail "DEIATRACE_SAMPLER=timer: unexpected stderr: $(head -c 200 "$T/timer.err")"
	if trace=$(only_trace "$T/timer"); then
		if analyze_json "$trace" "$T/timer.json"; then
			out=$(python3 - "$T/timer.json" "$RATE_TOLERANCE" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))["summary"]
tol = float(sys.argv[2])
cpu = float(s.get("cpu_user_s") or 0) + float(s.get("cpu_sys_s") or 0)
sampled = s.get("sample_cpu_s")
if sampled is None:
    # no explicit field: samples stand for 1/sample_hz each
    sampled = float(s.get("samples") or 0) / float(s.get("sample_hz") or 1)
sampled = float(sampled)
ok = cpu > 0 and abs(sampled - cpu) <= tol * cpu
print("%s sampled %.3f s of CPU, user+sys %.3f s (sampler %s)" % ("OK" if ok else "BAD", sampled, cpu, s.get("sampler")))
PY
)
			case $out in
			OK*) note "timer fallback: ${out#OK }" ;;
			*) fail "timer fallback: ${out#BAD }, expected within 15%" ;;
			esac
		fi
	else
		fail "DEIATRACE_SAMPLER=timer: no single trace written"
	fi
else
	echo "SKIP $TEST_NAME: timer fallback: preload/ has no DEIATRACE_SAMPLER knob"
fi
finish
