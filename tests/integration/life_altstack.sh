#!/usr/bin/env bash
# life_altstack: a host whose signal handlers run on a small alternate stack (CPython: every Python
# signal handler has SA_ONSTACK over faulthandler's ~16 KB stack) and burn CPU there, so SIGPROF
# interrupts them on that stack. The shim's sample (about 13 KB of frames) must not be taken there:
# it overflowed the stack into the heap below (test_selectors, test_eintr crashed). life_altstack
# paints its stack and exits 3 when more than half of it was used; output and status must match
# the untraced run, and the trace must be valid. `life_altstack abort` aborts inside such a handler:
# the process must still die of SIGABRT (the fatal-signal path skips the trace write, which needs
# more stack than is left, instead of overflowing it into a fault).
# shellcheck source=tests/integration/common.bash
source "$(dirname "$0")/common.bash" "$@"
# shellcheck source=tests/integration/life_common.bash
source "$(dirname "$0")/life_common.bash"
require "$SHIM" "$ANALYZE" "$TP/life_altstack"

for sampler in perf timer; do
	export DEIATRACE_SAMPLER=$sampler
	compare_run "alternate stack ($sampler sampler)" "$TP/life_altstack" || continue
	tr=$(life_trace life_altstack) || continue
	"$ANALYZE" --no-symbols --format json "$tr" >"$T/a.json" 2>"$T/a.err" ||
		fail "alternate stack ($sampler sampler): analyzer failed: $(head -c 200 "$T/a.err")"
done
unset DEIATRACE_SAMPLER
compare_run "abort on the alternate stack" "$TP/life_altstack" abort
finish
