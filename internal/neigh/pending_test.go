package neigh

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"flowpath/internal/pkt"
)

// outcome records what Resolve did with each packet.
type outcome struct {
	ready  []*pkt.Packet
	macs   [][6]byte
	failed []*pkt.Packet
}

func (o *outcome) readyFn(p *pkt.Packet, mac [6]byte) {
	o.ready = append(o.ready, p)
	o.macs = append(o.macs, mac)
}
func (o *outcome) failedFn(p *pkt.Packet) { o.failed = append(o.failed, p) }
func (o *outcome) reset()                 { o.ready, o.macs, o.failed = o.ready[:0], o.macs[:0], o.failed[:0] }

func getN(t testing.TB, pool *pkt.Pool, n int) []*pkt.Packet {
	out := make([]*pkt.Packet, n)
	for i := range out {
		out[i] = pool.Get()
		if out[i] == nil {
			t.Fatal("pool empty")
		}
		out[i].Mark = uint32(i)
	}
	return out
}

func TestPendingPerNeighbourEviction(t *testing.T) {
	pool := pkt.NewPool("t", 16)
	q := NewPending(8, 3)
	ps := getN(t, pool, 6)
	for i := 0; i < 3; i++ {
		if ev := q.Push(1, v4a, ps[i]); ev != nil {
			t.Fatalf("push %d evicted %d", i, ev.Mark)
		}
	}
	if ev := q.Push(1, v4a, ps[3]); ev != ps[0] {
		t.Fatalf("4th push evicted %v, want the oldest", ev)
	}
	if ev := q.Push(1, v4a, ps[4]); ev != ps[1] {
		t.Fatalf("5th push evicted %v, want the second", ev)
	}
	if ev := q.Push(2, v4a, ps[5]); ev != nil { // another device: another neighbour
		t.Fatalf("other neighbour evicted %v", ev)
	}
	if q.Len() != 4 || q.Discards() != 2 {
		t.Fatalf("len %d discards %d", q.Len(), q.Discards())
	}
	ps[0].Free()
	ps[1].Free()
	h := newHarness(t, nil)
	if err := h.tbl.Add(Entry{Dev: 1, Addr: v4a, MAC: macA, State: Reachable}, CmdAdd); err != nil {
		t.Fatal(err)
	}
	var o outcome
	q.Resolve(h.tbl, h.tbl.Now(), o.readyFn, o.failedFn)
	if !slices.Equal(o.ready, []*pkt.Packet{ps[2], ps[3], ps[4]}) || len(o.failed) != 0 {
		t.Fatalf("ready %v failed %v", o.ready, o.failed)
	}
	for _, m := range o.macs {
		if m != macA {
			t.Fatalf("mac %x", m)
		}
	}
	if st := h.tbl.Stats(); st.UnresolvedDiscards != 2 {
		t.Fatalf("discards not folded into the table: %+v", st)
	}
	for _, p := range o.ready {
		p.Free()
	}
	q.Drain(func(p *pkt.Packet) { p.Free() })
	if q.Len() != 0 || pool.Available() != 16 {
		t.Fatalf("len %d, pool %d/16", q.Len(), pool.Available())
	}
}

func TestPendingCapacity(t *testing.T) {
	pool := pkt.NewPool("t", 8)
	q := NewPending(4, 4)
	ps := getN(t, pool, 6)
	for i := 0; i < 4; i++ {
		if ev := q.Push(1, addrN(false, i), ps[i]); ev != nil {
			t.Fatal("evicted early")
		}
	}
	if ev := q.Push(1, addrN(false, 9), ps[4]); ev != ps[4] {
		t.Fatalf("full queue must refuse the pushed packet, got %v", ev)
	}
	// A full neighbour queue still evicts its own oldest when the whole
	// queue is full.
	q2 := NewPending(2, 2)
	q2.Push(1, v4a, ps[4])
	q2.Push(1, v4a, ps[5])
	if ev := q2.Push(1, v4a, ps[0]); ev != ps[4] {
		t.Fatalf("got %v", ev)
	}
	if q.Push(1, v4a, nil) != nil || q.Len() != 4 {
		t.Fatal("nil push")
	}
	// Degenerate sizes are clamped, not panics.
	q3 := NewPending(0, 0)
	if q3.Push(1, v4a, ps[1]) != nil || q3.Push(1, v4a, ps[2]) != ps[1] {
		t.Fatal("capacity 0 should behave as 1")
	}
}

func TestPendingFailureRounds(t *testing.T) {
	h := newHarness(t, nil)
	tb := h.tbl
	pool := pkt.NewPool("t", 8)
	q := NewPending(8, 4)
	q.MaxWait = int64(time.Minute) // only the neighbour's state decides here
	var o outcome
	resolve := func() { o.reset(); q.Resolve(tb, tb.Now(), o.readyFn, o.failedFn) }
	ps := getN(t, pool, 4)

	// p0 waits for a resolution that fails.
	q.Push(1, v4a, ps[0])
	tb.Miss(0, 1, v4a)
	resolve() // before the manager ran: no entry yet
	h.at(0)
	resolve()
	for _, d := range []time.Duration{time.Second, 2 * time.Second} {
		h.at(d)
		resolve()
		if len(o.failed)+len(o.ready) != 0 {
			t.Fatalf("decided early at %v", d)
		}
	}
	h.at(3 * time.Second)
	h.wantState(1, v4a, Failed)
	resolve()
	if !slices.Equal(o.failed, []*pkt.Packet{ps[0]}) {
		t.Fatalf("failed %v", o.failed)
	}

	// p1 arrives at the FAILED entry: it restarts resolution and waits for
	// that attempt, which succeeds.
	q.Push(1, v4a, ps[1])
	tb.Miss(0, 1, v4a)
	resolve()
	if len(o.failed) != 0 {
		t.Fatal("packet queued at a FAILED entry failed before its own attempt")
	}
	h.at(4 * time.Second)
	h.wantState(1, v4a, Incomplete)
	resolve()
	tb.Confirm(0, 1, v4a, macB, Solicited)
	h.at(4*time.Second + time.Millisecond)
	resolve()
	if !slices.Equal(o.ready, []*pkt.Packet{ps[1]}) || o.macs[0] != macB {
		t.Fatalf("ready %v", o.ready)
	}

	// p2 is queued while the entry is FAILED again; the restarted attempt
	// fails too: p2 fails with it, p3 (queued after) waits for the next one.
	if err := tb.Add(Entry{Dev: 1, Addr: v4a, State: Failed}, CmdChange|AddNoLLAddr); err != nil {
		t.Fatal(err)
	}
	q.Push(1, v4a, ps[2])
	tb.Miss(0, 1, v4a)
	resolve()
	h.at(5 * time.Second)
	resolve()
	for _, d := range []time.Duration{6 * time.Second, 7 * time.Second} {
		h.at(d)
		resolve()
	}
	h.at(8 * time.Second)
	h.wantState(1, v4a, Failed)
	q.Push(1, v4a, ps[3])
	resolve()
	if !slices.Equal(o.failed, []*pkt.Packet{ps[2]}) {
		t.Fatalf("failed %v, want p2 only", o.failed)
	}
	// The entry is deleted: p3 saw it, so its wait is over.
	if err := tb.Del(1, v4a); err != nil {
		t.Fatal(err)
	}
	resolve()
	if !slices.Equal(o.failed, []*pkt.Packet{ps[3]}) {
		t.Fatalf("failed %v, want p3", o.failed)
	}
	if q.Len() != 0 {
		t.Fatalf("len %d", q.Len())
	}
}

func TestPendingMaxWait(t *testing.T) {
	h := newHarness(t, nil)
	pool := pkt.NewPool("t", 4)
	q := NewPending(4, 4)
	var o outcome
	ps := getN(t, pool, 2)
	q.Push(1, v4a, ps[0]) // no Miss: nobody resolves it
	h.at(0)
	q.Resolve(h.tbl, h.tbl.Now(), o.readyFn, o.failedFn)
	h.at(time.Second)
	q.Push(1, v4a, ps[1])
	q.Resolve(h.tbl, h.tbl.Now(), o.readyFn, o.failedFn)
	mw := time.Duration(DefaultMaxWait)
	h.at(mw - 1)
	q.Resolve(h.tbl, h.tbl.Now(), o.readyFn, o.failedFn)
	if len(o.failed) != 0 {
		t.Fatal("failed before MaxWait")
	}
	h.at(mw)
	q.Resolve(h.tbl, h.tbl.Now(), o.readyFn, o.failedFn)
	if !slices.Equal(o.failed, []*pkt.Packet{ps[0]}) {
		t.Fatalf("failed %v", o.failed)
	}
	h.at(mw + time.Second)
	q.Resolve(h.tbl, h.tbl.Now(), o.readyFn, o.failedFn)
	if !slices.Equal(o.failed, []*pkt.Packet{ps[0], ps[1]}) || q.Len() != 0 {
		t.Fatalf("failed %v len %d", o.failed, q.Len())
	}
}

// ---- reference model ----

type pmItem struct {
	key     Key
	p       *pkt.Packet
	stamped bool
	stamp   int64
	known   bool
	round   uint8
}

type pmSeen struct {
	v  uint64
	ok bool
}

type pendingModel struct {
	items   []pmItem // push order
	cap     int
	per     int
	maxWait int64
	seen    map[Key]pmSeen
}

func (m *pendingModel) push(k Key, p *pkt.Packet) *pkt.Packet {
	n := 0
	for _, it := range m.items {
		if it.key == k {
			n++
		}
	}
	if n >= m.per {
		for i, it := range m.items {
			if it.key == k {
				m.items = slices.Delete(m.items, i, i+1)
				m.items = append(m.items, pmItem{key: k, p: p})
				return it.p
			}
		}
	}
	if len(m.items) == m.cap {
		return p
	}
	m.items = append(m.items, pmItem{key: k, p: p})
	return nil
}

func (m *pendingModel) resolve(look func(Key) (uint64, bool), now int64, o *outcome) {
	var keys []Key
	for _, it := range m.items {
		if !slices.Contains(keys, it.key) {
			keys = append(keys, it.key)
		}
	}
	for _, k := range keys {
		v, ok := look(k)
		st, round := valState(v), valRound(v)
		var keep []pmItem
		if ok && st.Valid() {
			for _, it := range m.items {
				if it.key == k {
					o.readyFn(it.p, valMAC(v))
				} else {
					keep = append(keep, it)
				}
			}
			m.items = keep
			delete(m.seen, k)
			continue
		}
		prev, had := m.seen[k]
		changed := !had || prev.ok != ok || prev.v != v
		m.seen[k] = pmSeen{v, ok}
		for _, it := range m.items {
			if it.key != k {
				keep = append(keep, it)
				continue
			}
			if it.stamped && changed {
				fail := false
				switch {
				case !ok:
					fail = it.known
				case !it.known && st == Failed:
					fail = true
				case !it.known:
					it.known, it.round = true, round
				default:
					fail = st == Failed && it.round != round
				}
				if fail {
					o.failedFn(it.p)
					continue
				}
			}
			if !it.stamped {
				it.stamped, it.stamp, it.known, it.round = true, now, ok, round
			}
			if now-it.stamp >= m.maxWait {
				o.failedFn(it.p)
				continue
			}
			keep = append(keep, it)
		}
		m.items = keep
		left := false
		for _, it := range m.items {
			left = left || it.key == k
		}
		if !left {
			delete(m.seen, k)
		}
	}
}

// sameOutcome: the same packets ready (with the same address, and in push
// order per neighbour) and failed; the order across neighbours is free.
func sameOutcome(a, b *outcome) error {
	key := func(o *outcome) (map[*pkt.Packet]string, map[string][]*pkt.Packet) {
		m := map[*pkt.Packet]string{}
		order := map[string][]*pkt.Packet{}
		for i, p := range o.ready {
			s := fmt.Sprintf("ready %x", o.macs[i])
			m[p] = s
			k := fmt.Sprintf("%d/%s", p.OutPort, p.NextHop)
			order[k] = append(order[k], p)
		}
		for _, p := range o.failed {
			if _, dup := m[p]; dup {
				m[p] = "twice"
			} else {
				m[p] = "failed"
			}
		}
		return m, order
	}
	m1, o1 := key(a)
	m2, o2 := key(b)
	if len(m1) != len(m2) || len(a.ready)+len(a.failed) != len(m1) {
		return fmt.Errorf("outcomes %v vs model %v", m1, m2)
	}
	for p, s := range m1 {
		if m2[p] != s {
			return fmt.Errorf("packet %d: %s, model %q", p.Mark, s, m2[p])
		}
	}
	for k, l := range o1 {
		if !slices.Equal(l, o2[k]) {
			return fmt.Errorf("ready order for %s differs", k)
		}
	}
	return nil
}

var pendKeys = []Key{{1, v4a}, {1, v4b}, {2, v4a}, {1, v6a}, {2, netip.MustParseAddr("fd00::2")}, {3, netip.MustParseAddr("10.9.9.9")}}

// runPendingModel drives a Pending and its model with operations decoded
// from b; it checks every packet is accounted for.
func runPendingModel(t testing.TB, b []byte) {
	h := &harness{clk: &fakeClock{}}
	h.clk.Set(int64(1000 * time.Second))
	cfg := DefaultConfig()
	cfg.Now = h.clk.Now
	cfg.Rand = constRand(0)
	tb := NewTable(cfg, 1, nil)
	const poolSize = 48
	pool := pkt.NewPool("m", poolSize)
	capacity, per := 12, 3
	if len(b) > 0 {
		capacity = 1 + int(b[0]%16)
		per = 1 + int(b[0]>>4)%5
		b = b[1:]
	}
	q := NewPending(capacity, per)
	m := &pendingModel{cap: capacity, per: min(per, capacity), maxWait: q.MaxWait, seen: map[Key]pmSeen{}}
	look := func(k Key) (uint64, bool) {
		ctl, hi, lo := keyWords(k.Dev, k.Addr)
		return tb.fastPtr.Load().find(ctl, hi, lo)
	}
	var pushed, out int
	free := func(p *pkt.Packet) {
		out++
		p.Free()
	}
	var o1, o2 outcome
	for i := 0; i+1 < len(b); i += 2 {
		x, y := b[i], b[i+1]
		k := pendKeys[int(y)%len(pendKeys)]
		switch x % 10 {
		case 0, 1, 2:
			p := pool.Get()
			if p == nil {
				continue
			}
			p.OutPort, p.NextHop, p.Mark = k.Dev, k.Addr, uint32(pushed)
			pushed++
			e1, e2 := q.Push(k.Dev, k.Addr, p), m.push(k, p)
			if e1 != e2 {
				t.Fatalf("push %d: evicted %v, model %v", pushed, e1, e2)
			}
			if e1 != nil {
				free(e1)
			}
			if y&0x80 != 0 {
				tb.Miss(0, k.Dev, k.Addr)
			}
		case 3, 4:
			o1.reset()
			o2.reset()
			now := tb.Now()
			q.Resolve(tb, now, o1.readyFn, o1.failedFn)
			m.resolve(look, now, &o2)
			if err := sameOutcome(&o1, &o2); err != nil {
				t.Fatalf("op %d: %v", i/2, err)
			}
			for _, p := range o1.ready {
				free(p)
			}
			for _, p := range o1.failed {
				free(p)
			}
		case 5:
			st := []State{Reachable, Stale, Failed, Permanent}[int(y>>5)%4]
			tb.Add(Entry{Dev: k.Dev, Addr: k.Addr, MAC: [6]byte{2, byte(y)}, State: st}, CmdReplace)
		case 6:
			tb.Del(k.Dev, k.Addr)
		case 7:
			tb.Miss(0, k.Dev, k.Addr)
			tb.Poll()
		case 8:
			h.clk.Advance([]time.Duration{0, 1, 100 * time.Millisecond, time.Second, 2900 * time.Millisecond, 3 * time.Second}[int(y)%6])
			tb.Poll()
		case 9:
			tb.Confirm(0, k.Dev, k.Addr, [6]byte{2, byte(y)}, ConfirmFlags(y&3))
			tb.Poll()
		}
		if q.Len() != len(m.items) {
			t.Fatalf("len %d, model %d", q.Len(), len(m.items))
		}
	}
	q.Drain(free)
	if q.Len() != 0 || pushed != out || pool.Available() != poolSize {
		t.Fatalf("pushed %d, came out %d, pool %d/%d", pushed, out, pool.Available(), poolSize)
	}
	if s := pool.Stats(); s.DoubleFree != 0 || s.Foreign != 0 {
		t.Fatalf("pool %+v", s)
	}
}

func TestPendingModelRandom(t *testing.T) {
	n := 300
	if testing.Short() {
		n = 60
	}
	for seed := uint64(1); seed <= uint64(n); seed++ {
		g := &pcg{s: seed}
		b := make([]byte, 1200)
		for i := range b {
			b[i] = byte(g.next())
		}
		runPendingModel(t, b)
	}
}

// The neighbour index uses backward-shift deletion; check it against a map
// with enough churn and load that probe chains wrap around the array.
func TestPendingIndexChurn(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		q := NewPending(16, 1)
		q.seed = seed // deterministic collisions
		ref := map[Key]int32{}
		g := &pcg{s: seed}
		for step := 0; step < 3000; step++ {
			k := Key{1 + uint32(g.next()%2), addrN(g.next()%3 == 0, int(g.next()%20))}
			ctl, hi, lo := keyWords(k.Dev, k.Addr)
			if qi, ok := ref[k]; ok {
				q.dropQueue(qi)
				delete(ref, k)
			} else if len(ref) < 16 {
				ref[k] = q.newQueue(k.Dev, k.Addr, ctl, hi, lo)
			}
			for dev := uint32(1); dev <= 2; dev++ {
				for i := 0; i < 20; i++ {
					for _, v6 := range []bool{false, true} {
						kk := Key{dev, addrN(v6, i)}
						c, h, l := keyWords(kk.Dev, kk.Addr)
						want, ok := ref[kk]
						if !ok {
							want = -1
						}
						if got := q.find(c, h, l); got != want {
							t.Fatalf("seed %d step %d: find(%v) = %d, want %d", seed, step, kk, got, want)
						}
					}
				}
			}
			if len(q.active) != len(ref) {
				t.Fatalf("active %d, want %d", len(q.active), len(ref))
			}
		}
	}
}
