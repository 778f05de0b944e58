package tunnel

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"flowpath/internal/pkt"
)

// V1: VNI 10 is 08 00 00 00 00 00 0a 00.
func TestPutVXLANV1(t *testing.T) {
	b := make([]byte, 8)
	for i := range b {
		b[i] = 0xee // stale bytes must not survive
	}
	PutVXLAN(b, 10, 0, false)
	mustEqualBytes(t, "VNI 10", b, []byte{0x08, 0, 0, 0, 0, 0, 0x0a, 0})
	PutVXLAN(b, 0x1abcdef, 0x481234, false) // no gbp device: the word is ignored
	mustEqualBytes(t, "24-bit VNI", b, []byte{0x08, 0, 0, 0, 0xab, 0xcd, 0xef, 0})
}

// V2: a gbp device sends D, A and policy 0x1234 as 88 48 12 34.
func TestPutVXLANV2GBP(t *testing.T) {
	b := make([]byte, 8)
	PutVXLAN(b, 10, 0x00481234, true)
	mustEqualBytes(t, "GBP", b, []byte{0x88, 0x48, 0x12, 0x34, 0, 0, 0x0a, 0})
	PutVXLAN(b, 10, 0x1234, true)
	mustEqualBytes(t, "GBP without D/A", b, []byte{0x88, 0x00, 0x12, 0x34, 0, 0, 0x0a, 0})
	PutVXLAN(b, 10, 0, true) // vxlan_build_gbp_hdr writes nothing for 0
	mustEqualBytes(t, "zero GBP", b, []byte{0x08, 0, 0, 0, 0, 0, 0x0a, 0})
	vni, g, has, ok := ParseVXLAN([]byte{0x88, 0x48, 0x12, 0x34, 0, 0, 0x0a, 0}, true)
	if !ok || !has || vni != 10 || g != 0x481234 {
		t.Fatalf("parse GBP: vni %d gbp %#x has %v ok %v", vni, g, has, ok)
	}
}

// V3, V4: the receive drop rules.
func TestParseVXLANDrops(t *testing.T) {
	cases := []struct {
		name    string
		b       []byte
		gbp     bool
		ok      bool
		vni     uint32
		gbpWord uint32
		has     bool
	}{
		{"plain", []byte{0x08, 0, 0, 0, 0, 0, 10, 0}, false, true, 10, 0, false},
		{"plain on gbp device", []byte{0x08, 0, 0, 0, 0, 0, 10, 0}, true, true, 10, 0, false},
		{"V3 I clear", []byte{0x00, 0, 0, 0, 0, 0, 10, 0}, false, false, 0, 0, false},
		{"V3 I clear gbp", []byte{0x80, 0x48, 0, 1, 0, 0, 10, 0}, true, false, 0, 0, false},
		{"V4 G on non-gbp", []byte{0x88, 0, 0, 0, 0, 0, 10, 0}, false, false, 0, 0, false},
		{"V4 flag bit", []byte{0x0c, 0, 0, 0, 0, 0, 10, 0}, false, false, 0, 0, false},
		{"V4 flag bit gbp", []byte{0x09, 0, 0, 0, 0, 0, 10, 0}, true, false, 0, 0, false},
		{"V4 byte 1", []byte{0x08, 0x01, 0, 0, 0, 0, 10, 0}, false, false, 0, 0, false},
		{"V4 byte 3", []byte{0x08, 0, 0, 0x01, 0, 0, 10, 0}, false, false, 0, 0, false},
		{"V4 byte 7", []byte{0x08, 0, 0, 0, 0, 0, 10, 1}, false, false, 0, 0, false},
		{"V4 byte 7 gbp", []byte{0x88, 0, 0, 0, 0, 0, 10, 1}, true, false, 0, 0, false},
		// The kernel clears all of bytes 1-3 as GBP's whether G is set or not.
		{"gbp bits without G", []byte{0x08, 0xff, 0xff, 0xff, 0, 0, 10, 0}, true, true, 10, 0, false},
		{"gbp D only", []byte{0x88, 0x40, 0, 0, 0, 0, 10, 0}, true, true, 10, GBPDontLearn, true},
		{"gbp reserved bits of byte 1", []byte{0x88, 0xb7, 0, 5, 0, 0, 10, 0}, true, true, 10, 5, true},
		{"short", []byte{0x08, 0, 0, 0, 0, 0, 10}, false, false, 0, 0, false},
	}
	for _, c := range cases {
		vni, g, has, ok := ParseVXLAN(c.b, c.gbp)
		if ok != c.ok || vni != c.vni || g != c.gbpWord || has != c.has {
			t.Errorf("%s: vni %d gbp %#x has %v ok %v; want %d %#x %v %v", c.name, vni, g, has, ok, c.vni, c.gbpWord, c.has, c.ok)
		}
	}
}

// refParseVXLAN is vxlan_rcv's header logic written out on the two be32
// words, the way the kernel does it: clear what each step understands,
// drop if anything is left.
func refParseVXLAN(b []byte, gbp bool) (vni, word uint32, has, ok bool) {
	if len(b) < 8 {
		return 0, 0, false, false
	}
	flags, vniWord := binary.BigEndian.Uint32(b), binary.BigEndian.Uint32(b[4:])
	const hfVNI, hfGBP = 1 << 27, 1 << 31
	if flags&hfVNI == 0 {
		return 0, 0, false, false
	}
	flags &^= hfVNI
	vni = vniWord >> 8
	vniWord &= 0xff
	if gbp {
		if flags&hfGBP != 0 {
			has = true
			word = flags & 0xffff
			if flags&(1<<22) != 0 {
				word |= 1 << 22
			}
			if flags&(1<<19) != 0 {
				word |= 1 << 19
			}
		}
		flags &^= hfGBP | 0xffffff
	}
	if flags != 0 || vniWord != 0 {
		return 0, 0, false, false
	}
	return vni, word, has, true
}

func TestParseVXLANMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, 8)
	for i := 0; i < 200000; i++ {
		binary.LittleEndian.PutUint64(b, r.Uint64())
		// Bias towards the interesting corner: few bits set.
		if i%2 == 0 {
			b[0] = b[0]&0x88 | 0x08
			if i%4 == 0 {
				b[1], b[2], b[3], b[7] = 0, 0, 0, 0
			}
		}
		for _, gbp := range []bool{false, true} {
			v1, g1, h1, ok1 := ParseVXLAN(b, gbp)
			v2, g2, h2, ok2 := refParseVXLAN(b, gbp)
			if v1 != v2 || g1 != g2 || h1 != h2 || ok1 != ok2 {
				t.Fatalf("% x gbp=%v: got %d %#x %v %v, reference %d %#x %v %v", b, gbp, v1, g1, h1, ok1, v2, g2, h2, ok2)
			}
		}
	}
}

func TestVXLANRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	b := make([]byte, 8)
	for i := 0; i < 10000; i++ {
		vni, word := r.Uint32()&0xffffff, r.Uint32()&GBPMask
		PutVXLAN(b, vni, word, true)
		v, g, has, ok := ParseVXLAN(b, true)
		if !ok || v != vni || g != word || has != (word != 0) {
			t.Fatalf("vni %d gbp %#x -> % x -> %d %#x %v %v", vni, word, b, v, g, has, ok)
		}
		if _, _, _, ok := ParseVXLAN(b, false); ok != (word == 0) {
			t.Fatalf("a GBP header must be dropped by a non-GBP device: % x", b)
		}
	}
}

func TestGBPOptions(t *testing.T) {
	var ti pkt.TunnelInfo
	if g, ok := GBP(&ti); !ok || g != 0 {
		t.Fatal("no options: gbp 0")
	}
	SetGBP(&ti, 0x481234)
	if ti.OptLen != 4 || ti.Key.Flags != pkt.TunnelVXLANOpt {
		t.Fatalf("optlen %d flags %#x", ti.OptLen, ti.Key.Flags)
	}
	if g, ok := GBP(&ti); !ok || g != 0x481234 {
		t.Fatalf("gbp %#x", g)
	}
	ti.OptLen = 3
	if _, ok := GBP(&ti); ok {
		t.Fatal("VXLAN_OPT with fewer than 4 bytes must be refused (the kernel drops)")
	}
}
