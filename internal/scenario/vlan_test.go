package scenario

import (
	"net/netip"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"flowpath/api"
	"flowpath/internal/hdr"
)

// VLAN sub-interfaces on memory ports:
//
//	stations on port r1, tagged:           [ router ]
//	  VID 100: 10.100.0.1  ── r1.100 10.100.0.254/24 ┐
//	  VID 200: 10.200.0.1  ── r1.200 10.200.0.254/24 ├─ r1 (mem) 10.1.0.254/24, untagged
//	  802.1ad 10 / 802.1Q 20: 10.120.0.1 ── r1.10.20 ┘

func vlanAdd(h *harness, name, parent string, vid uint16, proto string) {
	h.t.Helper()
	h.do(api.Request{Op: api.OpLinkAdd, Link: &api.Link{Name: name, Kind: "vlan", Link: parent,
		VLAN: &api.VLAN{ID: vid, Protocol: proto}}})
	up := true
	h.do(api.Request{Op: api.OpLinkSet, Link: &api.Link{Name: name, Up: &up}})
}

// tagged returns ls with 802.1Q/802.1ad tags (outermost first) inserted
// behind the Ethernet header, which must be ls[0].
func tagged(tags [][2]uint16, ls ...gopacket.SerializableLayer) []gopacket.SerializableLayer {
	eth := *ls[0].(*layers.Ethernet)
	inner := eth.EthernetType
	out := []gopacket.SerializableLayer{&eth}
	for i, tg := range tags {
		if i == 0 {
			eth.EthernetType = layers.EthernetType(tg[0])
		}
		next := inner
		if i+1 < len(tags) {
			next = layers.EthernetType(tags[i+1][0])
		}
		out = append(out, &layers.Dot1Q{VLANIdentifier: tg[1], Type: next})
	}
	return append(out, ls[1:]...)
}

// tagsOf returns the (TPID, VID) tags of a raw frame, outermost first.
func tagsOf(f []byte) (tags [][2]uint16) {
	off := 12
	for off+4 <= len(f) {
		tpid := uint16(f[off])<<8 | uint16(f[off+1])
		if tpid != hdr.EtherTypeVLAN && tpid != hdr.EtherTypeQinQ {
			break
		}
		tags = append(tags, [2]uint16{tpid, (uint16(f[off+2])<<8 | uint16(f[off+3])) & 0xfff})
		off += 4
	}
	return tags
}

func sameTags(a, b [][2]uint16) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func vlanTopo(t *testing.T) *harness {
	h := newHarness(t, false)
	h.addLink("r1", "10.1.0.254/24")
	vlanAdd(h, "r1.100", "r1", 100, "")
	vlanAdd(h, "r1.200", "r1", 200, "802.1Q")
	vlanAdd(h, "r1.10", "r1", 10, "802.1ad")
	vlanAdd(h, "r1.10.20", "r1.10", 20, "")
	for dev, a := range map[string]string{"r1.100": "10.100.0.254/24", "r1.200": "10.200.0.254/24", "r1.10.20": "10.120.0.254/24"} {
		h.do(api.Request{Op: api.OpAddrAdd, Addr: &api.Addr{Dev: dev, Prefix: a}})
	}
	return h
}

// A tagged station resolves the router with ARP and pings it; a station on
// another VLAN is reached through the router with its own tag.
func TestVLANRoutesBetweenTags(t *testing.T) {
	h := vlanTopo(t)
	a := h.host("r1", [6]byte{2, 0, 0, 0, 0xa, 1}, "10.100.0.1", "")
	rmac := h.mac("r1.100")
	if rmac != h.mac("r1") {
		t.Fatalf("r1.100 MAC %s, want its link's %s", rmac, h.mac("r1"))
	}
	t100 := [][2]uint16{{hdr.EtherTypeVLAN, 100}}

	// ARP for the router's address on VID 100: the reply carries VID 100.
	a.send(tagged(t100, &layers.Ethernet{SrcMAC: a.mac[:], DstMAC: hdr.BroadcastMAC[:], EthernetType: layers.EthernetTypeARP},
		&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
			Operation: layers.ARPRequest, SourceHwAddress: a.mac[:], SourceProtAddress: a.ip4.AsSlice(),
			DstHwAddress: make([]byte, 6), DstProtAddress: netip.MustParseAddr("10.100.0.254").AsSlice()})...)
	p := a.recv()
	if got := tagsOf(p.Data()); !sameTags(got, t100) {
		t.Fatalf("ARP reply tags %v, want %v: %v", got, t100, p)
	}
	if arp, ok := p.Layer(layers.LayerTypeARP).(*layers.ARP); !ok || arp.Operation != layers.ARPReply ||
		[6]byte(arp.SourceHwAddress) != rmac {
		t.Fatalf("ARP reply: %v", p)
	}

	// Echo to the router on VID 100.
	ip := a.ip4hdr("10.100.0.254", layers.IPProtocolICMPv4, 64)
	a.send(tagged(t100, a.eth(layers.EthernetTypeIPv4), ip,
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: 7, Seq: 1},
		layersPayload("ping over vlan"))...)
	p = a.recv()
	checkSums(t, p.Data())
	if ic, ok := p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4); !ok || ic.TypeCode.Type() != layers.ICMPv4TypeEchoReply ||
		!sameTags(tagsOf(p.Data()), t100) {
		t.Fatalf("echo reply: %v", p)
	}

	// From VID 100 to a station on VID 200 (a static neighbour there).
	b := h.host("r1", [6]byte{2, 0, 0, 0, 0xb, 1}, "10.200.0.1", "")
	h.neigh("r1.200", b.ip4, b.mac)
	ip = a.ip4hdr("10.200.0.1", layers.IPProtocolUDP, 64)
	u := &layers.UDP{SrcPort: 1000, DstPort: 2000}
	_ = u.SetNetworkLayerForChecksum(ip)
	a.send(tagged(t100, a.eth(layers.EthernetTypeIPv4), ip, u, layersPayload("across vlans"))...)
	p = a.recv()
	checkSums(t, p.Data())
	if got := tagsOf(p.Data()); !sameTags(got, [][2]uint16{{hdr.EtherTypeVLAN, 200}}) {
		t.Fatalf("forwarded frame tags %v: %v", got, p)
	}
	e := ethOf(p)
	if [6]byte(e.DstMAC) != b.mac || [6]byte(e.SrcMAC) != h.mac("r1.200") {
		t.Fatalf("forwarded frame MACs: %v", p)
	}
	if ip4 := ip4Of(t, p); ip4.TTL != 63 || addrOf(ip4.DstIP) != b.ip4 ||
		string(p.Layer(gopacket.LayerTypePayload).LayerContents()) != "across vlans" {
		t.Fatalf("forwarded packet: %v", p)
	}
	st := h.do(api.Request{Op: api.OpLinkShow, Link: &api.Link{Name: "r1.200"}}).Links[0].Stats
	if st.TxPackets != 1 {
		t.Fatalf("r1.200 tx packets %d, want 1", st.TxPackets)
	}
	st = h.do(api.Request{Op: api.OpLinkShow, Link: &api.Link{Name: "r1.100"}}).Links[0].Stats
	if st.RxPackets != 3 {
		t.Fatalf("r1.100 rx packets %d, want 3 (ARP, echo, UDP)", st.RxPackets)
	}
}

// 802.1ad outer tag 10, 802.1Q inner tag 20: a QinQ station reaches an
// untagged one on the link and the answer goes back double-tagged.
func TestVLANQinQ(t *testing.T) {
	h := vlanTopo(t)
	q := h.host("r1", [6]byte{2, 0, 0, 0, 0xc, 1}, "10.120.0.1", "")
	h.neigh("r1.10.20", q.ip4, q.mac)
	plain := h.host("r1", [6]byte{2, 0, 0, 0, 0xd, 1}, "10.1.0.1", "").permanent()
	qq := [][2]uint16{{hdr.EtherTypeQinQ, 10}, {hdr.EtherTypeVLAN, 20}}

	ip := q.ip4hdr("10.1.0.1", layers.IPProtocolUDP, 64)
	u := &layers.UDP{SrcPort: 1, DstPort: 2}
	_ = u.SetNetworkLayerForChecksum(ip)
	q.send(tagged(qq, q.eth(layers.EthernetTypeIPv4), ip, u, layersPayload("qinq out"))...)
	p := plain.recv()
	if got := tagsOf(p.Data()); len(got) != 0 {
		t.Fatalf("frame to the untagged station has tags %v", got)
	}
	checkSums(t, p.Data())

	ip = plain.ip4hdr("10.120.0.1", layers.IPProtocolUDP, 64)
	u = &layers.UDP{SrcPort: 2, DstPort: 1}
	_ = u.SetNetworkLayerForChecksum(ip)
	plain.send(plain.eth(layers.EthernetTypeIPv4), ip, u, layersPayload("qinq back"))
	p = q.recv()
	if got := tagsOf(p.Data()); !sameTags(got, qq) {
		t.Fatalf("tags %v, want %v", got, qq)
	}
	if ip4 := ip4Of(t, p); addrOf(ip4.DstIP) != q.ip4 || ip4.TTL != 63 {
		t.Fatalf("inner packet: %v", p)
	}
}

// A VID nobody configured is dropped and counted; a priority tag (VID 0)
// is read as untagged on the link itself.
func TestVLANUnknownAndPriorityTags(t *testing.T) {
	h := vlanTopo(t)
	s := h.host("r1", [6]byte{2, 0, 0, 0, 0xe, 1}, "10.1.0.1", "").permanent()
	echo := func(tags [][2]uint16) {
		ip := s.ip4hdr("10.1.0.254", layers.IPProtocolICMPv4, 64)
		s.send(tagged(tags, s.eth(layers.EthernetTypeIPv4), ip,
			&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: 1, Seq: 1})...)
	}
	before := h.drops()["vlan_unknown"]
	echo([][2]uint16{{hdr.EtherTypeVLAN, 300}})
	echo([][2]uint16{{hdr.EtherTypeQinQ, 100}}) // VID 100 exists, but as 802.1Q
	s.expectNone(50e6)
	if got := h.drops()["vlan_unknown"] - before; got != 2 {
		t.Fatalf("vlan_unknown drops %d, want 2", got)
	}
	echo([][2]uint16{{hdr.EtherTypeVLAN, 0}})
	p := s.recv()
	if ic, ok := p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4); !ok || ic.TypeCode.Type() != layers.ICMPv4TypeEchoReply ||
		len(tagsOf(p.Data())) != 0 {
		t.Fatalf("answer to a priority-tagged echo: %v", p)
	}
}

// Spec §3.8 V19: a VLAN device on a VXLAN device puts its tag inside the
// inner Ethernet frame, and tagged inner frames come back to it.
func TestVXLANVLANTagInsideInnerFrame(t *testing.T) {
	c := classicTopo(t, nil)
	h := c.h
	vlanAdd(h, "vx0.100", "vx0", 100, "")
	h.do(api.Request{Op: api.OpAddrAdd, Addr: &api.Addr{Dev: "vx0.100", Prefix: "10.98.0.1/24"}})
	far := hdr.MAC{2, 0, 0, 0, 0x98, 2}
	h.neigh("vx0.100", netip.MustParseAddr("10.98.0.2"), far)

	c.hh.send(udp4(c.hh, "10.98.0.2", 1234, 5678, "tagged inside")...)
	tp := c.recvTun(t)
	c.checkOuter(t, tp, 2, 64, 32768, 61000)
	if tp.th[4] != 0 || tp.th[5] != 0 || tp.th[6] != 100 {
		t.Fatalf("VNI: header % x", tp.th)
	}
	innerRaw := tp.inner.Data()
	if got := tagsOf(innerRaw); !sameTags(got, [][2]uint16{{hdr.EtherTypeVLAN, 100}}) {
		t.Fatalf("inner frame tags %v, want VID 100: % x", got, innerRaw[:18])
	}
	if e := ethOf(tp.inner); [6]byte(e.DstMAC) != far || [6]byte(e.SrcMAC) != c.vmac {
		t.Fatalf("inner MACs: %v", tp.inner)
	}
	if ip := ip4Of(t, tp.inner); addrOf(ip.DstIP) != netip.MustParseAddr("10.98.0.2") || ip.TTL != 63 {
		t.Fatalf("inner IP: %v", tp.inner)
	}

	// The way back: a tagged inner frame from the VTEP reaches vx0.100,
	// is routed to the host untagged.
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP,
		SrcIP: netip.MustParseAddr("10.98.0.2").AsSlice(), DstIP: c.hh.ip4.AsSlice()}
	u := &layers.UDP{SrcPort: 5678, DstPort: 1234}
	_ = u.SetNetworkLayerForChecksum(ip)
	c.fromVTEP(2, 100, tagged([][2]uint16{{hdr.EtherTypeVLAN, 100}},
		&layers.Ethernet{SrcMAC: far[:], DstMAC: c.vmac[:], EthernetType: layers.EthernetTypeIPv4}, ip, u, layersPayload("back"))...)
	p := c.hh.recv()
	if got := tagsOf(p.Data()); len(got) != 0 {
		t.Fatalf("frame to the host has tags %v", got)
	}
	if ip4 := ip4Of(t, p); addrOf(ip4.SrcIP) != netip.MustParseAddr("10.98.0.2") ||
		string(p.Layer(gopacket.LayerTypePayload).LayerContents()) != "back" {
		t.Fatalf("decapsulated, untagged packet: %v", p)
	}
}

// The kernel's rules for VLAN devices, with its error codes; a refused
// request changes nothing.
func TestVLANDeviceRules(t *testing.T) {
	h := newHarness(t, false)
	h.addLink("r1", "10.1.0.254/24")
	links := func() int { return len(h.do(api.Request{Op: api.OpLinkShow}).Links) }
	n := links()
	bad := []struct {
		name string
		l    api.Link
		code string
	}{
		{"no link", api.Link{Name: "v1", Kind: "vlan", VLAN: &api.VLAN{ID: 5}}, "EINVAL"},
		{"no id", api.Link{Name: "v1", Kind: "vlan", Link: "r1"}, "EINVAL"},
		{"unknown link", api.Link{Name: "v1", Kind: "vlan", Link: "nope", VLAN: &api.VLAN{ID: 5}}, "ENODEV"},
		{"id 4095", api.Link{Name: "v1", Kind: "vlan", Link: "r1", VLAN: &api.VLAN{ID: 4095}}, "ERANGE"},
		{"protocol", api.Link{Name: "v1", Kind: "vlan", Link: "r1", VLAN: &api.VLAN{ID: 5, Protocol: "802.1x"}}, "EPROTONOSUPPORT"},
		{"on loopback", api.Link{Name: "v1", Kind: "vlan", Link: "lo", VLAN: &api.VLAN{ID: 5}}, "EOPNOTSUPP"},
		{"mtu over link", api.Link{Name: "v1", Kind: "vlan", Link: "r1", MTU: 1501, VLAN: &api.VLAN{ID: 5}}, "EINVAL"},
	}
	for _, b := range bad {
		l := b.l
		if r := h.try(api.Request{Op: api.OpLinkAdd, Link: &l}); r.Code != b.code {
			t.Errorf("%s: got %q (%s), want %s", b.name, r.Error, r.Code, b.code)
		}
	}
	if links() != n {
		t.Fatal("a refused link add left a device behind")
	}
	h.do(api.Request{Op: api.OpLinkAdd, Link: &api.Link{Name: "v5", Kind: "vlan", Link: "r1", VLAN: &api.VLAN{ID: 5}}})
	if r := h.try(api.Request{Op: api.OpLinkAdd, Link: &api.Link{Name: "v5b", Kind: "vlan", Link: "r1", VLAN: &api.VLAN{ID: 5}}}); r.Code != "EEXIST" {
		t.Errorf("duplicate VID: %q (%s)", r.Error, r.Code)
	}
	// Same VID with the other protocol is another device.
	h.do(api.Request{Op: api.OpLinkAdd, Link: &api.Link{Name: "v5ad", Kind: "vlan", Link: "r1", VLAN: &api.VLAN{ID: 5, Protocol: "802.1ad"}}})
	show := func(name string) api.Link {
		return h.do(api.Request{Op: api.OpLinkShow, Link: &api.Link{Name: name}}).Links[0]
	}
	if l := show("v5"); l.Link != "r1" || l.VLAN == nil || l.VLAN.ID != 5 || l.VLAN.Protocol != "802.1Q" || l.MTU != 1500 {
		t.Fatalf("show v5: %+v", l)
	}
	// Up only while the link is up; the link takes its VLANs down and up.
	up, down := true, false
	h.do(api.Request{Op: api.OpLinkSet, Link: &api.Link{Name: "v5", Up: &up}})
	h.do(api.Request{Op: api.OpLinkSet, Link: &api.Link{Name: "r1", Up: &down}})
	if l := show("v5"); *l.Up {
		t.Fatal("v5 stayed up with its link down")
	}
	if r := h.try(api.Request{Op: api.OpLinkSet, Link: &api.Link{Name: "v5", Up: &up}}); r.Code != "ENETDOWN" {
		t.Errorf("up on a down link: %q (%s)", r.Error, r.Code)
	}
	h.do(api.Request{Op: api.OpLinkSet, Link: &api.Link{Name: "r1", Up: &up}})
	if l := show("v5"); !*l.Up {
		t.Fatal("v5 did not come up with its link")
	}
	// MTU: not above the link's (ERANGE), shrinks with it.
	if r := h.try(api.Request{Op: api.OpLinkSet, Link: &api.Link{Name: "v5", MTU: 1501}}); r.Code != "ERANGE" {
		t.Errorf("mtu above the link's: %q (%s)", r.Error, r.Code)
	}
	h.do(api.Request{Op: api.OpLinkSet, Link: &api.Link{Name: "r1", MTU: 1400}})
	if l := show("v5"); l.MTU != 1400 {
		t.Fatalf("v5 mtu %d after its link went to 1400", l.MTU)
	}
	// Deleting the link deletes its VLANs.
	h.do(api.Request{Op: api.OpLinkDel, Link: &api.Link{Name: "r1"}})
	if links() != n-1 {
		t.Fatalf("%d links after deleting r1, want %d", links(), n-1)
	}
}
