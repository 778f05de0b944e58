package neigh

import (
	"cmp"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"flowpath/internal/errs"
)

// The reference model: the kernel's neighbour semantics written the plain
// way, single-threaded, on a map, with no fast table, rings, gc list, timer
// bookkeeping or GC shortcuts. The random tests drive the Table (through its
// public API, manager included) and the model with the same operations and
// compare everything observable after each step.

type mEntry struct {
	Entry
	fam     int
	timerAt int64
	armed   bool
	gcSeq   uint64 // position on the gc list (joined when created or unstaticked)
}

type mFam struct {
	lastFlush, lastRand, reach, nextPeriodic int64
}

type model struct {
	cfg   Config
	now   int64
	ents  map[Key]*mEntry
	fams  [2]mFam
	seq   uint64
	stats Stats
	sols  []solCall
}

const (
	mSpared = int64(5 * time.Second)
)

func newModel(cfg Config) *model {
	m := &model{cfg: cfg, ents: map[Key]*mEntry{}, now: cfg.Now()}
	for i := range m.fams {
		f := &m.fams[i]
		f.reach = m.randReach()
		f.lastFlush = m.now
		f.lastRand = m.now + 20*f.reach
		f.nextPeriodic = m.now + f.reach
	}
	return m
}

func (m *model) base() int64 { return int64(m.cfg.BaseReachable) }

func (m *model) randReach() int64 {
	b := m.base()
	if b <= 0 {
		return 0
	}
	return b/2 + int64(m.cfg.Rand()%uint64(b))
}

func isStatic(s State) bool { return s == Permanent || s == NoARP }
func inTimer(s State) bool {
	return s == Incomplete || s == Reachable || s == Delay || s == Probe
}
func connected(s State) bool { return s == Permanent || s == NoARP || s == Reachable }

func famIdx(a netip.Addr) int {
	if a.Is4() {
		return 0
	}
	return 1
}

func (m *model) count(fam int, nonStaticOnly bool) int {
	n := 0
	for _, e := range m.ents {
		if e.fam == fam && (!nonStaticOnly || !isStatic(e.State)) {
			n++
		}
	}
	return n
}

func (m *model) retrans() int64 { return max(int64(m.cfg.Retrans), int64(10*time.Millisecond)) }

func (m *model) drop(e *mEntry) {
	delete(m.ents, e.Key())
	m.stats.Destroys++
}

func (m *model) forcedGC(fam int) int {
	m.stats.ForcedGCRuns++
	var list []*mEntry
	for _, e := range m.ents {
		if e.fam == fam && !isStatic(e.State) {
			list = append(list, e)
		}
	}
	slices.SortFunc(list, func(a, b *mEntry) int { return cmp.Compare(a.gcSeq, b.gcSeq) })
	maxClean := len(list) + 1 - m.cfg.GCThresh2
	shrunk := 0
	for _, e := range list {
		if inTimer(e.State) {
			continue
		}
		if e.State == Failed || e.Updated < m.now-mSpared || e.Updated > m.now {
			m.drop(e)
			shrunk++
		}
		if shrunk >= maxClean {
			break
		}
	}
	m.fams[fam].lastFlush = m.now
	return shrunk
}

func (m *model) create(k Key, exempt bool) *mEntry {
	fam := famIdx(k.Addr)
	if !exempt {
		n := m.count(fam, true)
		if n >= m.cfg.GCThresh3 || (n >= m.cfg.GCThresh2 && m.now > m.fams[fam].lastFlush+mSpared) {
			if m.forcedGC(fam) == 0 && n >= m.cfg.GCThresh3 {
				m.stats.TableFulls++
				return nil
			}
		}
	}
	e := &mEntry{fam: fam}
	e.Dev, e.Addr = k.Dev, k.Addr
	e.Updated, e.Used, e.Confirmed = m.now, m.now, m.now-2*m.base()
	m.seq++
	e.gcSeq = m.seq
	m.ents[k] = e
	m.stats.Allocs++
	return e
}

func (m *model) arm(e *mEntry, at int64) {
	if e.Used < e.Confirmed {
		e.Used = e.Confirmed
	}
	e.timerAt, e.armed = at, true
}

func (m *model) solicit(e *mEntry) {
	c := solCall{Dev: e.Dev, Addr: e.Addr}
	if e.Probes < m.cfg.UcastSolicit {
		c.Unicast, c.MAC = true, e.MAC
		m.stats.UcastProbes++
	} else {
		m.stats.McastProbes++
	}
	m.sols = append(m.sols, c)
	e.Probes++
}

// send is neigh_event_send.
func (m *model) send(e *mEntry) {
	e.Used = m.now
	switch e.State {
	case None, Failed:
		if m.cfg.McastSolicit > 0 {
			e.Probes = m.cfg.UcastSolicit
			e.State = Incomplete
			e.Updated = m.now
			m.arm(e, m.now+m.retrans())
			m.solicit(e)
		} else {
			e.State = Failed
			e.Updated = m.now
		}
	case Stale:
		e.State = Delay
		e.Updated = m.now
		m.arm(e, m.now+int64(m.cfg.DelayFirstProbe))
	}
}

type mUpd struct{ override, weak, admin, setRouter, router bool }

// update is __neigh_update; false means "no address known" (EINVAL).
func (m *model) update(e *mEntry, ll *[6]byte, nw State, f mUpd) bool {
	old := e.State
	if !f.admin && isStatic(old) {
		return true
	}
	wasStatic := isStatic(old)
	defer func() {
		if wasStatic && !isStatic(e.State) {
			m.seq++
			e.gcSeq = m.seq
		}
	}()
	if !nw.Valid() {
		e.armed = false
		e.State = nw
		if (old == Incomplete || old == Probe) && nw == Failed {
			m.stats.ResFailed++
			e.Updated = m.now
		}
		return true
	}
	mac := e.MAC
	changed := false
	if ll != nil {
		mac = *ll
		changed = !old.Valid() || mac != e.MAC
	} else if !old.Valid() {
		return false
	}
	if connected(nw) {
		e.Confirmed = m.now
	}
	setRouter := f.setRouter
	if old.Valid() {
		if changed && !f.override {
			setRouter = false
			if !f.weak || !connected(old) {
				return true
			}
			changed, nw = false, Stale
		} else if !changed && nw == Stale && !f.admin {
			nw = old
		}
	}
	if nw != old || changed {
		e.Updated = m.now
	}
	if nw != old {
		e.armed = false
		if nw == Probe {
			e.Probes = 0
		}
		if inTimer(nw) {
			at := m.now
			if nw == Reachable {
				at += m.fams[e.fam].reach
			}
			m.arm(e, at)
		}
		e.State = nw
	}
	if changed {
		e.MAC = mac
		if !connected(nw) {
			e.Confirmed = m.now - 2*m.base()
		}
	}
	if setRouter {
		e.Router = f.router
	}
	return true
}

func (m *model) fire(e *mEntry) {
	if !inTimer(e.State) {
		return
	}
	now := m.now
	reach := m.fams[e.fam].reach
	delay := int64(m.cfg.DelayFirstProbe)
	next := now + int64(time.Second)
	switch e.State {
	case Reachable:
		switch {
		case now <= e.Confirmed+reach:
			next = e.Confirmed + reach
		case now <= e.Used+delay:
			e.State, e.Updated, next = Delay, now, now+delay
		default:
			e.State, e.Updated = Stale, now
		}
	case Delay:
		if now <= e.Confirmed+delay {
			e.State, e.Updated, next = Reachable, now, e.Confirmed+reach
		} else {
			e.State, e.Updated, e.Probes, next = Probe, now, 0, now+m.retrans()
		}
	default:
		next = now + m.retrans()
	}
	maxP := m.cfg.UcastSolicit + m.cfg.McastSolicit
	if e.State == Probe {
		maxP = m.cfg.UcastSolicit + m.cfg.McastResolicit
	}
	if (e.State == Incomplete || e.State == Probe) && e.Probes >= maxP {
		e.State = Failed
		m.stats.ResFailed++
		e.Updated = now
		return
	}
	if inTimer(e.State) {
		e.timerAt, e.armed = max(next, now+int64(10*time.Millisecond)), true
	}
	if e.State == Incomplete || e.State == Probe {
		m.solicit(e)
	}
}

// poll: timers, then the periodic collector per family.
func (m *model) poll() {
	for _, e := range m.ents {
		if e.armed && e.timerAt <= m.now {
			e.armed = false
			m.fire(e)
		}
	}
	for fam := range m.fams {
		f := &m.fams[fam]
		if m.now < f.nextPeriodic {
			continue
		}
		m.stats.GCRuns++
		if m.now > f.lastRand+int64(300*time.Second) {
			f.lastRand = m.now
			f.reach = m.randReach()
		}
		if m.count(fam, false) >= m.cfg.GCThresh1 {
			for _, e := range m.ents {
				if e.fam != fam || isStatic(e.State) || inTimer(e.State) {
					continue
				}
				if e.Used < e.Confirmed && e.Confirmed <= m.now {
					e.Used = e.Confirmed
				}
				if e.State == Failed || m.now < e.Used || m.now >= e.Used+int64(m.cfg.GCStale) {
					m.drop(e)
				}
			}
		}
		f.nextPeriodic = m.now + max(m.base()/2, int64(10*time.Millisecond))
	}
}

func (m *model) miss(k Key) {
	e := m.ents[k]
	if e != nil && (inTimer(e.State) || isStatic(e.State)) {
		return // Table.Miss does not post for these
	}
	if e == nil {
		if e = m.create(k, false); e == nil {
			return
		}
	}
	m.send(e)
}

func (m *model) usedStale(k Key) {
	if e := m.ents[k]; e != nil && e.State == Stale {
		m.send(e)
	}
}

func (m *model) confirm(k Key, mac [6]byte, fl ConfirmFlags) {
	e := m.ents[k]
	var ll *[6]byte
	if fl&NoLLAddr == 0 {
		ll = &mac
	}
	if fl&IsRequest != 0 {
		if e == nil {
			if ll == nil {
				return
			}
			if e = m.create(k, false); e == nil {
				return
			}
		}
		m.update(e, ll, Stale, mUpd{override: true, weak: true})
		return
	}
	if e == nil {
		return
	}
	nw := Stale
	if fl&Solicited != 0 {
		nw = Reachable
	}
	var f mUpd
	if k.Addr.Is4() {
		f.override = m.now > e.Updated+int64(m.cfg.Locktime) || fl&Override != 0
	} else {
		f = mUpd{override: fl&Override != 0, weak: true, setRouter: true, router: fl&Router != 0}
	}
	m.update(e, ll, nw, f)
}

func (m *model) add(in Entry, fl AddFlags) error {
	if in.Dev == 0 || !in.Addr.IsValid() || in.Addr.IsUnspecified() {
		return errs.ErrInvalid
	}
	k := Key{in.Dev, in.Addr.WithZone("")}
	st := in.State
	if st == None {
		st = Permanent
	}
	switch st {
	case Permanent, NoARP, Reachable, Stale, Delay, Probe, Failed:
	default:
		return errs.ErrInvalid
	}
	e := m.ents[k]
	f := mUpd{override: true, admin: true, setRouter: true, router: in.Router}
	if e == nil {
		if fl&AddCreate == 0 {
			return errs.ErrNoEntry
		}
		if st.Valid() && fl&AddNoLLAddr != 0 {
			return errs.ErrInvalid
		}
		if e = m.create(k, isStatic(st)); e == nil {
			return errs.ErrNoSpace
		}
	} else {
		if fl&AddExcl != 0 {
			return errs.ErrExists
		}
		if fl&AddReplace == 0 {
			f.override, f.setRouter = false, false
		}
	}
	var ll *[6]byte
	if fl&AddNoLLAddr == 0 {
		ll = &in.MAC
	}
	if !m.update(e, ll, st, f) {
		return errs.ErrInvalid
	}
	return nil
}

func (m *model) del(k Key) error {
	e := m.ents[k]
	if e == nil {
		return errs.ErrNoEntry
	}
	m.update(e, nil, Failed, mUpd{override: true, admin: true})
	m.drop(e)
	return nil
}

func (m *model) flush(filter func(Entry) bool) int {
	n := 0
	for k, e := range m.ents {
		if !isStatic(e.State) && (filter == nil || filter(e.Entry)) {
			m.del(k)
			n++
		}
	}
	return n
}

func (m *model) flushDev(dev uint32, keepPerm bool) {
	for _, e := range m.ents {
		if e.Dev == dev && !(keepPerm && e.State == Permanent) {
			m.drop(e)
		}
	}
}

func (m *model) dump() []Entry {
	var out []Entry
	for _, e := range m.ents {
		out = append(out, e.Entry)
	}
	slices.SortFunc(out, func(a, b Entry) int {
		if c := cmp.Compare(a.Dev, b.Dev); c != 0 {
			return c
		}
		return a.Addr.Compare(b.Addr)
	})
	return out
}

// ---- the driver ----

type opKind uint8

const (
	opMiss opKind = iota
	opUsedStale
	opConfirm
	opAdd
	opDel
	opFlush
	opFlushDev
	opCarrierDown
	opAdvance
	opCount
)

type op struct {
	kind  opKind
	key   int // index into keys
	mac   int // index into macs
	cfl   ConfirmFlags
	afl   AddFlags
	st    State
	rtr   bool
	delta time.Duration
}

var (
	modelKeys = func() []Key {
		var ks []Key
		for dev := uint32(1); dev <= 2; dev++ {
			for i := 1; i <= 4; i++ {
				ks = append(ks, Key{dev, netip.AddrFrom4([4]byte{10, 0, 0, byte(i)})})
				ks = append(ks, Key{dev, netip.AddrFrom16([16]byte{0xfd, 15: byte(i)})})
			}
		}
		return ks
	}()
	modelMACs   = [][6]byte{macA, macB, macC}
	modelStates = []State{None, Permanent, NoARP, Reachable, Stale, Delay, Probe, Failed, Incomplete}
	modelAddFl  = []AddFlags{CmdAdd, CmdReplace, CmdChange, AddCreate, 0}
	modelDeltas = []time.Duration{0, 1, time.Millisecond, 10 * time.Millisecond, 500 * time.Millisecond,
		999 * time.Millisecond, time.Second, 1500 * time.Millisecond, 3 * time.Second, 5 * time.Second,
		5*time.Second + time.Millisecond, 5*time.Second - 1, 16 * time.Second, 31 * time.Second, 61 * time.Second, 301 * time.Second}
)

// decodeOp turns bytes into an operation (shared by the random test and
// the fuzz target). It consumes at most 4 bytes.
func decodeOp(b []byte) (op, int) {
	get := func(i int) int {
		if i < len(b) {
			return int(b[i])
		}
		return 0
	}
	o := op{}
	w := get(0) % 100
	switch {
	case w < 25:
		o.kind = opMiss
	case w < 33:
		o.kind = opUsedStale
	case w < 58:
		o.kind = opConfirm
	case w < 68:
		o.kind = opAdd
	case w < 73:
		o.kind = opDel
	case w < 75:
		o.kind = opFlush
	case w < 76:
		o.kind = opFlushDev
	case w < 77:
		o.kind = opCarrierDown
	default:
		o.kind = opAdvance
	}
	o.key = get(1) % len(modelKeys)
	o.mac = get(2) % len(modelMACs)
	x := get(3)
	o.cfl = ConfirmFlags(x & 0x1f)
	o.afl = modelAddFl[x%len(modelAddFl)]
	if x&0x80 != 0 {
		o.afl |= AddNoLLAddr
	}
	o.st = modelStates[(x>>3)%len(modelStates)]
	o.rtr = x&0x40 != 0
	o.delta = modelDeltas[get(1)%len(modelDeltas)]
	n := 4
	if n > len(b) {
		n = len(b)
	}
	return o, n
}

type pair struct {
	t   testing.TB
	clk *fakeClock
	rec *recorder
	tbl *Table
	m   *model
	log []string
}

func modelConfigs() map[string]func(*Config) {
	return map[string]func(*Config){
		"small":    func(c *Config) { c.GCThresh1, c.GCThresh2, c.GCThresh3 = 3, 4, 6 },
		"tight":    func(c *Config) { c.GCThresh1, c.GCThresh2, c.GCThresh3 = 1, 2, 2 },
		"roomy":    func(c *Config) {},
		"noucast":  func(c *Config) { c.GCThresh1, c.GCThresh2, c.GCThresh3 = 2, 3, 5; c.UcastSolicit = 0 },
		"nomcast":  func(c *Config) { c.McastSolicit = 0; c.GCThresh1 = 2 },
		"reprobe":  func(c *Config) { c.McastResolicit = 2; c.UcastSolicit = 1; c.GCThresh1 = 4 },
		"fastbase": func(c *Config) { c.BaseReachable = 2 * time.Second; c.GCStale = 3 * time.Second; c.GCThresh1 = 2 },
	}
}

func newPair(t testing.TB, seed uint64, mod func(*Config)) *pair {
	clk := &fakeClock{}
	clk.Set(int64(1000 * time.Second))
	rec := &recorder{clk: clk}
	mk := func() Config {
		c := DefaultConfig()
		c.Now = clk.Now
		g := &pcg{s: seed}
		c.Rand = g.next
		mod(&c)
		return c
	}
	return &pair{t: t, clk: clk, rec: rec, tbl: NewTable(mk(), 1, rec.solicit), m: newModel(mk())}
}

func (p *pair) apply(o op) {
	k := modelKeys[o.key]
	mac := modelMACs[o.mac]
	tb, m := p.tbl, p.m
	p.log = append(p.log, fmt.Sprintf("%+v key=%v", o, k))
	var e1, e2 error
	switch o.kind {
	case opMiss:
		tb.Miss(0, k.Dev, k.Addr)
		m.miss(k)
	case opUsedStale:
		tb.UsedStale(0, k.Dev, k.Addr)
		m.usedStale(k)
	case opConfirm:
		tb.Confirm(0, k.Dev, k.Addr, mac, o.cfl)
		m.confirm(k, mac, o.cfl)
	case opAdd:
		in := Entry{Dev: k.Dev, Addr: k.Addr, MAC: mac, State: o.st, Router: o.rtr}
		e1 = tb.Add(in, o.afl)
		e2 = m.add(in, o.afl)
	case opDel:
		e1 = tb.Del(k.Dev, k.Addr)
		e2 = m.del(k)
	case opFlush:
		var f func(Entry) bool
		if o.mac == 1 {
			f = func(e Entry) bool { return e.Dev == k.Dev }
		} else if o.mac == 2 {
			f = func(e Entry) bool { return e.State == Stale }
		}
		n1, n2 := tb.Flush(f), m.flush(f)
		if n1 != n2 {
			p.fail("flush removed %d, model %d", n1, n2)
		}
	case opFlushDev:
		tb.FlushDevice(k.Dev)
		m.flushDev(k.Dev, false)
	case opCarrierDown:
		tb.CarrierDown(k.Dev)
		m.flushDev(k.Dev, true)
	case opAdvance:
		p.clk.Advance(o.delta)
		m.now = p.clk.Now()
	}
	if errs.Code(e1) != errs.Code(e2) {
		p.fail("error %v, model %v", e1, e2)
	}
	tb.Poll()
	m.poll()
	p.compare()
}

func (p *pair) fail(format string, args ...any) {
	p.t.Helper()
	tail := p.log
	if len(tail) > 25 {
		tail = tail[len(tail)-25:]
	}
	p.t.Fatalf("after %d ops (last ones:\n  %s\n): %s", len(p.log), strings.Join(tail, "\n  "), fmt.Sprintf(format, args...))
}

func (p *pair) compare() {
	p.t.Helper()
	var got []Entry
	p.tbl.Dump(func(e Entry) bool { got = append(got, e); return true })
	want := p.m.dump()
	if !slices.Equal(got, want) {
		p.fail("dump differs:\n got %v\nwant %v", fmtEntries(got), fmtEntries(want))
	}
	for _, k := range modelKeys {
		mac, st, ok := p.tbl.Lookup(k.Dev, k.Addr)
		e := p.m.ents[k]
		if ok != (e != nil) || (ok && (st != e.State || mac != e.MAC)) {
			p.fail("Lookup(%v) = %x %v %v, model %+v", k, mac, st, ok, e)
		}
	}
	sols := p.rec.take()
	for i := range sols {
		sols[i].At = 0
	}
	msols := p.m.sols
	p.m.sols = nil
	sortSols(sols)
	sortSols(msols)
	if !slices.Equal(sols, msols) {
		p.fail("solicitations %v, model %v", sols, msols)
	}
	st, ms := p.tbl.Stats(), p.m.stats
	ms.Entries = len(p.m.ents)
	ms.Entries4, ms.Entries6 = p.m.count(0, false), p.m.count(1, false)
	st.EventDrops, st.UnresolvedDiscards = 0, 0
	if st != ms {
		p.fail("stats\n got %+v\nwant %+v", st, ms)
	}
	for fam := range p.m.fams {
		if got, want := int64(p.tbl.ReachableTime(fam == 1)), p.m.fams[fam].reach; got != want {
			p.fail("reachable_time fam %d: %v, model %v", fam, got, want)
		}
	}
}

func fmtEntries(es []Entry) string {
	var b strings.Builder
	for _, e := range es {
		fmt.Fprintf(&b, "\n   %v upd=%d used=%d conf=%d probes=%d", e, e.Updated/1e6, e.Used/1e6, e.Confirmed/1e6, e.Probes)
	}
	return b.String()
}

func TestModelRandom(t *testing.T) {
	steps := 4000
	if testing.Short() {
		steps = 800
	}
	for name, mod := range modelConfigs() {
		t.Run(name, func(t *testing.T) {
			for seed := uint64(1); seed <= 6; seed++ {
				p := newPair(t, seed, mod)
				g := &pcg{s: seed * 7919}
				for i := 0; i < steps; i++ {
					var b [4]byte
					x := g.next()
					for j := range b {
						b[j] = byte(x >> (8 * j))
					}
					o, _ := decodeOp(b[:])
					p.apply(o)
				}
			}
		})
	}
}

// TestModelCoverage makes sure the random sequences reach the interesting
// places, so a model comparison that passes is not passing on empty ground.
func TestModelCoverage(t *testing.T) {
	seen := map[State]bool{}
	var st Stats
	for name, mod := range modelConfigs() {
		if name == "nomcast" {
			continue
		}
		p := newPair(t, 3, mod)
		g := &pcg{s: 99}
		for i := 0; i < 3000; i++ {
			var b [4]byte
			x := g.next()
			for j := range b {
				b[j] = byte(x >> (8 * j))
			}
			o, _ := decodeOp(b[:])
			p.apply(o)
			for _, e := range p.m.ents {
				seen[e.State] = true
			}
		}
		s := p.tbl.Stats()
		st.TableFulls += s.TableFulls
		st.ForcedGCRuns += s.ForcedGCRuns
		st.ResFailed += s.ResFailed
		st.UcastProbes += s.UcastProbes
		st.Destroys += s.Destroys
	}
	for _, s := range []State{Incomplete, Reachable, Stale, Delay, Probe, Failed, NoARP, Permanent} {
		if !seen[s] {
			t.Errorf("state %v never reached", s)
		}
	}
	if st.TableFulls == 0 || st.ForcedGCRuns == 0 || st.ResFailed == 0 || st.UcastProbes == 0 || st.Destroys == 0 {
		t.Errorf("counters never moved: %+v", st)
	}
	_ = math.MaxInt64
}
