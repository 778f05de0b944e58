package reasm

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"flowpath/internal/hdr"
	"flowpath/internal/pkt"
)

// datagram is an Ethernet frame with an IPv4 UDP-ish datagram of n payload
// bytes and opt bytes of IP options (a multiple of 4).
func datagram(r *rand.Rand, n, opt int, id uint16) []byte {
	hl := 20 + opt
	f := make([]byte, 14+hl+n)
	copy(f, []byte{2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 8, 0})
	hdr.PutIPv4(f[14:], &hdr.IPv4Fields{TotalLen: uint16(hl + n), ID: id, TTL: 64, Protocol: 17,
		Src: netip.MustParseAddr("10.100.0.2"), Dst: netip.MustParseAddr("10.100.0.1")})
	f[14] = 0x40 | byte(hl/4)
	for i := 34; i < 14+hl; i++ {
		f[i] = 1 // NOP options
	}
	for i := 14 + hl; i < len(f); i++ {
		f[i] = byte(r.Uint32())
	}
	hdr.IPv4(f[14:]).UpdateChecksum()
	return f
}

// fragments cuts a datagram frame at the given payload offsets (multiples
// of 8, ascending, inside the payload) into fragment frames, as a router
// would: every fragment carries the whole header (options included).
func fragments(f []byte, cuts []int) [][]byte {
	ip := hdr.IPv4(f[14:])
	hl := ip.HeaderLen()
	payload := f[14+hl:]
	var out [][]byte
	bounds := append(append([]int{0}, cuts...), len(payload))
	for i := 0; i+1 < len(bounds); i++ {
		a, b := bounds[i], bounds[i+1]
		g := make([]byte, 14+hl+b-a)
		copy(g, f[:14+hl])
		copy(g[14+hl:], payload[a:b])
		gip := hdr.IPv4(g[14:])
		gip.SetTotalLen(uint16(hl + b - a))
		gip.SetFragment(false, b < len(payload), a)
		gip.UpdateChecksum()
		out = append(out, g)
	}
	return out
}

func randomCuts(r *rand.Rand, n int) []int {
	var cuts []int
	for off := 8 * (1 + r.IntN(200)); off < n; off += 8 * (1 + r.IntN(200)) {
		cuts = append(cuts, off)
	}
	return cuts
}

func add(t *testing.T, tb *Table, pool *pkt.Pool, f []byte, now int64) (*pkt.Packet, Result) {
	t.Helper()
	p := pool.Get()
	if p == nil || !p.SetBytes(f) {
		t.Fatal("pool")
	}
	p.L3, p.InPort, p.EtherType = 14, 3, hdr.EtherTypeIPv4
	q, r := tb.Add(p, now)
	if r != Held && r != Done {
		p.Free()
	}
	return q, r
}

// The reference: fragments in any order, exact repeats mixed in, give back
// the datagram byte for byte, with the last fragment's metadata; nothing
// is left in the table or taken from the pool.
func TestReassembleModel(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	pool := pkt.NewPool("t", 128)
	var tb Table
	tb.Init(0, 0)
	for iter := 0; iter < 300; iter++ {
		n := 1 + r.IntN(20000)
		f := datagram(r, n, 4*r.IntN(3), uint16(iter))
		frags := fragments(f, randomCuts(r, n))
		// A random order; some fragments sent again later (before the
		// one that completes the datagram).
		order := r.Perm(len(frags))
		seq := append([]int(nil), order[:len(order)-1]...)
		for i := 0; i < r.IntN(3) && len(seq) > 0; i++ {
			j := r.IntN(len(seq))
			at := j + 1 + r.IntN(len(seq)-j)
			seq = append(seq[:at], append([]int{seq[j]}, seq[at:]...)...)
		}
		seq = append(seq, order[len(order)-1])
		var got *pkt.Packet
		for i, k := range seq {
			q, res := add(t, &tb, pool, frags[k], int64(i))
			switch {
			case res == Done && i == len(seq)-1:
				got = q
			case res != Held:
				t.Fatalf("iter %d fragment %d (%d of %d): result %d", iter, k, i, len(seq), res)
			}
		}
		if got == nil {
			t.Fatalf("iter %d: not reassembled", iter)
		}
		if !bytes.Equal(got.Bytes(), f) || got.L3 != 14 || got.InPort != 3 {
			t.Fatalf("iter %d: reassembled datagram differs (%d vs %d bytes)", iter, got.Len(), len(f))
		}
		got.Free()
		if tb.InUse() != 0 || pool.Available() != pool.Size() {
			t.Fatalf("iter %d: %d in the table, %d packets out", iter, tb.InUse(), pool.Size()-pool.Available())
		}
	}
}

// Overlaps discard the datagram; bad lengths are refused; a datagram over
// 65535 bytes is refused; interleaved datagrams do not mix.
func TestReassembleRefusals(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	pool := pkt.NewPool("t", 64)
	var tb Table
	tb.Init(0, 0)
	f := datagram(r, 4000, 0, 1)
	frags := fragments(f, []int{1000, 2000, 3000})
	if _, res := add(t, &tb, pool, frags[0], 0); res != Held {
		t.Fatal(res)
	}
	// [1000, 2008): overlaps the next unit without repeating a fragment.
	over := fragments(f, []int{1000, 2008, 3000})[1]
	if _, res := add(t, &tb, pool, frags[1], 0); res != Held {
		t.Fatal(res)
	}
	if _, res := add(t, &tb, pool, over, 0); res != Overlap || tb.InUse() != 0 {
		t.Fatalf("overlap: %d, %d in use", res, tb.InUse())
	}
	// A fragment spanning two received ones exactly is an overlap too.
	add(t, &tb, pool, frags[1], 0)
	add(t, &tb, pool, frags[2], 0)
	span := fragments(f, []int{1000, 3000})[1]
	if _, res := add(t, &tb, pool, span, 0); res != Overlap {
		t.Fatalf("spanning fragment: %d", res)
	}
	// A non-final fragment whose length is not a multiple of 8.
	odd := fragments(f, []int{1000, 2000})[1]
	hdr.IPv4(odd[14:]).SetTotalLen(uint16(20 + 999))
	if _, res := add(t, &tb, pool, odd[:14+20+999], 0); res != Invalid {
		t.Fatalf("odd length: %d", res)
	}
	// Past 65535 bytes.
	big := fragments(f, []int{1000})[1]
	hdr.IPv4(big[14:]).SetFragment(false, false, 65000)
	if _, res := add(t, &tb, pool, big, 0); res != TooBig {
		t.Fatalf("oversize: %d", res)
	}
	// Two datagrams interleaved (different IDs) both complete.
	tb.Drain()
	g := datagram(r, 3000, 0, 2)
	fa, fb := fragments(f, []int{2000}), fragments(g, []int{1600})
	add(t, &tb, pool, fa[0], 0)
	add(t, &tb, pool, fb[1], 0)
	qa, ra := add(t, &tb, pool, fa[1], 0)
	qb, rb := add(t, &tb, pool, fb[0], 0)
	if ra != Done || rb != Done || !bytes.Equal(qa.Bytes(), f) || !bytes.Equal(qb.Bytes(), g) {
		t.Fatalf("interleaved: %d %d", ra, rb)
	}
	qa.Free()
	qb.Free()
	if tb.InUse() != 0 || pool.Available() != pool.Size() {
		t.Fatal("leak")
	}
}

// An incomplete datagram is discarded after the timeout; a full table
// refuses a new datagram until one expires.
func TestReassembleExpireAndFull(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	pool := pkt.NewPool("t", 2*Slots)
	var tb Table
	tb.Init(time.Second, time.Second)
	for i := 0; i < Slots; i++ {
		frags := fragments(datagram(r, 100, 0, uint16(i)), []int{48})
		if _, res := add(t, &tb, pool, frags[0], 0); res != Held {
			t.Fatal(res)
		}
	}
	extra := fragments(datagram(r, 100, 0, 999), []int{48})
	if _, res := add(t, &tb, pool, extra[0], int64(time.Second)/2); res != Full {
		t.Fatalf("full table: %d", res)
	}
	if n := tb.Expire(int64(time.Second)/2, nil); n != 0 {
		t.Fatalf("expired %d early", n)
	}
	// Past the deadline a new datagram gets a slot (the old ones go).
	if _, res := add(t, &tb, pool, extra[0], int64(2*time.Second)); res != Held || tb.InUse() != 1 {
		t.Fatalf("after the timeout: %d, %d in use", res, tb.InUse())
	}
	if n := tb.Expire(int64(4*time.Second), nil); n != 1 || tb.InUse() != 0 || pool.Available() != pool.Size() {
		t.Fatalf("expire: %d, %d in use, %d out", n, tb.InUse(), pool.Size()-pool.Available())
	}
}

func TestReassembleNoAllocs(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	pool := pkt.NewPool("t", 16)
	var tb Table
	tb.Init(0, 0)
	frags := fragments(datagram(r, 3000, 0, 9), []int{1000, 2000})
	ps := make([]*pkt.Packet, len(frags))
	allocs := testing.AllocsPerRun(200, func() {
		for i, f := range frags {
			ps[i] = pool.Get()
			ps[i].SetBytes(f)
			ps[i].L3 = 14
		}
		var q *pkt.Packet
		for _, p := range ps {
			q, _ = tb.Add(p, 0)
		}
		if q != nil {
			q.Free()
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per datagram", allocs)
	}
}

// datagram6 is an Ethernet frame with an IPv6 packet: the fixed header,
// hbh bytes of hop-by-hop options (0 or a multiple of 8) and n bytes of
// UDP-ish payload.
func datagram6(r *rand.Rand, n, hbh int) []byte {
	f := make([]byte, 14+40+hbh+n)
	copy(f, []byte{2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x86, 0xdd})
	hdr.PutIPv6(f[14:], &hdr.IPv6Fields{PayloadLen: uint16(hbh + n), NextHeader: 17, HopLimit: 64,
		Src: netip.MustParseAddr("fd00:100::2"), Dst: netip.MustParseAddr("fd00:100::1")})
	if hbh > 0 {
		f[14+6] = hdr.IPProtoHopByHop
		f[54], f[55] = 17, byte(hbh/8-1)
		f[56] = 1 // PadN over the rest
		f[57] = byte(hbh - 4)
	}
	for i := 54 + hbh; i < len(f); i++ {
		f[i] = byte(r.Uint32())
	}
	return f
}

// fragments6 cuts an IPv6 frame from datagram6 at payload offsets cuts:
// each fragment is the unfragmentable part (the fixed header and the
// hop-by-hop options, the last next header naming a fragment header), a
// fragment header (ID id) and its slice of the rest.
func fragments6(f []byte, hbh int, cuts []int, id uint32) [][]byte {
	unfrag := 14 + 40 + hbh
	payload := f[unfrag:]
	bounds := append(append([]int{0}, cuts...), len(payload))
	var out [][]byte
	for i := 0; i+1 < len(bounds); i++ {
		a, b := bounds[i], bounds[i+1]
		g := make([]byte, unfrag+8+b-a)
		copy(g, f[:unfrag])
		nh := 14 + 6
		if hbh > 0 {
			nh = 54
		}
		g[nh] = hdr.IPProtoFragment
		fh := g[unfrag : unfrag+8]
		fh[0] = 17
		fo := uint16(a)
		if b < len(payload) {
			fo |= 1
		}
		binary.BigEndian.PutUint16(fh[2:], fo)
		binary.BigEndian.PutUint32(fh[4:], id)
		copy(g[unfrag+8:], payload[a:b])
		hdr.IPv6(g[14:]).SetPayloadLen(uint16(len(g) - 54))
		out = append(out, g)
	}
	return out
}

// The IPv6 reference: any order, with or without hop-by-hop options
// before the fragment header, gives back the packet byte for byte (the
// fragment header gone, its next header restored); the timeout is the
// IPv6 one.
func TestReassembleIPv6Model(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	pool := pkt.NewPool("t", 128)
	var tb Table
	tb.Init(time.Second, 2*time.Second)
	for iter := 0; iter < 200; iter++ {
		hbh := 8 * r.IntN(3)
		n := 1 + r.IntN(20000)
		f := datagram6(r, n, hbh)
		frags := fragments6(f, hbh, randomCuts(r, n), uint32(iter)<<8)
		var got *pkt.Packet
		for i, k := range r.Perm(len(frags)) {
			p := pool.Get()
			p.SetBytes(frags[k])
			p.L3 = 14
			q, res := tb.AddIPv6(p, chain(t, p), int64(i))
			switch {
			case res == Done && i == len(frags)-1:
				got = q
			case res != Held:
				t.Fatalf("iter %d fragment %d: result %d", iter, k, res)
			}
		}
		if got == nil || !bytes.Equal(got.Bytes(), f) {
			t.Fatalf("iter %d: reassembled packet differs", iter)
		}
		got.Free()
	}
	// One fragment waits: gone after the IPv6 timeout, not the IPv4 one.
	frags := fragments6(datagram6(r, 100, 0), 0, []int{48}, 7)
	p := pool.Get()
	p.SetBytes(frags[0])
	p.L3 = 14
	if _, res := tb.AddIPv6(p, chain(t, p), 0); res != Held {
		t.Fatal(res)
	}
	if tb.Expire(int64(1500*time.Millisecond), nil) != 0 || tb.Expire(int64(2500*time.Millisecond), nil) != 1 {
		t.Fatal("IPv6 datagram not expired on the IPv6 timeout")
	}
	// A fragment header where the chain does not name one is refused.
	q := pool.Get()
	q.SetBytes(frags[0])
	q.L3 = 14
	stale := chain(t, q)
	q.Bytes()[14+6] = 17
	if _, res := tb.AddIPv6(q, stale, 0); res != Invalid {
		t.Fatalf("unnamed fragment header: %d", res)
	}
	q.Free()
	if tb.InUse() != 0 || pool.Available() != pool.Size() {
		t.Fatal("leak")
	}
}

// A datagram that times out is handed to the callback as its first
// fragment (when that arrived): the offset-0 headers and the data
// received from offset 0 on, with the metadata; one without its first
// fragment is only discarded.
func TestExpireHandsOverFirstFragment(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	pool := pkt.NewPool("t", 16)
	var tb Table
	tb.Init(time.Second, time.Second)
	f := datagram(r, 3000, 0, 5)
	frags := fragments(f, []int{1000, 2000})
	add(t, &tb, pool, frags[0], 0)
	add(t, &tb, pool, frags[2], 0)
	g := datagram(r, 3000, 0, 6)
	add(t, &tb, pool, fragments(g, []int{1000})[1], 0) // no first fragment
	f6 := datagram6(r, 3000, 8)
	p := pool.Get()
	p.SetBytes(fragments6(f6, 8, []int{1000}, 9)[0])
	p.L3, p.InPort, p.EtherType = 14, 4, hdr.EtherTypeIPv6
	if _, res := tb.AddIPv6(p, chain(t, p), 0); res != Held {
		t.Fatal(res)
	}
	var got []*pkt.Packet
	if n := tb.Expire(int64(2*time.Second), func(p *pkt.Packet) { got = append(got, p) }); n != 3 || len(got) != 2 {
		t.Fatalf("expired %d, handed over %d", n, len(got))
	}
	for _, q := range got {
		if q.EtherType == hdr.EtherTypeIPv6 {
			// IPv6: the first fragment as it came (fragment header
			// included: ID 9, offset 0, M).
			want := fragments6(f6, 8, []int{1000}, 9)[0]
			if !bytes.Equal(q.Bytes(), want) || q.InPort != 4 || q.L3 != 14 {
				t.Fatalf("IPv6 first fragment handed over differs:\n got % x\nwant % x", q.Bytes()[:80], want[:80])
			}
		} else if !bytes.Equal(q.Bytes(), frags[0]) || q.InPort != 3 || q.L3 != 14 {
			t.Fatalf("IPv4 first fragment handed over differs")
		}
		q.Free()
	}
	if tb.InUse() != 0 || pool.Available() != pool.Size() {
		t.Fatal("leak")
	}
}

// chain is the extension header chain of p's IPv6 header, which must
// walk.
func chain(t testing.TB, p *pkt.Packet) *hdr.IPv6Chain {
	t.Helper()
	var c hdr.IPv6Chain
	if !hdr.WalkIPv6(hdr.IPv6(p.Bytes()[p.L3:]), &c) {
		t.Fatal("IPv6 chain does not walk")
	}
	return &c
}
