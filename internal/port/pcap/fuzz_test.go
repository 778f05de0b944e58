package pcap

import (
	"bytes"
	"encoding/binary"
	"testing"

	"flowpath/internal/pkt"
)

// refParse is the slow reference reader: it walks the whole file in one
// slice and returns the frames a correct reader must deliver, and how many
// records it must count as dropped. ok is false if the header is refused.
func refParse(data []byte) (frames [][]byte, drops int, ok bool) {
	if len(data) < 24 {
		return nil, 0, false
	}
	var order binary.ByteOrder
	switch {
	case binary.LittleEndian.Uint32(data) == 0xa1b2c3d4 || binary.LittleEndian.Uint32(data) == 0xa1b23c4d:
		order = binary.LittleEndian
	case binary.BigEndian.Uint32(data) == 0xa1b2c3d4 || binary.BigEndian.Uint32(data) == 0xa1b23c4d:
		order = binary.BigEndian
	default:
		return nil, 0, false
	}
	if order.Uint32(data[20:])&0x0fffffff != 1 {
		return nil, 0, false
	}
	rest := data[24:]
	for len(rest) > 0 {
		if len(rest) < 16 {
			return frames, drops + 1, true
		}
		incl, orig := int(order.Uint32(rest[8:])), int(order.Uint32(rest[12:]))
		rest = rest[16:]
		if incl > len(rest) {
			return frames, drops + 1, true
		}
		if incl >= 14 && incl <= pkt.MaxFrame && incl >= orig {
			frames = append(frames, rest[:incl])
		} else {
			drops++
		}
		rest = rest[incl:]
	}
	return frames, drops, true
}

// FuzzReader: any input either is refused at New or yields exactly the
// reference parser's frames and drop count, without panicking or leaking
// packets.
func FuzzReader(f *testing.F) {
	fr := frame(64, 1)
	f.Add(buildFile(binary.LittleEndian, false, 1, []record{rec(fr), rec(frame(1514, 2))}))
	f.Add(buildFile(binary.BigEndian, true, 1, []record{rec(fr), {60, 100, fr[:60]}}))
	f.Add(buildFile(binary.LittleEndian, true, 1, []record{{10, 10, make([]byte, 10)}, {100, 100, fr}}))
	f.Add(buildFile(binary.LittleEndian, false, 1, []record{{0xffffffff, 0xffffffff, nil}}))
	f.Add(buildFile(binary.BigEndian, false, 105, nil))
	f.Add([]byte{0x0a, 0x0d, 0x0d, 0x0a})
	f.Fuzz(func(t *testing.T, data []byte) {
		want, wantDrops, ok := refParse(data)
		p, err := New(bytes.NewReader(data), nil)
		if (err == nil) != ok {
			t.Fatalf("New: %v, reference ok=%v", err, ok)
		}
		if err != nil {
			return
		}
		pool := pkt.NewPool("fuzz", 3)
		got := readAll(t, p, pool, 3)
		if len(got) != len(want) {
			t.Fatalf("%d frames, reference %d", len(got), len(want))
		}
		for i := range got {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("frame %d differs", i)
			}
		}
		if d := p.Stats().RxDropped; d != uint64(wantDrops) {
			t.Fatalf("%d drops, reference %d", d, wantDrops)
		}
		if pool.Stats().InUse != 0 {
			t.Fatal("leaked packets")
		}
	})
}
