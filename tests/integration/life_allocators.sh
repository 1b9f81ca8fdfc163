#!/usr/bin/env bash
# life_allocators: a program with its own malloc (life_ownmalloc), and programs run with jemalloc or
# tcmalloc preloaded before or after the shim, behave as without the shim (stdout, stderr, status
# against the same LD_PRELOAD minus the shim) and leave a valid trace. What the trace says about
# memory depends on who owns `malloc` in the global scope: the shim first -> exact counts (mem_truth's
# own totals); the allocator first, or an executable's own malloc -> "memory not tracked", never a
# false "0 allocations". Debian programs: python3 (Debian's) with jemalloc, sort with tcmalloc.
# shellcheck source=tests/integration/common.bash
source "$(dirname "$0")/common.bash" "$@"
# shellcheck source=tests/integration/life_common.bash
source "$(dirname "$0")/life_common.bash"
require "$SHIM" "$ANALYZE" "$TP/life_ownmalloc" "$TP/mem_truth"

LIBDIR=/usr/lib/x86_64-linux-gnu
PY=/usr/bin/python3 # Debian's, never a pyenv one first on PATH
PY_SCRIPT='import json, collections
d = collections.Counter(str(i % 97) * (i % 13) for i in range(60000))
print(len(d), sum(len(json.dumps(sorted(d.items()))) for _ in range(5)))'
SORT_LINES=50000

# alloc_run LABEL PRELOAD_BASE PRELOAD_TRACED CMD...: untraced with LD_PRELOAD=PRELOAD_BASE (may be
# empty), traced with PRELOAD_TRACED; outputs must match. Sets RUN_DIR to the traced run's directory.
alloc_run()
{
	local label=$1 base=$2 tr=$3 u t
	shift 3
	RUN_SEQ=$((RUN_SEQ + 1))
	u=$T/run$RUN_SEQ.u
	t=$T/run$RUN_SEQ.t
	if [ -n "$base" ]; then
		run_in "$u" env LD_PRELOAD="$base" "$@"
	else
		run_in "$u" "$@"
	fi
	run_in "$t" env LD_PRELOAD="$tr" "$@"
	RUN_DIR=$t
	local urc trc
	urc=$(cat "$u/.rc")
	trc=$(cat "$t/.rc")
	if [ "$trc" = 124 ] || [ "$trc" = 137 ]; then
		fail "$label: traced run timed out after ${LIFE_TIMEOUT_S}s (bootstrap deadlock?)"
		return 1
	fi
	[ "$urc" = "$trc" ] || {
		fail "$label: status $trc traced, $urc untraced; stderr: $(head -c 300 "$t/.err")"
		return 1
	}
	cmp -s "$u/.out" "$t/.out" || {
		fail "$label: stdout differs: '$(head -c 200 "$t/.out")' vs '$(head -c 200 "$u/.out")'"
		return 1
	}
	cmp -s "$u/.err" "$t/.err" || {
		fail "$label: stderr differs: '$(head -c 300 "$t/.err")' vs '$(head -c 300 "$u/.err")'"
		return 1
	}
	return 0
}

# memory_says LABEL PROG WANT: the one trace of PROG in RUN_DIR parses (no symbolization: only the
# summary matters here), and its summary's memory_tracked is WANT (True/False). Sets ALLOCS to the
# trace's allocation count. (Not printed: fail inside $(...) would be lost in the subshell.)
memory_says()
{
	local label=$1 tr got
	ALLOCS=
	tr=$(life_trace "$2") || {
		fail "$label: expected one trace deiatrace.$2.*.bin, found: $(cd "$RUN_DIR" && ls -A | tr '\n' ' ')"
		return 1
	}
	"$ANALYZE" --no-symbols --format json "$tr" >"$T/m.json" 2>"$T/m.err" || {
		fail "$label: analyzer failed on the trace: $(head -c 200 "$T/m.err")"
		return 1
	}
	got=$("$PY" -c 'import json, sys; s = json.load(open(sys.argv[1]))["summary"]
print(s.get("memory_tracked"), s.get("allocations") or 0)' "$T/m.json")
	[ "${got% *}" = "$3" ] || {
		fail "$label: memory_tracked is ${got% *}, expected $3"
		return 1
	}
	ALLOCS=${got#* }
}

# 1. An executable that defines malloc/free/calloc/realloc.
if alloc_run "own malloc" "" "$SHIM" "$TP/life_ownmalloc"; then
	grep -q "own allocator served the program: yes" "$RUN_DIR/.out" ||
		fail "own malloc: the program's allocator was not used: $(cat "$RUN_DIR/.out")"
	memory_says "own malloc" life_ownmalloc False
fi

# 2. jemalloc and tcmalloc, before and after the shim.
sort_input=$T/sort.in
awk -v n="$SORT_LINES" 'BEGIN { srand(7); for (i = 0; i < n; i++) printf "%08d %s\n", int(rand() * 1e8), i }' >"$sort_input"
for lib in libjemalloc.so.2 libtcmalloc.so.4; do
	if [ ! -f "$LIBDIR/$lib" ]; then
		fail "$lib is not installed ($LIBDIR/$lib; scripts/deps.sh installs libjemalloc2 and libgoogle-perftools4)"
		continue
	fi
	L=$LIBDIR/$lib
	for order in before after; do
		if [ "$order" = before ]; then
			pre="$L $SHIM"
			want=False
		else
			pre="$SHIM $L"
			want=True
		fi
		label="$lib $order the shim"
		if alloc_run "$label: mem_truth" "$L" "$pre" "$TP/mem_truth" 1; then
			if memory_says "$label: mem_truth" mem_truth "$want" && [ "$want" = True ]; then
				truth=$(awk '$1 == "truth" && $2 == "total.allocations" { print $3 }' "$RUN_DIR/.out")
				[ "$ALLOCS" = "$truth" ] ||
					fail "$label: mem_truth: $ALLOCS allocations in the trace, the program made $truth"
			fi
		fi
		# One Debian program per allocator keeps the test short: python3 (threads, its own
		# small-object allocator on top) with jemalloc, sort (reallocarray, threads) with tcmalloc.
		if [ "$lib" = libjemalloc.so.2 ]; then
			alloc_run "$label: python3" "$L" "$pre" "$PY" -c "$PY_SCRIPT" &&
				memory_says "$label: python3" python3 "$want"
		else
			alloc_run "$label: sort" "$L" "$pre" sort -S 16M "$sort_input" &&
				memory_says "$label: sort" sort "$want"
		fi
	done
done
finish
