package tunnel

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"flowpath/internal/hdr"
	"flowpath/internal/pkt"
)

// L10: a forwarded IPv4 packet (TTL already 63) pushed with label 200
// leaves as Ethernet type 0x8847 / 00 0c 81 3f / the IPv4 header as it was.
func TestPushMPLSL10(t *testing.T) {
	pool := pkt.NewPool("t", 1)
	inner := ipv4UDPFrame(v4A, v4B, 0, 63, 1, 2, []byte("data"))
	p := packetOf(t, pool, inner)
	if !PushMPLS(p, []uint32{200}, 0) {
		t.Fatal("push")
	}
	f := p.Bytes()
	mustEqualBytes(t, "MACs", f[:12], inner[:12])
	mustEqualBytes(t, "type+LSE", f[12:18], []byte{0x88, 0x47, 0x00, 0x0c, 0x81, 0x3f})
	mustEqualBytes(t, "payload", f[18:], inner[14:])
	if p.EtherType != hdr.EtherTypeMPLS || p.L3 != 14 {
		t.Fatalf("type %#x L3 %d", p.EtherType, p.L3)
	}
	pk := gopacket.NewPacket(f, layers.LayerTypeEthernet, gopacket.Default)
	m, ok := pk.Layer(layers.LayerTypeMPLS).(*layers.MPLS)
	if !ok || m.Label != 200 || !m.StackBottom || m.TTL != 63 || m.TrafficClass != 0 {
		t.Fatalf("gopacket MPLS %+v", m)
	}
	if ip, ok := pk.Layer(layers.LayerTypeIPv4).(*layers.IPv4); !ok || ip.TTL != 63 {
		t.Fatal("gopacket finds no IPv4 under the stack")
	}
}

// L11, L12: configured TTL; the default TTL when propagation is off.
func TestPushMPLSTTL(t *testing.T) {
	pool := pkt.NewPool("t", 1)
	inner := ipv4UDPFrame(v4A, v4B, 0, 63, 1, 2, nil)
	p := packetOf(t, pool, inner)
	if !PushMPLS(p, []uint32{100, 200}, 10) {
		t.Fatal("push")
	}
	mustEqualBytes(t, "L11", p.Bytes()[12:22], []byte{0x88, 0x47, 0x00, 0x06, 0x40, 0x0a, 0x00, 0x0c, 0x81, 0x0a})
	pk := gopacket.NewPacket(p.Bytes(), layers.LayerTypeEthernet, gopacket.Default)
	var labels []uint32
	for _, l := range pk.Layers() {
		if m, ok := l.(*layers.MPLS); ok {
			labels = append(labels, m.Label)
			if m.TTL != 10 || m.StackBottom != (m.Label == 200) {
				t.Fatalf("entry %+v", m)
			}
		}
	}
	if len(labels) != 2 || labels[0] != 100 || labels[1] != 200 {
		t.Fatalf("gopacket labels %v", labels)
	}
	p.Free()
	p = packetOf(t, pool, inner)
	PushMPLS(p, []uint32{200}, DefaultMPLSTTL)
	mustEqualBytes(t, "L12", p.Bytes()[14:18], []byte{0x00, 0x0c, 0x81, 0xff})
	p.Free()
	// IPv6: the hop limit; non-IP: the default.
	p = packetOf(t, pool, ipv6UDPFrame(v6A, v6B, 0, 17, 1, 2, nil))
	PushMPLS(p, []uint32{16}, 0)
	if p.Bytes()[17] != 17 {
		t.Fatalf("IPv6 hop limit not propagated: % x", p.Bytes()[14:18])
	}
	p.Free()
	p = packetOf(t, pool, arpFrame(macA))
	PushMPLS(p, []uint32{16}, 0)
	if p.Bytes()[17] != DefaultMPLSTTL {
		t.Fatal("non-IP gets the default TTL")
	}
	p.Free()
}

func TestPushMPLSVLANAndOffsets(t *testing.T) {
	pool := pkt.NewPool("t", 1)
	plain := ipv4UDPFrame(v4A, v4B, 0, 9, 1, 2, nil)
	tagged := append(append(append([]byte{}, plain[:12]...), 0x81, 0x00, 0x00, 0x05, 0x08, 0x00), plain[14:]...)
	p := packetOf(t, pool, tagged)
	if p.L3 != 18 {
		t.Fatal("setup")
	}
	p.L4 = 38
	p.GSO = pkt.GSO{Type: pkt.GSOTCPv4, NeedsCsum: true, CsumStart: 38, CsumOffset: 6, HdrLen: 46}
	if !PushMPLS(p, []uint32{1000, 2000}, 0) {
		t.Fatal("push")
	}
	f := p.Bytes()
	mustEqualBytes(t, "tag kept, inner type MPLS", f[12:18], []byte{0x81, 0x00, 0x00, 0x05, 0x88, 0x47})
	if l, _, bos, ttl, _ := ParseLSE(f[22:]); l != 2000 || !bos || ttl != 9 {
		t.Fatalf("second entry % x", f[18:26])
	}
	if p.L3 != 18 || p.L4 != 46 || p.GSO.CsumStart != 46 || p.GSO.HdrLen != 54 {
		t.Fatalf("offsets L3 %d L4 %d csum %d hdrlen %d", p.L3, p.L4, p.GSO.CsumStart, p.GSO.HdrLen)
	}
	mustEqualBytes(t, "payload", f[26:], tagged[18:])
}

func TestPushMPLSRefuses(t *testing.T) {
	pool := pkt.NewPool("t", 1)
	inner := ipv4UDPFrame(v4A, v4B, 0, 63, 1, 2, nil)
	thirty := make([]uint32, 30)
	for i := range thirty {
		thirty[i] = 16
	}
	for name, labels := range map[string][]uint32{
		"none": nil, "31": append(thirty, 16), "implicit null": {100, 3}, "21 bits": {1 << 20},
	} {
		p := packetOf(t, pool, inner)
		if PushMPLS(p, labels, 0) || !bytes.Equal(p.Bytes(), inner) || p.EtherType != hdr.EtherTypeIPv4 {
			t.Errorf("%s: pushed", name)
		}
		p.Free()
	}
	p := packetOf(t, pool, inner)
	if !PushMPLS(p, thirty, 0) || p.Len() != len(inner)+120 {
		t.Fatal("30 labels fit the default headroom")
	}
	p.Free()
	p = packetOf(t, pool, inner)
	p.L3 = 10
	if PushMPLS(p, []uint32{16}, 0) {
		t.Error("L3 inside the Ethernet header")
	}
	p.L3 = uint16(len(inner) + 1)
	if PushMPLS(p, []uint32{16}, 0) {
		t.Error("L3 beyond the frame")
	}
	p.L3 = 14
	p.Prepend(p.Headroom() - 3)
	before := append([]byte{}, p.Bytes()...)
	p.L3 += uint16(pkt.DefaultHeadroom - 3)
	if PushMPLS(p, []uint32{16}, 0) || !bytes.Equal(p.Bytes(), before) {
		t.Error("pushed without headroom")
	}
}

// mplsFrame is Ethernet / the given entries / payload.
func mplsFrame(payload []byte, entries ...uint32) []byte {
	b := make([]byte, 14+4*len(entries))
	hdr.PutEthernet(b, macB, macA, hdr.EtherTypeMPLS)
	for i, e := range entries {
		binary.BigEndian.PutUint32(b[14+4*i:], e)
	}
	return append(b, payload...)
}

func lse(label uint32, bos bool, ttl uint8) uint32 {
	e := label<<12 | uint32(ttl)
	if bos {
		e |= 0x100
	}
	return e
}

func TestSwapMPLS(t *testing.T) {
	pool := pkt.NewPool("t", 1)
	ip := ipv4UDPFrame(v4A, v4B, 0, 50, 1, 2, nil)[14:]
	// "100 as 200/300": one entry in, two out, TTL 64 -> 63, S on the last.
	p := packetOf(t, pool, mplsFrame(ip, lse(100, true, 64)|0xe00))
	et, isIP, v := SwapMPLS(p, []uint32{200, 300})
	if v != MPLSForward || !v.OK() || isIP || et != hdr.EtherTypeMPLS || p.EtherType != hdr.EtherTypeMPLS {
		t.Fatalf("verdict %v", v)
	}
	mustEqualBytes(t, "swapped", p.Bytes(), mplsFrame(ip, lse(200, false, 63), lse(300, true, 63)))
	pk := gopacket.NewPacket(p.Bytes(), layers.LayerTypeEthernet, gopacket.Default)
	if m := pk.Layer(layers.LayerTypeMPLS).(*layers.MPLS); m.Label != 200 || m.TTL != 63 || m.StackBottom {
		t.Fatalf("gopacket %+v", m)
	}
	p.Free()
	// Not the bottom: the new stack has no S, the rest is untouched.
	p = packetOf(t, pool, mplsFrame(ip, lse(100, false, 10), lse(16, true, 33)))
	if _, _, v := SwapMPLS(p, []uint32{200}); v != MPLSForward {
		t.Fatal(v)
	}
	mustEqualBytes(t, "inner swap", p.Bytes(), mplsFrame(ip, lse(200, false, 9), lse(16, true, 33)))
	p.Free()
	p = packetOf(t, pool, mplsFrame(ip, lse(100, true, 10)))
	if _, _, v := SwapMPLS(p, nil); v != MPLSDropLabels {
		t.Fatal("swap to nothing is a pop, not a swap")
	}
	p.Free()
}

func TestPopMPLS(t *testing.T) {
	pool := pkt.NewPool("t", 1)
	ip4 := ipv4UDPFrame(v4A, v4B, 0, 50, 1, 2, nil)[14:]
	ip6 := ipv6UDPFrame(v6A, v6B, 0, 50, 1, 2, nil)[14:]
	// The next label is exposed as it was (TTL not copied down).
	p := packetOf(t, pool, mplsFrame(ip4, lse(100, false, 10), lse(16, true, 33)))
	if et, isIP, v := PopMPLS(p, PayloadUnspec, true); v != MPLSForward || isIP || et != hdr.EtherTypeMPLS {
		t.Fatal(v)
	}
	mustEqualBytes(t, "exposed", p.Bytes(), mplsFrame(ip4, lse(16, true, 33)))
	p.Free()
	cases := []struct {
		name      string
		payload   []byte
		pt        Payload
		propagate bool
		ttl       uint8
		wantTTL   uint8
		wantType  uint16
	}{
		{"v4 propagate", ip4, PayloadUnspec, true, 64, 63, hdr.EtherTypeIPv4},
		{"v4 no propagate", ip4, PayloadIPv4, false, 64, 49, hdr.EtherTypeIPv4},
		{"v6 propagate", ip6, PayloadIPv6, true, 20, 19, hdr.EtherTypeIPv6},
		{"v6 no propagate", ip6, PayloadUnspec, false, 20, 49, hdr.EtherTypeIPv6},
	}
	for _, c := range cases {
		p := packetOf(t, pool, mplsFrame(c.payload, lse(100, true, c.ttl)))
		p.L4 = 18 + 20
		et, isIP, v := PopMPLS(p, c.pt, c.propagate)
		if v != MPLSEgress || !isIP || et != c.wantType || p.EtherType != c.wantType || p.L3 != 14 || p.L4 != 34 {
			t.Fatalf("%s: %v %v %#x L3 %d L4 %d", c.name, v, isIP, et, p.L3, p.L4)
		}
		f := p.Bytes()
		if be16(f[12:]) != c.wantType || len(f) != 14+len(c.payload) {
			t.Fatalf("%s: frame % x", c.name, f[:20])
		}
		if c.wantType == hdr.EtherTypeIPv4 {
			if f[14+8] != c.wantTTL || !hdr.IPv4(f[14:]).ChecksumValid() {
				t.Fatalf("%s: ttl %d checksum ok %v", c.name, f[22], hdr.IPv4(f[14:]).ChecksumValid())
			}
		} else if f[14+7] != c.wantTTL {
			t.Fatalf("%s: hop limit %d", c.name, f[21])
		}
		p.Free()
	}
	// An IP TTL of 0 is not decremented below 0.
	z := append([]byte{}, ip4...)
	hdr.IPv4(z).SetTTL(0)
	hdr.IPv4(z).UpdateChecksum()
	p = packetOf(t, pool, mplsFrame(z, lse(100, true, 9)))
	if _, _, v := PopMPLS(p, PayloadIPv4, false); v != MPLSEgress || p.Bytes()[22] != 0 {
		t.Fatal("ttl 0")
	}
	p.Free()
}

func TestForwardMPLSDrops(t *testing.T) {
	pool := pkt.NewPool("t", 1)
	ip4 := ipv4UDPFrame(v4A, v4B, 0, 50, 1, 2, nil)[14:]
	check := func(name string, frame []byte, l3 uint16, out []uint32, pt Payload, want MPLSVerdict) {
		t.Helper()
		p := packetOf(t, pool, frame)
		p.L3 = l3
		if _, _, v := ForwardMPLS(p, out, pt, true); v != want || v.OK() || !bytes.Equal(p.Bytes(), frame) {
			t.Errorf("%s: %v, want %v (frame changed: %v)", name, v, want, !bytes.Equal(p.Bytes(), frame))
		}
		p.Free()
	}
	check("ttl 1", mplsFrame(ip4, lse(100, true, 1)), 14, []uint32{200}, 0, MPLSDropTTL)
	check("ttl 0", mplsFrame(ip4, lse(100, true, 0)), 14, nil, 0, MPLSDropTTL)
	check("short", mplsFrame(nil)[:14], 14, nil, 0, MPLSDropMalformed)
	check("l3 in ethernet", mplsFrame(ip4, lse(100, true, 9)), 4, nil, 0, MPLSDropMalformed)
	check("no ip", mplsFrame([]byte{0x55, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, lse(100, true, 9)), 14, nil, PayloadUnspec, MPLSDropPayload)
	check("ip too short", mplsFrame(ip4[:11], lse(100, true, 9)), 14, nil, PayloadIPv4, MPLSDropPayload)
	check("implicit null out", mplsFrame(ip4, lse(100, true, 9)), 14, []uint32{3}, 0, MPLSDropLabels)
	check("31 out", mplsFrame(ip4, lse(100, true, 9)), 14, make([]uint32, 31), 0, MPLSDropLabels)
	// Headroom: 30 labels need 116 more bytes.
	p := packetOf(t, pool, mplsFrame(ip4, lse(100, true, 9)))
	p.Prepend(p.Headroom() - 100)
	p.L3 += uint16(pkt.DefaultHeadroom - 100)
	before := append([]byte{}, p.Bytes()...)
	if _, _, v := ForwardMPLS(p, make([]uint32, 30), 0, true); v != MPLSDropHeadroom || !bytes.Equal(p.Bytes(), before) {
		t.Errorf("headroom: %v", v)
	}
	for v := MPLSForward; v <= MPLSDropHeadroom+1; v++ {
		if v.String() == "" {
			t.Errorf("verdict %d has no name", v)
		}
	}
}

func TestClassifyLabel(t *testing.T) {
	want := map[uint32]LabelClass{0: LabelIPv4Null, 1: LabelReserved, 2: LabelIPv6Null, 3: LabelReserved,
		7: LabelReserved, 13: LabelReserved, 15: LabelReserved, 16: LabelRouted, MaxLabel: LabelRouted}
	for l, c := range want {
		if ClassifyLabel(l) != c {
			t.Errorf("label %d: %v, want %v", l, ClassifyLabel(l), c)
		}
	}
	// IPv4 explicit null at the bottom: pop and deliver as IPv4.
	pool := pkt.NewPool("t", 1)
	p := packetOf(t, pool, mplsFrame(ipv4UDPFrame(v4A, v4B, 0, 50, 1, 2, nil)[14:], lse(0, true, 64)))
	if _, isIP, v := PopMPLS(p, PayloadIPv4, true); v != MPLSEgress || !isIP || p.EtherType != hdr.EtherTypeIPv4 {
		t.Fatal("explicit null")
	}
}

func TestParseLSE(t *testing.T) {
	l, tc, bos, ttl, ok := ParseLSE([]byte{0x00, 0x0c, 0x8b, 0x3f})
	if !ok || l != 200 || tc != 5 || !bos || ttl != 63 {
		t.Fatalf("%d %d %v %d %v", l, tc, bos, ttl, ok)
	}
	if _, _, _, _, ok := ParseLSE([]byte{1, 2, 3}); ok {
		t.Fatal("short")
	}
}

// refForward is mpls_forward after the lookup, written on decoded entries
// and rebuilt frames: the model ForwardMPLS must agree with.
func refForward(frame []byte, l3, headroom int, out []uint32, pt Payload, propagate bool) ([]byte, MPLSVerdict) {
	if l3 < 14 || l3+4 > len(frame) {
		return nil, MPLSDropMalformed
	}
	if len(out) > 30 {
		return nil, MPLSDropLabels
	}
	for _, l := range out {
		if l >= 1<<20 || l == 3 {
			return nil, MPLSDropLabels
		}
	}
	e := binary.BigEndian.Uint32(frame[l3:])
	bos, ttl := e&0x100 != 0, uint8(e)
	if ttl <= 1 {
		return nil, MPLSDropTTL
	}
	ttl--
	l2 := append([]byte{}, frame[:l3]...)
	rest := append([]byte{}, frame[l3+4:]...)
	if len(out) == 0 && bos {
		if len(rest) < 12 {
			return nil, MPLSDropPayload
		}
		if pt == PayloadUnspec {
			switch rest[0] >> 4 {
			case 4:
				pt = PayloadIPv4
			case 6:
				pt = PayloadIPv6
			default:
				return nil, MPLSDropPayload
			}
		}
		if pt == PayloadIPv4 {
			binary.BigEndian.PutUint16(l2[l3-2:], 0x0800)
			nt := ttl
			if !propagate {
				nt = rest[8]
				if nt > 0 {
					nt--
				}
			}
			rest[8] = nt
		} else {
			binary.BigEndian.PutUint16(l2[l3-2:], 0x86dd)
			if propagate {
				rest[7] = ttl
			} else if rest[7] > 0 {
				rest[7]--
			}
		}
		return append(l2, rest...), MPLSEgress
	}
	if 4*len(out)-4 > headroom {
		return nil, MPLSDropHeadroom
	}
	binary.BigEndian.PutUint16(l2[l3-2:], 0x8847)
	for i, l := range out {
		l2 = binary.BigEndian.AppendUint32(l2, lse(l, bos && i == len(out)-1, ttl))
	}
	return append(l2, rest...), MPLSForward
}

// sameExceptIPv4Checksum compares frames; for an egress IPv4 packet it
// leaves the header checksum bytes to a validity check (the kernel patches
// it incrementally, so only a valid one must stay valid).
func sameExceptIPv4Checksum(got, want, orig []byte, l3 int, v4egress bool) bool {
	if len(got) != len(want) {
		return false
	}
	if !v4egress {
		return bytes.Equal(got, want)
	}
	c := l3 + 10
	if !bytes.Equal(got[:c], want[:c]) || !bytes.Equal(got[c+2:], want[c+2:]) {
		return false
	}
	ip := orig[l3+4:]
	if hl := int(ip[0]&0xf) * 4; hl >= 20 && hl <= len(ip) && hdr.Checksum(ip[:hl], 0) == 0 {
		return hdr.Checksum(got[l3:l3+hl], 0) == 0
	}
	return true
}

// randomMPLSFrame builds a frame with an L2 header of 14 or 18 bytes, a few
// label entries (random TTLs, S usually on the last) and an IPv4, IPv6 or
// random payload.
func randomMPLSFrame(r *rand.Rand) ([]byte, int) {
	l3 := 14
	if r.IntN(4) == 0 {
		l3 = 18
	}
	var payload []byte
	switch r.IntN(4) {
	case 0:
		payload = ipv4UDPFrame(v4A, v4B, uint8(r.Uint32()), uint8(r.Uint32()), 1, 2, nil)[14:]
	case 1:
		payload = ipv6UDPFrame(v6A, v6B, 0, uint8(r.Uint32()), 1, 2, nil)[14:]
	default:
		payload = make([]byte, r.IntN(30))
		for i := range payload {
			payload[i] = byte(r.Uint32())
		}
	}
	n := r.IntN(4) + 1
	f := make([]byte, l3, l3+4*n+len(payload))
	for i := range f {
		f[i] = byte(r.Uint32())
	}
	binary.BigEndian.PutUint16(f[l3-2:], 0x8847)
	for i := 0; i < n; i++ {
		e := r.Uint32() &^ 0x100
		if i == n-1 && r.IntN(8) != 0 {
			e |= 0x100
		}
		if r.IntN(3) == 0 {
			e = e&^0xff | uint32(r.IntN(3))
		}
		f = binary.BigEndian.AppendUint32(f, e)
	}
	return append(f, payload...), l3
}

func randomLabels(r *rand.Rand) []uint32 {
	n := []int{0, 0, 1, 2, 3, 30, 31}[r.IntN(7)]
	out := make([]uint32, n)
	for i := range out {
		out[i] = 16 + r.Uint32()%1000
		if r.IntN(50) == 0 {
			out[i] = []uint32{3, 1 << 20, 0}[r.IntN(3)]
		}
	}
	return out
}

func TestForwardMPLSMatchesReference(t *testing.T) {
	pool := pkt.NewPool("t", 1)
	r := rand.New(rand.NewPCG(9, 10))
	for i := 0; i < 20000; i++ {
		frame, l3 := randomMPLSFrame(r)
		out := randomLabels(r)
		pt := Payload(r.IntN(3))
		prop := r.IntN(2) == 0
		p := pool.Get()
		p.SetBytes(frame)
		p.L3 = uint16(l3)
		if r.IntN(20) == 0 {
			p.L3 = uint16(r.IntN(len(frame) + 4))
		}
		headroom := p.Headroom()
		if r.IntN(4) == 0 {
			// Move the frame to the front of the buffer: little headroom left.
			p.Prepend(headroom - r.IntN(130))
			copy(p.Bytes(), frame)
			p.Truncate(len(frame))
			headroom = p.Headroom()
		}
		want, wv := refForward(frame, int(p.L3), headroom, out, pt, prop)
		et, isIP, v := ForwardMPLS(p, out, pt, prop)
		if v != wv {
			t.Fatalf("case %d: verdict %v, reference %v (frame % x, out %v)", i, v, wv, frame, out)
		}
		if !v.OK() {
			if !bytes.Equal(p.Bytes(), frame) {
				t.Fatalf("case %d: a drop changed the frame", i)
			}
		} else {
			v4 := v == MPLSEgress && et == hdr.EtherTypeIPv4
			if !sameExceptIPv4Checksum(p.Bytes(), want, frame, int(p.L3), v4) {
				t.Fatalf("case %d (%v):\n got % x\nwant % x", i, v, p.Bytes(), want)
			}
			if isIP != (v == MPLSEgress) || p.EtherType != et || be16(p.Bytes()[p.L3-2:]) != et {
				t.Fatalf("case %d: type %#x isIP %v", i, et, isIP)
			}
		}
		p.Free()
	}
}

// refPush is mpls_xmit's header work on a rebuilt frame.
func refPush(frame []byte, l3 int, et uint16, labels []uint32, ttl uint8) []byte {
	if ttl == 0 {
		ttl = 255
		switch {
		case et == 0x0800 && len(frame) >= l3+20:
			ttl = frame[l3+8]
		case et == 0x86dd && len(frame) >= l3+40:
			ttl = frame[l3+7]
		}
	}
	out := append([]byte{}, frame[:l3]...)
	binary.BigEndian.PutUint16(out[l3-2:], 0x8847)
	for i, l := range labels {
		out = binary.BigEndian.AppendUint32(out, lse(l, i == len(labels)-1, ttl))
	}
	return append(out, frame[l3:]...)
}

func TestPushMPLSMatchesReference(t *testing.T) {
	pool := pkt.NewPool("t", 1)
	r := rand.New(rand.NewPCG(11, 12))
	for i := 0; i < 5000; i++ {
		var frame []byte
		switch r.IntN(3) {
		case 0:
			frame = ipv4UDPFrame(v4A, v4B, 0, uint8(r.Uint32()), 1, 2, nil)
		case 1:
			frame = ipv6UDPFrame(v6A, v6B, 0, uint8(r.Uint32()), 1, 2, nil)
		default:
			frame = arpFrame(macA)
		}
		p := packetOf(t, pool, frame)
		labels := randomLabels(r)
		ttl := []uint8{0, 0, 1, 64, 255}[r.IntN(5)]
		et := p.EtherType
		ok := PushMPLS(p, labels, ttl)
		valid := len(labels) >= 1 && len(labels) <= 30
		for _, l := range labels {
			valid = valid && l < 1<<20 && l != 3
		}
		if ok != valid {
			t.Fatalf("case %d: ok %v for labels %v", i, ok, labels)
		}
		if ok {
			mustEqualBytes(t, "push", p.Bytes(), refPush(frame, 14, et, labels, ttl))
		} else {
			mustEqualBytes(t, "refused push", p.Bytes(), frame)
		}
		p.Free()
	}
}
