#!/usr/bin/env bash
# life_signals: a host with its own SIGPROF handler (sigaction or signal()) and setitimer(ITIMER_PROF)
# keeps every tick; the shim steps aside and the trace says so (DT_DEGRADED_STEPPED_ASIDE, shown by
# the analyzer); output, stderr and status match the untraced run.
# shellcheck source=tests/integration/common.bash
source "$(dirname "$0")/common.bash" "$@"
# shellcheck source=tests/integration/life_common.bash
source "$(dirname "$0")/life_common.bash"
require "$SHIM" "$ANALYZE" "$TP/life_sigprof"

DEGRADED_STEPPED_ASIDE=2 # enum dt_degraded in common/dt_format.h
for how in sigaction signal; do
	compare_run "own SIGPROF ($how)" "$TP/life_sigprof" "$how" || continue
	grep -q "host ticks enough" "$RUN_DIR/.out" || fail "own SIGPROF ($how): $(cat "$RUN_DIR/.out")"
	tr=$(life_trace life_sigprof) || continue
	"$ANALYZE" --format json "$tr" >"$T/s.json" 2>"$T/s.err" || {
		fail "own SIGPROF ($how): analyzer failed: $(head -c 200 "$T/s.err")"
		continue
	}
	[ "$(json_get "$T/s.json" "int(d['summary']['degraded']) & $DEGRADED_STEPPED_ASIDE")" = "$DEGRADED_STEPPED_ASIDE" ] ||
		fail "own SIGPROF ($how): the trace does not record that the shim stepped aside"
	"$ANALYZE" "$tr" 2>&1 | grep -qi "SIGPROF\|stepped aside\|step.* aside" ||
		fail "own SIGPROF ($how): the text report does not say the shim stepped aside"
done
finish
