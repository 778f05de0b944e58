package pkt

import (
	"bytes"
	"encoding/binary"
	"testing"
)

func TestPacketBounds(t *testing.T) {
	pool := NewPool("t", 2)
	p := pool.Get()
	if p.Len() != 0 || p.Headroom() != DefaultHeadroom || p.Tailroom() != MaxFrame {
		t.Fatalf("fresh packet: len %d headroom %d tailroom %d", p.Len(), p.Headroom(), p.Tailroom())
	}
	if !p.SetBytes([]byte("abcdef")) || string(p.Bytes()) != "abcdef" {
		t.Fatal("SetBytes")
	}
	h := p.Prepend(2)
	copy(h, "xy")
	if string(p.Bytes()) != "xyabcdef" || p.Headroom() != DefaultHeadroom-2 {
		t.Fatalf("Prepend: %q", p.Bytes())
	}
	if p.Prepend(DefaultHeadroom) != nil || p.Prepend(-1) != nil {
		t.Fatal("Prepend beyond the headroom or negative must fail")
	}
	if !p.Pull(3) || string(p.Bytes()) != "bcdef" {
		t.Fatalf("Pull: %q", p.Bytes())
	}
	if p.Pull(6) || p.Pull(-1) {
		t.Fatal("Pull beyond the frame must fail")
	}
	copy(p.Append(2), "gh")
	if string(p.Bytes()) != "bcdefgh" {
		t.Fatalf("Append: %q", p.Bytes())
	}
	if p.Append(p.Tailroom()+1) != nil {
		t.Fatal("Append beyond the tailroom must fail")
	}
	if !p.Truncate(3) || string(p.Bytes()) != "bcd" || p.Truncate(4) || p.Truncate(-1) {
		t.Fatal("Truncate")
	}
	if p.SetFrame(MaxFrame+1) || p.SetFrame(-1) || p.SetBytes(make([]byte, MaxFrame+1)) {
		t.Fatal("frames larger than MaxFrame must be refused")
	}
	if !p.SetFrame(MaxFrame) || p.Tailroom() != 0 {
		t.Fatal("a MaxFrame frame fills the buffer")
	}
}

func TestPoolBoundedAndCounted(t *testing.T) {
	pool := NewPool("t", 3)
	var got []*Packet
	for i := 0; i < 3; i++ {
		p := pool.Get()
		if p == nil {
			t.Fatalf("Get %d failed", i)
		}
		got = append(got, p)
	}
	if pool.Get() != nil {
		t.Fatal("an empty pool must return nil")
	}
	if st := pool.Stats(); st.Exhausted != 1 || st.InUse != 3 {
		t.Fatalf("stats %+v", st)
	}
	got[0].Free()
	got[0].Free() // double free: counted, ignored
	if st := pool.Stats(); st.DoubleFree != 1 || pool.Available() != 1 {
		t.Fatalf("double free: %+v avail %d", st, pool.Available())
	}
	other := NewPool("o", 1)
	other.Put(got[1]) // foreign: handed to its own pool
	if other.Stats().Foreign != 1 || pool.Available() != 2 || other.Available() != 1 {
		t.Fatal("foreign Put must return the packet to its own pool")
	}
	out := make([]*Packet, 5)
	if n := pool.GetBatch(out); n != 2 {
		t.Fatalf("GetBatch got %d, want 2", n)
	}
	pool.PutBatch(out[:2])
	got[2].Free()
	if pool.Available() != 3 || pool.Stats().InUse != 0 {
		t.Fatal("every packet must be back")
	}
}

func TestGetClearsMetadata(t *testing.T) {
	pool := NewPool("t", 1)
	p := pool.Get()
	p.InPort, p.Mark, p.L3 = 3, 7, 14
	p.GSO.Type = GSOTCPv4
	p.Meta.SetPortMux(2, 9)
	p.SetBytes([]byte{1, 2, 3})
	p.Free()
	q := pool.Get()
	if q.InPort != 0 || q.Mark != 0 || q.L3 != 0 || q.GSO.IsGSO() || q.Meta.Kind != MetaNone || q.Len() != 0 {
		t.Fatalf("recycled packet keeps state: %+v", q)
	}
}

func TestCopyFrom(t *testing.T) {
	pool := NewPool("t", 2)
	p, q := pool.Get(), pool.Get()
	p.SetBytes([]byte("frame"))
	p.Prepend(1)[0] = '>'
	p.InPort, p.Hash = 4, 99
	q.CopyFrom(p)
	if !bytes.Equal(q.Bytes(), p.Bytes()) || q.InPort != 4 || q.Hash != 99 || q.Headroom() != p.Headroom() {
		t.Fatalf("copy differs: %q %+v", q.Bytes(), q)
	}
	q.Bytes()[0] = 'X'
	if p.Bytes()[0] != '>' {
		t.Fatal("the copy must not alias the original's buffer")
	}
	q.Free()
	p.Free()
	if pool.Available() != 2 {
		t.Fatal("CopyFrom must keep each packet's pool")
	}
}

func TestMetadata(t *testing.T) {
	var a, b Metadata
	if !a.Equal(&b) || a.TunnelInfo() != nil {
		t.Fatal("empty slots are equal and hold no tunnel")
	}
	var ti TunnelInfo
	ti.Key.ID = 10
	ti.Key.Dst[0], ti.Key.Dst[3] = 10, 1
	ti.Mode = TunnelModeTX
	if !ti.SetOptions([]byte{1, 2, 3, 4}, TunnelGeneveOpt) || ti.Key.Flags&TunnelGeneveOpt == 0 {
		t.Fatal("SetOptions")
	}
	if ti.SetOptions(make([]byte, MaxTunnelOpts+1), TunnelGeneveOpt) {
		t.Fatal("options over 255 bytes must be refused")
	}
	a.SetTunnel(&ti)
	b.SetTunnel(&ti)
	if !a.Equal(&b) || !a.TunnelInfo().IsTX() || a.TunnelInfo().IsIPv6() {
		t.Fatal("same tunnel info must compare equal")
	}
	b.Tunnel.Opts[3] = 9
	if a.Equal(&b) {
		t.Fatal("option bytes take part in the comparison")
	}
	b.Tunnel.Opts[3] = 4
	b.Tunnel.Opts[100] = 7 // beyond OptLen: not compared
	if !a.Equal(&b) {
		t.Fatal("bytes beyond OptLen must not be compared")
	}
	b.SetPortMux(3, 1)
	if a.Equal(&b) || b.TunnelInfo() != nil {
		t.Fatal("different kinds differ")
	}
	var c Metadata
	c.SetPortMux(3, 1)
	if !c.Equal(&b) {
		t.Fatal("same port mux compares equal")
	}
	c.SetPortMux(3, 2)
	if c.Equal(&b) {
		t.Fatal("port id takes part in the comparison")
	}
}

func TestVnetHdrRoundTrip(t *testing.T) {
	cases := []GSO{
		{},
		{Type: GSOTCPv4, NeedsCsum: true, HdrLen: 66, Size: 1448, CsumStart: 34, CsumOffset: 16},
		{Type: GSOTCPv6, ECN: true, NeedsCsum: true, HdrLen: 86, Size: 1428, CsumStart: 54, CsumOffset: 16},
		{Type: GSOUDPL4, NeedsCsum: true, HdrLen: 42, Size: 1400, CsumStart: 34, CsumOffset: 6},
		{DataValid: true},
	}
	for _, g := range cases {
		var b [VnetHdrLen]byte
		g.EncodeVnetHdr(b[:])
		var d GSO
		if !d.DecodeVnetHdr(b[:]) || d != g {
			t.Errorf("round trip %+v -> %x -> %+v", g, b, d)
		}
	}
	var d GSO
	if d.DecodeVnetHdr(make([]byte, VnetHdrLen-1)) {
		t.Error("a short header must be refused")
	}
	if d.DecodeVnetHdr([]byte{0, 2, 0, 0, 0, 0, 0, 0, 0, 0}) {
		t.Error("an unknown gso_type must be refused")
	}
}

// The UDP-tunnel header is struct virtio_net_hdr_v1_hash_tunnel, byte for
// byte: the plain header with the tunnel bits in flags and gso_type, zero
// num_buffers and hash fields, the two offsets at 20 and 22. Without a
// tunnel it is the plain header followed by zeros.
func TestVnetTunnelHdr(t *testing.T) {
	g := GSO{Type: GSOTCPv4, NeedsCsum: true, HdrLen: 104, Size: 1400, CsumStart: 84, CsumOffset: 16,
		OuterL4: 34, InnerL3: 64, TunnelCsum: true}
	b := make([]byte, VnetTunnelHdrLen)
	for i := range b {
		b[i] = 0xee // stale bytes must not survive
	}
	g.EncodeVnetTunnelHdr(b)
	want := []byte{1 | 8, 1 | 0x20, 104, 0, 0x78, 0x05, 84, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 34, 0, 64, 0}
	if !bytes.Equal(b, want) {
		t.Fatalf("IPv4 tunnel header\n got % x\nwant % x", b, want)
	}
	g.TunnelV6, g.TunnelCsum, g.Type, g.ECN = true, false, GSOTCPv6, true
	g.EncodeVnetTunnelHdr(b)
	if b[0] != 1 || b[1] != 4|0x40|0x80 {
		t.Fatalf("IPv6 tunnel flags %#x type %#x", b[0], b[1])
	}
	plain := GSO{Type: GSOTCPv4, NeedsCsum: true, HdrLen: 54, Size: 1448, CsumStart: 34, CsumOffset: 16}
	plain.EncodeVnetTunnelHdr(b)
	var short [VnetHdrLen]byte
	plain.EncodeVnetHdr(short[:])
	if !bytes.Equal(b[:VnetHdrLen], short[:]) || !bytes.Equal(b[VnetHdrLen:], make([]byte, VnetTunnelHdrLen-VnetHdrLen)) {
		t.Fatalf("plain frame in a tunnel-sized header: % x", b)
	}
	// What the kernel reads as tunnel GSO is nothing DecodeVnetHdr takes;
	// DecodeVnetTunnelHdr takes it as AF_PACKET reports such a frame: the
	// inner GSO, no tunnel fields.
	g.EncodeVnetTunnelHdr(b)
	var d GSO
	if d.DecodeVnetHdr(b) {
		t.Fatal("a tunnel GSO type must be refused by DecodeVnetHdr")
	}
	inner := g
	inner.OuterL4, inner.InnerL3, inner.TunnelV6, inner.TunnelCsum = 0, 0, false, false
	if !d.DecodeVnetTunnelHdr(b) || d != inner {
		t.Fatalf("tunnel header % x decodes to %+v, want %+v", b, d, inner)
	}
	plain.EncodeVnetTunnelHdr(b)
	if !d.DecodeVnetTunnelHdr(b) || d != plain {
		t.Fatalf("plain header in tunnel size decodes to %+v", d)
	}
	for name, mut := range map[string]func(b []byte){
		"both tunnel types":  func(b []byte) { b[1] |= 0x60 },
		"inner before outer": func(b []byte) { b[22] = 20 },
		"no outer offset":    func(b []byte) { b[20] = 0 },
		"UDP inside":         func(b []byte) { b[1] = 5 | 0x20 },
		"no partial csum":    func(b []byte) { b[0] &^= 1 },
	} {
		g.EncodeVnetTunnelHdr(b)
		mut(b)
		if d.DecodeVnetTunnelHdr(b) {
			t.Errorf("%s: % x accepted as %+v", name, b, d)
		}
	}
	if d.DecodeVnetTunnelHdr(b[:VnetTunnelHdrLen-1]) {
		t.Error("a short tunnel header must be refused")
	}
}

func TestNoAllocations(t *testing.T) {
	pool := NewPool("t", 4)
	var hdr [VnetHdrLen]byte
	var thdr [VnetTunnelHdrLen]byte
	var g GSO
	n := testing.AllocsPerRun(1000, func() {
		p := pool.Get()
		p.SetFrame(100)
		p.Prepend(50)
		p.Pull(10)
		g.DecodeVnetHdr(hdr[:])
		g.EncodeVnetHdr(hdr[:])
		g.EncodeVnetTunnelHdr(thdr[:])
		p.Free()
	})
	if n != 0 {
		t.Fatalf("%v allocations per run", n)
	}
}

func FuzzVnetHdr(f *testing.F) {
	f.Add([]byte{1, 1, 66, 0, 0xa8, 5, 34, 0, 16, 0})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{3, 0x84, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		var g GSO
		if !g.DecodeVnetHdr(b) {
			return
		}
		// What decodes re-encodes to the same bytes (modulo the ECN
		// bit, which only a GSO type carries, and unknown flag bits).
		var out [VnetHdrLen]byte
		g.EncodeVnetHdr(out[:])
		var h GSO
		if !h.DecodeVnetHdr(out[:]) || h != g && !(g.Type == GSONone && g.ECN) {
			t.Fatalf("%x decodes to %+v, re-encodes to %x -> %+v", b, g, out, h)
		}
	})
}

// FuzzVnetTunnelHdr: whatever DecodeVnetTunnelHdr takes is a plain GSO
// state (no tunnel fields) that the plain header carries unchanged, and a
// tunnel super-frame's inner checksum start lies behind both offsets.
func FuzzVnetTunnelHdr(f *testing.F) {
	g := GSO{Type: GSOTCPv4, NeedsCsum: true, HdrLen: 104, Size: 1400, CsumStart: 84, CsumOffset: 16,
		OuterL4: 34, InnerL3: 64, TunnelCsum: true}
	b := make([]byte, VnetTunnelHdrLen)
	g.EncodeVnetTunnelHdr(b)
	f.Add(b)
	f.Add(make([]byte, VnetTunnelHdrLen))
	f.Add([]byte{1, 0x41, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		var g GSO
		if !g.DecodeVnetTunnelHdr(b) {
			return
		}
		if g.OuterL4 != 0 || g.InnerL3 != 0 || g.TunnelV6 || g.TunnelCsum {
			t.Fatalf("%x decodes with tunnel fields %+v", b, g)
		}
		var out [VnetHdrLen]byte
		g.EncodeVnetHdr(out[:])
		var h GSO
		if !h.DecodeVnetHdr(out[:]) || h != g && !(g.Type == GSONone && g.ECN) {
			t.Fatalf("%x decodes to %+v, re-encodes to %x -> %+v", b, g, out, h)
		}
		if tun := b[1] & 0x60; tun != 0 && int(g.CsumStart) <= int(binary.LittleEndian.Uint16(b[22:])) {
			t.Fatalf("%x: checksum start %d not behind the inner header", b, g.CsumStart)
		}
	})
}
