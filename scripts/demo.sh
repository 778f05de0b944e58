#!/usr/bin/env bash
# flowpath's main job on a built-in default topology: two hosts in network
# namespaces, routed by flowpathd over AF_PACKET ports, IPv4 and IPv6.
#
#   fpdemo-h1 (10.1.0.1, fd00:1::1)          fpdemo-h2 (10.2.0.1, fd00:2::1)
#        eth0 ──veth── r-h1 [ flowpathd ] r-h2 ──veth── eth0
#                         h1: 10.1.0.254   h2: 10.2.0.254
#                           fd00:1::254      fd00:2::254
#
# It builds flowpathd and fpctl, configures the router with fpctl, shows
# ping, iperf3, route get, neighbours and counters, then removes everything.
# Run as root. KEEP=1 leaves the topology up (remove it with KEEP=0 ... clean).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "demo: run as root" >&2; exit 1; }

need=()
for t in iperf3:iperf3 ping:iputils-ping ip:iproute2; do command -v "${t%%:*}" >/dev/null || need+=("${t#*:}"); done
if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

bin=$(mktemp -d /tmp/fpdemo.XXXXXX)
sock=$bin/flowpathd.sock
fpd_pid= ; iperf_pid=
cleanup() {
    [ -n "$iperf_pid" ] && kill "$iperf_pid" 2>/dev/null || true
    if [ -n "$fpd_pid" ]; then kill "$fpd_pid" 2>/dev/null || true; wait "$fpd_pid" 2>/dev/null || true; fi
    for n in fpdemo-h1 fpdemo-r fpdemo-h2; do ip netns del "$n" 2>/dev/null || true; done
    rm -rf "$bin"
}
[ "${1:-}" = clean ] && { cleanup; exit 0; }
[ "${KEEP:-0}" = 1 ] || trap cleanup EXIT

echo "== building flowpathd and fpctl"
go build -o "$bin/flowpathd" ./cmd/flowpathd
go build -o "$bin/fpctl" ./cmd/fpctl

echo "== topology: fpdemo-h1 — fpdemo-r (flowpathd) — fpdemo-h2"
for n in fpdemo-h1 fpdemo-r fpdemo-h2; do ip netns del "$n" 2>/dev/null || true; ip netns add "$n"; ip -n "$n" link set lo up; done
ip link add eth0 netns fpdemo-h1 type veth peer name r-h1 netns fpdemo-r
ip link add eth0 netns fpdemo-h2 type veth peer name r-h2 netns fpdemo-r
for i in r-h1 r-h2; do
    # The kernel side of the router's veths carries no addresses: flowpath
    # owns them. IPv6 off so the kernel does not answer ND there itself.
    ip netns exec fpdemo-r sysctl -qw "net.ipv6.conf.$i.disable_ipv6=1"
    ip -n fpdemo-r link set "$i" up
done
for h in 1 2; do
    ns=fpdemo-h$h
    ip -n $ns addr add 10.$h.0.1/24 dev eth0
    ip -n $ns addr add fd00:$h::1/64 dev eth0 nodad
    ip -n $ns link set eth0 up
    ip -n $ns route add default via 10.$h.0.254
    ip -n $ns -6 route add default via fd00:$h::254
done

echo "== starting flowpathd in fpdemo-r"
ip netns exec fpdemo-r "$bin/flowpathd" --socket "$sock" 2>"$bin/flowpathd.log" &
fpd_pid=$!
for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
fpctl() { echo "# fpctl $*"; ip netns exec fpdemo-r "$bin/fpctl" --socket "$sock" "$@"; }

fpctl link add h1 type afpacket ifname r-h1
fpctl link add h2 type afpacket ifname r-h2
fpctl link set h1 up
fpctl link set h2 up
fpctl addr add 10.1.0.254/24 dev h1
fpctl addr add fd00:1::254/64 dev h1
fpctl addr add 10.2.0.254/24 dev h2
fpctl addr add fd00:2::254/64 dev h2
fpctl route add 10.99.0.0/24 via 10.2.0.1
fpctl route add unreachable 10.98.0.0/24
fpctl -4 route show
fpctl -6 route show

echo "== ping through flowpath"
ip netns exec fpdemo-h1 ping -c 3 -i 0.2 10.2.0.1
ip netns exec fpdemo-h1 ping -6 -c 3 -i 0.2 fd00:2::1
echo "== a probe with TTL 1 gets time exceeded from the router"
ip netns exec fpdemo-h1 ping -c 1 -t 1 10.2.0.1 || true
echo "== an unreachable route answers with ICMP"
ip netns exec fpdemo-h1 ping -c 1 -W 1 10.98.0.1 || true

echo "== iperf3 TCP through flowpath (5 s)"
ip netns exec fpdemo-h2 iperf3 -s -p 5201 >/dev/null 2>&1 &
iperf_pid=$!
sleep 0.5
ip netns exec fpdemo-h1 iperf3 -c 10.2.0.1 -p 5201 -t 5 | tail -4

fpctl route get 10.2.0.1 from 10.1.0.1 iif h1
fpctl neigh show
fpctl stats
echo "== done (flowpathd log: $bin/flowpathd.log)"
