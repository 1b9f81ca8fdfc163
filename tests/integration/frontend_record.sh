#!/usr/bin/env bash
# deiatrace record: exit status pass-through (plain, 128+signal, 127 not found), the trace lands
# where -o says (and in the default place otherwise), the stderr summary names it, the shorthand
# works, an existing LD_PRELOAD is kept, and wrong usage exits 2.
source "$(dirname "$0")/common.bash" "$@"
FE=$B/deiatrace
require "$FE" "$SHIM" "$TP/spin"
cd "$T" || exit 1

rc=0
"$FE" record -- sh -c 'exit 7' 2>err.txt || rc=$?
[ "$rc" -eq 7 ] || fail "record -- sh -c 'exit 7' exited $rc, expected 7"
grep -q "deiatrace: trace deiatrace\.sh\.[0-9]*\.bin" err.txt || fail "no trace line on stderr: $(head -c 300 err.txt)"
ls deiatrace.sh.*.bin >/dev/null 2>&1 || fail "no deiatrace.sh.PID.bin in the current directory"

rc=0
"$FE" sh -c 'kill -TERM $$' 2>/dev/null || rc=$?
[ "$rc" -eq 143 ] || fail "a program killed by SIGTERM: exited $rc, expected 128+15=143"

rc=0
"$FE" record -- ./no-such-program 2>err.txt || rc=$?
[ "$rc" -eq 127 ] || fail "a missing program: exited $rc, expected 127"
grep -q "no-such-program" err.txt || fail "a missing program: the error does not name it: $(cat err.txt)"

rc=0
"$FE" record -o spin.bin --freq 500 --no-malloc -- "$TP/spin" --iterations 50000000 >out.txt 2>err.txt || rc=$?
[ "$rc" -eq 0 ] || fail "record -o spin.bin exited $rc: $(head -c 300 err.txt)"
[ -s spin.bin ] || fail "record -o spin.bin wrote no spin.bin"
grep -q "trace spin.bin (" err.txt || fail "the summary does not name spin.bin: $(cat err.txt)"
grep -q "allocations not tracked" err.txt || fail "--no-malloc: the summary still counts allocations: $(cat err.txt)"
[ -s out.txt ] || fail "the program's stdout was lost"
if [ -s spin.bin ]; then
	analyze_json spin.bin spin.json && {
		hz=$(summary_field spin.json sample_hz)
		[ "$hz" = 500 ] || fail "--freq 500: the trace asked for '$hz' Hz"
	}
fi
# --no-cpu: allocations counted, no samples, and the summary says so.
rc=0
"$FE" record -o nocpu.bin --no-cpu -- "$TP/spin" --iterations 1000000 >/dev/null 2>err.txt || rc=$?
[ "$rc" -eq 0 ] || fail "record --no-cpu exited $rc: $(head -c 300 err.txt)"
grep -q "CPU not sampled" err.txt || fail "--no-cpu: the summary does not say CPU was not sampled: $(cat err.txt)"
if [ -s nocpu.bin ] && analyze_json nocpu.bin nocpu.json; then
	[ "$(summary_field nocpu.json samples)" = 0 ] || fail "--no-cpu: the trace has CPU samples"
else
	fail "record --no-cpu wrote no readable nocpu.bin"
fi
# -o replaces an existing file (the shim itself never overwrites).
rc=0
"$FE" record -o spin.bin -- "$TP/spin" --iterations 1000000 >/dev/null 2>err.txt || rc=$?
[ "$rc" -eq 0 ] && grep -q "trace spin.bin" err.txt || fail "a second record -o spin.bin failed: $(cat err.txt)"

# An existing LD_PRELOAD stays (after the shim).
rc=0
LD_PRELOAD=/nonexistent-lib.so "$FE" record -o env.bin -- sh -c 'echo "$LD_PRELOAD"' >env.txt 2>/dev/null || rc=$?
grep -q "libdeiatrace.so:/nonexistent-lib.so" env.txt || fail "LD_PRELOAD not prepended: '$(cat env.txt)'"

# Installed layout: PREFIX/bin/deiatrace finds PREFIX/lib/deiatrace/libdeiatrace.so.
mkdir -p prefix/bin prefix/lib/deiatrace
cp "$FE" prefix/bin/ && cp "$SHIM" prefix/lib/deiatrace/
rc=0
prefix/bin/deiatrace record -o inst.bin -- "$TP/spin" --iterations 1000000 >/dev/null 2>err.txt || rc=$?
[ "$rc" -eq 0 ] && [ -s inst.bin ] || fail "installed layout: exit $rc, no trace: $(cat err.txt)"
rm -f prefix/lib/deiatrace/libdeiatrace.so
rc=0
prefix/bin/deiatrace record -- true >/dev/null 2>err.txt || rc=$?
[ "$rc" -eq 2 ] && grep -q "libdeiatrace.so" err.txt || fail "no shim anywhere: exit $rc (2 expected), '$(cat err.txt)'"

for args in "record" "record --freq 0 -- true" "record --bogus -- true" "--bogus"; do
	rc=0
	# shellcheck disable=SC2086
	"$FE" $args >/dev/null 2>&1 || rc=$?
	[ "$rc" -eq 2 ] || fail "deiatrace $args exited $rc, expected 2"
done
for sub in record report diff bench; do
	"$FE" "$sub" --help | grep -q "Usage: deiatrace $sub" || fail "deiatrace $sub --help prints no usage"
done
"$FE" --version | grep -q '^deiatrace [0-9]' || fail "--version"
finish
