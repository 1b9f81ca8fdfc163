# Sourced by every tests/integration/*.sh (not run on its own: tests/run.sh only runs *.sh).
# Usage at the top of a test:   source "$(dirname "$0")/common.bash" "$@"
# Provides: $B (absolute build dir), $SHIM, $ANALYZE, $TP (test programs), $T (a private temp dir,
# removed on exit), check/fail/note/skip, and the exit protocol: the script prints `PASS name` or one
# `FAIL name: reason` line per failed assertion, and exits 0 or 1 (77 when skipped as a whole).

set -u

TEST_NAME=$(basename "$0" .sh)
if [ $# -lt 1 ] || [ ! -d "$1" ]; then
	echo "FAIL $TEST_NAME: usage: $0 BUILD_DIR" >&2
	echo "FAIL $TEST_NAME: no build directory given"
	exit 1
fi
B=$(cd "$1" && pwd)
SHIM=$B/libdeiatrace.so
ANALYZE=$B/deiatrace-analyze
TP=$B/tests/programs
SRC_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

T=$(mktemp -d "${TMPDIR:-/tmp}/dt-$TEST_NAME.XXXXXX") || {
	echo "FAIL $TEST_NAME: mktemp failed"
	exit 1
}
trap 'rm -rf "$T"' EXIT
# A test stopped by run.sh's timeout (SIGTERM) or ^C still removes its directory.
trap 'exit 143' TERM
trap 'exit 130' INT
# The tests set the shim's variables themselves; inherited ones would change what they measure.
# shellcheck disable=SC2046 # variable names never contain spaces
unset LD_PRELOAD $(env | sed -n 's/^\(DEIATRACE_[A-Z_]*\)=.*/\1/p')

FAILURES=0

# fail REASON: record one failed assertion.
fail()
{
	echo "FAIL $TEST_NAME: $*"
	FAILURES=$((FAILURES + 1))
}

# note TEXT: diagnostic output, indented so it never looks like a verdict.
note()
{
	echo "  $TEST_NAME: $*"
}

# skip REASON: the whole test cannot run here.
skip()
{
	echo "SKIP $TEST_NAME: $*"
	exit 77
}

# finish: print the verdict and exit.
finish()
{
	if [ "$FAILURES" -eq 0 ]; then
		echo "PASS $TEST_NAME"
		exit 0
	fi
	exit 1
}

# require FILE...: fail the test at once when a built artifact is missing.
require()
{
	local f missing=0
	for f in "$@"; do
		if [ ! -x "$f" ] && [ ! -f "$f" ]; then
			fail "missing $f (build it first: make tests)"
			missing=1
		fi
	done
	[ "$missing" -eq 0 ] || finish
}

# traced CMD...: run CMD under the shim (environment passes through).
traced()
{
	LD_PRELOAD=$SHIM "$@"
}

# only_trace DIR: print the single deiatrace.*.bin in DIR; fails (status 1) unless there is exactly one.
only_trace()
{
	local files=("$1"/deiatrace.*.bin)
	if [ ${#files[@]} -ne 1 ] || [ ! -f "${files[0]}" ]; then
		return 1
	fi
	printf '%s\n' "${files[0]}"
}

# analyze_json TRACE OUT: run the analyzer with --format json into OUT; fails on a non-zero status.
analyze_json()
{
	local rc=0
	"$ANALYZE" --format json "$1" >"$2" 2>"$2.err" || rc=$?
	if [ "$rc" -ne 0 ]; then
		fail "deiatrace-analyze --format json $1 exited $rc: $(head -c 300 "$2.err")"
		return 1
	fi
	if ! python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$2" 2>/dev/null; then
		fail "deiatrace-analyze --format json $1 printed invalid JSON: $(head -c 200 "$2")"
		return 1
	fi
	return 0
}

# self_pct JSON NAME: sum of self_pct over the functions whose name, stripped of any parameter list,
# is NAME (a function can appear once per module or per inlined copy). Prints a number.
self_pct()
{
	python3 - "$1" "$2" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
name = sys.argv[2]
total = 0.0
for f in doc.get("functions", []):
    n = f.get("name") or ""
    if n == name or n.split("(")[0] == name:
        total += float(f.get("self_pct") or 0)
print("%.3f" % total)
PY
}

# summary_field JSON KEY: print summary[KEY] (empty when absent).
summary_field()
{
	python3 - "$1" "$2" <<'PY'
import json, sys
v = json.load(open(sys.argv[1])).get("summary", {}).get(sys.argv[2])
print("" if v is None else v)
PY
}

# within A B TOLERANCE: succeed when |A - B| <= TOLERANCE (floats).
within()
{
	python3 -c 'import sys; a, b, t = map(float, sys.argv[1:4]); sys.exit(0 if abs(a - b) <= t else 1)' "$1" "$2" "$3"
}
