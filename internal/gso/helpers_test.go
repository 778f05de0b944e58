package gso

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"testing"

	"flowpath/internal/hdr"
	"flowpath/internal/pkt"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

var (
	macA = hdr.MAC{0x02, 0, 0, 0, 0, 0x0a}
	macB = hdr.MAC{0x02, 0, 0, 0, 0, 0x0b}
	v4A  = netip.MustParseAddr("10.1.0.1")
	v4B  = netip.MustParseAddr("10.2.0.2")
	v6A  = netip.MustParseAddr("fd00:1::1")
	v6B  = netip.MustParseAddr("fd00:2::2")
)

// naiveSum is the RFC 1071 sum written the slow obvious way, so that the
// checks below do not trust hdr.Sum.
func naiveSum(b []byte, s uint64) uint64 {
	for i := 0; i+1 < len(b); i += 2 {
		s += uint64(b[i])<<8 | uint64(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint64(b[len(b)-1]) << 8
	}
	return s
}

func naiveFold(s uint64) uint16 {
	for s>>16 != 0 {
		s = s>>16 + s&0xffff
	}
	return ^uint16(s)
}

// naivePseudo builds the pseudo header bytes and sums them.
func naivePseudo(src, dst netip.Addr, proto uint8, n int) uint64 {
	var b []byte
	if src.Is4() {
		s, d := src.As4(), dst.As4()
		b = append(append(b, s[:]...), d[:]...)
		b = append(b, 0, proto, byte(n>>8), byte(n))
	} else {
		s, d := src.As16(), dst.As16()
		b = append(append(b, s[:]...), d[:]...)
		b = binary.BigEndian.AppendUint32(b, uint32(n))
		b = append(b, 0, 0, 0, proto)
	}
	return naiveSum(b, 0)
}

// l4ChecksumOK verifies the stored checksum of an L4 segment the naive way.
func l4ChecksumOK(src, dst netip.Addr, proto uint8, l4 []byte) bool {
	return naiveFold(naiveSum(l4, naivePseudo(src, dst, proto, len(l4)))) == 0
}

func ipv4HeaderOK(h []byte) bool { return naiveFold(naiveSum(h, 0)) == 0 }

type frameSpec struct {
	v6      bool
	vlans   int    // 0..2 tags
	ipOpts  []byte // IPv4 options (multiple of 4)
	v6Ext   []byte // IPv6 extension headers (next header filled in)
	v6ExtNH uint8  // type of the first extension header
	udp     bool
	tcpOpts []byte // multiple of 4
	flags   uint8
	payload []byte
	id      uint16
	seq     uint32
	mss     int
	partial bool // leave the L4 checksum partial (pseudo header only)
	setL3   bool // fill p.L3 (else Segment parses)
	ufo     bool // GSOUDP (UFO) rather than GSOUDPL4
	noDF    bool
}

// build makes a super-frame from s with hdr's builders, returning the
// frame and the offsets of L3 and L4.
func build(s *frameSpec) (f []byte, l3, l4 int) {
	f = make([]byte, 14+4*s.vlans)
	hdr.PutEthernet(f, macB, macA, hdr.EtherTypeVLAN)
	et := hdr.EtherTypeIPv4
	if s.v6 {
		et = hdr.EtherTypeIPv6
	}
	switch s.vlans {
	case 0:
		hdr.Ethernet(f).SetEtherType(et)
	case 1:
		hdr.PutVLAN(f[14:], 0x2000|42, et)
	case 2:
		hdr.Ethernet(f).SetEtherType(hdr.EtherTypeQinQ)
		hdr.PutVLAN(f[14:], 7, hdr.EtherTypeVLAN)
		hdr.PutVLAN(f[18:], 42, et)
	}
	l3 = len(f)
	proto := hdr.IPProtoTCP
	l4len := hdr.TCPMinLen + len(s.tcpOpts)
	if s.udp {
		proto, l4len = hdr.IPProtoUDP, hdr.UDPLen
	}
	l4len += len(s.payload)
	var src, dst netip.Addr
	if s.v6 {
		src, dst = v6A, v6B
		ip := make([]byte, hdr.IPv6Len+len(s.v6Ext))
		nh := proto
		if len(s.v6Ext) > 0 {
			nh = s.v6ExtNH
		}
		hdr.PutIPv6(ip, &hdr.IPv6Fields{FlowLabel: 0x12345, PayloadLen: uint16(len(s.v6Ext) + l4len),
			NextHeader: nh, HopLimit: 64, Src: src, Dst: dst})
		copy(ip[40:], s.v6Ext)
		f = append(f, ip...)
	} else {
		src, dst = v4A, v4B
		ip := make([]byte, 20+len(s.ipOpts))
		hdr.PutIPv4(ip, &hdr.IPv4Fields{TotalLen: uint16(len(ip) + l4len), ID: s.id, DF: !s.noDF,
			TTL: 64, Protocol: proto, Src: src, Dst: dst})
		copy(ip[20:], s.ipOpts)
		ip[0] = 0x40 | byte(len(ip)/4)
		hdr.IPv4(ip).UpdateChecksum()
		f = append(f, ip...)
	}
	l4 = len(f)
	if s.udp {
		u := make([]byte, 8)
		hdr.PutUDP(u, 4000, 5001, uint16(l4len))
		f = append(f, u...)
	} else {
		t := make([]byte, 20)
		hdr.PutTCP(t, &hdr.TCPFields{SrcPort: 33000, DstPort: 5201, Seq: s.seq, Ack: 99,
			DataOffset: 20 + len(s.tcpOpts), Flags: s.flags, Window: 500})
		f = append(append(f, t...), s.tcpOpts...)
	}
	f = append(f, s.payload...)
	seg := f[l4:]
	off := hdr.ChecksumOffset(proto)
	if s.partial {
		ps := uint16(^hdr.Fold(hdr.PseudoHeaderSum(src, dst, proto, len(seg))))
		binary.BigEndian.PutUint16(seg[off:], ps)
	} else {
		binary.BigEndian.PutUint16(seg[off:], hdr.TransportChecksum(src, dst, proto, seg))
	}
	return f, l3, l4
}

func makePacket(t testing.TB, pool *pkt.Pool, s *frameSpec) *pkt.Packet {
	t.Helper()
	f, l3, l4 := build(s)
	p := pool.Get()
	if p == nil || !p.SetBytes(f) {
		t.Fatal("packet")
	}
	switch {
	case s.udp && !s.ufo:
		p.GSO.Type = pkt.GSOUDPL4
	case s.udp:
		p.GSO.Type = pkt.GSOUDP
	case s.v6:
		p.GSO.Type = pkt.GSOTCPv6
	default:
		p.GSO.Type = pkt.GSOTCPv4
	}
	p.GSO.Size = uint16(s.mss)
	p.GSO.HdrLen = uint16(len(f) - len(s.payload))
	if s.partial {
		p.GSO.NeedsCsum = true
		p.GSO.CsumStart = uint16(l4)
		p.GSO.CsumOffset = uint16(hdr.ChecksumOffset(map[bool]uint8{true: hdr.IPProtoUDP, false: hdr.IPProtoTCP}[s.udp]))
	}
	if s.setL3 {
		p.L3 = uint16(l3)
	}
	p.InPort, p.Mark, p.Hash, p.OutPort = 3, 0x77, 0xabcdef, 9
	var ti pkt.TunnelInfo
	ti.Key.ID = 4242
	ti.SetOptions([]byte{1, 2, 3, 4}, pkt.TunnelGeneveOpt)
	p.Meta.SetTunnel(&ti)
	return p
}

func randPayload(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// decodeGP decodes a frame with gopacket and fails on any decode error.
func decodeGP(t *testing.T, f []byte) gopacket.Packet {
	t.Helper()
	p := gopacket.NewPacket(f, layers.LayerTypeEthernet, gopacket.Default)
	if el := p.ErrorLayer(); el != nil {
		t.Fatalf("gopacket: %v", el.Error())
	}
	return p
}

// gpTCPChecksum recomputes a TCP checksum with gopacket from scratch.
func gpTCPChecksum(t *testing.T, p gopacket.Packet) uint16 {
	t.Helper()
	tl := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
	seg := append(append([]byte(nil), tl.Contents...), tl.Payload...)
	seg[16], seg[17] = 0, 0
	var z layers.TCP
	if err := z.DecodeFromBytes(seg, gopacket.NilDecodeFeedback); err != nil {
		t.Fatal(err)
	}
	if n := p.NetworkLayer(); n != nil {
		_ = z.SetNetworkLayerForChecksum(n)
	}
	c, err := z.ComputeChecksum()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// gpUDPChecksum recomputes a UDP checksum with gopacket's serializer.
func gpUDPChecksum(t *testing.T, p gopacket.Packet) uint16 {
	t.Helper()
	ul := p.Layer(layers.LayerTypeUDP).(*layers.UDP)
	u := &layers.UDP{SrcPort: ul.SrcPort, DstPort: ul.DstPort}
	_ = u.SetNetworkLayerForChecksum(p.NetworkLayer())
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		u, gopacket.Payload(ul.Payload)); err != nil {
		t.Fatal(err)
	}
	return binary.BigEndian.Uint16(buf.Bytes()[6:])
}

func concat(bs ...[]byte) []byte { return bytes.Join(bs, nil) }
