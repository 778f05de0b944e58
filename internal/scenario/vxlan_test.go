package scenario

import (
	"net/netip"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"flowpath/api"
	"flowpath/internal/dataplane"
)

// lwtTopo is shared/bench/baselines/03 "lwt" seen from one VTEP:
//
//	host h (10.11.0.1) ─ r-h [ router: vxlan0 external dstport 4789 ] r-u ─ underlay (10.100.0.2, the peer VTEP)
//	                    10.11.0.254   10.99.0.1/24 on vxlan0    10.100.0.1
//
//	route 10.12.0.0/24 encap ip id 10 dst 10.100.0.2 via 10.99.0.2 dev vxlan0 onlink
//	neigh 10.99.0.2 lladdr 02:00:00:00:10:02 dev vxlan0 nud permanent
func lwtTopo(t *testing.T) (*harness, *host, *host) { return lwtTopoWith(t, nil) }

// lwtTopoWith is lwtTopo with the engine configuration adjusted by tweak.
func lwtTopoWith(t *testing.T, tweak func(*dataplane.Config)) (*harness, *host, *host) {
	h := newHarnessWith(t, false, tweak)
	h.addLink("h", "10.11.0.254/24")
	h.addLink("u", "10.100.0.1/24")
	h.do(api.Request{Op: api.OpLinkAdd, Link: &api.Link{Name: "vxlan0", Kind: "vxlan",
		VXLAN: &api.VXLAN{External: true, DstPort: 4789, SetDstPort: true}}})
	up := true
	h.do(api.Request{Op: api.OpLinkSet, Link: &api.Link{Name: "vxlan0", Up: &up}})
	h.do(api.Request{Op: api.OpAddrAdd, Addr: &api.Addr{Dev: "vxlan0", Prefix: "10.99.0.1/24"}})
	h.do(api.Request{Op: api.OpRouteAdd, Route: &api.Route{Dst: "10.12.0.0/24", Via: "10.99.0.2", Dev: "vxlan0",
		Onlink: true, Encap: &api.Encap{Type: "ip", ID: 10, Dst: "10.100.0.2"}}})
	h.do(api.Request{Op: api.OpNeighAdd, Neigh: &api.Neigh{Dev: "vxlan0", Dst: "10.99.0.2",
		LLAddr: "02:00:00:00:10:02", State: "permanent"}})
	hh := h.host("h", [6]byte{2, 0, 0, 0, 0x11, 1}, "10.11.0.1", "")
	peer := h.host("u", [6]byte{2, 0, 0, 0, 0x64, 2}, "10.100.0.2", "")
	return h, hh, peer
}

func udp4(hs *host, dst string, sport, dport uint16, payload string) []gopacket.SerializableLayer {
	ip := hs.ip4hdr(dst, layers.IPProtocolUDP, 64)
	u := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
	_ = u.SetNetworkLayerForChecksum(ip)
	return []gopacket.SerializableLayer{hs.eth(layers.EthernetTypeIPv4), ip, u, layersPayload(payload)}
}

func TestVXLANExternalLWTEncap(t *testing.T) {
	h, hh, peer := lwtTopo(t)
	hh.send(udp4(hh, "10.12.0.5", 1111, 2222, "over the overlay")...)
	peer.answerARP() // the underlay neighbour of the outer packet
	p := peer.recv()
	outer, ok := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	if !ok || outer.DstIP.String() != "10.100.0.2" || outer.SrcIP.String() != "10.100.0.1" || outer.TTL != 64 {
		t.Fatalf("outer header: %v", p)
	}
	u := p.Layer(layers.LayerTypeUDP).(*layers.UDP)
	if u.DstPort != 4789 || u.SrcPort < 32768 || u.SrcPort >= 61000 {
		t.Fatalf("outer UDP ports %d -> %d", u.SrcPort, u.DstPort)
	}
	vx, ok := p.Layer(layers.LayerTypeVXLAN).(*layers.VXLAN)
	if !ok || vx.VNI != 10 || !vx.ValidIDFlag {
		t.Fatalf("VXLAN header: %v", p)
	}
	inner := gopacket.NewPacket(vx.Payload, layers.LayerTypeEthernet, gopacket.Default)
	ieth := inner.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
	if ieth.DstMAC.String() != "02:00:00:00:10:02" || [6]byte(ieth.SrcMAC) != h.mac("vxlan0") {
		t.Fatalf("inner Ethernet %v -> %v", ieth.SrcMAC, ieth.DstMAC)
	}
	iip := inner.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	if iip.DstIP.String() != "10.12.0.5" || iip.TTL != 63 {
		t.Fatalf("inner IPv4: %v", inner)
	}
	if string(inner.ApplicationLayer().Payload()) != "over the overlay" {
		t.Fatalf("inner payload: %v", inner)
	}
}

// vxlanFrame builds an outer VXLAN packet from the peer VTEP carrying
// inner layers.
func vxlanFrame(peer *host, vni uint32, inner ...gopacket.SerializableLayer) []gopacket.SerializableLayer {
	ip := &layers.IPv4{Version: 4, TTL: 63, TOS: 0x10, Protocol: layers.IPProtocolUDP, SrcIP: peer.ip4.AsSlice(),
		DstIP: netip.MustParseAddr("10.100.0.1").AsSlice()}
	u := &layers.UDP{SrcPort: 5555, DstPort: 4789}
	_ = u.SetNetworkLayerForChecksum(ip)
	return append([]gopacket.SerializableLayer{peer.eth(layers.EthernetTypeIPv4), ip, u,
		&layers.VXLAN{ValidIDFlag: true, VNI: vni}}, inner...)
}

func TestVXLANExternalDecapAndTunIDRule(t *testing.T) {
	h, hh, peer := lwtTopo(t)
	vmac := h.mac("vxlan0")
	innerFor := func(dst string) []gopacket.SerializableLayer {
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP,
			SrcIP: netip.MustParseAddr("10.12.0.5").AsSlice(), DstIP: netip.MustParseAddr(dst).AsSlice()}
		u := &layers.UDP{SrcPort: 7, DstPort: 9}
		_ = u.SetNetworkLayerForChecksum(ip)
		return []gopacket.SerializableLayer{&layers.Ethernet{SrcMAC: []byte{2, 0, 0, 0, 0x10, 2}, DstMAC: vmac[:],
			EthernetType: layers.EthernetTypeIPv4}, ip, u, layersPayload("back")}
	}
	// VNI 42 and VNI 10 both arrive on the one external device.
	peer.send(vxlanFrame(peer, 42, innerFor("10.11.0.1")...)...)
	hh.answerARP()
	p := hh.recv()
	ip, ok := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	if !ok || ip.SrcIP.String() != "10.12.0.5" || ip.TTL != 63 || p.Layer(layers.LayerTypeVXLAN) != nil {
		t.Fatalf("decapsulated packet: %v", p)
	}
	// rule tun_id 10 lookup 100: packets from VNI 10 use table 100, whose
	// only route is a blackhole; VNI 42 still goes by main.
	h.do(api.Request{Op: api.OpRuleAdd, Rule: &api.Rule{TunID: 10, Table: 100}})
	h.do(api.Request{Op: api.OpRouteAdd, Route: &api.Route{Type: "blackhole", Dst: "10.11.0.0/24", Table: 100}})
	before := h.drops()["blackhole"]
	peer.send(vxlanFrame(peer, 10, innerFor("10.11.0.1")...)...)
	peer.send(vxlanFrame(peer, 42, innerFor("10.11.0.1")...)...)
	p = hh.recv()
	if _, ok := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4); !ok {
		t.Fatalf("VNI 42 packet: %v", p)
	}
	h.waitDrop("blackhole", before+1) // the VNI 10 packet
	hh.expectNone(100e6)
}

func TestVXLANExternalWithoutMetadataDrops(t *testing.T) {
	h, hh, peer := lwtTopo(t)
	// A plain route via vxlan0 has no encap: no TX metadata, dropped (V7).
	h.do(api.Request{Op: api.OpRouteAdd, Route: &api.Route{Dst: "10.13.0.0/24", Via: "10.99.0.2", Dev: "vxlan0", Onlink: true}})
	hh.send(udp4(hh, "10.13.0.1", 1, 2, "x")...)
	h.waitDrop("tunnel_no_tx_metadata", 1)
	peer.expectNone(100e6)
}
