package gso

import (
	"bytes"
	"math/rand/v2"
	"net/netip"
	"testing"

	"flowpath/internal/hdr"
	"flowpath/internal/pkt"
)

// tunnelUSO wraps inner frames into VXLAN datagrams (VNI vni) of one outer
// IPv4 flow and returns them as one UDP-L4 super-frame packet, the way
// gso.Coalesce leaves them on an underlay port. The outer L3 is set.
func tunnelUSO(t testing.TB, pool *pkt.Pool, inner [][]byte, vni uint32) *pkt.Packet {
	t.Helper()
	const d0 = 14 + 20 + 8
	size := 8 + len(inner[0])
	f := make([]byte, d0)
	hdr.PutEthernet(f, macB, macA, hdr.EtherTypeIPv4)
	for _, in := range inner {
		v := []byte{0x08, 0, 0, 0, byte(vni >> 16), byte(vni >> 8), byte(vni), 0}
		f = append(append(f, v...), in...)
	}
	hdr.PutIPv4(f[14:], &hdr.IPv4Fields{TotalLen: uint16(len(f) - 14), ID: 5, DF: true, TTL: 64,
		Protocol: hdr.IPProtoUDP, Src: netip.MustParseAddr("10.100.0.1"), Dst: netip.MustParseAddr("10.100.0.2")})
	hdr.PutUDP(f[34:], 40000, 4789, uint16(len(f)-34))
	p := pool.Get()
	if p == nil || !p.SetBytes(f) {
		t.Fatal("packet")
	}
	p.L3 = 14
	p.GSO = pkt.GSO{Type: pkt.GSOUDPL4, Size: uint16(size), HdrLen: d0, NeedsCsum: true, CsumStart: 34, CsumOffset: 6}
	return p
}

// TestMergeTunnelUSO: the datagrams of a super-frame's segments become one
// datagram whose inner frame, checksum completed, is the super-frame; a
// datagram that does not fit leaves the frame unchanged.
func TestMergeTunnelUSO(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	for _, v6 := range []bool{false, true} {
		s := frameSpec{v6: v6, payload: randPayload(r, 20000), mss: 1448, tcpOpts: tsOpt, flags: hdr.TCPFlagACK | hdr.TCPFlagPSH, id: 300, seq: 9}
		orig, _, _ := build(&s)
		pool := pkt.NewPool("t", 64)
		segs := segmentSpec(t, pool, &s)
		inner := frameBytes(segs)
		freeAll(segs)
		p := tunnelUSO(t, pool, inner, 10)
		if !MergeTunnelUSO(p, 34, 8) {
			t.Fatalf("v6=%v: not merged", v6)
		}
		b := p.Bytes()
		if hdr.UDP(b[34:]).Length() != uint16(len(b)-34) || hdr.IPv4(b[14:]).TotalLen() != uint16(len(b)-14) ||
			!hdr.IPv4(b[14:]).ChecksumValid() || !bytes.Equal(b[42:50], []byte{8, 0, 0, 0, 0, 0, 10, 0}) {
			t.Fatal("outer headers")
		}
		l4 := 50 + 14 + 20
		wantType := pkt.GSOTCPv4
		if v6 {
			l4, wantType = 50+14+40, pkt.GSOTCPv6
		}
		g := p.GSO
		if g.Type != wantType || g.Size != 1448 || !g.NeedsCsum || int(g.CsumStart) != l4 || g.CsumOffset != 16 ||
			int(g.HdrLen) != l4+20+len(tsOpt) {
			t.Fatalf("GSO %+v", g)
		}
		// The inner frame, checksum completed, is the super-frame.
		q := pool.Get()
		q.SetBytes(b[50:])
		q.GSO = g
		q.GSO.CsumStart -= 50
		q.GSO.HdrLen -= 50
		if !CompleteChecksum(q) || !bytes.Equal(q.Bytes(), orig) {
			t.Fatalf("v6=%v: inner frame is not the super-frame", v6)
		}
		q.Free()
		p.Free()

		// A PSH inside the run (the tail of one host super-frame, the
		// head of the next) does not stop the merge; the frame keeps PSH.
		mid := make([][]byte, len(inner))
		for i := range inner {
			mid[i] = append([]byte(nil), inner[i]...)
		}
		tl4 := l4 - 50
		mid[4][tl4+13] |= tcpPSH
		tc := hdr.TCP(mid[4][tl4:])
		ipb := mid[4][14:]
		if v6 {
			tc.SetChecksum(hdr.TransportChecksum(hdr.IPv6(ipb).Src(), hdr.IPv6(ipb).Dst(), hdr.IPProtoTCP, tc))
		} else {
			tc.SetChecksum(hdr.TransportChecksum(hdr.IPv4(ipb).Src(), hdr.IPv4(ipb).Dst(), hdr.IPProtoTCP, tc))
		}
		p = tunnelUSO(t, pool, mid, 10)
		if !MergeTunnelUSO(p, 34, 8) || p.Bytes()[l4+13]&tcpPSH == 0 {
			t.Fatalf("v6=%v: PSH inside the run: not merged or PSH lost", v6)
		}
		p.Free()

		// Refusals leave the frame as it was.
		for name, mut := range map[string]func(in [][]byte) uint32{
			"other VNI": func(in [][]byte) uint32 { return 11 },
			"bad checksum": func(in [][]byte) uint32 {
				in[3][len(in[3])-1] ^= 1
				return 10
			},
			"gap": func(in [][]byte) uint32 {
				in[2], in[3] = in[3], in[2]
				return 10
			},
		} {
			cp := make([][]byte, len(inner))
			for i := range inner {
				cp[i] = append([]byte(nil), inner[i]...)
			}
			vni := mut(cp)
			p := tunnelUSO(t, pool, cp, 10)
			// As received from a wire: the outer checksum complete, so
			// the inner ones are checked.
			p.GSO.NeedsCsum = false
			if name == "other VNI" {
				p.Bytes()[42+3*(8+len(cp[0]))+6] = byte(vni)
			}
			before := append([]byte(nil), p.Bytes()...)
			gb := p.GSO
			if MergeTunnelUSO(p, 34, 8) || !bytes.Equal(p.Bytes(), before) || p.GSO != gb {
				t.Errorf("v6=%v %s: merged or changed", v6, name)
			}
			p.Free()
		}

		// A frame built on this host (outer checksum still partial) is
		// trusted like the kernel's CHECKSUM_PARTIAL: a bad inner
		// checksum does not stop the merge, and the merged frame's
		// checksum is computed afresh.
		cp := make([][]byte, len(inner))
		for i := range inner {
			cp[i] = append([]byte(nil), inner[i]...)
		}
		cp[3][len(cp[3])-1] ^= 1
		p = tunnelUSO(t, pool, cp, 10)
		if !MergeTunnelUSO(p, 34, 8) {
			t.Errorf("v6=%v: local frame with a bad inner checksum not merged", v6)
		}
		p.Free()
		if pool.Available() != pool.Size() {
			t.Fatal("leak")
		}
	}
}

func TestMergeTunnelUSONoAllocs(t *testing.T) {
	r := rand.New(rand.NewPCG(43, 44))
	pool := pkt.NewPool("t", 64)
	s := frameSpec{payload: randPayload(r, 40000), mss: 1448, flags: hdr.TCPFlagACK}
	segs := segmentSpec(t, pool, &s)
	inner := frameBytes(segs)
	freeAll(segs)
	src := tunnelUSO(t, pool, inner, 10)
	p := pool.Get()
	if a := testing.AllocsPerRun(50, func() {
		p.CopyFrom(src)
		if !MergeTunnelUSO(p, 34, 8) {
			t.Fatal("not merged")
		}
	}); a != 0 {
		t.Errorf("%v allocs", a)
	}
}

// FuzzMergeTunnelUSO mutates a USO frame of VXLAN datagrams (byte flips,
// truncation) and checks that MergeTunnelUSO either leaves it unchanged
// or produces a datagram whose inner super-frame segments back into the
// inner frames of the datagrams (IPv4 ID, checksums and PSH masked: a PSH
// inside the run moves to its last segment).
func FuzzMergeTunnelUSO(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0x10, 0x00, 0x01})
	f.Add([]byte{0x40, 0x02, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		pool := pkt.NewPool("f", 24)
		payload := make([]byte, 4000)
		for i := range payload {
			payload[i] = byte(i * 13)
		}
		segs := segmentSpec(t, pool, &frameSpec{payload: payload, mss: 900, tcpOpts: tsOpt, flags: hdr.TCPFlagACK, id: 3})
		inner := frameBytes(segs)
		freeAll(segs)
		p := tunnelUSO(t, pool, inner, 7)
		// An odd length fuzzes a frame from a wire (inner checksums
		// checked), an even one a frame built on this host (trusted).
		p.GSO.NeedsCsum = len(data)%2 == 0
		for i := 0; i+2 < len(data); i += 3 {
			off := (int(data[i])<<8 | int(data[i+1])) % p.Len()
			if data[i+2] == 0 {
				p.Truncate(off + 1)
			} else {
				p.Bytes()[off] ^= data[i+2]
			}
		}
		before := append([]byte(nil), p.Bytes()...)
		size := int(p.GSO.Size)
		if !MergeTunnelUSO(p, 34, 8) {
			if !bytes.Equal(before, p.Bytes()) {
				t.Fatal("refused but changed")
			}
			p.Free()
			return
		}
		// The inner frames the datagrams of the input carried.
		var want [][]byte
		for off := 42; off < len(before); off += size {
			want = append(want, before[off+8:min(off+size, len(before))])
		}
		q := pool.Get()
		q.SetBytes(p.Bytes()[50:])
		q.GSO = p.GSO
		q.GSO.CsumStart -= 50
		q.GSO.HdrLen -= 50
		got := resegment(t, pool, []*pkt.Packet{q})
		if len(got) != len(want) {
			t.Fatalf("%d frames back, want %d", len(got), len(want))
		}
		for i := range got {
			if !bytes.Equal(maskPSH(got[i]), maskPSH(want[i])) {
				t.Fatalf("frame %d differs\n got %x\nwant %x", i, got[i], want[i])
			}
		}
		q.Free()
		p.Free()
		if pool.Available() != pool.Size() {
			t.Fatal("leak")
		}
	})
}

// maskPSH is mask with the TCP PSH flag of an IPv4 TCP frame cleared too.
func maskPSH(f []byte) []byte {
	f = mask(f)
	if len(f) >= 14+20+20 && f[12] == 0x08 && f[13] == 0x00 && f[14] == 0x45 && f[23] == 6 {
		f[34+13] &^= tcpPSH
	}
	if len(f) >= 14+40+20 && f[12] == 0x86 && f[13] == 0xdd && f[20] == 6 {
		f[54+13] &^= tcpPSH
	}
	return f
}
