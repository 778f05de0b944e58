#!/usr/bin/env bash
# Overlay TCP and 64-byte UDP through flowpath as both VXLAN VTEPs vs the
# kernel's VXLAN vs Open vSwitch's userspace VXLAN, side by side in one run.
#
#   h1 eth0 --veth-- hv [VTEP 1] u1 ==underlay veth, mtu 1550== u2 [VTEP 2] hv --veth-- eth0 h2
#   underlay 10.100.0.1/24 <-> 10.100.0.2/24, VXLAN vni 10, dstport 4789
#
#   kernel   bn-ov-k*: vxlan0 `external` + `encap ip id 10 dst ...` routes (baselines/03 lwt)
#                      h1 10.11.0.1/24 via .254 | .254 10.12.0.1/24 h2
#   kbridge  bn-ov-b*: vxlan10 id 10 in a bridge with hv (baselines/03 bridged), 10.10.0.1 <-> 10.10.0.2
#   flowpath bn-ov-f*: flowpathd per VTEP, afpacket ports hv and u1/u2, `vxlan0 type vxlan
#                      external` + `fpctl route add ... encap ip id 10 dst ... dev vxlan0 onlink`
#                      (same addresses as kernel)
#   ftap     bn-ov-t*: as flowpath, but each host's eth0 is a TAP whose other end is
#                      flowpathd's hv port (no host veth); the underlay is the same veth
#   fultap   bn-ov-l*: as flowpath, but each VTEP's underlay port is a TAP and the kernel
#                      carries the underlay: both TAPs' kernel ends in a bridge in bn-ov-lu
#                      (flowpath handing its tunnel traffic to the host's stack, as a VM's
#                      vNIC does). Where the kernel takes UDP-tunnel GSO on a TAP (6.17+)
#                      a TCP super-frame crosses as one VXLAN datagram, cut by the kernel
#                      only where it leaves for a wire that needs it (here: never)
#   ftaps    bn-ov-s*: both: TAP hosts (as ftap) and TAP underlays (as fultap): flowpath
#                      meets the kernel through TAPs only
#   flowpath, ftap, fultap and ftaps run VTEP n's flowpathd with `--cpus n-1` (VTEP_PIN=1, the default): each
#   userspace VTEP on a CPU of its own, as such a dataplane is deployed (OVS's pmd-cpu-mask);
#   the hosts' iperf3 and the kernel's work are not pinned.
#   funpinned bn-ov-u*: as flowpath without --cpus (the scheduler places the VTEPs' threads)
#   fppoll   bn-ov-p*: as flowpath, with `--rx-wait ppoll` (idle workers block in ppoll on
#                      their own threads instead of parking in the Go runtime's poller);
#                      not in the default set: an A/B of the wait in one run
#   ovs      bn-ov-o*: one ovs-vswitchd per VTEP, br-int{hv, vx0 vxlan key=10} + br-phy{u}
#                      (baselines/04 vxlan), 10.30.0.1 <-> 10.30.0.2; only if OVS is installed,
#                      else the row is RESULTS.md 4d and marked as not measured here
#
# All variants are up at once; each repetition measures every variant in
# turn (TCP, then UDP 64 B), so slow drift of the VM hits all of them alike.
# UDP loss "at host" is the part h2's own kernel dropped at its full iperf3
# socket; "on the way" lists, run by run, the datagrams lost elsewhere
# (VTEPs, underlay, links): iperf3's lost count minus those. (Not the
# hosts' link counters: a flowpath VTEP with an AF_PACKET underlay hands
# 64-byte datagrams on as UDP GSO frames, several per frame.)
#
# Usage: sudo bench/overlay.sh            env: DUR=5 (s per run) REPS=3 (median of)
#        VARIANTS="kernel kbridge flowpath ftap fultap ftaps funpinned ovs"   RAW=/tmp/bench-raw/overlay
#        VTEP_PIN=1 (0: no --cpus for any variant)
#        FPD_ARGS="" (extra flowpathd flags)      PROFILE=1 (flowpathd --cpuprofile into RAW)
#        FPD_ENV="" (environment for flowpathd, e.g. GOMAXPROCS=4)
#        TCP_ARGS="" (extra iperf3 client flags for TCP, e.g. "-C cubic"; all variants)
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)

: "${DUR:=5}" "${REPS:=3}" "${RAW:=/tmp/bench-raw/overlay}"
: "${VARIANTS:=kernel kbridge flowpath ftap fultap ftaps funpinned ovs}" "${FPD_ARGS:=}" "${FPD_ENV:=}" "${PROFILE:=0}"
: "${VTEP_PIN:=1}"
export DUR REPS RAW

# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$here/lib.sh"

need_root
need_tools ip iperf3 jq ss go ethtool

# Figures from shared/bench/baselines/RESULTS.md row 4d (OVS 3.1 userspace
# VXLAN, tnl_push/tnl_pop, two instances), used when OVS is not installed.
OVS_TCP=0.90
OVS_UDP_RX=56925

BIN=""
OVSROOT=/tmp/bn-ov-ovs      # private OVS instances (not baselines/04's /tmp/bn-ovs)
HAVE_OVS=0
ALLNS=""
for p in k b f t l s p u o; do ALLNS="$ALLNS bn-ov-${p}h1 bn-ov-${p}v1 bn-ov-${p}v2 bn-ov-${p}h2"; done
ALLNS="$ALLNS bn-ov-lu bn-ov-su"

# --- private Open vSwitch instances (as shared/bench/baselines/ovs-lib.sh) ---
ovs_envrun() { local d=$OVSROOT/$1; shift; OVS_RUNDIR=$d OVS_LOGDIR=$d OVS_DBDIR=$d OVS_SYSCONFDIR=$d "$@"; }
vsctl() { local n=$1; shift; ovs_envrun "$n" ovs-vsctl --db="unix:$OVSROOT/$n/db.sock" --timeout=20 "$@"; }
appctl() { local n=$1; shift; ovs_envrun "$n" ovs-appctl --timeout=20 "$@"; }
ovs_start() {   # ovs_start NS NAME: fresh db, ovsdb-server + ovs-vswitchd inside NS
    local ns=$1 n=$2 d=$OVSROOT/$2
    rm -rf "$d"; mkdir -p "$d"
    ovsdb-tool create "$d/conf.db" /usr/share/openvswitch/vswitch.ovsschema >/dev/null || return 1
    ovs_envrun "$n" ip netns exec "$ns" ovsdb-server "$d/conf.db" --remote="punix:$d/db.sock" \
        --pidfile="$d/ovsdb-server.pid" --log-file="$d/ovsdb-server.log" -vconsole:off --no-chdir --detach 2>>"$d/start.err" || return 1
    vsctl "$n" --no-wait init || return 1
    ovs_envrun "$n" ip netns exec "$ns" ovs-vswitchd "unix:$d/db.sock" --pidfile="$d/ovs-vswitchd.pid" \
        --log-file="$d/ovs-vswitchd.log" -vconsole:off --no-chdir --detach 2>>"$d/start.err" || return 1
    for _ in $(seq 1 50); do appctl "$n" version >/dev/null 2>&1 && return 0; sleep 0.1; done
    echo "ovs-vswitchd $n did not come up; see $d/ovs-vswitchd.log" >&2; return 1
}
ovs_stop() {    # by the PIDs in the pidfiles
    local d=$OVSROOT/$1 p pid
    for p in ovs-vswitchd ovsdb-server; do
        [ -f "$d/$p.pid" ] || continue
        pid=$(cat "$d/$p.pid" 2>/dev/null)
        [ -n "$pid" ] && kill "$pid" 2>/dev/null
    done
}

cleanup() {
    stop_ours
    if [ -d "$OVSROOT" ]; then ovs_stop ovtep1; ovs_stop ovtep2; sleep 0.3; fi
    del_ours
    rm -rf "$OVSROOT"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cleanup   # leftovers of an interrupted run
BIN=$(mktemp -d /tmp/bn-ov-bin.XXXXXX)

build_flowpath

# base P: namespaces P{h1,v1,v2,h2}; host legs h1 eth0 - v1 hv, h2 eth0 - v2 hv;
# underlay u1 (v1) - u2 (v2), MTU 1550 so the overlay keeps 1500.
base() {
    local p=$1 l
    ns_add "${p}h1" "${p}v1" "${p}v2" "${p}h2"
    ip link add eth0 netns "${p}h1" type veth peer name hv netns "${p}v1"
    ip link add eth0 netns "${p}h2" type veth peer name hv netns "${p}v2"
    ip link add u1 netns "${p}v1" mtu 1550 type veth peer name u2 netns "${p}v2" mtu 1550
    for l in "h1 eth0" "h2 eth0" "v1 hv" "v2 hv" "v1 u1" "v2 u2"; do
        # shellcheck disable=SC2086
        set -- $l; ip -n "$p$1" link set "$2" up
    done
}
# routed_hosts P: h1 10.11.0.1/24 via .254, h2 10.12.0.1/24 via .254
routed_hosts() {
    local p=$1
    ip -n "${p}h1" addr add 10.11.0.1/24 dev eth0
    ip -n "${p}h2" addr add 10.12.0.1/24 dev eth0
    ip -n "${p}h1" route add default via 10.11.0.254
    ip -n "${p}h2" route add default via 10.12.0.254
}

setup_kernel() {   # shared/bench/baselines/03-kernel-vxlan.sh lwt
    local p=bn-ov-k n r
    base $p; routed_hosts $p
    ip -n ${p}v1 addr add 10.100.0.1/24 dev u1
    ip -n ${p}v2 addr add 10.100.0.2/24 dev u2
    ip -n ${p}v1 addr add 10.11.0.254/24 dev hv
    ip -n ${p}v2 addr add 10.12.0.254/24 dev hv
    for n in 1 2; do
        ip netns exec ${p}v$n sysctl -qw net.ipv4.ip_forward=1
        ip -n ${p}v$n link add vxlan0 address 02:00:00:00:10:0$n type vxlan external dstport 4789 || return 1
        ip -n ${p}v$n link set vxlan0 up
    done
    ip -n ${p}v1 route add 10.12.0.0/24 encap ip id 10 dst 10.100.0.2 via 10.99.0.2 dev vxlan0 onlink || return 1
    ip -n ${p}v2 route add 10.11.0.0/24 encap ip id 10 dst 10.100.0.1 via 10.99.0.1 dev vxlan0 onlink || return 1
    ip -n ${p}v1 neigh add 10.99.0.2 lladdr 02:00:00:00:10:02 dev vxlan0 nud permanent
    ip -n ${p}v2 neigh add 10.99.0.1 lladdr 02:00:00:00:10:01 dev vxlan0 nud permanent
    DST[kernel]=10.12.0.1
}

setup_kbridge() {   # shared/bench/baselines/03-kernel-vxlan.sh bridged
    local p=bn-ov-b n loc rem
    base $p
    ip -n ${p}v1 addr add 10.100.0.1/24 dev u1
    ip -n ${p}v2 addr add 10.100.0.2/24 dev u2
    ip -n ${p}h1 addr add 10.10.0.1/24 dev eth0
    ip -n ${p}h2 addr add 10.10.0.2/24 dev eth0
    for n in 1 2; do
        loc=10.100.0.$n rem=10.100.0.$((3 - n))
        ip -n ${p}v$n link add vxlan10 type vxlan id 10 local $loc remote $rem dstport 4789 dev u$n || return 1
        ip -n ${p}v$n link add br0 type bridge
        ip -n ${p}v$n link set vxlan10 master br0
        ip -n ${p}v$n link set hv master br0
        ip -n ${p}v$n link set vxlan10 up
        ip -n ${p}v$n link set br0 up
    done
    DST[kbridge]=10.10.0.2
}

# fpd NS: flowpathd in NS, with FPD_ENV, FPD_ARGS and, for PROFILE=1, a CPU profile.
fpd() {
    local prof=()
    [ "$PROFILE" = 1 ] && prof=(--cpuprofile "$RAW/$1.pprof")
    # shellcheck disable=SC2086
    start_fpd "$1" $FPD_ENV "${prof[@]}" $FPD_ARGS
}

# flowpath_vteps P HOSTPORT [ULPORT]: flowpathd VTEPs in ${P}v1 and ${P}v2;
# HOSTPORT afpacket (the hosts' veth legs) or tap (flowpathd makes each
# host's eth0 as a TAP and the script moves it into the host); ULPORT
# afpacket (the u1-u2 veth, the default) or tap (flowpathd makes a TAP ut1,
# ut2 and the script bridges their kernel ends in ${P}u).
flowpath_vteps() {
    local p=$1 hp=$2 up=${3:-afpacket} n m c hnet rnet
    if [ "$hp" = tap ] || [ "$up" = tap ]; then
        ns_add "${p}h1" "${p}v1" "${p}v2" "${p}h2"
        if [ "$hp" != tap ]; then
            ip link add eth0 netns "${p}h1" type veth peer name hv netns "${p}v1"
            ip link add eth0 netns "${p}h2" type veth peer name hv netns "${p}v2"
            for n in 1 2; do
                ip -n "${p}h$n" link set eth0 up; ip -n "${p}v$n" link set hv up
            done
        fi
        if [ "$up" = tap ]; then
            ns_add "${p}u"
            # the bridge's namespace sends nothing of its own into the underlay
            ip netns exec "${p}u" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
            ip -n "${p}u" link add br0 type bridge && ip -n "${p}u" link set br0 up || return 1
        else
            ip link add u1 netns "${p}v1" mtu 1550 type veth peer name u2 netns "${p}v2" mtu 1550
            ip -n "${p}v1" link set u1 up
            ip -n "${p}v2" link set u2 up
        fi
    else
        base "$p"
    fi
    for n in 1 2; do
        m=$((3 - n)) c="$BIN/fpctl --socket $BIN/${p}v$n.sock"
        hnet=$((10 + n)) rnet=$((10 + m))
        # the VTEP namespace's kernel stays silent on flowpath's ports
        [ "$up" = tap ] || ip netns exec "${p}v$n" sysctl -qw "net.ipv6.conf.u$n.disable_ipv6=1"
        if [ "$VTEP_PIN" = 1 ]; then
            # shellcheck disable=SC2086
            FPD_ARGS="$FPD_ARGS --cpus $(((n - 1) % $(nproc)))" fpd "${p}v$n" || return 1
        else
            fpd "${p}v$n" || return 1
        fi
        if [ "$hp" = tap ]; then
            $c link add hv type tap ifname "t-h$n" || return 1
            ip -n "${p}v$n" link set "t-h$n" netns "${p}h$n" &&
                ip -n "${p}h$n" link set "t-h$n" name eth0 && ip -n "${p}h$n" link set eth0 up || return 1
        else
            ip netns exec "${p}v$n" sysctl -qw net.ipv6.conf.hv.disable_ipv6=1
            $c link add hv type afpacket ifname hv || return 1
        fi
        $c link set hv up && $c addr add 10.$hnet.0.254/24 dev hv || return 1
        if [ "$up" = tap ]; then
            $c link add u type tap ifname "ut$n" && $c link set u mtu 1550 || return 1
            ip -n "${p}v$n" link set "ut$n" netns "${p}u" &&
                ip -n "${p}u" link set "ut$n" mtu 1550 master br0 up || return 1
        else
            $c link add u type afpacket ifname u$n || return 1
        fi
        $c link set u up && $c addr add 10.100.0.$n/24 dev u || return 1
        $c link add vxlan0 address 02:00:00:00:10:0$n type vxlan external dstport 4789 &&
            $c link set vxlan0 up || return 1
        $c route add 10.$rnet.0.0/24 encap ip id 10 dst 10.100.0.$m via 10.99.0.$m dev vxlan0 onlink || return 1
        $c neigh add 10.99.0.$m lladdr 02:00:00:00:10:0$m dev vxlan0 nud permanent || return 1
    done
    routed_hosts "$p"
}
setup_flowpath() { flowpath_vteps bn-ov-f afpacket && DST[flowpath]=10.12.0.1; }
setup_ftap() { flowpath_vteps bn-ov-t tap && DST[ftap]=10.12.0.1; }
setup_fultap() { flowpath_vteps bn-ov-l afpacket tap && DST[fultap]=10.12.0.1; }
setup_ftaps() { flowpath_vteps bn-ov-s tap tap && DST[ftaps]=10.12.0.1; }
setup_fppoll() {
    local FPD_ARGS="$FPD_ARGS --rx-wait ppoll"
    flowpath_vteps bn-ov-p afpacket && DST[fppoll]=10.12.0.1
}
setup_funpinned() {
    local VTEP_PIN=0
    flowpath_vteps bn-ov-u afpacket && DST[funpinned]=10.12.0.1
}

setup_ovs() {   # shared/bench/baselines/04-ovs-userspace.sh vxlan
    local p=bn-ov-o n loc rem
    base $p
    ip -n ${p}h1 addr add 10.30.0.1/24 dev eth0
    ip -n ${p}h2 addr add 10.30.0.2/24 dev eth0
    # OVS without userspace TSO cannot take partial checksums / GSO frames
    ip netns exec ${p}h1 ethtool -K eth0 tx off >/dev/null
    ip netns exec ${p}h2 ethtool -K eth0 tx off >/dev/null
    for n in 1 2; do
        loc=10.100.0.$n rem=10.100.0.$((3 - n))
        ovs_start ${p}v$n ovtep$n || return 1
        vsctl ovtep$n add-br br-phy -- set bridge br-phy datapath_type=netdev
        vsctl ovtep$n add-port br-phy u$n
        vsctl ovtep$n add-br br-int -- set bridge br-int datapath_type=netdev
        vsctl ovtep$n add-port br-int hv
        vsctl ovtep$n add-port br-int vx0 -- set interface vx0 type=vxlan \
            options:remote_ip=$rem options:local_ip=$loc options:key=10 options:dst_port=4789
        ip -n ${p}v$n addr add $loc/24 dev br-phy
        ip -n ${p}v$n link set br-phy up
        ip -n ${p}v$n link set br-int up
        appctl ovtep$n ovs/route/add $rem/32 br-phy >/dev/null 2>&1 || true
    done
    # each side learns the other's underlay MAC from the ARP exchange
    ip netns exec ${p}v1 ping -c 2 -i 0.2 -W 1 10.100.0.2 >/dev/null 2>&1
    ip netns exec ${p}v2 ping -c 2 -i 0.2 -W 1 10.100.0.1 >/dev/null 2>&1
    DST[ovs]=10.30.0.2
}

for v in $VARIANTS; do
    case $v in
        kernel) p=bn-ov-k ;;
        kbridge) p=bn-ov-b ;;
        flowpath) p=bn-ov-f ;;
        ftap) p=bn-ov-t ;;
        fultap) p=bn-ov-l ;;
        ftaps) p=bn-ov-s ;;
        fppoll) p=bn-ov-p ;;
        funpinned) p=bn-ov-u ;;
        ovs)
            p=bn-ov-o
            if ! command -v ovs-vswitchd >/dev/null 2>&1; then
                echo "== ovs: not installed, the OVS row is RESULTS.md 4d (not measured here)"
                continue
            fi
            ;;
        *) echo "unknown variant $v" >&2; exit 2 ;;
    esac
    echo "== setting up $v"
    if ! "setup_$v"; then
        echo "   $v: setup failed, skipped"
        continue
    fi
    if ! pingcheck "${p}h1" "${DST[$v]}" && ! pingcheck "${p}h1" "${DST[$v]}"; then
        echo "   $v: h1 cannot ping h2 (${DST[$v]}), skipped"
        continue
    fi
    [ "$v" = ovs ] && HAVE_OVS=1
    CLIENT[$v]=${p}h1
    serve "$v" "${p}h2"
done
[ ${#ACTIVE[@]} -gt 0 ] || { echo "nothing to measure" >&2; exit 1; }

measure_all retransmits
if [ "$HAVE_OVS" = 1 ]; then
    OVS_TCP=${TCP[ovs]} OVS_UDP_RX=${RX[ovs]} ovsname="OVS userspace VXLAN"
else
    ovsname="OVS (RESULTS.md 4d)"
fi
for v in flowpath ftap fultap ftaps fppoll funpinned; do
    [ -n "${TCP[$v]:-}" ] || continue
    case $v in flowpath) p=bn-ov-f ;; ftap) p=bn-ov-t ;; fultap) p=bn-ov-l ;; ftaps) p=bn-ov-s ;; fppoll) p=bn-ov-p ;; funpinned) p=bn-ov-u ;; esac
    for n in 1 2; do
        echo "   flowpathd ${p}v$n drops: $("$BIN/fpctl" --socket "$BIN/${p}v$n.sock" -j stats 2>/dev/null |
            jq -c '[.. | objects | select(has("drops")) | .drops | objects | to_entries[] | select(.value > 0)] | from_entries' 2>/dev/null | head -c 400)"
    done
done

print_header "overlay (VXLAN vni 10): flowpath vs kernel vs OVS"
printf '%-30s %10s %12s %12s %8s %8s %14s\n' "path" "TCP Gbit/s" "UDP64 rx pps" "UDP64 tx pps" "loss %" "at host" "on the way"
for v in "${ACTIVE[@]}"; do
    case $v in
        kernel) name="kernel VXLAN lwt-external" ;;
        kbridge) name="kernel VXLAN bridged" ;;
        flowpath) name="flowpath VTEPs (afpacket)" ;;
        ftap) name="flowpath VTEPs (tap hosts)" ;;
        fultap) name="flowpath VTEPs (tap underlay)" ;;
        ftaps) name="flowpath VTEPs (all tap)" ;;
        fppoll) name="flowpath VTEPs (ppoll wait)" ;;
        funpinned) name="flowpath VTEPs (unpinned)" ;;
        ovs) name="OVS userspace VXLAN" ;;
    esac
    printf '%-30s %10s %12s %12s %8s %8s %14s\n' "$name" "${TCP[$v]}" "${RX[$v]}" "${TX[$v]}" "${LOSS[$v]}" "${HOSTLOSS[$v]}" "${WAYDG[$v]}"
done
if [ "$HAVE_OVS" = 0 ]; then
    printf '%-30s %10s %12s %12s %8s %8s %14s\n' "$ovsname" "$OVS_TCP" "$OVS_UDP_RX" "-" "-" "-" "-"
    echo "   (the OVS row is NOT measured by this run: shared/bench/baselines/RESULTS.md row 4d)"
fi
echo
printf '%-44s %8s %10s %8s   %s\n' "ratio" "TCP" "UDP64 rx" "target" "TCP run by run: median (range)"
for v in flowpath ftap fultap ftaps fppoll funpinned; do
    [ -n "${TCP[$v]:-}" ] || continue
    [ -n "${TCP[kernel]:-}" ] &&
        printf '%-44s %8s %10s %8s   %s\n' "$v / kernel VXLAN lwt-external" "$(ratio "${TCP[$v]}" "${TCP[kernel]}")" "$(ratio "${RX[$v]}" "${RX[kernel]}")" ">= 0.6" "$(run_ratios "$v" kernel)"
    [ -n "${TCP[kbridge]:-}" ] &&
        printf '%-44s %8s %10s %8s\n' "$v / kernel VXLAN bridged" "$(ratio "${TCP[$v]}" "${TCP[kbridge]}")" "$(ratio "${RX[$v]}" "${RX[kbridge]}")" ""
    printf '%-44s %8s %10s %8s\n' "$v / $ovsname" "$(ratio "${TCP[$v]}" "$OVS_TCP")" "$(ratio "${RX[$v]}" "$OVS_UDP_RX")" ">= 5"
done
echo "raw iperf3 JSON and flowpathd logs: $RAW"
