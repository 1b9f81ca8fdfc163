#!/usr/bin/env bash
# Sanitizer stage of `make check`:
#  1. builds the analyzer (and its Check suites) with AddressSanitizer + UndefinedBehaviorSanitizer in
#     BUILD_DIR/sanitize, runs the suites, then runs that analyzer in every report format on real
#     traces and on truncated / corrupted ones: any sanitizer report fails the stage;
#  2. builds the shim with UndefinedBehaviorSanitizer (ASan cannot be preloaded into programs not
#     built with it) and runs the test programs under it: any "runtime error" fails the stage.
# Prints PASS/FAIL lines like the integration tests. Usage: tests/sanitize.sh BUILD_DIR
set -u

TEST_NAME=sanitize
if [ $# -ne 1 ] || [ ! -d "$1" ]; then
	echo "usage: $0 BUILD_DIR" >&2
	exit 2
fi
B=$(cd "$1" && pwd)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
S=$B/sanitize
SAN_FLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
UBSAN_ONLY="-fsanitize=undefined -fno-sanitize-recover=all"
T=$(mktemp -d "${TMPDIR:-/tmp}/dt-sanitize.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
unset LD_PRELOAD
# shellcheck disable=SC2046 # variable names never contain spaces
unset $(env | sed -n 's/^\(DEIATRACE_[A-Z_]*\)=.*/\1/p')
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=99
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=99

FAILURES=0
fail()
{
	echo "FAIL $TEST_NAME: $*"
	FAILURES=$((FAILURES + 1))
}
note()
{
	echo "  $TEST_NAME: $*"
}

# ---- 1. analyzer under ASan + UBSan
units=()
for u in "$ROOT"/tests/unit/check_analyzer_*.c; do
	[ -f "$u" ] && units+=("$S/tests/unit/$(basename "$u" .c)")
done
# CI= : -Werror belongs to the regular build; a warning only -O1 shows must not fail this stage.
JOBS=-j$(nproc)
if ! make -C "$ROOT" --no-print-directory "$JOBS" CI= B="$S" OPT="-O1 -g" CFLAGS="$SAN_FLAGS" LDFLAGS="$SAN_FLAGS" \
	"$S/deiatrace-analyze" "${units[@]}" >"$T/build-asan.log" 2>&1; then
	fail "building the analyzer with ASan+UBSan failed: $(tail -n 5 "$T/build-asan.log" | tr '\n' '|')"
	echo "$FAILURES failed"
	exit 1
fi
SAN_ANALYZE=$S/deiatrace-analyze

for u in "${units[@]}"; do
	rc=0
	CK_FORK=yes timeout -k 10 300 "$u" >"$T/unit.log" 2>&1 || rc=$?
	grep -E '^[0-9]+%: Checks' "$T/unit.log" | sed "s/^/  $(basename "$u") (asan+ubsan): /"
	[ "$rc" -eq 0 ] || fail "$(basename "$u") under ASan+UBSan: status $rc: $(grep -m 3 -E 'ERROR|runtime error|:F:|:E:' "$T/unit.log" | tr '\n' '|')"
done

# Traces from the regular build of the shim.
if [ ! -f "$B/libdeiatrace.so" ]; then
	fail "missing $B/libdeiatrace.so"
	exit 1
fi
traces=()
for prog in "cpu_shares --rounds 4" symbols cxx_methods threads_ratio io_sleepy demo; do
	name=${prog%% *}
	[ -x "$B/tests/programs/$name" ] || continue
	mkdir -p "$T/run-$name"
	# shellcheck disable=SC2086 # $prog carries the program's arguments
	(cd "$T/run-$name" && LD_PRELOAD=$B/libdeiatrace.so "$B/tests/programs/"$prog >/dev/null 2>&1)
	for f in "$T/run-$name"/deiatrace.*.bin; do
		[ -f "$f" ] && traces+=("$f")
	done
done
[ ${#traces[@]} -gt 0 ] || fail "no trace to analyze"

# san_run LABEL ARGS...: run the sanitized analyzer; a sanitizer report or a signal fails.
san_run()
{
	local label=$1 rc=0
	shift
	timeout -k 10 120 "$SAN_ANALYZE" "$@" >/dev/null 2>"$T/san.err" </dev/null || rc=$?
	if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$T/san.err"; then
		fail "$label: $(grep -m 1 -E 'ERROR: |runtime error:' "$T/san.err")"
		sed -n '1,30p' "$T/san.err" | sed 's/^/    /'
	elif [ "$rc" -ne 0 ] && [ "$rc" -ne 2 ]; then
		fail "$label: status $rc: $(head -c 200 "$T/san.err")"
	fi
}

runs=0
for tr in "${traces[@]}"; do
	for fmt in text json markdown folded pprof svg html; do
		san_run "$(basename "$tr") --format $fmt" --format "$fmt" "$tr"
		runs=$((runs + 1))
	done
	san_run "$(basename "$tr") --format svg --metric alloc_bytes" --format svg --metric alloc_bytes "$tr"
	runs=$((runs + 1))
	san_run "$(basename "$tr") --no-symbols" --no-symbols "$tr"
	san_run "$(basename "$tr") --inclusive --top 3" --inclusive --top 3 "$tr"
	runs=$((runs + 2))
done

# Damaged copies of the first trace: truncations and byte flips (CRC-protected sections should catch
# the flips, but the parser must be memory-safe either way).
first=${traces[0]:-}
if [ -n "$first" ]; then
	python3 - "$first" "$T" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
d = sys.argv[2]
n = len(data)
for i, off in enumerate(sorted({0, 8, 15, 16, 17, 31, 32, 33, n // 3, n // 2, n - 17, n - 16, n - 1})):
    if 0 <= off < n:
        open("%s/cut-%d.bin" % (d, off), "wb").write(data[:off])
for i in range(24):
    off = 16 + (n - 16) * i // 24
    b = bytearray(data)
    b[off] ^= 0x5a
    open("%s/flip-%d.bin" % (d, off), "wb").write(bytes(b))
PY
	for f in "$T"/cut-*.bin "$T"/flip-*.bin; do
		san_run "$(basename "$f")" --format json "$f"
		runs=$((runs + 1))
	done
fi
note "analyzer: $runs runs under ASan+UBSan on ${#traces[@]} traces and damaged copies"

# ---- 2. the shim under UBSan
if ! make -C "$ROOT" --no-print-directory "$JOBS" CI= B="$S/ubsan" OPT="-O1 -g" CFLAGS="$UBSAN_ONLY" LDFLAGS="$UBSAN_ONLY" \
	"$S/ubsan/libdeiatrace.so" >"$T/build-ubsan.log" 2>&1; then
	fail "building the shim with UBSan failed: $(tail -n 5 "$T/build-ubsan.log" | tr '\n' '|')"
else
	for prog in "cpu_shares --rounds 4" threads_ratio io_sleepy symbols cxx_methods "exit_code 3"; do
		name=${prog%% *}
		[ -x "$B/tests/programs/$name" ] || continue
		mkdir -p "$T/ub-$name"
		rc=0
		# shellcheck disable=SC2086 # $prog carries the program's arguments
		(cd "$T/ub-$name" && LD_PRELOAD=$S/ubsan/libdeiatrace.so timeout -k 10 120 "$B/tests/programs/"$prog \
			>/dev/null 2>"$T/ub.err") || rc=$?
		if grep -q 'runtime error:' "$T/ub.err"; then
			fail "shim under UBSan, $prog: $(grep -m 1 'runtime error:' "$T/ub.err")"
		elif [ "$rc" -ge 128 ] || [ "$rc" -eq 99 ] || [ "$rc" -eq 124 ]; then
			fail "shim under UBSan, $prog: status $rc: $(head -c 200 "$T/ub.err")"
		fi
	done
	note "shim: test programs run under the UBSan build"
fi

if [ "$FAILURES" -eq 0 ]; then
	echo "PASS $TEST_NAME"
	exit 0
fi
exit 1
