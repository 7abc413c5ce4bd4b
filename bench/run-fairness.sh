#!/usr/bin/env bash
# run-fairness.sh -- one bulk session beside a small request/response one
# on a single worker: the small session's p99 round trip, the bulk
# session's throughput, and the server's CPU per MiB moved (issue 13,
# a relay turn's budget).
#
#   bench/run-fairness.sh [--bin objs/sluice] [--port 7300] [--runs 3]
#       [--duration 3] [--out DIR]
#
# Three servers, each run --runs times with a fresh process (medians):
# echo (echo_buffer_size 16k), proxy to raw_echo (proxy_buffer_size 16k,
# proxy_splice off) and the same with proxy_splice on. In each run the
# small session alone (64 B, one in flight) is measured first, then beside
# the bulk one (one connection, 1 MiB messages, 4 in flight). sluice runs
# with master_process off, one process, on CPU 0; the load and raw_echo on
# CPU 1; /dev/cpu_dma_latency is held at 0 (bench/lib.sh).

set -u -o pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")

BIN=$ROOT/objs/sluice PORT=7300 RUNS=3 DURATION=3 OUT=

die() {
    echo "run-fairness: $*" >&2
    exit 1
}

while [ $# -gt 0 ]; do
    case $1 in
    --bin)      BIN=$2; shift ;;
    --port)     PORT=$2; shift ;;
    --runs)     RUNS=$2; shift ;;
    --duration) DURATION=$2; shift ;;
    --out)      OUT=$2; shift ;;
    -h|--help)  sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *)          die "unknown option $1" ;;
    esac
    shift
done

make -s -C "$HERE" sl-bench raw_echo cpu_dma_latency >/dev/null \
    || die "make -C bench failed"
HOST=127.0.0.1 ADDR=$HOST:$PORT CPUS=0,1 PIN=1
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"
bench_prefix fairness
trap 'bg_stop_all; cleanup' EXIT INT TERM
setup_pinning
setup_dma

UPORT=$((PORT + 1))
bg_start raw_echo "$LOAD_PIN" "$HERE/raw_echo $UPORT"
wait_listen "$HOST" "$UPORT" "$BG_PID" || die "raw_echo did not listen"

conf() {
    cat >"$OUT/prefix/conf/$1.conf" <<EOF
daemon off;
master_process off;
error_log logs/error.log warn;
events { worker_connections 1024; }
stream {
    server {
        listen $ADDR;
        $2
    }
}
EOF
}

conf echo "echo; echo_buffer_size 16k;"
conf proxy "proxy_pass $HOST:$UPORT; proxy_buffer_size 16k; proxy_splice off;"
conf splice "proxy_pass $HOST:$UPORT; proxy_buffer_size 16k; proxy_splice on;"

field() {
    sed -n "s/.*\"$2\":\([^,}]*\).*/\1/p" "$1"
}

# one run of configuration $1: a line of the per-run table
run_once() {
    local name=$1 k=$2 t0 t1 bulk_pid alone beside bulk hz cpu mib
    SERVER="$BIN -p $OUT/prefix/ -c conf/$name.conf"
    start_server

    $LOAD_PIN "$HERE/sl-bench" -a "$ADDR" -s 64 -d "$DURATION" -w 1 \
        -o json >"$OUT/$name.$k.alone.json" 2>>"$OUT/load.log"

    $LOAD_PIN "$HERE/sl-bench" -a "$ADDR" -s 1048576 -p 4 \
        -d "$((DURATION + 1))" -w 1 -o json >"$OUT/$name.$k.bulk.json" \
        2>>"$OUT/load.log" &
    bulk_pid=$!
    sleep 1                     # the bulk session is in its stride
    t0=$(cpu_ticks)
    $LOAD_PIN "$HERE/sl-bench" -a "$ADDR" -s 64 -d "$DURATION" -w 0 \
        -o json >"$OUT/$name.$k.beside.json" 2>>"$OUT/load.log"
    t1=$(cpu_ticks)
    wait "$bulk_pid"
    stop_server

    alone=$(field "$OUT/$name.$k.alone.json" p99_us)
    beside=$(field "$OUT/$name.$k.beside.json" p99_us)
    bulk=$(field "$OUT/$name.$k.bulk.json" rx_MBps)
    hz=$(getconf CLK_TCK)
    # server CPU ms per MiB of bulk echoed back, over the small run
    mib=$(awk -v r="$bulk" -v d="$DURATION" 'BEGIN { print r * d / 1.048576 }')
    cpu=$(awk -v a="$t0" -v b="$t1" -v hz="$hz" -v m="$mib" \
          'BEGIN { printf "%.2f", (m > 0 ? (b - a) * 1000 / hz / m : 0) }')
    echo "$alone $beside $bulk $cpu"
}

{
    echo "# one bulk session beside a small one, one worker: $BIN"
    echo
    machine | sed 's/^/- /'
    echo "- $PIN_NOTE; $DMA_NOTE"
    echo "- $(date -u '+%Y-%m-%d %H:%M UTC'); $RUNS runs of ${DURATION} s," \
         "medians"
    echo
    echo "| server | small p99 us, alone | small p99 us, beside bulk |" \
         "bulk MB/s | server CPU ms per MiB of bulk |"
    echo "|---|---:|---:|---:|---:|"
    for name in echo proxy splice; do
        : >"$OUT/$name.tsv"
        for k in $(seq "$RUNS"); do
            run_once "$name" "$k" >>"$OUT/$name.tsv"
        done
        printf '| %s | %s | %s | %s | %s |\n' "$name" \
            "$(median "$OUT/$name.tsv" 1)" "$(median "$OUT/$name.tsv" 2)" \
            "$(median "$OUT/$name.tsv" 3)" "$(median "$OUT/$name.tsv" 4)"
    done
} | tee "$OUT/summary.md"

echo "run-fairness: raw results in $OUT" >&2
