//go:build netns

package tests

import (
	"encoding/json"
	"flowpath/internal/sys"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Tunnels on real namespaces (topology in tunnel_topo_test.go): flowpath
// against the kernel's own VXLAN in both modes, and flowpath against
// flowpath over VXLAN, Geneve and MPLS. Each test pings both ways, moves
// TCP both ways with iperf3, and has tshark decode what crosses the
// underlay.
//
// Host addresses: host A 10.31.0.1 behind VTEP A (10.31.0.254), host B
// 10.32.0.1 behind VTEP B (10.32.0.254), except where host B sits on the
// overlay itself (the kernel's bridged VXLAN).

const (
	hostA = "10.31.0.1"
	hostB = "10.32.0.1"
)

// TestKernelVXLANClassic: a flowpath VTEP with a classic VXLAN device and
// an address on the overlay, against a kernel VTEP whose vxlan10 is
// bridged with host B's leg (shared/bench/baselines/03 "bridged"):
//
//	host A 10.31.0.1 ─ [flowpath: vx10 10.20.0.1/24] ═ vni 10 ═ [kernel: br0{vxlan10, h}] ─ host B 10.20.0.2
func TestKernelVXLANClassic(t *testing.T) {
	tn := newTunNet(t, vtepFlowpath, vtepKernel)
	a, b := tn.a, tn.b
	tn.bridgedVXLAN10()
	tn.host(tn.hb, "10.20.0.2/24", "10.20.0.1")

	// The overlay keeps 1500 over the 1550 underlay (1550 - 50).
	if mtu := a.fp.mtu("vx10"); mtu != 1500 {
		t.Errorf("vx10 mtu %d, want 1500", mtu)
	}
	tn.mustPing(tn.ha, "10.20.0.2", 3)
	tn.mustPing(tn.hb, hostA, 3)
	tn.checkTunnelPing(tunWire{proto: "vxlan", vni: 10, capNS: b.ns, capIf: "u2",
		srcNS: tn.ha, src: hostA, dst: "10.20.0.2", ttlAB: 63, ttlBA: 64, fpA: true, udpCsum: true})

	tn.checkTunnelTCP(tunWire{proto: "vxlan", vni: 10, capNS: b.ns, capIf: "u2",
		srcNS: tn.ha, src: hostA, dst: "10.20.0.2", dstNS: tn.hb, fpA: true, udpCsum: true})
	tn.mustIperf(tn.hb, tn.ha, hostA)
	tn.logRxFrameSize(a.fp, "u1")

	// IPv6 in the same overlay: neighbour discovery through the tunnel
	// (host B's multicast solicitations flooded to flowpath), and TCPv6
	// super-frames from the kernel VTEP decapsulated whole.
	a.fp.ctl("addr", "add", "fd00:31::254/64", "dev", "h")
	a.fp.ctl("addr", "add", "fd00:20::1/64", "dev", "vx10")
	tn.host6(tn.ha, "fd00:31::1/64", "fd00:31::254")
	tn.host6(tn.hb, "fd00:20::2/64", "fd00:20::1")
	tn.mustPing(tn.ha, "fd00:20::2", 3)
	tn.mustPing(tn.hb, "fd00:31::1", 3)
	tn.mustIperf(tn.hb, tn.ha, "fd00:31::1") // the kernel's TCPv6 super-frames, decapsulated by flowpath
}

// TestKernelVXLANTapUnderlay: the classic interop of TestKernelVXLANClassic
// with a TAP as flowpath's underlay port (newTunNetTap). A TAP on Linux
// 6.17 and later takes UDP-tunnel GSO, so flowpath hands the kernel each
// TCP super-frame from host A as one VXLAN datagram around all of it, and
// the kernel cuts or decapsulates it: tshark on the kernel's end sees
// frames far above the underlay MTU whose outer IP length covers the whole
// frame, VNI 10 and the inner TCP to iperf3; the other way, the TAP hands
// flowpath the kernel's super-frames whole. On older kernels the TAP
// takes USO frames instead, and only ping and iperf3 are checked.
func TestKernelVXLANTapUnderlay(t *testing.T) {
	tn := newTunNetTap(t)
	tn.bridgedVXLAN10()
	tn.host(tn.hb, "10.20.0.2/24", "10.20.0.1")
	tn.mustPing(tn.ha, "10.20.0.2", 3)
	tn.mustPing(tn.hb, hostA, 3)

	c := tn.tshark(tn.b.ns, "u2", "udp port 4789 and src host "+ulA+" and greater 1600", 20,
		"frame.len", "ip.len", "vxlan.vni", "tcp.dstport", "ip.checksum.status")
	tn.mustIperf(tn.ha, tn.hb, "10.20.0.2")
	tn.checkWholeTunnelFrames(c, "on the TAP")
	// The other way the kernel hands the TAP its VXLAN super-frames
	// whole (the TAP reads them with UDP-tunnel GSO on), and flowpath
	// decapsulates them whole.
	tn.mustIperf(tn.hb, tn.ha, hostA)
	if mean := tn.logRxFrameSize(tn.a.fp, "u1"); sys.KernelAtLeast(6, 17) && mean <= 1600 {
		t.Errorf("u1 received frames of %d bytes on average: the kernel's super-frames did not come whole", mean)
	}
}

// TestFlowpathVXLANTapUnderlay: two flowpathd with flow-based VXLAN
// (`encap ip id 10` routes, as bench/overlay.sh) whose underlay ports are
// TAPs bridged by a kernel (newTunNetTapPair). Ping and iperf3 pass both
// ways; where the kernel takes UDP-tunnel GSO on a TAP, every large frame
// on the bridge is one VXLAN datagram around a whole TCP super-frame, and
// the receiving VTEP reads them whole.
func TestFlowpathVXLANTapUnderlay(t *testing.T) {
	tn := newTunNetTapPair(t)
	for i, v := range []*vtep{tn.a, tn.b} {
		other := []*vtep{tn.b, tn.a}[i]
		me, peer := []string{"1", "2"}[i], []string{"2", "1"}[i]
		v.fp.ctl("link", "add", "vxlan0", "address", "02:00:00:00:10:0"+me, "type", "vxlan", "external", "dstport", "4789")
		v.fp.ctl("link", "set", "vxlan0", "up")
		v.fp.ctl("route", "add", []string{"10.32.0.0/24", "10.31.0.0/24"}[i], "encap", "ip", "id", "10",
			"dst", other.ul, "via", "10.99.0."+peer, "dev", "vxlan0", "onlink")
		v.fp.ctl("neigh", "add", "10.99.0."+peer, "lladdr", "02:00:00:00:10:0"+peer, "dev", "vxlan0", "nud", "permanent")
	}
	tn.bothWays()
	tunnelGSO := sys.KernelAtLeast(6, 17)
	for _, dir := range []struct {
		from, to, dst, src string
		rx                 *vtep
	}{{tn.ha, tn.hb, hostB, ulA, tn.b}, {tn.hb, tn.ha, hostA, ulB, tn.a}} {
		c := tn.tshark(tn.underlayNS, dir.rx.u, "udp port 4789 and src host "+dir.src+" and greater 1600", 20,
			"frame.len", "ip.len", "vxlan.vni", "tcp.dstport")
		tn.mustIperf(dir.from, dir.to, dir.dst)
		tn.checkWholeTunnelFrames(c, "towards "+dir.rx.ns)
		if mean := tn.logRxFrameSize(dir.rx.fp, dir.rx.u); tunnelGSO && mean <= 1600 {
			t.Errorf("%s received frames of %d bytes on average: the super-frames did not come whole", dir.rx.u, mean)
		}
	}
}

// checkWholeTunnelFrames checks the VXLAN frames above 1600 bytes c
// caught (fields frame.len, ip.len, vxlan.vni, tcp.dstport, optionally
// ip.checksum.status): each is VNI 10 around TCP to port 5201, with a good
// outer IP checksum where that was captured; and where the kernel takes
// UDP-tunnel GSO on a TAP (Linux 6.17), all of them, at least 20, are one
// datagram around a whole super-frame. (A USO frame's first header covers
// its first datagram only.)
func (tn *tunNet) checkWholeTunnelFrames(c *capture, where string) {
	tn.t.Helper()
	rows := c.rows()
	whole := 0
	for _, r := range rows {
		frameLen, _ := strconv.Atoi(field(r, "frame.len", 0))
		outer, _ := strconv.Atoi(field(r, "ip.len", 0))
		inner, _ := strconv.Atoi(field(r, "ip.len", 1))
		sum := field(r, "ip.checksum.status", 0)
		if field(r, "vxlan.vni", 0) != "10" || field(r, "tcp.dstport", 0) != "5201" || inner == 0 ||
			(sum != "" && sum != "1") {
			tn.t.Errorf("large VXLAN frame %s: want VNI 10 around TCP to 5201 (outer IP checksum good): %v", where, r)
		}
		if outer == frameLen-14 && inner == outer-20-8-8-14 {
			whole++
		}
	}
	tunnelGSO := sys.KernelAtLeast(6, 17)
	tn.t.Logf("%d of %d frames above 1600 bytes %s were whole UDP-tunnel GSO datagrams (kernel takes them: %v)",
		whole, len(rows), where, tunnelGSO)
	if tunnelGSO && (len(rows) < 20 || whole != len(rows)) {
		tn.t.Errorf("%d of %d large frames %s were UDP-tunnel GSO super-frames, want all of 20:\n%s", whole, len(rows), where, c.output())
	}
}

// TestKernelVXLANFragmentedUnderlay: the classic interop with the underlay
// lowered to MTU 1500 after the kernel's vxlan10 took its MTU (1500) from
// the 1550 one, a common misconfiguration: every full-size packet from the
// kernel VTEP crosses the underlay in two fragments (its VXLAN leaves DF
// off the outer header), which flowpath must reassemble before
// decapsulating. flowpath's vx10 follows the underlay (1450) and cuts the
// inner packets the other way instead. Full-size pings pass both ways, and
// flowpath refuses none of the fragments.
func TestKernelVXLANFragmentedUnderlay(t *testing.T) {
	tn := newTunNet(t, vtepFlowpath, vtepKernel)
	a, b := tn.a, tn.b
	tn.bridgedVXLAN10()
	tn.host(tn.hb, "10.20.0.2/24", "10.20.0.1")
	tn.must("ip", "-n", a.ns, "link", "set", "u1", "mtu", "1500")
	a.fp.ctl("link", "set", "u1", "mtu", "1500")
	tn.must("ip", "-n", b.ns, "link", "set", "u2", "mtu", "1500")
	if out := tn.must("ip", "-n", b.ns, "link", "show", "vxlan10"); !strings.Contains(out, "mtu 1500 ") {
		t.Fatalf("the kernel's vxlan10 did not keep MTU 1500:\n%s", out)
	}
	tn.mustPing(tn.ha, "10.20.0.2", 2) // neighbours resolved with small packets first
	for _, c := range []struct{ from, to string }{{tn.hb, hostA}, {tn.ha, "10.20.0.2"}} {
		// 1472 bytes of ICMP data: a 1500-byte inner packet, a 1550-byte
		// outer one; -M dont: the inner packet may not be cut instead.
		if out, ok := tn.ping(c.from, "-c", "3", "-i", "0.2", "-W", "3", "-s", "1472", "-M", "dont", c.to); !ok {
			t.Fatalf("full-size ping %s -> %s through a fragmenting underlay lost packets:\n%s\n%s", c.from, c.to, out, tn.stats())
		}
	}
	for name, n := range a.fp.drops() {
		if strings.HasPrefix(name, "reasm_") {
			t.Errorf("flowpath dropped %d fragments (%s)", n, name)
		}
	}
}

// bridgedVXLAN10 sets up the classic VXLAN (VNI 10) between flowpath
// VTEP A and kernel VTEP B, over whichever underlay newTunNet or
// newTunNet6 made: vx10 on A with 10.20.0.1/24 and host A routed behind
// it, vxlan10 on B bridged (br0) with host B's leg. Host B's address is
// the test's.
func (tn *tunNet) bridgedVXLAN10() {
	tn.t.Helper()
	a, b := tn.a, tn.b
	a.fp.ctl("link", "add", "vx10", "type", "vxlan", "id", "10", "remote", b.ul, "local", a.ul, "dstport", "4789", "dev", a.u)
	a.fp.ctl("link", "set", "vx10", "up")
	a.fp.ctl("addr", "add", "10.20.0.1/24", "dev", "vx10")
	a.fp.ctl("addr", "add", "10.31.0.254/24", "dev", "h")
	tn.host(tn.ha, hostA+"/24", "10.31.0.254")

	tn.must("ip", "-n", b.ns, "link", "add", "vxlan10", "type", "vxlan", "id", "10", "local", b.ul, "remote", a.ul,
		"dstport", "4789", "dev", b.u)
	tn.must("ip", "-n", b.ns, "link", "add", "br0", "type", "bridge")
	tn.must("ip", "-n", b.ns, "link", "set", "vxlan10", "master", "br0")
	tn.must("ip", "-n", b.ns, "link", "set", "dev", "h", "master", "br0")
	tn.must("ip", "-n", b.ns, "link", "set", "vxlan10", "up")
	tn.must("ip", "-n", b.ns, "link", "set", "br0", "up")
}

// TestKernelVXLANExternal: flow-based VXLAN on both sides, the tunnel
// chosen per route (shared/bench/baselines/03 "lwt"):
//
//	host A ─ [flowpath: vxlan0 external] ═ encap ip id 10 ═ [kernel: vxlan0 external, ip_forward] ─ host B
func TestKernelVXLANExternal(t *testing.T) {
	tn := newTunNet(t, vtepFlowpath, vtepKernel)
	a, b := tn.a, tn.b
	a.fp.ctl("addr", "add", "10.31.0.254/24", "dev", "h")
	a.fp.ctl("link", "add", "vxlan0", "address", "02:00:00:00:10:01", "type", "vxlan", "external", "dstport", "4789")
	a.fp.ctl("link", "set", "vxlan0", "up")
	a.fp.ctl("route", "add", "10.32.0.0/24", "encap", "ip", "id", "10", "dst", ulB, "via", "10.99.0.2", "dev", "vxlan0", "onlink")
	a.fp.ctl("neigh", "add", "10.99.0.2", "lladdr", "02:00:00:00:10:02", "dev", "vxlan0", "nud", "permanent")
	tn.host(tn.ha, hostA+"/24", "10.31.0.254")

	tn.must("ip", "netns", "exec", b.ns, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	tn.must("ip", "-n", b.ns, "addr", "add", "10.32.0.254/24", "dev", "h")
	tn.must("ip", "-n", b.ns, "link", "add", "vxlan0", "address", "02:00:00:00:10:02", "type", "vxlan", "external", "dstport", "4789")
	tn.must("ip", "-n", b.ns, "link", "set", "vxlan0", "up")
	// The kernel resolves the overlay next hop only from a static
	// neighbour: its ARP through a collect-md device has no metadata.
	tn.must("ip", "-n", b.ns, "route", "add", "10.31.0.0/24", "encap", "ip", "id", "10", "dst", ulA,
		"via", "10.99.0.1", "dev", "vxlan0", "onlink")
	tn.must("ip", "-n", b.ns, "neigh", "add", "10.99.0.1", "lladdr", "02:00:00:00:10:01", "dev", "vxlan0", "nud", "permanent")
	tn.host(tn.hb, hostB+"/24", "10.32.0.254")

	tn.mustPing(tn.ha, hostB, 3)
	tn.mustPing(tn.hb, hostA, 3)
	tn.checkTunnelPing(tunWire{proto: "vxlan", vni: 10, capNS: b.ns, capIf: "u2",
		srcNS: tn.ha, src: hostA, dst: hostB, ttlAB: 63, ttlBA: 63, fpA: true})

	tn.checkTunnelTCP(tunWire{proto: "vxlan", vni: 10, capNS: b.ns, capIf: "u2",
		srcNS: tn.ha, src: hostA, dst: hostB, dstNS: tn.hb, fpA: true})
	tn.mustIperf(tn.hb, tn.ha, hostA)
	tn.logRxFrameSize(a.fp, "u1")
}

// TestKernelVXLANIPv6Underlay: the classic interop of TestKernelVXLANClassic
// over an IPv6 underlay (vx10's MTU is then 1550 - 70 = 1480; host B, on
// the kernel's bridge, gets the same). tshark decodes the outer IPv6
// header, the VNI and the inner echo.
func TestKernelVXLANIPv6Underlay(t *testing.T) {
	tn := newTunNet6(t, vtepFlowpath, vtepKernel)
	a := tn.a
	tn.bridgedVXLAN10()
	tn.must("ip", "-n", tn.hb, "link", "set", "dev", "eth0", "mtu", "1480")
	tn.host(tn.hb, "10.20.0.2/24", "10.20.0.1")
	if mtu := a.fp.mtu("vx10"); mtu != 1480 {
		t.Errorf("vx10 mtu %d, want 1480", mtu)
	}
	tn.mustPing(tn.ha, "10.20.0.2", 3)
	tn.mustPing(tn.hb, hostA, 3)

	fields := []string{"ipv6.src", "ipv6.dst", "udp.dstport", "udp.checksum.status", "vxlan.vni", "ip.src", "ip.dst", "icmp.type"}
	wait := tn.capWire("udp port 4789 and greater 120", 2, 2, fields...)
	tn.mustPing(tn.ha, "10.20.0.2", 2)
	rows, capOut := wait()
	var req, rep int
	for _, r := range rows {
		switch {
		case field(r, "icmp.type", 0) == "8" && field(r, "ipv6.src", 0) == ul6A && field(r, "ipv6.dst", 0) == ul6B &&
			field(r, "ip.src", 0) == hostA && field(r, "udp.checksum.status", 0) == "1":
			req++ // flowpath's: the UDP checksum IPv6 requires, complete
		case field(r, "icmp.type", 0) == "0" && field(r, "ipv6.src", 0) == ul6B && field(r, "ipv6.dst", 0) == ul6A &&
			field(r, "ip.dst", 0) == hostA:
			rep++
		default:
			t.Errorf("unexpected frame: %v", r)
			continue
		}
		if field(r, "vxlan.vni", 0) != "10" || field(r, "udp.dstport", 0) != "4789" {
			t.Errorf("frame: want VNI 10 to port 4789: %v", r)
		}
	}
	if req != 2 || rep != 2 {
		t.Errorf("tshark decoded %d echo requests and %d replies over IPv6, want 2 each:\n%s", req, rep, capOut)
	}
	tn.mustIperf(tn.ha, tn.hb, "10.20.0.2")
	tn.mustIperf(tn.hb, tn.ha, hostA)
}

// flowpathPair is two flowpath VTEPs with their hosts addressed and the
// given overlay set up by each side's commands.
func flowpathPair(t *testing.T) *tunNet {
	tn := newTunNet(t, vtepFlowpath, vtepFlowpath)
	tn.a.fp.ctl("addr", "add", "10.31.0.254/24", "dev", "h")
	tn.b.fp.ctl("addr", "add", "10.32.0.254/24", "dev", "h")
	tn.host(tn.ha, hostA+"/24", "10.31.0.254")
	tn.host(tn.hb, hostB+"/24", "10.32.0.254")
	return tn
}

// bothWays pings in both directions between the hosts. The very first
// echo needs every neighbour on the way resolved (host, overlay and
// underlay, on both VTEPs): that takes milliseconds, not a solicitation
// retransmission (one second).
func (tn *tunNet) bothWays() {
	tn.t.Helper()
	out, ok := tn.ping(tn.ha, "-c", "1", "-W", "3", hostB)
	m := regexp.MustCompile(`time=([0-9.]+) ms`).FindStringSubmatch(out)
	if !ok || m == nil {
		tn.t.Fatalf("first ping %s lost:\n%s\n%s", hostB, out, tn.stats())
	}
	if ms, _ := strconv.ParseFloat(m[1], 64); ms > 500 {
		tn.t.Errorf("first ping %s took %s ms: resolution waited for a retransmission\n%s", hostB, m[1], out)
	}
	tn.mustPing(tn.ha, hostB, 3)
	tn.mustPing(tn.hb, hostA, 3)
}

// TestFlowpathVXLAN: two flowpathd, classic VXLAN devices with overlay
// addresses and plain routes through them.
func TestFlowpathVXLAN(t *testing.T) {
	tn := flowpathPair(t)
	for i, v := range []*vtep{tn.a, tn.b} {
		other := []*vtep{tn.b, tn.a}[i]
		v.fp.ctl("link", "add", "vx10", "type", "vxlan", "id", "10", "remote", other.ul, "local", v.ul, "dstport", "4789", "dev", v.u)
		v.fp.ctl("link", "set", "vx10", "up")
		v.fp.ctl("addr", "add", []string{"10.20.0.1/24", "10.20.0.2/24"}[i], "dev", "vx10")
	}
	tn.a.fp.ctl("route", "add", "10.32.0.0/24", "via", "10.20.0.2")
	tn.b.fp.ctl("route", "add", "10.31.0.0/24", "via", "10.20.0.1")
	tn.bothWays()
	tn.checkTunnelPing(tunWire{proto: "vxlan", vni: 10, capNS: tn.b.ns, capIf: "u2",
		srcNS: tn.ha, src: hostA, dst: hostB, ttlAB: 63, ttlBA: 63, fpA: true, fpB: true, udpCsum: true})
	tn.checkTunnelTCP(tunWire{proto: "vxlan", vni: 10, capNS: tn.b.ns, capIf: "u2",
		srcNS: tn.ha, src: hostA, dst: hostB, dstNS: tn.hb, fpA: true, fpB: true, udpCsum: true})
	tn.mustIperf(tn.hb, tn.ha, hostA)
}

// TestFlowpathGeneve: two flowpathd over Geneve, classic devices (one
// remote, one VNI) and flow-based devices with `encap ip id 5 dst ...
// geneve_opts ...` routes, each side sending its own option.
func TestFlowpathGeneve(t *testing.T) {
	t.Run("classic", func(t *testing.T) {
		tn := flowpathPair(t)
		for i, v := range []*vtep{tn.a, tn.b} {
			other := []*vtep{tn.b, tn.a}[i]
			v.fp.ctl("link", "add", "gnv0", "type", "geneve", "id", "5", "remote", other.ul)
			v.fp.ctl("link", "set", "gnv0", "up")
			v.fp.ctl("addr", "add", []string{"10.97.0.1/24", "10.97.0.2/24"}[i], "dev", "gnv0")
		}
		tn.a.fp.ctl("route", "add", "10.32.0.0/24", "via", "10.97.0.2")
		tn.b.fp.ctl("route", "add", "10.31.0.0/24", "via", "10.97.0.1")
		tn.bothWays()
		tn.checkTunnelPing(tunWire{proto: "geneve", vni: 5, capNS: tn.b.ns, capIf: "u2",
			srcNS: tn.ha, src: hostA, dst: hostB, ttlAB: 63, ttlBA: 63, fpA: true, fpB: true})
		tn.checkTunnelTCP(tunWire{proto: "geneve", vni: 5, capNS: tn.b.ns, capIf: "u2",
			srcNS: tn.ha, src: hostA, dst: hostB, dstNS: tn.hb, fpA: true, fpB: true})
		tn.mustIperf(tn.hb, tn.ha, hostA)
	})
	t.Run("external", func(t *testing.T) {
		tn := flowpathPair(t)
		opts := []geneveOpt{{0x0102, 0x01, "00010203"}, {0xffff, 0x22, "0a0b0c0d0e0f1011"}}
		for i, v := range []*vtep{tn.a, tn.b} {
			other := []*vtep{tn.b, tn.a}[i]
			me, peer := []string{"01", "02"}[i], []string{"02", "01"}[i]
			o := opts[i]
			v.fp.ctl("link", "add", "gnv0", "address", "02:00:00:00:97:"+me, "type", "geneve", "external")
			// The overlay MTU leaves room for the option in the 1550
			// underlay (20 + 8 + 8 + 14 + option): flowpath does not
			// reassemble outer fragments, so nothing may need them.
			v.fp.ctl("link", "set", "gnv0", "mtu", strconv.Itoa(1500-4-len(o.data)/2), "up")
			dst := []string{"10.32.0.0/24", "10.31.0.0/24"}[i]
			v.fp.ctl("route", "add", dst, "encap", "ip", "id", "5", "dst", other.ul, "geneve_opts", o.String(),
				"via", "10.98.0."+strings.TrimLeft(peer, "0"), "dev", "gnv0", "onlink")
			v.fp.ctl("neigh", "add", "10.98.0."+strings.TrimLeft(peer, "0"), "lladdr", "02:00:00:00:97:"+peer,
				"dev", "gnv0", "nud", "permanent")
		}
		tn.bothWays()
		tn.checkTunnelPing(tunWire{proto: "geneve", vni: 5, capNS: tn.b.ns, capIf: "u2",
			srcNS: tn.ha, src: hostA, dst: hostB, ttlAB: 63, ttlBA: 63, fpA: true, fpB: true,
			optA: &opts[0], optB: &opts[1]})
		tn.checkTunnelTCP(tunWire{proto: "geneve", vni: 5, capNS: tn.b.ns, capIf: "u2",
			srcNS: tn.ha, src: hostA, dst: hostB, dstNS: tn.hb, fpA: true, fpB: true, optA: &opts[0]})
		tn.mustIperf(tn.hb, tn.ha, hostA)
	})
}

// TestFlowpathMPLS: two flowpathd over MPLS. Each pushes a label with a
// route `encap mpls L via <peer> dev u`, and the other pops it with a
// label route `-f mpls route add L via inet <host> dev h` (penultimate
// hop popping straight to the host).
func TestFlowpathMPLS(t *testing.T) {
	tn := flowpathPair(t)
	tn.a.fp.ctl("route", "add", "10.32.0.0/24", "encap", "mpls", "200", "via", ulB, "dev", "u1")
	tn.b.fp.ctl("-f", "mpls", "route", "add", "200", "via", "inet", hostB, "dev", "h")
	tn.b.fp.ctl("route", "add", "10.31.0.0/24", "encap", "mpls", "300", "via", ulA, "dev", "u2")
	tn.a.fp.ctl("-f", "mpls", "route", "add", "300", "via", "inet", hostA, "dev", "h")
	tn.bothWays()

	fields := []string{"eth.type", "mpls.label", "mpls.bottom", "mpls.ttl", "ip.src", "ip.dst", "ip.ttl", "icmp.type",
		"ip.checksum.status", "icmp.checksum.status"}
	wait := tn.capWire("mpls", 2, 2, fields...)
	tn.mustPing(tn.ha, hostB, 2)
	rows, capOut := wait()
	var req, rep int
	for _, r := range rows {
		// The label's TTL is the IP TTL after this hop's decrement (the
		// kernel's ip_ttl_propagate), and the inner header is intact.
		label, ttl := field(r, "mpls.label", 0), field(r, "mpls.ttl", 0)
		if field(r, "mpls.bottom", 0) != "1" || len(r["mpls.label"]) != 1 || ttl != "63" || field(r, "ip.ttl", 0) != "63" ||
			field(r, "ip.checksum.status", 0) != "1" || field(r, "icmp.checksum.status", 0) != "1" {
			t.Errorf("labelled frame: want one label, bottom of stack, label and IP TTL 63, good checksums: %v", r)
		}
		switch {
		case field(r, "icmp.type", 0) == "8" && label == "200" && field(r, "ip.src", 0) == hostA && field(r, "ip.dst", 0) == hostB:
			req++
		case field(r, "icmp.type", 0) == "0" && label == "300" && field(r, "ip.src", 0) == hostB && field(r, "ip.dst", 0) == hostA:
			rep++
		default:
			t.Errorf("unexpected labelled frame: %v", r)
		}
	}
	if req != 2 || rep != 2 {
		t.Errorf("tshark decoded %d echo requests under label 200 and %d replies under 300, want 2 each:\n%s", req, rep, capOut)
	}

	// TCP: every frame on the wire is a labelled segment (flowpath cut
	// the host's super-frames before labelling them) within the underlay
	// MTU, its TCP checksum good or left to offload.
	c := tn.tshark(tn.b.ns, "u2", "mpls and greater 1000", 20, "frame.len", "mpls.label", "mpls.bottom",
		"tcp.dstport", "ip.checksum.status", "ip.src", "ip.dst", "ip.len", "ip.hdr_len", "tcp.checksum", "tcp.checksum.status")
	tn.mustIperf(tn.ha, tn.hb, hostB)
	rows = c.rows()
	if len(rows) < 20 {
		t.Errorf("tshark saw %d large labelled frames during iperf3, want 20:\n%s", len(rows), c.output())
	}
	var good int
	for _, r := range rows {
		if n, _ := strconv.Atoi(field(r, "frame.len", 0)); n > 14+1550 || field(r, "mpls.label", 0) != "200" ||
			field(r, "mpls.bottom", 0) != "1" || field(r, "tcp.dstport", 0) != "5201" ||
			field(r, "ip.checksum.status", 0) != "1" || !tcpChecksumOK(r) {
			t.Errorf("labelled TCP segment: want label 200, port 5201, good or offloaded checksums, <= 1564 bytes: %v", r)
		}
		if field(r, "tcp.checksum.status", 0) == "1" {
			good++
		}
	}
	t.Logf("%d of %d labelled TCP segments with a complete checksum, the rest left to offload", good, len(rows))
	tn.mustIperf(tn.hb, tn.ha, hostA)
}

// geneveOpt is one Geneve option as geneve_opts writes it.
type geneveOpt struct {
	class uint16
	typ   uint8
	data  string // hex
}

func (o geneveOpt) String() string {
	return "0x" + strconv.FormatUint(uint64(o.class), 16) + ":0x" + strconv.FormatUint(uint64(o.typ), 16) + ":" + o.data
}

// tunWire says what a tunnel between the VTEPs looks like on the wire.
type tunWire struct {
	proto        string // "vxlan" or "geneve"
	vni          uint64
	capNS, capIf string // where tshark listens (the underlay)
	srcNS        string // the host that pings (or sends TCP)
	src, dst     string // its address and the peer host's
	dstNS        string // the peer host (TCP)
	ttlAB, ttlBA int    // inner TTL on the wire of requests (A to B) and replies
	fpA, fpB     bool   // which VTEPs are flowpath: their frames are checked in full
	optA, optB   *geneveOpt
	// udpCsum: the outer UDP checksum is filled (tshark "Good"), as the
	// classic VXLAN device's udpcsum default has it; otherwise it is zero
	// (tshark "Not present"), as for flow-based tunnels whose route has no
	// csum flag and Geneve's noudpcsum default, in the kernel as here.
	udpCsum bool
}

// csumStatus is the tshark udp.checksum.status flowpath's frames must show.
func (w tunWire) csumStatus() string {
	if w.udpCsum {
		return "1"
	}
	return "3"
}

func (w tunWire) port() string {
	if w.proto == "geneve" {
		return "6081"
	}
	return "4789"
}

// checkTunnelPing pings twice from w.srcNS while tshark decodes the
// underlay: two echo requests encapsulated by VTEP A and two replies by
// VTEP B, each with the right outer addresses, VNI, inner addresses and
// TTL, good checksums where flowpath made the frame, and the Geneve
// option each side sends.
func (tn *tunNet) checkTunnelPing(w tunWire) {
	t := tn.t
	t.Helper()
	fields := []string{"ip.src", "ip.dst", "ip.ttl", "udp.dstport", "udp.checksum.status", "ip.checksum.status",
		"icmp.type", "icmp.checksum.status"}
	if w.proto == "vxlan" {
		fields = append(fields, "vxlan.vni", "vxlan.flag_i")
	} else {
		fields = append(fields, "geneve.vni", "geneve.proto_type", "geneve.option.class", "geneve.option.type",
			"geneve.option.unknown.data")
	}
	// Frames of at least 100 bytes: echoes, not ARP through the overlay.
	wait := tn.capWire("udp port "+w.port()+" and greater 100", 2, 2, fields...)
	if out, ok := tn.ping(w.srcNS, "-c", "2", "-i", "0.2", "-W", "3", w.dst); !ok {
		t.Errorf("ping %s during capture:\n%s", w.dst, out)
	}
	rows, capOut := wait()
	var req, rep int
	for _, r := range rows {
		bad := func(what string) { t.Errorf("%s frame: %s: %v", w.proto, what, r) }
		vni, _ := strconv.ParseUint(field(r, w.proto+".vni", 0), 0, 32)
		if vni != w.vni || field(r, "udp.dstport", 0) != w.port() {
			bad("want VNI " + strconv.FormatUint(w.vni, 10) + " to port " + w.port())
		}
		if w.proto == "vxlan" && field(r, "vxlan.flag_i", 0) != "True" && field(r, "vxlan.flag_i", 0) != "1" {
			bad("VXLAN I flag clear")
		}
		if w.proto == "geneve" && field(r, "geneve.proto_type", 0) != "0x6558" {
			bad("Geneve protocol type not Ethernet")
		}
		var fromFP bool
		var opt *geneveOpt
		switch {
		case field(r, "icmp.type", 0) == "8":
			req++
			fromFP, opt = w.fpA, w.optA
			if field(r, "ip.src", 0) != ulA || field(r, "ip.dst", 0) != ulB || field(r, "ip.src", 1) != w.src ||
				field(r, "ip.dst", 1) != w.dst || field(r, "ip.ttl", 1) != strconv.Itoa(w.ttlAB) {
				bad("echo request: want outer " + ulA + " -> " + ulB + ", inner " + w.src + " -> " + w.dst + " ttl " + strconv.Itoa(w.ttlAB))
			}
		case field(r, "icmp.type", 0) == "0":
			rep++
			fromFP, opt = w.fpB, w.optB
			if field(r, "ip.src", 0) != ulB || field(r, "ip.dst", 0) != ulA || field(r, "ip.src", 1) != w.dst ||
				field(r, "ip.dst", 1) != w.src || field(r, "ip.ttl", 1) != strconv.Itoa(w.ttlBA) {
				bad("echo reply: want outer " + ulB + " -> " + ulA + ", inner " + w.dst + " -> " + w.src + " ttl " + strconv.Itoa(w.ttlBA))
			}
		default:
			bad("not an echo")
			continue
		}
		if fromFP {
			// Checksum status 1 is tshark's "Good", 3 "Not present".
			if field(r, "ip.checksum.status", 0) != "1" || field(r, "ip.checksum.status", 1) != "1" ||
				field(r, "icmp.checksum.status", 0) != "1" {
				bad("flowpath's frame: IP or ICMP checksum not good")
			}
			if field(r, "udp.checksum.status", 0) != w.csumStatus() {
				bad("flowpath's frame: outer UDP checksum status, want " + w.csumStatus())
			}
		} else if !w.udpCsum && field(r, "udp.checksum.status", 0) != "3" {
			// (A kernel's filled checksum is still partial where tshark
			// sees the kernel send it; a zero one is not.)
			bad("the kernel's frame: outer UDP checksum present")
		}
		if w.proto == "geneve" {
			cl, ty, data := field(r, "geneve.option.class", 0), field(r, "geneve.option.type", 0), field(r, "geneve.option.unknown.data", 0)
			if opt == nil && cl != "" {
				bad("unexpected Geneve option")
			}
			if opt != nil {
				c, _ := strconv.ParseUint(cl, 0, 16)
				ty, _ := strconv.ParseUint(ty, 0, 8)
				if c != uint64(opt.class) || ty != uint64(opt.typ) || strings.ReplaceAll(data, ":", "") != opt.data {
					bad("want Geneve option " + opt.String())
				}
			}
		}
	}
	if req != 2 || rep != 2 {
		t.Errorf("tshark decoded %d echo requests and %d replies in %s, want 2 each:\n%s", req, rep, w.proto, capOut)
	}
}

// checkTunnelTCP runs iperf3 from w.srcNS to w.dst while tshark decodes
// 20 large tunnel frames VTEP A (flowpath) put on the underlay. Each is
// an encapsulated TCP segment to port 5201 with the right VNI (and
// Geneve option), good inner IP and TCP checksums (flowpath completes
// what the sender's offload left partial), and a datagram that fits the
// 1550-byte underlay. flowpath hands a flow's tunnel datagrams to the
// underlay veth coalesced into UDP GSO (USO) super-frames, which veth
// passes whole and a NIC would cut; tshark decodes the first datagram of
// such a frame, whose outer UDP checksum is still partial. A single
// datagram's outer UDP checksum is good or absent as w says.
func (tn *tunNet) checkTunnelTCP(w tunWire) {
	t := tn.t
	t.Helper()
	if !w.fpA {
		t.Fatal("checkTunnelTCP checks flowpath's frames: VTEP A must be flowpath")
	}
	fields := []string{"frame.len", "udp.length", "udp.checksum.status", "ip.len", "ip.checksum.status",
		"tcp.dstport", "tcp.checksum.status", w.proto + ".vni", "ip.src", "ip.dst", "udp.checksum"}
	tunHdr := 8
	if w.proto == "geneve" {
		fields = append(fields, "geneve.option.class")
		if w.optA != nil {
			tunHdr += 4 + len(w.optA.data)/2
		}
	}
	c := tn.tshark(w.capNS, w.capIf, "udp port "+w.port()+" and src host "+ulA+" and greater 1000", 20, fields...)
	tn.mustIperf(w.srcNS, w.dstNS, w.dst)
	rows := c.rows()
	if len(rows) < 20 {
		t.Errorf("tshark saw %d large %s frames from %s during iperf3, want 20:\n%s", len(rows), w.proto, ulA, c.output())
	}
	var uso, partial int
	for _, r := range rows {
		vni, _ := strconv.ParseUint(field(r, w.proto+".vni", 0), 0, 32)
		frameLen, _ := strconv.Atoi(field(r, "frame.len", 0))
		udpLen, _ := strconv.Atoi(field(r, "udp.length", 0))
		innerLen, _ := strconv.Atoi(field(r, "ip.len", 1))
		dgram := 20 + 8 + tunHdr + 14 + innerLen // the first datagram, as an IP packet
		if vni != w.vni || field(r, "tcp.dstport", 0) != "5201" || field(r, "tcp.checksum.status", 0) != "1" ||
			field(r, "ip.checksum.status", 0) != "1" || field(r, "ip.checksum.status", 1) != "1" ||
			innerLen == 0 || dgram > 1550 || udpLen != frameLen-14-20 {
			t.Errorf("%s TCP frame: want VNI %d, port 5201, good inner checksums, datagrams <= 1550 bytes: %v", w.proto, w.vni, r)
		}
		switch {
		case frameLen > 14+1550:
			uso++
		case field(r, "udp.checksum.status", 0) == w.csumStatus():
		case udpChecksumPartial(r):
			// A UDP GSO frame of one datagram: its checksum is left to
			// the port (and filled in by whoever cuts it, even where the
			// device has noudpcsum).
			partial++
		default:
			t.Errorf("%s TCP datagram: outer UDP checksum status %s, want %s or a partial one: %v", w.proto,
				field(r, "udp.checksum.status", 0), w.csumStatus(), r)
		}
		if w.optA != nil {
			if c, _ := strconv.ParseUint(field(r, "geneve.option.class", 0), 0, 16); c != uint64(w.optA.class) {
				t.Errorf("Geneve TCP frame without option %s: %v", w.optA, r)
			}
		}
	}
	t.Logf("%d of %d large %s frames from flowpath were UDP GSO super-frames, %d single datagrams with a partial checksum",
		uso, len(rows), w.proto, partial)
}

// mtu is the MTU fpctl shows for link name.
func (d *fpd) mtu(name string) int {
	d.t.Helper()
	var l []linkInfo
	out := d.ctl("-j", "link", "show", name)
	if err := json.Unmarshal([]byte(out), &l); err != nil || len(l) != 1 {
		d.t.Fatalf("fpctl -j link show %s: %v\n%s", name, err, out)
	}
	return l[0].MTU
}

// logRxFrameSize logs and returns the mean size of the frames flowpath
// received on a link (0 if it cannot tell): above the underlay MTU, the
// kernel VTEP sent UDP-tunnel GSO super-frames that the port handed over
// whole.
func (tn *tunNet) logRxFrameSize(d *fpd, link string) uint64 {
	var l []struct {
		Stats struct {
			RxPackets uint64 `json:"rx_packets"`
			RxBytes   uint64 `json:"rx_bytes"`
		} `json:"stats"`
	}
	out := d.ctl("-j", "-s", "link", "show", link)
	if err := json.Unmarshal([]byte(out), &l); err != nil || len(l) != 1 || l[0].Stats.RxPackets == 0 {
		tn.t.Logf("fpctl -j -s link show %s: %v %s", link, err, out)
		return 0
	}
	mean := l[0].Stats.RxBytes / l[0].Stats.RxPackets
	tn.t.Logf("%s received %d frames, %d bytes on average", link, l[0].Stats.RxPackets, mean)
	return mean
}

// TestKernelVXLANThroughFlowpath: flowpath as the underlay router between
// two kernel VTEPs (the hosts of the router topology, each with a VXLAN
// device over eth0, all links at 1550). The VTEPs send TCP as UDP-tunnel
// super-frames, which flowpath must forward as whole tunnel datagrams.
func TestKernelVXLANThroughFlowpath(t *testing.T) {
	tp := newTopo(t, topoConfig{kind: kindAFPacket})
	h1, h2 := tp.host("h1"), tp.host("h2")
	overlay := map[*host]string{h1: "10.77.0.1", h2: "10.77.0.2"}
	for _, p := range [][2]*host{{h1, h2}, {h2, h1}} {
		h, peer := p[0], p[1]
		tp.fpctlOK("link", "set", h.role, "mtu", ulMTU)
		tp.must("ip", "-n", tp.r, "link", "set", "dev", h.rif, "mtu", ulMTU)
		tp.must("ip", "-n", h.ns, "link", "set", "dev", "eth0", "mtu", ulMTU)
		tp.must("ip", "-n", h.ns, "link", "add", "vx7", "type", "vxlan", "id", "7", "local", h.v4, "remote", peer.v4,
			"dstport", "4789", "dev", "eth0")
		tp.must("ip", "-n", h.ns, "addr", "add", overlay[h]+"/24", "dev", "vx7")
		tp.must("ip", "-n", h.ns, "link", "set", "dev", "vx7", "up")
	}
	for _, p := range [][2]*host{{h1, h2}, {h2, h1}} {
		if out, ok := tp.ping(p[0], "-c", "3", "-i", "0.2", "-W", "3", overlay[p[1]]); !ok {
			t.Fatalf("ping %s through the VXLAN overlay:\n%s", overlay[p[1]], out)
		}
	}
	// What flowpath forwards to h2: VNI 7, outer TTL 63, each datagram
	// (the first of a USO super-frame) within 1550 bytes, inner TCP intact.
	c := tp.startCapture(tsharkSpec{ns: h2.ns, iface: "eth0", filter: "udp port 4789 and src host " + h1.v4 + " and greater 1000",
		count: 20, limit: 15, settle: 300 * time.Millisecond,
		fields: []string{"frame.len", "ip.ttl", "ip.len", "vxlan.vni", "tcp.dstport", "tcp.checksum.status", "ip.checksum.status",
			"ip.src", "ip.dst", "ip.hdr_len", "tcp.checksum"}})
	for _, p := range [][2]*host{{h1, h2}, {h2, h1}} {
		b, retr, out := tp.iperfTo(p[0], p[1], overlay[p[1]], 2)
		t.Logf("iperf3 TCP %s -> %s through the overlay, 2 s: %d bytes (%.2f Gbit/s), %d retransmits",
			p[0].role, overlay[p[1]], b, float64(b)*8/2e9, retr)
		if b < 1<<20 {
			t.Errorf("iperf3 %s -> %s: %d bytes received\n%s\n%s", p[0].role, overlay[p[1]], b, out, tp.fpctlOK("stats"))
		}
	}
	rows := c.rows()
	if len(rows) < 20 {
		t.Errorf("tshark saw %d large VXLAN frames from h1, want 20:\n%s", len(rows), c.output())
	}
	for _, r := range rows {
		innerLen, _ := strconv.Atoi(field(r, "ip.len", 1))
		if field(r, "vxlan.vni", 0) != "7" || field(r, "ip.ttl", 0) != "63" || field(r, "ip.ttl", 1) != "64" ||
			innerLen == 0 || 20+8+8+14+innerLen > 1550 || field(r, "tcp.dstport", 0) != "5201" ||
			!tcpChecksumOK(r) || field(r, "ip.checksum.status", 1) != "1" {
			// (A single datagram may carry the inner TCP checksum the
			// kernel VTEP left to offload, and flowpath passes it on so.)
			t.Errorf("forwarded VXLAN frame: want VNI 7, outer TTL 63, a whole inner segment <= 1550 bytes, "+
				"good or offloaded checksums: %v", r)
		}
	}
}

// iperfTo runs one iperf3 TCP stream from src to addr (an address of dst)
// for secs seconds and returns the bytes the receiver got and the sender's
// retransmits; bytes is 0 on failure, with iperf3's output.
func (tp *topo) iperfTo(src, dst *host, addr string, secs int) (bytes uint64, retr int, out string) {
	tp.t.Helper()
	tp.iperfServer(dst.ns)
	r, out, ok := tp.iperfClient(src.ns, addr, secs, "--connect-timeout", "3000")
	if !ok {
		return 0, 0, out
	}
	return r.End.SumReceived.Bytes, r.End.SumSent.Retransmits, out
}

// TestFlowpathMPLSSwap: a label-switched path over three flowpathd, the
// middle one swapping labels (`-f mpls route add 100 as 200 via inet ...`):
//
//	host A ─ h [A] u1 ═══ p1 [P] p2 ═══ u2 [B] h ─ host B
//	  push 100 ──► swap 100→200 ──► pop 200      (and 300 → 400 back)
//
// tshark on each link sees the label of that hop, bottom of stack, and the
// label TTL going down by one per hop.
func TestFlowpathMPLSSwap(t *testing.T) {
	tn := startTunNet(t)
	tn.a = &vtep{ns: tunNS("va"), ul: "10.100.0.1", u: "u1"}
	tn.b = &vtep{ns: tunNS("vb"), ul: "10.101.0.2", u: "u2"}
	p := &vtep{ns: tunNS("vp")}
	for _, ns := range []string{tn.ha, tn.a.ns, p.ns, tn.b.ns, tn.hb} {
		tn.addNSv4(ns)
	}
	tn.hostLegs()
	tn.must("ip", "link", "add", "u1", "netns", tn.a.ns, "mtu", ulMTU, "type", "veth", "peer", "name", "p1", "netns", p.ns, "mtu", ulMTU)
	tn.must("ip", "link", "add", "p2", "netns", p.ns, "mtu", ulMTU, "type", "veth", "peer", "name", "u2", "netns", tn.b.ns, "mtu", ulMTU)
	links := map[*vtep][]string{tn.a: {"h", "u1"}, p: {"p1", "p2"}, tn.b: {"h", "u2"}}
	for _, v := range []*vtep{tn.a, p, tn.b} {
		for _, l := range links[v] {
			tn.must("ip", "-n", v.ns, "link", "set", "dev", l, "up")
		}
		v.fp = tn.startFpd(v.ns)
		for _, l := range links[v] {
			v.fp.ctl("link", "add", l, "type", "afpacket", "ifname", l)
			v.fp.ctl("link", "set", l, "up")
		}
	}
	tn.a.fp.ctl("addr", "add", "10.31.0.254/24", "dev", "h")
	tn.a.fp.ctl("addr", "add", "10.100.0.1/24", "dev", "u1")
	p.fp.ctl("addr", "add", "10.100.0.2/24", "dev", "p1")
	p.fp.ctl("addr", "add", "10.101.0.1/24", "dev", "p2")
	tn.b.fp.ctl("addr", "add", "10.101.0.2/24", "dev", "u2")
	tn.b.fp.ctl("addr", "add", "10.32.0.254/24", "dev", "h")
	tn.host(tn.ha, hostA+"/24", "10.31.0.254")
	tn.host(tn.hb, hostB+"/24", "10.32.0.254")

	tn.a.fp.ctl("route", "add", "10.32.0.0/24", "encap", "mpls", "100", "via", "10.100.0.2", "dev", "u1")
	p.fp.ctl("-f", "mpls", "route", "add", "100", "as", "200", "via", "inet", "10.101.0.2", "dev", "p2")
	tn.b.fp.ctl("-f", "mpls", "route", "add", "200", "via", "inet", hostB, "dev", "h")
	tn.b.fp.ctl("route", "add", "10.31.0.0/24", "encap", "mpls", "300", "via", "10.101.0.1", "dev", "u2")
	p.fp.ctl("-f", "mpls", "route", "add", "300", "as", "400", "via", "inet", "10.100.0.1", "dev", "p1")
	tn.a.fp.ctl("-f", "mpls", "route", "add", "400", "via", "inet", hostA, "dev", "h")

	tn.mustPing(tn.ha, hostB, 3)
	tn.mustPing(tn.hb, hostA, 3)
	// Each capture sees frames arriving on one link from one sender
	// (flowpath's own transmissions bypass the kernel's taps).
	fields := []string{"mpls.label", "mpls.bottom", "mpls.ttl", "ip.src", "ip.dst", "icmp.type"}
	caps := []struct {
		ns, ifname, label, ttl, src string
	}{
		{p.ns, "p1", "100", "63", hostA},    // A pushed: IP TTL 64 - 1
		{tn.b.ns, "u2", "200", "62", hostA}, // P swapped and decremented
		{p.ns, "p2", "300", "63", hostB},    // B pushed
		{tn.a.ns, "u1", "400", "62", hostB}, // P swapped
	}
	var running []*capture
	for _, c := range caps {
		running = append(running, tn.tshark(c.ns, c.ifname, "mpls", 2, fields...))
	}
	tn.mustPing(tn.ha, hostB, 2)
	for i, c := range caps {
		rows := running[i].rows()
		if len(rows) != 2 {
			t.Errorf("%s: tshark saw %d labelled frames, want 2:\n%s", c.ifname, len(rows), running[i].output())
		}
		for _, r := range rows {
			if len(r["mpls.label"]) != 1 || field(r, "mpls.label", 0) != c.label || field(r, "mpls.bottom", 0) != "1" ||
				field(r, "mpls.ttl", 0) != c.ttl || field(r, "ip.src", 0) != c.src {
				t.Errorf("%s: want one label %s, bottom of stack, TTL %s, from %s: %v", c.ifname, c.label, c.ttl, c.src, r)
			}
		}
	}
	tn.mustIperf(tn.ha, tn.hb, hostB) // (the way back is TestFlowpathMPLS's)
}
