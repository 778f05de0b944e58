package scenario

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"flowpath/api"
	"flowpath/internal/gso"
	"flowpath/internal/hdr"
	"flowpath/internal/pkt"
	"flowpath/internal/port"
	"flowpath/internal/port/mem"
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
	checkDecapSegmented(t, usoVXLAN, 5000)
}

// Towards a host that takes GSO, the decapsulated segments are merged
// back into one TCP super-frame (gso.Coalesce before the port).
func TestVXLANDecapUSOCoalesced(t *testing.T) {
	h, hh, peer := gsoRxTopo(t, port.Offloads{TxGSO: true, TxUSO: true, RxGSO: true})
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
	cut := gso.Segment
	if p.GSO.OuterL4 != 0 {
		cut = gso.SegmentUDPTunnel // what the kernel does with UDP-tunnel GSO
	}
	n, ok := cut(p, pool, out)
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

// usoTxTopo is gsoRxTopo with an underlay port that takes GSO (or not)
// and a permanent neighbour 10.99.0.5 behind vx0; tweak adjusts vx0's
// configuration.
func usoTxTopo(t *testing.T, uOffloads port.Offloads, tweak func(*api.VXLAN)) (*harness, *host, *host) {
	c := classicTopoWith(t, port.Offloads{RxGSO: true, TxGSO: true, TxUSO: true}, uOffloads, tweak)
	c.h.neigh("vx0", innerIP(5), innerMAC(5))
	return c.h, c.hh, c.vteps[2].host
}

// innerSegments decapsulates the VXLAN datagrams fs (USO frames cut
// apart first) and returns the inner frames.
func innerSegments(t *testing.T, fs []mem.Frame) [][]byte {
	t.Helper()
	var out [][]byte
	for _, fr := range fs {
		p := pkt.NewPool("x", 4).Get()
		p.SetBytes(fr.Data)
		p.GSO = fr.GSO
		ds := [][]byte{fr.Data}
		if fr.GSO.IsGSO() {
			ds = segmentFrames(t, p)
		}
		for _, d := range ds {
			checkSums(t, d)
			if binary.BigEndian.Uint16(d[36:]) != 4789 || d[42] != 0x08 {
				t.Fatalf("not a VXLAN datagram: % x", d[:50])
			}
			out = append(out, d[50:])
		}
	}
	return out
}

// A TCP super-frame from the host leaves an underlay port that takes GSO
// as USO frames of VXLAN datagrams (one pass, gso.EncapUSO), one that
// takes UDP-tunnel GSO as one VXLAN datagram around the whole super-frame
// (the kernel cuts it), and one that takes neither as the datagrams
// themselves; all carry the same segments.
func TestVXLANEncapSuperFrameUSO(t *testing.T) {
	payload := gsoPayload(30000)
	const mss = 1400
	// USO; no GSO; TCP GSO without UDP segmentation (per segment too);
	// UDP-tunnel GSO.
	var inner [4][][]byte
	for i, off := range []port.Offloads{{RxGSO: true, TxGSO: true, TxUSO: true}, {}, {RxGSO: true, TxGSO: true},
		{RxGSO: true, TxGSO: true, TxUSO: true, TxUDPTunnelGSO: true}} {
		_, hh, peer := usoTxTopo(t, off, nil)
		f, g := hh.tcpSuper(innerIP(5).String(), false, true, payload, mss)
		if !hh.port.InjectGSO(f, g) {
			t.Fatal("inject")
		}
		want := (len(payload) + mss - 1) / mss
		n := want
		if off.TxUSO {
			n = 1 // 22 datagrams of 1474 bytes fit one USO frame
		}
		fs := peer.port.WaitSent(n, 2e9)
		if len(fs) != n {
			t.Fatalf("txgso=%v: %d frames on the underlay, want %d", off.TxGSO, len(fs), n)
		}
		switch g := fs[0].GSO; {
		case off.TxUDPTunnelGSO:
			// One datagram: outer IPv4 and UDP (its checksum partial
			// when the device sends one), VXLAN, the inner super-frame
			// as it came.
			if g.Type != pkt.GSOTCPv4 || g.Size != mss || g.OuterL4 != 34 || g.InnerL3 != 64 || g.TunnelV6 ||
				g.TunnelCsum != (binary.BigEndian.Uint16(fs[0].Data[40:]) != 0) || g.CsumStart != 64+20 ||
				len(fs[0].Data) != 50+len(f) {
				t.Fatalf("tunnel GSO %+v, %d bytes", g, len(fs[0].Data))
			}
		case off.TxUSO && (g.Type != pkt.GSOUDPL4 || g.CsumStart != 34):
			t.Fatalf("GSO %+v", g)
		}
		inner[i] = innerSegments(t, fs)
		if len(inner[i]) != want {
			t.Fatalf("txgso=%v: %d datagrams, want %d", off.TxGSO, len(inner[i]), want)
		}
		var ps []gopacket.Packet
		for _, d := range inner[i] {
			ps = append(ps, gopacket.NewPacket(d, layers.LayerTypeEthernet, gopacket.Default))
		}
		for j, p := range ps {
			tcp, ok := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
			if !ok || tcp.Seq != gsoSeq+uint32(j*mss) {
				t.Fatalf("segment %d: %v", j, p)
			}
		}
	}
	// The same segments (the source MAC is each harness's own vx0).
	for k := 1; k < len(inner); k++ {
		for j := range inner[0] {
			if !bytes.Equal(inner[0][j][:6], inner[k][j][:6]) || !bytes.Equal(inner[0][j][12:], inner[k][j][12:]) {
				t.Fatalf("segment %d differs between the USO and the per-segment path %d", j, k)
			}
		}
	}
}

// A device with noudpcsum sends single datagrams without UDP checksums,
// as the kernel's does over IPv4; its super-frames still leave as USO
// frames whose datagrams the kernel gives correct checksums when it cuts
// them (RFC 7348 allows them; per-segment encapsulation would cost most of
// the overlay's TCP throughput). The datagrams are the same either way.
func TestVXLANEncapNoUDPCsum(t *testing.T) {
	off := false
	_, hh, peer := usoTxTopo(t, port.Offloads{RxGSO: true, TxGSO: true, TxUSO: true}, func(v *api.VXLAN) { v.UDPCsum = &off })
	hh.send(udp4(hh, innerIP(5).String(), 1, 2, "one datagram")...)
	fs := peer.port.WaitSent(1, 2e9)
	if len(fs) != 1 || fs[0].GSO.IsGSO() {
		t.Fatalf("single packet: %d frames %+v", len(fs), fs)
	}
	if csum := binary.BigEndian.Uint16(fs[0].Data[40:]); csum != 0 {
		t.Fatalf("single datagram: UDP checksum %#04x, want none", csum)
	}
	payload := gsoPayload(10000)
	const mss = 1400
	f, g := hh.tcpSuper(innerIP(5).String(), false, true, payload, mss)
	if !hh.port.InjectGSO(f, g) {
		t.Fatal("inject")
	}
	fs = peer.port.WaitSent(1, 2e9)
	if len(fs) != 1 || fs[0].GSO.Type != pkt.GSOUDPL4 {
		t.Fatalf("super-frame: %d frames, want one USO frame", len(fs))
	}
	if got, want := len(innerSegments(t, fs)), (len(payload)+mss-1)/mss; got != want {
		t.Fatalf("%d datagrams in the USO frame, want %d", got, want)
	}
}

// Over a port that takes UDP-tunnel GSO, a noudpcsum device's super-frame
// leaves whole with no outer checksum asked for, so the datagrams the
// kernel cuts from it carry none, like its single datagrams (unlike the
// USO path above).
func TestVXLANEncapTunnelGSONoUDPCsum(t *testing.T) {
	off := false
	_, hh, peer := usoTxTopo(t, port.Offloads{RxGSO: true, TxGSO: true, TxUSO: true, TxUDPTunnelGSO: true},
		func(v *api.VXLAN) { v.UDPCsum = &off })
	payload := gsoPayload(10000)
	const mss = 1400
	f, g := hh.tcpSuper(innerIP(5).String(), false, true, payload, mss)
	if !hh.port.InjectGSO(f, g) {
		t.Fatal("inject")
	}
	fs := peer.port.WaitSent(1, 2e9)
	if len(fs) != 1 || fs[0].GSO.OuterL4 != 34 || fs[0].GSO.TunnelCsum || binary.BigEndian.Uint16(fs[0].Data[40:]) != 0 {
		t.Fatalf("super-frame: %d frames %+v, want one UDP-tunnel GSO frame without outer checksum", len(fs), fs)
	}
	p := pkt.NewPool("x", 4).Get()
	p.SetBytes(fs[0].Data)
	p.GSO = fs[0].GSO
	ds := segmentFrames(t, p)
	if want := (len(payload) + mss - 1) / mss; len(ds) != want {
		t.Fatalf("%d datagrams, want %d", len(ds), want)
	}
	for i, d := range ds {
		if csum := binary.BigEndian.Uint16(d[40:]); csum != 0 {
			t.Fatalf("datagram %d: UDP checksum %#04x, want none", i, csum)
		}
		checkSums(t, d)
	}
}
