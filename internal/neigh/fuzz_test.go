package neigh

import (
	"slices"
	"testing"
)

// FuzzTableModel drives the table (manager included) and the reference
// model with an operation sequence decoded from the input and compares
// everything observable after each operation.
func FuzzTableModel(f *testing.F) {
	f.Add([]byte{0})
	f.Add([]byte{1, 0, 0, 0, 0, 80, 0, 0, 0, 30, 0, 1, 0, 90, 3, 0, 0})
	f.Add([]byte{2, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 90, 9, 0, 0, 90, 9, 0, 0})
	f.Add([]byte{3, 60, 1, 1, 8, 60, 1, 1, 16, 40, 2, 0, 3, 70, 5, 0, 0})
	g := &pcg{s: 5}
	for i := 0; i < 4; i++ {
		b := make([]byte, 200)
		for j := range b {
			b[j] = byte(g.next())
		}
		f.Add(b)
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range modelConfigs() {
			if !yield(n) {
				return
			}
		}
	})
	cfgs := modelConfigs()
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		if len(data) > 4000 {
			data = data[:4000]
		}
		p := newPair(t, uint64(data[0])+1, cfgs[names[int(data[0])%len(names)]])
		data = data[1:]
		for len(data) > 0 {
			o, n := decodeOp(data)
			p.apply(o)
			data = data[n:]
		}
	})
}

// FuzzPending drives a Pending queue and its model; every packet must come
// out exactly once.
func FuzzPending(f *testing.F) {
	f.Add([]byte{0x35})
	f.Add([]byte{0x12, 0, 1, 0, 1, 3, 0, 7, 0x81, 3, 0, 8, 3, 3, 0, 8, 3, 3, 0})
	f.Add([]byte{0x44, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0, 3, 0, 6, 0, 3, 0})
	g := &pcg{s: 11}
	for i := 0; i < 4; i++ {
		b := make([]byte, 300)
		for j := range b {
			b[j] = byte(g.next())
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 6000 {
			data = data[:6000]
		}
		runPendingModel(t, data)
	})
}
