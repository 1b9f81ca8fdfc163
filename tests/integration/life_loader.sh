#!/usr/bin/env bash
# life_loader: four threads dlopen/dlclose a library while four call dl_iterate_phdr, sampled at the
# highest rate, 20 runs in a row without a hang (the loader lock and the SIGPROF handler); and a
# library dlopen'ed, run and dlclose'd mid-run is still symbolized.
# shellcheck source=tests/integration/common.bash
source "$(dirname "$0")/common.bash" "$@"
# shellcheck source=tests/integration/life_common.bash
source "$(dirname "$0")/life_common.bash"
require "$SHIM" "$ANALYZE" "$TP/life_dl"
RUNS=20

cat >"$T/lifelib.c" <<'C'
unsigned long long dt_life_burn(unsigned long long n)
{
	volatile unsigned long long s = 0;
	for (unsigned long long i = 0; i < n; i++)
		s += i * i;
	return s;
}
C
cc -O1 -g -fPIC -shared -o "$T/libdtlife.so" "$T/lifelib.c" 2>"$T/cc.err" ||
	{ fail "cannot build the test library: $(head -c 200 "$T/cc.err")"; finish; }

export DEIATRACE_FREQ=10000
LIFE_TIMEOUT_S=20
for i in $(seq 1 "$RUNS"); do
	compare_run "race run $i" "$TP/life_dl" race "$T/libdtlife.so" || break
	rm -rf "$T"/run*.[ut]
done
unset DEIATRACE_FREQ

if compare_run symbolize "$TP/life_dl" symbolize "$T/libdtlife.so"; then
	tr=$(life_trace life_dl) && "$ANALYZE" --format json "$tr" >"$T/d.json" &&
		[ "$(json_get "$T/d.json" 'any(f["name"] == "dt_life_burn" and float(f.get("self_pct") or 0) > 50 for f in d["functions"])')" = True ] ||
		fail "symbolize: dt_life_burn in the dlclose'd library is not named with most of the samples"
fi
finish
