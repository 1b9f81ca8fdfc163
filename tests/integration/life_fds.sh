#!/usr/bin/env bash
# life_fds: a traced process holds no descriptor of the shim's. fd_list fstat()s every number below
# RLIMIT_NOFILE (as CPython's test_subprocess children do) in the main thread while two sampled threads
# run, and in a fork child: the lists must match the untraced run exactly, with the perf sampler and
# with POSIX timers, and a valid trace must be written. Perf events live in mappings of their metadata
# page instead of fds: the parent holds one per thread, a fork child only its own (VM_DONTCOPY).
# shellcheck source=tests/integration/common.bash
source "$(dirname "$0")/common.bash" "$@"
# shellcheck source=tests/integration/life_common.bash
source "$(dirname "$0")/life_common.bash"
require "$SHIM" "$ANALYZE" "$TP/fd_list"

for sampler in auto timer; do
	compare_run "fd set ($sampler sampler)" env DEIATRACE_SAMPLER="$sampler" "$TP/fd_list" || continue
	out=$RUN_DIR/.out
	# The listing itself must have worked: stdio is open in both runs, so an empty list is a broken test.
	grep -q "^main: fd 2 " "$out" && grep -q "^child: fd 2 " "$out" ||
		fail "fd set ($sampler): fd_list did not list stdio: $(head -c 300 "$out")"
	tr=$(life_trace fd_list) || continue
	if ! "$ANALYZE" --format json "$tr" >"$T/$sampler.json" 2>"$T/$sampler.aerr"; then
		fail "fd set ($sampler): the analyzer rejects the trace: $(head -c 300 "$T/$sampler.aerr")"
		continue
	fi
	[ "$(json_get "$T/$sampler.json" 'd["summary"]["samples"] > 0 and d["summary"]["threads"] >= 3')" = True ] ||
		fail "fd set ($sampler): the trace has no samples or fewer than 3 threads"
done

# Where the perf sampler runs, its events are mappings: one per armed thread in the parent; the fork
# child re-arms only itself and inherits none of the parent's.
maps=$T/maps.txt
mkdir -p "$T/maps" && (cd "$T/maps" && env FD_LIST_MAPS="$maps" LD_PRELOAD="$SHIM" "$TP/fd_list" >/dev/null 2>"$T/maps.err") ||
	fail "perf mappings: fd_list failed: $(head -c 300 "$T/maps.err")"
sampler=$(json_get "$T/auto.json" 'd["summary"]["sampler"]' 2>/dev/null)
if [ "$sampler" = "perf task-clock" ]; then
	[ "$(cat "$maps" 2>/dev/null | tr '\n' ' ')" = "parent 3 child 1 " ] ||
		fail "perf mappings: expected 'parent 3 child 1' (one per sampled thread; none inherited), found '$(cat "$maps" 2>/dev/null | tr '\n' ' ')'"
else
	note "perf sampler unavailable here ($sampler): mapping counts not checked"
fi
finish
