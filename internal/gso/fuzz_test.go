package gso

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"flowpath/internal/hdr"
	"flowpath/internal/pkt"
)

// FuzzGSO feeds random frames with random GSO state to Segment,
// FragmentIPv4 and CompleteChecksum. Nothing may panic, every packet taken
// from the pool must be in out or back in the pool, and whatever is
// produced must be well formed: valid IP headers with right checksums, and
// for segments right L4 checksums (checked the naive way).
func FuzzGSO(f *testing.F) {
	r := rand.New(rand.NewPCG(31, 32))
	for i, s := range []*frameSpec{
		{payload: randPayload(r, 3000), mss: 1000, partial: true, flags: hdr.TCPFlagACK | hdr.TCPFlagFIN},
		{v6: true, payload: randPayload(r, 2500), mss: 700, tcpOpts: tsOpt, flags: hdr.TCPFlagACK},
		{udp: true, payload: randPayload(r, 1000), mss: 300, vlans: 1, partial: true},
		{udp: true, ufo: true, noDF: true, payload: randPayload(r, 2000), mss: 600, partial: true},
		{udp: true, noDF: true, payload: randPayload(r, 1200), ipOpts: []byte{0x94, 4, 0, 0, 0x07, 3, 4, 0}},
	} {
		fr, l3, l4 := build(s)
		typ := []uint8{1, 4, 5, 3, 0}[i]
		f.Add(fr, typ, uint16(s.mss), uint16(l4), uint16(hdr.ChecksumOffset(hdr.IPProtoTCP)), s.partial, uint16(l3), uint16(576))
	}
	pool := pkt.NewPool("fuzz", 64)
	out := make([]*pkt.Packet, 48)
	f.Fuzz(func(t *testing.T, frame []byte, typ uint8, size, cstart, coff uint16, needs bool, l3 uint16, mtu uint16) {
		if pool.Available() != pool.Size() {
			// An earlier input failed half-way; start clean so the
			// minimizer sees that input's own failure.
			pool = pkt.NewPool("fuzz", 64)
		}
		p := pool.Get()
		if !p.SetBytes(frame) {
			p.Free()
			return
		}
		p.GSO = pkt.GSO{Type: pkt.GSOType(typ % 6), Size: size, CsumStart: cstart, CsumOffset: coff, NeedsCsum: needs}
		if l3 < 200 {
			p.L3 = l3
		}
		avail := pool.Available()

		n, ok := Segment(p, pool, out)
		if pool.Available() != avail-n || (!ok && n != 0) {
			t.Fatalf("Segment: n %d ok %v, pool %d -> %d", n, ok, avail, pool.Available())
		}
		for _, q := range out[:n] {
			if p.GSO.Type == pkt.GSOUDP && n == 1 {
				break // UFO of a datagram that fits: copied as it is
			}
			checkOutput(t, q, p.GSO.Type != pkt.GSOUDP)
		}
		pool.PutBatch(out[:n])

		n, ok = FragmentIPv4(p, int(mtu), pool, out)
		if pool.Available() != avail-n || (!ok && n != 0) {
			t.Fatalf("FragmentIPv4: n %d ok %v, pool %d -> %d", n, ok, avail, pool.Available())
		}
		if n == 1 {
			// A packet that fits is copied as it is, bad checksum and all.
			if q := out[0].Bytes(); !bytes.Equal(q, p.Bytes()[:len(q)]) {
				t.Fatal("packet that fits not copied as is")
			}
		}
		for _, q := range out[:n] {
			if n == 1 {
				break
			}
			checkOutput(t, q, false)
			if int(hdr.IPv4(q.Bytes()[q.L3:]).TotalLen()) > int(mtu) {
				t.Fatal("fragment larger than mtu")
			}
		}
		pool.PutBatch(out[:n])

		// The completed field c and the partial P it replaced satisfy
		// sum(region with c) + P == 0 (ones' complement): c = ~(rest + P).
		start, field := int(p.GSO.CsumStart), int(p.GSO.CsumStart)+int(p.GSO.CsumOffset)
		var partial uint64
		if field+2 <= p.Len() {
			partial = uint64(p.Bytes()[field])<<8 | uint64(p.Bytes()[field+1])
		}
		if CompleteChecksum(p) && needs {
			b := p.Bytes()
			end := len(b)
			if l3, v, ok := locateL3(p, b); ok {
				if e, ok := ipEnd(b, l3, v); ok {
					end = e
				}
			}
			if naiveFold(naiveSum(b[start:end], partial)) != 0 {
				t.Fatal("completed checksum does not verify")
			}
		}
		p.Free()
		if pool.Available() != pool.Size() {
			t.Fatal("leak")
		}
	})
}

// checkOutput verifies one produced frame: the IP header at q.L3 is valid
// with a right checksum (IPv4), and with l4 the transport checksum too.
func checkOutput(t *testing.T, q *pkt.Packet, l4 bool) {
	t.Helper()
	b := q.Bytes()
	if int(q.L3) >= len(b) {
		t.Fatalf("L3 %d outside frame of %d", q.L3, len(b))
	}
	ipb := b[q.L3:]
	var proto uint8
	var src, dst = v4A, v4B
	switch ipb[0] >> 4 {
	case 4:
		ip := hdr.IPv4(ipb)
		if !ip.IsValid() || !ipv4HeaderOK(ipb[:ip.HeaderLen()]) || int(ip.TotalLen()) != len(ipb) {
			t.Fatal("bad IPv4 header out")
		}
		proto, src, dst = ip.Protocol(), ip.Src(), ip.Dst()
	case 6:
		ip := hdr.IPv6(ipb)
		if !ip.IsValid() || int(ip.PayloadLen())+hdr.IPv6Len != len(ipb) {
			t.Fatal("bad IPv6 header out")
		}
		var ok bool
		proto, _, _, ok = hdr.IPv6Transport(ip)
		if !ok {
			t.Fatal("IPv6 chain broken")
		}
		src, dst = ip.Src(), ip.Dst()
	default:
		t.Fatal("not IP out")
	}
	if l4 {
		if int(q.L4) > len(b) || !l4ChecksumOK(src, dst, proto, b[q.L4:]) {
			t.Fatalf("segment L4 checksum (proto %d)", proto)
		}
	}
}
