package scenario

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"flowpath/api"
	"flowpath/internal/hdr"
)

// VXLAN over an IPv6 underlay:
//
//	host h (10.11.0.1) ─ r-h [ router: vx0 id 100 remote fd00:100::2 dev u ] r-u ─ VTEP fd00:100::2
//	                                   10.99.0.1/24 on vx0          fd00:100::1/64
func TestVXLANOverIPv6Underlay(t *testing.T) {
	h := newHarness(t, false)
	h.addLink("h", "10.11.0.254/24")
	h.addLink("u", "fd00:100::1/64")
	h.do(api.Request{Op: api.OpLinkAdd, Link: &api.Link{Name: "vx0", Kind: "vxlan",
		VXLAN: &api.VXLAN{VNI: 100, Remote: "fd00:100::2", DstPort: 4789, SetDstPort: true, Dev: "u"}}})
	up := true
	h.do(api.Request{Op: api.OpLinkSet, Link: &api.Link{Name: "vx0", Up: &up}})
	h.do(api.Request{Op: api.OpAddrAdd, Addr: &api.Addr{Dev: "vx0", Prefix: "10.99.0.1/24"}})
	if l := h.do(api.Request{Op: api.OpLinkShow, Link: &api.Link{Name: "vx0"}}).Links[0]; l.MTU != 1430 {
		t.Fatalf("vx0 mtu %d over an IPv6 underlay, want 1500 - 70", l.MTU)
	}
	hh := h.host("h", [6]byte{2, 0, 0, 0, 0x11, 1}, "10.11.0.1", "").permanent()
	peer := h.host("u", [6]byte{2, 0, 0, 0, 0x64, 2}, "", "fd00:100::2")
	station := hdr.MAC{2, 0, 0, 0, 0x99, 5}
	h.neigh("vx0", netip.MustParseAddr("10.99.0.5"), station)
	vmac := h.mac("vx0")

	// Out: encapsulated in IPv6/UDP with a checksum (mandatory over IPv6).
	hh.send(udp4(hh, "10.99.0.5", 1234, 80, "over v6")...)
	peer.answerNS()
	p := peer.recv()
	checkSums(t, p.Data())
	ip6, ok := p.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
	if !ok || addrOf(ip6.SrcIP) != netip.MustParseAddr("fd00:100::1") || addrOf(ip6.DstIP) != peer.ip6 || ip6.HopLimit != 64 {
		t.Fatalf("outer IPv6: %v", p)
	}
	u := p.Layer(layers.LayerTypeUDP).(*layers.UDP)
	if u.DstPort != 4789 || u.Checksum == 0 {
		t.Fatalf("outer UDP %d -> %d checksum %#x", u.SrcPort, u.DstPort, u.Checksum)
	}
	vx, ok := p.Layer(layers.LayerTypeVXLAN).(*layers.VXLAN)
	if !ok || vx.VNI != 100 {
		t.Fatalf("VXLAN: %v", p)
	}
	inner := gopacket.NewPacket(vx.Payload, layers.LayerTypeEthernet, gopacket.Default)
	if e := ethOf(inner); [6]byte(e.DstMAC) != station || [6]byte(e.SrcMAC) != vmac {
		t.Fatalf("inner Ethernet %v -> %v", e.SrcMAC, e.DstMAC)
	}
	if ip := ip4Of(t, inner); ip.TTL != 63 || string(inner.ApplicationLayer().Payload()) != "over v6" {
		t.Fatalf("inner: %v", inner)
	}

	// In: a VXLAN packet over IPv6 from the VTEP, decapsulated and routed.
	oip := &layers.IPv6{Version: 6, HopLimit: 60, NextHeader: layers.IPProtocolUDP, SrcIP: peer.ip6.AsSlice(),
		DstIP: netip.MustParseAddr("fd00:100::1").AsSlice()}
	ou := &layers.UDP{SrcPort: 40000, DstPort: 4789}
	_ = ou.SetNetworkLayerForChecksum(oip)
	iip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: netip.MustParseAddr("10.99.0.5").AsSlice(),
		DstIP: hh.ip4.AsSlice()}
	iu := &layers.UDP{SrcPort: 80, DstPort: 1234}
	_ = iu.SetNetworkLayerForChecksum(iip)
	peer.send(&layers.Ethernet{SrcMAC: peer.mac[:], DstMAC: peer.rmac[:], EthernetType: layers.EthernetTypeIPv6}, oip, ou,
		&layers.VXLAN{ValidIDFlag: true, VNI: 100},
		&layers.Ethernet{SrcMAC: station[:], DstMAC: vmac[:], EthernetType: layers.EthernetTypeIPv4}, iip, iu,
		layersPayload("back over v6"))
	q := hh.recv()
	if ip := ip4Of(t, q); addrOf(ip.SrcIP) != netip.MustParseAddr("10.99.0.5") || ip.TTL != 63 ||
		string(q.ApplicationLayer().Payload()) != "back over v6" {
		t.Fatalf("decapsulated: %v", q)
	}
	// The station is learned behind the IPv6 VTEP (asynchronously, by the
	// FDB's manager).
	deadline := time.Now().Add(2 * time.Second)
	for {
		found := false
		for _, e := range h.do(api.Request{Op: api.OpFDBShow, Filter: &api.Filter{Dev: "vx0"}}).FDBs {
			found = found || (e.MAC == station.String() && e.Dst == "fd00:100::2")
		}
		if found {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("station not learned behind fd00:100::2: %+v", h.do(api.Request{Op: api.OpFDBShow}).FDBs)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
