#!/usr/bin/env bash
# run-syslog.sh -- what an access_log to syslog costs the worker, and
# that a syslog target that is not there costs it nothing more (issue 15):
# connections/s and server CPU per session, through bench/run-echo.sh.
#
#   bench/run-syslog.sh [--bin objs/sluice] [--port 7000] [--runs 5]
#       [--duration 5] [--warmup 1] [--out DIR]
#
# Five configurations of one echo server (worker_processes 1, server on
# CPU 0, load on CPU 1), each with an access_log line per session:
#
#   file       access_log to a file only (the base)
#   udp        + syslog over UDP to a receiver that reads (socat)
#   udp-dead   + syslog over UDP to a port nobody listens on
#   unix-dead  + syslog to a unix path with no socket
#   unix-full  + syslog to a unix socket that is never read (queue full)
#
# The load is sl-bench's connect mode: connect, echo 64 bytes, close, 10
# at once; every session writes one access_log line. See bench/README.md.

set -u -o pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")

BIN=$ROOT/objs/sluice PORT=7000 RUNS=5 DURATION=5 WARMUP=1 OUT=

usage() {
    sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
}

die() {
    echo "run-syslog: $*" >&2
    exit 1
}

while [ $# -gt 0 ]; do
    case $1 in
    --bin)      BIN=$2; shift ;;
    --port)     PORT=$2; shift ;;
    --runs)     RUNS=$2; shift ;;
    --duration) DURATION=$2; shift ;;
    --warmup)   WARMUP=$2; shift ;;
    --out)      OUT=$2; shift ;;
    -h|--help)  usage; exit 0 ;;
    *)          usage >&2; exit 64 ;;
    esac
    shift
done

# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"
[ "$(nproc)" -ge 2 ] || die "needs 2 CPUs"
command -v socat >/dev/null || die "needs socat (the UDP receiver)"
command -v python3 >/dev/null || die "needs python3 (the unread unix socket)"
bench_prefix syslog

UDP_LIVE=$((PORT + 1)) UDP_DEAD=$((PORT + 2))
SOCK_DEAD=$OUT/none.sock SOCK_FULL=$OUT/full.sock
FAILED=0

# a receiver that reads and drops, and a unix socket nobody reads
bg_start udp-receiver "taskset -c 1" "socat -u UDP-RECV:$UDP_LIVE,bind=127.0.0.1 /dev/null"
bg_start unix-unread "taskset -c 1" "python3 -c 'import socket,time
s=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM); s.bind(\"$SOCK_FULL\")
time.sleep(100000)'"
trap 'bg_stop_all; rm -f "$SOCK_FULL"' EXIT

# name, then the syslog target ("" for none)
configure() {
    local name=$1 target=$2 extra=''
    [ -n "$target" ] && extra="access_log syslog:server=$target f;"
    cat >"$OUT/prefix/conf/$name.conf" <<CONF
daemon off;
master_process off;
error_log logs/$name-error.log warn;
pid logs/$name.pid;
events { worker_connections 20000; }
stream {
    log_format f '\$remote_addr [\$time_local] \$status \$bytes_sent \$bytes_received';
    server {
        listen 127.0.0.1:$PORT;
        echo;
        access_log logs/$name-access.log f;
        $extra
    }
}
CONF
    echo "run-syslog: $name ($target)" >&2
    "$HERE/run-echo.sh" --label "$name" --port "$PORT" --runs "$RUNS" \
        --duration "$DURATION" --warmup "$WARMUP" --only connect \
        --out "$OUT/$name" --cpus 0,1 \
        --server "$BIN -p $OUT/prefix/ -c conf/$name.conf" \
        >/dev/null || FAILED=1
}

row() {
    local name=$1 dir="$OUT/$1"
    [ -f "$dir/connect.tsv" ] || return 0
    printf '| %s | %.0f | %.2f | %s |\n' "$name" \
        "$(median "$dir/connect.tsv" 1)" "$(median "$dir/connect.tsv" 7)" \
        "$(cat "$OUT/prefix/logs/$name-error.log" 2>/dev/null \
              | grep -c 'while logging to syslog')"
}

configure file ""
configure udp "127.0.0.1:$UDP_LIVE"
configure udp-dead "127.0.0.1:$UDP_DEAD"
configure unix-dead "unix:$SOCK_DEAD"
configure unix-full "unix:$SOCK_FULL"

{
    echo "# sluice, access_log to syslog: $BIN"
    echo
    echo "- machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' \
        /proc/cpuinfo | head -1), kernel $(uname -r)"
    echo "- $(date -u '+%Y-%m-%d %H:%M UTC'); $RUNS runs per configuration," \
         "${WARMUP} s warm-up + ${DURATION} s measured, medians"
    echo
    echo "| config | sessions/s | server CPU us/session | failures logged |"
    echo "|---|---:|---:|---:|"
    for name in file udp udp-dead unix-dead unix-full; do
        row "$name"
    done
} | tee "$OUT/summary.md"

echo "run-syslog: raw results in $OUT" >&2
exit $FAILED
