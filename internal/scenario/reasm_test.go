package scenario

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

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
	if n := h.drops()["local_fragment"]; n != 0 {
		t.Fatalf("%d fragments dropped unassembled", n)
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
