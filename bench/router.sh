#!/usr/bin/env bash
# flowpath as an IPv4 router vs the kernel router, side by side in one run.
#
#   bn-fp-kh1 eth0 --veth-- r1 [bn-fp-kr: kernel, ip_forward=1] r2 --veth-- eth0 bn-fp-kh2   (kernel)
#   bn-fp-ah1 eth0 --veth-- r-h1 [bn-fp-ar: flowpathd, afpacket] r-h2 --veth-- eth0 bn-fp-ah2 (afpacket, recvmmsg)
#   bn-fp-gh1 eth0 --veth-- r-h1 [bn-fp-gr: flowpathd, afpacket] r-h2 --veth-- eth0 bn-fp-gh2 (afring, TPACKET_V3)
#   bn-fp-fh1 eth0 --veth-- r-h1 [bn-fp-fr: flowpathd, afpacket] r-h2 --veth-- eth0 bn-fp-fh2 (afollow: afring
#             with --follow-senders, each worker bound to the CPU its frames arrive on)
#   bn-fp-nh1 ... [bn-fp-nr: as afollow, flowpathd started with nice -n -10] ...          (afnice: a
#             woken worker preempts the sender whose CPU it shares, so frames are forwarded a
#             few at a time as they come, as the kernel forwards inline on the sender's CPU)
#   bn-fp-ph1 ... [bn-fp-pr: as afpacket, flowpathd --cpus LAST] ...                     (afpin: the
#             daemon on one CPU of its own, the last, as OVS's pmd-cpu-mask; the hosts' iperf3
#             stay free to run anywhere, and the scheduler puts the busy sender on the other CPU)
#   bn-fp-ih1 ... [bn-fp-ir: as afpin, at nice -10] ...                                  (afpinnice: the
#             worker wins its CPU from the receiving host's iperf3, which then reads less)
#   bn-fp-jh1 ... [bn-fp-jr: as afnice, with --cpus LAST] ...                            (afnicepin: TCP
#             on a CPU of its own as afpin, a 64-byte flood followed onto the sender's CPU as afnice)
#   bn-fp-th1 eth0 =tap= [bn-fp-tr: flowpathd, tap ports t-h1/t-h2] =tap= eth0 bn-fp-th2    (tap)
#   bn-fp-qh1 ... [bn-fp-qr: as tap, flowpathd --cpus LAST] ...                          (tpin)
#   bn-fp-uh1 eth0 =tap= [bn-fp-ur: flowpathd, tap ports, --follow-senders] =tap= eth0 bn-fp-uh2 (tfollow)
#   every variant: h1 10.1.0.1/24 -> router 10.1.0.254 | 10.2.0.254 -> h2 10.2.0.1/24
#
# All variants are up at once; each repetition measures every variant in
# turn (TCP, then UDP 64 B), so slow drift of the VM hits all of them alike.
# UDP loss is split by where it happened: "at host" is the part h2's own
# kernel dropped at its full iperf3 socket (Udp RcvbufErrors in h2), the
# rest was lost on the way (the router or the links).
# "on the way" counts those lost between the hosts' own interfaces (h1's
# eth0 sent them, h2's eth0 never received them), run by run: the router's
# forwarding loss, whatever h2's socket then did.
# Then a "no loss" search: the highest iperf3 -u -l 64 -b RATE at which the
# loss stays below 0.1 %, by bisection between 10 kpps and the -b 0 send rate.
#
# Usage: sudo bench/router.sh            env: DUR=5 (s per run) REPS=3 (median of)
#        VARIANTS="kernel afpacket afpin afpinnice afring afollow afnice afnicepin tap tpin tfollow"  SEARCH=1 (0 skips the no-loss search)
#        STEP=2 (s per search step)      RAW=/tmp/bench-raw/router (iperf3 JSON)
#        FPD_ARGS="" (extra flowpathd flags)  FPD_ENV="" (its environment, e.g. GOMAXPROCS=1)
#        TCP_ARGS="" (extra iperf3 client flags for TCP, e.g. "-C cubic"; all variants)
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)

: "${DUR:=5}" "${REPS:=3}" "${RAW:=/tmp/bench-raw/router}"
: "${VARIANTS:=kernel afpacket afpin afpinnice afnice afnicepin tap tpin tfollow}" "${SEARCH:=1}" "${STEP:=2}"
: "${FPD_ARGS:=}" "${FPD_ENV:=}"
export DUR REPS RAW

# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$here/lib.sh"

need_root
need_tools ip iperf3 jq ss go

# Figures from shared/bench/baselines/RESULTS.md (OVS 3.1 userspace
# datapath, NORMAL, AF_PACKET ports, row 4a), NOT measured by this run.
OVS_TCP=0.84
OVS_UDP_RX=110921

BIN=$(mktemp -d /tmp/bn-fp-bin.XXXXXX)
ALLNS="bn-fp-kh1 bn-fp-kr bn-fp-kh2 bn-fp-ah1 bn-fp-ar bn-fp-ah2 bn-fp-th1 bn-fp-tr bn-fp-th2 bn-fp-gh1 bn-fp-gr bn-fp-gh2 bn-fp-fh1 bn-fp-fr bn-fp-fh2 bn-fp-uh1 bn-fp-ur bn-fp-uh2 bn-fp-nh1 bn-fp-nr bn-fp-nh2 bn-fp-ph1 bn-fp-pr bn-fp-ph2 bn-fp-qh1 bn-fp-qr bn-fp-qh2 bn-fp-ih1 bn-fp-ir bn-fp-ih2 bn-fp-jh1 bn-fp-jr bn-fp-jh2"
cleanup() { stop_ours; del_ours; }
trap cleanup EXIT
trap 'exit 130' INT TERM
# shellcheck disable=SC2086
ns_del $ALLNS   # leftovers of an interrupted run

build_flowpath

# hosts PFX: namespaces PFXh1 PFXh2 with addresses and default routes on
# their eth0 (which must exist).
hosts_up() {
    local p=$1
    ip -n "${p}h1" addr add 10.1.0.1/24 dev eth0
    ip -n "${p}h2" addr add 10.2.0.1/24 dev eth0
    ip -n "${p}h1" link set eth0 up
    ip -n "${p}h2" link set eth0 up
    ip -n "${p}h1" route add default via 10.1.0.254
    ip -n "${p}h2" route add default via 10.2.0.254
}

setup_kernel() {   # as shared/bench/baselines/02-kernel-router.sh
    ns_add bn-fp-kh1 bn-fp-kr bn-fp-kh2
    ip link add eth0 netns bn-fp-kh1 type veth peer name r1 netns bn-fp-kr
    ip link add eth0 netns bn-fp-kh2 type veth peer name r2 netns bn-fp-kr
    ip -n bn-fp-kr addr add 10.1.0.254/24 dev r1
    ip -n bn-fp-kr addr add 10.2.0.254/24 dev r2
    ip -n bn-fp-kr link set r1 up
    ip -n bn-fp-kr link set r2 up
    ip netns exec bn-fp-kr sysctl -qw net.ipv4.ip_forward=1
    hosts_up bn-fp-k
}

# afpacket_topo P RXMODE [FLAGS]: h1 — flowpathd (afpacket ports, --afpacket-rx
# RXMODE, FLAGS) — h2 in namespaces ${P}h1, ${P}r, ${P}h2.
afpacket_topo() {
    local p=$1 mode=$2 c="$BIN/fpctl --socket $BIN/${1}r.sock" i
    shift 2
    ns_add "${p}h1" "${p}r" "${p}h2"
    for i in 1 2; do
        ip link add eth0 netns "${p}h$i" type veth peer name "r-h$i" netns "${p}r"
        # the router namespace's kernel stays silent on flowpath's ports
        ip netns exec "${p}r" sysctl -qw "net.ipv6.conf.r-h$i.disable_ipv6=1"
        ip -n "${p}r" link set "r-h$i" up
    done
    # shellcheck disable=SC2086
    start_fpd "${p}r" $FPD_ENV --afpacket-rx "$mode" "$@" $FPD_ARGS || return 1
    for i in 1 2; do
        $c link add "h$i" type afpacket ifname "r-h$i" && $c link set "h$i" up &&
            $c addr add "10.$i.0.254/24" dev "h$i" || return 1
    done
    hosts_up "$p"
}

# afpacket: the default receive path (recvmmsg); afring: the TPACKET_V3 ring.
setup_afpacket() { afpacket_topo bn-fp-a recvmmsg; }
setup_afpin() { afpacket_topo bn-fp-p recvmmsg --cpus "$LAST_CPU"; }
setup_afpinnice() { local FPD_NICE=-10; afpacket_topo bn-fp-i recvmmsg --cpus "$LAST_CPU"; }
setup_afring() { afpacket_topo bn-fp-g ring; }
setup_afollow() { afpacket_topo bn-fp-f ring --follow-senders; }
setup_afnice() { local FPD_NICE=-10; afpacket_topo bn-fp-n ring --follow-senders; }
setup_afnicepin() { local FPD_NICE=-10; afpacket_topo bn-fp-j ring --follow-senders --cpus "$LAST_CPU"; }

# tap_topo P [FLAGS]: h1 =tap= flowpathd (tap ports, FLAGS) =tap= h2 in
# namespaces ${P}h1, ${P}r, ${P}h2.
tap_topo() {
    local p=$1 c="$BIN/fpctl --socket $BIN/${1}r.sock" i
    shift
    ns_add "${p}h1" "${p}r" "${p}h2"
    # shellcheck disable=SC2086
    start_fpd "${p}r" $FPD_ENV "$@" $FPD_ARGS || return 1
    for i in 1 2; do
        # flowpathd makes the TAP in its namespace; its kernel end goes to the host
        $c link add "h$i" type tap ifname "t-h$i" || return 1
        ip -n "${p}r" link set "t-h$i" netns "${p}h$i" &&
            ip -n "${p}h$i" link set "t-h$i" name eth0 || return 1
        $c link set "h$i" up && $c addr add "10.$i.0.254/24" dev "h$i" || return 1
    done
    hosts_up "$p"
}
setup_tap() { tap_topo bn-fp-t; }
setup_tpin() { tap_topo bn-fp-q --cpus "$LAST_CPU"; }
setup_tfollow() { tap_topo bn-fp-u --follow-senders; }
LAST_CPU=$(($(nproc) - 1))

declare -A NOLOSS
STEP_RX=
for v in $VARIANTS; do
    case $v in
        kernel) p=bn-fp-k ;;
        afpacket) p=bn-fp-a ;;
        afpin) p=bn-fp-p ;;
        afpinnice) p=bn-fp-i ;;
        afring) p=bn-fp-g ;;
        afollow) p=bn-fp-f ;;
        afnice) p=bn-fp-n ;;
        afnicepin) p=bn-fp-j ;;
        tap) p=bn-fp-t ;;
        tpin) p=bn-fp-q ;;
        tfollow) p=bn-fp-u ;;
        *) echo "unknown variant $v" >&2; exit 2 ;;
    esac
    echo "== setting up $v"
    if ! "setup_$v"; then
        echo "   $v: setup failed, skipped"
        continue
    fi
    if ! pingcheck "${p}h1" 10.2.0.1; then
        echo "   $v: h1 cannot ping h2, skipped"
        continue
    fi
    CLIENT[$v]=${p}h1 DST[$v]=10.2.0.1
    serve "$v" "${p}h2"
done
[ ${#ACTIVE[@]} -gt 0 ] || { echo "nothing to measure" >&2; exit 1; }

measure_all
# flowpathd's own drops over the whole run (TCP and UDP), by reason;
# port_rx_dropped: frames the kernel could not queue to its socket or ring.
for v in "${ACTIVE[@]}"; do
    [ "$v" = kernel ] && continue
    echo "   flowpathd $v drops: $("$BIN/fpctl" --socket "$BIN/${CLIENT[$v]%h1}r.sock" -j stats 2>/dev/null |
        jq -c '[.. | objects | select(has("drops")) | .drops | objects | to_entries[] | select(.value > 0)] | from_entries' 2>/dev/null | head -c 300)"
done

# udp_at NS PPS SECS TAG -> "rx_pps tx_pps loss_pct" at a fixed offered rate
udp_at() {
    local ns=$1 pps=$2 secs=$3 f="$RAW/$4.json"
    ip netns exec "$ns" iperf3 -c 10.2.0.1 -p 5201 -u -l 64 -b $((pps * 64 * 8)) -t "$secs" -J >"$f" 2>&1
    jq -r 'if .error then "nan nan 100" else
             (.end.sum_received) as $r | (.end.sum_sent) as $s |
             ($r.bytes/64/$r.seconds|round|tostring) + " " + ($s.packets/$s.seconds|round|tostring) + " " +
             ($r.lost_percent|tostring) end' "$f" 2>/dev/null || echo "nan nan 100"
}
# lossless PCT: true if PCT < 0.1 (nan counts as loss)
lossless() { awk -v l="$1" 'BEGIN { exit !(l == l + 0 && l < 0.1) }'; }

# step V PPS -> true if the loss at PPS is < 0.1 %. A failed step is run
# once more: on a shared 2-vCPU VM a descheduled iperf3 client catches up
# with a burst, and one such burst should not end the search.
step() {
    local v=$1 pps=$2 try
    for try in 1 2; do
        # shellcheck disable=SC2046
        set -- $(udp_at "${CLIENT[$v]}" "$pps" "$STEP" "$v-search-$pps-$try")
        echo "  [$v] search $pps pps (try $try): rx $1 pps, loss $3 %"
        if lossless "$3"; then STEP_RX=$1; return 0; fi
    done
    return 1
}

# search V: bisection for the highest offered pps with loss < 0.1 %,
# between 10 kpps and the rate iperf3 reached with -b 0. The figure kept is
# the rx pps measured at that rate: when the generator cannot offer what
# -b asks (the kernel's case, where forwarding runs on the sender's CPU),
# the offered rate would flatter.
search() {
    local v=$1 lo=10000 hi n=0 mid best
    hi=$(printf '%.0f' "${TX[$v]}" 2>/dev/null) || hi=0
    [ "$hi" -gt "$lo" ] 2>/dev/null || hi=$((lo * 10))
    if ! step "$v" "$lo"; then NOLOSS[$v]="<$lo"; return; fi
    best=$STEP_RX
    if step "$v" "$hi"; then NOLOSS[$v]="$STEP_RX (top)"; return; fi
    while [ $((hi - lo)) -gt $((lo / 20)) ] && [ $n -lt 7 ]; do
        mid=$(((lo + hi) / 2)); n=$((n + 1))
        if step "$v" "$mid"; then lo=$mid best=$STEP_RX; else hi=$mid; fi
    done
    NOLOSS[$v]=$best
}
if [ "$SEARCH" = 1 ]; then
    echo "== no-loss search (iperf3 -u -l 64 -b RATE -t $STEP, loss < 0.1 %)"
    for v in "${ACTIVE[@]}"; do search "$v"; done
fi

print_header "router: flowpath vs kernel"
printf '%-26s %10s %12s %12s %8s %8s %14s %14s\n' "path" "TCP Gbit/s" "UDP64 rx pps" "UDP64 tx pps" "loss %" "at host" "on the way" "no-loss pps"
for v in "${ACTIVE[@]}"; do
    case $v in kernel) name="kernel router" ;; *) name="flowpath $v" ;; esac
    printf '%-26s %10s %12s %12s %8s %8s %14s %14s\n' "$name" "${TCP[$v]}" "${RX[$v]}" "${TX[$v]}" "${LOSS[$v]}" "${HOSTLOSS[$v]}" "${WAY[$v]}" "${NOLOSS[$v]:--}"
done
printf '%-26s %10s %12s %12s %8s %8s %14s %14s\n' "OVS userspace (RESULTS.md)" "$OVS_TCP" "$OVS_UDP_RX" "-" "-" "-" "-" "-"
echo "   (the OVS row is not measured here: it is shared/bench/baselines/RESULTS.md row 4a)"
echo
printf '%-34s %8s %10s   %s\n' "ratio" "TCP" "UDP64 rx" "TCP run by run: median (range)"
for v in "${ACTIVE[@]}"; do
    [ "$v" = kernel ] && continue
    if [ -n "${TCP[kernel]:-}" ]; then
        printf '%-34s %8s %10s   %s\n' "flowpath $v / kernel" "$(ratio "${TCP[$v]}" "${TCP[kernel]}")" "$(ratio "${RX[$v]}" "${RX[kernel]}")" "$(run_ratios "$v" kernel)"
    fi
    printf '%-34s %8s %10s\n' "flowpath $v / OVS (RESULTS.md)" "$(ratio "${TCP[$v]}" "$OVS_TCP")" "$(ratio "${RX[$v]}" "$OVS_UDP_RX")"
done
echo "raw iperf3 JSON and flowpathd logs: $RAW"
