#!/usr/bin/env bash
# bad_input: the analyzer rejects what is not a trace — a missing file, an empty file, random bytes,
# a valid header followed by garbage, a trace cut before the end of its META section — with exit
# status 2 and a message that starts with "deiatrace-analyze: "; a trace cut later is rejected the
# same way or read as a partial trace with a warning; it never dies of a signal or hangs. Corrupted bytes inside a
# valid trace must not crash it either (it may accept or reject them), also when the section crc32 is
# recomputed so the parsers see them. A rejection is exit 2 with "deiatrace-analyze: FILE: ...".
# shellcheck source=tests/integration/common.bash
source "$(dirname "$0")/common.bash" "$@"
require "$SHIM" "$ANALYZE" "$TP/spin"

PER_RUN_TIMEOUT_S=20
EXTRA_ARGS=() # options added to every analyzer run

# analyze_status FILE [ARGS...]: run the analyzer, print its exit status; its stderr goes to $T/err.
analyze_status()
{
	local rc=0
	timeout -k 5 "$PER_RUN_TIMEOUT_S" "$ANALYZE" "${EXTRA_ARGS[@]}" "$@" >"$T/out" 2>"$T/err" </dev/null || rc=$?
	echo "$rc"
}

# rejects LABEL FILE: expect status 2 and a deiatrace-analyze: message.
rejects()
{
	local rc
	rc=$(analyze_status "$2")
	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		fail "$1: the analyzer hung (killed after ${PER_RUN_TIMEOUT_S}s)"
	elif [ "$rc" -ge 128 ]; then
		fail "$1: the analyzer died of signal $((rc - 128)) ($(head -n 1 "$T/err"))"
	elif [ "$rc" -ne 2 ]; then
		fail "$1: exit status $rc, expected 2 (stderr: $(head -c 200 "$T/err"))"
	elif ! names_file "$2"; then
		fail "$1: exit 2 but the message does not start with 'deiatrace-analyze: $2: ': $(head -c 200 "$T/err")"
	fi
}

# names_file FILE: the first line of $T/err is "deiatrace-analyze: FILE: what was expected...".
names_file()
{
	local first
	first=$(head -n 1 "$T/err")
	[ "${first#"deiatrace-analyze: $1: "}" != "$first" ]
}

# survives LABEL FILE: any verdict but a signal or a hang.
survives()
{
	local rc
	rc=$(analyze_status "$2")
	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		fail "$1: the analyzer hung (killed after ${PER_RUN_TIMEOUT_S}s)"
	elif [ "$rc" -ge 128 ]; then
		fail "$1: the analyzer died of signal $((rc - 128)) ($(head -n 1 "$T/err"))"
	elif [ "$rc" -ne 0 ] && [ "$rc" -ne 2 ]; then
		fail "$1: exit status $rc, expected 0 (accepted) or 2 (rejected)"
	elif [ "$rc" -eq 2 ] && ! names_file "$2"; then
		fail "$1: rejected without a 'deiatrace-analyze: $2: ' message: $(head -c 200 "$T/err")"
	fi
}

# cut_off LABEL FILE: a trace cut short. The analyzer either rejects it (status 2, a message) or, for
# a cut after the META section, reads what is complete and says on stderr that the trace is partial
# (status 0 and a "deiatrace-analyze: warning: ... partial trace" line: checkpoints of a program
# that died are read this way).
cut_off()
{
	local rc
	rc=$(analyze_status "$2")
	if [ "$rc" -eq 0 ]; then
		grep -q '^deiatrace-analyze: warning: .*partial' "$T/err" ||
			fail "$1: accepted (status 0) without a 'deiatrace-analyze: warning: ... partial trace' line"
		partial_accepted=$((partial_accepted + 1))
		return
	fi
	rejects "$1" "$2"
}
partial_accepted=0

# A valid trace to cut up.
mkdir "$T/run"
(cd "$T/run" && traced "$TP/spin" --iterations 100000000 >/dev/null 2>&1) || fail "spin under the shim failed"
trace=$(only_trace "$T/run") || { fail "no trace written to cut up"; finish; }
size=$(stat -c %s "$trace")
# Where the first section (the writer puts META first) ends: a cut before it leaves nothing readable,
# so it must be rejected; a later cut may be read as a partial trace.
meta_end=$(python3 -c '
import struct, sys
d = open(sys.argv[1], "rb").read()
off = 16
while off + 16 <= len(d):
    sid, _, n = struct.unpack_from("<IIQ", d, off)
    if sid == 1:
        print(off + 16 + n)
        break
    off += 16 + n
else:
    print(0)' "$trace")
note "valid trace: $size bytes, its META section ends at byte $meta_end"
[ "$meta_end" -gt 16 ] || fail "the valid trace has no META section"
rc=$(analyze_status "$trace")
[ "$rc" -eq 0 ] || fail "the intact trace is rejected (status $rc): $(head -c 200 "$T/err")"

rejects "missing file" "$T/does-not-exist.bin"
: >"$T/empty.bin"
rejects "empty file" "$T/empty.bin"
rejects "a directory" "$T/run"

python3 - "$T" "$trace" <<'PY'
import random, sys
d, trace = sys.argv[1], sys.argv[2]
r = random.Random(20261127)
for n in (1, 7, 16, 17, 100, 4096, 65536):
    open("%s/random-%d.bin" % (d, n), "wb").write(bytes(r.getrandbits(8) for _ in range(n)))
valid = open(trace, "rb").read()
# The right magic and header, then garbage: gets past the first check.
open("%s/magic-garbage.bin" % d, "wb").write(valid[:16] + bytes(r.getrandbits(8) for _ in range(4096)))
# Byte flips at spread offsets, one file each.
for i in range(40):
    off = 16 + (len(valid) - 16) * i // 40
    b = bytearray(valid)
    b[off] ^= 0xff
    open("%s/flip-%d.bin" % (d, off), "wb").write(bytes(b))
PY
for f in "$T"/random-*.bin "$T/magic-garbage.bin"; do
	rejects "$(basename "$f")" "$f"
done
for f in "$T"/flip-*.bin; do
	survives "$(basename "$f" .bin) (one byte inverted)" "$f"
done

# Changed bytes the crc32 does not catch (it is recomputed, as a hostile writer would): the section
# parsers see them. A spot check of the exit status and message; tests/unit/check_analyzer_hostile.c
# changes every byte of a small trace in-process.
python3 - "$T" "$trace" <<'PY'
import struct, sys, zlib
d, trace = sys.argv[1], sys.argv[2]
data = open(trace, "rb").read()
spans, off = [], 16
while off + 16 <= len(data):
    sid, _, n = struct.unpack_from("<IIQ", data, off)
    spans.append((off, n))
    if sid == 0x7FFF:
        break
    off += 16 + n
for k, (hdr, n) in enumerate(spans):
    for pos, value in ((0, 0xff), (0, 0x00), (4, 0xff), (n // 2, 0x80)):
        if pos >= n:
            continue
        b = bytearray(data)
        b[hdr + 16 + pos] = value if value != 0x80 else b[hdr + 16 + pos] ^ 0x80
        struct.pack_into("<I", b, hdr + 4, zlib.crc32(bytes(b[hdr + 16:hdr + 16 + n])) & 0xFFFFFFFF)
        open("%s/recrc-%d-%d-%x.bin" % (d, k, pos, value), "wb").write(bytes(b))
PY
EXTRA_ARGS=(--no-symbols)
recrc=0
for f in "$T"/recrc-*.bin; do
	[ -f "$f" ] || continue
	survives "$(basename "$f" .bin) (payload byte changed, crc32 recomputed)" "$f"
	recrc=$((recrc + 1))
done
EXTRA_ARGS=()
[ "$recrc" -gt 8 ] || fail "only $recrc crc-repaired corruptions generated"
note "$recrc corruptions with a recomputed crc32 survived"

# Truncations of a real trace through the CLI: every offset in the file header and the first section
# header, every 8th to byte 96, then 40 offsets spread over the rest, and the last byte
# (tests/unit/check_analyzer_hostile.c cuts a trace with every section at every offset in-process).
offsets=$(python3 -c '
import sys
n = int(sys.argv[1])
s = set(range(0, min(n, 40))) | set(range(40, min(n, 96), 8)) | {n - 1} | {96 + (n - 96) * i // 40 for i in range(40) if n > 96}
print(" ".join(str(o) for o in sorted(s) if 0 <= o < n))' "$size")
count=0
for off in $offsets; do
	head -c "$off" "$trace" >"$T/cut.bin"
	# Symbolization costs ~0.3 s a run: do it for every fourth cut, read the others with --no-symbols.
	if [ $((count % 4)) -eq 0 ]; then
		EXTRA_ARGS=()
	else
		EXTRA_ARGS=(--no-symbols)
	fi
	before=$FAILURES
	if [ "$off" -lt "$meta_end" ]; then # not even the META section: nothing to report
		rejects "trace truncated to $off of $size bytes" "$T/cut.bin"
	else
		cut_off "trace truncated to $off of $size bytes" "$T/cut.bin"
	fi
	count=$((count + 1))
	# One broken offset usually means many: stop listing after a few.
	if [ "$FAILURES" -gt "$before" ] && [ "$FAILURES" -ge 8 ]; then
		fail "stopping after 8 failures"
		break
	fi
done
note "$count truncated traces tried, $partial_accepted read as partial traces, the others rejected"
finish
