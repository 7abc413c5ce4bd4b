#!/usr/bin/env bash
# run-workers.sh -- sluice's echo with worker_processes 1 and 2: messages/s
# and connections/s, server CPU per operation, and the load generator's own
# CPU, through bench/run-echo.sh.
#
#   bench/run-workers.sh [--bin objs/sluice] [--port 7000] [--runs 5]
#       [--duration 5] [--warmup 1] [--only c100,c1000,connect] [--out DIR]
#
# Four configurations, each run by run-echo.sh (a fresh server per run,
# --runs runs, medians):
#
#   w1-pin   worker_processes 1; server on CPU 0, load on CPU 1
#   w2-pin   worker_processes 2; both workers on CPU 0, load on CPU 1
#            (the cost of a second process on the same CPU)
#   w1-free  worker_processes 1; nothing pinned
#   w2-free  worker_processes 2 with worker_cpu_affinity 01 10, load not
#            pinned: the workers have both CPUs and share them with the
#            load generator, as on a real 2-CPU host
#
# A 2-CPU machine cannot give two workers and the load generator a CPU
# each; that is why both the pinned pair (server against a fixed load
# CPU) and the free pair (what two workers buy when everything competes)
# are measured. The server's CPU is the master's and the workers'
# together (run-echo.sh sums the process tree). See bench/README.md.

set -u -o pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")

BIN=$ROOT/objs/sluice PORT=7000 RUNS=5 DURATION=5 WARMUP=1
ONLY=c100,c1000,connect OUT=

usage() {
    sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
}

die() {
    echo "run-workers: $*" >&2
    exit 1
}

while [ $# -gt 0 ]; do
    case $1 in
    --bin)      BIN=$2; shift ;;
    --port)     PORT=$2; shift ;;
    --runs)     RUNS=$2; shift ;;
    --duration) DURATION=$2; shift ;;
    --warmup)   WARMUP=$2; shift ;;
    --only)     ONLY=$2; shift ;;
    --out)      OUT=$2; shift ;;
    -h|--help)  usage; exit 0 ;;
    *)          usage >&2; exit 64 ;;
    esac
    shift
done

# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"
[ "$(nproc)" -ge 2 ] || die "needs 2 CPUs"
bench_prefix workers

# the configuration, on --port
sed "s/127\.0\.0\.1:7000/127.0.0.1:$PORT/" "$HERE/workers.conf" \
    >"$OUT/prefix/conf/workers.conf"

EVENTS='events { worker_connections 20000; }'
FAILED=0

# name, run-echo pinning, directives
configure() {
    local name=$1 pin=$2 g=$3
    echo "run-workers: $name ($g)" >&2
    # shellcheck disable=SC2086  # $pin is one or two words
    "$HERE/run-echo.sh" --label "$name" --port "$PORT" --runs "$RUNS" \
        --duration "$DURATION" --warmup "$WARMUP" --only "$ONLY" \
        --out "$OUT/$name" $pin \
        --server "$BIN -p $OUT/prefix/ -c conf/workers.conf -g '$g $EVENTS'" \
        >/dev/null || FAILED=1
}

# the median of a json field over the runs of one configuration
median_field() {
    local dir=$1 test=$2 field=$3 f
    for f in "$dir/$test".*.json; do
        [ -f "$f" ] || continue
        sed -n "s/.*\"$field\":\([^,}]*\).*/\1/p" "$f"
    done | median_of
}

errors() {
    [ -f "$1" ] || { echo nan; return; }
    awk '{ s += ($9 == "nan" ? 0 : $9); if ($10 != 0) bad++ }
         END { printf "%d%s", s, bad ? " (" bad " failed runs)" : "" }' "$1"
}

row() {
    local name=$1 test=$2 what=$3 dir="$OUT/$1"
    [ -f "$dir/$test.tsv" ] || return 0
    printf '| %s | %s | %.0f | %.2f | %.2f | %s | %s |\n' "$name" "$what" \
        "$(median "$dir/$test.tsv" 1)" \
        "$(median "$dir/$test.tsv" 7)" \
        "$(median_field "$dir" "$test" cpu_s)" \
        "$(mib "$(median "$dir/$test.tsv" 8)")" \
        "$(errors "$dir/$test.tsv")"
}

configure w1-pin "--cpus 0,1" "worker_processes 1;"
configure w2-pin "--cpus 0,1" "worker_processes 2;"
configure w1-free "--no-pin" "worker_processes 1;"
configure w2-free "--no-pin" "worker_processes 2; worker_cpu_affinity 01 10;"

{
    echo "# sluice, worker_processes 1 and 2: $BIN"
    echo
    echo "- machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' \
        /proc/cpuinfo | head -1), kernel $(uname -r)"
    echo "- $(date -u '+%Y-%m-%d %H:%M UTC'); $RUNS runs per configuration," \
         "${WARMUP} s warm-up + ${DURATION} s measured, medians"
    echo "- load CPU: sl-bench's own CPU seconds in the ${DURATION} s window"
    echo
    echo "| config | test | msgs/s or conn/s | server CPU us/op |" \
         "load CPU s | server peak RSS MiB | errors |"
    echo "|---|---|---:|---:|---:|---:|---|"
    for name in w1-pin w2-pin w1-free w2-free; do
        row "$name" c1 "1 conn, 64 B"
        row "$name" c100 "100 conns, 64 B"
        row "$name" c1000 "1000 conns, 64 B"
        row "$name" c100-16k "100 conns, 16 KiB"
        row "$name" connect "connect, echo, close; 10 at once"
    done
} | tee "$OUT/summary.md"

echo "run-workers: raw results in $OUT" >&2
exit $FAILED
