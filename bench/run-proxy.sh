#!/usr/bin/env bash
# run-proxy.sh -- sluice's TCP proxy side by side with nginx (stream
# proxy_pass) and HAProxy (mode tcp), one worker each, in one run.
#
#   bench/run-proxy.sh [--sluice objs/sluice] [--runs 3] [--duration 3]
#
# Starts, from a throwaway directory, an nginx HTTP backend (a 100-byte
# and a 1 MiB file) and `iperf3 -s` on CPU 1, and the proxies on CPU 0
# (sluice, nginx, HAProxy, and sluice with proxy_splice off), each one
# master and one single-threaded worker, each listening on its own three
# ports: plain TCP to the HTTP backend, plain TCP to iperf3, and TLS 1.3
# (the same ECDSA P-256 certificate) terminated in front of the HTTP
# backend. Then, with
# /dev/cpu_dma_latency held at 0, for each repetition, each row and each
# proxy in turn (the proxies interleaved, their order rotated each
# repetition), it runs wrk or iperf3 pinned to CPU 1 and reads the
# proxy's CPU time (utime + stime of its processes) from /proc before and
# after, and the busy time of CPU 0 from /proc/stat. Prints a markdown
# table of medians: rate, p99 latency, proxy CPU per operation, and the
# ratios sluice/nginx and sluice/haproxy, with the command lines. Installs
# the peers from Debian when run as root. Every process it starts is
# stopped when it exits, even on Ctrl-C. See bench/README.md.

set -u -o pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
SLUICE="$ROOT/objs/sluice"
HOST=127.0.0.1 BASE=18000
# shellcheck disable=SC2034  # CPUS and PIN are read by lib.sh
RUNS=3 DURATION=3 CONNS=50 THREADS=1 CPUS=0,1 PIN=1 OUT='' FAILED=0
WORKERS=1
PROXIES='sluice nginx haproxy sluice-nosplice'
ALL_ROWS='ka-small ka-1m close-small iperf3 tls-hs tls-ka'
ROWS=$ALL_ROWS
NGX_STREAM=/usr/lib/nginx/modules/ngx_stream_module.so
EARLY=''
PKGS='nginx-light libnginx-mod-stream haproxy wrk iperf3'

die() {
    echo "run-proxy: $*" >&2
    exit 1
}

usage() {
    cat <<'EOF'
usage: bench/run-proxy.sh [--sluice PATH] [--runs N] [--duration S]
         [--conns N] [--threads N] [--workers N]
         [--proxies 'sluice nginx haproxy sluice-nosplice']
         [--rows 'ka-small ka-1m close-small iperf3 tls-hs tls-ka']
         [--base-port N] [--cpus PROXY,LOAD] [--no-pin] [--out DIR]
         [--early FILE]
  --sluice PATH     the sluice binary (default objs/sluice)
  --runs N          repetitions; medians (default 3)
  --duration S      seconds per wrk or iperf3 run (default 3)
  --conns N         wrk connections (default 50)
  --threads N       wrk threads (default 1)
  --proxies LIST    any of sluice, sluice-nosplice (proxy_splice off),
                    nginx, haproxy (default: these four), and sluice
                    through an upstream{} group: sluice-group (no zone),
                    sluice-zone (zone), sluice-limit (zone and limit_conn)
  --workers N       worker_processes of the sluice variants (default 1)
  --rows LIST       which rows (default: all six)
  --base-port N     ports N+1 .. N+201 on 127.0.0.1 (default 18000)
  --cpus P,L        the proxy's CPU and the load's and backend's (0,1)
  --no-pin          do not pin
  --out DIR         keep configs and raw results there (default: new /tmp dir)
  --early FILE      also append the summary to FILE
EOF
}

parse_args() {
    while [ $# -gt 0 ]; do
        case $1 in
        --sluice)    need_arg "$@"; SLUICE=$2; shift ;;
        --runs)      need_arg "$@"; RUNS=$2; shift ;;
        --duration)  need_arg "$@"; DURATION=$2; shift ;;
        --conns)     need_arg "$@"; CONNS=$2; shift ;;
        --threads)   need_arg "$@"; THREADS=$2; shift ;;
        --workers)   need_arg "$@"; WORKERS=$2; shift ;;
        --proxies)   need_arg "$@"; PROXIES=$2; shift ;;
        --rows)      need_arg "$@"; ROWS=$2; shift ;;
        --base-port) need_arg "$@"; BASE=$2; shift ;;
        --cpus)      need_arg "$@"; CPUS=$2; shift ;;
        --out)       need_arg "$@"; OUT=$2; shift ;;
        --early)     need_arg "$@"; EARLY=$2; shift ;;
        --no-pin)    PIN=0 ;;
        -h|--help)   usage; exit 0 ;;
        *)           usage >&2; exit 64 ;;
        esac
        shift
    done
}

# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

# the peers from Debian: installed when root, else the line to run
check_tools() {
    local missing='' t
    PATH=$PATH:/usr/sbin:/sbin
    for t in nginx haproxy wrk iperf3; do
        command -v "$t" >/dev/null || missing="$missing $t"
    done
    [ -f "$NGX_STREAM" ] || missing="$missing ngx_stream_module"
    if [ -n "$missing" ]; then
        if [ "$(id -u)" != 0 ]; then
            echo "run-proxy: missing:$missing; as root run:" >&2
            echo "  apt-get install -y $PKGS" >&2
            exit 1
        fi
        echo "run-proxy: missing:$missing; installing" >&2
        echo "+ apt-get install -y $PKGS" >&2
        # shellcheck disable=SC2086  # a list of packages
        DEBIAN_FRONTEND=noninteractive apt-get install -y $PKGS >&2 \
            || die "apt-get install failed"
    fi
    for t in openssl taskset timeout; do
        command -v "$t" >/dev/null \
            || die "no $t (Debian: openssl, util-linux, coreutils)"
    done
}

# the ports: proxy index 0..6 (sluice, nginx, haproxy, sluice-nosplice,
# sluice-group, sluice-zone, sluice-limit), kind 1 http, 2 iperf3, 3 tls
port_of() {
    local i
    case $1 in
    sluice) i=0 ;; nginx) i=1 ;; haproxy) i=2 ;; sluice-nosplice) i=3 ;;
    sluice-group) i=4 ;; sluice-zone) i=5 ;; sluice-limit) i=6 ;;
    *) die "unknown proxy $1" ;;
    esac
    echo $((BASE + 10 * i + $2))
}

make_files() {
    mkdir -p "$OUT/www" "$OUT/tmp" || die "cannot create $OUT"
    # nginx and sluice workers run as nobody: let them read what they need
    chmod 755 "$OUT" "$OUT/www"
    head -c 100 /dev/zero | tr '\0' x >"$OUT/www/small"
    head -c 1048576 /dev/urandom >"$OUT/www/1m"
    chmod 644 "$OUT/www/small" "$OUT/www/1m"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout "$OUT/ecdsa.key" -out "$OUT/ecdsa.crt" -days 2 \
        -subj /CN=localhost 2>/dev/null \
        || die "openssl could not make the certificate"
    cat "$OUT/ecdsa.crt" "$OUT/ecdsa.key" >"$OUT/ecdsa.pem"
}

backend_conf() {
    cat >"$OUT/backend.conf" <<EOF
daemon off;
master_process on;
worker_processes 1;
error_log $OUT/backend-error.log warn;
pid $OUT/backend.pid;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $OUT/tmp/body;
    proxy_temp_path $OUT/tmp/proxy;
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    keepalive_timeout 600s;
    server {
        listen $HOST:$BP_HTTP;
        root $OUT/www;
    }
}
EOF
}

# the three servers of an nginx-syntax proxy (nginx, sluice): $2 more
# stream-level directives, $3 and $4 what the servers proxy to
stream_block() {
    local p=$1 http=${3:-$HOST:$BP_HTTP} iperf=${4:-$HOST:$BP_IPERF}
    cat <<EOF
stream {
    proxy_buffer_size 16k;
    proxy_connect_timeout 60s;
    proxy_timeout 10m;
    tcp_nodelay on;
$2
    server {
        listen $HOST:$(port_of "$p" 1);
        proxy_pass $http;
    }
    server {
        listen $HOST:$(port_of "$p" 2);
        proxy_pass $iperf;
    }
    server {
        listen $HOST:$(port_of "$p" 3) ssl;
        ssl_certificate $OUT/ecdsa.crt;
        ssl_certificate_key $OUT/ecdsa.key;
        ssl_protocols TLSv1.3;
        ssl_ecdh_curve X25519;
        ssl_conf_command Ciphersuites TLS_AES_128_GCM_SHA256;
        # wrk resumes sessions: none here, every handshake is a full one
        ssl_session_tickets off;
        ssl_session_cache off;
        proxy_pass $http;
    }
}
EOF
}

# the stream-level lines of the upstream{} variants: the groups, with a
# zone or not, and a limit_conn no session reaches
group_lines() {
    local zone=''
    [ "$1" = sluice-group ] || zone='zone z 64k;'
    echo "    proxy_splice on;"
    echo "    upstream http { $zone server $HOST:$BP_HTTP; }"
    echo "    upstream iperf { $zone server $HOST:$BP_IPERF; }"
    if [ "$1" = sluice-limit ]; then
        echo "    limit_conn_zone \$binary_remote_addr zone=conns:1m;"
        echo "    limit_conn conns 65535;"
    fi
}

proxy_conf() {
    local p=$1 f="$OUT/$1.conf" tls
    case $p in
    sluice*)
        {
            echo "daemon off;"
            echo "master_process on;"
            echo "worker_processes $WORKERS;"
            echo "error_log $OUT/$p-error.log warn;"
            echo "pid $OUT/$p.pid;"
            echo "events { worker_connections 4096; }"
            case $p in
            sluice) stream_block "$p" "    proxy_splice on;" ;;
            sluice-nosplice) stream_block "$p" "    proxy_splice off;" ;;
            *) stream_block "$p" "$(group_lines "$p")" http iperf ;;
            esac
        } >"$f"
        ;;
    nginx)
        {
            echo "load_module $NGX_STREAM;"
            echo "daemon off;"
            echo "master_process on;"
            echo "worker_processes 1;"
            echo "error_log $OUT/nginx-error.log warn;"
            echo "pid $OUT/nginx.pid;"
            echo "events { worker_connections 4096; }"
            stream_block nginx ""
        } >"$f"
        ;;
    haproxy)
        tls="ssl crt $OUT/ecdsa.pem ssl-min-ver TLSv1.3"
        tls="$tls ciphersuites TLS_AES_128_GCM_SHA256 curves X25519"
        tls="$tls no-tls-tickets"
        cat >"$f" <<EOF
global
    nbthread 1
    maxconn 4096
    tune.bufsize 16384
    # wrk resumes sessions: none here (with no-tls-tickets on the bind)
    tune.ssl.cachesize 0
    pidfile $OUT/haproxy.pid

defaults
    mode tcp
    timeout connect 60s
    timeout client 10m
    timeout server 10m

frontend http
    bind $HOST:$(port_of haproxy 1)
    default_backend http

frontend iperf3
    bind $HOST:$(port_of haproxy 2)
    default_backend iperf3

frontend tls
    bind $HOST:$(port_of haproxy 3) $tls
    default_backend http

backend http
    server s1 $HOST:$BP_HTTP

backend iperf3
    server s1 $HOST:$BP_IPERF
EOF
        ;;
    esac
}

proxy_cmd() {
    case $1 in
    sluice*)
        echo "$SLUICE -p $OUT/ -c $OUT/$1.conf -e $OUT/$1-error.log" ;;
    nginx)
        echo "nginx -p $OUT/ -c $OUT/nginx.conf -e $OUT/nginx-error.log" ;;
    haproxy)
        echo "haproxy -W -db -f $OUT/haproxy.conf" ;;
    esac
}

start_all() {
    local p
    backend_conf
    bg_start backend "$LOAD_PIN" \
        "nginx -p $OUT/ -c $OUT/backend.conf -e $OUT/backend-error.log"
    wait_listen $HOST "$BP_HTTP" "$BG_PID" \
        || die "the nginx backend did not start; see $OUT/backend.log"
    bg_start iperf3-server "$LOAD_PIN" "iperf3 -s -B $HOST -p $BP_IPERF"
    wait_listen $HOST "$BP_IPERF" "$BG_PID" \
        || die "iperf3 -s did not start; see $OUT/iperf3-server.log"
    for p in $PROXIES; do
        proxy_conf "$p"
        CMD[$p]=$(proxy_cmd "$p")
        bg_start "$p" "$SRV_PIN" "${CMD[$p]}"
        PID[$p]=$BG_PID
        wait_listen $HOST "$(port_of "$p" 3)" "$BG_PID" \
            || die "$p did not start; see $OUT/$p.log"
        check_tls "$p"
    done
}

# the TLS row must measure full handshakes and the same cipher on all
# three: connect twice, offering the first session the second time
check_tls() {
    local p=$1 port s f="$OUT/tls-check.$1" i
    port=$(port_of "$p" 3)
    for i in 1 2; do
        s=-sess_out
        [ $i = 2 ] && s=-sess_in
        printf 'GET /small HTTP/1.0\r\n\r\n' \
            | timeout 10 openssl s_client -connect "$HOST:$port" -tls1_3 \
                  -servername localhost $s "$f.sess" -ign_eof \
                  >"$f.$i" 2>&1
    done
    grep -q '^New, TLSv1.3, Cipher is TLS_AES_128_GCM_SHA256' "$f.1" \
        || die "$p: no TLS 1.3 with TLS_AES_128_GCM_SHA256; see $f.1"
    grep -q '^Reused' "$f.2" \
        && die "$p resumed a TLS session; full handshakes expected"
    grep -q '^New' "$f.2" || die "$p: second TLS connection failed; see $f.2"
}

# microseconds from wrk's "1.23ms"
to_us() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        if (u == "us") m = 1; else if (u == "ms") m = 1e3;
        else if (u == "s") m = 1e6; else if (u == "m") m = 6e7;
        else { print "nan"; exit }
        printf "%.0f", n * m }'
}

# one measurement: prints "rate p99_us ops errors rc"
# the load command $2... in the background with its output in $1, so that
# a signal runs the trap at once (while `wait` waits) and the cleanup
# stops the load too; its exit status in LOAD_RC
run_load() {
    local f=$1
    shift
    # shellcheck disable=SC2086  # $LOAD_PIN is a command prefix or nothing
    timeout -k 2 $((DURATION + 15)) $LOAD_PIN "$@" >"$f" 2>&1 &
    LOAD_PID=$!
    wait "$LOAD_PID"
    LOAD_RC=$?
    LOAD_PID=
}

# wrk to $2 (more options after it): RES="rate p99_us ops errors rc"
load_wrk() {
    local f=$1 url=$2 req rate p99 err
    shift 2
    run_load "$f" wrk -t "$THREADS" -c "$CONNS" -d "${DURATION}s" \
        --timeout 5s --latency "$@" "$url"
    req=$(awk '/requests in/ { print $1; exit }' "$f")
    rate=$(awk '/^Requests\/sec:/ { print $2; exit }' "$f")
    p99=$(to_us "$(awk '$1 == "99%" { print $2; exit }' "$f")")
    err=$(awk '/Socket errors:/ { gsub(/,/, ""); s += $4 + $6 + $8 + $10 }
               /Non-2xx/ { s += $NF }
               END { print s + 0 }' "$f")
    RES="${rate:-nan} ${p99:-nan} ${req:-0} $err $LOAD_RC"
}

# iperf3 to port $2: RES="Gbit/s nan MiB errors rc" (MiB: the ops)
load_iperf() {
    local f=$1
    run_load "$f" iperf3 -c $HOST -p "$2" -t "$DURATION" -J
    RES=$(awk -v rc=$LOAD_RC '
        /"sum_received":/ { r = 1 }
        r && /"bytes":/ { gsub(/,/, ""); b = $2 }
        r && /"bits_per_second":/ { gsub(/,/, ""); bps = $2; r = 0 }
        /"error":/ { e = 1 }
        END { if (bps == "") { print "nan nan 0 1 " rc; exit }
              printf "%.3f nan %.3f %d %d\n", bps / 1e9, b / 1048576, e, rc }
    ' "$f")
}

# the busy ticks of the proxy's CPU (every task's, and interrupts), or nan
cpu_busy() {
    if [ -z "$SRV_PIN" ]; then
        echo nan
        return
    fi
    awk -v c="cpu${CPUS%,*}" '$1 == c { print $2 + $3 + $4 + $7 + $8 + $9 }' \
        /proc/stat
}

run_one() {
    local rep=$1 row=$2 p=$3 f="$OUT/raw/$2.$3.$1" c0 c1 t0 t1 b0 b1
    c0=$(tree_ticks "${PID[$p]}")
    b0=$(cpu_busy)
    t0=$(date +%s.%N)
    case $row in
    ka-small)
        load_wrk "$f" "http://$HOST:$(port_of "$p" 1)/small" ;;
    ka-1m)
        load_wrk "$f" "http://$HOST:$(port_of "$p" 1)/1m" ;;
    close-small)
        load_wrk "$f" "http://$HOST:$(port_of "$p" 1)/small" \
            -H 'Connection: close' ;;
    iperf3)
        load_iperf "$f" "$(port_of "$p" 2)" ;;
    tls-hs)
        load_wrk "$f" "https://$HOST:$(port_of "$p" 3)/small" \
            -H 'Connection: close' ;;
    tls-ka)
        load_wrk "$f" "https://$HOST:$(port_of "$p" 3)/small" ;;
    esac
    t1=$(date +%s.%N)
    c1=$(tree_ticks "${PID[$p]}")
    b1=$(cpu_busy)
    if ! kill -0 "${PID[$p]}" 2>/dev/null; then
        FAILED=1
        echo "run-proxy: $p died; see $OUT/$p.log" >&2
    fi
    echo "$rep $row $p $RES $((c1 - c0)) $(awk -v a="$t0" -v b="$t1" \
         'BEGIN { printf "%.3f", b - a }')" \
         "$(awk -v a="$b0" -v b="$b1" 'BEGIN { if (a == "nan") print "nan";
                                               else print b - a }')" \
         >>"$OUT/results.tsv"
    # shellcheck disable=SC2086  # split the fields on purpose
    set -- $RES
    if [ "$5" != 0 ] || [ "$4" != 0 ]; then
        FAILED=1
        echo "run-proxy: $row $p run $rep: errors $4, exit $5; see $f" >&2
    fi
    echo "  $rep $row $p: rate $1, p99 ${2} us, ops $3," \
         "proxy $((c1 - c0)) ticks" >&2
}

rotate() {
    local n=$1 i=0 a=() k
    read -r -a a <<<"$PROXIES"
    for k in "${!a[@]}"; do
        i=$(( (k + n) % ${#a[@]} ))
        printf '%s ' "${a[$i]}"
    done
}

row_title() {
    case $1 in
    ka-small)    echo "keep-alive, 100 B (req/s)" ;;
    ka-1m)       echo "keep-alive, 1 MiB (req/s)" ;;
    close-small) echo "Connection: close, 100 B (req/s)" ;;
    iperf3)      echo "iperf3 bulk (Gbit/s; CPU per MiB)" ;;
    tls-hs)      echo "TLS 1.3 full handshake + 100 B, close (req/s)" ;;
    tls-ka)      echo "TLS 1.3 keep-alive, 100 B (req/s)" ;;
    esac
}

# awk: the median of a[1..n]
AWK_MED='
function med(a, n,   i, j, t) {
    if (n == 0) return "nan"
    for (i = 1; i <= n; i++)
        for (j = i + 1; j <= n; j++)
            if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function f2(v) { return v == "nan" ? "-" : sprintf("%.2f", v) }'

# results.tsv: rep row proxy rate p99_us ops errors rc ticks wall_s
# cpu_busy_ticks

# the medians of proxy $2 in row $1
medians() {
    awk -v row="$1" -v p="$2" -v title="$(row_title "$1")" -v hz="$HZ" \
        "$AWK_MED"'
        $2 == row && $3 == p {
            n++; r[n] = $4
            if ($5 != "nan") l[++m] = $5 / 1000
            c[n] = $6 > 0 ? $9 / hz * 1e6 / $6 : 0
            u[n] = $10 > 0 ? $9 / hz / $10 * 100 : 0
            if ($11 != "nan" && $6 > 0) k[++nk] = $11 / hz * 1e6 / $6
            e += $7
            if ($8 != 0) bad++
        }
        END {
            if (n == 0) exit
            rate = med(r, n)
            busy = med(k, nk)
            printf "| %s | %s | %s | %s | %.1f | %.0f | %s | %d%s |\n",
                title, p,
                rate < 100 ? sprintf("%.2f", rate) : sprintf("%.0f", rate),
                f2(med(l, m)), med(c, n), med(u, n),
                busy == "nan" ? "-" : sprintf("%.1f", busy), e,
                bad ? " (" bad " runs failed)" : ""
        }' "$OUT/results.tsv"
}

# the ratios of sluice variant $2 to $3 and $4 (nginx and haproxy; or
# sluice-group and "-", none) in row $1: the median over the repetitions
# of each repetition's ratio
ratios() {
    awk -v row="$1" -v s="$2" -v x="${3:-nginx}" -v y="${4:-haproxy}" \
        -v title="$(row_title "$1")" "$AWK_MED"'
        $2 == row {
            rate[$1, $3] = $4 + 0; reps[$1] = 1
            cpu[$1, $3] = $6 > 0 ? $9 / $6 : -1
        }
        END {
            for (k in reps) {
                if (rate[k, x] > 0)
                    a[++na] = rate[k, s] / rate[k, x]
                if (rate[k, y] > 0)
                    b[++nb] = rate[k, s] / rate[k, y]
                if (cpu[k, x] > 0 && cpu[k, s] >= 0)
                    c[++nc] = cpu[k, s] / cpu[k, x]
                if (cpu[k, y] > 0 && cpu[k, s] >= 0)
                    d[++nd] = cpu[k, s] / cpu[k, y]
            }
            if (y == "-")
                printf "| %s | %s | %s | %s |\n", title, s,
                    f2(med(a, na)), f2(med(c, nc))
            else
                printf "| %s | %s | %s | %s | %s | %s |\n", title, s,
                    f2(med(a, na)), f2(med(b, nb)), f2(med(c, nc)),
                    f2(med(d, nd))
        }' "$OUT/results.tsv"
}

summary() {
    local row p
    echo "# proxy: sluice, nginx, HAProxy"
    echo
    echo "- $(machine); $(openssl version)"
    echo "- $(date -u '+%Y-%m-%d %H:%M UTC'); $RUNS repetitions," \
         "${DURATION} s each, proxies interleaved; medians;" \
         "wrk -t$THREADS -c$CONNS; load average $(cut -d' ' -f1-3 \
         /proc/loadavg)"
    echo "- pinning: $PIN_NOTE (backend and load on the load CPU)"
    echo "- cpu_dma_latency: $DMA_NOTE"
    echo "- $("$SLUICE" -v 2>&1 | head -1); $(nginx -v 2>&1);" \
         "$(haproxy -v | head -1 | cut -d' ' -f1-3)"
    echo
    echo "| row | proxy | rate | p99 ms | proxy CPU µs/op" \
         "| proxy CPU % | its CPU busy µs/op | errors |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|"
    for row in $ROWS; do
        for p in $PROXIES; do
            medians "$row" "$p"
        done
    done
    echo
    case " $PROXIES " in
    *" nginx "*|*" haproxy "*)
        echo "Ratios, the median of each repetition's ratio (rate: higher is"
        echo "better for sluice; CPU per op: lower is better for sluice):"
        echo
        echo "| row | sluice | rate sluice/nginx | rate sluice/haproxy |" \
             "CPU/op sluice/nginx | CPU/op sluice/haproxy |"
        echo "|---|---|---:|---:|---:|---:|"
        for row in $ROWS; do
            for p in $PROXIES; do
                case $p in sluice*) ;; *) continue ;; esac
                ratios "$row" "$p"
            done
        done
        echo
        ;;
    esac
    case " $PROXIES " in
    *" sluice-group "*)
        echo "The upstream{} variants against sluice-group (the same group"
        echo "without a zone), as above:"
        echo
        echo "| row | sluice | rate /sluice-group | CPU/op /sluice-group |"
        echo "|---|---|---:|---:|"
        for row in $ROWS; do
            for p in sluice-zone sluice-limit; do
                case " $PROXIES " in *" $p "*) ;; *) continue ;; esac
                ratios "$row" "$p" sluice-group -
            done
        done
        echo
        ;;
    esac
    echo "Command lines (\$DIR is $OUT):"
    echo
    echo '```'
    echo "backend: $LOAD_PIN nginx -p $OUT/ -c $OUT/backend.conf" \
         "-e $OUT/backend-error.log"
    echo "backend: $LOAD_PIN iperf3 -s -B $HOST -p $BP_IPERF"
    for p in $PROXIES; do
        echo "$p: $SRV_PIN ${CMD[$p]}"
    done
    echo "load: $LOAD_PIN wrk -t $THREADS -c $CONNS -d ${DURATION}s" \
         "--timeout 5s --latency [-H 'Connection: close']" \
         "http[s]://$HOST:PORT/small|/1m"
    echo "load: $LOAD_PIN iperf3 -c $HOST -p PORT -t $DURATION -J"
    echo '```'
}

on_exit() {
    bg_stop_all
    cleanup
}

main() {
    local rep row p
    parse_args "$@"
    check_tools
    [ -x "$SLUICE" ] || die "no sluice at $SLUICE (build it first)"
    for p in $PROXIES; do
        case $p in
        sluice|nginx|haproxy|sluice-nosplice) ;;
        sluice-group|sluice-zone|sluice-limit) ;;
        *) die "unknown proxy \"$p\" (sluice nginx haproxy sluice-nosplice" \
               "sluice-group sluice-zone sluice-limit)" ;;
        esac
    done
    for row in $ROWS; do
        case " $ALL_ROWS " in
        *" $row "*) ;;
        *) die "unknown row \"$row\"" ;;
        esac
    done
    case $SLUICE in /*) ;; *) SLUICE="$PWD/$SLUICE" ;; esac
    [ -n "$OUT" ] || OUT=$(mktemp -d /tmp/sluice-proxy-bench.XXXXXX)
    mkdir -p "$OUT/raw" || die "cannot create $OUT"
    OUT=$(cd "$OUT" && pwd)
    : >"$OUT/results.tsv"
    declare -gA CMD PID
    trap on_exit EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM HUP
    make -s -C "$HERE" cpu_dma_latency >&2 || die "building bench/ failed"
    HZ=$(getconf CLK_TCK)
    BP_HTTP=$((BASE + 80)) BP_IPERF=$((BASE + 201))
    make_files
    setup_pinning
    setup_dma
    start_all
    echo "run-proxy: configs and raw results in $OUT" >&2
    for rep in $(seq "$RUNS"); do
        for row in $ROWS; do
            for p in $(rotate "$rep"); do
                run_one "$rep" "$row" "$p"
            done
        done
    done
    summary | tee "$OUT/summary.md"
    [ -z "$EARLY" ] || cat "$OUT/summary.md" >>"$EARLY"
    return $FAILED
}

main "$@"
