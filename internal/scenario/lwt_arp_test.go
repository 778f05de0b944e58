package scenario

import (
	"net/netip"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"flowpath/api"
	"flowpath/internal/hdr"
)

// Spec §1.9 L1/L2: `route add 40.1.1.1/32 encap ip id 10 dst 10.100.0.2 dev
// vxlan0` on a flow-based device, no gateway: the neighbour is 40.1.1.1
// itself, and its ARP request goes out through the tunnel with the route's
// metadata (VNI 10, to 10.100.0.2), like the packet that needed it.
func TestLWTRouteARPThroughTunnel(t *testing.T) {
	h, hh, peer := lwtTopo(t)
	h.do(api.Request{Op: api.OpRouteAdd, Route: &api.Route{Dst: "40.1.1.1/32", Dev: "vxlan0",
		Encap: &api.Encap{Type: "ip", ID: 10, Dst: "10.100.0.2"}}})
	r := h.do(api.Request{Op: api.OpRouteShow, Filter: &api.Filter{Prefix: "40.1.1.1/32"}})
	if len(r.Routes) != 1 || r.Routes[0].Encap == nil || r.Routes[0].Encap.ID != 10 || r.Routes[0].Encap.Src != "0.0.0.0" {
		t.Fatalf("route show (L1): %+v", r.Routes)
	}
	hh.send(udp4(hh, "40.1.1.1", 1111, 2222, "needs ARP")...)
	peer.answerARP() // the underlay neighbour of the outer packet
	tp := decodeTun(t, peer.recv())
	if addrOf(tp.ip.DstIP) != peer.ip4 || tp.udp.DstPort != 4789 || tp.th[6] != 10 {
		t.Fatalf("outer of the ARP request: %v -> %v:%d header % x", tp.ip.SrcIP, tp.ip.DstIP, tp.udp.DstPort, tp.th)
	}
	a, ok := tp.inner.Layer(layers.LayerTypeARP).(*layers.ARP)
	if !ok || a.Operation != layers.ARPRequest || addrOf(a.DstProtAddress) != netip.MustParseAddr("40.1.1.1") {
		t.Fatalf("inner ARP request: %v", tp.inner)
	}
	// The far end answers through the tunnel; the waiting packet follows.
	far := hdr.MAC{2, 0, 0, 0, 0x40, 1}
	vmac := h.mac("vxlan0")
	peer.send(vxlanFrame(peer, 10,
		&layers.Ethernet{SrcMAC: far[:], DstMAC: vmac[:], EthernetType: layers.EthernetTypeARP},
		&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
			Operation: layers.ARPReply, SourceHwAddress: far[:], SourceProtAddress: netip.MustParseAddr("40.1.1.1").AsSlice(),
			DstHwAddress: vmac[:], DstProtAddress: a.SourceProtAddress})...)
	tp = decodeTun(t, peer.recv())
	inner := tp.inner
	if e := ethOf(inner); [6]byte(e.DstMAC) != far || tp.th[6] != 10 {
		t.Fatalf("data packet after resolution: %v", inner)
	}
	if ip := ip4Of(t, inner); addrOf(ip.DstIP) != netip.MustParseAddr("40.1.1.1") ||
		string(inner.Layer(gopacket.LayerTypePayload).LayerContents()) != "needs ARP" {
		t.Fatalf("inner data: %v", inner)
	}
}
