#!/bin/sh
# Installs the Debian 12 packages deiatrace needs to build, test and benchmark, when they are missing.
# As root it runs apt-get; otherwise it prints the exact command to run and fails if a build
# dependency is missing. Usage: scripts/deps.sh [--bench]
set -eu

build_pkgs="gcc g++ make pkgconf libunwind-dev uthash-dev check libdw-dev libelf-dev zlib1g-dev"
test_pkgs="clang python3 valgrind binutils cmark-gfm bsdutils"
# tests/real (make check-real, and make check through tests/integration/real_programs.sh)
real_pkgs="coreutils bash perl git sqlite3 xz-utils mawk libpython3.11-testsuite"
# ecosystem tests: pprof's own client, a headless browser for the HTML report, man page lint,
# and other allocators preloaded next to the shim
eco_pkgs="golang-go chromium mandoc libjemalloc2 libgoogle-perftools4"
bench_pkgs="heaptrack google-perftools libgoogle-perftools-dev"

want="$build_pkgs $test_pkgs $real_pkgs $eco_pkgs"
[ "${1:-}" = "--bench" ] && want="$want $bench_pkgs"

missing=""
for p in $want; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
	echo "deps: installing:$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	# The package lists on a fresh machine may be empty or stale; update once before installing.
	apt-get update -qq >&2
	apt-get install -y -qq --no-install-recommends $missing >&2
	exit 0
fi

echo "deps: missing packages:$missing" >&2
echo "deps: run: sudo apt-get install$missing" >&2
for p in $missing; do
	case " $build_pkgs " in *" $p "*) exit 1 ;; esac
done
exit 0
