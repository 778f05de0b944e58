package fdb

import (
	"fmt"
	"testing"
)

func benchTable(b *testing.B, n int) (*Table, [][6]byte) {
	tb := New(Config{Family: 4, VNI: 1, Port: 4789, Learning: true}, 1)
	macs := make([][6]byte, n)
	for i := range macs {
		macs[i] = [6]byte{2, 0, byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}
		if err := tb.Add(entry(macs[i], Permanent, dst("192.0.2.2")), OpAdd); err != nil {
			b.Fatal(err)
		}
	}
	return tb, macs
}

// BenchmarkLookup compares 1 and 100,000 entries. "hot": the same few MACs
// every time (the cost of the algorithm: hash + probe, all in cache);
// "spread": MACs drawn from the whole table (adds the memory system: a
// 100,000-entry table does not fit in L2).
func BenchmarkLookup(b *testing.B) {
	for _, n := range []int{1, 100_000} {
		tb, macs := benchTable(b, n)
		hot := make([][6]byte, 16)
		spread := make([][6]byte, 4096)
		g := &pcg{s: 1}
		for i := range hot {
			hot[i] = macs[i%len(macs)]
		}
		for i := range spread {
			spread[i] = macs[g.n(len(macs))]
		}
		for _, set := range []struct {
			name string
			keys [][6]byte
		}{{"hot", hot}, {"spread", spread}} {
			b.Run(fmt.Sprintf("%s/entries=%d", set.name, n), func(b *testing.B) {
				keys := set.keys
				mask := len(keys) - 1
				b.ReportAllocs()
				found := 0
				for i := 0; b.Loop(); i++ {
					if _, ok := tb.Lookup(keys[i&mask], 0); ok {
						found++
					}
				}
				if found == 0 {
					b.Fatal("no hits")
				}
			})
		}
	}
}

// BenchmarkLookupMiss: absent MACs (what every frame to an unknown
// destination costs before the all-zero lookup), hot and spread as above.
func BenchmarkLookupMiss(b *testing.B) {
	for _, n := range []int{1, 100_000} {
		tb, _ := benchTable(b, n)
		for _, k := range []int{16, 4096} {
			keys := make([][6]byte, k)
			for i := range keys {
				keys[i] = [6]byte{4, 0, 0, 0, byte(i >> 8), byte(i)}
			}
			name := "hot"
			if k > 16 {
				name = "spread"
			}
			b.Run(fmt.Sprintf("%s/entries=%d", name, n), func(b *testing.B) {
				mask := len(keys) - 1
				for i := 0; b.Loop(); i++ {
					if _, ok := tb.Lookup(keys[i&mask], 0); ok {
						b.Fatal("hit")
					}
				}
			})
		}
	}
}

// BenchmarkLearnKnown is the common receive case: the source is known at
// the same remote.
func BenchmarkLearnKnown(b *testing.B) {
	for _, n := range []int{1, 100_000} {
		tb, macs := benchTable(b, n)
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			src := dst("192.0.2.2")
			for i := 0; b.Loop(); i++ {
				tb.Learn(0, macs[i&15%len(macs)], 0, src)
			}
		})
	}
}

// BenchmarkLookupGoMap is a baseline: a Go map of the same keys.
func BenchmarkLookupGoMap(b *testing.B) {
	for _, n := range []int{1, 100_000} {
		m := make(map[[8]byte][]Remote, n)
		var keys [][8]byte
		for i := 0; i < n; i++ {
			k := [8]byte{2, 0, byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}
			m[k] = []Remote{dst("192.0.2.2")}
			if i < 16 {
				keys = append(keys, k)
			}
		}
		for len(keys) < 16 {
			keys = append(keys, keys[0])
		}
		b.Run(fmt.Sprintf("hot/entries=%d", n), func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				_ = m[keys[i&15]]
			}
		})
	}
}
