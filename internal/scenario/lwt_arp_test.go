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

// Spec §1.9 L2, retransmissions: the neighbour manager's later ARP requests
// for a neighbour behind a flow-based tunnel carry the TX metadata of the
// packet waiting for it, as the kernel's arp_solicit takes the dst of the
// newest queued packet. Before they did, only the first request (sent by
// the worker itself) left the device and resolution hung on one frame.
func TestLWTRouteARPRetransmitsThroughTunnel(t *testing.T) {
	h, hh, peer := lwtTopoWith(t, fastNeigh)
	peer.permanent()
	h.do(api.Request{Op: api.OpRouteAdd, Route: &api.Route{Dst: "40.1.1.1/32", Dev: "vxlan0",
		Encap: &api.Encap{Type: "ip", ID: 10, Dst: "10.100.0.2", TTL: 9}}})

	hh.send(udp4(hh, "40.1.1.1", 1111, 2222, "nobody answers")...)
	// The manager's McastSolicit (3) requests 10 ms apart, as on a plain
	// link: all through the tunnel, VNI 10, TTL 9.
	var got int
	deadline := time.Now().Add(2 * time.Second)
	for got < 4 && time.Now().Before(deadline) {
		for _, f := range peer.port.WaitSent(1, 200*time.Millisecond) {
			tp := decodeTun(t, gopacket.NewPacket(f.Data, layers.LayerTypeEthernet, gopacket.Default))
			if addrOf(tp.ip.DstIP) != peer.ip4 || tp.ip.TTL != 9 || tp.udp.DstPort != 4789 || tp.th[6] != 10 {
				t.Fatalf("outer of ARP request %d: %v -> %v ttl %d :%d header % x", got, tp.ip.SrcIP, tp.ip.DstIP, tp.ip.TTL, tp.udp.DstPort, tp.th)
			}
			a, ok := tp.inner.Layer(layers.LayerTypeARP).(*layers.ARP)
			if !ok || a.Operation != layers.ARPRequest || addrOf(a.DstProtAddress) != netip.MustParseAddr("40.1.1.1") {
				t.Fatalf("inner of frame %d: %v", got, tp.inner)
			}
			got++
		}
	}
	if got != 3 {
		t.Fatalf("%d ARP requests through the tunnel, want 3 (mcast_solicit)", got)
	}
	// Resolution then fails: nothing more goes out through the tunnel.
	peer.expectNone(100 * time.Millisecond)
}

// The same through a VLAN device stacked on the flow-based device: the
// tagged ARP requests, first and retransmitted, carry the route's
// metadata too.
func TestLWTRouteARPThroughVLANOnTunnel(t *testing.T) {
	h, _, peer := lwtTopoWith(t, fastNeigh)
	peer.permanent()
	vlanAdd(h, "vxlan0.5", "vxlan0", 5, "")
	h.do(api.Request{Op: api.OpRouteAdd, Route: &api.Route{Dst: "40.1.1.1/32", Dev: "vxlan0.5",
		Encap: &api.Encap{Type: "ip", ID: 10, Dst: "10.100.0.2"}}})
	hh := h.host("h", [6]byte{2, 0, 0, 0, 0x11, 1}, "10.11.0.1", "")
	hh.send(udp4(hh, "40.1.1.1", 1111, 2222, "nobody answers")...)
	got := 0
	deadline := time.Now().Add(2 * time.Second)
	for got < 4 && time.Now().Before(deadline) {
		for _, f := range peer.port.WaitSent(1, 200*time.Millisecond) {
			tp := decodeTun(t, gopacket.NewPacket(f.Data, layers.LayerTypeEthernet, gopacket.Default))
			if addrOf(tp.ip.DstIP) != peer.ip4 || tp.th[6] != 10 || !sameTags(tagsOf(tp.inner.Data()), [][2]uint16{{hdr.EtherTypeVLAN, 5}}) {
				t.Fatalf("frame %d: outer to %v VNI header % x inner % x", got, tp.ip.DstIP, tp.th, tp.inner.Data()[:18])
			}
			if a, ok := tp.inner.Layer(layers.LayerTypeARP).(*layers.ARP); !ok || a.Operation != layers.ARPRequest {
				t.Fatalf("inner of frame %d: %v", got, tp.inner)
			}
			got++
		}
	}
	if got != 3 {
		t.Fatalf("%d tagged ARP requests through the tunnel, want 3 (mcast_solicit)", got)
	}
}
