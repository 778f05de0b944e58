# shellcheck shell=bash
# The harness router.sh and overlay.sh share; sourced by both, not run.
#
# Before sourcing, a script sets `set -u`, here (this directory), repo (the
# checkout), its DUR REPS RAW defaults (exported) and BIN (where
# flowpathd/fpctl are built; may be empty until mktemp). It keeps its own
# topology, its ALLNS (the bn-* namespaces it makes), its cleanup and its
# table, and fills, per variant in ACTIVE, CLIENT[v] (the iperf3 client's
# namespace) and DST[v] (the server's address) for measure_all.
#
# Same conventions as ../../shared/bench/baselines/lib.sh: PIDs only, our own
# namespaces only, medians of REPS, raw JSON kept in RAW.

# shellcheck disable=SC2154   # repo: set by the sourcing script
lib=$repo/../shared/bench/baselines/lib.sh
if [ -f "$lib" ]; then
    # shellcheck source=/dev/null
    . "$lib"
else
    # The few helpers of shared/bench/baselines/lib.sh these scripts use,
    # for a checkout without the shared tree. Same conventions: PIDs only,
    # our own namespaces only, medians of REPS, raw JSON kept.
    mkdir -p "$RAW"
    need_root() { [ "$(id -u)" = 0 ] || { echo "must run as root" >&2; exit 1; }; }
    need_tools() {
        local t missing=()
        for t in "$@"; do command -v "$t" >/dev/null 2>&1 || missing+=("$t"); done
        [ ${#missing[@]} -eq 0 ] || { echo "missing tools: ${missing[*]}" >&2; exit 1; }
    }
    ns_del() {
        local ns pid
        for ns in "$@"; do
            ip netns list 2>/dev/null | awk '{print $1}' | grep -qx "$ns" || continue
            for pid in $(ip netns pids "$ns" 2>/dev/null); do kill "$pid" 2>/dev/null; done
            sleep 0.2
            for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
            ip netns del "$ns" 2>/dev/null
        done
    }
    ns_add() {
        local ns
        for ns in "$@"; do
            ip netns add "$ns"; ip -n "$ns" link set lo up
            ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
        done
    }
    median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END{ if (NR==0) print "nan"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2 }'; }
    iperf_server() {
        local ns=$1
        ip netns exec "$ns" iperf3 -s -p 5201 >/dev/null 2>&1 &
        local pid=$!
        for _ in $(seq 1 50); do ip netns exec "$ns" ss -ltn 2>/dev/null | grep -q ':5201 ' && break; sleep 0.1; done
        echo "$pid"
    }
    tcp_once() {
        local ns=$1 dst=$2 tag=$3
        local f="$RAW/$tag.json"
        # shellcheck disable=SC2086
        ip netns exec "$ns" iperf3 -c "$dst" -p 5201 -t "$DUR" ${TCP_ARGS:-} -J >"$f" 2>&1
        jq -r 'if .error then "nan nan nan" else
                 (.end.sum_received.bits_per_second/1e9*1000|round/1000|tostring) + " " +
                 (.end.cpu_utilization_percent.host_total|round|tostring) + " " +
                 (.end.cpu_utilization_percent.remote_total|round|tostring) end' "$f" 2>/dev/null || echo "nan nan nan"
    }
    udp_once() {
        local ns=$1 dst=$2 tag=$3
        local f="$RAW/$tag.json"
        ip netns exec "$ns" iperf3 -c "$dst" -p 5201 -u -l 64 -b 0 -t "$DUR" -J >"$f" 2>&1
        jq -r 'if .error then "nan nan nan nan nan" else
                 (.end.sum_received) as $r | (.end.sum_sent) as $s | (.end.cpu_utilization_percent) as $c |
                 ($r.bytes/64/$r.seconds|round|tostring) + " " + ($s.packets/$s.seconds|round|tostring) + " " +
                 ($r.lost_percent*100|round/100|tostring) + " " +
                 ($c.host_total|round|tostring) + " " + ($c.remote_total|round|tostring) end' "$f" 2>/dev/null || echo "nan nan nan nan nan"
    }
    pingcheck() { ip netns exec "$1" ping -c 2 -i 0.2 -W 1 "$2" >/dev/null 2>&1; }
fi
mkdir -p "$RAW"

FPD_PIDS=()   # flowpathds started by start_fpd
SPIDS=()      # iperf3 servers
ACTIVE=()     # the variants that came up, in order
declare -A CLIENT DST SERVER TCP TCPRUNS RX TX LOSS HOSTLOSS WAY WAYDG

# stop_ours: the iperf3 servers and flowpathds we started, by PID; a
# flowpathd gets 2 s to exit on SIGTERM before SIGKILL.
stop_ours() {
    local p
    for p in "${SPIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${FPD_PIDS[@]}"; do
        kill -TERM "$p" 2>/dev/null
        for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
        kill -9 "$p" 2>/dev/null
    done
}
# del_ours: our namespaces (ALLNS, with whatever still runs in them) and BIN.
del_ours() {
    # shellcheck disable=SC2086
    ns_del $ALLNS
    if [ -n "$BIN" ]; then rm -rf "$BIN"; fi
}

# build_flowpath: notes the load average at the start (LOAD_START, for
# print_header), then builds flowpathd and fpctl into BIN.
build_flowpath() {
    LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
    echo "== building flowpathd and fpctl"
    (cd "$repo" && go build -o "$BIN/" ./cmd/flowpathd ./cmd/fpctl) || { echo "build failed" >&2; exit 1; }
}

# start_fpd NS [VAR=VALUE...] [ARGS]: flowpathd in NS with that environment
# and those flags, at nice FPD_NICE (default 0; every thread inherits it),
# socket $BIN/NS.sock, log $RAW/NS-flowpathd.log; waits until fpctl answers.
start_fpd() {
    local ns=$1 envs=()
    shift
    while [ $# -gt 0 ] && [[ $1 != -* && $1 == *=* ]]; do envs+=("$1"); shift; done
    ip netns exec "$ns" nice -n "${FPD_NICE:-0}" env "${envs[@]}" "$BIN/flowpathd" --socket "$BIN/$ns.sock" "$@" >"$RAW/$ns-flowpathd.log" 2>&1 &
    FPD_PIDS+=($!)
    for _ in $(seq 1 50); do
        "$BIN/fpctl" --socket "$BIN/$ns.sock" link show >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "flowpathd in $ns does not answer; log:" >&2; cat "$RAW/$ns-flowpathd.log" >&2
    return 1
}

# serve V NS: an iperf3 server in NS, V's server side; V joins ACTIVE.
serve() {
    SPIDS+=("$(iperf_server "$2")")
    SERVER[$1]=$2
    ACTIVE+=("$1")
}

# rcvbuf_errors NS: UDP datagrams the kernel of NS dropped because the
# receiving socket was full (/proc/net/snmp Udp RcvbufErrors, per namespace).
rcvbuf_errors() {
    ip netns exec "$1" awk '$1 == "Udp:" { if (!c) { for (i = 2; i <= NF; i++) if ($i == "RcvbufErrors") c = i } else print $c }' /proc/net/snmp
}

# if_packets NS tx|rx: frames all of NS's interfaces but lo sent or
# received (the kernel's link counters). tx counts the frames the device
# dropped too: a TAP counts as sent only what its reader took, and counts a
# frame it had no room for as tx_dropped; those were lost on the way.
if_packets() {
    ip -n "$1" -s -j link show 2>/dev/null |
        jq --arg d "$2" '[.[] | select(.ifname != "lo") | .stats64[$d] |
            .packets + (if $d == "tx" then .dropped else 0 end)] | add // 0'
}

# measure_all [retransmits]: REPS repetitions, each measuring every ACTIVE
# variant in turn, TCP first, then UDP 64 B, from CLIENT[v] to DST[v]; the
# medians go to TCP RX TX LOSS HOSTLOSS, each run's TCP figure to TCPRUNS
# (space-separated, in run order, for ratios run by run). With "retransmits" the TCP lines
# also show iperf3's TCP retransmits. HOSTLOSS is the part of LOSS (in % of
# the datagrams sent) that the receiving host's own kernel dropped at its
# full socket (SERVER[v]'s RcvbufErrors). WAY lists, run by run (a/b/c),
# the frames lost on the way: the client host's interfaces sent them, the
# server host's never received them (link counters; the iperf3 control
# connection's few frames go both ways and cancel out), i.e. lost in the
# router under test or its links, whatever the receiving socket did. That
# holds while a frame is a datagram; where a path merges datagrams into UDP
# GSO frames (flowpath VTEPs over AF_PACKET underlays) it does not, and
# WAYDG lists the datagrams iperf3 lost minus those the socket dropped.
measure_all() {
    local r v re note show_re=0 before after sent txb rxb way
    [ "${1-}" = retransmits ] && show_re=1
    local -A tcps=() rxs=() txs=() losses=() hostlosses=() ways=() waydgs=()
    for r in $(seq 1 "$REPS"); do
        for v in "${ACTIVE[@]}"; do
            # shellcheck disable=SC2046
            set -- $(tcp_once "${CLIENT[$v]}" "${DST[$v]}" "$v-tcp-$r")
            tcps[$v]="${tcps[$v]:-} $1"
            note=
            if [ $show_re = 1 ]; then
                re=$(jq -r '.end.sum_sent.retransmits // "?"' "$RAW/$v-tcp-$r.json" 2>/dev/null)
                note=", retransmits $re"
            fi
            echo "  [$v] run $r TCP: $1 Gbit/s (cpu client $2% server $3%$note)"
            sleep 0.5
        done
        for v in "${ACTIVE[@]}"; do
            before=$(rcvbuf_errors "${SERVER[$v]}")
            txb=$(if_packets "${CLIENT[$v]}" tx) rxb=$(if_packets "${SERVER[$v]}" rx)
            # shellcheck disable=SC2046
            set -- $(udp_once "${CLIENT[$v]}" "${DST[$v]}" "$v-udp-$r")
            after=$(rcvbuf_errors "${SERVER[$v]}")
            way=$((($(if_packets "${CLIENT[$v]}" tx) - txb) - ($(if_packets "${SERVER[$v]}" rx) - rxb)))
            read -r sent lost < <(jq -r '"\(.end.sum_sent.packets // 0) \(.end.sum_received.lost_packets // 0)"' \
                "$RAW/$v-udp-$r.json" 2>/dev/null || echo "0 0")
            # shellcheck disable=SC2046
            set -- "$@" $(awk -v a="$after" -v b="$before" -v n="${sent:-0}" -v l="${lost:-0}" \
                'BEGIN { if (n > 0 && a >= b) printf "%.2f %d", (a - b) * 100 / n, l - (a - b); else print "nan nan" }')
            rxs[$v]="${rxs[$v]:-} $1" txs[$v]="${txs[$v]:-} $2" losses[$v]="${losses[$v]:-} $3"
            hostlosses[$v]="${hostlosses[$v]:-} $6" ways[$v]="${ways[$v]:-} $way" waydgs[$v]="${waydgs[$v]:-} $7"
            echo "  [$v] run $r UDP64: rx $1 pps, tx $2 pps, loss $3 % ($6 % at the receiving host's full socket; frames lost on the way: $way by the link counters, $7 by iperf3's count)"
            sleep 0.5
        done
    done
    for v in "${ACTIVE[@]}"; do
        # shellcheck disable=SC2034,SC2086   # TCP RX TX LOSS: for the scripts' tables
        TCP[$v]=$(median ${tcps[$v]}) TCPRUNS[$v]=${tcps[$v]# } RX[$v]=$(median ${rxs[$v]}) TX[$v]=$(median ${txs[$v]}) LOSS[$v]=$(median ${losses[$v]})
        # shellcheck disable=SC2034,SC2086
        HOSTLOSS[$v]=$(median ${hostlosses[$v]}) WAY[$v]=$(echo ${ways[$v]} | tr ' ' /) WAYDG[$v]=$(echo ${waydgs[$v]} | tr ' ' /)
    done
}

# run_ratios V W: V's TCP over W's, run by run (runs measured seconds apart,
# so a slow phase of the VM hits both), as "median (min-max)".
run_ratios() {
    local a b rs=() i
    read -r -a a <<<"${TCPRUNS[$1]:-}"
    read -r -a b <<<"${TCPRUNS[$2]:-}"
    for i in "${!a[@]}"; do rs+=("$(ratio "${a[$i]}" "${b[$i]:-}")"); done
    [ ${#rs[@]} -gt 0 ] || { echo "n/a"; return; }
    printf '%s (%s-%s)' "$(median "${rs[@]}")" "$(printf '%s\n' "${rs[@]}" | sort -g | head -1)" "$(printf '%s\n' "${rs[@]}" | sort -g | tail -1)"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == a + 0 && b == b + 0 && b > 0) printf "%.2f", a / b; else printf "n/a" }'; }

# print_header TITLE: the table's heading, with the run's parameters and the
# load average at the start and now.
print_header() {
    echo
    echo "== $1 (median of $REPS, ${DUR}s each; $(uname -r), $(nproc) CPUs)"
    echo "   load average at start $LOAD_START, now $(cut -d' ' -f1-3 /proc/loadavg): other work on the machine skews every figure"
}
