package scenario

import (
	"net/netip"
	"testing"

	"github.com/google/gopacket/layers"
)

// twoHosts builds h1 (10.1.0.1, fd00:1::1) — r1 [router] r2 — h2
// (10.2.0.1, fd00:2::1).
func twoHosts(t *testing.T, hashL4 bool) (*harness, *host, *host) {
	h := newHarness(t, hashL4)
	h.addLink("r1", "10.1.0.254/24", "fd00:1::254/64")
	h.addLink("r2", "10.2.0.254/24", "fd00:2::254/64")
	h1 := h.host("r1", [6]byte{2, 0, 0, 0, 1, 1}, "10.1.0.1", "fd00:1::1")
	h2 := h.host("r2", [6]byte{2, 0, 0, 0, 2, 1}, "10.2.0.1", "fd00:2::1")
	return h, h1, h2
}

func TestSmokeForwardIPv4(t *testing.T) {
	_, h1, h2 := twoHosts(t, false)
	ip4 := h1.ip4hdr("10.2.0.1", layers.IPProtocolUDP, 64)
	udp := &layers.UDP{SrcPort: 1000, DstPort: 2000}
	_ = udp.SetNetworkLayerForChecksum(ip4)
	h1.send(h1.eth(layers.EthernetTypeIPv4), ip4, udp, layersPayload("hello"))
	h2.answerARP()
	p := h2.recv()
	ip, ok := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	if !ok {
		t.Fatalf("want IPv4, got %v", p)
	}
	if ip.TTL != 63 || netip.AddrFrom4([4]byte(ip.DstIP)).String() != "10.2.0.1" {
		t.Fatalf("bad forwarded header: %+v", ip)
	}
	eth := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
	if [6]byte(eth.DstMAC) != h2.mac || [6]byte(eth.SrcMAC) != h2.rmac {
		t.Fatalf("bad L2 rewrite: %v -> %v", eth.SrcMAC, eth.DstMAC)
	}
}

func TestSmokePingRouter(t *testing.T) {
	_, h1, _ := twoHosts(t, false)
	h1.send(h1.eth(layers.EthernetTypeIPv4), h1.ip4hdr("10.1.0.254", layers.IPProtocolICMPv4, 64),
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: 7, Seq: 1},
		layersPayload("ping"))
	h1.answerARP()
	p := h1.recv()
	ic, ok := p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
	if !ok || ic.TypeCode.Type() != layers.ICMPv4TypeEchoReply || ic.Id != 7 {
		t.Fatalf("want echo reply, got %v", p)
	}
}

func TestSmokePing6Router(t *testing.T) {
	_, h1, _ := twoHosts(t, false)
	ip := h1.ip6hdr("fd00:1::254", layers.IPProtocolICMPv6, 64)
	ic := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeEchoRequest, 0)}
	_ = ic.SetNetworkLayerForChecksum(ip)
	h1.send(h1.eth(layers.EthernetTypeIPv6), ip, ic, &layers.ICMPv6Echo{Identifier: 9, SeqNumber: 1}, layersPayload("ping6"))
	h1.answerNS()
	p := h1.recv()
	ic2, ok := p.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6)
	if !ok || ic2.TypeCode.Type() != layers.ICMPv6TypeEchoReply {
		t.Fatalf("want echo reply, got %v", p)
	}
}
