#!/usr/bin/env bash
# Runs every test `make check` runs, against an already built tree, and prints a summary.
#   1. each Check unit test binary in BUILD_DIR/tests/unit/ (its "NN%: Checks: ..." line stays visible)
#   2. each tests/integration/*.sh BUILD_DIR (prints PASS/FAIL lines; exit 0 pass, 77 skip, else fail)
#   3. optional stages, when they exist: tests/sanitize.sh; tests/fuzz/run.sh, or else the corpus
#      replay and a short libFuzzer run from tests/fuzz/fuzz.mk
# Every step runs under `timeout`, so a deadlock is a failure, not a hang. The last line is exactly
# "N passed, N failed" (test binaries and scripts); the exit status is non-zero if anything failed.
# Usage: tests/run.sh BUILD_DIR
set -u

UNIT_TIMEOUT_S=${DT_UNIT_TIMEOUT_S:-120}
INTEGRATION_TIMEOUT_S=${DT_INTEGRATION_TIMEOUT_S:-180}
STAGE_TIMEOUT_S=${DT_STAGE_TIMEOUT_S:-300}

if [ $# -ne 1 ] || [ ! -d "$1" ]; then
	echo "usage: $0 BUILD_DIR" >&2
	exit 2
fi
B=$(cd "$1" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)

LOG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/dt-check-logs.XXXXXX") || exit 2
trap 'rm -rf "$LOG_DIR"' EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

passed=0
failed=0
skipped=0
failed_names=()

# run_one NAME TIMEOUT CMD...: run one test binary or script, count its verdict.
run_one()
{
	local name=$1 limit=$2 rc=0 start end
	shift 2
	start=$(date +%s)
	# The test must not inherit a preload or shim settings from the caller's environment.
	if [ "${RUN_QUIET:-0}" = 1 ]; then
		# Chatty stages (libFuzzer): keep the log, show its tail.
		env -u LD_PRELOAD timeout -k 10 "$limit" "$@" </dev/null >"$LOG_DIR/$name.log" 2>&1 || rc=$?
		if [ "$rc" -eq 0 ]; then
			tail -n 2 "$LOG_DIR/$name.log"
		else
			tail -n 30 "$LOG_DIR/$name.log"
		fi
	else
		env -u LD_PRELOAD timeout -k 10 "$limit" "$@" </dev/null || rc=$?
	fi
	end=$(date +%s)
	case $rc in
	0)
		passed=$((passed + 1))
		;;
	77)
		skipped=$((skipped + 1))
		echo "-- $name: skipped"
		;;
	124 | 137)
		failed=$((failed + 1))
		failed_names+=("$name")
		echo "-- $name: FAILED: timed out after ${limit}s (deadlock or hang?)"
		;;
	*)
		failed=$((failed + 1))
		failed_names+=("$name")
		if [ "$rc" -gt 128 ]; then
			echo "-- $name: FAILED: killed by signal $((rc - 128))"
		else
			echo "-- $name: FAILED (status $rc)"
		fi
		;;
	esac
	[ $((end - start)) -ge 30 ] && echo "-- $name: took $((end - start)) s"
	return 0
}

echo "== unit tests ($B/tests/unit)"
units=0
for t in "$B"/tests/unit/check_*; do
	case $t in *.d | *.o) continue ;; esac
	if [ ! -f "$t" ] || [ ! -x "$t" ]; then
		continue
	fi
	units=$((units + 1))
	echo "-- $(basename "$t")"
	# Check's fork mode turns a crashing test into a failure instead of a dead runner.
	CK_FORK=yes CK_VERBOSITY=normal run_one "$(basename "$t")" "$UNIT_TIMEOUT_S" "$t"
done
[ "$units" -eq 0 ] && echo "(no unit test binaries built)"

echo "== integration tests (tests/integration)"
for t in "$HERE"/integration/*.sh; do
	[ -f "$t" ] || continue
	run_one "integration/$(basename "$t" .sh)" "$INTEGRATION_TIMEOUT_S" bash "$t" "$B"
done

if [ -f "$HERE/sanitize.sh" ]; then
	echo "== sanitizers (tests/sanitize.sh)"
	run_one "sanitize" "$STAGE_TIMEOUT_S" bash "$HERE/sanitize.sh" "$B"
fi
# Fuzz stage: tests/fuzz/run.sh when there is one; otherwise the targets of tests/fuzz/fuzz.mk:
# replay the seed corpus (gcc + ASan, always), then a short libFuzzer run when clang is installed.
ROOT=$(cd "$HERE/.." && pwd)
if [ -f "$HERE/fuzz/run.sh" ]; then
	echo "== fuzz (tests/fuzz/run.sh)"
	run_one "fuzz" "$STAGE_TIMEOUT_S" bash "$HERE/fuzz/run.sh" "$B"
elif [ -f "$HERE/fuzz/fuzz.mk" ]; then
	# Use the top Makefile's include of fuzz.mk when it has one; add it otherwise.
	fuzz_make=(make -C "$ROOT" --no-print-directory "B=$B")
	if ! grep -qs 'fuzz\.mk' "$ROOT/Makefile" "$ROOT/tests/tests.mk"; then
		fuzz_make+=(-f Makefile -f tests/fuzz/fuzz.mk)
	fi
	echo "== fuzz: replay the corpus (make fuzz-replay)"
	RUN_QUIET=1 run_one "fuzz-replay" "$STAGE_TIMEOUT_S" "${fuzz_make[@]}" fuzz-replay
	if command -v clang >/dev/null 2>&1; then
		echo "== fuzz: libFuzzer for ${DT_FUZZ_SECONDS:-30} s (make fuzz)"
		RUN_QUIET=1 run_one "fuzz" "$STAGE_TIMEOUT_S" "${fuzz_make[@]}" fuzz FUZZ_SECONDS="${DT_FUZZ_SECONDS:-30}"
	fi
fi

echo "=="
[ "$skipped" -gt 0 ] && echo "$skipped skipped"
[ "$failed" -gt 0 ] && echo "failed: ${failed_names[*]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
