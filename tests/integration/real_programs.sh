#!/usr/bin/env bash
# real_programs: the real-program cases of tests/real/run.sh (unmodified Debian programs under the
# shim: python3, perl, gcc, make, git, xz, sqlite3, sort, bash, a C++ program), run by `make check`.
# Passes when every case that can run passes; skipped (77) when none can run.
# shellcheck source=tests/integration/common.bash
source "$(dirname "$0")/common.bash" "$@"
require "$SHIM" "$ANALYZE"
rc=0
bash "$SRC_ROOT/tests/real/run.sh" "$B" || rc=$?
case $rc in
0) finish ;;
77) skip "none of the real programs is installed (scripts/deps.sh installs them)" ;;
*) fail "tests/real/run.sh exited $rc (see the FAIL lines above)" ;;
esac
finish
