#!/bin/sh
# t/run.sh BUILDDIR -- run every Check suite built in BUILDDIR, each under a
# time limit, and sum up. Exits non-zero when any suite failed.
#
#   SL_VALGRIND=1   run the unit suites under valgrind, and have the
#                   integration suites start sluice under valgrind
#   SL_TESTS=globs  run only the suites whose name matches one of the
#                   space-separated globs (e.g. 'test_conf* test_cli')
#   SL_HOSTILE=full the hostile suites (t/hostile) at their full size
#                   (make test-hostile); by default they run small

set -u

B=${1:-objs}
top=$(pwd)
export SLUICE_BIN="$top/$B/sluice"
export SLUICE_SRC="$top"
export SLUICE_TMP="${TMPDIR:-/tmp}/sluice-test.$$"
# a sluice built with the kqueue stand-in, where configure made one
if [ -x "$top/$B/t/sluice-kqueue" ]; then
    export SLUICE_BIN_KQUEUE="$top/$B/t/sluice-kqueue"
fi
# the fork() that fails on demand (t/lib/forkfail), and a sluice whose
# master's table holds two workers, for test_process_spawnfail
if [ -f "$top/$B/t/libsl_t_forkfail.so" ]; then
    export SLUICE_FORKFAIL_LIB="$top/$B/t/libsl_t_forkfail.so"
fi
if [ -x "$top/$B/t/sluice-table2" ]; then
    export SLUICE_BIN_TABLE2="$top/$B/t/sluice-table2"
fi
# the installed tree of `make install DESTDIR=...` (objs/t/destdir), and
# the directory of its sluice.pc: the embedding suites build against them
if [ -f "$top/$B/t/destdir.stamp" ]; then
    export SLUICE_DESTDIR="$top/$B/t/destdir"
    export SLUICE_PKG_CONFIG_PATH="$SLUICE_DESTDIR$(cat "$top/$B/t/destdir.stamp")/pkgconfig"
    # the compiler options a host needs to link this build (sanitizers)
    SLUICE_HOST_FLAGS=$(cat "$top/$B/t/host-flags" 2>/dev/null)
    export SLUICE_HOST_FLAGS
fi
# the worked examples of examples/modules: a sluice with them built in
# (--add-module), and the objects --add-dynamic-module made of them
if [ -x "$top/$B/t/mods-static/sluice" ]; then
    export SLUICE_MODULES_BIN="$top/$B/t/mods-static/sluice"
fi
if [ -d "$top/$B/t/mods-dynamic" ]; then
    export SLUICE_MODULES_DIR="$top/$B/t/mods-dynamic"
fi
mkdir -p "$SLUICE_TMP"
trap 'rm -rf "$SLUICE_TMP"' EXIT INT TERM

VG="valgrind -q --error-exitcode=97 --leak-check=full --show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible --track-fds=no"
wrap=""
if [ "${SL_VALGRIND:-0}" = 1 ]; then
    wrap="$VG"
    export SLUICE_WRAPPER="$VG"
fi

limit=${SL_SUITE_TIMEOUT:-600}
checks=0 failed=0 suites=0 bad=""

# the suites are those with a source: a binary left by a renamed or
# deleted suite is not run
for src in t/unit/test_*.c t/integ/test_*.c t/hostile/test_*.c; do
    [ -f "$src" ] || continue    # a folder with no suite yet
    t="$B/${src%.c}"
    name=$(basename "$t")
    wanted=0
    set -f                       # the globs are for names, not files
    for pattern in ${SL_TESTS:-*}; do
        # shellcheck disable=SC2254
        case "$name" in $pattern) wanted=1 ;; esac
    done
    set +f
    [ "$wanted" = 1 ] || continue

    if [ ! -x "$t" ]; then
        echo "t/run.sh: $t is not built (make -f $B/Makefile tests)" >&2
        failed=$((failed + 1))
        bad="$bad $name"
        continue
    fi
    suites=$((suites + 1))

    out="$SLUICE_TMP/$name.out"
    # shellcheck disable=SC2086
    timeout -k 10 "$limit" $wrap "$t" > "$out" 2>&1
    rc=$?
    cat "$out"

    # Check's summary: "100%: Checks: 12, Failures: 0, Errors: 0"
    line=$(grep -E '^[0-9]+%: Checks: [0-9]+' "$out" | tail -n 1)
    n=$(echo "$line" | sed -n 's/.*Checks: \([0-9]*\).*/\1/p')
    f=$(echo "$line" | sed -n 's/.*Failures: \([0-9]*\), Errors: \([0-9]*\).*/\1 \2/p')
    n=${n:-0}
    set -- $f
    nf=$(( ${1:-0} + ${2:-0} ))
    if [ "$rc" != 0 ] && [ "$nf" = 0 ]; then
        nf=1   # crashed, timed out or valgrind found errors
        echo "$name: exited with status $rc"
    fi
    checks=$((checks + n))
    failed=$((failed + nf))
    [ "$nf" = 0 ] || bad="$bad $name"
done

if [ "$suites" = 0 ]; then
    echo "t/run.sh: no test suites found in $B/t" >&2
    exit 1
fi

passed=$((checks - failed))
[ "$passed" -ge 0 ] || passed=0
echo
[ -z "$bad" ] || echo "failed suites:$bad"
echo "tests: $passed passed, $failed failed"
[ "$failed" = 0 ]
