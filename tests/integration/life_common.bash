# Sourced by tests/integration/life_*.sh after common.bash (not run on its own: run.sh runs *.sh).
# compare_run LABEL CMD...: runs CMD untraced and traced (each in a fresh directory under $T, under
# `timeout`, no core dumps), and fails LABEL unless stdout, stderr and the exit status or terminating
# signal match. Sets RUN_DIR to the traced run's directory and RUN_RC to its status.
# life_trace PROG: the one deiatrace.PROG.*.bin in RUN_DIR (fails and returns 1 unless exactly one).
# json_get JSON EXPR: a Python expression over `d` (the analyzer's JSON document), printed.

LIFE_TIMEOUT_S=${LIFE_TIMEOUT_S:-30}
RUN_SEQ=0
ulimit -c 0

run_in()
{
	local dir=$1
	shift
	mkdir -p "$dir"
	# The subshell's own stderr goes nowhere: bash reports "Aborted" & co. there, not the program.
	(cd "$dir" && timeout -k 5 "$LIFE_TIMEOUT_S" "$@" >"$dir/.out" 2>"$dir/.err"; echo $? >"$dir/.rc") 2>/dev/null
}

compare_run()
{
	local label=$1 u t urc trc
	shift
	RUN_SEQ=$((RUN_SEQ + 1))
	u=$T/run$RUN_SEQ.u
	t=$T/run$RUN_SEQ.t
	run_in "$u" "$@"
	run_in "$t" env LD_PRELOAD="$SHIM" "$@"
	urc=$(cat "$u/.rc")
	trc=$(cat "$t/.rc")
	RUN_DIR=$t
	RUN_RC=$trc
	if [ "$trc" = 124 ] || [ "$trc" = 137 ]; then
		fail "$label: traced run timed out after ${LIFE_TIMEOUT_S}s (deadlock?)"
		return 1
	fi
	if [ "$urc" != "$trc" ]; then
		fail "$label: status $trc traced, $urc untraced; stderr: $(head -c 300 "$t/.err")"
		return 1
	fi
	if ! cmp -s "$u/.out" "$t/.out"; then
		fail "$label: stdout differs: '$(head -c 200 "$t/.out")' vs untraced '$(head -c 200 "$u/.out")'"
		return 1
	fi
	if ! cmp -s "$u/.err" "$t/.err"; then
		fail "$label: stderr differs: '$(head -c 300 "$t/.err")' vs untraced '$(head -c 300 "$u/.err")'"
		return 1
	fi
	return 0
}

life_trace()
{
	local files=("$RUN_DIR"/deiatrace."$1".*.bin)
	if [ ${#files[@]} -ne 1 ] || [ ! -f "${files[0]}" ]; then
		fail "expected one trace deiatrace.$1.*.bin in the traced run, found: $(cd "$RUN_DIR" && ls -A | tr '\n' ' ')"
		return 1
	fi
	printf '%s\n' "${files[0]}"
}

json_get()
{
	python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}
