#!/usr/bin/env bash
# life_threads: 400 short-lived threads (exiting while sampled, thread-local destructors that allocate)
# leave no perf fd or POSIX timer behind; threads that block every signal; a thread started by a
# library constructor before the shim's constructor ran. Each run matches the untraced one.
# shellcheck source=tests/integration/common.bash
source "$(dirname "$0")/common.bash" "$@"
# shellcheck source=tests/integration/life_common.bash
source "$(dirname "$0")/life_common.bash"
require "$SHIM" "$ANALYZE" "$TP/life_threads"

compare_run "short-lived threads" "$TP/life_threads" short && {
	grep -q "fds same, timers same" "$RUN_DIR/.out" || fail "short-lived threads: $(cat "$RUN_DIR/.out" "$RUN_DIR/.err")"
	tr=$(life_trace life_threads) && "$ANALYZE" --format json "$tr" >"$T/t.json" &&
		[ "$(json_get "$T/t.json" 'd["summary"]["threads"] >= 401')" = True ] ||
		fail "short-lived threads: the trace does not count 401 threads"
}
compare_run "signals blocked in some threads" "$TP/life_threads" blocked && {
	grep -q "interrupted 0 times" "$RUN_DIR/.out" || fail "blocked: $(cat "$RUN_DIR/.out")"
	life_trace life_threads >/dev/null
}

# A library whose constructor starts a thread that keeps running (and allocating) while the shim's
# own constructor runs. Preloaded first, its constructor runs before ours. (Documented limit: that
# thread is never sampled; it must not crash or hang anything.)
cat >"$T/early.c" <<'C'
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>
static volatile int stop;
static void *early(void *a) { (void)a; while (!stop) free(malloc(32)); return NULL; }
static pthread_t t;
__attribute__((constructor)) static void start(void) { pthread_create(&t, NULL, early, NULL); }
__attribute__((destructor)) static void end(void) { stop = 1; pthread_join(t, NULL); }
C
if cc -O2 -g -fPIC -shared -pthread -o "$T/libearly.so" "$T/early.c" 2>"$T/cc.err"; then
	mkdir -p "$T/early" && cd "$T/early" || exit 1
	rc=0
	# env, not timeout, gets the preload: an extra thread in timeout itself can take its SIGCHLD.
	out=$(timeout -k 5 30 env LD_PRELOAD="$T/libearly.so $SHIM" "$TP/life_threads" blocked 2>"$T/early.err") || rc=$?
	[ "$rc" -eq 0 ] || fail "thread from an earlier constructor: status $rc: $(head -c 200 "$T/early.err")"
	echo "$out" | grep -q "blocked done" || fail "thread from an earlier constructor: printed '$out'"
	[ -s "$T/early.err" ] && fail "thread from an earlier constructor: stderr: $(head -c 200 "$T/early.err")"
	[ "$(find . -name 'deiatrace.life_threads.*.bin' | wc -l)" -eq 1 ] || fail "thread from an earlier constructor: no trace"
else
	fail "cannot build the early-thread library: $(head -c 200 "$T/cc.err")"
fi
finish
