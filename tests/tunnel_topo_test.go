//go:build netns

package tests

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The tunnel topology: two hosts, two VTEPs, each VTEP a flowpathd or the
// kernel, and an underlay veth of MTU 1550 between the VTEPs so that a
// VXLAN overlay keeps MTU 1500 (as shared/bench/baselines/03 does):
//
//	fpt-ta-PID           fpt-va-PID                       fpt-vb-PID           fpt-tb-PID
//	  eth0 ───veth─── h [ VTEP A ] u1 ═══ mtu 1550 ═══ u2 [ VTEP B ] h ───veth─── eth0
//	                         10.100.0.1            10.100.0.2
//
// A flowpath VTEP owns h and u1 (u2) as AF_PACKET links of the same
// names; the kernel of its namespace has no addresses and no IPv6 there.
// A kernel VTEP has 10.100.0.N on its underlay leg. What runs above that
// (tunnel devices, host addresses, routes) each test sets up itself.

// Underlay addresses and the underlay MTU.
const (
	ulA   = "10.100.0.1"
	ulB   = "10.100.0.2"
	ulMTU = "1550"
)

// tunNet is a running tunnel topology; t.Cleanup removes all of it.
type tunNet struct {
	nsSet
	dir     string
	daemons []*fpd
	a, b    *vtep
	ha, hb  string // host namespaces
	// underlayNS holds the bridge between the VTEPs' TAPs
	// (newTunNetTapPair); "" where the underlay is a veth.
	underlayNS string
}

// vtep is one tunnel endpoint namespace.
type vtep struct {
	ns string
	ul string // its underlay address
	u  string // its underlay interface (u1, u2)
	fp *fpd   // nil for a kernel VTEP
}

// Kinds of VTEP.
const (
	vtepFlowpath = "flowpath"
	vtepKernel   = "kernel"
)

// IPv6 underlay addresses (newTunNet6).
const (
	ul6A = "fd00:100::1"
	ul6B = "fd00:100::2"
)

// newTunNet builds the namespaces, veths and VTEPs; kindA and kindB are
// vtepFlowpath or vtepKernel.
func newTunNet(t *testing.T, kindA, kindB string) *tunNet {
	t.Helper()
	return buildTunNet(t, kindA, kindB, false)
}

// newTunNet6 is newTunNet with an IPv6 underlay: fd00:100::1 and ::2/64.
func newTunNet6(t *testing.T, kindA, kindB string) *tunNet {
	t.Helper()
	return buildTunNet(t, kindA, kindB, true)
}

func buildTunNet(t *testing.T, kindA, kindB string, v6 bool) *tunNet {
	t.Helper()
	tn := startTunNet(t)
	tn.a = &vtep{ns: tunNS("va"), ul: ulA, u: "u1"}
	tn.b = &vtep{ns: tunNS("vb"), ul: ulB, u: "u2"}
	plen := "/24"
	if v6 {
		tn.a.ul, tn.b.ul, plen = ul6A, ul6B, "/64"
	}
	for _, ns := range []string{tn.ha, tn.a.ns, tn.b.ns, tn.hb} {
		tn.addNSv4(ns)
	}
	tn.must("ip", "link", "add", "u1", "netns", tn.a.ns, "mtu", ulMTU, "type", "veth",
		"peer", "name", "u2", "netns", tn.b.ns, "mtu", ulMTU)
	tn.hostLegs()
	for i, v := range []*vtep{tn.a, tn.b} {
		kind := []string{kindA, kindB}[i]
		if kind == vtepKernel {
			if v6 {
				tn.must("ip", "netns", "exec", v.ns, "sysctl", "-qw", "net.ipv6.conf."+v.u+".disable_ipv6=0")
				tn.must("ip", "-n", v.ns, "addr", "add", v.ul+plen, "dev", v.u, "nodad")
			} else {
				tn.must("ip", "-n", v.ns, "addr", "add", v.ul+plen, "dev", v.u)
			}
			tn.must("ip", "-n", v.ns, "link", "set", "dev", v.u, "up")
			tn.must("ip", "-n", v.ns, "link", "set", "dev", "h", "up")
			continue
		}
		tn.must("ip", "-n", v.ns, "link", "set", "dev", v.u, "up")
		tn.must("ip", "-n", v.ns, "link", "set", "dev", "h", "up")
		v.fp = tn.startFpd(v.ns)
		for _, l := range []string{"h", v.u} {
			v.fp.ctl("link", "add", l, "type", "afpacket", "ifname", l)
			v.fp.ctl("link", "set", l, "up")
		}
		v.fp.ctl("addr", "add", v.ul+plen, "dev", v.u)
	}
	return tn
}

// newTunNetTap is the topology of newTunNet(t, vtepFlowpath, vtepKernel)
// with a TAP instead of the underlay veth: flowpathd A makes the TAP u1
// and its kernel end becomes u2 in VTEP B (the way a flowpath VTEP hands
// its underlay to the host's stack). A TCP super-frame A encapsulates can
// then reach B's kernel whole, as UDP-tunnel GSO.
//
//	fpt-ta-PID        fpt-va-PID                  fpt-vb-PID        fpt-tb-PID
//	  eth0 ─veth─ h [ flowpathd A ] u1 ═ TAP ═ u2 [ kernel B ] h ─veth─ eth0
func newTunNetTap(t *testing.T) *tunNet {
	t.Helper()
	tn := startTunNet(t)
	tn.a = &vtep{ns: tunNS("va"), ul: ulA, u: "u1"}
	tn.b = &vtep{ns: tunNS("vb"), ul: ulB, u: "u2"}
	for _, ns := range []string{tn.ha, tn.a.ns, tn.b.ns, tn.hb} {
		tn.addNSv4(ns)
	}
	tn.hostLegs()
	a, b := tn.a, tn.b
	tn.must("ip", "-n", a.ns, "link", "set", "dev", "h", "up")
	a.fp = tn.startFpd(a.ns)
	a.fp.ctl("link", "add", "h", "type", "afpacket", "ifname", "h")
	a.fp.ctl("link", "add", "u1", "type", "tap", "ifname", "u1")
	tn.must("ip", "-n", a.ns, "link", "set", "u1", "netns", b.ns)
	tn.must("ip", "-n", b.ns, "link", "set", "u1", "name", "u2", "mtu", ulMTU)
	for _, l := range []string{"h", "u1"} {
		a.fp.ctl("link", "set", l, "up")
	}
	a.fp.ctl("link", "set", "u1", "mtu", ulMTU)
	a.fp.ctl("addr", "add", a.ul+"/24", "dev", "u1")
	tn.must("ip", "-n", b.ns, "addr", "add", b.ul+"/24", "dev", "u2")
	tn.must("ip", "-n", b.ns, "link", "set", "dev", "u2", "up")
	tn.must("ip", "-n", b.ns, "link", "set", "dev", "h", "up")
	return tn
}

// newTunNetTapPair is two flowpath VTEPs whose underlay ports are TAPs
// (u1, u2) with their kernel ends bridged in a third namespace: each VTEP
// hands its underlay to a kernel that carries it, as bench/overlay.sh's
// fultap variant does. Where the kernel takes UDP-tunnel GSO on a TAP, a
// TCP super-frame crosses from VTEP to VTEP as one VXLAN datagram.
//
//	fpt-ta    fpt-va                      fpt-vu                      fpt-vb    fpt-tb
//	 eth0 ─ h [ flowpathd A ] u1 ═ TAP ═ u1 ─ br0 ─ u2 ═ TAP ═ u2 [ flowpathd B ] h ─ eth0
//
// The hosts have their addresses and routes via 10.31.0.254 and
// 10.32.0.254 (flowpathPair's); the overlay is the test's.
func newTunNetTapPair(t *testing.T) *tunNet {
	t.Helper()
	tn := startTunNet(t)
	tn.a = &vtep{ns: tunNS("va"), ul: ulA, u: "u1"}
	tn.b = &vtep{ns: tunNS("vb"), ul: ulB, u: "u2"}
	tn.underlayNS = tunNS("vu")
	for _, ns := range []string{tn.ha, tn.a.ns, tn.underlayNS, tn.b.ns, tn.hb} {
		tn.addNSv4(ns)
	}
	tn.hostLegs()
	tn.must("ip", "-n", tn.underlayNS, "link", "add", "br0", "type", "bridge")
	tn.must("ip", "-n", tn.underlayNS, "link", "set", "br0", "up")
	for i, v := range []*vtep{tn.a, tn.b} {
		tn.must("ip", "-n", v.ns, "link", "set", "dev", "h", "up")
		v.fp = tn.startFpd(v.ns)
		v.fp.ctl("link", "add", "h", "type", "afpacket", "ifname", "h")
		v.fp.ctl("link", "add", v.u, "type", "tap", "ifname", v.u)
		tn.must("ip", "-n", v.ns, "link", "set", v.u, "netns", tn.underlayNS)
		tn.must("ip", "-n", tn.underlayNS, "link", "set", v.u, "mtu", ulMTU, "master", "br0", "up")
		v.fp.ctl("link", "set", v.u, "mtu", ulMTU)
		for _, l := range []string{"h", v.u} {
			v.fp.ctl("link", "set", l, "up")
		}
		v.fp.ctl("addr", "add", v.ul+"/24", "dev", v.u)
		v.fp.ctl("addr", "add", []string{"10.31.0.254/24", "10.32.0.254/24"}[i], "dev", "h")
	}
	tn.host(tn.ha, hostA+"/24", "10.31.0.254")
	tn.host(tn.hb, hostB+"/24", "10.32.0.254")
	return tn
}

// startTunNet is how every tunnel topology starts: an empty tunNet whose
// close t.Cleanup runs, with the names of its host namespaces.
func startTunNet(t *testing.T) *tunNet {
	t.Helper()
	needRoot(t)
	tn := &tunNet{nsSet: nsSet{t: t}, dir: t.TempDir()}
	t.Cleanup(tn.close)
	tn.ha, tn.hb = tunNS("ta"), tunNS("tb")
	return tn
}

// tunNS is the name of the namespace of role ("va") in this run.
func tunNS(role string) string { return fmt.Sprintf("fpt-%s-%d", role, os.Getpid()) }

// addNSv4 adds namespace ns with IPv6 off, before any link exists: no
// router solicitations or MLD reports flooded through the overlay
// between the frames a test counts, and on a flowpath VTEP no kernel
// answering ND on the links flowpathd owns.
func (tn *tunNet) addNSv4(ns string) {
	tn.t.Helper()
	tn.addNS(ns)
	tn.must("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
		"net.ipv6.conf.default.disable_ipv6=1")
}

// hostLegs links each host's eth0, up, to h in its VTEP's namespace.
func (tn *tunNet) hostLegs() {
	tn.t.Helper()
	tn.must("ip", "link", "add", "eth0", "netns", tn.ha, "type", "veth", "peer", "name", "h", "netns", tn.a.ns)
	tn.must("ip", "link", "add", "eth0", "netns", tn.hb, "type", "veth", "peer", "name", "h", "netns", tn.b.ns)
	for _, h := range []string{tn.ha, tn.hb} {
		tn.must("ip", "-n", h, "link", "set", "dev", "eth0", "up")
	}
}

// host gives host namespace ns the address cidr on eth0 and a default
// route via gw.
func (tn *tunNet) host(ns, cidr, gw string) {
	tn.t.Helper()
	tn.must("ip", "-n", ns, "addr", "add", cidr, "dev", "eth0")
	tn.must("ip", "-n", ns, "route", "add", "default", "via", gw)
}

// host6 turns IPv6 on for eth0 in host namespace ns (newTunNet turned it
// off everywhere), with address cidr and a default route via gw.
func (tn *tunNet) host6(ns, cidr, gw string) {
	tn.t.Helper()
	tn.must("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.eth0.disable_ipv6=0")
	tn.must("ip", "-n", ns, "addr", "add", cidr, "dev", "eth0", "nodad")
	tn.must("ip", "-n", ns, "-6", "route", "add", "default", "via", gw)
}

// startFpd runs a flowpathd in ns with its own socket and waits until it
// answers.
func (tn *tunNet) startFpd(ns string) *fpd {
	tn.t.Helper()
	d := startFpd(tn.t, tn.dir, ns)
	tn.daemons = append(tn.daemons, d)
	d.waitAnswering()
	return d
}

// drops is fpctl -j stats' drop counters by reason.
func (d *fpd) drops() map[string]uint64 {
	d.t.Helper()
	var s struct {
		Drops map[string]uint64 `json:"drops"`
	}
	out := d.ctl("-j", "stats")
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		d.t.Fatalf("fpctl -j stats: %v\n%s", err, out)
	}
	return s.Drops
}

// close removes everything: tools, daemons, leftovers, namespaces (their
// veths go with them).
func (tn *tunNet) close() {
	tn.stopProcs()
	if tn.t.Failed() {
		tn.t.Log(tn.stats())
	}
	for _, d := range tn.daemons {
		if code := d.stop(); code != 0 {
			tn.t.Errorf("flowpathd in %s exited with status %d after SIGTERM", d.ns, code)
		}
		if tn.t.Failed() {
			tn.t.Logf("flowpathd log (%s):\n%s", d.ns, d.log())
		}
	}
	tn.daemons = nil
	tn.delNamespaces()
}

// ping runs ping in ns; it reports whether every reply came back.
func (tn *tunNet) ping(ns string, args ...string) (string, bool) {
	out, err := tn.in(ns, 20*time.Second, append([]string{"ping", "-n"}, args...)...)
	return out, err == nil && strings.Contains(out, " 0% packet loss")
}

// mustPing pings dst from ns count times and fails the test on any loss.
func (tn *tunNet) mustPing(ns, dst string, count int) {
	tn.t.Helper()
	if out, ok := tn.ping(ns, "-c", fmt.Sprint(count), "-i", "0.2", "-W", "3", dst); !ok {
		tn.t.Fatalf("ping %s from %s lost packets:\n%s\n%s", dst, ns, out, tn.stats())
	}
}

// iperf runs one iperf3 TCP stream from ns to dst for secs seconds (the
// server, started here, listens in dstNS) and returns the bytes the
// receiver got and the sender's retransmits; the test fails if iperf3
// fails.
func (tn *tunNet) iperf(ns, dstNS, dst string, secs int) (bytes uint64, retr int) {
	tn.t.Helper()
	srv := tn.iperfServer(dstNS)
	r, out, ok := tn.iperfClient(ns, dst, secs, "--connect-timeout", "3000")
	stopProc(srv)
	if !ok {
		tn.t.Fatalf("iperf3 %s -> %s failed:\n%s\n%s", ns, dst, out, tn.stats())
	}
	return r.End.SumReceived.Bytes, r.End.SumSent.Retransmits
}

// mustIperf runs iperf and fails the test unless at least 1 MB arrived.
func (tn *tunNet) mustIperf(ns, dstNS, dst string) {
	tn.t.Helper()
	b, retr := tn.iperf(ns, dstNS, dst, 2)
	tn.t.Logf("iperf3 TCP %s -> %s, 2 s: %d bytes (%.2f Gbit/s), %d retransmits", ns, dst, b, float64(b)*8/2e9, retr)
	if b < 1<<20 {
		tn.t.Errorf("iperf3 %s -> %s: only %d bytes received in 2 s\n%s", ns, dst, b, tn.stats())
	}
}

// stats is fpctl stats of every daemon, for failure messages.
func (tn *tunNet) stats() string {
	var sb strings.Builder
	for _, d := range tn.daemons {
		out, errOut, _ := d.fpctl("stats")
		fmt.Fprintf(&sb, "fpctl stats (%s):\n%s%s", d.ns, out, errOut)
	}
	return sb.String()
}

// tshark starts capturing on iface in ns with capture filter filter,
// stopping after count frames or 15 s, and printing fields (every
// occurrence of a field, outer first). It returns once the capture runs.
func (tn *tunNet) tshark(ns, iface, filter string, count int, fields ...string) *capture {
	tn.t.Helper()
	return tn.startCapture(tsharkSpec{ns: ns, iface: iface, filter: filter, count: count,
		limit: 15, settle: 300 * time.Millisecond, fields: fields})
}

// capWire starts decoding the underlay: frames VTEP A sends are seen
// arriving on u2, in B's namespace. Frames a flowpath VTEP B sends are
// not seen there (flowpath transmits with PACKET_QDISC_BYPASS, which
// skips the kernel's taps), so they are caught arriving on u1 in A's
// namespace; a kernel VTEP B's frames show on u2. nA and nB are how many
// frames each side sends; the returned function waits for them all.
func (tn *tunNet) capWire(filter string, nA, nB int, fields ...string) func() ([]map[string][]string, string) {
	tn.t.Helper()
	var caps []*capture
	if tn.b.fp == nil {
		caps = append(caps, tn.tshark(tn.b.ns, tn.b.u, filter, nA+nB, fields...))
	} else {
		caps = append(caps, tn.tshark(tn.b.ns, tn.b.u, filter, nA, fields...))
		if nB > 0 {
			caps = append(caps, tn.tshark(tn.a.ns, tn.a.u, filter, nB, fields...))
		}
	}
	return func() ([]map[string][]string, string) {
		var rows []map[string][]string
		var out strings.Builder
		for _, c := range caps {
			rows = append(rows, c.rows()...)
			out.WriteString(c.output())
		}
		return rows, out.String()
	}
}

// tcpChecksumOK reports whether the innermost TCP checksum of a frame
// tshark decoded (fields ip.src, ip.dst, ip.len, ip.hdr_len,
// tcp.checksum, tcp.checksum.status, with -o tcp.check_checksum:TRUE) is
// good, or is a checksum left to offload: the field holding just the
// folded pseudo-header sum, as a sender with checksum offload leaves it
// for the device (a veth passes it on so; the receiver completes or
// trusts it). Anything else is a corrupt checksum.
func tcpChecksumOK(r map[string][]string) bool {
	if field(r, "tcp.checksum.status", 0) == "1" {
		return true
	}
	last := func(f string) string {
		if v := r[f]; len(v) > 0 {
			return v[len(v)-1]
		}
		return ""
	}
	tot, err1 := strconv.Atoi(last("ip.len"))
	hl, err2 := strconv.Atoi(last("ip.hdr_len"))
	if err1 != nil || err2 != nil {
		return false
	}
	return isPseudoSum(last("ip.src"), last("ip.dst"), 6, tot-hl, field(r, "tcp.checksum", 0))
}

// udpChecksumPartial reports whether the outer UDP checksum of a frame
// tshark decoded (fields ip.src, ip.dst, udp.length, udp.checksum) is one
// left to offload: the folded pseudo-header sum of the datagram, as in a
// UDP GSO frame handed to a port with checksum offload.
func udpChecksumPartial(r map[string][]string) bool {
	n, err := strconv.Atoi(field(r, "udp.length", 0))
	return err == nil && isPseudoSum(field(r, "ip.src", 0), field(r, "ip.dst", 0), 17, n, field(r, "udp.checksum", 0))
}

// isPseudoSum reports whether checksum (tshark's "0x1234") is the folded,
// not complemented, IPv4 pseudo-header sum for proto and length n.
func isPseudoSum(srcS, dstS string, proto uint32, n int, checksum string) bool {
	src, err1 := netip.ParseAddr(srcS)
	dst, err2 := netip.ParseAddr(dstS)
	ck, err3 := strconv.ParseUint(checksum, 0, 16)
	if err1 != nil || err2 != nil || err3 != nil || !src.Is4() || !dst.Is4() {
		return false
	}
	s, d := src.As4(), dst.As4()
	sum := uint32(s[0])<<8 | uint32(s[1])
	sum += uint32(s[2])<<8 | uint32(s[3])
	sum += uint32(d[0])<<8 | uint32(d[1])
	sum += uint32(d[2])<<8 | uint32(d[3])
	sum += proto + uint32(n)
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return uint64(sum) == ck
}
