package neigh

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"flowpath/internal/pkt"
)

func benchTable(b *testing.B, n int) (*Table, []netip.Addr) {
	cfg := DefaultConfig()
	tb := NewTable(cfg, 2, nil)
	return tb, fillTable(b, tb, n)
}

func BenchmarkLookup(b *testing.B) {
	for _, n := range []int{1, 1000} {
		b.Run(fmt.Sprintf("hit/entries=%d", n), func(b *testing.B) {
			tb, addrs := benchTable(b, n)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				tb.Lookup(1, addrs[i%len(addrs)])
				i++
			}
		})
		b.Run(fmt.Sprintf("miss/entries=%d", n), func(b *testing.B) {
			tb, _ := benchTable(b, n)
			other := []netip.Addr{addrN(false, 5000), addrN(true, 5001), addrN(false, 5002), addrN(true, 5003)}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				tb.Lookup(1, other[i%len(other)])
				i++
			}
		})
	}
	b.Run("parallel/entries=1000", func(b *testing.B) {
		tb, addrs := benchTable(b, 1000)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				tb.Lookup(1, addrs[i%len(addrs)])
				i++
			}
		})
	})
}

// The comparison the design rejected: a Go map behind an atomic pointer
// (the lookup half of it; the other half is a full copy per change).
func BenchmarkLookupGoMap(b *testing.B) {
	for _, n := range []int{1, 1000} {
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			m := map[Key]uint64{}
			var addrs []netip.Addr
			for i := 0; i < n; i++ {
				a := addrN(i%2 == 1, i)
				addrs = append(addrs, a)
				m[Key{1, a}] = uint64(i)
			}
			b.ReportAllocs()
			i := 0
			var sink uint64
			for b.Loop() {
				sink += m[Key{1, addrs[i%len(addrs)]}]
				i++
			}
			_ = sink
		})
	}
}

func BenchmarkEvents(b *testing.B) {
	tb, addrs := benchTable(b, 1000)
	b.Run("Miss", func(b *testing.B) {
		other := make([]netip.Addr, 256)
		for i := range other {
			other[i] = addrN(false, 10000+i)
		}
		i := 0
		for b.Loop() {
			tb.Miss(0, 1, other[i%len(other)])
			i++
			if i%512 == 0 {
				tb.Poll()
				tb.Flush(nil)
			}
		}
	})
	b.Run("Confirm", func(b *testing.B) {
		i := 0
		for b.Loop() {
			tb.Confirm(0, 1, addrs[i%len(addrs)], macFor(addrs[i%len(addrs)]), Solicited)
			i++
			if i%512 == 0 {
				tb.Poll()
			}
		}
	})
}

func BenchmarkPending(b *testing.B) {
	tb, addrs := benchTable(b, 64)
	pool := pkt.NewPool("b", 1024)
	ready := func(p *pkt.Packet, _ [6]byte) { p.Free() }
	failed := func(p *pkt.Packet) { p.Free() }
	b.Run("ResolveIdle", func(b *testing.B) {
		q := NewPending(512, 16)
		for i := 0; i < 100; i++ {
			q.Push(1, addrN(false, 9000+i), pool.Get())
		}
		now := tb.Now()
		q.Resolve(tb, now, ready, failed)
		b.ReportAllocs()
		for b.Loop() {
			q.Resolve(tb, now, ready, failed)
		}
		q.Drain(func(p *pkt.Packet) { p.Free() })
	})
	b.Run("PushResolveReady", func(b *testing.B) {
		q := NewPending(512, 16)
		now := tb.Now()
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			q.Push(1, addrs[i%len(addrs)], pool.Get())
			i++
			if i%32 == 0 {
				q.Resolve(tb, now, ready, failed)
			}
		}
		q.Drain(func(p *pkt.Packet) { p.Free() })
	})
}

func BenchmarkPoll(b *testing.B) {
	cfg := DefaultConfig()
	tb := NewTable(cfg, 1, nil)
	addrs := fillTable(b, tb, 1000)
	b.Run("idle", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			tb.Poll()
		}
	})
	b.Run("100confirms", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			for j := 0; j < 100; j++ {
				a := addrs[(i+j)%len(addrs)]
				tb.Confirm(0, 1, a, macFor(a), Solicited)
			}
			i += 100
			tb.Poll()
		}
	})
	_ = time.Second
}
