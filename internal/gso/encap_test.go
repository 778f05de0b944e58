package gso

import (
	"bytes"
	"math/rand/v2"
	"net/netip"
	"testing"

	"flowpath/internal/hdr"
	"flowpath/internal/pkt"
)

// outerTemplate is the Ethernet, IP and UDP headers of a VXLAN datagram
// without payload.
func outerTemplate(v6 bool) []byte {
	if v6 {
		f := make([]byte, 14+40+8)
		hdr.PutEthernet(f, macB, macA, hdr.EtherTypeIPv6)
		hdr.PutIPv6(f[14:], &hdr.IPv6Fields{PayloadLen: 8, NextHeader: hdr.IPProtoUDP, HopLimit: 64,
			Src: netip.MustParseAddr("fd00:100::1"), Dst: netip.MustParseAddr("fd00:100::2")})
		hdr.PutUDP(f[54:], 40000, 4789, 8)
		return f
	}
	f := make([]byte, 14+20+8)
	hdr.PutEthernet(f, macB, macA, hdr.EtherTypeIPv4)
	hdr.PutIPv4(f[14:], &hdr.IPv4Fields{TotalLen: 28, ID: 0xfff0, DF: true, TTL: 64, Protocol: hdr.IPProtoUDP,
		Src: netip.MustParseAddr("10.100.0.1"), Dst: netip.MustParseAddr("10.100.0.2")})
	hdr.PutUDP(f[34:], 40000, 4789, 8)
	return f
}

var vxlanHdr = []byte{0x08, 0, 0, 0, 0, 0, 10, 0}

// TestEncapUSO: cutting the USO frames into datagrams gives, behind each
// datagram's tunnel header, exactly the segments Segment makes of the
// super-frame; and the outer datagrams are what a per-segment push gives.
func TestEncapUSO(t *testing.T) {
	r := rand.New(rand.NewPCG(51, 52))
	for _, c := range []struct {
		outer6 bool
		s      frameSpec
	}{
		{false, frameSpec{payload: randPayload(r, 65535-20-32), mss: 1448, tcpOpts: tsOpt, flags: hdr.TCPFlagACK | hdr.TCPFlagPSH, id: 0xfffe, partial: true}},
		{true, frameSpec{v6: true, payload: randPayload(r, 30000), mss: 1428, flags: hdr.TCPFlagACK}},
		{false, frameSpec{payload: randPayload(r, 1000), mss: 1448, flags: hdr.TCPFlagACK}}, // one segment
		{false, frameSpec{vlans: 1, payload: randPayload(r, 5000), mss: 1000, flags: hdr.TCPFlagACK}},
	} {
		pool := pkt.NewPool("t", 128)
		p := makePacket(t, pool, &c.s)
		before := append([]byte(nil), p.Bytes()...)
		want := segmentSpec(t, pool, &c.s)
		wantB := frameBytes(want)
		freeAll(want)
		outer := outerTemplate(c.outer6)
		out := make([]*pkt.Packet, 8)
		mtu := 1550 + len(c.s.tcpOpts) + 4*c.s.vlans
		if c.outer6 {
			mtu += 20
		}
		n, dg, ok := EncapUSO(p, outer, vxlanHdr, mtu, pool, out)
		if !ok || dg != len(wantB) {
			t.Fatalf("ok %v datagrams %d, want %d", ok, dg, len(wantB))
		}
		if !bytes.Equal(p.Bytes(), before) {
			t.Fatal("input changed")
		}
		udpOff := len(outer) - 8
		var got [][]byte
		for _, q := range out[:n] {
			if q.GSO.IsGSO() {
				if q.GSO.Type != pkt.GSOUDPL4 || int(q.GSO.CsumStart) != udpOff {
					t.Fatalf("GSO %+v", q.GSO)
				}
				segs := resegment(t, pool, []*pkt.Packet{q})
				for _, d := range segs {
					if !bytes.Equal(d[:udpOff-20], outer[:udpOff-20]) && !c.outer6 {
						t.Fatal("outer Ethernet changed")
					}
					got = append(got, d[len(outer)+len(vxlanHdr):])
				}
			} else {
				if !CompleteChecksum(q) {
					t.Fatal("complete")
				}
				got = append(got, append([]byte(nil), q.Bytes()[len(outer)+len(vxlanHdr):]...))
			}
		}
		if len(got) != len(wantB) {
			t.Fatalf("%d datagrams, want %d", len(got), len(wantB))
		}
		for i := range got {
			if !bytes.Equal(got[i], wantB[i]) {
				t.Fatalf("segment %d differs", i)
			}
		}
		freeAll(out[:n])
		p.Free()
		if pool.Available() != pool.Size() {
			t.Fatal("leak")
		}
	}
}

// The USO frames EncapUSO builds merge back with MergeTunnelUSO into the
// super-frame (the receiving VTEP's path).
func TestEncapUSOThenMerge(t *testing.T) {
	r := rand.New(rand.NewPCG(53, 54))
	s := frameSpec{payload: randPayload(r, 20000), mss: 1448, tcpOpts: tsOpt, flags: hdr.TCPFlagACK, id: 77}
	orig, _, _ := build(&s)
	pool := pkt.NewPool("t", 32)
	p := makePacket(t, pool, &s)
	out := make([]*pkt.Packet, 4)
	n, _, ok := EncapUSO(p, outerTemplate(false), vxlanHdr, 1550, pool, out)
	if !ok || n != 1 {
		t.Fatalf("ok %v n %d", ok, n)
	}
	q := out[0]
	if !MergeTunnelUSO(q, 34, 8) {
		t.Fatal("not merged")
	}
	in := pool.Get()
	in.SetBytes(q.Bytes()[50:])
	in.GSO = q.GSO
	in.GSO.CsumStart -= 50
	in.GSO.HdrLen -= 50
	if !CompleteChecksum(in) || !bytes.Equal(in.Bytes(), orig) {
		t.Fatal("merged inner frame is not the super-frame")
	}
	freeAll([]*pkt.Packet{in, q, p})
}

func TestEncapUSORefuses(t *testing.T) {
	r := rand.New(rand.NewPCG(55, 56))
	pool := pkt.NewPool("t", 16)
	p := makePacket(t, pool, &frameSpec{payload: randPayload(r, 5000), mss: 1448, flags: hdr.TCPFlagACK})
	out := make([]*pkt.Packet, 4)
	if _, _, ok := EncapUSO(p, outerTemplate(false), vxlanHdr, 1500, pool, out); ok {
		t.Error("datagram over the MTU accepted")
	}
	u := makePacket(t, pool, &frameSpec{udp: true, payload: randPayload(r, 5000), mss: 1000})
	if _, _, ok := EncapUSO(u, outerTemplate(false), vxlanHdr, 1550, pool, out); ok {
		t.Error("UDP super-frame accepted")
	}
	if _, _, ok := EncapUSO(p, outerTemplate(false), vxlanHdr, 1550, pool, out[:0]); ok {
		t.Error("no room in out accepted")
	}
	if pool.Available() != pool.Size()-2 {
		t.Error("refusals took packets")
	}
	freeAll([]*pkt.Packet{p, u})
}

func TestEncapUSONoAllocs(t *testing.T) {
	r := rand.New(rand.NewPCG(57, 58))
	pool := pkt.NewPool("t", 16)
	p := makePacket(t, pool, &frameSpec{payload: randPayload(r, 64000), mss: 1448, flags: hdr.TCPFlagACK})
	outer := outerTemplate(false)
	out := make([]*pkt.Packet, 4)
	if a := testing.AllocsPerRun(50, func() {
		n, _, ok := EncapUSO(p, outer, vxlanHdr, 1550, pool, out)
		if !ok {
			t.Fatal("refused")
		}
		pool.PutBatch(out[:n])
	}); a != 0 {
		t.Errorf("%v allocs", a)
	}
}

// FuzzEncapUSO: any frame and offload state; when EncapUSO accepts, its
// datagrams carry exactly Segment's segments.
func FuzzEncapUSO(f *testing.F) {
	seed, _, _ := build(&frameSpec{payload: make([]byte, 3000), mss: 1000, flags: hdr.TCPFlagACK})
	f.Add(seed, uint8(pkt.GSOTCPv4), uint16(1000), uint16(0))
	seed6, _, _ := build(&frameSpec{v6: true, payload: make([]byte, 2500), mss: 700, flags: hdr.TCPFlagACK})
	f.Add(seed6, uint8(pkt.GSOTCPv6), uint16(700), uint16(0))
	f.Fuzz(func(t *testing.T, frame []byte, typ uint8, size uint16, l3 uint16) {
		pool := pkt.NewPool("f", 24)
		p := pool.Get()
		if !p.SetBytes(frame) {
			return
		}
		p.GSO = pkt.GSO{Type: pkt.GSOType(typ), Size: size}
		if int(l3) < len(frame) && l3 != 0 {
			p.L3 = l3
		}
		out := make([]*pkt.Packet, 8)
		n, dg, ok := EncapUSO(p, outerTemplate(false), vxlanHdr, 9000, pool, out)
		if !ok {
			if pool.Available() != pool.Size()-1 {
				t.Fatal("refused but took packets")
			}
			return
		}
		segs := make([]*pkt.Packet, 64)
		m, ok := Segment(p, pool, segs)
		if !ok || m != dg {
			t.Fatalf("Segment ok %v %d segments, EncapUSO %d", ok, m, dg)
		}
		var got [][]byte
		for _, q := range out[:n] {
			if q.GSO.IsGSO() {
				for _, d := range resegment(t, pool, []*pkt.Packet{q}) {
					got = append(got, d[50:])
				}
			} else {
				got = append(got, append([]byte(nil), q.Bytes()[50:]...))
			}
		}
		for i := 0; i < m; i++ {
			if !bytes.Equal(got[i], segs[i].Bytes()) {
				t.Fatalf("segment %d differs", i)
			}
		}
		freeAll(segs[:m])
		freeAll(out[:n])
		p.Free()
	})
}
