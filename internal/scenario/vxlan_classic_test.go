package scenario

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"flowpath/api"
	"flowpath/internal/hdr"
	"flowpath/internal/port"
)

// Classic VXLAN acceptance tests (spec §3.8 V3-V20), on memory ports:
//
//	host h (10.11.0.1) ─ r-h [ router ] r-u ─ underlay: VTEPs 10.100.0.2, .3, .4 (all played on port u)
//	                 10.11.0.254     10.100.0.1
//	vx0: vxlan id 100 remote 10.100.0.2 dstport 4789 dev u, 10.99.0.1/24
//	inner stations behind the VTEPs: 10.99.0.N, MAC 02:00:00:00:99:0N

// vtep is a remote VXLAN endpoint on the underlay link.
type vtep struct{ *host }

type classic struct {
	h     *harness
	hh    *host // the host on link h
	vteps map[int]*vtep
	vmac  hdr.MAC // vx0's MAC
}

func innerMAC(n int) hdr.MAC { return hdr.MAC{2, 0, 0, 0, 0x99, byte(n)} }

func innerIP(n int) netip.Addr { return netip.AddrFrom4([4]byte{10, 99, 0, byte(n)}) }

// classicTopo builds the topology above; tweak adjusts vx0's configuration
// before it is created.
func classicTopo(t *testing.T, tweak func(*api.VXLAN)) *classic {
	return classicTopoWith(t, port.Offloads{}, port.Offloads{}, tweak)
}

// classicTopoWith is classicTopo with the offloads of links h and u.
func classicTopoWith(t *testing.T, hOffloads, uOffloads port.Offloads, tweak func(*api.VXLAN)) *classic {
	h := newHarness(t, false)
	h.offloads = hOffloads
	h.addLink("h", "10.11.0.254/24")
	h.offloads = uOffloads
	h.addLink("u", "10.100.0.1/24")
	h.offloads = port.Offloads{}
	v := &api.VXLAN{VNI: 100, Remote: "10.100.0.2", DstPort: 4789, SetDstPort: true, Dev: "u"}
	if tweak != nil {
		tweak(v)
	}
	h.do(api.Request{Op: api.OpLinkAdd, Link: &api.Link{Name: "vx0", Kind: "vxlan", VXLAN: v}})
	up := true
	h.do(api.Request{Op: api.OpLinkSet, Link: &api.Link{Name: "vx0", Up: &up}})
	h.do(api.Request{Op: api.OpAddrAdd, Addr: &api.Addr{Dev: "vx0", Prefix: "10.99.0.1/24"}})
	c := &classic{h: h, vteps: map[int]*vtep{}, vmac: h.mac("vx0")}
	c.hh = h.host("h", [6]byte{2, 0, 0, 0, 0x11, 1}, "10.11.0.1", "").permanent()
	for n := 2; n <= 4; n++ {
		c.vteps[n] = &vtep{h.host("u", [6]byte{2, 0, 0, 0, 0x64, byte(n)}, "10.100.0."+string(rune('0'+n)), "").permanent()}
	}
	return c
}

// tunPkt is a decoded UDP-tunnelled frame.
type tunPkt struct {
	eth   *layers.Ethernet
	ip    *layers.IPv4
	udp   *layers.UDP
	th    []byte // the tunnel header (VXLAN: 8 bytes; Geneve: with options)
	inner gopacket.Packet
	raw   []byte
}

// decodeTun decodes an outer Ethernet/IPv4/UDP frame whose payload is a
// VXLAN (dport != 6081) or Geneve header, checking the outer checksums
// and lengths.
func decodeTun(t *testing.T, p gopacket.Packet) *tunPkt {
	t.Helper()
	raw := p.Data()
	checkSums(t, raw)
	ip, ok := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	if !ok || ip.Protocol != layers.IPProtocolUDP {
		t.Fatalf("want an outer IPv4/UDP packet, got %v", p)
	}
	u, ok := p.Layer(layers.LayerTypeUDP).(*layers.UDP)
	if !ok {
		t.Fatalf("no UDP: %v", p)
	}
	pl := raw[14+int(ip.IHL)*4+8:]
	if int(u.Length) != 8+len(pl) {
		t.Fatalf("UDP length %d, payload %d", u.Length, len(pl))
	}
	hl := 8
	if u.DstPort == 6081 {
		if len(pl) < 8 {
			t.Fatalf("short Geneve header: % x", pl)
		}
		hl = 8 + int(pl[0]&0x3f)*4
	}
	if len(pl) < hl+14 {
		t.Fatalf("short tunnel payload: % x", pl)
	}
	return &tunPkt{eth: ethOf(p), ip: ip, udp: u, th: pl[:hl], raw: raw,
		inner: gopacket.NewPacket(pl[hl:], layers.LayerTypeEthernet, gopacket.Default)}
}

// vxlanHeader is the exact 8-byte VXLAN header for vni.
func vxlanHeader(vni uint32) []byte {
	return []byte{0x08, 0, 0, 0, byte(vni >> 16), byte(vni >> 8), byte(vni), 0}
}

// checkOuter checks the outer headers of a frame the router sent to VTEP
// dst over the underlay: Ethernet from r-u to the VTEP's MAC, IPv4 from
// 10.100.0.1 (no DF), UDP to dport with a source port in [lo, hi).
func (c *classic) checkOuter(t *testing.T, tp *tunPkt, dst int, ttl uint8, lo, hi uint16) {
	t.Helper()
	v := c.vteps[dst]
	if [6]byte(tp.eth.DstMAC) != v.mac || [6]byte(tp.eth.SrcMAC) != v.rmac || tp.eth.EthernetType != layers.EthernetTypeIPv4 {
		t.Fatalf("outer Ethernet %v -> %v (%v)", tp.eth.SrcMAC, tp.eth.DstMAC, tp.eth.EthernetType)
	}
	if addrOf(tp.ip.SrcIP) != netip.MustParseAddr("10.100.0.1") || addrOf(tp.ip.DstIP) != v.ip4 || tp.ip.TTL != ttl ||
		tp.ip.Flags&layers.IPv4DontFragment != 0 || tp.ip.FragOffset != 0 {
		t.Fatalf("outer IPv4 %v -> %v ttl %d flags %v, want 10.100.0.1 -> %v ttl %d, DF clear", tp.ip.SrcIP, tp.ip.DstIP, tp.ip.TTL, tp.ip.Flags, v.ip4, ttl)
	}
	if tp.udp.DstPort != 4789 || uint16(tp.udp.SrcPort) < lo || uint16(tp.udp.SrcPort) >= hi {
		t.Fatalf("outer UDP %d -> %d, want source in [%d, %d) -> 4789", tp.udp.SrcPort, tp.udp.DstPort, lo, hi)
	}
	// udpcsum is the 6.x kernel's default for IPv4 VXLAN.
	if tp.udp.Checksum == 0 {
		t.Fatal("outer UDP checksum missing (udpcsum is the default)")
	}
}

// recvTun takes the next frame the router sends on the underlay.
func (c *classic) recvTun(t *testing.T) *tunPkt {
	t.Helper()
	return decodeTun(t, c.vteps[2].recv())
}

// innerUDP is an inner Ethernet/IPv4/UDP frame from station n to dst.
func (c *classic) innerUDP(n int, dstMAC hdr.MAC, dst string, tos uint8, payload string) []gopacket.SerializableLayer {
	ip := &layers.IPv4{Version: 4, TTL: 64, TOS: tos, Protocol: layers.IPProtocolUDP, SrcIP: innerIP(n).AsSlice(),
		DstIP: netip.MustParseAddr(dst).AsSlice()}
	u := &layers.UDP{SrcPort: 7, DstPort: 9}
	_ = u.SetNetworkLayerForChecksum(ip)
	m := innerMAC(n)
	return []gopacket.SerializableLayer{&layers.Ethernet{SrcMAC: m[:], DstMAC: dstMAC[:], EthernetType: layers.EthernetTypeIPv4},
		ip, u, layersPayload(payload)}
}

// fromVTEP sends an inner frame encapsulated by VTEP n with VNI vni.
func (c *classic) fromVTEP(n int, vni uint32, inner ...gopacket.SerializableLayer) {
	c.vteps[n].send(vxlanFrame(c.vteps[n].host, vni, inner...)...)
}

// fdbShow returns vx0's FDB lines as "MAC dst IP state".
func (c *classic) fdbShow() []string {
	r := c.h.do(api.Request{Op: api.OpFDBShow, Filter: &api.Filter{Dev: "vx0"}})
	var out []string
	for _, f := range r.FDBs {
		out = append(out, f.MAC+" dst "+f.Dst+" "+f.State)
	}
	return out
}

// waitFDB waits until vx0's FDB has an entry for mac with destination dst.
func (c *classic) waitFDB(t *testing.T, mac hdr.MAC, dst string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		for _, l := range c.fdbShow() {
			if strings.HasPrefix(l, mac.String()+" dst "+dst+" ") {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no fdb entry %s dst %s: %v", mac, dst, c.fdbShow())
		}
		time.Sleep(time.Millisecond)
	}
}

func (c *classic) fdb(op, mac, dst string) *api.Response {
	return c.h.try(api.Request{Op: op, FDB: &api.FDB{MAC: mac, Dev: "vx0", Dst: dst}})
}

// V9: a frame to an unknown MAC goes to the default remote, with exact
// outer headers.
func TestVXLANClassicUnknownMACToDefaultRemote(t *testing.T) {
	c := classicTopo(t, nil)
	c.h.neigh("vx0", innerIP(5), innerMAC(5))
	c.hh.send(udp4(c.hh, "10.99.0.5", 1111, 2222, "unknown mac")...)
	tp := c.recvTun(t)
	c.checkOuter(t, tp, 2, 64, 32768, 61000)
	if !bytes.Equal(tp.th, vxlanHeader(100)) {
		t.Fatalf("VXLAN header % x, want % x", tp.th, vxlanHeader(100))
	}
	ie := ethOf(tp.inner)
	if [6]byte(ie.DstMAC) != innerMAC(5) || [6]byte(ie.SrcMAC) != c.vmac {
		t.Fatalf("inner Ethernet %v -> %v", ie.SrcMAC, ie.DstMAC)
	}
	iip := ip4Of(t, tp.inner)
	if addrOf(iip.DstIP) != innerIP(5) || iip.TTL != 63 || string(tp.inner.ApplicationLayer().Payload()) != "unknown mac" {
		t.Fatalf("inner packet: %v", tp.inner)
	}
	checkSums(t, tp.inner.Data())
	if n := len(tp.raw); n != 14+20+8+8+len(tp.inner.Data()) {
		t.Fatalf("frame length %d", n)
	}
	if st := c.h.linkStats("vx0"); st.TxPackets != 1 {
		t.Fatalf("vx0 tx_packets %d", st.TxPackets)
	}
}

// V10: an appended all-zero entry floods broadcasts to every remote: the
// router's ARP request for an inner address goes to .2 and .3.
func TestVXLANClassicFloodToAppendedRemotes(t *testing.T) {
	c := classicTopo(t, nil)
	if r := c.fdb(api.OpFDBAppend, "00:00:00:00:00:00", "10.100.0.3"); r.Error != "" {
		t.Fatal(r.Error)
	}
	c.hh.send(udp4(c.hh, "10.99.0.6", 1, 2, "x")...)
	got := map[netip.Addr]bool{}
	for i := 0; i < 2; i++ {
		tp := c.recvTun(t)
		dst := addrOf(tp.ip.DstIP)
		n := int(dst.As4()[3])
		if n != 2 && n != 3 {
			t.Fatalf("copy to %v", dst)
		}
		c.checkOuter(t, tp, n, 64, 32768, 61000)
		if !bytes.Equal(tp.th, vxlanHeader(100)) {
			t.Fatalf("VXLAN header % x", tp.th)
		}
		ie := ethOf(tp.inner)
		a, ok := tp.inner.Layer(layers.LayerTypeARP).(*layers.ARP)
		if !ok || [6]byte(ie.DstMAC) != hdr.BroadcastMAC || [6]byte(ie.SrcMAC) != c.vmac || a.Operation != layers.ARPRequest ||
			addrOf(a.DstProtAddress) != innerIP(6) || addrOf(a.SourceProtAddress) != innerIP(1) ||
			[6]byte(a.SourceHwAddress) != c.vmac {
			t.Fatalf("inner frame: %v", tp.inner)
		}
		got[dst] = true
	}
	if len(got) != 2 {
		t.Fatalf("copies went to %v", got)
	}
}

// V11: learning, migration, and the static entry that refuses migration.
func TestVXLANClassicLearning(t *testing.T) {
	c := classicTopo(t, nil)
	m := innerMAC(7)
	other := hdr.MAC{2, 0, 0, 0, 0xaa, 0xaa} // not the router: the inner frame is dropped after learning
	c.fromVTEP(3, 100, c.innerUDP(7, other, "10.99.0.1", 0, "learn me")...)
	c.waitFDB(t, m, "10.100.0.3")
	// The learned entry steers traffic for M to .3.
	c.h.neigh("vx0", innerIP(7), m)
	c.hh.send(udp4(c.hh, "10.99.0.7", 1, 2, "to M")...)
	tp := c.recvTun(t)
	c.checkOuter(t, tp, 3, 64, 32768, 61000)
	// A frame from .4 migrates it.
	c.fromVTEP(4, 100, c.innerUDP(7, other, "10.99.0.1", 0, "moved")...)
	c.waitFDB(t, m, "10.100.0.4")
	c.hh.send(udp4(c.hh, "10.99.0.7", 1, 2, "to M")...)
	c.checkOuter(t, c.recvTun(t), 4, 64, 32768, 61000)
	for _, l := range c.fdbShow() {
		if strings.HasPrefix(l, m.String()+" dst 10.100.0.3") {
			t.Fatalf("stale entry after migration: %v", c.fdbShow())
		}
	}
	// Made permanent on .3, a frame from .4 is dropped.
	if r := c.h.try(api.Request{Op: api.OpFDBReplace, FDB: &api.FDB{MAC: m.String(), Dev: "vx0", Dst: "10.100.0.3", State: "permanent"}}); r.Error != "" {
		t.Fatal(r.Error)
	}
	c.waitFDB(t, m, "10.100.0.3")
	before := c.h.drops()["fdb_static_mismatch"]
	c.fromVTEP(4, 100, c.innerUDP(7, c.vmac, "10.11.0.1", 0, "spoofed")...)
	c.h.waitDrop("fdb_static_mismatch", before+1)
	c.hh.quiet() // the spoofed frame was not forwarded
	c.waitFDB(t, m, "10.100.0.3")
}

// V12: FDB errors through the API.
func TestVXLANClassicFDBErrors(t *testing.T) {
	c := classicTopo(t, func(v *api.VXLAN) { v.MaxAddress = 3 })
	code := func(r *api.Response) string { return r.Code }
	if r := c.fdb(api.OpFDBAdd, "02:00:00:00:99:07", "10.100.0.3"); r.Error != "" {
		t.Fatal(r.Error)
	}
	if got := code(c.fdb(api.OpFDBAdd, "02:00:00:00:99:07", "10.100.0.3")); got != "EEXIST" {
		t.Errorf("duplicate add: %q, want EEXIST", got)
	}
	if got := code(c.fdb(api.OpFDBReplace, "00:00:00:00:00:00", "10.100.0.3")); got != "EOPNOTSUPP" {
		t.Errorf("replace on the zero MAC: %q, want EOPNOTSUPP", got)
	}
	if got := code(c.fdb(api.OpFDBAdd, "02:00:00:00:99:08", "")); got != "EINVAL" {
		t.Errorf("add without dst: %q, want EINVAL", got)
	}
	if got := code(c.fdb(api.OpFDBAdd, "02:00:00:00:99:08", "fd00::3")); got != "EAFNOSUPPORT" {
		t.Errorf("v6 dst on a v4 device: %q, want EAFNOSUPPORT", got)
	}
	// maxaddress 3: the default remote and .07 are two; one more fits.
	if r := c.fdb(api.OpFDBAdd, "02:00:00:00:99:08", "10.100.0.4"); r.Error != "" {
		t.Fatal(r.Error)
	}
	if got := code(c.fdb(api.OpFDBAdd, "02:00:00:00:99:09", "10.100.0.4")); got != "ENOSPC" {
		t.Errorf("over maxaddress: %q, want ENOSPC (fdb %v)", got, c.fdbShow())
	}
	if n := len(c.fdbShow()); n != 3 {
		t.Errorf("fdb has %d entries: %v", n, c.fdbShow())
	}
}

// V13: device creation errors.
func TestVXLANDeviceErrors(t *testing.T) {
	h := newHarness(t, false)
	h.addLink("u", "10.100.0.1/24")
	add := func(name string, v api.VXLAN) string {
		return h.try(api.Request{Op: api.OpLinkAdd, Link: &api.Link{Name: name, Kind: "vxlan", VXLAN: &v}}).Code
	}
	up := func(name string) string {
		u := true
		return h.try(api.Request{Op: api.OpLinkSet, Link: &api.Link{Name: name, Up: &u}}).Code
	}
	if got := add("a", api.VXLAN{VNI: 1 << 24, DstPort: 4789, SetDstPort: true}); got != "ERANGE" {
		t.Errorf("id 2^24: %q, want ERANGE", got)
	}
	if got := add("a", api.VXLAN{VNI: 1<<24 - 1, DstPort: 4789, SetDstPort: true}); got != "" {
		t.Fatalf("id 2^24-1: %q", got)
	}
	if got := add("b", api.VXLAN{VNI: 1<<24 - 1, DstPort: 4789, SetDstPort: true}); got != "EEXIST" {
		t.Errorf("same VNI and port: %q, want EEXIST", got)
	}
	if got := add("b", api.VXLAN{VNI: 1<<24 - 1, DstPort: 4790, SetDstPort: true}); got != "" {
		t.Errorf("same VNI, other port: %q", got)
	}
	if got := add("x1", api.VXLAN{External: true, DstPort: 4789, SetDstPort: true}); got != "" {
		t.Fatalf("external beside a classic device: %q", got)
	}
	if got := add("x2", api.VXLAN{External: true, DstPort: 4789, SetDstPort: true}); got != "EEXIST" {
		t.Errorf("second external on a port: %q, want EEXIST", got)
	}
	if got := up("a"); got != "" {
		t.Fatalf("up classic: %q", got)
	}
	if got := up("x1"); got != "EADDRINUSE" {
		t.Errorf("up external on the classic device's port: %q, want EADDRINUSE", got)
	}
	if got := up("b"); got != "" {
		t.Errorf("up classic on its own port: %q", got)
	}
}

// V14: the outer route leads back into the VXLAN device.
func TestVXLANClassicOuterRouteLoop(t *testing.T) {
	c := classicTopo(t, nil)
	c.h.do(api.Request{Op: api.OpRouteAdd, Route: &api.Route{Dst: "10.100.0.2/32", Dev: "vx0"}})
	c.h.neigh("vx0", innerIP(5), innerMAC(5))
	c.hh.send(udp4(c.hh, "10.99.0.5", 1, 2, "loop")...)
	c.h.waitDrop("tunnel_loop_collisions", 1)
	if st := c.h.linkStats("vx0"); st.TxDropped != 1 {
		t.Fatalf("vx0 tx_dropped %d, want 1", st.TxDropped)
	}
	c.vteps[2].expectNone(50 * time.Millisecond) // (sync would loop: its reply to .2 takes the same route)
}

// V15: the device MTU follows the lower device.
func TestVXLANClassicMTU(t *testing.T) {
	c := classicTopo(t, nil)
	show := func() int {
		return c.h.do(api.Request{Op: api.OpLinkShow, Link: &api.Link{Name: "vx0"}}).Links[0].MTU
	}
	if m := show(); m != 1450 {
		t.Fatalf("vx0 mtu %d, want 1450", m)
	}
	if r := c.h.try(api.Request{Op: api.OpLinkSet, Link: &api.Link{Name: "vx0", MTU: 1451}}); r.Code != "EINVAL" {
		t.Fatalf("mtu 1451: %q, want EINVAL", r.Code)
	}
	c.h.do(api.Request{Op: api.OpLinkSet, Link: &api.Link{Name: "vx0", MTU: 1400}})
	if m := show(); m != 1400 {
		t.Fatalf("vx0 mtu %d, want 1400", m)
	}
}

// V16: the UDP source port is constant per inner flow, spread across
// flows, and inside the configured range.
func TestVXLANClassicSourcePort(t *testing.T) {
	for _, tc := range []struct {
		name   string
		lo, hi uint16
	}{{"default", 32768, 61000}, {"srcport 5000 5010", 5000, 5010}} {
		t.Run(tc.name, func(t *testing.T) {
			c := classicTopo(t, func(v *api.VXLAN) {
				if tc.lo == 5000 {
					v.SrcPortMin, v.SrcPortMax = 5000, 5010
				}
			})
			c.h.neigh("vx0", innerIP(5), innerMAC(5))
			ports := map[uint16]bool{}
			for flow := 0; flow < 16; flow++ {
				var first uint16
				for rep := 0; rep < 3; rep++ {
					c.hh.send(udp4(c.hh, "10.99.0.5", uint16(1000+flow), 53, "flow")...)
					tp := c.recvTun(t)
					c.checkOuter(t, tp, 2, 64, tc.lo, tc.hi)
					sp := uint16(tp.udp.SrcPort)
					if rep == 0 {
						first = sp
					} else if sp != first {
						t.Fatalf("flow %d: source port %d then %d", flow, first, sp)
					}
				}
				ports[first] = true
			}
			if len(ports) < 4 {
				t.Fatalf("16 flows used only %d source ports: %v", len(ports), ports)
			}
		})
	}
}

// V17: outer TTL: 64 by default (ttl 0), a fixed value, or inherited
// from the inner packet.
func TestVXLANClassicTTL(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(*api.VXLAN)
		want uint8
	}{
		{"ttl 0", func(*api.VXLAN) {}, 64},
		{"ttl 9", func(v *api.VXLAN) { v.TTL = 9 }, 9},
		{"ttl inherit", func(v *api.VXLAN) { v.TTLInherit = true }, 29}, // the inner TTL after forwarding
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := classicTopo(t, tc.set)
			c.h.neigh("vx0", innerIP(5), innerMAC(5))
			ip := c.hh.ip4hdr("10.99.0.5", layers.IPProtocolUDP, 30)
			u := &layers.UDP{SrcPort: 1, DstPort: 2}
			_ = u.SetNetworkLayerForChecksum(ip)
			c.hh.send(c.hh.eth(layers.EthernetTypeIPv4), ip, u, layersPayload("ttl"))
			tp := c.recvTun(t)
			c.checkOuter(t, tp, 2, tc.want, 32768, 61000)
			if ip4Of(t, tp.inner).TTL != 29 {
				t.Fatalf("inner TTL %d", ip4Of(t, tp.inner).TTL)
			}
		})
	}
}

// V18: ECN on encapsulation and decapsulation.
func TestVXLANClassicECN(t *testing.T) {
	c := classicTopo(t, nil)
	c.h.neigh("vx0", innerIP(5), innerMAC(5))
	// Encap: the inner ECN bits are copied to the outer header, the DSCP
	// is not (tos 0).
	for _, ecn := range []uint8{0, 1, 2, 3} {
		ip := c.hh.ip4hdr("10.99.0.5", layers.IPProtocolUDP, 64)
		ip.TOS = 0x20 | ecn
		u := &layers.UDP{SrcPort: 1, DstPort: 2}
		_ = u.SetNetworkLayerForChecksum(ip)
		c.hh.send(c.hh.eth(layers.EthernetTypeIPv4), ip, u, layersPayload("ecn"))
		tp := c.recvTun(t)
		want := ecn
		if ecn == 3 {
			want = 2 // CE is not copied: the outer header gets ECT(0) (INET_ECN_encapsulate)
		}
		if tp.ip.TOS != want {
			t.Fatalf("inner TOS %#x: outer TOS %#x, want %#x", 0x20|ecn, tp.ip.TOS, want)
		}
		if ip4Of(t, tp.inner).TOS != 0x20|ecn {
			t.Fatalf("inner TOS changed to %#x", ip4Of(t, tp.inner).TOS)
		}
	}
	// Decap: outer CE marks an ECT inner packet CE...
	send := func(outerTOS, innerTOS uint8) {
		ls := vxlanFrame(c.vteps[2].host, 100, c.innerUDP(2, c.vmac, "10.11.0.1", innerTOS, "ce")...)
		ls[1].(*layers.IPv4).TOS = outerTOS
		c.vteps[2].send(ls...)
	}
	send(0x03, 0x02)
	p := c.hh.recv()
	ip := ip4Of(t, p)
	if ip.TOS != 0x03 || addrOf(ip.SrcIP) != innerIP(2) || ip.TTL != 63 {
		t.Fatalf("decapsulated packet: %v", p)
	}
	checkSums(t, p.Data())
	// ... outer ECT(0) leaves the inner packet alone ...
	send(0x02, 0x00)
	if ip := ip4Of(t, c.hh.recv()); ip.TOS != 0 {
		t.Fatalf("inner TOS %#x after outer ECT(0)", ip.TOS)
	}
	// ... and outer CE with a not-ECT inner packet is a frame error.
	send(0x03, 0x00)
	c.h.waitDrop("tunnel_ecn_frame_error", 1)
	if st := c.h.linkStats("vx0"); st.RxDropped != 1 {
		t.Fatalf("vx0 rx_dropped %d", st.RxDropped)
	}
	c.hh.quiet()
}

// V20: localbypass. vx0's FDB sends M to a local address with VNI 400;
// vx4 (VNI 400) gets the frame directly, without encapsulation, and
// routes it by its own rule out of link g.
func TestVXLANClassicLocalBypass(t *testing.T) {
	c := classicTopo(t, nil)
	h := c.h
	h.addLink("g", "10.12.0.254/24")
	g := h.host("g", [6]byte{2, 0, 0, 0, 0x12, 1}, "10.12.0.1", "").permanent()
	h.do(api.Request{Op: api.OpLinkAdd, Link: &api.Link{Name: "vx4", Kind: "vxlan",
		VXLAN: &api.VXLAN{VNI: 400, DstPort: 4789, SetDstPort: true, Dev: "u"}}})
	up := true
	h.do(api.Request{Op: api.OpLinkSet, Link: &api.Link{Name: "vx4", Up: &up}})
	h.do(api.Request{Op: api.OpAddrAdd, Addr: &api.Addr{Dev: "vx4", Prefix: "10.98.0.1/24"}})
	m4 := h.mac("vx4")
	h.neigh("vx0", innerIP(5), m4)
	h.do(api.Request{Op: api.OpFDBAdd, FDB: &api.FDB{MAC: m4.String(), Dev: "vx0", Dst: "10.100.0.1", VNI: 400, SetVNI: true}})
	h.do(api.Request{Op: api.OpRouteAdd, Route: &api.Route{Dst: "10.50.0.0/24", Via: "10.99.0.5", Dev: "vx0"}})
	h.do(api.Request{Op: api.OpRuleAdd, Rule: &api.Rule{Iif: "vx4", Table: 100, Priority: 100, SetPriority: true}})
	h.do(api.Request{Op: api.OpRouteAdd, Route: &api.Route{Dst: "10.50.0.0/24", Via: "10.12.0.1", Dev: "g", Table: 100}})
	c.hh.send(udp4(c.hh, "10.50.0.9", 1, 2, "bypass")...)
	p := g.recv()
	ip := ip4Of(t, p)
	if addrOf(ip.DstIP) != netip.MustParseAddr("10.50.0.9") || ip.TTL != 62 || p.Layer(layers.LayerTypeVXLAN) != nil ||
		string(p.ApplicationLayer().Payload()) != "bypass" {
		t.Fatalf("bypassed packet: %v", p)
	}
	checkSums(t, p.Data())
	if st := h.linkStats("vx4"); st.RxPackets != 1 {
		t.Fatalf("vx4 rx_packets %d", st.RxPackets)
	}
	c.vteps[2].quiet() // nothing encapsulated
}

// V3, V4, V5: malformed or unknown VXLAN is dropped with its counter and
// no ICMP.
func TestVXLANClassicReceiveDrops(t *testing.T) {
	c := classicTopo(t, nil)
	v := c.vteps[2]
	good := serialize(t, vxlanFrame(v.host, 100, c.innerUDP(2, c.vmac, "10.11.0.1", 0, "ok")...)...)
	vxOff := 14 + 20 + 8
	for _, tc := range []struct {
		name   string
		mutate func(b []byte)
		reason string
	}{
		{"V3 I flag clear", func(b []byte) { b[vxOff] = 0 }, "tunnel_header_invalid"},
		{"V4 G bit on a non-GBP device", func(b []byte) { b[vxOff] |= 0x80 }, "tunnel_header_invalid"},
		{"V4 reserved flag bit", func(b []byte) { b[vxOff] |= 0x01 }, "tunnel_header_invalid"},
		{"V4 reserved byte after the VNI", func(b []byte) { b[vxOff+7] = 1 }, "tunnel_header_invalid"},
		{"V5 unknown VNI", func(b []byte) { b[vxOff+6] = 101 }, "tunnel_unknown_vni"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := append([]byte(nil), good...)
			tc.mutate(b)
			// The outer UDP checksum no longer matches: clear it (zero
			// is allowed over IPv4) so only the tunnel header is wrong.
			binary.BigEndian.PutUint16(b[14+20+6:], 0)
			before := c.h.drops()[tc.reason]
			v.inject(b)
			c.h.waitDrop(tc.reason, before+1)
			v.quiet() // no ICMP back to the VTEP
			c.hh.quiet()
		})
	}
	// The unmodified frame still goes through.
	v.inject(good)
	if ip := ip4Of(t, c.hh.recv()); addrOf(ip.SrcIP) != innerIP(2) {
		t.Fatalf("good frame: %v", ip)
	}
}

// Ping end to end: the test is VTEP .2 with station 10.99.0.2 behind it
// and pings the router's address on vx0. The router resolves 10.99.0.2
// with an ARP request that it encapsulates to the default remote; the
// test answers it encapsulated, and gets the echo reply encapsulated.
func TestVXLANClassicPingEndToEnd(t *testing.T) {
	c := classicTopo(t, nil)
	me := innerMAC(2)
	echo := func(seq uint16) []gopacket.SerializableLayer {
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolICMPv4, SrcIP: innerIP(2).AsSlice(), DstIP: innerIP(1).AsSlice()}
		return []gopacket.SerializableLayer{&layers.Ethernet{SrcMAC: me[:], DstMAC: c.vmac[:], EthernetType: layers.EthernetTypeIPv4}, ip,
			&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: 42, Seq: seq}, layersPayload("ping over vxlan")}
	}
	c.fromVTEP(2, 100, echo(1)...)
	// The router's ARP request for 10.99.0.2, encapsulated to .2.
	tp := c.recvTun(t)
	c.checkOuter(t, tp, 2, 64, 32768, 61000)
	if !bytes.Equal(tp.th, vxlanHeader(100)) {
		t.Fatalf("VXLAN header % x", tp.th)
	}
	a, ok := tp.inner.Layer(layers.LayerTypeARP).(*layers.ARP)
	if !ok || a.Operation != layers.ARPRequest || addrOf(a.DstProtAddress) != innerIP(2) || addrOf(a.SourceProtAddress) != innerIP(1) {
		t.Fatalf("want the router's ARP request for 10.99.0.2, got %v", tp.inner)
	}
	c.fromVTEP(2, 100, &layers.Ethernet{SrcMAC: me[:], DstMAC: a.SourceHwAddress, EthernetType: layers.EthernetTypeARP},
		&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
			Operation: layers.ARPReply, SourceHwAddress: me[:], SourceProtAddress: innerIP(2).AsSlice(),
			DstHwAddress: a.SourceHwAddress, DstProtAddress: a.SourceProtAddress})
	check := func(seq uint16) {
		t.Helper()
		tp := c.recvTun(t)
		c.checkOuter(t, tp, 2, 64, 32768, 61000)
		ie := ethOf(tp.inner)
		ip := ip4Of(t, tp.inner)
		ic, ok := tp.inner.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
		if !ok || [6]byte(ie.DstMAC) != me || [6]byte(ie.SrcMAC) != c.vmac || addrOf(ip.SrcIP) != innerIP(1) ||
			addrOf(ip.DstIP) != innerIP(2) || ic.TypeCode.Type() != layers.ICMPv4TypeEchoReply || ic.Id != 42 || ic.Seq != seq ||
			string(ic.Payload) != "ping over vxlan" {
			t.Fatalf("want echo reply %d, got %v", seq, tp.inner)
		}
		checkSums(t, tp.inner.Data())
	}
	check(1)
	c.fromVTEP(2, 100, echo(2)...)
	check(2)
}

// V20 with nolocalbypass: the frame for a local VTEP address is really
// encapsulated and delivered to ourselves, so it meets vx4's receive path
// (and its learning) instead of skipping it; nothing leaves on the wire.
func TestVXLANClassicNoLocalBypass(t *testing.T) {
	off := false
	c := classicTopo(t, func(v *api.VXLAN) { v.LocalBypass = &off })
	h := c.h
	h.addLink("g", "10.12.0.254/24")
	g := h.host("g", [6]byte{2, 0, 0, 0, 0x12, 1}, "10.12.0.1", "").permanent()
	h.do(api.Request{Op: api.OpLinkAdd, Link: &api.Link{Name: "vx4", Kind: "vxlan",
		VXLAN: &api.VXLAN{VNI: 400, DstPort: 4789, SetDstPort: true, Dev: "u"}}})
	up := true
	h.do(api.Request{Op: api.OpLinkSet, Link: &api.Link{Name: "vx4", Up: &up}})
	h.do(api.Request{Op: api.OpAddrAdd, Addr: &api.Addr{Dev: "vx4", Prefix: "10.98.0.1/24"}})
	m4 := h.mac("vx4")
	h.neigh("vx0", innerIP(5), m4)
	h.do(api.Request{Op: api.OpFDBAdd, FDB: &api.FDB{MAC: m4.String(), Dev: "vx0", Dst: "10.100.0.1", VNI: 400, SetVNI: true}})
	h.do(api.Request{Op: api.OpRouteAdd, Route: &api.Route{Dst: "10.50.0.0/24", Via: "10.99.0.5", Dev: "vx0"}})
	h.do(api.Request{Op: api.OpRuleAdd, Rule: &api.Rule{Iif: "vx4", Table: 100, Priority: 100, SetPriority: true}})
	h.do(api.Request{Op: api.OpRouteAdd, Route: &api.Route{Dst: "10.50.0.0/24", Via: "10.12.0.1", Dev: "g", Table: 100}})
	c.hh.send(udp4(c.hh, "10.50.0.9", 1, 2, "looped")...)
	p := g.recv()
	ip := ip4Of(t, p)
	if addrOf(ip.DstIP) != netip.MustParseAddr("10.50.0.9") || ip.TTL != 62 || string(p.ApplicationLayer().Payload()) != "looped" {
		t.Fatalf("looped packet: %v", p)
	}
	// vx4 learned vx0's MAC behind our own address: the receive path ran.
	vx0 := h.mac("vx0")
	deadline := time.Now().Add(2 * time.Second)
	for {
		learned := false
		for _, e := range h.do(api.Request{Op: api.OpFDBShow, Filter: &api.Filter{Dev: "vx4"}}).FDBs {
			learned = learned || (e.MAC == vx0.String() && e.Dst == "10.100.0.1")
		}
		if learned {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("vx4 did not learn vx0's MAC: the frame skipped the receive path")
		}
		time.Sleep(5 * time.Millisecond)
	}
	c.vteps[2].quiet() // nothing on the wire
}
