package gso

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"flowpath/internal/hdr"
	"flowpath/internal/pkt"
)

// segmentSpec builds the super-frame of s and segments it; the caller
// owns the segments (from pool).
func segmentSpec(t testing.TB, pool *pkt.Pool, s *frameSpec) []*pkt.Packet {
	t.Helper()
	p := makePacket(t, pool, s)
	out := make([]*pkt.Packet, 64)
	n, ok := Segment(p, pool, out)
	p.Free()
	if !ok {
		t.Fatal("Segment failed")
	}
	for _, q := range out[:n] {
		q.ResetMeta()
	}
	return out[:n]
}

// resegment expands every GSO frame of pkts with Segment and returns the
// frames' bytes in order.
func resegment(t testing.TB, pool *pkt.Pool, pkts []*pkt.Packet) [][]byte {
	t.Helper()
	var frames [][]byte
	out := make([]*pkt.Packet, 64)
	for _, p := range pkts {
		if !p.GSO.IsGSO() {
			frames = append(frames, append([]byte(nil), p.Bytes()...))
			continue
		}
		n, ok := Segment(p, pool, out)
		if !ok {
			t.Fatal("Segment of a coalesced frame failed")
		}
		for _, q := range out[:n] {
			frames = append(frames, append([]byte(nil), q.Bytes()...))
			q.Free()
		}
	}
	return frames
}

func frameBytes(pkts []*pkt.Packet) [][]byte {
	var fs [][]byte
	for _, p := range pkts {
		fs = append(fs, append([]byte(nil), p.Bytes()...))
	}
	return fs
}

func freeAll(pkts []*pkt.Packet) {
	for _, p := range pkts {
		if p != nil {
			p.Free()
		}
	}
}

// TestCoalesceRoundTrip: the segments of one super-frame merge back into
// one frame that, once its partial checksum is completed, is the
// super-frame byte for byte; segmenting it again gives the same segments.
func TestCoalesceRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for _, s := range []frameSpec{
		{payload: randPayload(r, 64000), mss: 1448, tcpOpts: tsOpt, flags: hdr.TCPFlagACK | hdr.TCPFlagPSH, id: 0xfffe, seq: 0xffffff00},
		{payload: randPayload(r, 65535-20-20), mss: 1460, flags: hdr.TCPFlagACK, id: 7},
		{payload: randPayload(r, 3000), mss: 1000, flags: hdr.TCPFlagACK, noDF: true},
		{v6: true, payload: randPayload(r, 60000), mss: 1428, tcpOpts: tsOpt, flags: hdr.TCPFlagACK | hdr.TCPFlagPSH},
		{v6: true, payload: randPayload(r, 1500), mss: 1000, flags: hdr.TCPFlagACK},
	} {
		pool := pkt.NewPool("t", 256)
		orig, _, _ := build(&s)
		segs := segmentSpec(t, pool, &s)
		want := frameBytes(segs)
		batch := append([]*pkt.Packet(nil), segs...)
		n, merged := Coalesce(batch)
		if n != 1 || merged != len(segs)-1 {
			t.Fatalf("v6=%v: %d segments coalesced into %d (merged %d), want 1", s.v6, len(segs), n, merged)
		}
		p := batch[0]
		wantType := pkt.GSOTCPv4
		if s.v6 {
			wantType = pkt.GSOTCPv6
		}
		if p.GSO.Type != wantType || int(p.GSO.Size) != s.mss || !p.GSO.NeedsCsum {
			t.Fatalf("GSO %+v", p.GSO)
		}
		if got := resegment(t, pool, batch[:n]); len(got) != len(want) {
			t.Fatalf("resegmented into %d, want %d", len(got), len(want))
		} else {
			for i := range got {
				if !bytes.Equal(got[i], want[i]) {
					t.Fatalf("segment %d differs after the round trip", i)
				}
			}
		}
		if !CompleteChecksum(p) || !bytes.Equal(p.Bytes(), orig) {
			t.Fatalf("v6=%v: the coalesced frame is not the original super-frame", s.v6)
		}
		freeAll(batch[:n])
		if pool.Available() != pool.Size() {
			t.Fatal("leak")
		}
	}
}

// TestCoalesceRuns: what merges and what does not, and that frames keep
// their order.
func TestCoalesceRuns(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	base := frameSpec{payload: randPayload(r, 5*1000), mss: 1000, tcpOpts: tsOpt, flags: hdr.TCPFlagACK, id: 100, seq: 5000}
	type tc struct {
		name   string
		mutate func(segs []*pkt.Packet) []*pkt.Packet
		want   []int // segments per output frame
	}
	l4 := 14 + 20
	cases := []tc{
		{"all", func(s []*pkt.Packet) []*pkt.Packet { return s }, []int{5}},
		{"gap", func(s []*pkt.Packet) []*pkt.Packet { return []*pkt.Packet{s[0], s[1], s[3], s[4], s[2]} }, []int{2, 2, 1}},
		{"reordered", func(s []*pkt.Packet) []*pkt.Packet { return []*pkt.Packet{s[1], s[0], s[2], s[3], s[4]} }, []int{1, 1, 3}},
		{"bad checksum", func(s []*pkt.Packet) []*pkt.Packet {
			s[2].Bytes()[len(s[2].Bytes())-1] ^= 0x55
			return s
		}, []int{2, 1, 2}},
		{"PSH in the middle", func(s []*pkt.Packet) []*pkt.Packet {
			setTCP(s[1], l4, func(t hdr.TCP) { t.SetFlags(hdr.TCPFlagACK | hdr.TCPFlagPSH) })
			return s
		}, []int{2, 3}},
		{"FIN", func(s []*pkt.Packet) []*pkt.Packet {
			setTCP(s[3], l4, func(t hdr.TCP) { t.SetFlags(hdr.TCPFlagACK | hdr.TCPFlagFIN) })
			return s
		}, []int{3, 1, 1}},
		{"other timestamp", func(s []*pkt.Packet) []*pkt.Packet {
			setTCP(s[2], l4, func(t hdr.TCP) { t[20+7]++ })
			return s
		}, []int{2, 1, 2}},
		{"other window", func(s []*pkt.Packet) []*pkt.Packet {
			setTCP(s[1], l4, func(t hdr.TCP) { t.SetWindow(1) })
			return s
		}, []int{1, 1, 3}},
		{"other TTL", func(s []*pkt.Packet) []*pkt.Packet {
			ip := hdr.IPv4(s[4].Bytes()[14:])
			ip.SetTTL(3)
			ip.UpdateChecksum()
			return s
		}, []int{4, 1}},
		{"ID not consecutive", func(s []*pkt.Packet) []*pkt.Packet {
			ip := hdr.IPv4(s[3].Bytes()[14:])
			ip.SetID(7)
			ip.UpdateChecksum()
			return s
		}, []int{3, 1, 1}},
		{"non-TCP between", func(s []*pkt.Packet) []*pkt.Packet {
			u := s[2]
			hdr.IPv4(u.Bytes()[14:]).SetProtocol(hdr.IPProtoUDP)
			return s
		}, []int{2, 1, 2}},
		{"short segment ends the run", func(s []*pkt.Packet) []*pkt.Packet {
			s[1].Truncate(s[1].Len() - 10)
			ip := hdr.IPv4(s[1].Bytes()[14:])
			ip.SetTotalLen(ip.TotalLen() - 10)
			ip.UpdateChecksum()
			fixTCPChecksum(s[1], l4)
			return s
		}, []int{2, 3}},
	}
	for _, c := range cases {
		pool := pkt.NewPool("t", 64)
		segs := c.mutate(segmentSpec(t, pool, &base))
		in := frameBytes(segs)
		batch := append([]*pkt.Packet(nil), segs...)
		n, merged := Coalesce(batch)
		if n+merged != len(segs) {
			t.Fatalf("%s: n %d + merged %d != %d", c.name, n, merged, len(segs))
		}
		var got []int
		for _, p := range batch[:n] {
			k := 1
			if p.GSO.IsGSO() {
				k = (p.Len() - int(p.GSO.HdrLen) + int(p.GSO.Size) - 1) / int(p.GSO.Size)
			}
			got = append(got, k)
		}
		if !equalInts(got, c.want) {
			t.Errorf("%s: runs %v, want %v", c.name, got, c.want)
		}
		// Every merged run segments back into its frames.
		out := resegment(t, pool, batch[:n])
		if len(out) != len(in) {
			t.Fatalf("%s: %d frames after resegmenting, want %d", c.name, len(out), len(in))
		}
		for i := range in {
			if !bytes.Equal(out[i], in[i]) {
				t.Errorf("%s: frame %d differs after the round trip", c.name, i)
			}
		}
		for _, p := range batch[n:] {
			if p != nil {
				t.Fatalf("%s: tail not cleared", c.name)
			}
		}
		freeAll(batch[:n])
		if pool.Available() != pool.Size() {
			t.Fatalf("%s: leak", c.name)
		}
	}
}

func setTCP(p *pkt.Packet, l4 int, f func(hdr.TCP)) {
	f(hdr.TCP(p.Bytes()[l4:]))
	fixTCPChecksum(p, l4)
}

func fixTCPChecksum(p *pkt.Packet, l4 int) {
	ip := hdr.IPv4(p.Bytes()[14:])
	t := hdr.TCP(p.Bytes()[l4:])
	t.SetChecksum(hdr.TransportChecksum(ip.Src(), ip.Dst(), hdr.IPProtoTCP, t))
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestCoalesceLeavesOthers: super-frames, partial checksums, pure ACKs
// and non-IP frames pass untouched.
func TestCoalesceLeavesOthers(t *testing.T) {
	r := rand.New(rand.NewPCG(25, 26))
	pool := pkt.NewPool("t", 64)
	gsoP := makePacket(t, pool, &frameSpec{payload: randPayload(r, 4000), mss: 1000, flags: hdr.TCPFlagACK})
	ack1 := makePacket(t, pool, &frameSpec{flags: hdr.TCPFlagACK, seq: 1})
	ack2 := makePacket(t, pool, &frameSpec{flags: hdr.TCPFlagACK, seq: 1, id: 1})
	part1 := makePacket(t, pool, &frameSpec{payload: randPayload(r, 100), flags: hdr.TCPFlagACK, seq: 10, partial: true})
	part2 := makePacket(t, pool, &frameSpec{payload: randPayload(r, 100), flags: hdr.TCPFlagACK, seq: 110, id: 1, partial: true})
	for _, p := range []*pkt.Packet{ack1, ack2} {
		p.GSO = pkt.GSO{}
	}
	for _, p := range []*pkt.Packet{part1, part2} {
		p.GSO.Type = pkt.GSONone
	}
	arp := pool.Get()
	arp.SetBytes(make([]byte, 60))
	binary.BigEndian.PutUint16(arp.Bytes()[12:], hdr.EtherTypeARP)
	batch := []*pkt.Packet{gsoP, ack1, ack2, part1, part2, arp}
	want := frameBytes(batch)
	n, merged := Coalesce(batch)
	if n != 6 || merged != 0 {
		t.Fatalf("n %d merged %d", n, merged)
	}
	for i, p := range batch {
		if !bytes.Equal(p.Bytes(), want[i]) {
			t.Errorf("frame %d changed", i)
		}
	}
	freeAll(batch)
}

func TestCoalesceNoAllocs(t *testing.T) {
	r := rand.New(rand.NewPCG(27, 28))
	pool := pkt.NewPool("t", 128)
	s := frameSpec{payload: randPayload(r, 40000), mss: 1448, tcpOpts: tsOpt, flags: hdr.TCPFlagACK}
	p := makePacket(t, pool, &s)
	out := make([]*pkt.Packet, 64)
	if a := testing.AllocsPerRun(20, func() {
		n, ok := Segment(p, pool, out)
		if !ok {
			t.Fatal("segment")
		}
		m, _ := Coalesce(out[:n])
		if m != 1 {
			t.Fatalf("coalesced into %d", m)
		}
		out[0].Free()
		out[0] = nil
	}); a != 0 {
		t.Errorf("Coalesce: %v allocs", a)
	}
}

func BenchmarkCoalesceTCPv4(b *testing.B) {
	r := rand.New(rand.NewPCG(29, 30))
	pool := pkt.NewPool("b", 128)
	s := frameSpec{payload: randPayload(r, 64000), mss: 1448, tcpOpts: tsOpt, flags: hdr.TCPFlagACK}
	p := makePacket(b, pool, &s)
	out := make([]*pkt.Packet, 64)
	b.SetBytes(int64(len(s.payload)))
	for b.Loop() {
		n, _ := Segment(p, pool, out)
		Coalesce(out[:n])
		out[0].Free()
		out[0] = nil
	}
}

// TestCoalesceUDP: datagrams of one UDP flow (tunnel packets) merge into a
// UDP-L4 (USO) super-frame that segments back into them; datagrams
// without a checksum merge too, and come back with one.
func TestCoalesceUDP(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	for _, v6 := range []bool{false, true} {
		pool := pkt.NewPool("t", 128)
		s := frameSpec{v6: v6, udp: true, payload: randPayload(r, 20*1508-100), mss: 1508}
		segs := segmentSpec(t, pool, &s)
		want := frameBytes(segs)
		batch := append([]*pkt.Packet(nil), segs...)
		n, merged := Coalesce(batch)
		if n != 1 || merged != len(segs)-1 {
			t.Fatalf("v6=%v: %d datagrams into %d", v6, len(segs), n)
		}
		g := batch[0].GSO
		if g.Type != pkt.GSOUDPL4 || g.Size != 1508 || !g.NeedsCsum || int(g.CsumOffset) != 6 {
			t.Fatalf("GSO %+v", g)
		}
		got := resegment(t, pool, batch[:1])
		if len(got) != len(want) {
			t.Fatalf("%d datagrams back, want %d", len(got), len(want))
		}
		for i := range got {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("datagram %d differs", i)
			}
		}
		freeAll(batch[:1])

		// No checksum (0): merged, and given one by the segmentation.
		segs = segmentSpec(t, pool, &s)
		l4 := 14 + 20
		if v6 {
			l4 = 14 + 40
		}
		for _, q := range segs {
			q.Bytes()[l4+6], q.Bytes()[l4+7] = 0, 0
		}
		batch = append(batch[:0], segs...)
		if n, _ = Coalesce(batch); n != 1 {
			t.Fatalf("zero-checksum datagrams: %d frames", n)
		}
		for i, f := range resegment(t, pool, batch[:1]) {
			if !bytes.Equal(mask(f), mask(want[i])) {
				t.Fatalf("datagram %d differs", i)
			}
			if f[l4+6] == 0 && f[l4+7] == 0 {
				t.Fatalf("datagram %d without checksum", i)
			}
		}
		freeAll(batch[:1])
		if pool.Available() != pool.Size() {
			t.Fatal("leak")
		}
	}
}

// For a port without UDP segmentation, CoalesceFor(pkts, false) leaves UDP
// datagrams as they are and still merges TCP segments.
func TestCoalesceForNoUDP(t *testing.T) {
	pool := pkt.NewPool("t", 64)
	for _, udp := range []bool{true, false} {
		s := frameSpec{udp: udp, payload: make([]byte, 4000), mss: 1000, flags: hdr.TCPFlagACK, id: 100, seq: 5000}
		segs := segmentSpec(t, pool, &s)
		batch := append([]*pkt.Packet(nil), segs...)
		n, merged := CoalesceFor(batch, false)
		if udp && (n != len(segs) || merged != 0) {
			t.Fatalf("udp: %d frames, %d merged; want them all as they were", n, merged)
		}
		if !udp && (n != 1 || merged != len(segs)-1) {
			t.Fatalf("tcp: %d frames, %d merged; want one", n, merged)
		}
		freeAll(batch[:n])
	}
	if pool.Available() != pool.Size() {
		t.Fatal("pool leaked")
	}
}

// TestCoalesceSuperFrames: super-frames with partial checksums (the halves
// MergeTunnelUSO makes of a sender's super-frame that crossed a tunnel in
// two datagram trains) merge like segments: the halves of one super-frame
// become it again, byte for byte once completed, and segment into the same
// segments; a PSH on a half does not end the run; plain segments join a
// super-frame's run; what would not segment back the same stays apart.
func TestCoalesceSuperFrames(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	for _, v6 := range []bool{false, true} {
		pool := pkt.NewPool("t", 512)
		whole := frameSpec{v6: v6, payload: randPayload(r, 44*1448+700), mss: 1448, tcpOpts: tsOpt,
			flags: hdr.TCPFlagACK | hdr.TCPFlagPSH, id: 0xfff0, seq: 0xffff0000, partial: true}
		complete := whole
		complete.partial = false
		orig, _, _ := build(&complete)
		wantSegs := segmentSpec(t, pool, &whole)
		want := frameBytes(wantSegs)
		freeAll(wantSegs)
		half := func(from, to int, flags uint8) *pkt.Packet {
			s := whole
			s.payload, s.flags = whole.payload[from:to], flags
			s.seq, s.id = whole.seq+uint32(from), whole.id+uint16(from/whole.mss)
			return makePacket(t, pool, &s)
		}
		cut := 22 * 1448
		// The first half carries PSH (the tail of a host super-frame
		// inside it, as MergeTunnelUSO leaves it): still one run.
		batch := []*pkt.Packet{half(0, cut, hdr.TCPFlagACK|hdr.TCPFlagPSH), half(cut, len(whole.payload), hdr.TCPFlagACK|hdr.TCPFlagPSH)}
		n, merged := Coalesce(batch)
		if n != 1 || merged != 1 {
			t.Fatalf("v6=%v: two halves coalesced into %d (merged %d)", v6, n, merged)
		}
		p := batch[0]
		if int(p.GSO.Size) != whole.mss || !p.GSO.NeedsCsum || int(p.GSO.HdrLen) != len(orig)-len(whole.payload) {
			t.Fatalf("v6=%v: GSO %+v", v6, p.GSO)
		}
		got := resegment(t, pool, batch[:n])
		if len(got) != len(want) {
			t.Fatalf("v6=%v: resegmented into %d, want %d", v6, len(got), len(want))
		}
		for i := range got {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("v6=%v: segment %d differs after the round trip", v6, i)
			}
		}
		if !CompleteChecksum(p) || !bytes.Equal(p.Bytes(), orig) {
			t.Fatalf("v6=%v: the merged halves are not the original super-frame", v6)
		}
		freeAll(batch[:n])

		// A super-frame, then the plain segments that follow it: one run.
		segs := segmentSpec(t, pool, &whole)
		batch = append([]*pkt.Packet{half(0, cut, hdr.TCPFlagACK)}, segs[22:]...)
		if n, _ := Coalesce(batch); n != 1 {
			t.Fatalf("v6=%v: super-frame and %d segments coalesced into %d", v6, len(segs)-22, n)
		}
		if got := resegment(t, pool, batch[:1]); len(got) != len(want) || !bytes.Equal(got[len(got)-1], want[len(want)-1]) {
			t.Fatalf("v6=%v: super-frame + segments do not segment back", v6)
		}
		freeAll(batch[:1])
		freeAll(segs[:22])

		// Not merged: a first half that ends mid-segment, another
		// segment size, a gap in the sequence, a complete checksum
		// (GSO without a partial checksum is not this host's).
		for name, b := range map[string][]*pkt.Packet{
			"short": {half(0, cut-1, hdr.TCPFlagACK), half(cut-1, len(whole.payload), hdr.TCPFlagACK)},
			"gap":   {half(0, cut, hdr.TCPFlagACK), half(cut+1448, len(whole.payload), hdr.TCPFlagACK)},
			"mss":   {half(0, cut, hdr.TCPFlagACK), func() *pkt.Packet { q := half(cut, len(whole.payload), hdr.TCPFlagACK); q.GSO.Size = 1000; return q }()},
			"nocsum": {half(0, cut, hdr.TCPFlagACK), func() *pkt.Packet {
				q := half(cut, len(whole.payload), hdr.TCPFlagACK)
				q.GSO.NeedsCsum = false
				return q
			}()},
			"wrongid": {half(0, cut, hdr.TCPFlagACK), func() *pkt.Packet {
				s := whole
				s.payload, s.seq, s.id, s.noDF = whole.payload[cut:], whole.seq+uint32(cut), 3, true
				return makePacket(t, pool, &s)
			}()},
		} {
			if v6 && name == "wrongid" {
				freeAll(b)
				continue
			}
			if n, merged := Coalesce(b); n != 2 || merged != 0 {
				t.Errorf("v6=%v %s: coalesced into %d", v6, name, n)
			}
			freeAll(b)
		}
		if pool.Available() != pool.Size() {
			t.Fatalf("v6=%v: leak", v6)
		}
	}
}
