package scenario

import (
	"encoding/binary"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"flowpath/api"
	"flowpath/internal/port"
)

// A TCP super-frame routed into `encap mpls 200` leaves a port that takes
// GSO as labelled segments: the kernel cannot segment TCP GSO under an
// MPLS ethertype from a virtio-net header (AF_PACKET refuses the write),
// so flowpath segments first and labels each segment.
func TestRouteEncapMPLSSegmentsSuperFrame(t *testing.T) {
	h, h1, h2 := gsoHosts(t, port.Offloads{TxGSO: true, TxUSO: true, RxGSO: true})
	h.do(api.Request{Op: api.OpRouteAdd, Route: &api.Route{Dst: "10.12.0.0/24", Via: "10.2.0.1", Dev: "r2",
		Encap: &api.Encap{Type: "mpls", Labels: []uint32{200}}}})
	payload := gsoPayload(10000)
	const mss = 1448
	f, g := h1.tcpSuper("10.12.0.5", false, true, payload, mss)
	if !h1.port.InjectGSO(f, g) {
		t.Fatal("inject")
	}
	want := (len(payload) + mss - 1) / mss
	fs := h2.port.WaitSent(want, 2e9)
	if len(fs) != want {
		t.Fatalf("%d frames, want %d labelled segments (port drops: %d)", len(fs), want, h2.port.Stats().TxDropped)
	}
	var ps []gopacket.Packet
	for i, fr := range fs {
		b := fr.Data
		if fr.GSO.IsGSO() || binary.BigEndian.Uint16(b[12:]) != 0x8847 {
			t.Fatalf("frame %d: GSO %+v ethertype %#x", i, fr.GSO, binary.BigEndian.Uint16(b[12:]))
		}
		// label 200, bottom of stack, TTL of the forwarded packet (63)
		if lse := binary.BigEndian.Uint32(b[14:]); lse != 200<<12|1<<8|63 {
			t.Fatalf("frame %d: label stack entry %#08x", i, lse)
		}
		// The segment without its label, for checkSegments.
		plain := append(append(append([]byte(nil), b[:12]...), 0x08, 0x00), b[18:]...)
		ps = append(ps, gopacket.NewPacket(plain, layers.LayerTypeEthernet, gopacket.Default))
	}
	checkSegments(t, ps, h2, false, 1496, mss, payload)
	h2.quiet()
}
