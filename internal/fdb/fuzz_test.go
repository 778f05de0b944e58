package fdb

import "testing"

// byteSource turns fuzz input into decisions; an exhausted input decides 0.
type byteSource struct{ b []byte }

func (s *byteSource) n(k int) int {
	if len(s.b) == 0 || k <= 1 {
		return 0
	}
	var v int
	if k <= 256 {
		v = int(s.b[0])
		s.b = s.b[1:]
	} else {
		v = int(s.b[0])
		if len(s.b) > 1 {
			v = v<<8 | int(s.b[1])
			s.b = s.b[2:]
		} else {
			s.b = s.b[1:]
		}
	}
	return v % k
}

// FuzzTableModel drives the table (manager included) and the reference
// model with an operation sequence decoded from the input, comparing every
// result and, after every operation, everything observable.
func FuzzTableModel(f *testing.F) {
	f.Add([]byte{0})
	f.Add([]byte{0, 10, 4, 0, 1, 0, 3, 0, 0, 0, 45, 0, 4, 3, 0, 0, 1, 0, 0, 80})
	f.Add([]byte{2, 50, 1, 5, 2, 1, 1, 2, 80, 55, 2, 7, 2, 1, 1, 0, 80, 90, 9, 90, 9, 80})
	f.Add([]byte{4, 20, 1, 0, 0, 1, 3, 5, 1, 4, 21, 0, 1, 1, 3, 5, 2, 0, 0, 0, 1, 35, 1, 0})
	g := &pcg{s: 9}
	for i := 0; i < 6; i++ {
		b := make([]byte, 400)
		for j := range b {
			b[j] = byte(g.next())
		}
		b[0] = byte(i)
		f.Add(b)
	}
	cases := modelCases()
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		if len(data) > 5000 {
			data = data[:5000]
		}
		mc := cases[int(data[0])%len(cases)]
		if mc.macs > 64 {
			mc.macs = 64
		}
		p := newPair(t, mc.cfg, mc.workers, mc.macs)
		s := &byteSource{b: data[1:]}
		for len(s.b) > 0 {
			p.step(s)
			p.check()
		}
	})
}
