#!/usr/bin/env bash
# life_exits: every way a program ends (return, exit, _exit, _Exit, abort, uncaught C++ exception,
# SIGSEGV, SIGTERM, SIGINT, each signal with and without the program's own handler, a double free)
# behaves exactly as untraced (stdout, stderr, status or signal) and leaves one complete trace; a
# SIGKILLed program leaves its last checkpoint, which the analyzer calls partial.
# shellcheck source=tests/integration/common.bash
source "$(dirname "$0")/common.bash" "$@"
# shellcheck source=tests/integration/life_common.bash
source "$(dirname "$0")/life_common.bash"
require "$SHIM" "$ANALYZE" "$TP/life_exits" "$TP/life_cxx_throw" "$TP/spin"

# check_complete PROG LABEL: one trace, the analyzer reads it, complete, with CPU samples.
check_complete()
{
	local tr
	tr=$(life_trace "$1") || return
	"$ANALYZE" --format json "$tr" >"$T/a.json" 2>"$T/a.err" || {
		fail "$2: deiatrace-analyze failed: $(head -c 200 "$T/a.err")"
		return
	}
	local verdict
	verdict=$(json_get "$T/a.json" '"partial" if d["summary"]["partial"] else "no samples" if d["summary"]["samples"] == 0 else "ok"')
	[ "$verdict" = ok ] || fail "$2: the trace: $verdict"
}

for mode in return exit _exit _Exit abort segv term int segv-handler term-handler int-handler \
	abort-handler sigset-handler sysv-ignore double-free; do
	compare_run "$mode" "$TP/life_exits" "$mode" && check_complete life_exits "$mode"
done
compare_run "uncaught C++ exception" "$TP/life_cxx_throw" && check_complete life_cxx_throw "uncaught C++ exception"

# The host reads back SIG_DFL for the signals it never touched (our stand-ins stay invisible).
compare_run "oldact" "$TP/life_exits" oldact

# 100,000 frames: the stack depth cap is reported (truncated stacks), nothing crashes.
if compare_run "deep recursion" "$TP/life_exits" deep; then
	tr=$(life_trace life_exits) && "$ANALYZE" --format json "$tr" >"$T/deep.json" &&
		[ "$(json_get "$T/deep.json" 'd["summary"]["stacks_truncated"] > 0')" = True ] ||
		fail "deep recursion: no truncated stacks reported"
fi

# SIGKILL: checkpoints every second; the last one survives, flagged, and the analyzer says partial.
mkdir -p "$T/kill" && cd "$T/kill" || exit 1
DEIATRACE_CHECKPOINT_S=1 LD_PRELOAD=$SHIM "$TP/spin" --iterations 100000000000 >/dev/null 2>"$T/kill.err" &
pid=$!
sleep 2.6
exec 3>&2 2>/dev/null # bash's "Killed" job report
kill -KILL "$pid"
wait "$pid"
exec 2>&3 3>&-
files=("$T"/kill/deiatrace.spin.*.bin)
if [ ${#files[@]} -ne 1 ] || [ ! -f "${files[0]}" ]; then
	fail "SIGKILL: expected one checkpoint trace, found: $(ls -A "$T/kill" | tr '\n' ' ')"
elif analyze_json "${files[0]}" "$T/kill.json"; then
	[ "$(json_get "$T/kill.json" 'd["summary"]["partial"]')" = True ] ||
		fail "SIGKILL: the analyzer does not call the checkpoint partial"
	json_get "$T/kill.json" 'd["summary"]["partial_reason"]' | grep -q checkpoint ||
		fail "SIGKILL: partial reason does not name the checkpoint: $(json_get "$T/kill.json" 'd["summary"]["partial_reason"]')"
	# Written about 2 s after the start: the second checkpoint replaced the first.
	[ "$(json_get "$T/kill.json" 'd["summary"]["wall_s"] >= 1.5')" = True ] ||
		fail "SIGKILL: the checkpoint was written $(json_get "$T/kill.json" 'd["summary"]["wall_s"]') s after the start, expected the one from about 2 s"
	"$ANALYZE" "${files[0]}" 2>&1 | grep -qi partial || fail "SIGKILL: the text report does not say partial"
fi
[ -s "$T/kill.err" ] && fail "SIGKILL: the shim printed: $(head -c 200 "$T/kill.err")"

# A checkpointed run that then exits normally: the final trace replaces the checkpoint, complete.
rm -f "$T"/kill/deiatrace.*
rc=0
DEIATRACE_CHECKPOINT_S=1 LD_PRELOAD=$SHIM timeout 30 "$TP/spin" --iterations 700000000 >/dev/null 2>"$T/fin.err" || rc=$?
files=("$T"/kill/deiatrace.spin.*.bin)
[ "$rc" -eq 0 ] || fail "checkpointed run exited $rc"
if [ ${#files[@]} -ne 1 ] || [ ! -f "${files[0]}" ]; then
	fail "checkpoint then exit: expected one trace, found: $(ls -A "$T/kill" | tr '\n' ' ')"
elif analyze_json "${files[0]}" "$T/fin.json"; then
	[ "$(json_get "$T/fin.json" 'd["summary"]["partial"]')" = False ] ||
		fail "checkpoint then exit: the final trace is still partial"
fi
[ -s "$T/fin.err" ] && fail "checkpoint then exit: the shim printed: $(head -c 200 "$T/fin.err")"
finish
