#!/usr/bin/env bash
# exports: libdeiatrace.so exports exactly the symbols it means to (libunwind's check-namespace does
# the same). `nm -D --defined-only` must list every symbol below and nothing else. Each one was
# checked in the source to be a deliberate DT_EXPORT:
#   preload/dt_malloc.c    the malloc family and malloc_usable_size (exact memory tracking)
#   preload/dt_thread.c    pthread_create (per-thread sampler and state); the exec family, including
#                          execveat and fexecve (trace the old image before it is replaced)
#   preload/dt_dlsafe.c    dl_iterate_phdr and dlclose (loader-lock-safe unwinding, modules recorded
#                          before they unmap); sigaction, signal, bsd_signal, sysv_signal, sigset and
#                          setitimer (SIGPROF ownership: the shim steps aside for a host's handler/timer)
#   preload/dt_lifecycle.c _exit and _Exit (write the trace of programs that skip destructors)
#   preload/dt_calls.c     __cyg_profile_func_enter/exit (-finstrument-functions call statistics)
#   preload/dt_regions.c   dt_region_push/pop (the public regions API, include/deiatrace.h)
# A new export must be added here on purpose, with the file that defines it.
# shellcheck source=tests/integration/common.bash
source "$(dirname "$0")/common.bash" "$@"
require "$SHIM"
command -v nm >/dev/null 2>&1 || skip "nm (binutils) is not installed"

ALLOWED=(
	malloc calloc realloc reallocarray free posix_memalign aligned_alloc memalign valloc pvalloc
	malloc_usable_size
	pthread_create
	execve execv execvp execvpe execl execlp execle execveat fexecve
	dl_iterate_phdr dlclose
	sigaction signal bsd_signal sysv_signal sigset setitimer
	_exit _Exit
	__cyg_profile_func_enter __cyg_profile_func_exit
	dt_region_push dt_region_pop
)

# Symbol names only; versioned names (foo@VER) count as foo.
if ! nm -D --defined-only "$SHIM" >"$T/nm" 2>"$T/nm.err"; then
	fail "nm -D --defined-only $SHIM failed: $(head -c 300 "$T/nm.err")"
	finish
fi
awk 'NF >= 3 { sub(/@.*/, "", $3); print $3 }' "$T/nm" | LC_ALL=C sort -u >"$T/exported"
printf '%s\n' "${ALLOWED[@]}" | LC_ALL=C sort -u >"$T/allowed"

[ -s "$T/exported" ] || fail "nm lists no defined dynamic symbols in $SHIM"
extra=$(LC_ALL=C comm -23 "$T/exported" "$T/allowed")
[ -z "$extra" ] || fail "exported but not on the allowed list (make it static/hidden, or add it here on purpose): $(echo "$extra" | tr '\n' ' ')"
# Every interposer on the list must still be there: a missing one means a hook silently stopped working.
missing=$(LC_ALL=C comm -13 "$T/exported" "$T/allowed")
[ -z "$missing" ] || fail "on the allowed list but not exported (interposer lost?): $(echo "$missing" | tr '\n' ' ')"
# Only functions: an exported variable would be a global the host could collide with.
objs=$(awk 'NF >= 3 && $2 !~ /^[TtWwi]$/ { print $3 " (" $2 ")" }' "$T/nm")
[ -z "$objs" ] || fail "exported symbols that are not functions: $(echo "$objs" | tr '\n' ' ')"
finish
