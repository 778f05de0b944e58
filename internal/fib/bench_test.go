package fib

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// randV4Route returns a realistic random IPv4 prefix: mostly /24, some
// /16–/23, a few /8–/15 and /25–/32.
func randV4Prefix(r *rand.Rand) netip.Prefix {
	var bits int
	switch k := r.IntN(100); {
	case k < 60:
		bits = 24
	case k < 85:
		bits = 16 + r.IntN(8)
	case k < 90:
		bits = 8 + r.IntN(8)
	default:
		bits = 25 + r.IntN(8)
	}
	a := r.Uint32()
	p, _ := netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)}).Prefix(bits)
	return p
}

func randV6Prefix(r *rand.Rand) netip.Prefix {
	var bits int
	switch k := r.IntN(100); {
	case k < 60:
		bits = 48
	case k < 85:
		bits = 32 + r.IntN(16)
	default:
		bits = 49 + r.IntN(16)
	}
	var b [16]byte
	b[0] = 0x20
	for i := 1; i < 8; i++ {
		b[i] = byte(r.Uint32())
	}
	p, _ := netip.AddrFrom16(b).Prefix(bits)
	return p
}

// addrIn returns a random address inside p.
func addrIn(r *rand.Rand, p netip.Prefix) netip.Addr {
	b := p.Addr().As16()
	off := 0
	if p.Addr().Is4() {
		off = 12
	}
	for i := off; i < 16; i++ {
		b[i] ^= byte(r.Uint32())
	}
	// Restore the prefix bits.
	pb := p.Addr().As16()
	for bit := 0; bit < p.Bits(); bit++ {
		i, m := off+bit/8, byte(0x80>>(bit%8))
		b[i] = b[i]&^m | pb[i]&m
	}
	a := netip.AddrFrom16(b)
	if p.Addr().Is4() {
		a = a.Unmap()
	}
	return a
}

type benchSet struct {
	f     *FIB
	addrs []netip.Addr
	build time.Duration
}

var (
	benchOnce sync.Once
	bench1M   benchSet // 1M IPv4 routes
	bench100k benchSet // 100k IPv6 routes
)

func buildSet(n int, v4 bool) benchSet {
	r := rand.New(rand.NewPCG(uint64(n), 42))
	pfxs := make([]netip.Prefix, n)
	for i := range pfxs {
		if v4 {
			pfxs[i] = randV4Prefix(r)
		} else {
			pfxs[i] = randV6Prefix(r)
		}
	}
	start := time.Now()
	tx := Empty().Begin()
	for i, p := range pfxs {
		gw := netip.AddrFrom4([4]byte{192, 0, 2, byte(i)})
		if !v4 {
			gw = netip.AddrFrom16([16]byte{0xfe, 0x80, 15: byte(i)})
		}
		tx.AddRoute(Route{Table: TableMain, Prefix: p, Nexthops: []Nexthop{{Dev: uint32(1 + i%4), Gateway: gw}}}, FlagsReplace)
	}
	f := tx.Commit()
	s := benchSet{f: f, build: time.Since(start)}
	s.addrs = make([]netip.Addr, 1<<16)
	for i := range s.addrs {
		s.addrs[i] = addrIn(r, pfxs[r.IntN(n)])
	}
	return s
}

func loadBench() {
	benchOnce.Do(func() {
		bench1M = buildSet(1_000_000, true)
		bench100k = buildSet(100_000, false)
	})
}

func benchLookups(b *testing.B, f *FIB, addrs []netip.Addr) {
	var res Result
	fl := Flow{IIF: 1}
	b.ReportAllocs()
	b.ResetTimer()
	miss := 0
	for i := 0; i < b.N; i++ {
		fl.Dst = addrs[i&(len(addrs)-1)]
		if !f.Lookup(&fl, uint32(i), &res) {
			miss++
		}
	}
	if miss > 0 && len(addrs) > 1 {
		b.Fatalf("%d misses", miss)
	}
}

// BenchmarkLookup compares the default-rules fast path with one route and
// with large tables; "rand" walks 64k random covered addresses (cache
// misses dominate on big tables), "hot" repeats one address.
func BenchmarkLookup(b *testing.B) {
	one := func(v4 bool) benchSet {
		tx := Empty().Begin()
		p := pfx("10.1.2.0/24")
		if !v4 {
			p = pfx("2001:db8:1::/48")
		}
		tx.AddRoute(Route{Table: TableMain, Prefix: p, Nexthops: []Nexthop{{Dev: 1, Gateway: addrIn(rand.New(rand.NewPCG(1, 1)), p)}}}, FlagsAdd)
		s := benchSet{f: tx.Commit(), addrs: make([]netip.Addr, 1<<16)}
		r := rand.New(rand.NewPCG(2, 2))
		for i := range s.addrs {
			s.addrs[i] = addrIn(r, p)
		}
		return s
	}
	one4, one6 := one(true), one(false)
	b.Run("v4/1route/rand", func(b *testing.B) { benchLookups(b, one4.f, one4.addrs) })
	b.Run("v4/1route/hot", func(b *testing.B) { benchLookups(b, one4.f, one4.addrs[:1]) })
	b.Run("v6/1route/rand", func(b *testing.B) { benchLookups(b, one6.f, one6.addrs) })
	loadBench()
	b.Run("v4/1M/rand", func(b *testing.B) { benchLookups(b, bench1M.f, bench1M.addrs) })
	b.Run("v4/1M/hot", func(b *testing.B) { benchLookups(b, bench1M.f, bench1M.addrs[:1]) })
	b.Run("v6/100k/rand", func(b *testing.B) { benchLookups(b, bench100k.f, bench100k.addrs) })
	// A device that no route uses is down: the check per lookup is one
	// bitmap test.
	tx0 := bench1M.f.Begin()
	tx0.SetDeviceUp(77, false)
	withDown := tx0.Commit()
	b.Run("v4/1M/devdown/rand", func(b *testing.B) { benchLookups(b, withDown, bench1M.addrs) })
	// With policy rules in front (the general path): 10 rules that do
	// not match, then main.
	tx := bench1M.f.Begin()
	for i := range 10 {
		tx.AddRule(Rule{Family: 4, Priority: uint32(100 + i), FwMark: uint32(1 + i), Table: 100})
	}
	withRules := tx.Commit()
	b.Run("v4/1M/10rules/rand", func(b *testing.B) { benchLookups(b, withRules, bench1M.addrs) })
	b.Run("v4/1M/10rules/hot", func(b *testing.B) { benchLookups(b, withRules, bench1M.addrs[:1]) })
}

func BenchmarkFlowHash(b *testing.B) {
	fl := Flow{Src: addr("10.0.0.1"), Dst: addr("10.0.0.2"), Proto: 6, SrcPort: 1000, DstPort: 80}
	var s uint32
	for i := 0; i < b.N; i++ {
		fl.SrcPort = uint16(i)
		s += FlowHash(&fl, true)
	}
	_ = s
}

// BenchmarkTxnAddRoute1M is one route added to a 1M-route FIB and
// committed: a path copy, not a clone.
func BenchmarkTxnAddRoute1M(b *testing.B) {
	loadBench()
	r := rand.New(rand.NewPCG(5, 5))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tx := bench1M.f.Begin()
		if err := tx.AddRoute(Route{Table: TableMain, Prefix: randV4Prefix(r), Metric: 7, Nexthops: []Nexthop{{Dev: 1}}}, FlagsAdd); err != nil {
			b.Fatal(err)
		}
		tx.Commit()
	}
}

// BenchmarkBuild1M builds a 1M-route FIB in one transaction.
func BenchmarkBuild1M(b *testing.B) {
	r := rand.New(rand.NewPCG(6, 6))
	pfxs := make([]netip.Prefix, 1_000_000)
	for i := range pfxs {
		pfxs[i] = randV4Prefix(r)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tx := Empty().Begin()
		for _, p := range pfxs {
			tx.AddRoute(Route{Table: TableMain, Prefix: p, Nexthops: []Nexthop{{Dev: 1}}}, FlagsReplace)
		}
		tx.Commit()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e6, "ns/route")
}

// BenchmarkUpdate1M is 1000 replaces in one transaction on a 1M-route
// FIB: past a threshold the transaction clones the trie once instead of
// path-copying every write.
func BenchmarkUpdate1M(b *testing.B) {
	loadBench()
	for _, n := range []int{100, 1000, 100000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			r := rand.New(rand.NewPCG(7, 7))
			for i := 0; i < b.N; i++ {
				tx := bench1M.f.Begin()
				for range n {
					tx.AddRoute(Route{Table: TableMain, Prefix: randV4Prefix(r), Nexthops: []Nexthop{{Dev: 2}}}, FlagsReplace)
				}
				tx.Commit()
			}
		})
	}
}
