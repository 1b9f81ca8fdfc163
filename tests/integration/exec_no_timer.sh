#!/usr/bin/env bash
# exec_no_timer: nothing the shim arms survives execve into an untraced program. ITIMER_PROF timers
# survive exec while the SIGPROF handler does not, so a leaked timer kills the new program with
# "Profiling timer expired" once it has used enough CPU.
# shellcheck source=tests/integration/common.bash
source "$(dirname "$0")/common.bash" "$@"
require "$SHIM" "$TP/spin"

mkdir "$T/run"
cd "$T/run" || exit 1

# 1. The exec'd program sees no ITIMER_PROF. (env is itself traced: LD_PRELOAD is still set when it
#    starts; it then removes it and execs python3.)
rc=0
out=$(LD_PRELOAD=$SHIM timeout 60 sh -c 'exec env -u LD_PRELOAD python3 -c "import signal; print(signal.getitimer(signal.ITIMER_PROF))"' 2>"$T/err1") || rc=$?
[ "$rc" -eq 0 ] || fail "sh -c 'exec env -u LD_PRELOAD python3 ...' exited $rc: $(head -c 200 "$T/err1")"
[ "$out" = "(0.0, 0.0)" ] || fail "ITIMER_PROF after exec is '$out', expected (0.0, 0.0)"

# 2. The same after the traced shell has burnt CPU itself (so every sampler is surely armed and has
#    fired), then exec of a CPU-heavy untraced program: it must run to completion.
expected=$("$TP/spin" --iterations 600000000)
rc=0
# shellcheck disable=SC2016 # $1 and $i belong to the inner shell
got=$(LD_PRELOAD=$SHIM timeout 60 sh -c 'i=0; while [ $i -lt 40000 ]; do i=$((i+1)); done; exec env -u LD_PRELOAD "$1" --iterations 600000000' sh "$TP/spin" 2>"$T/err2") || rc=$?
if [ "$rc" -eq $((128 + 27)) ]; then
	fail "the exec'd untraced program died of SIGPROF (status $rc): a profiling timer survived exec"
elif [ "$rc" -ne 0 ]; then
	fail "traced sh exec'ing an untraced CPU hog: status $rc: $(head -c 200 "$T/err2")"
fi
[ "$got" = "$expected" ] || fail "the exec'd program printed '$got', expected '$expected'"

# 3. Exec straight from a traced program into an untraced one, no env in between.
rc=0
got=$(LD_PRELOAD=$SHIM timeout 60 python3 -c '
import os, sys
x = 0
for i in range(3000000):
    x += i * i
env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
os.execve(sys.argv[1], [sys.argv[1], "--iterations", "600000000"], env)' "$TP/spin" 2>"$T/err3") || rc=$?
[ "$rc" -eq 0 ] || fail "traced python3 exec'ing an untraced CPU hog: status $rc: $(head -c 200 "$T/err3")"
[ "$got" = "$expected" ] || fail "after execve from python3 the program printed '$got', expected '$expected'"
finish
