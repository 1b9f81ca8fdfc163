#!/usr/bin/env bash
# life_security: the trace is created 0600, never through a symlink at its name and never over a file
# someone else left there; the shim's descriptors stay out of the host's way (closing stdin and then
# opening files gives the same numbers); a secure-execution (setuid) process writes nothing.
# shellcheck source=tests/integration/common.bash
source "$(dirname "$0")/common.bash" "$@"
# shellcheck source=tests/integration/life_common.bash
source "$(dirname "$0")/life_common.bash"
require "$SHIM" "$TP/life_exits"

# 1. Mode 0600 whatever the umask, and the descriptor numbers.
if compare_run closefd "$TP/life_exits" closefd; then
	tr=$(life_trace life_exits) &&
		[ "$(stat -c %a "$tr")" = 600 ] || fail "the trace's mode is $(stat -c %a "$tr"), expected 600"
fi

# 2. A symlink at the final name: not followed, its target never created; the program unchanged.
mkdir -p "$T/sym" && cd "$T/sym" || exit 1
ln -s "$T/sym/victim" trace.bin
rc=0
out=$(DEIATRACE_OUTPUT=trace.bin LD_PRELOAD=$SHIM timeout 30 "$TP/life_exits" return 2>"$T/sym.err") || rc=$?
[ "$rc" -eq 3 ] || fail "symlink: status $rc, expected 3"
[ "$out" = "mode return" ] || fail "symlink: printed '$out'"
[ -e "$T/sym/victim" ] && fail "symlink: the trace was written through the symlink"
[ -L trace.bin ] || fail "symlink: the symlink was replaced"
grep -q "^deiatrace: cannot write trace trace.bin: " "$T/sym.err" || fail "symlink: no warning: $(cat "$T/sym.err")"
[ "$(ls -A | wc -l)" -eq 1 ] || fail "symlink: files left behind: $(ls -A)"

# 3. Someone else's file at the name stays as it was.
mkdir -p "$T/theirs" && cd "$T/theirs" || exit 1
echo precious >trace.bin
rc=0
DEIATRACE_OUTPUT=trace.bin LD_PRELOAD=$SHIM timeout 30 "$TP/life_exits" return >/dev/null 2>"$T/theirs.err" || rc=$?
[ "$rc" -eq 3 ] || fail "existing file: status $rc, expected 3"
[ "$(cat trace.bin)" = precious ] || fail "existing file: it was overwritten"

# 4. Secure execution: a setuid program run by another user. The loader drops a non-system preload and
#    the shim checks AT_SECURE itself; either way nothing may be written and the program is unchanged.
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null 2>&1; then
	mkdir -p "$T/suid" && cp "$TP/life_exits" "$TP/libdtshared.so" "$T/suid/" && chmod 4755 "$T/suid/life_exits" &&
		chmod 1777 "$T/suid" && chmod 755 "$T"
	cd "$T/suid" || exit 1
	rc=0
	out=$(LD_PRELOAD=$SHIM timeout 30 setpriv --reuid=65534 --regid=65534 --clear-groups ./life_exits return 2>"$T/suid.err") || rc=$?
	if [ "$rc" -eq 3 ]; then
		[ "$out" = "mode return" ] || fail "setuid: printed '$out'"
		# timeout and setpriv are not setuid: they are traced; the setuid program must not be.
		[ -z "$(find . -name 'deiatrace.life_exits.*')" ] || fail "setuid: the setuid program wrote a trace"
	else
		note "setuid: cannot run a setuid program here (status $rc: $(head -c 100 "$T/suid.err")); part skipped"
	fi
fi
finish
