#!/usr/bin/env bash
# `make install` into a temporary DESTDIR from the already built BUILD_DIR (nothing is rebuilt), the
# exact file list and modes, then the installed tree used in place: the installed `deiatrace record`
# preloads the installed shim (found as ../lib/deiatrace/ from its own path) into a program compiled
# against the installed header with `pkg-config --cflags deiatrace` (which links no library), the
# installed `deiatrace report` shows its function and region, the installed man pages are found and
# render; finally `make uninstall` removes every installed file and nothing else.
# Usage: tests/integration/install.sh BUILD_DIR
source "$(dirname "$0")/common.bash" "$@"

FE=$B/deiatrace
require "$SHIM" "$ANALYZE" "$FE"
ROOT=$T/root
PREFIX=/usr
SPIN_ITERATIONS=60000000 # about 0.1 s of CPU: enough samples to name the function
REGION=install_work

# make_in_tree TARGET: the top-level Makefile with this build dir and destination. The caller's
# make state (MAKEFLAGS from `make check`, its jobserver) must not leak into the nested make.
make_in_tree()
{
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$SRC_ROOT" --no-print-directory "$1" \
		PREFIX="$PREFIX" DESTDIR="$ROOT" B="$B"
}

# ---------------------------------------------------------------- install, without rebuilding
before=$(stat -c '%Y %n' "$SHIM" "$ANALYZE" "$FE")
rc=0
make_in_tree install >"$T/install.log" 2>&1 || rc=$?
if [ "$rc" -ne 0 ]; then
	fail "make install exited $rc: $(tail -n 5 "$T/install.log" | tr '\n' ' ')"
	finish
fi
[ "$(stat -c '%Y %n' "$SHIM" "$ANALYZE" "$FE")" = "$before" ] ||
	fail "make install rebuilt the build tree: $(grep -E '^ *(CC|LD) ' "$T/install.log" | head -n 3 | tr '\n' ' ')"

# ---------------------------------------------------------------- the file list, modes, contents
declare -A want=(
	[usr/bin/deiatrace]="755 $FE"
	[usr/bin/deiatrace-analyze]="755 $ANALYZE"
	[usr/lib/deiatrace/libdeiatrace.so]="755 $SHIM"
	[usr/include/deiatrace.h]="644 $SRC_ROOT/include/deiatrace.h"
	[usr/lib/pkgconfig/deiatrace.pc]="644 -"
	[usr/share/man/man1/deiatrace.1]="644 $SRC_ROOT/man/deiatrace.1"
	[usr/share/man/man1/deiatrace-analyze.1]="644 $SRC_ROOT/man/deiatrace-analyze.1"
	[usr/share/man/man7/libdeiatrace.7]="644 $SRC_ROOT/man/libdeiatrace.7"
	[usr/share/doc/deiatrace/README.md]="644 $SRC_ROOT/README.md"
)
for doc in "$SRC_ROOT"/docs/*.md; do
	want[usr/share/doc/deiatrace/docs/$(basename "$doc")]="644 $doc"
done
(cd "$ROOT" && find . \( -type f -o -type l \) -printf '%P\n' | sort) >"$T/got.list"
printf '%s\n' "${!want[@]}" | sort >"$T/want.list"
if ! diff "$T/want.list" "$T/got.list" >"$T/list.diff"; then
	fail "installed files differ from the expected list (< missing, > unexpected): $(grep '^[<>]' "$T/list.diff" | head -n 8 | tr '\n' ' ')"
fi
for f in "${!want[@]}"; do
	[ -f "$ROOT/$f" ] || continue
	read -r mode src <<<"${want[$f]}"
	got_mode=$(stat -c '%a' "$ROOT/$f")
	[ "$got_mode" = "$mode" ] || fail "$f: mode $got_mode, expected $mode"
	if [ "$src" != - ] && ! cmp -s "$src" "$ROOT/$f"; then
		fail "$f differs from $src"
	fi
done

# ---------------------------------------------------------------- pkg-config, as a packager uses it
pc() { PKG_CONFIG_PATH='' PKG_CONFIG_LIBDIR="$ROOT$PREFIX/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$ROOT" pkg-config "$@"; }
raw=$(pc --cflags deiatrace) || fail "pkg-config --cflags deiatrace failed on the installed deiatrace.pc"
read -r cflags <<<"$raw" # pkg-config ends its output with a space
[ "$cflags" = "-I$ROOT$PREFIX/include" ] || fail "pkg-config --cflags deiatrace: '$cflags', expected '-I$ROOT$PREFIX/include'"
raw=$(pc --libs deiatrace)
read -r libs <<<"$raw"
[ -z "$libs" ] || fail "pkg-config --libs deiatrace: '$libs', expected nothing (the region calls are weak)"
prefix=$(PKG_CONFIG_PATH='' PKG_CONFIG_LIBDIR="$ROOT$PREFIX/lib/pkgconfig" pkg-config --variable=prefix deiatrace)
[ "$prefix" = "$PREFIX" ] || fail "deiatrace.pc: prefix '$prefix', expected the PREFIX installed to, '$PREFIX'"
version=$(pc --modversion deiatrace)
fe_version=$("$ROOT$PREFIX/bin/deiatrace" --version)
[ "$fe_version" = "deiatrace $version" ] || fail "deiatrace.pc version '$version', the installed front end says '$fe_version'"

# ---------------------------------------------------------------- a program built against the header
cat >"$T/prog.c" <<EOF
#include <deiatrace.h>
#include <stdio.h>
#include <stdlib.h>

static volatile unsigned long sink;

__attribute__((noinline)) static void install_spin(void)
{
	DT_REGION("$REGION");
	char *block = malloc(4096);
	for (unsigned long i = 0; i < ${SPIN_ITERATIONS}ul; i++)
		sink += i * i;
	block[0] = (char)sink;
	free(block);
}

int main(void)
{
	const char *preload = getenv("LD_PRELOAD");
	printf("preload=%s\nregions=%s\n", preload ? preload : "", dt_region_push ? "on" : "off");
	install_spin();
	return 0;
}
EOF
# shellcheck disable=SC2086 # pkg-config output is a list of flags
if ! cc -std=gnu11 -g -O1 -Wall -Wextra -Werror $cflags "$T/prog.c" -o "$T/prog" -H 2>"$T/cc.err"; then
	fail "cc \$(pkg-config --cflags deiatrace) prog.c: $(grep -v '^\.' "$T/cc.err" | head -n 5 | tr '\n' ' ')"
	finish
fi
header=$(sed -n 's/^\.* *\(.*deiatrace\.h\)$/\1/p' "$T/cc.err" | head -n 1)
[ "$header" = "$ROOT$PREFIX/include/deiatrace.h" ] ||
	fail "the test program included '$header', not the installed $ROOT$PREFIX/include/deiatrace.h"
printf '#include <deiatrace.h>\nint main() { DT_REGION("cxx"); dt_region_begin("b"); dt_region_end(); return 0; }\n' >"$T/prog.cc"
# shellcheck disable=SC2086
c++ -Wall -Wextra -Werror $cflags "$T/prog.cc" -o "$T/prog_cxx" 2>"$T/cxx.err" ||
	fail "c++ against the installed header: $(head -n 3 "$T/cxx.err" | tr '\n' ' ')"
if nm -u "$T/prog" | grep -q ' U dt_region'; then
	fail "the test program has strong references to dt_region_*: it would need the shim to load"
fi
rc=0
"$T/prog" >"$T/plain.out" 2>&1 || rc=$?
if [ "$rc" -ne 0 ] || ! grep -qx 'regions=off' "$T/plain.out"; then
	fail "the test program without the shim: exit $rc, output: $(head -c 200 "$T/plain.out" | tr '\n' ' ')"
fi

# ---------------------------------------------------------------- the installed front end, in place
installed_shim=$(realpath "$ROOT$PREFIX/lib/deiatrace/libdeiatrace.so")
mkdir "$T/run"
rc=0
(cd "$T/run" && "$ROOT$PREFIX/bin/deiatrace" record -o trace.bin -- "$T/prog") >"$T/rec.out" 2>"$T/rec.err" || rc=$?
if [ "$rc" -ne 0 ] || [ ! -s "$T/run/trace.bin" ]; then
	fail "installed deiatrace record exited $rc, trace: $(ls "$T/run"): $(head -c 300 "$T/rec.err" | tr '\n' ' ')"
	finish
fi
grep -qx "preload=$installed_shim" "$T/rec.out" ||
	fail "the program ran with $(grep '^preload=' "$T/rec.out"), expected the installed shim $installed_shim"
grep -qx 'regions=on' "$T/rec.out" || fail "under the installed shim the region calls did not resolve"
grep -q '^deiatrace: trace .*trace\.bin' "$T/rec.err" ||
	fail "installed deiatrace record printed no summary line: $(head -c 200 "$T/rec.err" | tr '\n' ' ')"

rc=0
"$ROOT$PREFIX/bin/deiatrace" report "$T/run/trace.bin" >"$T/report.txt" 2>"$T/report.err" || rc=$?
[ "$rc" -eq 0 ] || fail "installed deiatrace report exited $rc: $(head -c 300 "$T/report.err" | tr '\n' ' ')"
grep -q 'install_spin' "$T/report.txt" || fail "installed deiatrace report does not name install_spin"
grep -Eq "^ +$REGION +1 " "$T/report.txt" || fail "installed deiatrace report has no row for region $REGION (count 1)"
rc=0
"$ROOT$PREFIX/bin/deiatrace-analyze" --format json "$T/run/trace.bin" >"$T/report.json" 2>"$T/an.err" || rc=$?
if [ "$rc" -ne 0 ] || [ "$(self_pct "$T/report.json" install_spin)" = 0.000 ]; then
	fail "installed deiatrace-analyze --format json: exit $rc, install_spin has no self time"
fi

# ---------------------------------------------------------------- the installed manual pages
for page in man1/deiatrace.1 man1/deiatrace-analyze.1 man7/libdeiatrace.7; do
	# Bold is overstruck (X backspace X): strip it to read the text.
	mandoc -T ascii "$ROOT$PREFIX/share/man/$page" 2>/dev/null | sed 's/.\x08//g' | grep -q '^SYNOPSIS' ||
		fail "installed $page does not render with mandoc"
done
if command -v man >/dev/null; then
	for name in deiatrace deiatrace-analyze libdeiatrace; do
		found=$(man -M "$ROOT$PREFIX/share/man" -w "$name" 2>/dev/null)
		case $found in
		"$ROOT$PREFIX/share/man/"*) ;;
		*) fail "man -M $ROOT$PREFIX/share/man -w $name found '$found'" ;;
		esac
	done
fi

# ---------------------------------------------------------------- uninstall: ours go, others stay
mkdir -p "$ROOT$PREFIX/share/doc/other"
touch "$ROOT$PREFIX/bin/other-tool" "$ROOT$PREFIX/lib/pkgconfig/other.pc" "$ROOT$PREFIX/share/doc/other/README"
rc=0
make_in_tree uninstall >"$T/uninstall.log" 2>&1 || rc=$?
[ "$rc" -eq 0 ] || fail "make uninstall exited $rc: $(tail -n 5 "$T/uninstall.log" | tr '\n' ' ')"
left=$(cd "$ROOT" && find . \( -type f -o -type l \) -printf '%P\n' | sort | tr '\n' ' ')
[ "$left" = "usr/bin/other-tool usr/lib/pkgconfig/other.pc usr/share/doc/other/README " ] ||
	fail "after make uninstall these files remain (expected only the 3 planted ones): $left"
for d in lib/deiatrace share/doc/deiatrace; do
	[ ! -e "$ROOT$PREFIX/$d" ] || fail "make uninstall left the directory $PREFIX/$d"
done
rc=0
make_in_tree uninstall >"$T/uninstall2.log" 2>&1 || rc=$?
[ "$rc" -eq 0 ] || fail "a second make uninstall exited $rc: $(tail -n 3 "$T/uninstall2.log" | tr '\n' ' ')"
finish
