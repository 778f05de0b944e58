package scenario

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"slices"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"flowpath/api"
	"flowpath/internal/control"
	"flowpath/internal/hdr"
	"flowpath/internal/port"
	"flowpath/internal/tunnel"
)

// Tunnel metadata (spec §2.4 M4, M5), Geneve devices, route encap mpls
// (§1.9 L10, L13) and GSO through a VXLAN device.

// arpRequest is an inner ARP request from station (mac, ip) for target.
func arpRequest(mac hdr.MAC, ip, target netip.Addr) []gopacket.SerializableLayer {
	return []gopacket.SerializableLayer{
		&layers.Ethernet{SrcMAC: mac[:], DstMAC: layers.EthernetBroadcast, EthernetType: layers.EthernetTypeARP},
		&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
			Operation: layers.ARPRequest, SourceHwAddress: mac[:], SourceProtAddress: ip.AsSlice(),
			DstHwAddress: make([]byte, 6), DstProtAddress: target.AsSlice()}}
}

// checkARPReply checks an inner frame is the router's ARP reply from
// (rmac, rip) to station (mac, ip).
func checkARPReply(t *testing.T, inner gopacket.Packet, rmac hdr.MAC, rip netip.Addr, mac hdr.MAC, ip netip.Addr) {
	t.Helper()
	e := ethOf(inner)
	a, ok := inner.Layer(layers.LayerTypeARP).(*layers.ARP)
	if !ok || [6]byte(e.DstMAC) != mac || [6]byte(e.SrcMAC) != rmac || a.Operation != layers.ARPReply ||
		[6]byte(a.SourceHwAddress) != rmac || addrOf(a.SourceProtAddress) != rip ||
		[6]byte(a.DstHwAddress) != mac || addrOf(a.DstProtAddress) != ip {
		t.Fatalf("want ARP reply %v is-at %v to %v, got %v", rip, rmac, ip, inner)
	}
}

// M4: an ARP request for the router's address arriving on the external
// device is answered through the tunnel it came from: to the request's
// outer source, with its VNI, and its flags (the UDP checksum the
// request had makes the reply carry one).
func TestVXLANExternalARPReplyViaMetadata(t *testing.T) {
	h, _, _ := lwtTopo(t)
	v3 := h.host("u", [6]byte{2, 0, 0, 0, 0x64, 3}, "10.100.0.3", "").permanent()
	vmac := h.mac("vxlan0")
	sta := hdr.MAC{2, 0, 0, 0, 0x77, 7}
	staIP := netip.MustParseAddr("10.99.0.7")
	rip := netip.MustParseAddr("10.99.0.1")
	v3.send(vxlanFrame(v3, 77, arpRequest(sta, staIP, rip)...)...)
	tp := decodeTun(t, v3.recv())
	if addrOf(tp.ip.DstIP) != v3.ip4 || addrOf(tp.ip.SrcIP) != netip.MustParseAddr("10.100.0.1") || tp.ip.TTL != 64 ||
		[6]byte(tp.eth.DstMAC) != v3.mac {
		t.Fatalf("outer IPv4 %v -> %v ttl %d", tp.ip.SrcIP, tp.ip.DstIP, tp.ip.TTL)
	}
	if tp.udp.DstPort != 4789 || tp.udp.SrcPort < 32768 || tp.udp.SrcPort >= 61000 || tp.udp.Checksum == 0 {
		t.Fatalf("outer UDP %d -> %d checksum %#x (want one: the request had TUNNEL_CSUM)", tp.udp.SrcPort, tp.udp.DstPort, tp.udp.Checksum)
	}
	if !bytes.Equal(tp.th, vxlanHeader(77)) {
		t.Fatalf("VXLAN header % x, want VNI 77", tp.th)
	}
	checkARPReply(t, tp.inner, vmac, rip, sta, staIP)
	v3.quiet() // one reply, nothing else
}

// M5 for IPv6: rule tun_id selects the table for inner IPv6 packets too.
func TestVXLANExternalTunIDRuleIPv6(t *testing.T) {
	h, _, peer := lwtTopo(t)
	h.do(api.Request{Op: api.OpAddrAdd, Addr: &api.Addr{Dev: "h", Prefix: "fd00:11::254/64"}})
	hh := h.host("h", [6]byte{2, 0, 0, 0, 0x11, 1}, "10.11.0.1", "fd00:11::1").permanent()
	vmac := h.mac("vxlan0")
	inner := func() []gopacket.SerializableLayer {
		ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolUDP,
			SrcIP: netip.MustParseAddr("fd00:12::5").AsSlice(), DstIP: hh.ip6.AsSlice()}
		u := &layers.UDP{SrcPort: 7, DstPort: 9}
		_ = u.SetNetworkLayerForChecksum(ip)
		return []gopacket.SerializableLayer{&layers.Ethernet{SrcMAC: []byte{2, 0, 0, 0, 0x10, 2}, DstMAC: vmac[:],
			EthernetType: layers.EthernetTypeIPv6}, ip, u, layersPayload("six")}
	}
	h.do(api.Request{Op: api.OpRuleAdd, Rule: &api.Rule{Family: 6, TunID: 10, Table: 100}})
	h.do(api.Request{Op: api.OpRouteAdd, Route: &api.Route{Type: "blackhole", Dst: "fd00:11::/64", Table: 100}})
	before := h.drops()["blackhole"]
	peer.send(vxlanFrame(peer, 10, inner()...)...)
	peer.send(vxlanFrame(peer, 42, inner()...)...)
	p := hh.recv()
	ip := ip6Of(t, p)
	if addrOf(ip.SrcIP) != netip.MustParseAddr("fd00:12::5") || ip.HopLimit != 63 {
		t.Fatalf("VNI 42 packet: %v", p)
	}
	checkSums(t, p.Data())
	h.waitDrop("blackhole", before+1) // the VNI 10 packet
	hh.quiet()
}

// geneveTopo: link h, underlay u (VTEP 10.100.0.2 played by the test),
// and a Geneve device gnv0 with 10.97.0.1/24, classic (id 5 remote
// 10.100.0.2) or external.
func geneveTopo(t *testing.T, external bool) (*harness, *host, *host) {
	h := newHarness(t, false)
	h.addLink("h", "10.11.0.254/24")
	h.addLink("u", "10.100.0.1/24")
	g := &api.Geneve{VNI: 5, Remote: "10.100.0.2"}
	if external {
		g = &api.Geneve{External: true}
	}
	h.do(api.Request{Op: api.OpLinkAdd, Link: &api.Link{Name: "gnv0", Kind: "geneve", Geneve: g}})
	up := true
	h.do(api.Request{Op: api.OpLinkSet, Link: &api.Link{Name: "gnv0", Up: &up}})
	h.do(api.Request{Op: api.OpAddrAdd, Addr: &api.Addr{Dev: "gnv0", Prefix: "10.97.0.1/24"}})
	hh := h.host("h", [6]byte{2, 0, 0, 0, 0x11, 1}, "10.11.0.1", "").permanent()
	peer := h.host("u", [6]byte{2, 0, 0, 0, 0x64, 2}, "10.100.0.2", "").permanent()
	return h, hh, peer
}

// geneveFrame is an outer Geneve packet from peer with the given header
// (VNI, options, flags already in it) and inner layers.
func geneveFrame(t *testing.T, peer *host, gh []byte, inner ...gopacket.SerializableLayer) []byte {
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: peer.ip4.AsSlice(),
		DstIP: netip.MustParseAddr("10.100.0.1").AsSlice()}
	u := &layers.UDP{SrcPort: 4444, DstPort: 6081}
	_ = u.SetNetworkLayerForChecksum(ip)
	in := serialize(t, inner...)
	return serialize(t, peer.eth(layers.EthernetTypeIPv4), ip, u, gopacket.Payload(append(append([]byte(nil), gh...), in...)))
}

func TestGeneveClassic(t *testing.T) {
	h, hh, peer := geneveTopo(t, false)
	gmac := h.mac("gnv0")
	h.neigh("gnv0", netip.MustParseAddr("10.97.0.5"), hdr.MAC{2, 0, 0, 0, 0x97, 5})
	hh.send(udp4(hh, "10.97.0.5", 1, 2, "geneve")...)
	tp := decodeTun(t, peer.recv())
	if addrOf(tp.ip.DstIP) != peer.ip4 || addrOf(tp.ip.SrcIP) != netip.MustParseAddr("10.100.0.1") || tp.ip.TTL != 64 {
		t.Fatalf("outer IPv4 %v -> %v ttl %d", tp.ip.SrcIP, tp.ip.DstIP, tp.ip.TTL)
	}
	if tp.udp.DstPort != 6081 || tp.udp.SrcPort < 32768 || tp.udp.SrcPort >= 61000 {
		t.Fatalf("outer UDP %d -> %d", tp.udp.SrcPort, tp.udp.DstPort)
	}
	if want := []byte{0, 0, 0x65, 0x58, 0, 0, 5, 0}; !bytes.Equal(tp.th, want) {
		t.Fatalf("Geneve header % x, want % x", tp.th, want)
	}
	ie := ethOf(tp.inner)
	if [6]byte(ie.SrcMAC) != gmac || [6]byte(ie.DstMAC) != (hdr.MAC{2, 0, 0, 0, 0x97, 5}) || ip4Of(t, tp.inner).TTL != 63 {
		t.Fatalf("inner: %v", tp.inner)
	}
	// Receive: VNI 5 is delivered, VNI 6 is not ours.
	in := c4inner(hdr.MAC{2, 0, 0, 0, 0x97, 5}, gmac, "10.97.0.5", "10.11.0.1", "back")
	peer.inject(geneveFrame(t, peer, []byte{0, 0, 0x65, 0x58, 0, 0, 5, 0}, in...))
	if ip := ip4Of(t, hh.recv()); addrOf(ip.SrcIP) != netip.MustParseAddr("10.97.0.5") || ip.TTL != 63 {
		t.Fatalf("decapsulated: %v", ip)
	}
	peer.inject(geneveFrame(t, peer, []byte{0, 0, 0x65, 0x58, 0, 0, 6, 0}, in...))
	h.waitDrop("tunnel_unknown_vni", 1)
	hh.quiet()
}

// c4inner is an inner Ethernet/IPv4/UDP frame.
func c4inner(src, dst hdr.MAC, from, to, payload string) []gopacket.SerializableLayer {
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: netip.MustParseAddr(from).AsSlice(),
		DstIP: netip.MustParseAddr(to).AsSlice()}
	u := &layers.UDP{SrcPort: 7, DstPort: 9}
	_ = u.SetNetworkLayerForChecksum(ip)
	return []gopacket.SerializableLayer{&layers.Ethernet{SrcMAC: src[:], DstMAC: dst[:], EthernetType: layers.EthernetTypeIPv4},
		ip, u, layersPayload(payload)}
}

// External Geneve with `encap ip id 5 dst 10.100.0.2 geneve_opts ...` on
// the route: the options appear in the Geneve header.
func TestGeneveExternalRouteOptions(t *testing.T) {
	h, hh, peer := geneveTopo(t, true)
	h.do(api.Request{Op: api.OpRouteAdd, Route: &api.Route{Dst: "10.13.0.0/24", Via: "10.97.0.2", Dev: "gnv0", Onlink: true,
		Encap: &api.Encap{Type: "ip", ID: 5, Dst: "10.100.0.2", GeneveOpts: "0x0102:0x01:00010203,0xffff:0x22:0a0b0c0d0e0f1011"}}})
	h.neigh("gnv0", netip.MustParseAddr("10.97.0.2"), hdr.MAC{2, 0, 0, 0, 0x97, 2})
	r := h.do(api.Request{Op: api.OpRouteShow, Filter: &api.Filter{Prefix: "10.13.0.0/24"}})
	if len(r.Routes) != 1 || r.Routes[0].Encap == nil || r.Routes[0].Encap.GeneveOpts == "" {
		t.Fatalf("route show: %+v", r.Routes)
	}
	hh.send(udp4(hh, "10.13.0.9", 1, 2, "opts")...)
	tp := decodeTun(t, peer.recv())
	if addrOf(tp.ip.DstIP) != peer.ip4 || tp.udp.DstPort != 6081 || tp.udp.Checksum != 0 {
		t.Fatalf("outer %v -> %v port %d csum %#x", tp.ip.SrcIP, tp.ip.DstIP, tp.udp.DstPort, tp.udp.Checksum)
	}
	want := []byte{
		5, 0, 0x65, 0x58, 0, 0, 5, 0, // 5 words of options, VNI 5
		0x01, 0x02, 0x01, 1, 0, 1, 2, 3, // class 0x0102 type 1, 1 word
		0xff, 0xff, 0x22, 2, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, // class 0xffff type 0x22, 2 words
	}
	if !bytes.Equal(tp.th, want) {
		t.Fatalf("Geneve header\n% x, want\n% x", tp.th, want)
	}
	if ip := ip4Of(t, tp.inner); addrOf(ip.DstIP) != netip.MustParseAddr("10.13.0.9") || ip.TTL != 63 {
		t.Fatalf("inner: %v", tp.inner)
	}
}

// Geneve with options received on the external device: data is
// delivered, and an ARP request is answered with the request's VNI,
// options and critical bit.
func TestGeneveExternalReceiveOptions(t *testing.T) {
	h, hh, peer := geneveTopo(t, true)
	gmac := h.mac("gnv0")
	opts := []byte{0x01, 0x02, 0x81, 1, 0xde, 0xad, 0xbe, 0xef} // a critical option (type bit 7)
	gh := append([]byte{2, 0x40, 0x65, 0x58, 0, 0x30, 0x39, 0}, opts...)
	peer.inject(geneveFrame(t, peer, gh, c4inner(hdr.MAC{2, 0, 0, 0, 0x97, 5}, gmac, "10.97.0.5", "10.11.0.1", "opts in")...))
	p := hh.recv()
	if ip := ip4Of(t, p); addrOf(ip.SrcIP) != netip.MustParseAddr("10.97.0.5") || string(p.ApplicationLayer().Payload()) != "opts in" {
		t.Fatalf("decapsulated: %v", p)
	}
	sta := hdr.MAC{2, 0, 0, 0, 0x97, 6}
	peer.inject(geneveFrame(t, peer, gh, arpRequest(sta, netip.MustParseAddr("10.97.0.6"), netip.MustParseAddr("10.97.0.1"))...))
	tp := decodeTun(t, peer.recv())
	if addrOf(tp.ip.DstIP) != peer.ip4 || tp.udp.DstPort != 6081 {
		t.Fatalf("reply outer %v -> %v:%d", tp.ip.SrcIP, tp.ip.DstIP, tp.udp.DstPort)
	}
	if !bytes.Equal(tp.th, gh) {
		t.Fatalf("reply Geneve header\n% x, want the request's\n% x", tp.th, gh)
	}
	checkARPReply(t, tp.inner, gmac, netip.MustParseAddr("10.97.0.1"), sta, netip.MustParseAddr("10.97.0.6"))
}

// twoHostTopo: links r1 10.1.0.254/24 and r2 10.2.0.254/24 with a host
// on each (10.1.0.1, 10.2.0.1; permanent neighbours).
func twoHostTopo(t *testing.T) (*harness, *host, *host) {
	h := newHarness(t, false)
	h.addLink("r1", "10.1.0.254/24")
	h.addLink("r2", "10.2.0.254/24")
	h1 := h.host("r1", [6]byte{2, 0, 0, 0, 1, 1}, "10.1.0.1", "").permanent()
	h2 := h.host("r2", [6]byte{2, 0, 0, 0, 2, 1}, "10.2.0.1", "").permanent()
	return h, h1, h2
}

// Route encap mpls 200/300: two labels (S on the last, TTL = the inner
// TTL after forwarding), ethertype 0x8847, and a path MTU 8 below the
// device's.
func TestRouteEncapMPLS(t *testing.T) {
	h, h1, h2 := twoHostTopo(t)
	h.do(api.Request{Op: api.OpRouteAdd, Route: &api.Route{Dst: "10.12.0.0/24", Via: "10.2.0.1", Dev: "r2",
		Encap: &api.Encap{Type: "mpls", Labels: []uint32{200, 300}}}})
	send := func(size int, ttl uint8) {
		h1.inject(h1.udp4("10.12.0.5", 1, 2, ttl, true, make([]byte, size-28)))
	}
	for _, ttl := range []uint8{64, 9} {
		send(100, ttl)
		p := h2.recv()
		b := p.Data()
		if !bytes.Equal(b[:6], h2.mac[:]) || !bytes.Equal(b[6:12], h2.rmac[:]) || binary.BigEndian.Uint16(b[12:]) != 0x8847 {
			t.Fatalf("Ethernet header % x", b[:14])
		}
		t1 := ttl - 1
		want := []byte{0x00, 0x0c, 0x80, t1, 0x00, 0x12, 0xc1, t1} // 200 S=0, 300 S=1
		if !bytes.Equal(b[14:22], want) {
			t.Fatalf("label stack % x, want % x", b[14:22], want)
		}
		ip := hdr.IPv4(b[22:])
		if !ip.IsValid() || !ip.ChecksumValid() || ip.TTL() != t1 || ip.Dst() != netip.MustParseAddr("10.12.0.5") || len(ip) != 100 {
			t.Fatalf("inner IPv4 % x", b[22:])
		}
	}
	// Path MTU 1500 - 8: 1492 bytes pass, 1493..1500 with DF get
	// frag-needed 1492.
	send(1492, 64)
	if p := h2.recv(); len(p.Data()) != 14+8+1492 {
		t.Fatalf("1492-byte packet became a %d-byte frame", len(p.Data()))
	}
	for _, size := range []int{1493, 1500} {
		send(size, 64)
		p := h1.recv()
		ic, ok := p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
		if !ok || ic.TypeCode != layers.CreateICMPv4TypeCode(layers.ICMPv4TypeDestinationUnreachable, layers.ICMPv4CodeFragmentationNeeded) ||
			binary.BigEndian.Uint16(p.Data()[14+20+6:]) != 1492 {
			t.Fatalf("size %d: want frag-needed mtu 1492, got %v", size, p)
		}
		checkSums(t, p.Data())
	}
	h2.quiet()
}

// L9: a stack given as raw label stack entries (netlink's form) is
// refused with EINVAL when an entry carries a TTL or a traffic class or
// the S bit is anywhere but on the last entry, and nothing is added; a
// well-formed one pushes what the label numbers would.
func TestRouteEncapMPLSRawEntries(t *testing.T) {
	h, h1, h2 := twoHostTopo(t)
	route := func(lse ...uint32) api.Request {
		return api.Request{Op: api.OpRouteAdd, Route: &api.Route{Dst: "10.12.0.0/24", Via: "10.2.0.1", Dev: "r2",
			Encap: &api.Encap{Type: "mpls", LSEs: lse}}}
	}
	for _, bad := range [][]uint32{
		{200<<12 | 0x100 | 64},             // TTL set
		{200<<12 | 5<<9 | 0x100},           // TC set
		{200<<12 | 0x100, 300<<12 | 0x100}, // S on a non-last entry
		{200 << 12, 300 << 12},             // no S on the last entry
		{3<<12 | 0x100},                    // implicit null
	} {
		resp := h.try(route(bad...))
		if resp.Code != "EINVAL" {
			t.Errorf("lse %#x: %q (%s), want EINVAL", bad, resp.Error, resp.Code)
		}
	}
	if resp := h.do(api.Request{Op: api.OpRouteShow, Route: &api.Route{Table: 254}}); len(resp.Routes) != 2 {
		t.Fatalf("refused routes left something behind: %+v", resp.Routes)
	}
	h.do(route(200<<12, 300<<12|0x100))
	shown := h.do(api.Request{Op: api.OpRouteShow, Route: &api.Route{Table: 254}}).Routes
	if len(shown) != 3 || shown[2].Encap == nil || !slices.Equal(shown[2].Encap.Labels, []uint32{200, 300}) {
		t.Fatalf("shown: %+v", shown)
	}
	h1.inject(h1.udp4("10.12.0.5", 1, 2, 64, true, make([]byte, 72)))
	b := h2.recv().Data()
	if want := []byte{0x00, 0x0c, 0x80, 63, 0x00, 0x12, 0xc1, 63}; !bytes.Equal(b[14:22], want) {
		t.Fatalf("label stack % x, want % x", b[14:22], want)
	}
	h2.quiet()
}

// L5 and L6 through the API: an encap type out of range is EINVAL on a
// single-path route and EOPNOTSUPP in a multipath nexthop; a type the
// daemon was started without (flowpathd --lwt-encap ip,ip6, as a kernel
// that could not load mpls_iptunnel) is EOPNOTSUPP either way. Nothing of
// a refused route is added.
func TestRouteEncapTypeErrors(t *testing.T) {
	ipOnly, err := tunnel.ParseEncapTypes("ip,ip6")
	if err != nil {
		t.Fatal(err)
	}
	h := newHarnessOpts(t, nil, control.Options{EncapTypes: ipOnly})
	h.addLink("r1", "10.1.0.254/24")
	h.addLink("r2", "10.2.0.254/24")
	single := func(e *api.Encap) api.Request {
		return api.Request{Op: api.OpRouteAdd, Route: &api.Route{Dst: "10.12.0.0/24", Via: "10.2.0.1", Dev: "r2", Encap: e}}
	}
	multi := func(e *api.Encap) api.Request {
		return api.Request{Op: api.OpRouteAdd, Route: &api.Route{Dst: "10.12.0.0/24", Nexthops: []api.Nexthop{
			{Via: "10.1.0.1", Dev: "r1"}, {Via: "10.2.0.1", Dev: "r2", Encap: e}}}}
	}
	mpls := &api.Encap{Type: "mpls", Labels: []uint32{100}}
	for _, c := range []struct {
		req  api.Request
		code string
	}{
		{single(&api.Encap{Type: "99"}), "EINVAL"},
		{single(&api.Encap{Type: "0"}), "EINVAL"},
		{multi(&api.Encap{Type: "99"}), "EOPNOTSUPP"},
		{multi(&api.Encap{Type: "0"}), "EOPNOTSUPP"},
		{single(&api.Encap{Type: "seg6"}), "EOPNOTSUPP"},
		{single(mpls), "EOPNOTSUPP"},
		{multi(mpls), "EOPNOTSUPP"},
	} {
		resp := h.try(c.req)
		if resp.Code != c.code {
			t.Errorf("%+v: %q (%s), want %s", c.req.Route, resp.Error, resp.Code, c.code)
		}
	}
	if resp := h.do(api.Request{Op: api.OpRouteShow, Route: &api.Route{Table: 254}}); len(resp.Routes) != 2 {
		t.Fatalf("refused routes left something behind: %+v", resp.Routes)
	}
	// The types it has still work.
	h.do(single(&api.Encap{Type: "ip", ID: 10, Dst: "10.100.0.2"}))
	// And a daemon with every type takes the MPLS route.
	all := newHarness(t, false)
	all.addLink("r2", "10.2.0.254/24")
	all.do(single(mpls))
}

// GSO through a tunnel: a TCP super-frame forwarded into vx0 leaves as
// segments, each encapsulated on its own and within the underlay MTU.
func TestVXLANGSOSegmentsEncapsulated(t *testing.T) {
	h := newHarness(t, false)
	h.offloads = port.Offloads{RxGSO: true}
	h.addLink("h", "10.11.0.254/24")
	h.offloads = port.Offloads{}
	h.addLink("u", "10.100.0.1/24")
	h.do(api.Request{Op: api.OpLinkAdd, Link: &api.Link{Name: "vx0", Kind: "vxlan",
		VXLAN: &api.VXLAN{VNI: 100, Remote: "10.100.0.2", DstPort: 4789, SetDstPort: true, Dev: "u"}}})
	up := true
	h.do(api.Request{Op: api.OpLinkSet, Link: &api.Link{Name: "vx0", Up: &up}})
	h.do(api.Request{Op: api.OpAddrAdd, Addr: &api.Addr{Dev: "vx0", Prefix: "10.99.0.1/24"}})
	hh := h.host("h", [6]byte{2, 0, 0, 0, 0x11, 1}, "10.11.0.1", "").permanent()
	peer := h.host("u", [6]byte{2, 0, 0, 0, 0x64, 2}, "10.100.0.2", "").permanent()
	h.neigh("vx0", innerIP(5), innerMAC(5))
	vmac := h.mac("vx0")

	payload := gsoPayload(10000)
	const mss = 1398 // 1398 + 52 = 1450, vx0's MTU
	f, g := hh.tcpSuper("10.99.0.5", false, true, payload, mss)
	if !hh.port.InjectGSO(f, g) {
		t.Fatal("inject")
	}
	want := (len(payload) + mss - 1) / mss
	fs := peer.port.WaitSent(want, 2e9)
	if len(fs) != want {
		t.Fatalf("%d frames, want %d", len(fs), want)
	}
	var inner []gopacket.Packet
	var sport layers.UDPPort
	for i, fr := range fs {
		if len(fr.Data) > 14+1500 {
			t.Fatalf("frame %d: %d bytes, over the underlay MTU", i, len(fr.Data))
		}
		tp := decodeTun(t, gopacket.NewPacket(fr.Data, layers.LayerTypeEthernet, gopacket.Default))
		if addrOf(tp.ip.DstIP) != peer.ip4 || tp.ip.Flags&layers.IPv4DontFragment != 0 || !bytes.Equal(tp.th, vxlanHeader(100)) {
			t.Fatalf("frame %d outer: %v -> %v, header % x", i, tp.ip.SrcIP, tp.ip.DstIP, tp.th)
		}
		if i == 0 {
			sport = tp.udp.SrcPort
		} else if tp.udp.SrcPort != sport {
			t.Fatalf("segments of one flow use source ports %d and %d", sport, tp.udp.SrcPort)
		}
		inner = append(inner, tp.inner)
	}
	checkSegments(t, inner, &host{mac: innerMAC(5), rmac: vmac}, false, 1450, mss, payload)
	peer.quiet()
}
