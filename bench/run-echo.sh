#!/usr/bin/env bash
# run-echo.sh -- run one echo server through sluice's echo benchmark.
#
#   bench/run-echo.sh --server 'bench/raw_echo 9000' --port 9000 \
#       --label raw_echo
#
# Builds bench/, holds /dev/cpu_dma_latency at 0, and for each
# configuration starts a fresh server pinned to one CPU, runs sl-bench
# pinned to the other, and measures the server's CPU time per message
# (utime + stime from /proc/PID/stat of the server and its children,
# before and after, over every message the run echoed) and its peak RSS.
# Each configuration runs --runs times; the table shows medians, each
# column on its own. The server command runs from the repository root,
# must stay in the foreground (no daemon) and listen on --host:--port.
# Everything it starts is stopped when it exits. See bench/README.md.

set -u -o pipefail

usage() {
    cat <<'EOF'
usage: bench/run-echo.sh --server CMD --port PORT [--label NAME]
         [--host 127.0.0.1|::1] [--duration S] [--warmup S] [--runs N]
         [--idle-conns N] [--only LIST] [--cpus SRV,LOAD] [--no-pin]
         [--out DIR]
  --server CMD      server command line, run from the repository root
  --port PORT       the port it listens on
  --label NAME      name in the results table (default: the command)
  --host ADDR       127.0.0.1 (default) or ::1; loopback only
  --duration S      measured seconds per run (default 5)
  --warmup S        warm-up seconds per run, not counted (default 1)
  --runs N          runs per configuration; medians (default 5)
  --idle-conns N    connections for the idle test (default 10000)
  --only LIST       comma list of c1,c100,c1000,c100-16k,connect,idle
  --cpus SRV,LOAD   CPUs to pin server and load to (default 0,1)
  --no-pin          do not pin
  --out DIR         keep raw results there (default: a new /tmp dir)
EOF
}

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
SLB="$HERE/sl-bench"

SERVER='' PORT='' LABEL='' HOST=127.0.0.1 DURATION=5 WARMUP=1 RUNS=5
IDLE_CONNS=10000 IDLE_HOLD=2 ONLY=c1,c100,c1000,c100-16k,connect,idle
CPUS=0,1 PIN=1 OUT=
FAILED=0

die() {
    echo "run-echo: $*" >&2
    exit 1
}

parse_args() {
    while [ $# -gt 0 ]; do
        case $1 in
        --server)     need_arg "$@"; SERVER=$2; shift ;;
        --port)       need_arg "$@"; PORT=$2; shift ;;
        --label)      need_arg "$@"; LABEL=$2; shift ;;
        --host)       need_arg "$@"; HOST=$2; shift ;;
        --duration)   need_arg "$@"; DURATION=$2; shift ;;
        --warmup)     need_arg "$@"; WARMUP=$2; shift ;;
        --runs)       need_arg "$@"; RUNS=$2; shift ;;
        --idle-conns) need_arg "$@"; IDLE_CONNS=$2; shift ;;
        --only)       need_arg "$@"; ONLY=$2; shift ;;
        --cpus)       need_arg "$@"; CPUS=$2; shift ;;
        --out)        need_arg "$@"; OUT=$2; shift ;;
        --no-pin)     PIN=0 ;;
        -h|--help)    usage; exit 0 ;;
        *)            usage >&2; exit 64 ;;
        esac
        shift
    done
    if [ -z "$SERVER" ] || [ -z "$PORT" ]; then
        usage >&2
        exit 64
    fi
    [ -n "$LABEL" ] || LABEL=$SERVER
    case $HOST in
    127.*)  ADDR="$HOST:$PORT" ;;
    ::1)    ADDR="[::1]:$PORT" ;;
    *)      die "--host must be a loopback address" ;;
    esac
}

# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

# run sl-bench in the background so that a signal can stop it
load() {
    local out=$1
    shift
    $LOAD_PIN "$SLB" -o json -a "$ADDR" "$@" >"$out.json" 2>"$out.err" &
    LOAD_PID=$!
    wait "$LOAD_PID"
    local rc=$?
    LOAD_PID=
    return $rc
}

# ---- set-up --------------------------------------------------------------

setup_limits() {
    local want=$((IDLE_CONNS + 1024))
    ulimit -n "$want" 2>/dev/null \
        || ulimit -Sn "$(ulimit -Hn)" 2>/dev/null
    [ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge "$want" ] \
        || echo "run-echo: RLIMIT_NOFILE is $(ulimit -n); the idle test" \
                "needs $want" >&2
}

# ---- runs and results ----------------------------------------------------

jget() {
    local v
    v=$(sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p" "$2" 2>/dev/null)
    echo "${v:-nan}"
}

# one echo or connect run; appends a line to $OUT/NAME.tsv:
#   rate tx_MBps rx_MBps p50 p99 p999 server_us_per_msg hwm_kb errors rc
run_one() {
    local name=$1 i=$2 f="$OUT/$1.$2" c0 c1 hwm rc total us rate
    shift 2
    start_server
    c0=$(cpu_ticks)
    load "$f" -d "$DURATION" -w "$WARMUP" "$@"
    rc=$?
    c1=$(cpu_ticks)
    hwm=$(mem_kb VmHWM)
    stop_server
    total=$(jget total_msgs "$f.json")
    us=$(awk -v t=$((c1 - c0)) -v hz="$HZ" -v n="$total" \
         'BEGIN { if (n + 0 > 0) printf "%.3f", t / hz * 1e6 / n;
                  else print "nan" }')
    rate=$(jget msgs_per_s "$f.json")
    [ "$(jget mode "$f.json")" = '"connect"' ] \
        && rate=$(jget conns_per_s "$f.json")
    echo "$rate $(jget tx_MBps "$f.json") $(jget rx_MBps "$f.json")" \
         "$(jget p50_us "$f.json") $(jget p99_us "$f.json")" \
         "$(jget p999_us "$f.json") $us $hwm $(jget errors "$f.json") $rc" \
         >>"$OUT/$name.tsv"
    [ "$rc" = 0 ] || { FAILED=1; sed 's/^/    /' "$f.err" >&2; }
    echo "  $name run $i/$RUNS: $rate/s, server $us us/msg," \
         "rc $rc" >&2
}

wait_established() {
    local f=$1 i
    for i in $(seq 1200); do
        grep -q '^sl-bench: established' "$f" && return 0
        kill -0 "$LOAD_PID" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

# one idle run; appends "bytes_per_conn rss0_kb rss1_kb rc" to idle.tsv
run_idle() {
    local i=$1 f="$OUT/idle.$1" r0 r1='' rc per=nan
    start_server
    sleep 0.2
    r0=$(mem_kb VmRSS)
    $LOAD_PIN "$SLB" -o json -a "$ADDR" -m idle -c "$IDLE_CONNS" -s 16 \
        -d "$IDLE_HOLD" -t 60 >"$f.json" 2>"$f.err" &
    LOAD_PID=$!
    if wait_established "$f.err"; then
        sleep 0.3
        r1=$(mem_kb VmRSS)
    fi
    wait "$LOAD_PID"
    rc=$?
    LOAD_PID=
    stop_server
    [ -n "$r1" ] && [ "$rc" = 0 ] \
        && per=$(awk -v a="$r0" -v b="$r1" -v n="$IDLE_CONNS" \
                 'BEGIN { printf "%.0f", (b - a) * 1024 / n }')
    echo "$per $r0 ${r1:-nan} $rc" >>"$OUT/idle.tsv"
    [ "$rc" = 0 ] || { FAILED=1; sed 's/^/    /' "$f.err" >&2; }
    echo "  idle run $i/$RUNS: $per bytes/conn (RSS $r0 -> $r1 kB)," \
         "rc $rc" >&2
}

errsum() {
    awk '{ s += ($9 == "nan" ? 0 : $9); if ($10 != 0) bad++ }
         END { printf "%d%s", s, bad ? " (" bad " failed runs)" : "" }' "$1"
}

ROW_FMT='| %s | %s | %.0f | %.2f | %.1f | %.1f | %.1f | %.2f | %s | %s |\n'

row() {
    local name=$1 what=$2 t="$OUT/$1.tsv"
    [ -f "$t" ] || return 0
    # shellcheck disable=SC2059  # the format is ours
    printf "$ROW_FMT" "$LABEL" "$what" "$(median "$t" 1)" \
        "$(median "$t" 2)" "$(median "$t" 4)" "$(median "$t" 5)" \
        "$(median "$t" 6)" "$(median "$t" 7)" "$(mib "$(median "$t" 8)")" \
        "$(errsum "$t")"
}

idle_row() {
    local t="$OUT/idle.tsv"
    [ -f "$t" ] || return 0
    echo "| server | idle conns | bytes per idle conn | RSS idle 0 MiB" \
         "| RSS idle N MiB | runs |"
    echo "|---|---:|---:|---:|---:|---|"
    printf '| %s | %s | %.0f | %s | %s | %s |\n' "$LABEL" "$IDLE_CONNS" \
        "$(median "$t" 1)" "$(mib "$(median "$t" 2)")" \
        "$(mib "$(median "$t" 3)")" \
        "$(awk '$4 != 0 { n++ } END { print n ? n " failed" : "ok" }' "$t")"
}

summary() {
    echo "# $LABEL: $SERVER"
    echo
    echo "- $(machine)"
    echo "- $(date -u '+%Y-%m-%d %H:%M UTC'); runs: $RUNS per configuration," \
         "${WARMUP} s warm-up + ${DURATION} s measured, medians"
    echo "- pinning: $PIN_NOTE"
    echo "- cpu_dma_latency: $DMA_NOTE"
    echo
    echo "| server | config | msgs/s | MB/s each way | p50 us | p99 us" \
         "| p999 us | server CPU us/msg | server peak RSS MiB | errors |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---|"
    row c1 "1 conn, 64 B"
    row c100 "100 conns, 64 B"
    row c1000 "1000 conns, 64 B"
    row c100-16k "100 conns, 16 KiB"
    row connect "connect, echo, close; 10 at once (conn/s)"
    echo
    idle_row
}

wanted() {
    case ",$ONLY," in
    *",$1,"*) return 0 ;;
    esac
    return 1
}

run_config() {
    local name=$1 i
    shift
    wanted "$name" || return 0
    echo "run-echo: $name" >&2
    for i in $(seq "$RUNS"); do
        run_one "$name" "$i" "$@"
    done
}

main() {
    parse_args "$@"
    [ -n "$OUT" ] || OUT=$(mktemp -d /tmp/sluice-bench.XXXXXX)
    mkdir -p "$OUT" || die "cannot create $OUT"
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM HUP
    make -s -C "$HERE" >&2 || die "building bench/ failed"
    HZ=$(getconf CLK_TCK)
    setup_limits
    setup_pinning
    setup_dma
    echo "run-echo: $LABEL; raw results in $OUT" >&2
    run_config c1 -c 1 -s 64
    run_config c100 -c 100 -s 64
    run_config c1000 -c 1000 -s 64
    run_config c100-16k -c 100 -s 16384
    run_config connect -m connect -c 10 -s 64
    if wanted idle; then
        echo "run-echo: idle" >&2
        for i in $(seq "$RUNS"); do
            run_idle "$i"
        done
    fi
    summary | tee "$OUT/summary.md"
    return $FAILED
}

main "$@"
