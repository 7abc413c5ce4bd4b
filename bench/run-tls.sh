#!/usr/bin/env bash
# run-tls.sh -- TLS figures for sluice, with `openssl s_server` beside it.
#
#   bench/run-tls.sh [--sluice objs/sluice] [--runs N] [--duration S]
#
# Makes a throwaway ECDSA P-256 and RSA-2048 certificate, then for each
# server (sluice: echo over `listen ... ssl`, one process; openssl
# s_server -rev) and each row starts a fresh server pinned to one CPU and
# runs bench/sl-tls-bench pinned to the other: full handshakes/s (both
# key types, TLS 1.3 and 1.2), resumed handshakes/s (tickets; the session
# cache), and for sluice bulk echo MB/s over TLS (s_server cannot echo
# binary data). Reports medians of --runs runs, the server's CPU time per
# handshake (or per MB) and the load generator's own CPU. See
# bench/README.md.

set -u -o pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
TLB="$HERE/sl-tls-bench"
SLUICE="$ROOT/objs/sluice"
HOST=127.0.0.1 PORT=9443 ADDR="$HOST:9443"
RUNS=5 DURATION=5 WARMUP=1 CONNS=8 CPUS=0,1 PIN=1 OUT='' FAILED=0
SERVER='' SERVERS='sluice s_server'

die() {
    echo "run-tls: $*" >&2
    exit 1
}

usage() {
    cat <<'EOF'
usage: bench/run-tls.sh [--sluice PATH] [--runs N] [--duration S]
         [--warmup S] [--conns N] [--cpus SRV,LOAD] [--no-pin] [--out DIR]
         [--servers 'sluice s_server']
EOF
}

parse_args() {
    while [ $# -gt 0 ]; do
        case $1 in
        --sluice)   need_arg "$@"; SLUICE=$2; shift ;;
        --servers)  need_arg "$@"; SERVERS=$2; shift ;;
        --runs)     need_arg "$@"; RUNS=$2; shift ;;
        --duration) need_arg "$@"; DURATION=$2; shift ;;
        --warmup)   need_arg "$@"; WARMUP=$2; shift ;;
        --conns)    need_arg "$@"; CONNS=$2; shift ;;
        --cpus)     need_arg "$@"; CPUS=$2; shift ;;
        --out)      need_arg "$@"; OUT=$2; shift ;;
        --no-pin)   PIN=0 ;;
        -h|--help)  usage; exit 0 ;;
        *)          usage >&2; exit 64 ;;
        esac
        shift
    done
}

# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

make_certs() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$OUT/ecdsa.key" -out "$OUT/ecdsa.crt" -days 2 \
        -subj /CN=localhost 2>/dev/null \
    && openssl req -x509 -newkey rsa:2048 -nodes -keyout "$OUT/rsa.key" \
        -out "$OUT/rsa.crt" -days 2 -subj /CN=localhost 2>/dev/null \
    || die "openssl could not make the test certificates"
}

# the server command for server $1 with key type $2
server_cmd() {
    case $1 in
    sluice)
        cat >"$OUT/sluice-$2.conf" <<EOF
daemon off;
master_process off;
error_log $OUT/sluice-error.log warn;
pid $OUT/sluice.pid;
events { worker_connections 4096; }
stream {
    server {
        listen $ADDR ssl;
        ssl_certificate $OUT/$2.crt;
        ssl_certificate_key $OUT/$2.key;
        ssl_session_cache builtin:20480;
        echo;
    }
}
EOF
        echo "$SLUICE -p $OUT/ -c $OUT/sluice-$2.conf"
        ;;
    s_server)
        echo "openssl s_server -quiet -rev -accept $ADDR" \
             "-cert $OUT/$2.crt -key $OUT/$2.key"
        ;;
    esac
}

kv() {
    sed -n "s/.* $1=\([^ ]*\).*/\1/p; s/^$1=\([^ ]*\).*/\1/p" "$2" | head -1
}

# one run; appends "rate mbps server_us_per_op client_cpu resumed% errors
# rc" to $OUT/$name.tsv
run_one() {
    local name=$1 i=$2 f="$OUT/$1.$2" c0 c1 rc total per
    shift 2
    start_server
    c0=$(cpu_ticks)
    $LOAD_PIN "$TLB" -d "$DURATION" -w "$WARMUP" "$@" "$ADDR" \
        >"$f.out" 2>"$f.err" &
    LOAD_PID=$!
    wait "$LOAD_PID"
    rc=$?
    LOAD_PID=
    c1=$(cpu_ticks)
    stop_server
    total=$(kv total "$f.out")
    # per handshake in us, or per MB (of bulk echoed) in ms
    per=$(awk -v t=$((c1 - c0)) -v hz="$HZ" -v n="${total:-0}" \
          -v bulk="$BULK" 'BEGIN { if (n + 0 == 0) { print "nan"; exit }
                  if (bulk) printf "%.3f", t / hz * 1e3 / (n / 1e6);
                  else printf "%.1f", t / hz * 1e6 / n }')
    echo "$(kv rate "$f.out") $(kv mbps "$f.out") $per" \
         "$(awk -v c="$(kv client_cpu "$f.out")" -v s="$(kv secs "$f.out")" \
              'BEGIN { if (s + 0 > 0) printf "%.0f", c / s * 100;
                       else print "nan" }')" \
         "$(awk -v r="$(kv resumed "$f.out")" -v h="$(kv handshakes \
              "$f.out")" 'BEGIN { if (h + 0 > 0) printf "%.0f", r / h * 100;
                                  else print "nan" }')" \
         "$(kv errors "$f.out") $rc" >>"$OUT/$name.tsv"
    [ "$rc" = 0 ] || { FAILED=1; sed 's/^/    /' "$f.err" >&2; }
    echo "  $name run $i/$RUNS: $(cat "$f.out")" >&2
}

ROW_FMT='| %s | %s | %s | %s | %s | %s | %s |\n'

row() {
    local srv=$1 name=$2 what=$3 t="$OUT/$1-$2.tsv" col=1 per
    [ -f "$t" ] || return 0
    [ "$BULK_ROW" = 1 ] && col=2
    per="$(median "$t" 3)"
    # shellcheck disable=SC2059  # the format is ours
    printf "$ROW_FMT" "$srv" "$what" "$(median "$t" $col)" "$per" \
        "$(median "$t" 4)%" "$(median "$t" 5)%" \
        "$(awk '{ s += $6; if ($7 != 0) bad++ }
                END { printf "%d%s", s, bad ? " (" bad " failed)" : "" }' \
                "$t")"
}

run_row() {
    local srv=$1 key=$2 name=$3 i
    shift 3
    SERVER=$(server_cmd "$srv" "$key")
    echo "run-tls: $srv $name" >&2
    for i in $(seq "$RUNS"); do
        run_one "$srv-$name" "$i" "$@"
    done
}

summary() {
    local srv
    echo "# TLS: sluice and openssl s_server"
    echo
    echo "- $(machine); $(openssl version)"
    echo "- $(date -u '+%Y-%m-%d %H:%M UTC'); runs: $RUNS per row," \
         "${WARMUP} s warm-up + ${DURATION} s measured, medians;" \
         "$CONNS connections at once"
    echo "- pinning: $PIN_NOTE"
    echo "- cpu_dma_latency: $DMA_NOTE"
    echo
    echo "| server | row | handshakes/s | server CPU us/handshake" \
         "| load CPU | resumed | errors |"
    echo "|---|---|---:|---:|---:|---:|---|"
    BULK_ROW=0
    for srv in sluice s_server; do
        row $srv hs-ec-13 "full, ECDSA P-256, TLS 1.3"
        row $srv hs-ec-12 "full, ECDSA P-256, TLS 1.2"
        row $srv hs-rsa-13 "full, RSA-2048, TLS 1.3"
        row $srv hs-rsa-12 "full, RSA-2048, TLS 1.2"
        row $srv res-tk-13 "resumed, ticket, TLS 1.3"
        row $srv res-tk-12 "resumed, ticket, TLS 1.2"
        row $srv res-id-12 "resumed, session cache, TLS 1.2"
    done
    echo
    echo "| server | row | MB/s echoed | server CPU ms/MB | load CPU" \
         "| - | errors |"
    echo "|---|---|---:|---:|---:|---|---|"
    BULK_ROW=1
    row sluice bulk-16k "bulk echo, 16 KiB messages, $CONNS conns"
    row sluice bulk-256k "bulk echo, 256 KiB messages, $CONNS conns"
}

main() {
    local srv
    parse_args "$@"
    [ -x "$SLUICE" ] || die "no sluice at $SLUICE (make first)"
    [ -n "$OUT" ] || OUT=$(mktemp -d /tmp/sluice-tls-bench.XXXXXX)
    mkdir -p "$OUT" || die "cannot create $OUT"
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM HUP
    make -s -C "$HERE" >&2 || die "building bench/ failed"
    HZ=$(getconf CLK_TCK)
    make_certs
    setup_pinning
    setup_dma
    echo "run-tls: raw results in $OUT" >&2
    BULK=0
    for srv in $SERVERS; do
        run_row $srv ecdsa hs-ec-13 -m handshake -c "$CONNS" -V 1.3
        run_row $srv ecdsa hs-ec-12 -m handshake -c "$CONNS" -V 1.2
        run_row $srv rsa hs-rsa-13 -m handshake -c "$CONNS" -V 1.3
        run_row $srv rsa hs-rsa-12 -m handshake -c "$CONNS" -V 1.2
        run_row $srv ecdsa res-tk-13 -m resume -c "$CONNS" -V 1.3
        run_row $srv ecdsa res-tk-12 -m resume -c "$CONNS" -V 1.2
        run_row $srv ecdsa res-id-12 -m resume -c "$CONNS" -V 1.2 -T
    done
    BULK=1
    case " $SERVERS " in
    *" sluice "*)
        run_row sluice ecdsa bulk-16k -m bulk -c "$CONNS" -s 16384
        run_row sluice ecdsa bulk-256k -m bulk -c "$CONNS" -s 262144
        ;;
    esac
    summary | tee "$OUT/summary.md"
    return $FAILED
}

main "$@"
