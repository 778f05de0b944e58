package pkt

import (
	"bytes"
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

func TestNoAllocations(t *testing.T) {
	pool := NewPool("t", 4)
	var hdr [VnetHdrLen]byte
	var g GSO
	n := testing.AllocsPerRun(1000, func() {
		p := pool.Get()
		p.SetFrame(100)
		p.Prepend(50)
		p.Pull(10)
		g.DecodeVnetHdr(hdr[:])
		g.EncodeVnetHdr(hdr[:])
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
