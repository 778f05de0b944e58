package dataplane

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"flowpath/internal/fib"
	"flowpath/internal/pkt"
	"flowpath/internal/port"
)

// sinkPort is a medium of infinite speed: Transmit counts and returns, so
// a benchmark measures the pipeline and not a test port's copies.
type sinkPort struct {
	mac     [6]byte
	sent    atomic.Uint64
	bytes   atomic.Uint64
	offload port.Offloads
}

type sinkQueue struct{ p *sinkPort }

func (s *sinkPort) Kind() string             { return "sink" }
func (s *sinkPort) HardwareAddr() [6]byte    { return s.mac }
func (s *sinkPort) MTU() int                 { return 1500 }
func (s *sinkPort) Offloads() port.Offloads  { return s.offload }
func (s *sinkPort) RxQueues() []port.RxQueue { return []port.RxQueue{s} }
func (s *sinkPort) TxQueue(int) port.TxQueue { return sinkQueue{s} }
func (s *sinkPort) NumTx() int               { return TxQueues }
func (s *sinkPort) Stats() port.Stats {
	return port.Stats{TxPackets: s.sent.Load(), TxBytes: s.bytes.Load()}
}
func (s *sinkPort) Close() error                                        { return nil }
func (s *sinkPort) Receive(*pkt.Pool, []*pkt.Packet, time.Duration) int { return 0 }

func (q sinkQueue) Transmit(pkts []*pkt.Packet) int {
	var n uint64
	for _, p := range pkts {
		n += uint64(p.Len())
	}
	q.p.sent.Add(uint64(len(pkts)))
	q.p.bytes.Add(n)
	return len(pkts)
}

// benchDst4 and benchDst6 are the destination prefixes the benchmark
// packets go to; the random routes never overlap them or 10/8.
var (
	benchDst4 = netip.MustParsePrefix("198.18.7.0/24")
	benchDst6 = netip.MustParsePrefix("2001:db8:7::/48")
	benchNet4 = netip.MustParsePrefix("198.18.0.0/15")
	benchNet6 = netip.MustParsePrefix("2001:db8::/32")
	// Destinations the router does not forward as unicast, and 10/8
	// where the rig's own links are.
	avoid4 = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("0.0.0.0/8"),
		netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("224.0.0.0/3"), benchNet4}
)

func avoided(p netip.Prefix) bool {
	for _, a := range avoid4 {
		if p.Overlaps(a) {
			return true
		}
	}
	return false
}

// randPrefix4 is a realistic random IPv4 prefix: mostly /24, many /16-/23,
// a few shorter and longer ones.
func randPrefix4(r *rand.Rand) netip.Prefix {
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

func randPrefix6(r *rand.Rand) netip.Prefix {
	bits := 48
	switch k := r.IntN(100); {
	case k < 25:
		bits = 32 + r.IntN(16)
	case k >= 85:
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

// benchTable is n random routes (plus the benchmark destination's /24 or
// /48) via h2, and addresses covered by the random routes.
type benchTable struct {
	pfxs  []netip.Prefix
	addrs []netip.Addr
	rig   *rig // built once: a benchmark function runs more than once
}

var (
	benchMu     sync.Mutex
	benchTables = map[string]*benchTable{}
)

func loadBenchTable(n int, v6 bool) *benchTable {
	benchMu.Lock()
	defer benchMu.Unlock()
	key := fmt.Sprint(n, v6)
	if t := benchTables[key]; t != nil {
		return t
	}
	r := rand.New(rand.NewPCG(uint64(n), 99))
	t := &benchTable{}
	for len(t.pfxs) < n-1 {
		var p netip.Prefix
		if v6 {
			p = randPrefix6(r)
			if p.Overlaps(benchNet6) {
				continue
			}
		} else {
			p = randPrefix4(r)
			if avoided(p) {
				continue
			}
		}
		t.pfxs = append(t.pfxs, p)
	}
	for range 1 << 12 {
		if len(t.pfxs) == 0 {
			break
		}
		p := t.pfxs[r.IntN(len(t.pfxs))]
		b := p.Addr().As16()
		off := 0
		if !v6 {
			off = 12
		}
		for i := off + (p.Bits()+7)/8; i < 16; i++ {
			b[i] = byte(r.Uint32())
		}
		a := netip.AddrFrom16(b)
		if !v6 {
			a = a.Unmap()
		}
		if !p.Contains(a) {
			a = p.Addr()
		}
		t.addrs = append(t.addrs, a)
	}
	benchTables[key] = t
	return t
}

// benchRig is a rig whose FIB holds the table and whose r2 is a sink.
func benchRig(b *testing.B, t *benchTable, v6 bool) *rig {
	if t.rig != nil {
		return t.rig
	}
	gw, dst := ipH2, benchDst4
	if v6 {
		gw, dst = ip6H2, benchDst6
	}
	nh := []fib.Nexthop{{Gateway: gw, Dev: devR2}}
	start := time.Now()
	r := newRig(b, rigOpts{r2Port: &sinkPort{mac: macR2}, routes: func(tx *fib.Txn) {
		for _, p := range t.pfxs {
			if err := tx.AddRoute(fib.Route{Table: fib.TableMain, Prefix: p, Nexthops: nh}, fib.FlagsReplace); err != nil {
				b.Fatal(err)
			}
		}
		mustAdd(b, tx, fib.Route{Table: fib.TableMain, Prefix: dst, Nexthops: nh})
	}})
	if n := r.w.snap.FIB.NumRoutes(fib.TableMain); n < len(t.pfxs)/2 {
		b.Fatalf("only %d routes in main", n)
	}
	r.setup = time.Since(start)
	t.rig = r
	return r
}

// forwardFrames forwards batches of 64 of frames (cycling) and reports
// ns/op per packet: b.N counts packets.
func forwardFrames(b *testing.B, r *rig, frames [][]byte) {
	sink := r.w.snap.Device(devR2).Port.(*sinkPort)
	mask := len(frames) - 1
	k := 0
	before := sink.sent.Load()
	b.ReportAllocs()
	// The setup's garbage (a million routes' worth of transactions) is
	// collected now, not by a background GC inside the timed loop, which
	// allocates nothing itself.
	runtime.GC()
	b.ResetTimer()
	for i := 0; i < b.N; i += pkt.BatchSize {
		for j := range r.batch {
			p := r.w.pool.Get()
			p.SetBytes(frames[k&mask])
			k++
			r.batch[j] = p
		}
		r.w.processBatch(r.batch[:])
		r.w.flush()
	}
	b.StopTimer()
	b.ReportMetric(float64(r.setup.Milliseconds()), "setup-ms")
	if got, want := sink.sent.Load()-before, uint64((b.N+pkt.BatchSize-1)/pkt.BatchSize*pkt.BatchSize); got != want {
		b.Fatalf("%d packets forwarded, want %d (drops: %v)", got, want, r.dropsByName())
	}
}

func (r *rig) dropsByName() map[string]uint64 {
	m := map[string]uint64{}
	for k := range r.w.c.drops {
		if v := r.w.c.drops[k].Load(); v != 0 {
			m[DropReason(k).String()] = v
		}
	}
	return m
}

// framesTo builds 64 (or a power of two) UDP frames from h1 to the given
// destinations, each flow its own source port.
func framesTo(dsts []netip.Addr) [][]byte {
	out := make([][]byte, len(dsts))
	for i, d := range dsts {
		if d.Is4() {
			out[i] = udp4Frame(ipH1, d, 64, true, uint16(1024+i), 53, 64-42)
		} else {
			out[i] = udp6Frame(ip6H1, d, 64, uint16(1024+i), 53, 64-62)
		}
	}
	return out
}

// inPrefix returns n addresses inside p.
func inPrefix(p netip.Prefix, n int) []netip.Addr {
	out := make([]netip.Addr, n)
	a := p.Addr()
	for i := range out {
		a = a.Next()
		out[i] = a
	}
	return out
}

// BenchmarkForward measures forwarding of 64-byte UDP packets in batches
// of 64 through a FIB of 1 or 1M random IPv4 routes (the packets' /24
// among them; "randdst" spreads the destinations over the whole table)
// and of 1 or 100k IPv6 routes. ns/op is per packet.
func BenchmarkForward(b *testing.B) {
	for _, c := range []struct {
		name    string
		n       int
		v6      bool
		randDst bool
	}{
		{"routes=1", 1, false, false},
		{"routes=1000000", 1_000_000, false, false},
		{"routes=1000000/randdst", 1_000_000, false, true},
		{"ipv6/routes=1", 1, true, false},
		{"ipv6/routes=100000", 100_000, true, false},
		{"ipv6/routes=100000/randdst", 100_000, true, true},
	} {
		b.Run(c.name, func(b *testing.B) {
			t := loadBenchTable(c.n, c.v6)
			r := benchRig(b, t, c.v6)
			dst := benchDst4
			if c.v6 {
				dst = benchDst6
			}
			frames := framesTo(inPrefix(dst, pkt.BatchSize))
			if c.randDst {
				frames = framesTo(t.addrs)
			}
			forwardFrames(b, r, frames)
		})
	}
}

// TestBenchRigForwards makes sure the benchmark's setup forwards what it
// claims, with a small table, so a broken benchmark cannot pass silently.
func TestBenchRigForwards(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		tb := loadBenchTable(1000, v6)
		gw, dst := ipH2, benchDst4
		if v6 {
			gw, dst = ip6H2, benchDst6
		}
		nh := []fib.Nexthop{{Gateway: gw, Dev: devR2}}
		sink := &sinkPort{mac: macR2}
		r := newRig(t, rigOpts{r2Port: sink, routes: func(tx *fib.Txn) {
			for _, p := range tb.pfxs {
				if err := tx.AddRoute(fib.Route{Table: fib.TableMain, Prefix: p, Nexthops: nh}, fib.FlagsReplace); err != nil {
					t.Fatal(err)
				}
			}
			mustAdd(t, tx, fib.Route{Table: fib.TableMain, Prefix: dst, Nexthops: nh})
		}})
		for _, frames := range [][][]byte{framesTo(inPrefix(dst, pkt.BatchSize)), framesTo(tb.addrs[:pkt.BatchSize])} {
			before := sink.sent.Load()
			r.run(t, frames...)
			if got := sink.sent.Load() - before; got != pkt.BatchSize {
				t.Fatalf("v6=%v: %d of %d forwarded; drops %v", v6, got, pkt.BatchSize, r.dropsByName())
			}
		}
		if r.w.pool.Available() != r.w.pool.Size() {
			t.Fatal("leak")
		}
	}
}
