# Real programs under the shim (include from the top-level Makefile after tests/fuzz/fuzz.mk).
#   make check-real   tests/real/run.sh (python3, perl, gcc, make, git, xz, sqlite3, sort, bash, C++:
#                     same output traced and untraced, a valid trace naming the expected functions,
#                     the time ratio), then tests/real/cpython.sh (CPython's regression tests for
#                     signals, threads, subprocess, os, selectors, faulthandler and EINTR give the same
#                     results under the shim; several minutes)
#   REAL_CASES="xz git" restricts run.sh to those cases.
# `make check` runs the real-program cases through tests/integration/real_programs.sh.

REAL_CASES ?=

check-real: deps
	@$(MAKE) --no-print-directory all
	@rc=0; \
	DT_REAL_ANALYZE_ALL=1 timeout -k 10 900 tests/real/run.sh $(B) $(REAL_CASES) || rc=1; \
	timeout -k 10 2700 tests/real/cpython.sh $(B) || rc=1; \
	exit $$rc

.PHONY: check-real
