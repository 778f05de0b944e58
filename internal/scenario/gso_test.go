package scenario

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/ip4defrag"
	"github.com/google/gopacket/layers"

	"flowpath/api"
	"flowpath/internal/hdr"
	"flowpath/internal/pkt"
	"flowpath/internal/port"
)

// gsoHosts is twoHosts where r1's port takes GSO super-frames from the
// wire and r2's port has the given offloads.
func gsoHosts(t *testing.T, r2 port.Offloads) (*harness, *host, *host) {
	h := newHarness(t, false)
	h.offloads = port.Offloads{RxGSO: true}
	h.addLink("r1", "10.1.0.254/24", "fd00:1::254/64")
	h.offloads = r2
	h.addLink("r2", "10.2.0.254/24", "fd00:2::254/64")
	h1 := h.host("r1", [6]byte{2, 0, 0, 0, 1, 1}, "10.1.0.1", "fd00:1::1").permanent()
	h2 := h.host("r2", [6]byte{2, 0, 0, 0, 2, 1}, "10.2.0.1", "fd00:2::1").permanent()
	return h, h1, h2
}

const gsoSeq = 1000

// tcpSuper builds a TCP super-frame from hs to dst the way a sender with
// TSO leaves it: one IP packet with the whole payload, the TCP checksum
// field holding only the pseudo-header sum, and the GSO state describing
// it.
func (hs *host) tcpSuper(dst string, v6, df bool, payload []byte, mss uint16) ([]byte, pkt.GSO) {
	t := hs.h.t
	tcp := &layers.TCP{SrcPort: 40000, DstPort: 5201, Seq: gsoSeq, Ack: 77, ACK: true, PSH: true, Window: 512}
	var frame []byte
	var g pkt.GSO
	if v6 {
		ip := hs.ip6hdr(dst, layers.IPProtocolTCP, 64)
		_ = tcp.SetNetworkLayerForChecksum(ip)
		frame = serialize(t, hs.eth(layers.EthernetTypeIPv6), ip, tcp, gopacket.Payload(payload))
		g = pkt.GSO{Type: pkt.GSOTCPv6, Size: mss, HdrLen: 14 + 40 + 20, NeedsCsum: true, CsumStart: 14 + 40, CsumOffset: 16}
	} else {
		ip := hs.ip4hdr(dst, layers.IPProtocolTCP, 64)
		ip.Id = 0x4000
		if !df {
			ip.Flags = 0
		}
		_ = tcp.SetNetworkLayerForChecksum(ip)
		frame = serialize(t, hs.eth(layers.EthernetTypeIPv4), ip, tcp, gopacket.Payload(payload))
		g = pkt.GSO{Type: pkt.GSOTCPv4, Size: mss, HdrLen: 14 + 20 + 20, NeedsCsum: true, CsumStart: 14 + 20, CsumOffset: 16}
	}
	ipb := frame[14:]
	var src, dstA = hdr.IPv4(ipb).Src(), hdr.IPv4(ipb).Dst()
	if v6 {
		src, dstA = hdr.IPv6(ipb).Src(), hdr.IPv6(ipb).Dst()
	}
	l4 := frame[g.CsumStart:]
	// The field holds the folded pseudo-header sum, not complemented (the
	// kernel's ~tcp_v4_check(len, saddr, daddr, 0)).
	binary.BigEndian.PutUint16(l4[16:], ^hdr.Fold(hdr.PseudoHeaderSum(src, dstA, hdr.IPProtoTCP, len(l4))))
	return frame, g
}

func gsoPayload(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31 + i>>8)
	}
	return b
}

// checkSegments checks the frames a super-frame was cut into: each fits
// mtu with valid checksums, TTL/hop limit decremented, MACs rewritten,
// sequence numbers and IPv4 IDs consecutive, PSH only on the last, and
// the payloads add up to the original.
func checkSegments(t *testing.T, ps []gopacket.Packet, to *host, v6 bool, mtu int, mss int, payload []byte) {
	t.Helper()
	var got []byte
	for i, p := range ps {
		checkSums(t, p.Data())
		eth := ethOf(p)
		if [6]byte(eth.DstMAC) != to.mac || [6]byte(eth.SrcMAC) != to.rmac {
			t.Fatalf("segment %d L2 %v -> %v", i, eth.SrcMAC, eth.DstMAC)
		}
		if v6 {
			ip := ip6Of(t, p)
			if 40+int(ip.Length) > mtu || ip.HopLimit != 63 {
				t.Fatalf("segment %d: %+v", i, ip)
			}
		} else {
			ip := ip4Of(t, p)
			if int(ip.Length) > mtu || ip.TTL != 63 || ip.Id != 0x4000+uint16(i) || ip.Flags != layers.IPv4DontFragment {
				t.Fatalf("segment %d: len %d ttl %d id %#x flags %v", i, ip.Length, ip.TTL, ip.Id, ip.Flags)
			}
		}
		tcp, ok := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if !ok {
			t.Fatalf("segment %d not TCP: %v", i, p)
		}
		last := i == len(ps)-1
		if tcp.Seq != gsoSeq+uint32(len(got)) || tcp.PSH != last || !tcp.ACK || tcp.Ack != 77 {
			t.Fatalf("segment %d: seq %d psh %v (at byte %d)", i, tcp.Seq, tcp.PSH, len(got))
		}
		if !last && len(tcp.Payload) != mss {
			t.Fatalf("segment %d carries %d bytes, want %d", i, len(tcp.Payload), mss)
		}
		got = append(got, tcp.Payload...)
	}
	if !bytes.Equal(got, payload) {
		t.Fatalf("segments carry %d bytes, differ from the %d sent", len(got), len(payload))
	}
}

func TestGSOSegmentedForPlainPort(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		t.Run(map[bool]string{false: "tcpv4", true: "tcpv6"}[v6], func(t *testing.T) {
			h, h1, h2 := gsoHosts(t, port.Offloads{})
			payload := gsoPayload(5000)
			dst := "10.2.0.1"
			if v6 {
				dst = "fd00:2::1"
			}
			f, g := h1.tcpSuper(dst, v6, true, payload, 1400)
			if !h1.port.InjectGSO(f, g) {
				t.Fatal("inject")
			}
			fs := h2.port.WaitSent(4, 2e9)
			if len(fs) != 4 {
				t.Fatalf("%d segments, want 4", len(fs))
			}
			var ps []gopacket.Packet
			for _, fr := range fs {
				if fr.GSO != (pkt.GSO{}) {
					t.Fatalf("segment carries offload state %+v", fr.GSO)
				}
				ps = append(ps, gopacket.NewPacket(fr.Data, layers.LayerTypeEthernet, gopacket.Default))
			}
			checkSegments(t, ps, h2, v6, 1500, 1400, payload)
			h2.quiet()
			if st := h.linkStats("r2"); st.TxPackets < 4 || st.TxDropped != 0 {
				t.Fatalf("r2 counters %+v", st)
			}
		})
	}
}

func TestGSOKeptForOffloadPort(t *testing.T) {
	_, h1, h2 := gsoHosts(t, port.Offloads{TxGSO: true, TxUSO: true, RxGSO: true})
	payload := gsoPayload(20000)
	f, g := h1.tcpSuper("10.2.0.1", false, true, payload, 1448)
	if !h1.port.InjectGSO(f, g) {
		t.Fatal("inject")
	}
	fs := h2.port.WaitSent(1, 2e9)
	if len(fs) != 1 {
		t.Fatal("no frame")
	}
	fr := fs[0]
	if fr.GSO != g {
		t.Fatalf("GSO state %+v, want %+v", fr.GSO, g)
	}
	if len(fr.Data) != len(f) {
		t.Fatalf("super-frame of %d bytes, sent %d", len(fr.Data), len(f))
	}
	p := gopacket.NewPacket(fr.Data, layers.LayerTypeEthernet, gopacket.Default)
	eth := ethOf(p)
	if [6]byte(eth.DstMAC) != h2.mac || [6]byte(eth.SrcMAC) != h2.rmac {
		t.Fatalf("L2 %v -> %v", eth.SrcMAC, eth.DstMAC)
	}
	ip := hdr.IPv4(fr.Data[14:])
	if !ip.ChecksumValid() || ip.TTL() != 63 || int(ip.TotalLen()) != len(f)-14 {
		t.Fatalf("IP header: ttl %d len %d csum ok %v", ip.TTL(), ip.TotalLen(), ip.ChecksumValid())
	}
	// Everything past the IP header is untouched: the partial checksum is
	// left for the port, and completing it gives a valid segment.
	if !bytes.Equal(fr.Data[34:], f[34:]) {
		t.Fatal("TCP header or payload changed")
	}
	l4 := fr.Data[34:]
	c := hdr.Checksum(l4, 0)
	binary.BigEndian.PutUint16(l4[16:], c)
	if !hdr.TransportChecksumValid(ip.Src(), ip.Dst(), hdr.IPProtoTCP, l4) {
		t.Fatal("completed checksum invalid")
	}
	h2.quiet()
}

// TestGSOSegmentsExceedMTU: segments that would not fit the egress MTU
// with DF get frag-needed; without DF each segment is fragmented.
func TestGSOSegmentsExceedMTU(t *testing.T) {
	h, h1, h2 := gsoHosts(t, port.Offloads{})
	h.do(api.Request{Op: api.OpLinkSet, Link: &api.Link{Name: "r2", MTU: 1400}})
	payload := gsoPayload(4000)

	f, g := h1.tcpSuper("10.2.0.1", false, true, payload, 1400)
	if !h1.port.InjectGSO(f, g) {
		t.Fatal("inject")
	}
	e := h1.recvICMPError(false)
	expectError(t, e, "10.1.0.254", 3, 4, f)
	if e.info != 1400 {
		t.Fatalf("next-hop MTU %d", e.info)
	}

	f, g = h1.tcpSuper("10.2.0.1", false, false, payload, 1400)
	if !h1.port.InjectGSO(f, g) {
		t.Fatal("inject")
	}
	defrag := ip4defrag.NewIPv4Defragmenter()
	var got []byte
	for whole := 0; whole < 3; {
		p := h2.recv()
		checkSums(t, p.Data())
		ip := ip4Of(t, p)
		if ip.Length > 1400 || ip.TTL != 63 {
			t.Fatalf("fragment len %d ttl %d", ip.Length, ip.TTL)
		}
		out, err := defrag.DefragIPv4(ip)
		if err != nil {
			t.Fatal(err)
		}
		if out == nil {
			continue
		}
		whole++
		seg := serialize(t, &layers.Ethernet{SrcMAC: h2.rmac[:], DstMAC: h2.mac[:], EthernetType: layers.EthernetTypeIPv4},
			out, gopacket.Payload(out.Payload))
		checkSums(t, seg)
		tcp := gopacket.NewPacket(seg, layers.LayerTypeEthernet, gopacket.Default).Layer(layers.LayerTypeTCP).(*layers.TCP)
		if tcp.Seq != gsoSeq+uint32(len(got)) {
			t.Fatalf("segment seq %d at byte %d", tcp.Seq, len(got))
		}
		got = append(got, tcp.Payload...)
	}
	if !bytes.Equal(got, payload) {
		t.Fatal("reassembled segments differ from the payload")
	}
	h2.quiet()
	h1.quiet()
}

// TestPartialChecksumCompleted: a plain frame whose UDP checksum was left
// partial by the sender gets it completed before a port without offloads.
func TestPartialChecksumCompleted(t *testing.T) {
	_, h1, h2 := gsoHosts(t, port.Offloads{})
	f := h1.udp4("10.2.0.1", 7, 9, 64, true, gsoPayload(900))
	l4 := f[34:]
	ip := hdr.IPv4(f[14:])
	binary.BigEndian.PutUint16(l4[6:], ^hdr.Fold(hdr.PseudoHeaderSum(ip.Src(), ip.Dst(), hdr.IPProtoUDP, len(l4))))
	if !h1.port.InjectGSO(f, pkt.GSO{NeedsCsum: true, CsumStart: 34, CsumOffset: 6}) {
		t.Fatal("inject")
	}
	fs := h2.port.WaitSent(1, 2e9)
	if len(fs) != 1 || fs[0].GSO.NeedsCsum || fs[0].GSO.IsGSO() {
		t.Fatalf("%d frames, offload state %+v", len(fs), fs[0].GSO)
	}
	checkSums(t, fs[0].Data)
	if !bytes.Equal(fs[0].Data[42:], f[42:]) {
		t.Fatal("payload changed")
	}
}

// TestGSOWrongHdrLen: the fit of segments is judged on the headers in the
// frame, not on the sender's HdrLen hint.
func TestGSOWrongHdrLen(t *testing.T) {
	h, h1, h2 := gsoHosts(t, port.Offloads{})
	payload := gsoPayload(4000)

	// HdrLen far too big: the 1440-byte segments still fit 1500.
	f, g := h1.tcpSuper("10.2.0.1", false, true, payload, 1400)
	g.HdrLen = 1000
	if !h1.port.InjectGSO(f, g) {
		t.Fatal("inject")
	}
	fs := h2.port.WaitSent(3, 2e9)
	var ps []gopacket.Packet
	for _, fr := range fs {
		ps = append(ps, gopacket.NewPacket(fr.Data, layers.LayerTypeEthernet, gopacket.Default))
	}
	if len(ps) != 3 {
		t.Fatalf("%d segments, want 3", len(ps))
	}
	checkSegments(t, ps, h2, false, 1500, 1400, payload)

	// HdrLen 0 on a 1400 link: the segments would be 1440 bytes, so DF
	// gets fragmentation needed rather than oversized frames.
	h.do(api.Request{Op: api.OpLinkSet, Link: &api.Link{Name: "r2", MTU: 1400}})
	f, g = h1.tcpSuper("10.2.0.1", false, true, payload, 1400)
	g.HdrLen = 0
	if !h1.port.InjectGSO(f, g) {
		t.Fatal("inject")
	}
	e := h1.recvICMPError(false)
	expectError(t, e, "10.1.0.254", 3, 4, f)
	if e.info != 1400 {
		t.Fatalf("next-hop MTU %d", e.info)
	}
	h2.quiet()

	// The same over IPv6: packet too big.
	f, g = h1.tcpSuper("fd00:2::1", true, true, payload, 1400)
	g.HdrLen = 0
	if !h1.port.InjectGSO(f, g) {
		t.Fatal("inject")
	}
	e = h1.recvICMPError(true)
	if e.typ != 2 || e.info != 1400 {
		t.Fatalf("ICMPv6 %d/%d mtu %d, want packet too big 1400", e.typ, e.code, e.info)
	}
	h2.quiet()
}
