#!/usr/bin/env bash
# valgrind_analyzer: the analyzer under Valgrind memcheck reads real traces (test programs under the
# shim, symbolized with libdwfl) and synthetic ones (three fuzz seed traces, hostile names, a cut and
# a corrupted trace), every report format at least once: no invalid read or write, no use of
# uninitialised values, no definite leak (--error-exitcode). Complements the ASan build of
# tests/sanitize.sh with an unmodified binary. Valgrind is slow (~1.5 s to start, ~20-50x): few
# traces, --no-symbols for most runs, ~50 s in all. VG_TIMES=1 prints each run's time.
# shellcheck source=tests/integration/common.bash
source "$(dirname "$0")/common.bash" "$@"
require "$SHIM" "$ANALYZE" "$TP/cpu_shares" "$TP/cxx_methods"
command -v valgrind >/dev/null || skip "valgrind is not installed (scripts/deps.sh installs it)"
VG_TIMEOUT_S=120
VG=(valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
	--show-leak-kinds=definite --track-origins=no --num-callers=20)
runs=0

# vg LABEL ARGS...: the analyzer under memcheck; exit 0 or 2 (rejected input) are fine, a memcheck
# error (99), a signal or a hang is not.
vg()
{
	local label=$1 rc=0 t0
	shift
	t0=$(date +%s%N)
	timeout -k 5 "$VG_TIMEOUT_S" "${VG[@]}" --log-file="$T/vg.log" "$ANALYZE" "$@" >/dev/null 2>"$T/vg.err" </dev/null || rc=$?
	runs=$((runs + 1))
	[ -n "${VG_TIMES:-}" ] && note "$label: $((($(date +%s%N) - t0) / 1000000)) ms"
	if [ "$rc" -eq 99 ] || grep -qE '^==[0-9]+== (Invalid|Conditional|Use of uninit|Mismatched|Source and destination)|definitely lost' "$T/vg.log"; then
		fail "$label: memcheck: $(grep -m 1 -E '^==[0-9]+== [A-Z]' "$T/vg.log")"
		sed -n '1,25p' "$T/vg.log" | sed 's/^/    /'
	elif [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		fail "$label: timed out after ${VG_TIMEOUT_S}s under valgrind"
	elif [ "$rc" -ne 0 ] && [ "$rc" -ne 2 ]; then
		fail "$label: exit status $rc: $(head -c 200 "$T/vg.err")"
	elif [ "$rc" -eq 2 ] && ! grep -q 'not implemented' "$T/vg.err" && [ "${expect_reject:-0}" != 1 ]; then
		fail "$label: rejected (status 2): $(head -c 200 "$T/vg.err")"
	fi
}

# Real traces: a C program with threads and a C++ one, symbolized.
for prog in "cpu_shares --rounds 2" cxx_methods; do
	name=${prog%% *}
	mkdir -p "$T/run-$name"
	# shellcheck disable=SC2086 # $prog carries the program's arguments
	(cd "$T/run-$name" && traced "$TP/"$prog >/dev/null 2>&1) || fail "$name under the shim failed"
done
real1=$(only_trace "$T/run-cpu_shares") || fail "cpu_shares left no trace"
real2=$(only_trace "$T/run-cxx_methods") || fail "cxx_methods left no trace"
[ "$FAILURES" -eq 0 ] || finish

start=$(date +%s)
# Every format once on a real trace: symbolized for the table formats, --no-symbols for the others
# (each symbolized run costs ~2 s more under valgrind); the C++ trace with symbols (demangling).
for f in text json markdown; do
	vg "cpu_shares --format $f" --format "$f" "$real1"
done
for f in folded pprof svg html; do
	vg "cpu_shares --no-symbols --format $f" --no-symbols --format "$f" "$real1"
done
vg "cxx_methods --inclusive --top 3 (text, symbols)" --inclusive --top 3 "$real2"

# Synthetic traces: the seed corpus, hostile module names, a cut and a corrupted copy.
python3 - "$T" "$real1" <<'PY'
import struct, sys, zlib
d, real = sys.argv[1], sys.argv[2]
def sec(sid, payload):
    return struct.pack("<IIQ", sid, zlib.crc32(payload) & 0xFFFFFFFF, len(payload)) + payload
def s(b):
    return struct.pack("<I", len(b)) + b
names = [b"</script>", b"\x1b[2J\x9b", b"bad\xff\xfe", b"semi;colon\nnl", b"L" * 70000]
meta = [0] * 27
meta[3], meta[9], meta[18] = 10**9, 1000, 1
blob = b"DEIATRC\x1a" + struct.pack("<II", 1, 0)
blob += sec(1, struct.pack("<I", len(meta)) + b"".join(struct.pack("<Q", v) for v in meta))
blob += sec(2, s(b"/x/prog") + struct.pack("<I", len(names)) + b"".join(s(n) for n in names))
blob += sec(3, struct.pack("<I", len(names)) + b"".join(
    struct.pack("<QQQI", 0x100000 * (i + 1), 0x100000 * (i + 1), 0x100000 * (i + 1) + 0x1000, 0) + s(b"/x/" + n)
    for i, n in enumerate(names)))
stacks = [[0x100000 * (i + 1) + 0x10, 0x100000 * ((i + 1) % len(names) + 1) + 0x20] * 3 for i in range(len(names))]
blob += sec(4, struct.pack("<I", len(stacks)) + b"".join(
    struct.pack("<II", len(st), 1) + b"".join(struct.pack("<Q", pc) for pc in st) for st in stacks))
blob += sec(5, struct.pack("<I", len(stacks)) + b"".join(struct.pack("<IQQ", i, 10 + i, 10**7) for i in range(len(stacks))))
blob += sec(6, struct.pack("<I", len(stacks)) + b"".join(struct.pack("<I7Q", i, 5, 500, 4, 400, 100, 100, 1) for i in range(len(stacks))))
blob += sec(7, struct.pack("<I", 1) + struct.pack("<5Q", 0x100010, 7, 700, 600, 300))
blob += sec(8, struct.pack("<IQII", 1, 2, 8, 2) + s(b"</script>") + struct.pack("<8Q", *range(8)) + s(b"\x1b[2J") + struct.pack("<8Q", *range(8)))
blob += sec(0x7FFF, b"")
open(d + "/hostile.bin", "wb").write(blob)
data = open(real, "rb").read()
open(d + "/cut.bin", "wb").write(data[: len(data) * 2 // 3])
b = bytearray(data)
b[len(b) // 2] ^= 0xff
open(d + "/flip.bin", "wb").write(bytes(b))
PY
for f in text json markdown html; do
	vg "hostile names --format $f" --no-symbols --format "$f" "$T/hostile.bin"
done
vg "cut trace" --no-symbols "$T/cut.bin"
expect_reject=1 vg "corrupted trace" --no-symbols "$T/flip.bin"
for c in cpu_alloc calls_unknown_section checkpoint_short_meta; do
	[ -f "$SRC_ROOT/tests/fuzz/corpus/$c.bin" ] || continue
	expect_reject=1 vg "corpus $c.bin" --no-symbols --format json "$SRC_ROOT/tests/fuzz/corpus/$c.bin"
done
note "$runs analyzer runs under valgrind memcheck in $(($(date +%s) - start)) s"
finish
