package scenario

import (
	"bytes"
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

// flowpath as the underlay router between two kernel VTEPs: h1 (a VTEP,
// 10.1.0.1) sends a TCP flow through its VXLAN device as UDP-tunnel
// super-frames, which AF_PACKET reports as TCPv4 GSO with the checksum
// start on the inner TCP header. Forwarded to h2 (10.2.0.1) through a
// port that takes GSO, each must leave as a whole VXLAN datagram within
// the MTU: handing the frame on as TCP GSO would have the kernel segment
// or offload the outer UDP packet as TCP.
//
// A port that takes TCP GSO but not UDP segmentation (AF_PACKET before
// Linux 6.2) gets the datagrams one by one, never a USO frame.
func TestVXLANSuperFrameInTransit(t *testing.T) {
	for _, c := range []struct {
		name string
		off  port.Offloads
	}{
		{"uso", port.Offloads{TxGSO: true, TxUSO: true, RxGSO: true}},
		{"no-uso", port.Offloads{TxGSO: true, RxGSO: true}},
		{"tunnel-gso", port.Offloads{TxGSO: true, TxUSO: true, RxGSO: true, TxUDPTunnelGSO: true}},
	} {
		t.Run(c.name, func(t *testing.T) { testVXLANSuperFrameInTransit(t, c.off) })
	}
}

func testVXLANSuperFrameInTransit(t *testing.T, off port.Offloads) {
	h, h1, h2 := gsoHosts(t, off)
	payload := gsoPayload(12000)
	const mss = 1398 // 1398 + 40 + 14 + 8 + 8 + 20 = 1488 <= 1500
	// The inner TCP super-frame, as the station behind h1's VTEP sent it.
	sta, far := [6]byte{2, 0, 0, 0, 0x77, 1}, [6]byte{2, 0, 0, 0, 0x77, 2}
	iip := &layers.IPv4{Version: 4, TTL: 64, Id: 0x4000, Flags: layers.IPv4DontFragment, Protocol: layers.IPProtocolTCP,
		SrcIP: netip.MustParseAddr("10.77.0.1").AsSlice(), DstIP: netip.MustParseAddr("10.77.0.2").AsSlice()}
	tcp := &layers.TCP{SrcPort: 40000, DstPort: 5201, Seq: gsoSeq, Ack: 77, ACK: true, PSH: true, Window: 512}
	_ = tcp.SetNetworkLayerForChecksum(iip)
	inner := serialize(t, &layers.Ethernet{SrcMAC: sta[:], DstMAC: far[:], EthernetType: layers.EthernetTypeIPv4}, iip, tcp,
		gopacket.Payload(payload))
	oip := h1.ip4hdr("10.2.0.1", layers.IPProtocolUDP, 64)
	u := &layers.UDP{SrcPort: 50000, DstPort: 4789}
	_ = u.SetNetworkLayerForChecksum(oip)
	f := serialize(t, h1.eth(layers.EthernetTypeIPv4), oip, u, &layers.VXLAN{ValidIDFlag: true, VNI: 7}, gopacket.Payload(inner))
	const tcpOff = 14 + 20 + 8 + 8 + 14 + 20
	binary.BigEndian.PutUint16(f[tcpOff+16:], ^hdr.Fold(hdr.PseudoHeaderSum(netip.MustParseAddr("10.77.0.1"),
		netip.MustParseAddr("10.77.0.2"), hdr.IPProtoTCP, len(f)-tcpOff)))
	binary.BigEndian.PutUint16(f[14+20+6:], 0x5555) // udpcsum: the outer checksum is partial too
	g := pkt.GSO{Type: pkt.GSOTCPv4, Size: mss, NeedsCsum: true, CsumStart: tcpOff, CsumOffset: 16, HdrLen: tcpOff + 20}
	if !h1.port.InjectGSO(f, g) {
		t.Fatal("inject")
	}
	// The router may hand the datagrams to a port that takes GSO merged
	// into UDP GSO (USO) super-frames (TxCoalesce): cut those here as the
	// kernel would before looking at each datagram.
	want := (len(payload) + mss - 1) / mss
	pool := pkt.NewPool("cut", 64)
	var dgrams [][]byte
	for len(dgrams) < want {
		fs := h2.port.WaitSent(1, 2e9)
		if len(fs) == 0 {
			t.Fatalf("%d tunnel datagrams on h2, want %d (drops %v)", len(dgrams), want, h.drops())
		}
		fr := fs[0]
		if fr.GSO.Type == pkt.GSOUDPL4 && !off.TxUSO {
			t.Fatalf("USO frame %+v to a port without UDP segmentation", fr.GSO)
		}
		if fr.GSO.Type != pkt.GSOUDPL4 && fr.GSO.OuterL4 == 0 {
			if fr.GSO.IsGSO() {
				t.Fatalf("frame handed on as GSO %+v: not a whole datagram", fr.GSO)
			}
			dgrams = append(dgrams, fr.Data)
			continue
		}
		q := pool.Get()
		q.SetBytes(fr.Data)
		q.GSO = fr.GSO
		segs := make([]*pkt.Packet, 64)
		cut := gso.Segment
		if fr.GSO.OuterL4 != 0 {
			// Handed on whole to a port that takes UDP-tunnel GSO: the
			// kernel cuts it as SegmentUDPTunnel does.
			g := fr.GSO
			if !off.TxUDPTunnelGSO || g.OuterL4 != 34 || g.InnerL3 != 34+8+8+14 || g.TunnelV6 || !g.TunnelCsum {
				t.Fatalf("tunnel GSO frame %+v", g)
			}
			cut = gso.SegmentUDPTunnel
		} else if off.TxUDPTunnelGSO {
			t.Fatalf("frame %+v not handed on whole to a port that takes UDP-tunnel GSO", fr.GSO)
		}
		n, ok := cut(q, pool, segs)
		if !ok {
			t.Fatalf("frame %+v does not cut", fr.GSO)
		}
		for _, s := range segs[:n] {
			dgrams = append(dgrams, append([]byte(nil), s.Bytes()...))
			s.Free()
		}
		q.Free()
	}
	if len(dgrams) != want {
		t.Fatalf("%d tunnel datagrams, want %d", len(dgrams), want)
	}
	var inners []gopacket.Packet
	for i, d := range dgrams {
		if len(d) > 14+1500 {
			t.Fatalf("datagram %d: %d bytes", i, len(d))
		}
		tp := decodeTun(t, gopacket.NewPacket(d, layers.LayerTypeEthernet, gopacket.Default)) // outer checksums, lengths
		if tp.ip.TTL != 63 || addrOf(tp.ip.DstIP) != h2.ip4 || tp.udp.Checksum == 0 ||
			!bytes.Equal(tp.th, vxlanHeader(7)) || [6]byte(tp.eth.DstMAC) != h2.mac {
			t.Fatalf("datagram %d outer: ttl %d to %v csum %#x header % x", i, tp.ip.TTL, tp.ip.DstIP, tp.udp.Checksum, tp.th)
		}
		inners = append(inners, tp.inner)
	}
	// The inner segments, as the far VTEP decapsulates them: the station's
	// own packet (MACs, TTL 64), cut like any TCP super-frame.
	var got []byte
	for i, p := range inners {
		checkSums(t, p.Data())
		ip := ip4Of(t, p)
		tc, ok := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if e := ethOf(p); !ok || [6]byte(e.SrcMAC) != sta || [6]byte(e.DstMAC) != far || ip.TTL != 64 ||
			ip.Id != 0x4000+uint16(i) || tc.Seq != gsoSeq+uint32(len(got)) || tc.PSH != (i == len(inners)-1) {
			t.Fatalf("inner segment %d: %v", i, p)
		}
		got = append(got, tc.Payload...)
	}
	if !bytes.Equal(got, payload) {
		t.Fatalf("inner segments carry %d bytes, differ from the %d sent", len(got), len(payload))
	}
	h2.quiet()
}
