package neigh

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is the injected Config.Now.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) Now() int64              { return c.ns.Load() }
func (c *fakeClock) Set(ns int64)            { c.ns.Store(ns) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

type solCall struct {
	Dev     uint32
	Addr    netip.Addr
	Unicast bool
	MAC     [6]byte
	At      int64
}

func (s solCall) String() string {
	kind := "bcast"
	if s.Unicast {
		kind = fmt.Sprintf("ucast %x", s.MAC)
	}
	return fmt.Sprintf("%d/%s %s @%v", s.Dev, s.Addr, kind, time.Duration(s.At))
}

// recorder is a fake SolicitFunc that records its calls.
type recorder struct {
	mu    sync.Mutex
	clk   *fakeClock
	calls []solCall
}

func (r *recorder) solicit(dev uint32, target netip.Addr, unicast *[6]byte) {
	c := solCall{Dev: dev, Addr: target}
	if r.clk != nil {
		c.At = r.clk.Now()
	}
	if unicast != nil {
		c.Unicast, c.MAC = true, *unicast
	}
	r.mu.Lock()
	r.calls = append(r.calls, c)
	r.mu.Unlock()
}

// take returns and forgets the calls so far.
func (r *recorder) take() []solCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.calls
	r.calls = nil
	return c
}

func sortSols(s []solCall) {
	slices.SortFunc(s, func(a, b solCall) int {
		if c := cmp.Compare(a.Dev, b.Dev); c != 0 {
			return c
		}
		if c := a.Addr.Compare(b.Addr); c != 0 {
			return c
		}
		if a.Unicast != b.Unicast {
			if a.Unicast {
				return 1
			}
			return -1
		}
		return slices.Compare(a.MAC[:], b.MAC[:])
	})
}

// constRand makes reachable_time deterministic: base/2 + v%base.
func constRand(v uint64) func() uint64 { return func() uint64 { return v } }

// pcg is a small deterministic generator shared by table and model.
type pcg struct{ s uint64 }

func (p *pcg) next() uint64 {
	p.s = p.s*6364136223846793005 + 1442695040888963407
	x := p.s
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	return x
}

type harness struct {
	t   *testing.T
	clk *fakeClock
	rec *recorder
	tbl *Table
	cfg Config
}

// newHarness builds a table with an injected clock (starting at 1000 s so
// that "now - 2*base" stays positive) and reachable_time exactly 30 s.
func newHarness(t *testing.T, mod func(*Config)) *harness {
	t.Helper()
	clk := &fakeClock{}
	clk.Set(int64(1000 * time.Second))
	rec := &recorder{clk: clk}
	cfg := DefaultConfig()
	cfg.Now = clk.Now
	cfg.Rand = constRand(uint64(15 * time.Second))
	if mod != nil {
		mod(&cfg)
	}
	return &harness{t: t, clk: clk, rec: rec, tbl: NewTable(cfg, 2, rec.solicit), cfg: cfg}
}

// at sets the clock to start+d and polls.
func (h *harness) at(d time.Duration) {
	h.clk.Set(int64(1000*time.Second) + int64(d))
	h.tbl.Poll()
}

func (h *harness) state(dev uint32, a netip.Addr) State {
	h.t.Helper()
	_, st, ok := h.tbl.Lookup(dev, a)
	if !ok {
		return 0xffff
	}
	if e, ok2 := h.tbl.Get(dev, a); !ok2 || e.State != st {
		h.t.Fatalf("Lookup says %v but Get says %v (%v)", st, e.State, ok2)
	}
	return st
}

func (h *harness) wantState(dev uint32, a netip.Addr, want State) {
	h.t.Helper()
	if got := h.state(dev, a); got == 0xffff {
		h.t.Fatalf("%s: absent, want %v", a, want)
	} else if got != want {
		h.t.Fatalf("%s: state %v, want %v", a, got, want)
	}
}

func (h *harness) wantAbsent(dev uint32, a netip.Addr) {
	h.t.Helper()
	if _, st, ok := h.tbl.Lookup(dev, a); ok {
		h.t.Fatalf("%s: present (%v), want absent", a, st)
	}
	if _, ok := h.tbl.Get(dev, a); ok {
		h.t.Fatalf("%s: Get finds it, Lookup does not", a)
	}
}

func (h *harness) wantSols(want ...solCall) {
	h.t.Helper()
	got := h.rec.take()
	for i := range got {
		got[i].At = 0
	}
	sortSols(got)
	sortSols(want)
	if !slices.Equal(got, want) {
		h.t.Fatalf("solicitations:\n got %v\nwant %v", got, want)
	}
}

var (
	macA = [6]byte{0x02, 0, 0, 0, 0, 0xa}
	macB = [6]byte{0x02, 0, 0, 0, 0, 0xb}
	macC = [6]byte{0x02, 0, 0, 0, 0, 0xc}
)

func bcast(dev uint32, a netip.Addr) solCall { return solCall{Dev: dev, Addr: a} }
func ucast(dev uint32, a netip.Addr, mac [6]byte) solCall {
	return solCall{Dev: dev, Addr: a, Unicast: true, MAC: mac}
}

var (
	v4a = netip.MustParseAddr("10.0.0.1")
	v4b = netip.MustParseAddr("10.0.0.2")
	v6a = netip.MustParseAddr("fd00::1")
)
