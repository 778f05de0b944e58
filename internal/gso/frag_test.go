package gso

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"flowpath/internal/hdr"
	"flowpath/internal/pkt"

	"github.com/google/gopacket/layers"
)

type fragInfo struct {
	off     int
	mf      bool
	opts    []byte
	payload []byte
}

// reassemble is the reference reassembler: it checks every fragment's
// header on its own (checksum, length, alignment, same ID and addresses)
// and that the fragments tile one range without gaps or overlaps, and
// returns the first offset, the final MF, the first fragment's options, the
// later fragments' options and the payload.
func reassemble(t *testing.T, frames [][]byte, l3, mtu int) (base int, mf bool, firstOpts, laterOpts, payload []byte) {
	t.Helper()
	var frags []fragInfo
	var id uint16
	for i, f := range frames {
		ip := f[l3:]
		hl := int(ip[0]&0xf) * 4
		tl := int(binary.BigEndian.Uint16(ip[2:]))
		if ip[0]>>4 != 4 || hl < 20 || tl != len(ip) || tl > mtu {
			t.Fatalf("fragment %d: version/ihl %#x total %d len %d mtu %d", i, ip[0], tl, len(ip), mtu)
		}
		if !ipv4HeaderOK(ip[:hl]) {
			t.Fatalf("fragment %d: header checksum", i)
		}
		fo := binary.BigEndian.Uint16(ip[6:])
		if fo&0x4000 != 0 {
			t.Fatalf("fragment %d: DF set", i)
		}
		if i == 0 {
			id = binary.BigEndian.Uint16(ip[4:])
		} else if binary.BigEndian.Uint16(ip[4:]) != id || !bytes.Equal(ip[9:10], frames[0][l3+9:l3+10]) ||
			!bytes.Equal(ip[12:20], frames[0][l3+12:l3+20]) {
			t.Fatalf("fragment %d: id/proto/addresses differ", i)
		}
		if !bytes.Equal(f[:l3], frames[0][:l3]) {
			t.Fatalf("fragment %d: L2 header differs", i)
		}
		frags = append(frags, fragInfo{off: int(fo&0x1fff) * 8, mf: fo&0x2000 != 0, opts: ip[20:hl], payload: ip[hl:tl]})
	}
	base = frags[0].off
	pos := base
	for i, fr := range frags {
		if fr.off != pos {
			t.Fatalf("fragment %d at %d, want %d (gap or overlap)", i, fr.off, pos)
		}
		if i < len(frags)-1 && (!fr.mf || len(fr.payload)%8 != 0) {
			t.Fatalf("fragment %d: MF %v payload %d", i, fr.mf, len(fr.payload))
		}
		if i > 0 && !bytes.Equal(fr.opts, frags[1].opts) {
			t.Fatalf("fragment %d: options differ from fragment 1's", i)
		}
		payload = append(payload, fr.payload...)
		pos += len(fr.payload)
	}
	if len(frags) > 1 {
		laterOpts = frags[1].opts
	}
	return base, frags[len(frags)-1].mf, frags[0].opts, laterOpts, payload
}

// copiedOnly is the expected option list of later fragments, written the
// obvious way from a list of (type, bytes) options.
func copiedOnly(opts [][]byte) []byte {
	var b []byte
	for _, o := range opts {
		if o[0]&0x80 != 0 {
			b = append(b, o...)
		}
	}
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func TestFragmentIPv4Random(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	optChoices := [][]byte{
		{0x94, 4, 0, 0},                          // router alert: copied
		{0x07, 7, 4, 0, 0, 0, 0},                 // record route: not copied
		{0x83, 7, 4, 10, 9, 9, 9},                // loose source route: copied
		{0x44, 12, 5, 0, 1, 2, 3, 4, 5, 6, 7, 8}, // timestamp: not copied
		{0x01},                                   // NOP
		{0x88, 4, 0x12, 0x34},                    // stream id: copied
		{0x82, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0},    // security: copied
		{0x07, 3, 4},                             // empty record route: not copied
		{0x86, 6, 1, 2, 3, 4},                    // commercial security: copied
		{0x1e, 3, 0},                             // experimental: not copied
		{0x94, 4, 0, 0},                          // twice
		{0x44, 4, 5, 0},                          // timestamp, no room
		{0x9e, 4, 0, 0},                          // experimental: copied
		{0x0a, 3, 0xff},                          // not copied
		{0x01},                                   // NOP
	}
	pool := pkt.NewPool("t", 200)
	out := make([]*pkt.Packet, 200)
	for iter := 0; iter < 400; iter++ {
		var opts [][]byte
		var ob []byte
		for k := r.IntN(5); k > 0; k-- {
			o := optChoices[r.IntN(len(optChoices))]
			if len(ob)+len(o) > 40 {
				break
			}
			opts = append(opts, o)
			ob = append(ob, o...)
		}
		for len(ob)%4 != 0 {
			ob = append(ob, 0) // end of list padding
		}
		mtu := 68 + r.IntN(3000)
		if iter%4 == 0 {
			mtu = 1500
		}
		n := r.IntN(20000)
		if iter%50 == 0 {
			n = 65535 - 28 - len(ob)
		}
		s := &frameSpec{udp: true, noDF: true, payload: randPayload(r, n), ipOpts: ob, vlans: iter % 3}
		p := makePacket(t, pool, s)
		p.GSO = pkt.GSO{}
		l3 := 14 + 4*s.vlans
		ip := hdr.IPv4(p.Bytes()[l3:])
		base, mf := 0, false
		if iter%5 == 1 {
			base, mf = 8*r.IntN(1000), r.IntN(2) == 0
			ip.SetFragment(false, mf, base)
			ip.UpdateChecksum()
		}
		if iter%7 == 0 {
			p.L3 = uint16(l3)
		}
		want := append([]byte(nil), ip.Payload()...)
		avail := pool.Available()
		k, ok := FragmentIPv4(p, mtu, pool, out)
		first, rest := (mtu-20-len(ob))&^7, (mtu-20-len(copiedOnly(opts)))&^7
		fits := int(ip.TotalLen()) <= mtu
		if !fits && (first < 8 || rest < 8 || 1+(len(want)-first+rest-1)/rest > len(out)) {
			if ok || pool.Available() != avail {
				t.Fatalf("iter %d: mtu %d with %d option bytes accepted", iter, mtu, len(ob))
			}
			p.Free()
			continue
		}
		if !ok {
			t.Fatalf("iter %d: FragmentIPv4 failed (len %d mtu %d opts % x)", iter, n, mtu, ob)
		}
		if pool.Available() != avail-k {
			t.Fatal("pool accounting")
		}
		frames := make([][]byte, k)
		for i, q := range out[:k] {
			frames[i] = q.Bytes()
			if q.InPort != p.InPort || !q.Meta.Equal(&p.Meta) || int(q.L3) != l3 {
				t.Fatal("metadata not copied")
			}
			gp := decodeGP(t, frames[i])
			g := gp.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
			if int(g.FragOffset)*8 != int(hdr.IPv4(frames[i][l3:]).FragOffset()) {
				t.Fatal("gopacket fragment offset")
			}
		}
		gb, gmf, fo, lo, got := reassemble(t, frames, l3, max(mtu, int(ip.TotalLen())))
		if gb != base || gmf != mf || !bytes.Equal(got, want) {
			t.Fatalf("iter %d: base %d/%d mf %v/%v payload equal %v", iter, gb, base, gmf, mf, bytes.Equal(got, want))
		}
		if !bytes.Equal(fo, ob) {
			t.Fatalf("iter %d: first fragment options % x, want % x", iter, fo, ob)
		}
		if k > 1 && !bytes.Equal(lo, copiedOnly(opts)) {
			t.Fatalf("iter %d: later options % x, want % x", iter, lo, copiedOnly(opts))
		}
		if int(ip.TotalLen()) <= mtu && (k != 1 || !bytes.Equal(frames[0], p.Bytes()[:l3+int(ip.TotalLen())])) {
			t.Fatalf("iter %d: a packet that fits must be copied as is", iter)
		}
		pool.PutBatch(out[:k])
		p.Free()
		if pool.Available() != pool.Size() {
			t.Fatal("leak")
		}
	}
}

func TestFragmentIPv4Refuses(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	pool := pkt.NewPool("t", 64)
	out := make([]*pkt.Packet, 64)
	mk := func(s *frameSpec) *pkt.Packet { p := makePacket(t, pool, s); p.GSO = pkt.GSO{}; return p }
	cases := []struct {
		name string
		p    *pkt.Packet
		mtu  int
		out  []*pkt.Packet
	}{
		{"DF", mk(&frameSpec{udp: true, payload: randPayload(r, 3000)}), 1500, out},
		{"mtu leaves no payload", mk(&frameSpec{udp: true, noDF: true, payload: randPayload(r, 3000)}), 27, out},
		{"out too small", mk(&frameSpec{udp: true, noDF: true, payload: randPayload(r, 3000)}), 1500, out[:2]},
		{"ipv6", mk(&frameSpec{udp: true, v6: true, payload: randPayload(r, 3000)}), 1500, out},
		{"bad option", mk(&frameSpec{udp: true, noDF: true, payload: randPayload(r, 3000), ipOpts: []byte{0x83, 9, 0, 0}}), 1500, out},
		{"zero-length option", mk(&frameSpec{udp: true, noDF: true, payload: randPayload(r, 3000), ipOpts: []byte{0x83, 0, 0, 0}}), 1500, out},
		{"offset overflow", func() *pkt.Packet {
			p := mk(&frameSpec{udp: true, noDF: true, payload: randPayload(r, 3000)})
			ip := hdr.IPv4(p.Bytes()[14:])
			ip.SetFragment(false, false, 65528-8)
			return p
		}(), 1500, out},
	}
	for _, c := range cases {
		avail := pool.Available()
		if n, ok := FragmentIPv4(c.p, c.mtu, pool, c.out); ok || n != 0 {
			t.Errorf("%s: accepted (%d)", c.name, n)
		}
		if pool.Available() != avail {
			t.Errorf("%s: pool leaked", c.name)
		}
		c.p.Free()
	}
	small := pkt.NewPool("small", 2)
	p := makePacket(t, small, &frameSpec{udp: true, noDF: true, payload: randPayload(r, 3000)})
	if n, ok := FragmentIPv4(p, 1500, small, out); ok || n != 0 || small.Available() != 1 {
		t.Fatalf("exhausted pool: %d %v %d", n, ok, small.Available())
	}
}

func TestSegmentUFO(t *testing.T) {
	r := rand.New(rand.NewPCG(25, 26))
	pool := pkt.NewPool("t", 64)
	out := make([]*pkt.Packet, 64)
	for _, s := range []*frameSpec{
		{udp: true, ufo: true, noDF: true, partial: true, payload: randPayload(r, 65535-28), mss: 1480},
		{udp: true, ufo: true, noDF: true, payload: randPayload(r, 5000), mss: 1000, vlans: 1},
		{udp: true, ufo: true, noDF: true, partial: true, payload: randPayload(r, 100), mss: 1480},
	} {
		p := makePacket(t, pool, s)
		before := append([]byte(nil), p.Bytes()...)
		n, ok := Segment(p, pool, out)
		if !ok {
			t.Fatal("UFO segment failed")
		}
		if !bytes.Equal(before, p.Bytes()) {
			t.Fatal("input changed")
		}
		l3 := 14 + 4*s.vlans
		frames := make([][]byte, n)
		for i := range frames {
			frames[i] = out[i].Bytes()
			if i < n-1 && len(frames[i])-l3-20 != s.mss&^7 {
				t.Fatalf("fragment %d carries %d bytes, want %d", i, len(frames[i])-l3-20, s.mss&^7)
			}
		}
		_, mf, _, _, dgram := reassemble(t, frames, l3, 20+s.mss)
		if mf || len(dgram) != 8+len(s.payload) || !bytes.Equal(dgram[8:], s.payload) {
			t.Fatal("reassembled datagram differs")
		}
		if !l4ChecksumOK(v4A, v4B, hdr.IPProtoUDP, dgram) {
			t.Fatal("reassembled UDP checksum")
		}
		pool.PutBatch(out[:n])
		p.Free()
	}
	// DF set or IPv6: refused.
	p := makePacket(t, pool, &frameSpec{udp: true, ufo: true, payload: randPayload(r, 3000), mss: 1000})
	if _, ok := Segment(p, pool, out); ok {
		t.Fatal("UFO with DF accepted")
	}
	p.Free()
	if pool.Available() != pool.Size() {
		t.Fatal("leak")
	}
}
