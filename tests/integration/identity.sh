#!/usr/bin/env bash
# identity: under the shim a program's stdout, stderr and exit status are byte-identical to an
# untraced run, and a trace is written. Covers our own programs (pipes, sleeps, threads, odd exit
# statuses) and ordinary Debian programs.
# shellcheck source=tests/integration/common.bash
source "$(dirname "$0")/common.bash" "$@"
require "$SHIM" "$TP/io_sleepy" "$TP/exit_code" "$TP/cpu_shares"

# A deterministic input for sort: 200000 pseudo-random lines.
python3 -c '
import random
r = random.Random(7)
for i in range(200000):
    print("%08x %s" % (r.getrandbits(32), "abcdefgh"[r.randrange(8)] * r.randrange(1, 9)))
' >"$T/sort.in"

# compare LABEL CMD...: run CMD untraced and traced (each in an empty directory), compare everything.
case_no=0
compare()
{
	local label=$1
	shift
	case_no=$((case_no + 1))
	local d=$T/case$case_no rc_plain=0 rc_traced=0
	mkdir -p "$d/plain" "$d/traced"
	(cd "$d/plain" && "$@" >"$d/plain.out" 2>"$d/plain.err") || rc_plain=$?
	(cd "$d/traced" && LD_PRELOAD=$SHIM "$@" >"$d/traced.out" 2>"$d/traced.err") || rc_traced=$?
	[ "$rc_plain" -eq "$rc_traced" ] || fail "$label: exit status $rc_traced under the shim, $rc_plain without"
	cmp -s "$d/plain.out" "$d/traced.out" ||
		fail "$label: stdout differs under the shim: $(diff "$d/plain.out" "$d/traced.out" | head -n 4 | tr '\n' '|')"
	cmp -s "$d/plain.err" "$d/traced.err" ||
		fail "$label: stderr differs under the shim: $(diff "$d/plain.err" "$d/traced.err" | head -n 4 | tr '\n' '|')"
	if ! compgen -G "$d/traced/deiatrace.*.bin" >/dev/null; then
		fail "$label: no deiatrace.*.bin written in the starting directory (the shim did not trace it)"
	fi
	note "$label: status $rc_plain, $(wc -c <"$d/plain.out") bytes out, $(wc -c <"$d/plain.err") bytes err"
}

compare "io_sleepy" "$TP/io_sleepy"
compare "exit_code 0" "$TP/exit_code" 0
compare "exit_code 42" "$TP/exit_code" 42 hello "two words" ''
compare "exit_code 255" "$TP/exit_code" 255
compare "cpu_shares" "$TP/cpu_shares" --rounds 8
compare "ls -la /usr/bin" ls -la /usr/bin
compare "sort" sort "$T/sort.in"
compare "sh -c" sh -c 'echo hi; echo to-stderr >&2; exit 7'
compare "pipeline" sh -c 'seq 1 20000 | sort -r | head -n 3; echo done >&2; exit 4'
compare "python3" python3 -c 'import sys, hashlib; print(hashlib.sha256(b"x" * 100000).hexdigest()); sys.stderr.write("err\n"); sys.exit(5)'
finish
