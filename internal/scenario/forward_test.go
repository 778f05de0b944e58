package scenario

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"flowpath/api"
	"flowpath/internal/hdr"
)

// checkForwarded4 checks a forwarded IPv4 frame against what was sent:
// MACs rewritten for the egress link, TTL one less, addresses, ID and
// payload unchanged, checksums valid.
func checkForwarded4(t *testing.T, p gopacket.Packet, sent []byte, from, to *host) {
	t.Helper()
	checkSums(t, p.Data())
	eth := ethOf(p)
	if [6]byte(eth.SrcMAC) != to.rmac || [6]byte(eth.DstMAC) != to.mac {
		t.Fatalf("L2 rewrite: %v -> %v, want %v -> %v", eth.SrcMAC, eth.DstMAC, to.rmac, to.mac)
	}
	orig := ip4Of(t, gopacket.NewPacket(sent, layers.LayerTypeEthernet, gopacket.Default))
	ip := ip4Of(t, p)
	if ip.TTL != orig.TTL-1 {
		t.Fatalf("TTL %d, want %d", ip.TTL, orig.TTL-1)
	}
	if !ip.SrcIP.Equal(orig.SrcIP) || !ip.DstIP.Equal(orig.DstIP) || ip.Id != orig.Id ||
		ip.Flags != orig.Flags || ip.TOS != orig.TOS || ip.Length != orig.Length || ip.Protocol != orig.Protocol {
		t.Fatalf("header changed beyond TTL: got %+v\nsent %+v", ip, orig)
	}
	if !bytes.Equal(ip.Payload, orig.Payload) {
		t.Fatal("payload changed")
	}
}

func checkForwarded6(t *testing.T, p gopacket.Packet, sent []byte, to *host) {
	t.Helper()
	checkSums(t, p.Data())
	eth := ethOf(p)
	if [6]byte(eth.SrcMAC) != to.rmac || [6]byte(eth.DstMAC) != to.mac {
		t.Fatalf("L2 rewrite: %v -> %v, want %v -> %v", eth.SrcMAC, eth.DstMAC, to.rmac, to.mac)
	}
	orig := ip6Of(t, gopacket.NewPacket(sent, layers.LayerTypeEthernet, gopacket.Default))
	ip := ip6Of(t, p)
	if ip.HopLimit != orig.HopLimit-1 {
		t.Fatalf("hop limit %d, want %d", ip.HopLimit, orig.HopLimit-1)
	}
	if !ip.SrcIP.Equal(orig.SrcIP) || !ip.DstIP.Equal(orig.DstIP) || ip.Length != orig.Length ||
		ip.NextHeader != orig.NextHeader || ip.FlowLabel != orig.FlowLabel || ip.TrafficClass != orig.TrafficClass {
		t.Fatalf("header changed beyond hop limit: got %+v\nsent %+v", ip, orig)
	}
	if !bytes.Equal(ip.Payload, orig.Payload) {
		t.Fatal("payload changed")
	}
}

// neighState returns the state `neigh show` reports for ip on dev.
func (h *harness) neighState(dev string, ip netip.Addr) string {
	h.t.Helper()
	r := h.do(api.Request{Op: api.OpNeighShow, Filter: &api.Filter{Dev: dev}})
	for _, n := range r.Neighs {
		if n.Dst == ip.String() {
			return n.State + " " + n.LLAddr
		}
	}
	return ""
}

func TestForwardIPv4BothDirections(t *testing.T) {
	h, h1, h2 := twoHosts(t, false)

	// h1 -> h2: the router resolves h2 with ARP, then forwards.
	f := h1.udp4("10.2.0.1", 1000, 2000, 64, true, []byte("forward me, please"))
	h1.inject(f)
	h2.answerARP()
	checkForwarded4(t, h2.recv(), f, h1, h2)

	// The reply direction: the router resolves h1 too.
	g := h2.udp4("10.1.0.1", 2000, 1000, 17, false, []byte("and back again"))
	h2.inject(g)
	h1.answerARP()
	checkForwarded4(t, h1.recv(), g, h2, h1)

	// Both neighbours are now resolved: a second packet each way goes
	// out without any resolution.
	h1.inject(f)
	checkForwarded4(t, h2.recv(), f, h1, h2)
	h2.inject(g)
	checkForwarded4(t, h1.recv(), g, h2, h1)

	if s := h.neighState("r2", h2.ip4); !strings.HasPrefix(s, "REACHABLE "+h2.mac.String()) {
		t.Fatalf("neighbour h2: %q", s)
	}
	if s := h.neighState("r1", h1.ip4); !strings.HasPrefix(s, "REACHABLE "+h1.mac.String()) {
		t.Fatalf("neighbour h1: %q", s)
	}
	st := h.linkStats("r2")
	if st.TxPackets < 3 || st.RxPackets < 1 { // ARP reply + forwarded packets
		t.Fatalf("r2 counters: %+v", st)
	}
}

func TestForwardIPv6BothDirections(t *testing.T) {
	h, h1, h2 := twoHosts(t, false)

	f := h1.udp6("fd00:2::1", 1000, 2000, 64, []byte("forward me over v6"))
	h1.inject(f)
	h2.answerNS()
	checkForwarded6(t, h2.recv(), f, h2)

	g := h2.udp6("fd00:1::1", 2000, 1000, 9, []byte("back over v6"))
	h2.inject(g)
	h1.answerNS()
	checkForwarded6(t, h1.recv(), g, h1)

	h1.inject(f)
	checkForwarded6(t, h2.recv(), f, h2)

	if s := h.neighState("r2", h2.ip6); !strings.HasPrefix(s, "REACHABLE "+h2.mac.String()) {
		t.Fatalf("neighbour h2: %q", s)
	}
}

// TestResolveRouterAddress checks the router answers a neighbour
// solicitation and an ARP request for its own address.
func TestResolveRouterAddress(t *testing.T) {
	_, h1, _ := twoHosts(t, false)
	h1.send(&layers.Ethernet{SrcMAC: h1.mac[:], DstMAC: []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, EthernetType: layers.EthernetTypeARP},
		&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
			Operation: layers.ARPRequest, SourceHwAddress: h1.mac[:], SourceProtAddress: h1.ip4.AsSlice(),
			DstHwAddress: make([]byte, 6), DstProtAddress: netip.MustParseAddr("10.1.0.254").AsSlice()})
	p := h1.recv()
	a, ok := p.Layer(layers.LayerTypeARP).(*layers.ARP)
	if !ok || a.Operation != layers.ARPReply || [6]byte(a.SourceHwAddress) != h1.rmac ||
		addrOf(a.SourceProtAddress).String() != "10.1.0.254" || [6]byte(a.DstHwAddress) != h1.mac ||
		addrOf(a.DstProtAddress) != h1.ip4 || [6]byte(ethOf(p).DstMAC) != h1.mac {
		t.Fatalf("bad ARP reply: %v", p)
	}

	target := netip.MustParseAddr("fd00:1::254")
	snm := []byte{0x33, 0x33, 0xff, 0, 0x02, 0x54}
	ip := &layers.IPv6{Version: 6, HopLimit: 255, NextHeader: layers.IPProtocolICMPv6, SrcIP: h1.ip6.AsSlice(),
		DstIP: netip.MustParseAddr("ff02::1:ff00:254").AsSlice()}
	ic := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeNeighborSolicitation, 0)}
	_ = ic.SetNetworkLayerForChecksum(ip)
	h1.send(&layers.Ethernet{SrcMAC: h1.mac[:], DstMAC: snm, EthernetType: layers.EthernetTypeIPv6}, ip, ic,
		&layers.ICMPv6NeighborSolicitation{TargetAddress: target.AsSlice(),
			Options: layers.ICMPv6Options{{Type: layers.ICMPv6OptSourceAddress, Data: h1.mac[:]}}})
	p = h1.recv()
	checkSums(t, p.Data())
	na, ok := p.Layer(layers.LayerTypeICMPv6NeighborAdvertisement).(*layers.ICMPv6NeighborAdvertisement)
	ip6 := ip6Of(t, p)
	if !ok || addrOf(na.TargetAddress) != target || na.Flags&0x40 == 0 || ip6.HopLimit != 255 ||
		addrOf(ip6.DstIP) != h1.ip6 || addrOf(ip6.SrcIP) != target {
		t.Fatalf("bad NA: %v", p)
	}
	var tlla []byte
	for _, o := range na.Options {
		if o.Type == layers.ICMPv6OptTargetAddress {
			tlla = o.Data
		}
	}
	if [6]byte(tlla) != h1.rmac {
		t.Fatalf("NA target link-layer address %x, want %v", tlla, h1.rmac)
	}
}

func TestPingRouterAddresses(t *testing.T) {
	_, h1, _ := twoHosts(t, false)
	h1.permanent()
	// Both of the router's addresses answer, the one on the far link too,
	// from the address that was pinged.
	for _, dst := range []string{"10.1.0.254", "10.2.0.254"} {
		ip := h1.ip4hdr(dst, layers.IPProtocolICMPv4, 64)
		ip.Id = 77
		h1.send(h1.eth(layers.EthernetTypeIPv4), ip,
			&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: 7, Seq: 3},
			layersPayload("ping payload"))
		p := h1.recv()
		checkSums(t, p.Data())
		rip := ip4Of(t, p)
		ic, ok := p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
		if !ok || ic.TypeCode != layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoReply, 0) || ic.Id != 7 || ic.Seq != 3 ||
			string(ic.Payload) != "ping payload" {
			t.Fatalf("want echo reply, got %v", p)
		}
		if addrOf(rip.SrcIP).String() != dst || addrOf(rip.DstIP) != h1.ip4 || rip.TTL != 64 {
			t.Fatalf("reply header %+v", rip)
		}
		if eth := ethOf(p); [6]byte(eth.DstMAC) != h1.mac || [6]byte(eth.SrcMAC) != h1.rmac {
			t.Fatalf("reply L2 %v -> %v", eth.SrcMAC, eth.DstMAC)
		}
	}
	for _, dst := range []string{"fd00:1::254", "fd00:2::254"} {
		ip := h1.ip6hdr(dst, layers.IPProtocolICMPv6, 64)
		ic := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeEchoRequest, 0)}
		_ = ic.SetNetworkLayerForChecksum(ip)
		h1.send(h1.eth(layers.EthernetTypeIPv6), ip, ic, &layers.ICMPv6Echo{Identifier: 9, SeqNumber: 4}, layersPayload("ping6 payload"))
		p := h1.recv()
		checkSums(t, p.Data())
		rip := ip6Of(t, p)
		echo, ok := p.Layer(layers.LayerTypeICMPv6Echo).(*layers.ICMPv6Echo)
		ic2 := p.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6)
		if !ok || ic2.TypeCode.Type() != layers.ICMPv6TypeEchoReply || echo.Identifier != 9 || echo.SeqNumber != 4 ||
			len(ic2.Payload) < 4 || string(ic2.Payload[4:]) != "ping6 payload" {
			t.Fatalf("want echo reply, got %v", p)
		}
		if addrOf(rip.SrcIP).String() != dst || addrOf(rip.DstIP) != h1.ip6 || rip.HopLimit != 64 {
			t.Fatalf("reply header %+v", rip)
		}
	}
}

// sendNS sends a neighbour solicitation for target from h1.
func (hs *host) sendNS(target netip.Addr) {
	snm := hdr.SolicitedNodeMulticast(target)
	l2 := hdr.IPv6MulticastMAC(snm)
	ip := &layers.IPv6{Version: 6, HopLimit: 255, NextHeader: layers.IPProtocolICMPv6, SrcIP: hs.ip6.AsSlice(), DstIP: snm.AsSlice()}
	ic := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeNeighborSolicitation, 0)}
	_ = ic.SetNetworkLayerForChecksum(ip)
	hs.send(&layers.Ethernet{SrcMAC: hs.mac[:], DstMAC: l2[:], EthernetType: layers.EthernetTypeIPv6}, ip, ic,
		&layers.ICMPv6NeighborSolicitation{TargetAddress: target.AsSlice(),
			Options: layers.ICMPv6Options{{Type: layers.ICMPv6OptSourceAddress, Data: hs.mac[:]}}})
}

func (hs *host) sendARPRequest(target netip.Addr) {
	hs.send(&layers.Ethernet{SrcMAC: hs.mac[:], DstMAC: []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, EthernetType: layers.EthernetTypeARP},
		&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
			Operation: layers.ARPRequest, SourceHwAddress: hs.mac[:], SourceProtAddress: hs.ip4.AsSlice(),
			DstHwAddress: make([]byte, 6), DstProtAddress: target.AsSlice()})
}

// TestResolveScope: ARP answers for any of the router's addresses (the
// kernel's arp_ignore=0), ND only for the receiving link's own (its
// link-local one included), never for other hosts.
func TestResolveScope(t *testing.T) {
	h, h1, _ := twoHosts(t, false)
	h1.permanent()

	h1.sendARPRequest(netip.MustParseAddr("10.2.0.254"))
	p := h1.recv()
	if a, ok := p.Layer(layers.LayerTypeARP).(*layers.ARP); !ok || a.Operation != layers.ARPReply ||
		addrOf(a.SourceProtAddress).String() != "10.2.0.254" || [6]byte(a.SourceHwAddress) != h1.rmac {
		t.Fatalf("want ARP reply for 10.2.0.254 with r1's MAC, got %v", p)
	}

	// The link-local address of r1 (EUI-64 of its MAC) is answered.
	var ll netip.Addr
	for _, a := range h.do(api.Request{Op: api.OpAddrShow, Filter: &api.Filter{Dev: "r1", Family: 6}}).Addrs {
		if pf := netip.MustParsePrefix(a.Prefix); pf.Addr().IsLinkLocalUnicast() {
			ll = pf.Addr()
		}
	}
	if !ll.IsValid() {
		t.Fatal("r1 has no link-local address")
	}
	h1.sendNS(ll)
	p = h1.recv()
	na, ok := p.Layer(layers.LayerTypeICMPv6NeighborAdvertisement).(*layers.ICMPv6NeighborAdvertisement)
	if !ok || addrOf(na.TargetAddress) != ll {
		t.Fatalf("want NA for %s, got %v", ll, p)
	}
	checkSums(t, p.Data())

	before := h.drops()["arp_not_for_us"]
	h1.sendNS(netip.MustParseAddr("fd00:2::254")) // r2's address, asked on r1
	h1.sendNS(netip.MustParseAddr("fd00:1::77"))  // nobody's
	h1.sendARPRequest(netip.MustParseAddr("10.1.0.77"))
	h1.quiet()
	h.waitDrop("arp_not_for_us", before+3)
}
