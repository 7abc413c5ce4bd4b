#!/usr/bin/env bash
# run-embed.sh -- the embedded library against the daemon: the same
# configuration (bench/embed.conf: an echo, and a proxy to a backend)
# served by objs/sluice (master_process off, one process) and by
# bench/embed_host (one instance run in the host's main thread), through
# bench/run-echo.sh.
#
#   bench/run-embed.sh [--runs 5] [--duration 5] [--warmup 1]
#       [--only c1,c100,c1000,c100-16k,connect] [--out DIR]
#
# The two servers take turns inside each repetition (daemon, then embed),
# each a fresh process pinned to CPU 0 with the load on CPU 1, so that
# the machine's drift touches both alike; a ratio is taken pair by pair
# (embed / daemon, for the rate and for the server's CPU per message) and
# the medians of the pairs are printed. The proxy's backend is
# bench/raw_echo on 127.0.0.1:7002, pinned to CPU 1 with the load, the
# same for both. See bench/README.md ("Embedded").

set -u -o pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
. "$HERE/lib.sh"

RUNS=5 DURATION=5 WARMUP=1 ONLY=c1,c100,c1000,c100-16k,connect OUT=
BACKEND_PID=''

die() {
    echo "run-embed: $*" >&2
    exit 1
}

usage() {
    sed -n '8,9p' "$0" | sed 's/^# \{0,1\}//'
}

while [ $# -gt 0 ]; do
    case $1 in
    --runs)     need_arg "$@"; RUNS=$2; shift ;;
    --duration) need_arg "$@"; DURATION=$2; shift ;;
    --warmup)   need_arg "$@"; WARMUP=$2; shift ;;
    --only)     need_arg "$@"; ONLY=$2; shift ;;
    --out)      need_arg "$@"; OUT=$2; shift ;;
    -h|--help)  usage; exit 0 ;;
    *)          usage >&2; exit 64 ;;
    esac
    shift
done

[ -x "$ROOT/objs/sluice" ] || die "objs/sluice is not built (make)"
[ "$(nproc)" -ge 2 ] || die "needs 2 CPUs"
make -s -C "$HERE" all embed_host >&2 || die "building bench/ failed"
[ -n "$OUT" ] || OUT=$(mktemp -d /tmp/sluice-embed.XXXXXX)
mkdir -p "$OUT/prefix/conf" "$OUT/prefix/logs" || die "cannot create $OUT"
cp "$HERE/embed.conf" "$OUT/prefix/conf/embed.conf"

stop_backend() {
    [ -n "$BACKEND_PID" ] || return 0
    kill "$BACKEND_PID" 2>/dev/null
    wait "$BACKEND_PID" 2>/dev/null
    BACKEND_PID=''
}
trap stop_backend EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

taskset -c 1 "$HERE/raw_echo" 7002 >"$OUT/backend.log" 2>&1 &
BACKEND_PID=$!

DAEMON="$ROOT/objs/sluice -p $OUT/prefix/ -c conf/embed.conf -g 'daemon off; master_process off;'"
EMBED="$HERE/embed_host $OUT/prefix/ conf/embed.conf"

# what, port, repetition, label, server command
one() {
    "$HERE/run-echo.sh" --label "$4" --port "$2" --runs 1 \
        --duration "$DURATION" --warmup "$WARMUP" --only "$ONLY" \
        --out "$OUT/$1-$4/$3" --server "$5" >/dev/null \
        || echo "run-embed: $1 $4 run $3 failed; see $OUT/$1-$4/$3" >&2
}

for rep in $(seq "$RUNS"); do
    for what in echo:7000 proxy:7001; do
        one "${what%:*}" "${what#*:}" "$rep" daemon "$DAEMON"
        one "${what%:*}" "${what#*:}" "$rep" embed "$EMBED"
    done
done

# column of NAME.tsv for one run: $1 what, $2 label, $3 rep, $4 config,
# $5 column (1 rate, 7 server us per message)
col() {
    awk -v c="$5" '{ print $c }' "$OUT/$1-$2/$3/$4.tsv" 2>/dev/null
}

# the medians of daemon and embed, and of the pairs' ratios, for a column
stats() {
    local what=$1 cfg=$2 c=$3 rep d e
    for rep in $(seq "$RUNS"); do
        d=$(col "$what" daemon "$rep" "$cfg" "$c")
        e=$(col "$what" embed "$rep" "$cfg" "$c")
        echo "$d $e"
    done >"$OUT/pairs.$what.$cfg.$c"
    printf '%s | %s | %s' \
        "$(awk '{ print $1 }' "$OUT/pairs.$what.$cfg.$c" | median_of)" \
        "$(awk '{ print $2 }' "$OUT/pairs.$what.$cfg.$c" | median_of)" \
        "$(awk '$1 + 0 > 0 { printf "%.3f\n", $2 / $1 }' \
           "$OUT/pairs.$what.$cfg.$c" | median_of)"
}

{
    echo "# embedded vs daemon: $(date -u '+%Y-%m-%d %H:%M UTC'), $RUNS pairs"
    echo
    echo "| server | config | daemon msgs/s | embed msgs/s | ratio" \
         "| daemon us/msg | embed us/msg | ratio |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|"
    for what in echo proxy; do
        for cfg in ${ONLY//,/ }; do
            echo "| $what | $cfg | $(stats "$what" "$cfg" 1)" \
                 "| $(stats "$what" "$cfg" 7) |"
        done
    done
} | tee "$OUT/summary.md"
