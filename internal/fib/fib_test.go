package fib

import (
	"errors"
	"go/parser"
	"go/token"
	"io/fs"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"flowpath/internal/errs"
)

var (
	pfx  = netip.MustParsePrefix
	addr = netip.MustParseAddr
)

func mustAdd(t *testing.T, tx *Txn, r Route, flags AddFlags) {
	t.Helper()
	if err := tx.AddRoute(r, flags); err != nil {
		t.Fatalf("add %+v: %v", r, err)
	}
}

func uni(p string, metric uint32, dev uint32, gw string) Route {
	r := Route{Table: TableMain, Prefix: pfx(p), Metric: metric}
	nh := Nexthop{Dev: dev}
	if gw != "" {
		nh.Gateway = addr(gw)
	}
	r.Nexthops = []Nexthop{nh}
	return r
}

func look(f *FIB, dst string) (Result, bool) {
	var res Result
	fl := Flow{Dst: addr(dst)}
	ok := f.Lookup(&fl, 0, &res)
	return res, ok
}

func routesOf(f *FIB, table uint32, fam int) []Route {
	var out []Route
	f.Routes(table, fam, func(r *Route) bool { out = append(out, *r); return true })
	return out
}

func TestRandomAgainstReference(t *testing.T) {
	seeds := 40
	steps := 300
	if testing.Short() {
		seeds = 10
	}
	for seed := range seeds {
		c := randChooser{rand.New(rand.NewPCG(uint64(seed), 7))}
		h := newHarness()
		for i := 0; i < steps; i++ {
			if err := h.step(c); err != nil {
				t.Fatalf("seed %d step %d: %v", seed, i, err)
			}
			if i%25 == 24 {
				if err := h.check(c, 60); err != nil {
					t.Fatalf("seed %d step %d: %v", seed, i, err)
				}
			}
		}
	}
}

// Old snapshots must keep answering as they did when they were committed,
// however many transactions follow.
func TestSnapshotIsolation(t *testing.T) {
	c := randChooser{rand.New(rand.NewPCG(99, 1))}
	h := newHarness()
	type probe struct {
		fl   Flow
		hash uint32
		want refResult
	}
	type saved struct {
		f      *FIB
		probes []probe
		dump   []Route
	}
	var snaps []saved
	for i := 0; i < 1500; i++ {
		if err := h.step(c); err != nil {
			t.Fatal(err)
		}
		if i%100 == 99 {
			f := h.tx.Commit()
			s := saved{f: f, dump: routesOf(f, 0, 0)}
			for range 200 {
				fl := randFlow(c, c.intn(2) == 0)
				hash := uint32(c.intn(1 << 30))
				var res Result
				s.probes = append(s.probes, probe{fl, hash, fromResult(f.Lookup(&fl, hash, &res), &res)})
			}
			snaps = append(snaps, s)
		}
	}
	for i, s := range snaps {
		for _, p := range s.probes {
			var res Result
			if got := fromResult(s.f.Lookup(&p.fl, p.hash, &res), &res); !reflect.DeepEqual(got, p.want) {
				t.Fatalf("snapshot %d changed: %+v: now %v, was %v", i, p.fl, got, p.want)
			}
		}
		if got := routesOf(s.f, 0, 0); !reflect.DeepEqual(got, s.dump) {
			t.Fatalf("snapshot %d dump changed", i)
		}
	}
}

// A reader looking up continuously while a writer commits 10,000 updates
// must only ever see complete states. Each update replaces the two routes
// 10.9.0.0/16 and 10.9.1.0/24 together with gateways carrying the same
// generation number, and withdraws or installs a pair of routes in one
// transaction; a reader that sees different generations for the two (or
// one route of a pair without the other) has seen a torn state. Run with
// -race.
func TestConcurrentCommitsReadersSeeWholeStates(t *testing.T) {
	var cur atomic.Pointer[FIB]
	tx := Empty().Begin()
	gen := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{192, 168, byte(i >> 8), byte(i)}) }
	add := func(i int) {
		for _, p := range []string{"10.9.0.0/16", "10.9.1.0/24"} {
			if err := tx.AddRoute(Route{Table: TableMain, Prefix: pfx(p), Nexthops: []Nexthop{{Dev: 1, Gateway: gen(i)}}}, FlagsReplace); err != nil {
				t.Error(err)
			}
		}
	}
	add(0)
	cur.Store(tx.Commit())
	n := 10000
	if testing.Short() {
		n = 2000
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	var torn atomic.Int64
	var reads atomic.Int64
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var a, b Result
			fa, fb := Flow{Dst: addr("10.9.0.1")}, Flow{Dst: addr("10.9.1.1")}
			pa, pb := Flow{Dst: addr("10.77.0.1")}, Flow{Dst: addr("10.78.0.1")}
			for !stop.Load() {
				f := cur.Load()
				okA, okB := f.Lookup(&fa, 0, &a), f.Lookup(&fb, 0, &b)
				if !okA || !okB || a.Nexthop.Gateway != b.Nexthop.Gateway {
					torn.Add(1)
				}
				if f.Lookup(&pa, 0, &a) != f.Lookup(&pb, 0, &b) {
					torn.Add(1)
				}
				reads.Add(1)
			}
		}()
	}
	for i := 1; i <= n; i++ {
		add(i)
		for _, p := range []string{"10.77.0.0/16", "10.78.0.0/16"} {
			if i%2 == 0 {
				mustAdd(t, tx, uni(p, 0, 2, ""), FlagsAdd)
			} else if err := tx.DelRoute(RouteMatch{Prefix: pfx(p)}); err != nil && i > 1 {
				t.Fatal(err)
			}
		}
		cur.Store(tx.Commit())
	}
	stop.Store(true)
	wg.Wait()
	if torn.Load() != 0 {
		t.Fatalf("%d torn reads of %d", torn.Load(), reads.Load())
	}
	t.Logf("%d reads during %d commits", reads.Load(), n)
}

func TestAddExistsReplaceAppend(t *testing.T) {
	tx := Empty().Begin()
	r := uni("10.0.0.0/8", 0, 1, "10.1.1.1")
	mustAdd(t, tx, r, FlagsAdd)
	if err := tx.AddRoute(r, FlagsAdd); !errors.Is(err, errs.ErrExists) {
		t.Fatalf("add twice: %v, want EEXIST", err)
	}
	// Same table/prefix/metric but another gateway: still EEXIST for add.
	if err := tx.AddRoute(uni("10.0.0.0/8", 0, 2, "10.2.2.2"), FlagsAdd); !errors.Is(err, errs.ErrExists) {
		t.Fatalf("add same metric: %v, want EEXIST", err)
	}
	// Another metric coexists; lookup prefers the lower metric.
	mustAdd(t, tx, uni("10.0.0.0/8", 100, 2, "10.2.2.2"), FlagsAdd)
	f := tx.Commit()
	if res, ok := look(f, "10.5.5.5"); !ok || res.Nexthop.Dev != 1 {
		t.Fatalf("lookup: %+v %v", res, ok)
	}
	// Another table is another route.
	r2 := r
	r2.Table = 100
	mustAdd(t, tx, r2, FlagsAdd)
	// Replace swaps the metric-0 route.
	mustAdd(t, tx, uni("10.0.0.0/8", 0, 3, "10.3.3.3"), FlagsReplace)
	f = tx.Commit()
	if got := routesOf(f, TableMain, 4); len(got) != 2 || got[0].Nexthops[0].Dev != 3 || got[1].Metric != 100 {
		t.Fatalf("after replace: %+v", got)
	}
	// Replace of something absent creates it; change (no create) does not.
	mustAdd(t, tx, uni("10.1.0.0/16", 0, 1, ""), FlagsReplace)
	if err := tx.AddRoute(uni("10.2.0.0/16", 0, 1, ""), FlagsChange); !errors.Is(err, errs.ErrNoEntry) {
		t.Fatalf("change of absent: %v, want ENOENT", err)
	}
	// IPv4 append: a second route of the same metric, after the first,
	// used only when the first is unusable.
	mustAdd(t, tx, uni("10.0.0.0/8", 0, 4, "10.4.4.4"), FlagsAppend)
	if err := tx.AddRoute(uni("10.0.0.0/8", 0, 4, "10.4.4.4"), FlagsAppend); !errors.Is(err, errs.ErrExists) {
		t.Fatalf("append identical: %v, want EEXIST", err)
	}
	// Prepend goes first.
	mustAdd(t, tx, uni("10.0.0.0/8", 0, 5, "10.5.5.5"), FlagsPrepend)
	f = tx.Commit()
	devs := []uint32{}
	for _, r := range routesOf(f, TableMain, 4) {
		if r.Prefix == pfx("10.0.0.0/8") {
			devs = append(devs, r.Nexthops[0].Dev)
		}
	}
	if !reflect.DeepEqual(devs, []uint32{5, 3, 4, 2}) {
		t.Fatalf("order %v, want [5 3 4 2]", devs)
	}
	tx.SetDeviceUp(5, false)
	tx.SetDeviceUp(3, false)
	f = tx.Commit()
	if res, ok := look(f, "10.9.9.9"); !ok || res.Nexthop.Dev != 4 {
		t.Fatalf("with 5 and 3 down: %+v", res)
	}
	// Replacing the first route of a run by itself is a no-op.
	mustAdd(t, tx, uni("10.0.0.0/8", 0, 5, "10.5.5.5"), FlagsReplace)
	// Replacing by a route identical to a later one of the run: EEXIST.
	if err := tx.AddRoute(uni("10.0.0.0/8", 0, 4, "10.4.4.4"), FlagsReplace); !errors.Is(err, errs.ErrExists) {
		t.Fatalf("replace by later identical: %v, want EEXIST", err)
	}
}

func TestIPv6MultipathAppendAndLegDelete(t *testing.T) {
	tx := Empty().Begin()
	a := uni("2001:db8::/64", 1024, 1, "fe80::1")
	mustAdd(t, tx, a, FlagsAdd)
	if err := tx.AddRoute(uni("2001:db8::/64", 1024, 2, "fe80::2"), FlagsAdd); !errors.Is(err, errs.ErrExists) {
		t.Fatalf("add same metric: %v", err)
	}
	mustAdd(t, tx, uni("2001:db8::/64", 1024, 2, "fe80::2"), FlagsAppend)
	if err := tx.AddRoute(uni("2001:db8::/64", 1024, 2, "fe80::2"), FlagsAppend); !errors.Is(err, errs.ErrExists) {
		t.Fatalf("append duplicate leg: %v", err)
	}
	f := tx.Commit()
	rs := routesOf(f, TableMain, 6)
	if len(rs) != 1 || len(rs[0].Nexthops) != 2 {
		t.Fatalf("want one route with two legs: %+v", rs)
	}
	// ECMP uses both legs.
	seen := map[uint32]int{}
	for i := range 1000 {
		var res Result
		fl := Flow{Dst: addr("2001:db8::1"), Src: netip.AddrFrom16([16]byte{0x20, 1, 14: byte(i >> 8), 15: byte(i)})}
		if !f.Lookup(&fl, FlowHash(&fl, false), &res) {
			t.Fatal("no route")
		}
		seen[res.Nexthop.Dev]++
	}
	if seen[1] < 400 || seen[2] < 400 {
		t.Fatalf("ecmp split %v", seen)
	}
	// Deleting with a gateway removes one leg.
	if err := tx.DelRoute(RouteMatch{Prefix: pfx("2001:db8::/64"), Gateway: addr("fe80::1")}); err != nil {
		t.Fatal(err)
	}
	f = tx.Commit()
	if rs := routesOf(f, TableMain, 6); len(rs) != 1 || len(rs[0].Nexthops) != 1 || rs[0].Nexthops[0].Dev != 2 {
		t.Fatalf("after leg delete: %+v", rs)
	}
	if err := tx.DelRoute(RouteMatch{Prefix: pfx("2001:db8::/64"), Gateway: addr("fe80::1")}); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("delete gone leg: %v", err)
	}
}

func TestDeleteMatching(t *testing.T) {
	tx := Empty().Begin()
	mustAdd(t, tx, uni("10.0.0.0/8", 10, 1, "10.1.1.1"), FlagsAdd)
	mustAdd(t, tx, uni("10.0.0.0/8", 20, 2, "10.2.2.2"), FlagsAdd)
	bh := Route{Table: TableMain, Prefix: pfx("10.0.0.0/8"), Metric: 30, Type: RouteBlackhole}
	mustAdd(t, tx, bh, FlagsAdd)
	for _, c := range []struct {
		name string
		m    RouteMatch
	}{
		{"absent prefix", RouteMatch{Prefix: pfx("10.1.0.0/16")}},
		{"absent table", RouteMatch{Table: 7, Prefix: pfx("10.0.0.0/8")}},
		{"wrong metric", RouteMatch{Prefix: pfx("10.0.0.0/8"), Metric: 15}},
		{"wrong dev", RouteMatch{Prefix: pfx("10.0.0.0/8"), Metric: 10, Dev: 2}},
		{"wrong gw", RouteMatch{Prefix: pfx("10.0.0.0/8"), Gateway: addr("10.9.9.9")}},
		{"wrong type", RouteMatch{Prefix: pfx("10.0.0.0/8"), Type: RouteProhibit, SetType: true}},
		{"wrong proto", RouteMatch{Prefix: pfx("10.0.0.0/8"), Protocol: ProtoKernel}},
	} {
		if err := tx.DelRoute(c.m); !errors.Is(err, errs.ErrNotFound) {
			t.Errorf("%s: %v, want ESRCH", c.name, err)
		}
	}
	if err := tx.DelRoute(RouteMatch{Prefix: pfx("10.0.0.1/8")}); !errors.Is(err, errs.ErrInvalid) {
		t.Errorf("unmasked: %v", err)
	}
	// By device only: the metric-20 route.
	if err := tx.DelRoute(RouteMatch{Prefix: pfx("10.0.0.0/8"), Dev: 2}); err != nil {
		t.Fatal(err)
	}
	// By type only: the blackhole.
	if err := tx.DelRoute(RouteMatch{Prefix: pfx("10.0.0.0/8"), Type: RouteBlackhole, SetType: true}); err != nil {
		t.Fatal(err)
	}
	// By prefix only: the first (and last).
	if err := tx.DelRoute(RouteMatch{Prefix: pfx("10.0.0.0/8")}); err != nil {
		t.Fatal(err)
	}
	if f := tx.Commit(); f.NumRoutes(0) != 0 {
		t.Fatalf("left: %+v", routesOf(f, 0, 0))
	}
}

func TestValidation(t *testing.T) {
	tx := Empty().Begin()
	gw6 := Route{Table: TableMain, Prefix: pfx("10.0.0.0/8"), Nexthops: []Nexthop{{Dev: 1, Gateway: addr("fe80::1")}}}
	bad := []Route{
		{Table: TableMain, Prefix: pfx("10.0.0.1/8"), Nexthops: []Nexthop{{Dev: 1}}},                    // host bits
		{Table: 0, Prefix: pfx("10.0.0.0/8"), Nexthops: []Nexthop{{Dev: 1}}},                            // table 0
		{Table: TableMain, Prefix: pfx("10.0.0.0/8")},                                                   // unicast without nexthop
		{Table: TableMain, Prefix: pfx("10.0.0.0/8"), Nexthops: []Nexthop{{Gateway: addr("10.1.1.1")}}}, // no dev
		gw6, // gateway family
		{Table: TableMain, Prefix: pfx("10.0.0.0/8"), Nexthops: []Nexthop{{Dev: 1, Weight: 257}}},                // weight
		{Table: TableMain, Prefix: pfx("10.0.0.0/8"), Type: RouteBlackhole, Nexthops: []Nexthop{{Dev: 1}}},       // blackhole with nexthop
		{Table: TableMain, Prefix: pfx("10.0.0.1/32"), Type: RouteLocal, Nexthops: []Nexthop{{Dev: 1}}},          // local needs scope host
		{Table: TableMain, Prefix: pfx("10.0.0.0/8"), Nexthops: []Nexthop{{Dev: 1, Flags: NHDead}}},              // dead flag
		{Table: TableMain, Prefix: pfx("10.0.0.0/8"), Type: 99},                                                  // type
		{Table: TableMain, Prefix: netip.Prefix{}, Nexthops: []Nexthop{{Dev: 1}}},                                // invalid prefix
		{Table: TableMain, Prefix: pfx("10.0.0.0/8"), PrefSrc: addr("::1"), Nexthops: []Nexthop{{Dev: 1}}},       // prefsrc family
		{Table: TableMain, Prefix: pfx("2001:db8::/64"), Nexthops: []Nexthop{{Dev: 1}, {Dev: 2}}},                // v6 multipath leg w/o gw
		{Table: TableMain, Prefix: pfx("10.0.0.0/8"), Scope: ScopeHost, Nexthops: []Nexthop{{Dev: 1}, {Dev: 2}}}, // host scope multipath
	}
	for i, r := range bad {
		if err := tx.AddRoute(r, FlagsAdd); !errors.Is(err, errs.ErrInvalid) {
			t.Errorf("case %d %+v: %v, want EINVAL", i, r, err)
		}
	}
	// Weight 0 is stored as 1; the caller's slice is not kept.
	nhs := []Nexthop{{Dev: 1}, {Dev: 2, Weight: 3}}
	mustAdd(t, tx, Route{Table: 100, Prefix: pfx("10.0.0.0/8"), Nexthops: nhs}, FlagsAdd)
	nhs[0].Dev = 99
	f := tx.Commit()
	got := routesOf(f, 100, 4)
	if len(got) != 1 || got[0].Nexthops[0].Dev != 1 || got[0].Nexthops[0].Weight != 1 {
		t.Fatalf("stored %+v", got)
	}
	// IPv6 masks silently, like the kernel.
	mustAdd(t, tx, uni("2001:db8::1/64", 0, 1, ""), FlagsAdd)
	if got := routesOf(tx.Commit(), TableMain, 6); len(got) != 1 || got[0].Prefix != pfx("2001:db8::/64") {
		t.Fatalf("v6 %+v", got)
	}
	if !reflect.DeepEqual(f.Tables(), []uint32{100, TableMain, TableLocal}) {
		t.Fatalf("tables %v", f.Tables())
	}
}

func TestRules(t *testing.T) {
	f := Empty()
	want4 := []uint32{0, 32766, 32767}
	for i, r := range f.Rules(4) {
		if r.Priority != want4[i] {
			t.Fatalf("default rules %+v", f.Rules(4))
		}
	}
	if len(f.Rules(6)) != 2 {
		t.Fatalf("default v6 rules %+v", f.Rules(6))
	}
	tx := f.Begin()
	// Auto priority: second rule's priority - 1, repeatedly.
	for _, want := range []uint32{32765, 32764} {
		if err := tx.AddRule(Rule{Family: 4, AutoPriority: true, Src: pfx("10.1.0.0/16"), Table: 100 + want}); err != nil {
			t.Fatal(err)
		}
		if rs := tx.Commit().Rules(4); rs[1].Priority != want {
			t.Fatalf("auto priority %d, want %d", rs[1].Priority, want)
		}
	}
	r := Rule{Family: 4, Priority: 100, FwMark: 7, Table: 100}
	if err := tx.AddRule(r); err != nil {
		t.Fatal(err)
	}
	if err := tx.AddRule(r); !errors.Is(err, errs.ErrExists) {
		t.Fatalf("identical rule: %v", err)
	}
	for _, bad := range []Rule{
		{Family: 5, Table: 1},
		{Family: 4, Table: 0},
		{Family: 4, Src: pfx("2001:db8::/32"), Table: 1},
		{Family: 4, Priority: 10, Action: RuleGoto, Goto: 5},
		{Family: 4, Action: 77},
	} {
		if err := tx.AddRule(bad); err == nil {
			t.Errorf("rule %+v accepted", bad)
		}
	}
	if err := tx.DelRule(RuleMatch{Family: 4, Priority: 100, SetPriority: true, Table: 101}); !errors.Is(err, errs.ErrNoEntry) {
		t.Fatalf("del absent: %v", err)
	}
	if err := tx.DelRule(RuleMatch{Family: 4, FwMark: 7, SetFwMark: true}); err != nil {
		t.Fatal(err)
	}
	// Deleting the local rule (priority 0) is allowed, as in the kernel.
	if err := tx.DelRule(RuleMatch{Family: 6, Priority: 0, SetPriority: true}); err != nil {
		t.Fatal(err)
	}
	if rs := tx.Commit().Rules(6); len(rs) != 1 || rs[0].Table != TableMain {
		t.Fatalf("v6 rules %+v", rs)
	}
}

func TestRuleLookupSemantics(t *testing.T) {
	tx := Empty().Begin()
	mustAdd(t, tx, uni("0.0.0.0/0", 0, 1, "10.0.0.1"), FlagsAdd)
	r100 := uni("0.0.0.0/0", 0, 2, "10.0.0.2")
	r100.Table = 100
	mustAdd(t, tx, r100, FlagsAdd)
	thr := Route{Table: 100, Prefix: pfx("10.99.0.0/16"), Type: RouteThrow}
	mustAdd(t, tx, thr, FlagsAdd)
	for _, r := range []Rule{
		{Family: 4, Priority: 10, FwMark: 1, Table: 100},
		{Family: 4, Priority: 20, IIF: "lo", Dst: pfx("10.50.0.0/16"), Action: RuleProhibit},
		{Family: 4, Priority: 30, IIF: "eth1", IIFIndex: 2, Action: RuleUnreachable},
		{Family: 4, Priority: 40, IIF: "gone", Action: RuleBlackhole}, // device absent: never matches
		{Family: 4, Priority: 50, TunID: 42, Invert: true, Action: RuleGoto, Goto: 70},
		{Family: 4, Priority: 60, Action: RuleBlackhole},
		{Family: 4, Priority: 70, Dst: pfx("10.60.0.0/16"), Table: 100},
		{Family: 4, Priority: 80, Table: TableMain, Suppress: true, SuppressPrefixLen: 0},
		{Family: 4, Priority: 90, Table: 100},
	} {
		if err := tx.AddRule(r); err != nil {
			t.Fatal(err)
		}
	}
	f := tx.Commit()
	cases := []struct {
		fl    Flow
		typ   RouteType
		table uint32
		prio  uint32
		ok    bool
	}{
		{Flow{Dst: addr("1.2.3.4"), Mark: 1, IIF: 3}, RouteUnicast, 100, 10, true},
		{Flow{Dst: addr("10.99.1.1"), Mark: 1, IIF: 3}, RouteUnicast, TableMain, 32766, true}, // throw in 100 (twice) → main
		{Flow{Dst: addr("10.50.1.1")}, RouteProhibit, 0, 20, true},                            // locally generated matches iif lo
		{Flow{Dst: addr("10.50.1.1"), IIF: 3}, RouteUnicast, 100, 90, true},                   // forwarded does not
		{Flow{Dst: addr("1.1.1.1"), IIF: 2}, RouteUnreachable, 0, 30, true},
		{Flow{Dst: addr("10.60.1.1"), IIF: 3}, RouteUnicast, 100, 70, true},          // goto 70 (tun_id != 42)
		{Flow{Dst: addr("8.8.8.8"), IIF: 3}, RouteUnicast, 100, 90, true},            // main's default suppressed by /0 rule
		{Flow{Dst: addr("8.8.8.8"), IIF: 3, TunID: 42}, RouteBlackhole, 0, 60, true}, // not tun_id 42 is false: no goto
	}
	for i, c := range cases {
		var res Result
		ok := f.Lookup(&c.fl, 0, &res)
		if ok != c.ok || ok && (res.Type != c.typ || res.Table != c.table || res.Rule.Priority != c.prio) {
			t.Errorf("case %d %+v: ok=%v %s table %d rule %+v", i, c.fl, ok, res.Type, res.Table, res.Rule)
		}
	}
	// The device appears: the rule matches from then on.
	tx.SetRuleDevice("gone", 9)
	f = tx.Commit()
	var res Result
	if fl := (Flow{Dst: addr("1.1.1.1"), IIF: 9}); !f.Lookup(&fl, 0, &res) || res.Rule.Priority != 40 {
		t.Fatalf("after SetRuleDevice: %+v", res)
	}
	// Mismatched or odd families never panic.
	for _, fl := range []Flow{{}, {Dst: addr("::ffff:10.1.1.1"), Src: addr("10.0.0.1")}, {Dst: addr("10.1.1.1"), Src: addr("::1")}} {
		f.Lookup(&fl, 0, &res)
		f.LookupTable(TableMain, fl.Dst, 0, &res)
	}
}

func TestDeadNexthopsAndBacktrack(t *testing.T) {
	tx := Empty().Begin()
	mustAdd(t, tx, uni("10.0.0.0/8", 0, 1, ""), FlagsAdd)
	mustAdd(t, tx, uni("10.1.0.0/16", 0, 2, ""), FlagsAdd)
	mustAdd(t, tx, uni("10.1.0.0/16", 10, 3, ""), FlagsAdd)
	mp := Route{Table: TableMain, Prefix: pfx("10.2.0.0/16"), Nexthops: []Nexthop{{Dev: 4, Weight: 1}, {Dev: 5, Weight: 3}}}
	mustAdd(t, tx, mp, FlagsAdd)
	f := tx.Commit()
	if res, _ := look(f, "10.1.1.1"); res.Nexthop.Dev != 2 {
		t.Fatalf("want dev 2, got %+v", res)
	}
	tx.SetDeviceUp(2, false)
	f2 := tx.Commit()
	if res, _ := look(f2, "10.1.1.1"); res.Nexthop.Dev != 3 {
		t.Fatalf("metric fallback: want dev 3, got %+v", res)
	}
	tx.SetDeviceUp(3, false)
	f3 := tx.Commit()
	if res, _ := look(f3, "10.1.1.1"); res.Nexthop.Dev != 1 || res.Route.Prefix != pfx("10.0.0.0/8") {
		t.Fatalf("backtrack: got %+v", res)
	}
	// Dumps show the down nexthops dead+linkdown; stored routes are untouched.
	for _, r := range routesOf(f3, TableMain, 4) {
		if d := r.Nexthops[0].Dev; (d == 2 || d == 3) != (r.Nexthops[0].Flags == NHDead|NHLinkDown) {
			t.Fatalf("flags of %+v", r)
		}
	}
	if res, _ := look(f, "10.1.1.1"); res.Nexthop.Dev != 2 {
		t.Fatal("old snapshot changed")
	}
	// ECMP weights 1:3, then all traffic on the live leg.
	count := map[uint32]int{}
	for h := uint32(0); h < 1<<16; h++ {
		var res Result
		fl := Flow{Dst: addr("10.2.0.1")}
		f3.Lookup(&fl, h<<16|h, &res)
		count[res.Nexthop.Dev]++
	}
	if c := count[5]; c < 3*count[4]-2000 || c > 3*count[4]+2000 {
		t.Fatalf("weights 1:3 gave %v", count)
	}
	tx.SetDeviceUp(5, false)
	f4 := tx.Commit()
	for h := uint32(0); h < 1000; h++ {
		if res, _ := look(f4, "10.2.0.1"); res.Nexthop.Dev != 4 {
			t.Fatalf("dead leg chosen: %+v", res)
		}
	}
	tx.SetDeviceUp(4, false)
	f5 := tx.Commit()
	if res, _ := look(f5, "10.2.0.1"); res.Nexthop.Dev != 1 {
		t.Fatalf("all legs dead: want backtrack to dev 1, got %+v", res)
	}
	// Flush: IPv4 multipath route through dev 4 goes whole.
	tx.FlushDevice(4)
	f6 := tx.Commit()
	if n := len(routesOf(f6, TableMain, 4)); n != 3 {
		t.Fatalf("after flush %d routes: %+v", n, routesOf(f6, TableMain, 4))
	}
	if !f6.DeviceUp(4) || f6.DeviceUp(5) {
		t.Fatal("device state after flush")
	}
}

func TestBoundsMatchKernel(t *testing.T) {
	// fib_rebalance for weights 1,2,1: total 4; bounds round(w*2^31/4)-1.
	nhs := []Nexthop{{Weight: 1}, {Weight: 2}, {Weight: 1}}
	setBounds(nhs)
	want := []int32{1<<29 - 1, 3<<29 - 1, 1<<31 - 1}
	for i := range nhs {
		if nhs[i].upper != want[i] {
			t.Fatalf("bound %d = %d, want %d", i, nhs[i].upper, want[i])
		}
	}
}

func TestFlowHash(t *testing.T) {
	a := Flow{Src: addr("10.0.0.1"), Dst: addr("10.0.0.2"), Proto: 6, SrcPort: 1000, DstPort: 80}
	b := a
	b.SrcPort = 1001
	if FlowHash(&a, false) != FlowHash(&b, false) {
		t.Fatal("l3 hash depends on ports")
	}
	if FlowHash(&a, true) == FlowHash(&b, true) {
		t.Fatal("l4 hash ignores ports")
	}
	// Swapped source and destination are different flows.
	r := Flow{Src: a.Dst, Dst: a.Src}
	if FlowHash(&a, false) == FlowHash(&r, false) {
		t.Fatal("swapped v4 flows collide")
	}
	a6 := Flow{Src: addr("2001:db8::1"), Dst: addr("2001:db8::2")}
	r6 := Flow{Src: a6.Dst, Dst: a6.Src}
	if FlowHash(&a6, false) == FlowHash(&r6, false) {
		t.Fatal("swapped v6 flows collide")
	}
	// No source yet, or mixed families: no panic.
	for _, fl := range []Flow{{Dst: addr("10.0.0.1")}, {Dst: addr("10.0.0.1"), Src: addr("::1")}, {}} {
		FlowHash(&fl, true)
	}
	// Spread: 4096 flows over 4 buckets of hash>>1 thresholds.
	var buckets [4]int
	for i := range 4096 {
		fl := Flow{Src: netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), Dst: addr("10.9.9.9")}
		buckets[(FlowHash(&fl, false)>>1)>>29]++
		fl6 := Flow{Src: netip.AddrFrom16([16]byte{0x20, 1, 13: byte(i >> 8), 15: byte(i)}), Dst: addr("2001:db8::9")}
		buckets[(FlowHash(&fl6, false)>>1)>>29]++
		fl.SrcPort = uint16(i)
		fl.Src = addr("10.0.0.1")
		buckets[(FlowHash(&fl, true)>>1)>>29]++
	}
	for _, n := range buckets {
		if n < 3*900 || n > 3*1150 {
			t.Fatalf("uneven %v", buckets)
		}
	}
}

func TestZeroAllocs(t *testing.T) {
	tx := Empty().Begin()
	mustAdd(t, tx, uni("10.0.0.0/8", 0, 1, "10.0.0.1"), FlagsAdd)
	mustAdd(t, tx, uni("2001:db8::/32", 0, 1, "2001:db8::1"), FlagsAdd)
	mustAdd(t, tx, Route{Table: TableMain, Prefix: pfx("10.1.0.0/16"), Nexthops: []Nexthop{{Dev: 1}, {Dev: 2}, {Dev: 3}}}, FlagsAdd)
	tx.SetDeviceUp(2, false)
	tx.SetDeviceUp(100000, false)
	fast := tx.Commit()
	if err := tx.AddRule(Rule{Family: 4, Priority: 5, Src: pfx("10.0.0.0/8"), IIF: "lo", Table: 100}); err != nil {
		t.Fatal(err)
	}
	slow := tx.Commit()
	var res Result
	fls := []Flow{
		{Dst: addr("10.1.2.3"), Src: addr("10.9.9.9")},
		{Dst: addr("2001:db8::5")},
		{Dst: addr("11.0.0.1")},
		{Dst: addr("::ffff:10.1.1.1")},
	}
	for _, f := range []*FIB{fast, slow} {
		for i := range fls {
			fl := &fls[i]
			if n := testing.AllocsPerRun(100, func() { f.Lookup(fl, FlowHash(fl, true), &res) }); n != 0 {
				t.Errorf("Lookup %s: %v allocs", fl.Dst, n)
			}
			if n := testing.AllocsPerRun(100, func() { f.LookupTable(TableMain, fl.Dst, 12345, &res) }); n != 0 {
				t.Errorf("LookupTable %s: %v allocs", fl.Dst, n)
			}
			c := new(Cache)
			if n := testing.AllocsPerRun(100, func() { f.LookupCached(c, fl, FlowHash(fl, true), &res) }); n != 0 {
				t.Errorf("LookupCached %s: %v allocs", fl.Dst, n)
			}
			if n := testing.AllocsPerRun(100, func() { f.LookupTableCached(c, TableMain, fl.Dst, 12345, &res) }); n != 0 {
				t.Errorf("LookupTableCached %s: %v allocs", fl.Dst, n)
			}
		}
	}
	if n := testing.AllocsPerRun(100, func() { FlowHash(&fls[1], true) }); n != 0 {
		t.Errorf("FlowHash: %v allocs", n)
	}
}

func TestDefaultScope(t *testing.T) {
	for _, c := range []struct {
		r    Route
		want Scope
	}{
		{Route{Type: RouteLocal, Nexthops: []Nexthop{{Dev: 1}}}, ScopeHost},
		{Route{Type: RouteBroadcast, Nexthops: []Nexthop{{Dev: 1}}}, ScopeLink},
		{Route{Nexthops: []Nexthop{{Dev: 1}}}, ScopeLink},
		{Route{Nexthops: []Nexthop{{Dev: 1, Gateway: addr("10.0.0.1")}}}, ScopeUniverse},
		{Route{Nexthops: []Nexthop{{Dev: 1}, {Dev: 2}}}, ScopeUniverse},
		{Route{Type: RouteBlackhole}, ScopeUniverse},
	} {
		if got := DefaultScope(&c.r); got != c.want {
			t.Errorf("%+v: %s, want %s", c.r, got, c.want)
		}
	}
}

// The zero FIB has no rules and no tables; it must still work.
func TestZeroFIB(t *testing.T) {
	var f FIB
	var res Result
	fl := Flow{Dst: addr("10.0.0.1")}
	if f.Lookup(&fl, 0, &res) || f.LookupTable(TableMain, fl.Dst, 0, &res) {
		t.Fatal("route in the zero FIB")
	}
	tx := f.Begin()
	mustAdd(t, tx, uni("10.0.0.0/8", 0, 1, ""), FlagsAdd)
	if err := tx.AddRule(Rule{Family: 4, Table: TableMain}); err != nil {
		t.Fatal(err)
	}
	if res, ok := look(tx.Commit(), "10.0.0.1"); !ok || res.Nexthop.Dev != 1 {
		t.Fatalf("%+v %v", res, ok)
	}
}

func TestTypeStrings(t *testing.T) {
	for i := RouteType(0); i < numRouteTypes; i++ {
		if p, ok := ParseRouteType(i.String()); !ok || p != i {
			t.Fatalf("%d %q", i, i.String())
		}
	}
	if RouteUnicast.String() != "unicast" || RouteThrow.String() != "throw" || RuleToTable.String() != "lookup" {
		t.Fatal("names")
	}
}

// FuzzOps decodes a sequence of operations from the input, applies them to
// a FIB and to the reference model, and compares errors, lookups and dumps.
func FuzzOps(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Add([]byte("\x00\x01\x00\x02\x03\x01\x00\x05\x05\x05\x00\x13\x00\x09\x01\x02\x03\x04\x05\x06\x07\x08"))
	seed := make([]byte, 512)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range seed {
		seed[i] = byte(r.IntN(256))
	}
	f.Add(seed)
	f.Fuzz(func(t *testing.T, data []byte) {
		c := &byteChooser{b: data}
		h := newHarness()
		for i := 0; !c.done() && i < 200; i++ {
			if err := h.step(c); err != nil {
				t.Fatalf("op %d: %v", i, err)
			}
			if i%8 == 7 {
				if err := h.check(c, 8); err != nil {
					t.Fatalf("op %d: %v", i, err)
				}
			}
		}
		if err := h.check(c, 8); err != nil {
			t.Fatal(err)
		}
	})
}

// A transaction that rewrites much of a shared trie switches from path
// copies to one clone; both snapshots must stay right.
func TestLargeTxnClonesOnce(t *testing.T) {
	c := randChooser{rand.New(rand.NewPCG(5, 5))}
	h := newHarness()
	add := func(n int) {
		for range n {
			v4 := c.intn(3) != 0
			r := randRoute(c, v4)
			r.Prefix = randPrefix(c, v4)
			if v4 {
				r.Prefix = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(c.intn(256)), byte(c.intn(256)), 0}), 24)
			}
			e1, e2 := h.tx.AddRoute(r, FlagsReplace), h.ref.addRoute(r, FlagsReplace)
			if !sameErr(e1, e2) {
				t.Fatalf("add %+v: %v vs %v", r, e1, e2)
			}
		}
	}
	add(3000)
	if err := h.check(c, 500); err != nil {
		t.Fatal(err)
	}
	old, oldRef := h.f, h.ref.clone()
	add(3000)
	for range 300 {
		m := randMatch(c, true, h.refRoutes(true))
		if e1, e2 := h.tx.DelRoute(m), h.ref.delRoute(m); !sameErr(e1, e2) {
			t.Fatalf("del %+v: %v vs %v", m, e1, e2)
		}
	}
	if tt := h.tx.tables[TableMain]; tt == nil || !tt.excl {
		t.Fatal("large transaction did not switch to a private clone")
	}
	if err := h.check(c, 500); err != nil {
		t.Fatal(err)
	}
	h2 := &harness{f: old, tx: old.Begin(), ref: oldRef}
	if err := h2.check(c, 500); err != nil {
		t.Fatalf("old snapshot: %v", err)
	}
}

// The package may import only the standard library, bart and errs.
func TestImports(t *testing.T) {
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, ".", func(fi fs.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, parser.ImportsOnly)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pkgs {
		for name, f := range p.Files {
			for _, im := range f.Imports {
				path := strings.Trim(im.Path.Value, `"`)
				if strings.Contains(strings.Split(path, "/")[0], ".") && path != "github.com/gaissmai/bart" ||
					strings.HasPrefix(path, "flowpath/") && path != "flowpath/internal/errs" && path != "flowpath/internal/tunnel" {
					t.Errorf("%s imports %s", name, path)
				}
			}
		}
	}
}

// Routes dumps in the kernel's order, as `ip route show` printed it on
// Linux 6.18 for the same prefixes: IPv4 by address with the longer
// prefix of one address first (fib_trie), IPv6 children before their
// parents and ::/0 last (the fib6 walk).
func TestRoutesDumpOrder(t *testing.T) {
	tx := Empty().Begin()
	v4 := []string{"0.0.0.0/0", "10.0.0.0/8", "10.5.0.0/16", "10.5.0.0/24", "10.5.1.0/24", "10.6.0.0/24", "192.168.0.0/16"}
	v6 := []string{"2001:db8::/64", "2001:db8::/48", "2001:db8:1::/64", "2001:db8:2::/48", "2001:db8:ffff::/48",
		"2001:db8::/32", "2001:db9::/32", "2000::/3", "::/0"}
	for _, list := range [][]string{v4, v6} {
		for i := len(list) - 1; i >= 0; i-- { // added backwards: the order is the dump's own
			mustAdd(t, tx, uni(list[i], 0, 1, ""), FlagsAdd)
		}
	}
	f := tx.Commit()
	for fam, want := range map[int][]string{4: {"0.0.0.0/0", "10.0.0.0/8", "10.5.0.0/24", "10.5.0.0/16", "10.5.1.0/24",
		"10.6.0.0/24", "192.168.0.0/16"}, 6: v6} {
		var got []string
		f.Routes(TableMain, fam, func(r *Route) bool {
			got = append(got, r.Prefix.String())
			return true
		})
		if !reflect.DeepEqual(got, want) {
			t.Errorf("IPv%d dump order:\n got  %v\n want %v", fam, got, want)
		}
	}
}
