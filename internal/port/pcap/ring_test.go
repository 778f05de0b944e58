package pcap

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// TestRingModel compares the transmit ring with a slice FIFO on random
// pushes and pops, including frames larger than the initial slot size.
func TestRingModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	type item struct {
		b  []byte
		ts int64
	}
	for round := 0; round < 30; round++ {
		size := 1 << rng.IntN(5)
		r := newRing(size)
		var model []item
		for op := 0; op < 1000; op++ {
			if rng.IntN(2) == 0 {
				b := make([]byte, rng.IntN(3*initialSlotCap))
				for i := range b {
					b[i] = byte(rng.Uint32())
				}
				ts := rng.Int64()
				ok := r.push(b, ts)
				if ok != (len(model) < size) {
					t.Fatalf("push ok=%v with %d/%d", ok, len(model), size)
				}
				if ok {
					model = append(model, item{b, ts})
				}
				continue
			}
			s := r.peek()
			if (s == nil) != (len(model) == 0) {
				t.Fatalf("peek nil=%v with %d queued", s == nil, len(model))
			}
			if s != nil {
				if !bytes.Equal(s.buf, model[0].b) || s.ts != model[0].ts {
					t.Fatal("wrong frame")
				}
				r.pop()
				model = model[1:]
			}
		}
	}
}
