package scenario

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"flowpath/internal/gso"
	"flowpath/internal/hdr"
	"flowpath/internal/pkt"
	"flowpath/internal/port"
)

// usoVXLAN is what a flowpath VTEP (gso.Coalesce on its underlay port) or
// the kernel's UDP GRO hands over for a TCP flow through the tunnel: the
// VXLAN datagrams of one outer flow as one UDP-L4 (USO) super-frame, each
// datagram an inner TCP segment of mss bytes with complete checksums.
func usoVXLAN(t *testing.T, h *harness, peer *host, payload []byte, mss int) ([]byte, pkt.GSO) {
	vmac := h.mac("vx0")
	sta := innerMAC(5)
	var uso []byte
	size := 0
	for i, off := 0, 0; off < len(payload); i, off = i+1, off+mss {
		end := min(off+mss, len(payload))
		ip := &layers.IPv4{Version: 4, TTL: 64, Id: 0x4000 + uint16(i), Flags: layers.IPv4DontFragment,
			Protocol: layers.IPProtocolTCP, SrcIP: innerIP(5).AsSlice(), DstIP: netip.MustParseAddr("10.11.0.1").AsSlice()}
		tcp := &layers.TCP{SrcPort: 5201, DstPort: 40000, Seq: gsoSeq + uint32(off), Ack: 77, ACK: true,
			PSH: end == len(payload), Window: 512}
		_ = tcp.SetNetworkLayerForChecksum(ip)
		f := serialize(t, vxlanFrame(peer, 100, &layers.Ethernet{SrcMAC: sta[:], DstMAC: vmac[:],
			EthernetType: layers.EthernetTypeIPv4}, ip, tcp, gopacket.Payload(payload[off:end]))...)
		if uso == nil {
			uso = append(uso, f...)
			size = len(f) - 42
		} else {
			uso = append(uso, f[42:]...)
		}
	}
	ip := hdr.IPv4(uso[14:])
	ip.SetTotalLen(uint16(len(uso) - 14))
	ip.UpdateChecksum()
	hdr.UDP(uso[34:]).SetLength(uint16(len(uso) - 34))
	binary.BigEndian.PutUint16(uso[34+6:], ^hdr.Fold(hdr.PseudoHeaderSum(ip.Src(), ip.Dst(), hdr.IPProtoUDP, len(uso)-34)))
	return uso, pkt.GSO{Type: pkt.GSOUDPL4, Size: uint16(size), HdrLen: 42, NeedsCsum: true, CsumStart: 34, CsumOffset: 6}
}

// A USO super-frame of VXLAN datagrams is cut into its datagrams and each
// decapsulated: a host without offloads gets the segments.
func TestVXLANDecapUSOSplit(t *testing.T) {
	h, hh, peer := gsoRxTopo(t, port.Offloads{})
	payload := gsoPayload(5000)
	const mss = 1448
	f, g := usoVXLAN(t, h, peer, payload, mss)
	if !peer.port.InjectGSO(f, g) {
		t.Fatal("inject")
	}
	want := (len(payload) + mss - 1) / mss
	fs := hh.port.WaitSent(want, 2e9)
	if len(fs) != want {
		t.Fatalf("%d frames, want %d", len(fs), want)
	}
	var ps []gopacket.Packet
	for _, fr := range fs {
		ps = append(ps, gopacket.NewPacket(fr.Data, layers.LayerTypeEthernet, gopacket.Default))
	}
	checkSegments(t, ps, hh, false, 1500, mss, payload)
	hh.quiet()
}

// Towards a host that takes GSO, the decapsulated segments are merged
// back into one TCP super-frame (gso.Coalesce before the port).
func TestVXLANDecapUSOCoalesced(t *testing.T) {
	h, hh, peer := gsoRxTopo(t, port.Offloads{TxGSO: true, RxGSO: true})
	payload := gsoPayload(5000)
	const mss = 1448
	f, g := usoVXLAN(t, h, peer, payload, mss)
	if !peer.port.InjectGSO(f, g) {
		t.Fatal("inject")
	}
	fs := hh.port.WaitSent(1, 2e9)
	if len(fs) != 1 {
		t.Fatalf("%d frames, want 1", len(fs))
	}
	fr := fs[0]
	if fr.GSO.Type != pkt.GSOTCPv4 || fr.GSO.Size != mss || !fr.GSO.NeedsCsum || fr.GSO.CsumStart != 34 {
		t.Fatalf("GSO state %+v", fr.GSO)
	}
	// Segmenting it gives the segments a plain host gets.
	p := pkt.NewPool("t", 16).Get()
	p.SetBytes(fr.Data)
	p.GSO = fr.GSO
	var ps []gopacket.Packet
	for _, d := range segmentFrames(t, p) {
		ps = append(ps, gopacket.NewPacket(d, layers.LayerTypeEthernet, gopacket.Default))
	}
	checkSegments(t, ps, hh, false, 1500, mss, payload)
	hh.quiet()
}

// segmentFrames cuts the super-frame p with gso.Segment and returns the
// frames' bytes.
func segmentFrames(t *testing.T, p *pkt.Packet) [][]byte {
	t.Helper()
	out := make([]*pkt.Packet, 64)
	pool := pkt.NewPool("seg", 64)
	n, ok := gso.Segment(p, pool, out)
	if !ok {
		t.Fatal("Segment")
	}
	var fs [][]byte
	for _, q := range out[:n] {
		fs = append(fs, append([]byte(nil), q.Bytes()...))
		q.Free()
	}
	return fs
}

// Datagrams that cannot be merged (here an inner segment with a bad TCP
// checksum) are cut apart and each forwarded as it is, in order.
func TestVXLANDecapUSOUnmergeable(t *testing.T) {
	h, hh, peer := gsoRxTopo(t, port.Offloads{})
	payload := gsoPayload(5000)
	const mss = 1448
	f, g := usoVXLAN(t, h, peer, payload, mss)
	f[42+2*int(g.Size)-1] ^= 0xff // last payload byte of datagram 1
	if !peer.port.InjectGSO(f, g) {
		t.Fatal("inject")
	}
	want := (len(payload) + mss - 1) / mss
	fs := hh.port.WaitSent(want, 2e9)
	if len(fs) != want {
		t.Fatalf("%d frames, want %d", len(fs), want)
	}
	for i, fr := range fs {
		p := gopacket.NewPacket(fr.Data, layers.LayerTypeEthernet, gopacket.Default)
		tcp, ok := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if !ok || tcp.Seq != gsoSeq+uint32(i*mss) || fr.GSO.IsGSO() {
			t.Fatalf("frame %d: %v", i, p)
		}
		if i != 1 {
			checkSums(t, fr.Data)
		}
	}
	hh.quiet()
}
