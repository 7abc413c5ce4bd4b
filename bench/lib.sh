# bench/lib.sh -- what the benchmark scripts share: a server started in
# its own process group, pinned, its CPU ticks and memory read from /proc,
# the load pinned to the other CPU, /dev/cpu_dma_latency held at 0, and
# medians. Sourced by every run-*.sh; the server's part needs SERVER,
# HOST, PORT, ADDR, OUT, CPUS, PIN, HERE, ROOT set and die() defined.
# shellcheck shell=bash

SRV_PID='' LOAD_PID='' DMA_PID=''

# an option of parse_args that takes a value: "$@" still holds it
need_arg() {
    [ $# -ge 2 ] || die "$1 needs a value"
}

proc_state() {
    local s
    s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    s=${s##*) }
    echo "${s%% *}"
}

group_alive() {
    local p st
    for p in $(pgrep -g "$1"); do
        st=$(proc_state "$p") || continue
        [ "$st" != Z ] && return 0
    done
    return 1
}

stop_server() {
    local i
    [ -n "$SRV_PID" ] || return 0
    kill -TERM -- "-$SRV_PID" 2>/dev/null
    for i in $(seq 40); do
        group_alive "$SRV_PID" || break
        sleep 0.05
    done
    kill -KILL -- "-$SRV_PID" 2>/dev/null
    wait "$SRV_PID" 2>/dev/null
    SRV_PID=
}

cleanup() {
    local p
    [ -n "$LOAD_PID" ] && kill "$LOAD_PID" 2>/dev/null
    [ -n "$LOAD_PID" ] && wait "$LOAD_PID" 2>/dev/null
    stop_server
    if [ -n "$DMA_PID" ]; then
        kill "$DMA_PID" 2>/dev/null
        wait "$DMA_PID" 2>/dev/null
    fi
}

port_open() {
    (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null
}

start_server() {
    local i
    # setsid: the server leads its own process group, stopped as a whole
    (cd "$ROOT" && exec $SRV_PIN setsid sh -c "exec $SERVER") \
        >>"$OUT/server.log" 2>&1 </dev/null &
    SRV_PID=$!
    for i in $(seq 200); do
        port_open && return 0
        kill -0 "$SRV_PID" 2>/dev/null || break
        sleep 0.05
    done
    die "the server did not listen on $ADDR; see $OUT/server.log"
}

# the server and its descendants
server_tree() {
    local p=$1 k
    echo "$p"
    # shellcheck disable=SC2013  # the file is a list of words
    for k in $(cat /proc/"$p"/task/*/children 2>/dev/null); do
        server_tree "$k"
    done
}

# CPU ticks of the server started by start_server, its workers included
cpu_ticks() {
    tree_ticks "$SRV_PID"
}

mem_kb() {
    local sum=0 p v
    for p in $(server_tree "$SRV_PID"); do
        v=$(awk -v f="$1:" '$1 == f { print $2 }' "/proc/$p/status" \
            2>/dev/null)
        sum=$((sum + ${v:-0}))
    done
    echo "$sum"
}

setup_pinning() {
    local s=${CPUS%,*} l=${CPUS#*,}
    SRV_PIN='' LOAD_PIN='' PIN_NOTE="not pinned"
    [ "$PIN" = 1 ] || return 0
    if [ "$(nproc)" -lt 2 ] || ! command -v taskset >/dev/null; then
        PIN_NOTE="not pinned (needs 2 CPUs and taskset)"
        return 0
    fi
    SRV_PIN="taskset -c $s" LOAD_PIN="taskset -c $l"
    PIN_NOTE="server on CPU $s, load on CPU $l (taskset)"
}

setup_dma() {
    local i drv
    "$HERE/cpu_dma_latency" 2>"$OUT/dma.log" &
    DMA_PID=$!
    for i in $(seq 40); do
        grep -q 'held at 0' "$OUT/dma.log" && break
        kill -0 "$DMA_PID" 2>/dev/null || { DMA_PID=; break; }
        sleep 0.05
    done
    DMA_NOTE=$(head -1 "$OUT/dma.log")
    drv=$(cat /sys/devices/system/cpu/cpuidle/current_driver 2>/dev/null)
    if [ "${drv:-none}" = none ]; then
        DMA_NOTE="$DMA_NOTE (no cpuidle driver here: idle is plain halt"
        DMA_NOTE="$DMA_NOTE and the request changes nothing)"
    fi
}

machine() {
    local model
    model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
    echo "machine: $(nproc) CPUs, ${model:-unknown CPU}," \
         "kernel $(uname -r)"
}

# the median of the numbers on stdin, one a line; nan when there are none
median_of() {
    sort -g | awk '{ a[NR] = $1 }
                   END { if (NR == 0) { print "nan"; exit }
                         if (NR % 2) print a[(NR + 1) / 2];
                         else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# the median of column K of FILE, its "nan" rows left out; nan without FILE
median() {
    [ -f "$1" ] || { echo nan; return; }
    awk -v k="$2" '$k != "nan" { print $k }' "$1" | median_of
}

# kB as MiB with one decimal
mib() {
    awk -v k="$1" 'BEGIN { if (k == "nan") print k
                           else printf "%.1f", k / 1024 }'
}

# For a script that runs sluice itself (run-fairness.sh, run-workers.sh):
# BIN made absolute and checked, OUT made (a new /tmp/sluice-NAME.XXXXXX
# unless given) with the prefix's conf/ and logs/ in it.
bench_prefix() {
    case $BIN in /*) ;; *) BIN=$ROOT/$BIN ;; esac
    [ -x "$BIN" ] || die "$BIN is not built (make)"
    [ -n "$OUT" ] || OUT=$(mktemp -d "/tmp/sluice-$1.XXXXXX")
    mkdir -p "$OUT/prefix/conf" "$OUT/prefix/logs" || die "cannot create $OUT"
}


# Several long-running processes at once (run-proxy.sh): each started in
# its own process group, all stopped by bg_stop_all. bg_start NAME PIN CMD
# logs to $OUT/NAME.log and leaves the pid in BG_PID.
BG_PIDS='' BG_PID=''

bg_start() {
    local name=$1 pin=$2
    shift 2
    # shellcheck disable=SC2086  # $pin is a command prefix or nothing
    (exec $pin setsid sh -c "exec $*") >>"$OUT/$name.log" 2>&1 </dev/null &
    BG_PID=$!
    BG_PIDS="$BG_PIDS $BG_PID"
}

bg_stop() {
    local i
    kill -TERM -- "-$1" 2>/dev/null
    for i in $(seq 40); do
        group_alive "$1" || break
        sleep 0.05
    done
    kill -KILL -- "-$1" 2>/dev/null
    wait "$1" 2>/dev/null
}

bg_stop_all() {
    local p
    for p in $BG_PIDS; do
        bg_stop "$p"
    done
    BG_PIDS=''
}

# wait_listen HOST PORT PID: until HOST:PORT accepts, or PID is gone
wait_listen() {
    local i
    for i in $(seq 200); do
        (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && return 0
        kill -0 "$3" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

# CPU ticks (utime + stime, and those of reaped children) of PID and its
# descendants
tree_ticks() {
    local sum=0 p s
    for p in $(server_tree "$1"); do
        s=$(cat "/proc/$p/stat" 2>/dev/null) || continue
        s=${s##*) }
        # shellcheck disable=SC2086  # split the fields on purpose
        set -- $s
        sum=$((sum + ${12} + ${13} + ${14} + ${15}))
    done
    echo "$sum"
}
