package fdb

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"flowpath/internal/errs"
)

// The reference model: a plain map per key, a plain queue of learn events
// per worker, and the rules of §3.3 step 11, §3.6 and the ageing collector
// written out directly. The table must agree with it on every error, every
// lookup, every dump (timestamps included) and every counter.

type mkey struct {
	mac [6]byte
	vni uint32
}

type mentry struct {
	remotes       []Remote
	state         State
	learned       bool
	updated, used int64
}

type model struct {
	cfg      Config // normalized
	workers  int
	ageing   int64
	learning bool
	m        map[mkey]*mentry
	queues   [][]event
	clock    int64 // as the workers see it
	nextGC   int64
	st       Stats
	now      func() int64
}

func newModel(cfg Config, workers int) *model {
	cfg.normalize()
	now := cfg.Now()
	return &model{
		cfg: cfg, workers: workers, ageing: int64(cfg.Ageing), learning: cfg.Learning,
		m: map[mkey]*mentry{}, queues: make([][]event, workers),
		clock: now, nextGC: now + int64(10*time.Second), now: cfg.Now,
	}
}

func (m *model) key(mac [6]byte, vni uint32) mkey {
	if !m.cfg.External {
		vni = 0
	}
	return mkey{mac, vni}
}

func (m *model) norm(r Remote) Remote {
	r.IP = r.IP.WithZone("")
	if r.Port == m.cfg.Port {
		r.Port = 0
	}
	if !r.HasVNI || r.VNI == m.cfg.VNI {
		r.HasVNI, r.VNI = false, 0
	}
	return r
}

func unicast(mac [6]byte) bool { return mac != [6]byte{} && mac[0]&1 == 0 }

func (m *model) add(e Entry, op Op) error {
	switch {
	case op < OpAdd || op > OpChange:
		return errs.ErrInvalid
	case e.State&(Permanent|Reachable) == 0:
		return errs.ErrInvalid
	case len(e.Remotes) == 0 || !e.Remotes[0].IP.IsValid() || len(e.Remotes) > 1:
		return errs.ErrInvalid
	}
	r := m.norm(e.Remotes[0])
	v6 := !r.IP.Is4()
	if v6 != (m.cfg.Family == 6) {
		return errs.ErrAFNoSupport
	}
	if r.VNI >= 1<<24 || (m.cfg.External && e.VNI >= 1<<24) {
		return errs.ErrInvalid
	}
	k := m.key(e.MAC, e.VNI)
	now := m.now()
	x := m.m[k]
	replace := op == OpReplace || op == OpChange
	if x == nil {
		switch {
		case op == OpChange:
			return errs.ErrNoEntry
		case replace && !unicast(e.MAC):
			return errs.ErrNotSupported
		case m.cfg.MaxAddress > 0 && len(m.m) >= m.cfg.MaxAddress:
			return errs.ErrNoSpace
		}
		m.m[k] = &mentry{remotes: []Remote{r}, state: e.State, updated: now, used: now}
		return nil
	}
	if op == OpAdd {
		return errs.ErrExists
	}
	if replace && !unicast(e.MAC) {
		return errs.ErrNotSupported
	}
	rs := slices.Clone(x.remotes)
	if replace && !slices.Contains(rs, r) {
		rs[0] = r
	}
	if op == OpAppend && !unicast(e.MAC) && !slices.Contains(rs, r) {
		rs = append(rs, r)
	}
	if x.state != e.State || x.learned || !slices.Equal(rs, x.remotes) {
		x.remotes, x.state, x.learned, x.updated = rs, e.State, false, now
	}
	return nil
}

func (m *model) del(mac [6]byte, vni uint32, r *Remote) error {
	k := m.key(mac, vni)
	x := m.m[k]
	if x == nil {
		return errs.ErrNoEntry
	}
	if r == nil || !r.IP.IsValid() || r.IP.IsUnspecified() {
		delete(m.m, k)
		return nil
	}
	n := m.norm(*r)
	var keep []Remote
	for _, y := range x.remotes {
		if y != n {
			keep = append(keep, y)
		}
	}
	switch {
	case len(keep) == 0:
		delete(m.m, k)
	case len(keep) < len(x.remotes):
		x.remotes = keep
	}
	return nil
}

func (m *model) lookup(mac [6]byte, vni uint32) ([]Remote, bool) {
	x := m.m[m.key(mac, vni)]
	if x == nil {
		return nil, false
	}
	if m.clock-x.used >= int64(time.Second) {
		x.used = m.clock
	}
	return x.remotes, true
}

func (m *model) learn(w int, mac [6]byte, vni uint32, r Remote) bool {
	if !m.learning || w < 0 || w >= m.workers {
		return false
	}
	if !unicast(mac) {
		m.st.DroppedInvalidSource++
		return true
	}
	if !r.IP.IsValid() {
		return false
	}
	k := m.key(mac, vni)
	ev := event{ip: r.IP.WithZone(""), mac: mac, vni: k.vni}
	if ev.ip.Is6() && ev.ip.IsLinkLocalUnicast() {
		ev.ifindex = r.Ifindex
	}
	if x := m.m[k]; x != nil {
		if m.clock-x.updated >= int64(time.Second) {
			x.updated = m.clock
		}
		if x.remotes[0].IP == ev.ip && x.remotes[0].Ifindex == ev.ifindex {
			return false
		}
		if x.state&(Permanent|NoARP) != 0 {
			m.st.DroppedStatic++
			return true
		}
	}
	q := m.queues[w]
	switch {
	case len(q) > 0 && q[len(q)-1] == ev:
	case len(q) == m.cfg.RingSize:
		m.st.EventDrops++
	default:
		m.queues[w] = append(q, ev)
	}
	return false
}

func (m *model) poll() {
	now := m.now()
	m.clock = now
	for w, q := range m.queues {
		for _, ev := range q {
			k := mkey{ev.mac, ev.vni}
			x := m.m[k]
			switch {
			case x == nil && m.cfg.MaxAddress > 0 && len(m.m) >= m.cfg.MaxAddress:
				m.st.TableFull++
			case x == nil:
				m.m[k] = &mentry{remotes: []Remote{{IP: ev.ip, Ifindex: ev.ifindex}}, state: Reachable, learned: true, updated: now, used: now}
				m.st.Learned++
			case x.remotes[0].IP == ev.ip && x.remotes[0].Ifindex == ev.ifindex:
			case x.state&(Permanent|NoARP) != 0:
			default:
				x.remotes = slices.Clone(x.remotes)
				x.remotes[0].IP, x.remotes[0].Ifindex = ev.ip, ev.ifindex
				x.updated = now
				m.st.Migrated++
			}
		}
		m.queues[w] = q[:0]
	}
	if now < m.nextGC {
		return
	}
	next := now + int64(10*time.Second)
	for k, x := range m.m {
		if x.state&(Permanent|NoARP) != 0 {
			continue
		}
		if exp := x.updated + m.ageing; exp <= now {
			delete(m.m, k)
			m.st.Aged++
		} else {
			next = min(next, exp)
		}
	}
	m.nextGC = max(next, now+int64(time.Second))
}

func (m *model) flushDynamic() int {
	n := 0
	for k, x := range m.m {
		if x.state&(Permanent|NoARP) == 0 {
			delete(m.m, k)
			n++
		}
	}
	return n
}

func (m *model) dump() []Entry {
	var out []Entry
	for k, x := range m.m {
		out = append(out, Entry{MAC: k.mac, VNI: k.vni, Remotes: x.remotes, State: x.state, Learned: x.learned, Updated: x.updated, Used: x.used})
	}
	slices.SortFunc(out, func(a, b Entry) int {
		if c := cmp.Compare(a.VNI, b.VNI); c != 0 {
			return c
		}
		return slices.Compare(a.MAC[:], b.MAC[:])
	})
	return out
}

func (m *model) stats() Stats {
	s := m.st
	s.Entries = len(m.m)
	return s
}

// ---- the pair: table and model driven by one operation stream ----

type pair struct {
	t     testing.TB
	tb    *Table
	m     *model
	clk   *clock
	macs  [][6]byte
	cfg   Config
	steps int
	log   []string // recent operations, printed on a mismatch
}

func newPair(t testing.TB, cfg Config, workers, nMACs int) *pair {
	clk := &clock{now: int64(1000 * time.Second)}
	cfg.Now = clk.Now
	p := &pair{t: t, tb: New(cfg, workers), m: newModel(cfg, workers), clk: clk, cfg: cfg}
	p.macs = [][6]byte{zeroMAC, bcastMAC, mcastMAC, {0x33, 0x33, 0, 0, 0, 1}}
	for i := 0; len(p.macs) < nMACs; i++ {
		p.macs = append(p.macs, [6]byte{2, 0, 0, byte(i >> 16), byte(i >> 8), byte(i)})
	}
	return p
}

var (
	v4Pool = []netip.Addr{ip("192.0.2.1"), ip("192.0.2.2"), ip("192.0.2.3"), ip("192.0.2.4"), ip("0.0.0.0")}
	v6Pool = []netip.Addr{ip("2001:db8::1"), ip("2001:db8::2"), ip("fe80::1"), ip("fe80::1%eth1"), ip("::"), ip("::ffff:192.0.2.1")}
)

// source yields the decisions of one operation stream.
type source interface{ n(k int) int }

func (p *pair) addr(g source) netip.Addr {
	own, other := v4Pool, v6Pool
	if p.cfg.Family == 6 {
		own, other = other, own
	}
	switch x := g.n(20); {
	case x == 0:
		return netip.Addr{}
	case x < 3:
		return other[g.n(len(other))]
	default:
		return own[g.n(len(own))]
	}
}

func (p *pair) remote(g source) Remote {
	r := Remote{IP: p.addr(g)}
	switch g.n(6) {
	case 0:
		r.Port = p.cfg.Port
	case 1:
		r.Port = 4790
	}
	switch g.n(8) {
	case 0:
		r.VNI, r.HasVNI = p.cfg.VNI, true
	case 1:
		r.VNI, r.HasVNI = 7, true
	case 2:
		r.VNI = 9 // ignored: HasVNI false
	case 3:
		r.VNI, r.HasVNI = 1<<24, true
	}
	if g.n(5) == 0 {
		r.Ifindex = uint32(3 + g.n(2))
	}
	return r
}

func (p *pair) mac(g source) [6]byte {
	if g.n(4) == 0 {
		return p.macs[g.n(min(len(p.macs), 8))] // the special and first few MACs, often
	}
	return p.macs[g.n(len(p.macs))]
}

func (p *pair) vni(g source) uint32 {
	if g.n(30) == 0 {
		return 1 << 24
	}
	return uint32(g.n(3))
}

var modelStates = []State{0, Reachable, Permanent, NoARP, Permanent | Reachable, NoARP | Reachable, 0x04, Reachable | 0x04}

func (p *pair) logf(format string, a ...any) {
	if len(p.log) == 40 {
		p.log = p.log[1:]
	}
	p.log = append(p.log, fmt.Sprintf(format, a...))
}

func (p *pair) fail(format string, a ...any) {
	p.t.Helper()
	for _, l := range p.log {
		p.t.Log(l)
	}
	p.t.Fatalf("step %d: "+format, append([]any{p.steps}, a...)...)
}

// step applies one random operation to both and compares what it returned.
func (p *pair) step(g source) {
	p.t.Helper()
	p.steps++
	switch op := g.n(100); {
	case op < 30:
		e := Entry{MAC: p.mac(g), VNI: p.vni(g), State: Permanent}
		if g.n(2) == 0 {
			e.State = modelStates[g.n(len(modelStates))]
		}
		switch g.n(16) {
		case 0: // no remote
		case 1:
			e.Remotes = []Remote{p.remote(g), p.remote(g)}
		default:
			e.Remotes = []Remote{p.remote(g)}
		}
		o := Op(g.n(6))
		if o == 0 || o == 5 {
			o = OpAppend // the operation with most branches, often
		}
		got, want := p.tb.Add(e, o), p.m.add(e, o)
		p.logf("add %s %v/%d %s %+v → %v", o, e.MAC, e.VNI, e.State, e.Remotes, got)
		if errs.Code(got) != errs.Code(want) || (got == nil) != (want == nil) {
			p.fail("add %s %+v: table %v, model %v", o, e, got, want)
		}
	case op < 40:
		mac, vni := p.mac(g), p.vni(g)
		var r *Remote
		if g.n(3) > 0 {
			x := p.remote(g)
			r = &x
		}
		got, want := p.tb.Del(mac, vni, r), p.m.del(mac, vni, r)
		p.logf("del %v/%d %+v → %v", mac, vni, r, got)
		if errs.Code(got) != errs.Code(want) || (got == nil) != (want == nil) {
			p.fail("del %v/%d %+v: table %v, model %v", mac, vni, r, got, want)
		}
	case op < 60:
		w, mac, vni := g.n(p.m.workers+1), p.mac(g), p.vni(g)
		if g.n(2) == 0 {
			mac = p.macs[4+g.n(len(p.macs)-4)] // mostly valid sources
		}
		r := p.remote(g)
		got, want := p.tb.Learn(w, mac, vni, r), p.m.learn(w, mac, vni, r)
		p.logf("learn w%d %v/%d %s → %v", w, mac, vni, r, got)
		if got != want {
			p.fail("learn w%d %v/%d %+v: table %v, model %v", w, mac, vni, r, got, want)
		}
	case op < 72:
		mac, vni := p.mac(g), p.vni(g)
		got, ok := p.tb.Lookup(mac, vni)
		want, wok := p.m.lookup(mac, vni)
		if ok != wok || !slices.Equal(got, want) {
			p.fail("lookup %v/%d: table %+v %v, model %+v %v", mac, vni, got, ok, want, wok)
		}
	case op < 84:
		p.tb.Poll()
		p.m.poll()
		p.logf("poll at %v", time.Duration(p.clk.now))
	case op < 94:
		d := time.Duration(g.n(15000)) * time.Millisecond
		if g.n(10) == 0 {
			d = time.Duration(200+g.n(200)) * time.Second
		}
		p.clk.advance(d)
		p.logf("advance %v", d)
	case op < 96:
		d := []time.Duration{0, 5 * time.Second, 30 * time.Second, 300 * time.Second}[g.n(4)]
		p.tb.SetAgeing(d)
		p.m.ageing = int64(d)
		p.logf("ageing %v", d)
	case op < 98:
		on := g.n(4) > 0
		p.tb.SetLearning(on)
		p.m.learning = on
		p.logf("learning %v", on)
	case op < 99:
		if got, want := p.tb.FlushDynamic(), p.m.flushDynamic(); got != want {
			p.fail("flush: table %d, model %d", got, want)
		}
		p.logf("flush")
	default:
		mac, vni := p.mac(g), p.vni(g)
		e, ok := p.tb.Get(mac, vni)
		x := p.m.m[p.m.key(mac, vni)]
		if ok != (x != nil) || (ok && (!slices.Equal(e.Remotes, x.remotes) || e.State != x.state || e.Updated != x.updated || e.Used != x.used)) {
			p.fail("get %v/%d: table %+v %v, model %+v", mac, vni, e, ok, x)
		}
	}
	if got, want := p.tb.Len(), len(p.m.m); got != want {
		p.fail("Len: table %d, model %d", got, want)
	}
}

// check compares everything observable.
func (p *pair) check() {
	p.t.Helper()
	got, want := dump(p.tb), p.m.dump()
	if len(got) != len(want) {
		p.fail("dump: table %d entries, model %d", len(got), len(want))
	}
	for i := range got {
		a, b := got[i], want[i]
		if a.MAC != b.MAC || a.VNI != b.VNI || !slices.Equal(a.Remotes, b.Remotes) || a.State != b.State ||
			a.Learned != b.Learned || a.Updated != b.Updated || a.Used != b.Used {
			p.fail("dump[%d]: table %+v, model %+v", i, a, b)
		}
		// Every dumped entry is found by the lock-free path too.
		if rs, ok := p.tb.fast.Load().lookupNoTouch(a.MAC, a.VNI); !ok || !slices.Equal(rs, a.Remotes) {
			p.fail("fast path lost %v/%d", a.MAC, a.VNI)
		}
	}
	if g, w := p.tb.Stats(), p.m.stats(); g != w {
		p.fail("stats: table %+v, model %+v", g, w)
	}
}

// lookupNoTouch is Lookup without the Used refresh (for checks that must
// not change what they check).
func (t *slots) lookupNoTouch(mac [6]byte, vni uint32) ([]Remote, bool) {
	i := t.find(macWord(mac), vni)
	if i < 0 {
		return nil, false
	}
	d := t.s[i].d.Load()
	if d == nil {
		return nil, false
	}
	return d.remotes, true
}

type modelCase struct {
	name    string
	cfg     Config
	workers int
	macs    int
}

func modelCases() []modelCase {
	return []modelCase{
		{"classic-v4", Config{Learning: true, Family: 4, VNI: 100, Port: 4789}, 2, 16},
		{"classic-v4-max", Config{Learning: true, Family: 4, VNI: 100, Port: 4789, MaxAddress: 6, RingSize: 4}, 2, 16},
		{"external-v4", Config{Learning: true, External: true, Family: 4, Port: 4789}, 3, 12},
		{"classic-v6", Config{Learning: true, Family: 6, VNI: 5, Port: 8472, Ageing: 20 * time.Second}, 1, 12},
		{"external-v6-max", Config{Learning: true, External: true, Family: 6, MaxAddress: 10, RingSize: 2}, 2, 20},
		{"many", Config{Learning: true, Family: 4, VNI: 1, Port: 4789, Ageing: 60 * time.Second}, 2, 3000},
	}
}

func TestModelRandom(t *testing.T) {
	steps := 30000
	if testing.Short() {
		steps = 5000
	}
	for ci, mc := range modelCases() {
		t.Run(mc.name, func(t *testing.T) {
			for seed := uint64(1); seed <= 3; seed++ {
				p := newPair(t, mc.cfg, mc.workers, mc.macs)
				g := &pcg{s: seed*1000 + uint64(ci)}
				for i := 0; i < steps; i++ {
					p.step(g)
					if i%97 == 0 {
						p.check()
					}
				}
				p.check()
			}
		})
	}
}

// The "many" case must really exercise growth, tombstones and compaction.
func TestModelExercisesRebuilds(t *testing.T) {
	mc := modelCases()[5]
	p := newPair(t, mc.cfg, mc.workers, mc.macs)
	g := &pcg{s: 77}
	sizes := map[int]bool{}
	for i := 0; i < 40000; i++ {
		p.step(g)
		sizes[len(p.tb.fast.Load().s)] = true
	}
	p.check()
	if len(sizes) < 4 {
		t.Fatalf("slot array sizes seen: %v", sizes)
	}
}
