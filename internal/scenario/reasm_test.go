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

	"flowpath/internal/dataplane"
	"flowpath/internal/hdr"
)

// fragment4 cuts the IPv4 datagram in frame f (Ethernet, no options) at the
// payload offsets cuts (multiples of 8) into fragment frames, as a router
// on the path would.
func fragment4(f []byte, cuts ...int) [][]byte {
	payload := f[34:]
	bounds := append(append([]int{0}, cuts...), len(payload))
	var out [][]byte
	for i := 0; i+1 < len(bounds); i++ {
		a, b := bounds[i], bounds[i+1]
		g := append(append([]byte(nil), f[:34]...), payload[a:b]...)
		ip := hdr.IPv4(g[14:])
		ip.SetTotalLen(uint16(20 + b - a))
		ip.SetFragment(false, b < len(payload), a)
		ip.UpdateChecksum()
		out = append(out, g)
	}
	return out
}

// A VXLAN datagram from a peer VTEP whose underlay fragmented it (the
// kernel's VXLAN leaves DF off) is reassembled, in whatever order its
// fragments come, and decapsulated: the host gets the inner packet whole.
// A fragment that overlaps another discards its datagram, counted.
func TestVXLANDecapFragmented(t *testing.T) {
	h, hh, peer := lwtTopo(t)
	vmac := h.mac("vxlan0")
	body := make([]byte, 1200)
	for i := range body {
		body[i] = byte(i * 7)
	}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP,
		SrcIP: netip.MustParseAddr("10.12.0.5").AsSlice(), DstIP: netip.MustParseAddr("10.11.0.1").AsSlice()}
	u := &layers.UDP{SrcPort: 7, DstPort: 9}
	_ = u.SetNetworkLayerForChecksum(ip)
	f := serialize(t, vxlanFrame(peer, 10, &layers.Ethernet{SrcMAC: []byte{2, 0, 0, 0, 0x10, 2}, DstMAC: vmac[:],
		EthernetType: layers.EthernetTypeIPv4}, ip, u, gopacket.Payload(body))...)
	frags := fragment4(f, 512, 1024)
	for k, order := range [][]int{{0, 1, 2}, {2, 0, 1}, {1, 2, 1, 0}} { // the last repeats one
		for _, i := range order {
			peer.inject(frags[i])
		}
		if k == 0 {
			hh.answerARP() // the router resolves the host for the first one
		}
		p := hh.recv()
		got, ok := p.Layer(layers.LayerTypeUDP).(*layers.UDP)
		if !ok || !bytes.Equal(got.Payload, body) || p.Layer(layers.LayerTypeVXLAN) != nil {
			t.Fatalf("order %v: the host got %v", order, p)
		}
	}
	for name, n := range h.drops() {
		if strings.HasPrefix(name, "reasm_") {
			t.Fatalf("%d fragments refused (%s)", n, name)
		}
	}
	// [512, 1032) overlaps [1024, ...): the datagram is discarded.
	before := h.drops()["reasm_overlap"]
	over := fragment4(f, 512, 1032)
	peer.inject(frags[0])
	peer.inject(frags[2])
	peer.inject(over[1])
	h.waitDrop("reasm_overlap", before+1)
	hh.expectNone(100e6)
}

// fragment6 cuts the IPv6 packet in frame f (Ethernet, no extension
// headers) at payload offsets cuts (multiples of 8), inserting a fragment
// header with identification id, as its source would.
func fragment6(f []byte, id uint32, cuts ...int) [][]byte {
	payload := f[54:]
	bounds := append(append([]int{0}, cuts...), len(payload))
	var out [][]byte
	for i := 0; i+1 < len(bounds); i++ {
		a, b := bounds[i], bounds[i+1]
		g := append(append([]byte(nil), f[:54]...), make([]byte, 8)...)
		g = append(g, payload[a:b]...)
		g[54] = f[20] // the fragment header takes the original next header
		g[20] = 44
		fo := uint16(a)
		if b < len(payload) {
			fo |= 1
		}
		binary.BigEndian.PutUint16(g[56:], fo)
		binary.BigEndian.PutUint32(g[58:], id)
		hdr.IPv6(g[14:]).SetPayloadLen(uint16(len(g) - 54))
		out = append(out, g)
	}
	return out
}

// A ping to the router that arrives in fragments (a path with a small MTU
// on the way) is reassembled and answered, over IPv4 and IPv6, in any
// order of its fragments.
func TestPingRouterFragmented(t *testing.T) {
	_, h1, _ := twoHosts(t, false)
	body := make([]byte, 1000)
	for i := range body {
		body[i] = byte(i * 3)
	}
	f4, f6 := h1.echoRequests(t, body)
	for _, i := range []int{2, 0, 1} {
		h1.inject(fragment4(f4, 400, 800)[i])
	}
	h1.answerARP()
	p := h1.recv()
	ic, ok := p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
	if !ok || ic.TypeCode.Type() != layers.ICMPv4TypeEchoReply || ic.Id != 7 || !bytes.Equal(ic.Payload, body) {
		t.Fatalf("IPv4: want an echo reply carrying the request's 1000 bytes, got %v", p)
	}

	for _, i := range []int{1, 2, 0} {
		h1.inject(fragment6(f6, 0x1234, 408, 816)[i])
	}
	h1.answerNS()
	p = h1.recv()
	echo, ok := p.Layer(layers.LayerTypeICMPv6Echo).(*layers.ICMPv6Echo)
	ic2, ok2 := p.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6)
	// gopacket leaves the echo data in the ICMPv6 layer, behind id and seq.
	if !ok || !ok2 || ic2.TypeCode.Type() != layers.ICMPv6TypeEchoReply || echo.Identifier != 9 ||
		len(ic2.Payload) < 4 || !bytes.Equal(ic2.Payload[4:], body) {
		t.Fatalf("IPv6: want an echo reply carrying the request's 1000 bytes, got %v", p)
	}
}

// A datagram to the router whose fragments stop coming is answered, once
// the reassembly timeout passes, with ICMP time exceeded code 1 quoting
// its first fragment (IPv4 and IPv6, as the kernel's ip_expire and
// ip6_frag_expire do); one whose first fragment never came is only
// counted.
func TestReassemblyTimeout(t *testing.T) {
	h := newHarnessWith(t, false, func(c *dataplane.Config) {
		c.ReasmTimeout, c.ReasmTimeout6 = 200*time.Millisecond, 200*time.Millisecond
	})
	h.addLink("r1", "10.1.0.254/24", "fd00:1::254/64")
	h1 := h.host("r1", [6]byte{2, 0, 0, 0, 1, 1}, "10.1.0.1", "fd00:1::1").permanent()
	body := make([]byte, 1000)
	f4, f6 := h1.echoRequests(t, body)
	frags := fragment4(f4, 400, 800)
	h1.inject(frags[0])
	p := h1.recv()
	ic, ok := p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
	if !ok || ic.TypeCode != layers.CreateICMPv4TypeCode(layers.ICMPv4TypeTimeExceeded, 1) ||
		!bytes.Equal(ic.Payload, frags[0][14:14+20+400]) {
		t.Fatalf("IPv4: want time exceeded (reassembly) quoting the first fragment, got %v", p)
	}

	first6 := fragment6(f6, 0x99, 408)[0]
	h1.inject(first6)
	p = h1.recv()
	te, ok := p.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6)
	if !ok || te.TypeCode != layers.CreateICMPv6TypeCode(layers.ICMPv6TypeTimeExceeded, 1) {
		t.Fatalf("IPv6: want time exceeded (reassembly), got %v", p)
	}
	// The quote (after the 4 unused bytes) is the first fragment as it
	// came, its fragment header included.
	if len(te.Payload) < 4 || !bytes.Equal(te.Payload[4:], first6[14:]) {
		t.Fatalf("IPv6: quote % x,\nwant the first fragment % x", te.Payload[:min(len(te.Payload), 60)], first6[14:14+56])
	}

	before := h.drops()["reasm_timeout"]
	h1.inject(frags[1]) // no first fragment: nothing to quote
	h.waitDrop("reasm_timeout", before+1)
	h1.expectNone(100e6)
}

// echoRequests are an ICMP echo request (id 7) to 10.1.0.254 and an
// ICMPv6 one (id 9) to fd00:1::254 from hs, carrying body.
func (hs *host) echoRequests(t *testing.T, body []byte) (f4, f6 []byte) {
	f4 = serialize(t, hs.eth(layers.EthernetTypeIPv4), hs.ip4hdr("10.1.0.254", layers.IPProtocolICMPv4, 64),
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: 7, Seq: 1},
		gopacket.Payload(body))
	ip := hs.ip6hdr("fd00:1::254", layers.IPProtocolICMPv6, 64)
	ic6 := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeEchoRequest, 0)}
	_ = ic6.SetNetworkLayerForChecksum(ip)
	f6 = serialize(t, hs.eth(layers.EthernetTypeIPv6), ip, ic6, &layers.ICMPv6Echo{Identifier: 9, SeqNumber: 1},
		gopacket.Payload(body))
	return f4, f6
}
