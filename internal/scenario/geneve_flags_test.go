package scenario

import (
	"net/netip"
	"testing"

	"flowpath/internal/hdr"
)

// The O and C bits of a received Geneve header go into the RX metadata of
// an external device, and the reply to an ARP request (metadata reply)
// carries them back: a request marked OAM gets an OAM-marked reply.
func TestGeneveExternalOAMBitRoundTrip(t *testing.T) {
	_, _, peer := geneveTopo(t, true)
	gh := []byte{0, 0x80, 0x65, 0x58, 0, 0x30, 0x39, 0} // O bit, no options, VNI 12345
	sta := hdr.MAC{2, 0, 0, 0, 0x97, 6}
	peer.inject(geneveFrame(t, peer, gh, arpRequest(sta, netip.MustParseAddr("10.97.0.6"), netip.MustParseAddr("10.97.0.1"))...))
	tp := decodeTun(t, peer.recv())
	if len(tp.th) < 8 || tp.th[1]&0x80 == 0 || tp.th[1]&0x40 != 0 || tp.th[4] != 0 || tp.th[5] != 0x30 || tp.th[6] != 0x39 {
		t.Fatalf("reply Geneve header % x: want O set, C clear, VNI 12345", tp.th)
	}
}

// A classic Geneve device cannot honour critical options: such packets are
// dropped (tunnel_bad_options), as geneve_rx does without collect_md.
func TestGeneveClassicDropsCriticalOptions(t *testing.T) {
	h, hh, peer := geneveTopo(t, false)
	gmac := h.mac("gnv0")
	opts := []byte{0x01, 0x02, 0x81, 1, 0xde, 0xad, 0xbe, 0xef}
	gh := append([]byte{2, 0x40, 0x65, 0x58, 0, 0, 5, 0}, opts...)
	peer.inject(geneveFrame(t, peer, gh, c4inner(hdr.MAC{2, 0, 0, 0, 0x97, 5}, gmac, "10.97.0.5", "10.11.0.1", "critical")...))
	h.waitDrop("tunnel_bad_options", 1)
	hh.quiet()
}
