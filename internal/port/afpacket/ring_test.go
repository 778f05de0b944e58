package afpacket

import (
	"bytes"
	"encoding/binary"
	"testing"

	"flowpath/internal/pkt"
	"flowpath/internal/sys"
)

// fakeFrame describes one frame for buildBlock.
type fakeFrame struct {
	data    []byte
	wire    int // tp_len (defaults to len(data))
	outgoin bool
	vlan    uint16 // TCI to report as stripped (0 = none)
	gso     pkt.GSO
}

// buildBlock lays frames out in a TPACKET_V3 block the way the kernel
// does, with the virtio-net header right before each frame.
func buildBlock(bs int, frames []fakeFrame) []byte {
	blk := make([]byte, bs)
	binary.NativeEndian.PutUint32(blk[sys.BlockStatusOff:], sys.TpStatusUser)
	binary.NativeEndian.PutUint32(blk[sys.BlockNumPktsOff:], uint32(len(frames)))
	binary.NativeEndian.PutUint32(blk[sys.BlockFirstPktOff:], 48)
	off := 48
	for i, f := range frames {
		h := blk[off:]
		mac := 96 // past tpacket3_hdr, sockaddr_ll and the vnet header
		wire := f.wire
		if wire == 0 {
			wire = len(f.data)
		}
		binary.NativeEndian.PutUint32(h[sys.PktSnaplenOff:], uint32(len(f.data)))
		binary.NativeEndian.PutUint32(h[sys.PktLenOff:], uint32(wire))
		binary.NativeEndian.PutUint16(h[sys.PktMacOff:], uint16(mac))
		var status uint32
		if f.vlan != 0 {
			status |= sys.TpStatusVLANValid
			binary.NativeEndian.PutUint32(h[sys.PktVLANTCIOff:], uint32(f.vlan))
		}
		binary.NativeEndian.PutUint32(h[sys.PktStatusOff:], status)
		if f.outgoin {
			h[sys.PktTypeOff] = sys.PacketOutgoing
		}
		f.gso.EncodeVnetHdr(h[mac-pkt.VnetHdrLen:])
		copy(h[mac:], f.data)
		next := (mac + len(f.data) + 15) &^ 15
		if i < len(frames)-1 {
			binary.NativeEndian.PutUint32(h[sys.PktNextOff:], uint32(next))
		}
		off += next
	}
	return blk
}

// fakeQueue is a receive queue over an in-memory ring.
func fakeQueue(ring []byte, bs int) *rxQueue {
	p := &Port{vnet: true}
	return &rxQueue{p: p, ring: ring, bs: bs, nb: len(ring) / bs}
}

func TestDrainBlock(t *testing.T) {
	const bs = 1 << 16
	f1 := bytes.Repeat([]byte{0xab}, 60)
	f2 := bytes.Repeat([]byte{0xcd}, 3000)
	tagged := append([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x08, 0x00}, make([]byte, 50)...)
	g := pkt.GSO{Type: pkt.GSOTCPv4, Size: 1448, HdrLen: 66, NeedsCsum: true, CsumStart: 34, CsumOffset: 16}
	ring := append(buildBlock(bs, []fakeFrame{
		{data: f1},
		{data: f2, gso: g},
		{data: f1, outgoin: true},    // skipped
		{data: f1[:40], wire: 60},    // truncated: dropped
		{data: tagged, vlan: 0xa007}, // tag reinserted
	}), buildBlock(bs, []fakeFrame{{data: f2}})...)
	q := fakeQueue(ring, bs)
	pool := pkt.NewPool("t", 16)
	got := make([]*pkt.Packet, 2)
	n, starved := q.drain(pool, got)
	if n != 2 || starved || !bytes.Equal(got[0].Bytes(), f1) || !bytes.Equal(got[1].Bytes(), f2) || got[1].GSO != g {
		t.Fatalf("first drain: %d", n)
	}
	pool.PutBatch(got[:n])
	got = make([]*pkt.Packet, 8)
	n, _ = q.drain(pool, got)
	if n != 2 {
		t.Fatalf("second drain: %d", n)
	}
	want := append(append(append([]byte{}, tagged[:12]...), 0x81, 0x00, 0xa0, 0x07), tagged[12:]...)
	if !bytes.Equal(got[0].Bytes(), want) || !bytes.Equal(got[1].Bytes(), f2) {
		t.Fatal("tagged frame or second block")
	}
	if q.dropped.Load() != 1 || q.packets.Load() != 4 {
		t.Fatalf("dropped %d packets %d", q.dropped.Load(), q.packets.Load())
	}
	// Both blocks went back to the kernel; nothing more to read.
	for b := 0; b < 2; b++ {
		if sys.LoadUint32(ring[b*bs:], sys.BlockStatusOff) != sys.TpStatusKernel {
			t.Fatalf("block %d not returned", b)
		}
	}
	pool.PutBatch(got[:n])
	if n, _ := q.drain(pool, got); n != 0 {
		t.Fatal("read a kernel block")
	}
}

// refBlock is the slow reference for one block: the frames a correct
// reader delivers, read with plain bounds-checked walking.
func refBlock(blk []byte) (frames [][]byte, gsos []pkt.GSO) {
	num := int(binary.NativeEndian.Uint32(blk[sys.BlockNumPktsOff:]))
	off := int(binary.NativeEndian.Uint32(blk[sys.BlockFirstPktOff:]))
	for i := 0; i < num; i++ {
		if off < 0 || off+frameHdrMin > len(blk) {
			return
		}
		h := blk[off:]
		next := int(binary.NativeEndian.Uint32(h))
		if i < num-1 && next < frameHdrMin {
			return
		}
		snap := int(binary.NativeEndian.Uint32(h[sys.PktSnaplenOff:]))
		wire := int(binary.NativeEndian.Uint32(h[sys.PktLenOff:]))
		status := binary.NativeEndian.Uint32(h[sys.PktStatusOff:])
		mac := int(binary.NativeEndian.Uint16(h[sys.PktMacOff:]))
		var g pkt.GSO
		ok := h[sys.PktTypeOff] != sys.PacketOutgoing && snap == wire && snap >= 14 &&
			mac >= frameHdrMin+pkt.VnetHdrLen && mac+snap <= len(h) && g.DecodeVnetHdr(h[mac-10:mac])
		if ok {
			f := append([]byte(nil), h[mac:mac+snap]...)
			if status&sys.TpStatusVLANValid != 0 {
				tag := []byte{0x81, 0x00, 0, 0}
				if status&sys.TpStatusVLANTPIDValid != 0 {
					binary.BigEndian.PutUint16(tag, binary.NativeEndian.Uint16(h[sys.PktVLANTPID:]))
				}
				binary.BigEndian.PutUint16(tag[2:], uint16(binary.NativeEndian.Uint32(h[sys.PktVLANTCIOff:])))
				f = append(append(append([]byte{}, f[:12]...), tag...), f[12:]...)
				if g.NeedsCsum {
					g.CsumStart += 4
				}
				if g.HdrLen != 0 {
					g.HdrLen += 4
				}
			}
			if len(f) <= pkt.MaxFrame {
				frames = append(frames, f)
				gsos = append(gsos, g)
			}
		}
		off += next
	}
	return
}

// FuzzRing feeds arbitrary block contents to the ring reader: it must not
// panic or loop, must deliver what the reference walk delivers, and must
// hand the block back.
func FuzzRing(f *testing.F) {
	const bs = 8192
	f.Add(buildBlock(bs, []fakeFrame{{data: make([]byte, 60)}, {data: make([]byte, 100), vlan: 5}}))
	f.Add(buildBlock(bs, []fakeFrame{{data: make([]byte, 14), gso: pkt.GSO{Type: pkt.GSOUDPL4, Size: 1}}, {data: make([]byte, 20), outgoin: true}}))
	f.Add(buildBlock(bs, nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		blk := make([]byte, bs)
		copy(blk, data)
		binary.NativeEndian.PutUint32(blk[sys.BlockStatusOff:], sys.TpStatusUser)
		want, wantG := refBlock(blk)
		q := fakeQueue(append([]byte(nil), blk...), bs)
		pool := pkt.NewPool("fuzz", 4)
		got := make([]*pkt.Packet, 3)
		var frames [][]byte
		var gsos []pkt.GSO
		for i := 0; ; i++ {
			if i > 10000 {
				t.Fatal("reader does not finish the block")
			}
			n, _ := q.drain(pool, got)
			for _, p := range got[:n] {
				frames = append(frames, append([]byte(nil), p.Bytes()...))
				gsos = append(gsos, p.GSO)
			}
			pool.PutBatch(got[:n])
			if n == 0 {
				break
			}
		}
		if len(frames) != len(want) {
			t.Fatalf("%d frames, reference %d", len(frames), len(want))
		}
		for i := range frames {
			if !bytes.Equal(frames[i], want[i]) || gsos[i] != wantG[i] {
				t.Fatalf("frame %d differs", i)
			}
		}
		if sys.LoadUint32(q.ring, sys.BlockStatusOff) != sys.TpStatusKernel {
			t.Fatal("block not handed back")
		}
	})
}
