#!/usr/bin/env bash
# deiatrace report: one trace gives the analyzer's report; three runs of one program merge into one
# report whose sample count is the sum of the runs' and whose functions stay whole across ASLR
# (each run maps the binary elsewhere); traces of different programs are refused (exit 2).
source "$(dirname "$0")/common.bash" "$@"
FE=$B/deiatrace
require "$FE" "$SHIM" "$TP/spin" "$TP/sleeper"
cd "$T" || exit 1

for i in 1 2 3; do
	"$FE" record -o "run$i.bin" -- "$TP/spin" --iterations 60000000 >/dev/null 2>&1 || fail "record run $i"
done
"$FE" record -o other.bin -- "$TP/sleeper" 1 2>/dev/null || fail "record sleeper"

"$FE" report -f json run1.bin >one.json 2>err.txt || fail "report one trace: $(cat err.txt)"
"$FE" report -f json -o merged.json run1.bin run2.bin run3.bin 2>err.txt || fail "report merged: $(cat err.txt)"
sum=0
for i in 1 2 3; do
	analyze_json "run$i.bin" "run$i.json" || finish
	sum=$((sum + $(summary_field "run$i.json" samples)))
done
merged=$(summary_field merged.json samples)
[ "$merged" = "$sum" ] || fail "merged samples $merged, expected the sum $sum"
# spin_work owns nearly all samples in each run; merged it must still be one function with them.
pct=$(self_pct merged.json spin_work)
within "$pct" 95 10 || fail "merged spin_work self% $pct, expected about 95+ (a function split by ASLR?)"
n=$(python3 -c 'import json,sys; print(sum(1 for f in json.load(open(sys.argv[1]))["functions"] if f["name"]=="spin_work"))' merged.json)
[ "$n" = 1 ] || fail "spin_work appears $n times in the merged report"
rc=0
"$FE" report run1.bin other.bin >/dev/null 2>err.txt || rc=$?
[ "$rc" -eq 2 ] || fail "report of two programs exited $rc, expected 2"
"$FE" report run1.bin | grep -q "spin_work" || fail "text report lacks spin_work"
rc=0
"$FE" report >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 2 ] || fail "report without a file exited $rc, expected 2"
finish
