package gso

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"flowpath/internal/hdr"
	"flowpath/internal/pkt"

	"github.com/google/gopacket/layers"
)

// checkSegments verifies out[:n] as the segmentation of super-frame spec s
// with gopacket and naive checksums, and returns the concatenated payload.
func checkSegments(t *testing.T, s *frameSpec, p *pkt.Packet, out []*pkt.Packet, n int) {
	t.Helper()
	want := (len(s.payload) + s.mss - 1) / s.mss
	if want == 0 {
		want = 1
	}
	if n != want {
		t.Fatalf("%d segments, want %d", n, want)
	}
	var got []byte
	for i, q := range out[:n] {
		f := q.Bytes()
		gp := decodeGP(t, f)
		if q.InPort != p.InPort || q.Mark != p.Mark || q.Hash != p.Hash || q.OutPort != p.OutPort ||
			!q.Meta.Equal(&p.Meta) || q.GSO.IsGSO() || q.GSO.NeedsCsum {
			t.Fatalf("segment %d: metadata not copied: %+v", i, q.GSO)
		}
		if !bytes.Equal(f[:12], concat(macB[:], macA[:])) {
			t.Fatal("ethernet header")
		}
		last := i == n-1
		var pl []byte
		var src, dst = v4A, v4B
		if s.v6 {
			src, dst = v6A, v6B
			ip := gp.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
			if int(ip.Length) != len(f)-int(q.L3)-40 || ip.FlowLabel != 0x12345 {
				t.Fatalf("segment %d: ipv6 length %d", i, ip.Length)
			}
		} else {
			ip := gp.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
			if int(ip.Length) != len(f)-int(q.L3) || ip.Id != s.id+uint16(i) || ip.Flags != layers.IPv4DontFragment {
				t.Fatalf("segment %d: ipv4 len %d id %d", i, ip.Length, ip.Id)
			}
			if !ipv4HeaderOK(f[q.L3 : int(q.L3)+int(ip.IHL)*4]) {
				t.Fatalf("segment %d: ipv4 header checksum", i)
			}
			if len(ip.Options) != 0 != (len(s.ipOpts) != 0) {
				t.Fatalf("segment %d: options lost", i)
			}
		}
		l4 := f[q.L4:]
		if s.udp {
			u := gp.Layer(layers.LayerTypeUDP).(*layers.UDP)
			if int(u.Length) != len(l4) || u.SrcPort != 4000 {
				t.Fatalf("segment %d: udp length %d of %d", i, u.Length, len(l4))
			}
			if c := gpUDPChecksum(t, gp); c != u.Checksum || !l4ChecksumOK(src, dst, hdr.IPProtoUDP, l4) {
				t.Fatalf("segment %d: udp checksum %#x, gopacket %#x", i, u.Checksum, c)
			}
			pl = u.Payload
		} else {
			tc := gp.Layer(layers.LayerTypeTCP).(*layers.TCP)
			if tc.Seq != s.seq+uint32(i*s.mss) {
				t.Fatalf("segment %d: seq %d", i, tc.Seq)
			}
			if tc.FIN != (last && s.flags&hdr.TCPFlagFIN != 0) || tc.PSH != (last && s.flags&hdr.TCPFlagPSH != 0) ||
				tc.CWR != (i == 0 && s.flags&hdr.TCPFlagCWR != 0) || tc.ACK != (s.flags&hdr.TCPFlagACK != 0) ||
				tc.ECE != (s.flags&hdr.TCPFlagECE != 0) {
				t.Fatalf("segment %d: flags %+v", i, tc)
			}
			if c := gpTCPChecksum(t, gp); c != tc.Checksum || !l4ChecksumOK(src, dst, hdr.IPProtoTCP, l4) {
				t.Fatalf("segment %d: tcp checksum %#x, gopacket %#x", i, tc.Checksum, c)
			}
			if !bytes.Equal(tc.Contents[20:], s.tcpOpts) {
				t.Fatal("tcp options")
			}
			pl = tc.Payload
		}
		if len(pl) > s.mss || (!last && len(pl) != s.mss) {
			t.Fatalf("segment %d: payload %d", i, len(pl))
		}
		got = append(got, pl...)
	}
	if !bytes.Equal(got, s.payload) {
		t.Fatalf("payload concatenation differs (%d vs %d bytes)", len(got), len(s.payload))
	}
}

func runSegment(t *testing.T, s *frameSpec) {
	t.Helper()
	pool := pkt.NewPool("t", 128)
	p := makePacket(t, pool, s)
	before := append([]byte(nil), p.Bytes()...)
	avail := pool.Available()
	out := make([]*pkt.Packet, 100)
	n, ok := Segment(p, pool, out)
	if !ok {
		t.Fatal("Segment failed")
	}
	if pool.Available() != avail-n {
		t.Fatal("pool accounting")
	}
	if !bytes.Equal(before, p.Bytes()) {
		t.Fatal("Segment changed its input")
	}
	checkSegments(t, s, p, out, n)
	pool.PutBatch(out[:n])
	p.Free()
	if pool.Available() != pool.Size() {
		t.Fatal("leak")
	}
}

var tsOpt = []byte{1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2}

func TestSegmentTCPv4(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	// The largest IPv4 super-frame: total length 65535.
	big := randPayload(r, 65535-20-32)
	for _, s := range []*frameSpec{
		{payload: big, tcpOpts: tsOpt, mss: 1448, id: 65530, seq: 0xffffff00, partial: true,
			flags: hdr.TCPFlagACK | hdr.TCPFlagPSH | hdr.TCPFlagFIN | hdr.TCPFlagCWR | hdr.TCPFlagECE},
		{payload: big[:10000], vlans: 1, mss: 1000, flags: hdr.TCPFlagACK, setL3: true},
		{payload: big[:4001], vlans: 2, mss: 1460, flags: hdr.TCPFlagACK | hdr.TCPFlagPSH, partial: true,
			ipOpts: []byte{0x94, 4, 0, 0}}, // router alert option
		{payload: big[:100], mss: 1448, flags: hdr.TCPFlagACK | hdr.TCPFlagFIN}, // one segment
		{payload: nil, mss: 1448, flags: hdr.TCPFlagACK | hdr.TCPFlagFIN},       // headers only
		{payload: big[:999], mss: 1, flags: hdr.TCPFlagACK},                     // maximum split... bounded by out
	} {
		if len(s.payload) > 100*s.mss {
			s.payload = s.payload[:99*s.mss+1]
		}
		runSegment(t, s)
	}
}

func TestSegmentTCPv6(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	dstOpts := []byte{hdr.IPProtoTCP, 0, 1, 4, 0, 0, 0, 0} // PadN
	routed := []byte{hdr.IPProtoTCP, 0, 0, 0, 0, 0, 0, 0}  // routing, segments left 0
	for _, s := range []*frameSpec{
		{v6: true, payload: randPayload(r, 65535-32), tcpOpts: tsOpt, mss: 1428, partial: true, seq: 7,
			flags: hdr.TCPFlagACK | hdr.TCPFlagPSH},
		{v6: true, vlans: 1, payload: randPayload(r, 9000), mss: 1440, v6Ext: dstOpts, v6ExtNH: hdr.IPProtoDestOpts,
			flags: hdr.TCPFlagACK | hdr.TCPFlagFIN, setL3: true},
		{v6: true, payload: randPayload(r, 3000), mss: 1440, v6Ext: routed, v6ExtNH: hdr.IPProtoRouting,
			flags: hdr.TCPFlagACK},
	} {
		runSegment(t, s)
	}
}

func TestSegmentUDPL4(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, s := range []*frameSpec{
		{udp: true, payload: randPayload(r, 65535-28), mss: 1472, partial: true, id: 1},
		{udp: true, vlans: 1, payload: randPayload(r, 8000), mss: 1200},
		{udp: true, v6: true, payload: randPayload(r, 60000), mss: 1452, partial: true},
		{udp: true, v6: true, payload: randPayload(r, 1452*3), mss: 1452},
	} {
		runSegment(t, s)
	}
}

func TestSegmentRefuses(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	pool := pkt.NewPool("t", 64)
	out := make([]*pkt.Packet, 64)
	spec := func() *frameSpec {
		return &frameSpec{payload: randPayload(r, 20000), mss: 1448, flags: hdr.TCPFlagACK}
	}
	cases := map[string]func(p *pkt.Packet){
		"no gso":         func(p *pkt.Packet) { p.GSO.Type = pkt.GSONone },
		"size 0":         func(p *pkt.Packet) { p.GSO.Size = 0 },
		"v4 frame as v6": func(p *pkt.Packet) { p.GSO.Type = pkt.GSOTCPv6 },
		"tcp as udp":     func(p *pkt.Packet) { p.GSO.Type = pkt.GSOUDPL4 },
		"out too small":  func(p *pkt.Packet) { p.GSO.Size = 100 }, // 200 segments > 64
		"truncated":      func(p *pkt.Packet) { p.Truncate(p.Len() - 1) },
		"fragment": func(p *pkt.Packet) {
			ip := hdr.IPv4(p.Bytes()[14:])
			ip.SetFragment(false, true, 0)
		},
		"not ip": func(p *pkt.Packet) { hdr.Ethernet(p.Bytes()).SetEtherType(hdr.EtherTypeARP) },
		"bad tcp offset": func(p *pkt.Packet) {
			hdr.TCP(p.Bytes()[34:]).SetDataOffset(16)
		},
	}
	for name, mod := range cases {
		p := makePacket(t, pool, spec())
		mod(p)
		avail := pool.Available()
		if n, ok := Segment(p, pool, out); ok || n != 0 {
			t.Errorf("%s: Segment accepted (%d)", name, n)
		}
		if pool.Available() != avail {
			t.Errorf("%s: pool leaked", name)
		}
		p.Free()
	}
	// Pool exhaustion part-way: everything goes back.
	small := pkt.NewPool("small", 5)
	p := makePacket(t, small, spec()) // 14 segments needed, 4 left
	if n, ok := Segment(p, small, out); ok || n != 0 || small.Available() != 4 {
		t.Fatalf("exhausted pool: n %d ok %v available %d", n, ok, small.Available())
	}
	for _, q := range out {
		if q != nil {
			t.Fatal("out not cleared after failure")
		}
	}
	// IPv6 with a routing header that still has segments left.
	s := &frameSpec{v6: true, payload: randPayload(r, 3000), mss: 1000, v6ExtNH: hdr.IPProtoRouting,
		v6Ext: []byte{hdr.IPProtoTCP, 2, 0, 1, 0, 0, 0, 0, 16: 0, 23: 0}, flags: hdr.TCPFlagACK}
	p = makePacket(t, pool, s)
	if _, ok := Segment(p, pool, out); ok {
		t.Fatal("routed IPv6 accepted")
	}
	p.Free()
}

func TestCompleteChecksum(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	pool := pkt.NewPool("t", 4)
	for _, s := range []*frameSpec{
		{payload: randPayload(r, 1000), partial: true, vlans: 1},
		{udp: true, v6: true, payload: randPayload(r, 777), partial: true, noDF: true},
		{udp: true, payload: randPayload(r, 1), partial: true, noDF: true},
	} {
		p := makePacket(t, pool, s)
		p.GSO.Type = pkt.GSONone
		f := p.Bytes()
		// Ethernet padding must not be summed.
		f = append(f, 0xde, 0xad)
		p.SetBytes(f)
		if !CompleteChecksum(p) || p.GSO.NeedsCsum {
			t.Fatal("CompleteChecksum")
		}
		gp := decodeGP(t, p.Bytes())
		l4 := p.Bytes()[p.GSO.CsumStart : len(p.Bytes())-2]
		src, dst := v4A, v4B
		if s.v6 {
			src, dst = v6A, v6B
		}
		if s.udp {
			u := gp.Layer(layers.LayerTypeUDP).(*layers.UDP)
			if c := gpUDPChecksum(t, gp); c != u.Checksum || !l4ChecksumOK(src, dst, hdr.IPProtoUDP, l4) {
				t.Fatalf("udp %#x gopacket %#x", u.Checksum, c)
			}
		} else {
			tc := gp.Layer(layers.LayerTypeTCP).(*layers.TCP)
			if c := gpTCPChecksum(t, gp); c != tc.Checksum || !l4ChecksumOK(src, dst, hdr.IPProtoTCP, l4) {
				t.Fatalf("tcp %#x gopacket %#x", tc.Checksum, c)
			}
		}
		if !CompleteChecksum(p) {
			t.Fatal("second call: nothing to do is success")
		}
		// Out-of-frame offsets are refused without change.
		p.GSO.NeedsCsum = true
		p.GSO.CsumOffset = uint16(p.Len())
		before := append([]byte(nil), p.Bytes()...)
		if CompleteChecksum(p) || !p.GSO.NeedsCsum || !bytes.Equal(before, p.Bytes()) {
			t.Fatal("bad offset accepted")
		}
		p.Free()
	}
}

func TestNoAllocs(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	pool := pkt.NewPool("t", 200)
	out := make([]*pkt.Packet, 64)
	p := makePacket(t, pool, &frameSpec{payload: randPayload(r, 65000), mss: 1448, partial: true,
		flags: hdr.TCPFlagACK, noDF: true})
	if a := testing.AllocsPerRun(20, func() {
		n, ok := Segment(p, pool, out)
		if !ok {
			t.Fatal("segment")
		}
		pool.PutBatch(out[:n])
	}); a != 0 {
		t.Errorf("Segment: %v allocs", a)
	}
	hdr.IPv4(p.Bytes()[14:]).SetFragment(false, false, 0)
	if a := testing.AllocsPerRun(20, func() {
		n, ok := FragmentIPv4(p, 1500, pool, out)
		if !ok {
			t.Fatal("fragment")
		}
		pool.PutBatch(out[:n])
	}); a != 0 {
		t.Errorf("FragmentIPv4: %v allocs", a)
	}
	if a := testing.AllocsPerRun(20, func() {
		p.GSO.NeedsCsum = true
		CompleteChecksum(p)
	}); a != 0 {
		t.Errorf("CompleteChecksum: %v allocs", a)
	}
}

func BenchmarkSegmentTCPv4(b *testing.B) {
	r := rand.New(rand.NewPCG(13, 14))
	pool := pkt.NewPool("b", 64)
	out := make([]*pkt.Packet, 64)
	p := makePacket(b, pool, &frameSpec{payload: randPayload(r, 65535-52), tcpOpts: tsOpt, mss: 1448,
		partial: true, flags: hdr.TCPFlagACK})
	b.SetBytes(int64(p.Len()))
	for b.Loop() {
		n, ok := Segment(p, pool, out)
		if !ok {
			b.Fatal("segment")
		}
		pool.PutBatch(out[:n])
	}
}

func BenchmarkFragmentIPv4(b *testing.B) {
	r := rand.New(rand.NewPCG(15, 16))
	pool := pkt.NewPool("b", 64)
	out := make([]*pkt.Packet, 64)
	p := makePacket(b, pool, &frameSpec{udp: true, noDF: true, payload: randPayload(r, 65535-28), mss: 1480})
	hdr.IPv4(p.Bytes()[14:]).SetFragment(false, false, 0)
	b.SetBytes(int64(p.Len()))
	for b.Loop() {
		n, ok := FragmentIPv4(p, 1500, pool, out)
		if !ok {
			b.Fatal("fragment")
		}
		pool.PutBatch(out[:n])
	}
}
