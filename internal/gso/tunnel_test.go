package gso

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"testing"

	"flowpath/internal/hdr"
	"flowpath/internal/pkt"
)

// tunnelSuper wraps the TCP super-frame of s (its partial checksum and GSO
// state as a sender leaves them) in outer Ethernet/IP/UDP/VXLAN headers,
// as AF_PACKET hands over a kernel VTEP's UDP-tunnel super-frame: GSO type
// of the inner packet, checksum start on the inner TCP header. csum puts a
// non-zero (partial) value in the outer UDP checksum field.
func tunnelSuper(t *testing.T, pool *pkt.Pool, s *frameSpec, outer6, csum bool) (*pkt.Packet, []byte) {
	t.Helper()
	inner, _, l4 := build(s)
	var f []byte
	eth := make([]byte, 14)
	udpLen := 8 + 8 + len(inner)
	if outer6 {
		hdr.PutEthernet(eth, macB, macA, hdr.EtherTypeIPv6)
		ip := make([]byte, 40)
		hdr.PutIPv6(ip, &hdr.IPv6Fields{PayloadLen: uint16(udpLen), NextHeader: hdr.IPProtoUDP, HopLimit: 64,
			Src: netip.MustParseAddr("fd00:100::1"), Dst: netip.MustParseAddr("fd00:100::2")})
		f = append(eth, ip...)
	} else {
		hdr.PutEthernet(eth, macB, macA, hdr.EtherTypeIPv4)
		ip := make([]byte, 20)
		hdr.PutIPv4(ip, &hdr.IPv4Fields{TotalLen: uint16(20 + udpLen), ID: 0x1000, TTL: 64, Protocol: hdr.IPProtoUDP,
			Src: netip.MustParseAddr("10.100.0.1"), Dst: netip.MustParseAddr("10.100.0.2")})
		hdr.IPv4(ip).UpdateChecksum()
		f = append(eth, ip...)
	}
	udp := make([]byte, 8)
	hdr.PutUDP(udp, 54321, 4789, uint16(udpLen))
	if csum {
		binary.BigEndian.PutUint16(udp[6:], 0x1234) // whatever partial sum; not zero
	}
	f = append(append(append(f, udp...), 0x08, 0, 0, 0, 0, 0, 10, 0), inner...)
	outer := len(f) - len(inner)
	p := pool.Get()
	if p == nil || !p.SetBytes(f) {
		t.Fatal("packet")
	}
	p.GSO = pkt.GSO{Type: pkt.GSOTCPv4, Size: uint16(s.mss), NeedsCsum: true, CsumStart: uint16(outer + l4), CsumOffset: 16,
		HdrLen: uint16(outer + l4 + 20)}
	if s.v6 {
		p.GSO.Type = pkt.GSOTCPv6
	}
	return p, f
}

func TestSegmentUDPTunnel(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	pool := pkt.NewPool("t", 128)
	for _, c := range []struct {
		name                  string
		outer6, inner6, csum  bool
		tcpOpts               []byte
		payload, mss, wantSeg int
	}{
		{"v4 in v4, csum", false, false, true, nil, 20000, 1398, 15},
		{"v4 in v4, no csum", false, false, false, []byte{1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2}, 5000, 1386, 4},
		{"v6 in v4", false, true, true, nil, 3000, 1378, 3},
		{"v4 in v6, csum", true, false, true, nil, 4000, 1378, 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := &frameSpec{v6: c.inner6, tcpOpts: c.tcpOpts, flags: hdr.TCPFlagACK | hdr.TCPFlagPSH | hdr.TCPFlagCWR,
				payload: randPayload(r, c.payload), id: 0x2000, seq: 1000, mss: c.mss, partial: true}
			p, orig := tunnelSuper(t, pool, s, c.outer6, c.csum)
			defer p.Free()
			hl, ok := UDPTunnelHeaders(p)
			if !ok {
				t.Fatal("not recognised as a UDP-tunnel super-frame")
			}
			innerHdr := int(p.GSO.CsumStart) + 20 + len(c.tcpOpts) // end of the inner TCP header
			if want := innerHdr - 14; hl != want {
				t.Fatalf("UDPTunnelHeaders %d, want %d", hl, want)
			}
			out := make([]*pkt.Packet, 64)
			n, ok := SegmentUDPTunnel(p, pool, out)
			if !ok || n != c.wantSeg {
				t.Fatalf("SegmentUDPTunnel: %d segments, %v; want %d", n, ok, c.wantSeg)
			}
			if !bytes.Equal(p.Bytes(), orig) {
				t.Fatal("the super-frame changed")
			}
			var got []byte
			for i, q := range out[:n] {
				f := q.Bytes()
				if q.L3 != 14 || q.GSO.IsGSO() || q.GSO.NeedsCsum || len(f)-14 > hl+c.mss {
					t.Fatalf("segment %d: L3 %d GSO %+v, %d bytes", i, q.L3, q.GSO, len(f))
				}
				udp := 14 + 20
				osrc, odst := netip.MustParseAddr("10.100.0.1"), netip.MustParseAddr("10.100.0.2")
				if c.outer6 {
					udp = 14 + 40
					osrc, odst = netip.MustParseAddr("fd00:100::1"), netip.MustParseAddr("fd00:100::2")
					if ip := hdr.IPv6(f[14:]); int(ip.PayloadLen()) != len(f)-udp {
						t.Fatalf("segment %d: outer payload length %d", i, ip.PayloadLen())
					}
				} else {
					ip := hdr.IPv4(f[14:])
					if int(ip.TotalLen()) != len(f)-14 || ip.ID() != 0x1000+uint16(i) || !ipv4HeaderOK(f[14:34]) {
						t.Fatalf("segment %d: outer IPv4 len %d id %#x", i, ip.TotalLen(), ip.ID())
					}
				}
				u := hdr.UDP(f[udp:])
				if int(u.Length()) != len(f)-udp || u.DstPort() != 4789 {
					t.Fatalf("segment %d: UDP length %d", i, u.Length())
				}
				if c.csum != (u.Checksum() != 0) || c.csum && !l4ChecksumOK(osrc, odst, hdr.IPProtoUDP, f[udp:]) {
					t.Fatalf("segment %d: outer UDP checksum %#x (want one: %v)", i, u.Checksum(), c.csum)
				}
				// The inner packet: as Segment cuts a TCP super-frame.
				il3 := udp + 8 + 8 + 14
				var isrc, idst netip.Addr
				var tcp int
				if c.inner6 {
					ip := hdr.IPv6(f[il3:])
					isrc, idst, tcp = ip.Src(), ip.Dst(), il3+40
					if int(ip.PayloadLen()) != len(f)-tcp {
						t.Fatalf("segment %d: inner payload length %d", i, ip.PayloadLen())
					}
				} else {
					ip := hdr.IPv4(f[il3:])
					isrc, idst, tcp = ip.Src(), ip.Dst(), il3+20
					if int(ip.TotalLen()) != len(f)-il3 || ip.ID() != 0x2000+uint16(i) || !ipv4HeaderOK(f[il3:il3+20]) {
						t.Fatalf("segment %d: inner IPv4 len %d id %#x", i, ip.TotalLen(), ip.ID())
					}
				}
				th := hdr.TCP(f[tcp:])
				last := i == n-1
				if th.Seq() != 1000+uint32(len(got)) || (th.Flags()&hdr.TCPFlagPSH != 0) != last ||
					(th.Flags()&hdr.TCPFlagCWR != 0) != (i == 0) || !l4ChecksumOK(isrc, idst, hdr.IPProtoTCP, f[tcp:]) {
					t.Fatalf("segment %d: seq %d flags %#x checksum ok %v", i, th.Seq(), th.Flags(),
						l4ChecksumOK(isrc, idst, hdr.IPProtoTCP, f[tcp:]))
				}
				got = append(got, f[tcp+th.DataOffset():]...)
				q.Free()
			}
			if !bytes.Equal(got, s.payload) {
				t.Fatalf("segments carry %d bytes, differ from the %d sent", len(got), len(s.payload))
			}
			if pool.Size()-pool.Available() != 1 {
				t.Fatalf("pool in use %d", pool.Size()-pool.Available())
			}
		})
	}
}

// A plain TCP super-frame, a UDP-L4 one, and a tunnel frame whose checksum
// start is not on an inner TCP header are not UDP-tunnel super-frames.
func TestUDPTunnelHeadersRefuses(t *testing.T) {
	pool := pkt.NewPool("t", 8)
	plain := makePacket(t, pool, &frameSpec{payload: make([]byte, 3000), mss: 1448, partial: true})
	if _, ok := UDPTunnelHeaders(plain); ok {
		t.Fatal("plain TCP super-frame taken for a tunnel one")
	}
	plain.Free()
	p, _ := tunnelSuper(t, pool, &frameSpec{payload: make([]byte, 3000), mss: 1448, partial: true}, false, true)
	p.GSO.CsumStart -= 4 // not where a TCP header follows an inner IP header
	if _, ok := UDPTunnelHeaders(p); ok {
		t.Fatal("wrong checksum start accepted")
	}
	out := make([]*pkt.Packet, 8)
	if n, ok := SegmentUDPTunnel(p, pool, out); ok || n != 0 || pool.Size()-pool.Available() != 1 {
		t.Fatalf("SegmentUDPTunnel: %d, %v, pool in use %d", n, ok, pool.Size()-pool.Available())
	}
	p.Free()
}

// Recognising and cutting a UDP-tunnel super-frame allocates nothing.
func TestSegmentUDPTunnelNoAllocs(t *testing.T) {
	pool := pkt.NewPool("t", 64)
	p, _ := tunnelSuper(t, pool, &frameSpec{payload: make([]byte, 20000), mss: 1398, partial: true}, false, true)
	out := make([]*pkt.Packet, 32)
	allocs := testing.AllocsPerRun(50, func() {
		if _, ok := UDPTunnelHeaders(p); !ok {
			t.Fatal("not recognised")
		}
		n, ok := SegmentUDPTunnel(p, pool, out)
		if !ok {
			t.Fatal("segment")
		}
		pool.PutBatch(out[:n])
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per run", allocs)
	}
}
