#!/usr/bin/env bash
# life_fork_exec: a forked child writes its own trace (its pid, its own samples only); fork while other
# threads are inside malloc does not deadlock; vfork+exec and posix_spawn work and the new images are
# traced; exec writes the old image's trace first and traces the new one in its own file; a failed
# exec carries on; DEIATRACE_FOLLOW=0 traces the first process only, exec'd images included.
# shellcheck source=tests/integration/common.bash
source "$(dirname "$0")/common.bash" "$@"
# shellcheck source=tests/integration/life_common.bash
source "$(dirname "$0")/life_common.bash"
require "$SHIM" "$ANALYZE" "$TP/life_fork" "$TP/spin"

# functions_of TRACE: the names of functions with self samples, one per line.
functions_of()
{
	"$ANALYZE" --format json "$1" 2>/dev/null |
		python3 -c 'import json, sys; [print(f["name"]) for f in json.load(sys.stdin).get("functions", []) if float(f.get("self_pct") or 0) > 0]'
}

# 1. fork: two traces, each with its own work only.
if compare_run fork "$TP/life_fork" fork; then
	traces=("$RUN_DIR"/deiatrace.life_fork.*.bin)
	if [ ${#traces[@]} -ne 2 ]; then
		fail "fork: expected 2 traces (parent and child), found ${#traces[@]}"
	else
		for tr in "${traces[@]}"; do
			pid=${tr##*.life_fork.}
			pid=${pid%.bin}
			fns=$(functions_of "$tr")
			got_pid=$("$ANALYZE" --format json "$tr" | python3 -c 'import json,sys; print(json.load(sys.stdin)["summary"]["pid"])')
			[ "$got_pid" = "$pid" ] || fail "fork: $tr says pid $got_pid"
			if echo "$fns" | grep -qx child_work; then
				echo "$fns" | grep -qx parent_work && fail "fork: the child's trace holds the parent's parent_work samples"
			elif ! echo "$fns" | grep -qx parent_work; then
				fail "fork: $tr has neither parent_work nor child_work: $(echo "$fns" | tr '\n' ' ')"
			fi
		done
	fi
fi

# 2. fork while 4 threads malloc: no deadlock (the timeout turns one into a failure). A lock held
# by another thread at fork time deadlocks only some children, so repeat: before the unwinder's
# fork gate, one run in two hung.
for round in 1 2 3 4 5; do
	compare_run "fork-busy#$round" "$TP/life_fork" fork-busy || break
done

# 3. vfork + exec and posix_spawn of spin: each spin image writes its own trace.
compare_run vfork-exec "$TP/life_fork" vfork-exec "$TP/spin" --iterations 20000000 &&
	{ life_trace spin >/dev/null && life_trace life_fork >/dev/null; }
compare_run spawn "$TP/life_fork" spawn "$TP/spin" --iterations 20000000 &&
	{ life_trace spin >/dev/null && life_trace life_fork >/dev/null; }

# 4. exec: the old image's trace (written before execve) and the new image's, same pid.
if compare_run exec "$TP/life_fork" exec "$TP/spin" --iterations 20000000; then
	a=$(life_trace life_fork) && b=$(life_trace spin) && {
		[ "${a##*.life_fork.}" = "${b##*.spin.}" ] || fail "exec: the two traces carry different pids"
		fns=$(functions_of "$a")
		echo "$fns" | grep -qx parent_work || fail "exec: the pre-exec trace lacks parent_work"
	}
fi
compare_run exec-fail "$TP/life_fork" exec-fail && life_trace life_fork >/dev/null

# 5. DEIATRACE_FOLLOW=0: only the first process, whether the next image comes from fork or exec.
export DEIATRACE_FOLLOW=0
compare_run "FOLLOW=0 fork" "$TP/life_fork" fork && {
	n=$(find "$RUN_DIR" -name 'deiatrace.life_fork.*.bin' | wc -l)
	[ "$n" -eq 1 ] || fail "FOLLOW=0 fork: $n traces, expected 1"
}
# Here the first traced process is env (compare_run runs the program through it): nothing after it.
compare_run "FOLLOW=0 exec" "$TP/life_fork" exec "$TP/spin" --iterations 20000000 && {
	n=$(find "$RUN_DIR" -name 'deiatrace.*.bin' | wc -l)
	[ "$n" -eq 1 ] || fail "FOLLOW=0 exec: $n traces, expected only env's: $(ls "$RUN_DIR")"
}
unset DEIATRACE_FOLLOW
finish
