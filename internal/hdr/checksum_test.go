package hdr

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"testing"
)

// refSum is the textbook RFC 1071 sum: big-endian 16-bit words, odd byte
// padded, folded with end-around carry. The reference Sum is checked
// against.
func refSum(b []byte) uint16 {
	var s uint64
	for i := 0; i+1 < len(b); i += 2 {
		s += uint64(b[i])<<8 | uint64(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint64(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s>>16 + s&0xffff
	}
	return uint16(s)
}

func refAdd(a, b uint16) uint16 {
	s := uint32(a) + uint32(b)
	return uint16(s>>16 + s&0xffff)
}

func randBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestSumMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	buf := randBytes(r, 70000)
	check := func(b []byte, init uint32) {
		t.Helper()
		got := fold16(Sum(b, init))
		want := refAdd(refSum(b), uint16(fold16(init)))
		// Sums equal modulo 0xffff; 0 and 0xffff are both zero.
		if got%0xffff != uint32(want)%0xffff {
			t.Fatalf("len %d init %#x: Sum %#x, reference %#x", len(b), init, got, want)
		}
		if Fold(Sum(b, init)) != ^want && !(got%0xffff == 0) {
			t.Fatalf("len %d: Fold %#x, want %#x", len(b), Fold(Sum(b, init)), ^want)
		}
	}
	for n := 0; n < 300; n++ {
		for start := 0; start < 9; start++ {
			check(buf[start:start+n], 0)
		}
	}
	for i := 0; i < 2000; i++ {
		start := r.IntN(64)
		n := r.IntN(len(buf) - start)
		check(buf[start:start+n], r.Uint32())
	}
	// All-ones data: the worst case for carries.
	ff := make([]byte, 65536+7)
	for i := range ff {
		ff[i] = 0xff
	}
	for _, n := range []int{1, 2, 7, 8, 63, 64, 65, 65536, 65543} {
		check(ff[:n], 0xffffffff)
	}
	// Zero data keeps a zero sum (no negative zero from nowhere).
	if s := Sum(make([]byte, 100), 0); s != 0 {
		t.Fatalf("Sum(zeros) = %#x", s)
	}
}

func TestSumExactRepresentation(t *testing.T) {
	// For nonzero data Sum folds to the same 16-bit value as the
	// reference, not just the same class modulo 0xffff.
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 5000; i++ {
		b := randBytes(r, 1+r.IntN(200))
		b[0] |= 1
		if got, want := fold16(Sum(b, 0)), uint32(refSum(b)); got != want {
			t.Fatalf("% x: %#x want %#x", b, got, want)
		}
	}
}

func TestSumChaining(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 2000; i++ {
		b := randBytes(r, r.IntN(3000))
		n := 0
		if len(b) > 0 {
			n = r.IntN(len(b)+1) &^ 1
		}
		if Fold(Sum(b[n:], Sum(b[:n], 0))) != Fold(Sum(b, 0)) {
			t.Fatalf("chaining at %d of %d differs", n, len(b))
		}
	}
}

func TestChecksumKnownVector(t *testing.T) {
	// RFC 1071 section 3 example: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2.
	b := []byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7}
	if got := fold16(Sum(b, 0)); got != 0xddf2 {
		t.Fatalf("sum %#x, want 0xddf2", got)
	}
	if got := Checksum(b, 0); got != ^uint16(0xddf2) {
		t.Fatalf("checksum %#x", got)
	}
	// A classic IPv4 header (Wikipedia's example): checksum b861.
	h := []byte{0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
		0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7}
	if got := Checksum(h, 0); got != 0xb861 {
		t.Fatalf("ipv4 checksum %#x, want 0xb861", got)
	}
}

func refPseudo(src, dst netip.Addr, proto uint8, length int) uint16 {
	var b []byte
	if src.Is4() {
		s, d := src.As4(), dst.As4()
		b = append(append(b, s[:]...), d[:]...)
		b = append(b, 0, proto, byte(length>>8), byte(length))
	} else {
		s, d := src.As16(), dst.As16()
		b = append(append(b, s[:]...), d[:]...)
		b = binary.BigEndian.AppendUint32(b, uint32(length))
		b = append(b, 0, 0, 0, proto)
	}
	return refSum(b)
}

func randAddr(r *rand.Rand, v6 bool) netip.Addr {
	if v6 {
		var a [16]byte
		for i := range a {
			a[i] = byte(r.Uint32())
		}
		return netip.AddrFrom16(a)
	}
	return netip.AddrFrom4([4]byte{byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32())})
}

func TestPseudoHeaderSum(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for i := 0; i < 5000; i++ {
		v6 := i%2 == 0
		s, d := randAddr(r, v6), randAddr(r, v6)
		proto := uint8(r.Uint32())
		n := r.IntN(65536)
		if v6 {
			n = r.IntN(1 << 20) // IPv6 has a 32-bit upper-layer length
		}
		got := fold16(PseudoHeaderSum(s, d, proto, n)) % 0xffff
		want := uint32(refPseudo(s, d, proto, n)) % 0xffff
		if got != want {
			t.Fatalf("%v %v %d %d: %#x want %#x", s, d, proto, n, got, want)
		}
	}
}

func TestUpdateChecksumIncremental(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for i := 0; i < 20000; i++ {
		h := randBytes(r, 20+4*r.IntN(11))
		h[0] = 0x40 | byte(len(h)/4)
		IPv4(h).UpdateChecksum()
		switch i % 4 {
		case 0: // a 16-bit word
			w := 2 * r.IntN(len(h)/2)
			if w == 10 || w == 0 { // checksum itself, or IHL
				continue
			}
			old := binary.BigEndian.Uint16(h[w:])
			nw := uint16(r.Uint32())
			if i%8 == 0 {
				nw = old // no-op update keeps the checksum
			}
			binary.BigEndian.PutUint16(h[w:], nw)
			inc := UpdateChecksum16(IPv4(h).Checksum(), old, nw)
			if full := IPv4(h).ComputeChecksum(); inc != full {
				t.Fatalf("word %d %#x->%#x: incremental %#x, full %#x", w, old, nw, inc, full)
			}
		case 1: // a 32-bit field (an address)
			w := 12 + 4*r.IntN(2)
			old := binary.BigEndian.Uint32(h[w:])
			nw := r.Uint32()
			binary.BigEndian.PutUint32(h[w:], nw)
			inc := UpdateChecksum32(IPv4(h).Checksum(), old, nw)
			if full := IPv4(h).ComputeChecksum(); inc != full {
				t.Fatalf("u32 at %d: incremental %#x, full %#x", w, inc, full)
			}
		case 2: // an address via netip
			old := IPv4(h).Src()
			na := randAddr(r, false)
			IPv4(h).SetSrc(na)
			inc := UpdateChecksumAddr(IPv4(h).Checksum(), old, na)
			if full := IPv4(h).ComputeChecksum(); inc != full {
				t.Fatalf("addr: incremental %#x, full %#x", inc, full)
			}
		case 3: // DecTTL
			if h[8] == 0 {
				h[8] = 1
				IPv4(h).UpdateChecksum()
			}
			IPv4(h).DecTTL()
			if !IPv4(h).ChecksumValid() || IPv4(h).Checksum() != IPv4(h).ComputeChecksum() {
				t.Fatalf("DecTTL left checksum %#x, full %#x", IPv4(h).Checksum(), IPv4(h).ComputeChecksum())
			}
		}
	}
}

func TestUpdateChecksumAddrPseudoV6(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for i := 0; i < 3000; i++ {
		src, dst := randAddr(r, true), randAddr(r, true)
		l4 := randBytes(r, 8+r.IntN(100))
		binary.BigEndian.PutUint16(l4[4:], uint16(len(l4)))
		c := TransportChecksum(src, dst, IPProtoUDP, l4)
		binary.BigEndian.PutUint16(l4[6:], c)
		nsrc := randAddr(r, true)
		inc := UpdateChecksumAddr(c, src, nsrc)
		full := TransportChecksum(nsrc, dst, IPProtoUDP, l4)
		// UDP maps a 0 result to 0xffff; both mean the same sum.
		if inc != full && !(inc == 0 && full == 0xffff) {
			t.Fatalf("v6 pseudo addr: incremental %#x, full %#x", inc, full)
		}
	}
}

func TestTransportChecksum(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	for i := 0; i < 5000; i++ {
		v6 := i%2 == 0
		src, dst := randAddr(r, v6), randAddr(r, v6)
		protos := []uint8{IPProtoTCP, IPProtoUDP, IPProtoICMPv6, IPProtoICMP}
		proto := protos[r.IntN(len(protos))]
		l4 := randBytes(r, 20+r.IntN(1500))
		off := ChecksumOffset(proto)
		got := TransportChecksum(src, dst, proto, l4)
		// Reference: zero the field, build the pseudo header bytes.
		z := append([]byte(nil), l4...)
		z[off], z[off+1] = 0, 0
		var s uint16
		if proto != IPProtoICMP {
			s = refPseudo(src, dst, proto, len(z))
		}
		want := ^refAdd(s, refSum(z))
		if proto == IPProtoUDP && want == 0 {
			want = 0xffff
		}
		if got != want {
			t.Fatalf("proto %d len %d: %#x want %#x", proto, len(l4), got, want)
		}
		binary.BigEndian.PutUint16(l4[off:], got)
		if !TransportChecksumValid(src, dst, proto, l4) {
			t.Fatalf("proto %d: stored checksum does not verify", proto)
		}
		l4[len(l4)-1] ^= 0x01
		if TransportChecksumValid(src, dst, proto, l4) {
			t.Fatalf("proto %d: corrupted payload verifies", proto)
		}
	}
}

func TestUDPZeroChecksumBecomesFFFF(t *testing.T) {
	// Find UDP data whose checksum is 0 by solving for one payload word.
	src, dst := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	l4 := make([]byte, 10)
	binary.BigEndian.PutUint16(l4[4:], 10)
	c := TransportChecksum(src, dst, IPProtoUDP, l4)
	// Adding ^c... make the sum 0xffff: set the last word to c (the
	// complement of the current sum's complement).
	binary.BigEndian.PutUint16(l4[8:], c)
	if got := TransportChecksum(src, dst, IPProtoUDP, l4); got != 0xffff {
		t.Fatalf("UDP zero checksum sent as %#x, want 0xffff", got)
	}
	if got := TransportChecksum(src, dst, IPProtoTCP, append(l4, make([]byte, 12)...)); got == 0xffff {
		// not a strict property, just exercising the TCP path
		_ = got
	}
}

func TestFold(t *testing.T) {
	cases := []struct {
		in   uint32
		want uint16
	}{{0, 0xffff}, {0xffff, 0}, {0x1fffe, 0}, {0x12345678, ^uint16(0x1234 + 0x5678)}, {0xffffffff, 0}}
	for _, c := range cases {
		if got := Fold(c.in); got != c.want {
			t.Errorf("Fold(%#x) = %#x want %#x", c.in, got, c.want)
		}
	}
}

func BenchmarkSum(b *testing.B) {
	for _, n := range []int{20, 1500, 65536} {
		buf := randBytes(rand.New(rand.NewPCG(1, 1)), n+1)[1:] // unaligned start
		b.Run(itoa(n), func(b *testing.B) {
			b.SetBytes(int64(n))
			var s uint32
			for b.Loop() {
				s = Sum(buf, s)
			}
			sink = s
		})
	}
}

func BenchmarkRefSum(b *testing.B) {
	buf := randBytes(rand.New(rand.NewPCG(1, 1)), 65536)
	b.SetBytes(65536)
	var s uint16
	for b.Loop() {
		s += refSum(buf)
	}
	sink = uint32(s)
}

var sink uint32

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}
