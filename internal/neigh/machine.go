package neigh

import (
	"math"
)

// The state machine, paraphrasing net/core/neighbour.c. Everything here runs
// with Table.mu held (manager or control operation).

type updFlags uint8

// neigh_update flags (NEIGH_UPDATE_F_*).
const (
	uOverride         updFlags = 1 << iota // may replace a different cached address
	uWeakOverride                          // a different address only makes a connected entry STALE
	uAdmin                                 // administrative: may touch PERMANENT/NOARP, may set any state
	uOverrideIsRouter                      // the message says whether the neighbour is a router
	uIsRouter                              // ... and it is
)

const (
	minTimer     = int64(10e6) // HZ/100: no timer fires sooner than this after being set
	forcedGCAge  = int64(5e9)  // forced GC: entries updated in the last 5 s are spared
	forcedGCGap  = int64(5e9)  // forced GC above gc_thresh2 at most this often
	reRandPeriod = int64(300e9)
)

type entry struct {
	key         Key
	ctl, hi, lo uint64 // fast-table key words
	fam         int
	slot        int // index in fast
	idx         int // index in Table.all

	mac                      [6]byte
	state                    State
	router                   bool
	probes                   int
	updated, used, confirmed int64
	timer                    int64
	armed                    bool
	round                    uint8 // failure round, published for Pending

	onGC           bool // on the family's gc list (not PERMANENT/NOARP)
	gcPrev, gcNext *entry
}

// famState is one address family's table-wide state (the kernel's
// struct neigh_table for arp_tbl or nd_tbl).
type famState struct {
	entries   int // all entries (tbl->entries)
	gcEntries int // entries on the gc list (tbl->gc_entries)
	lastFlush int64
	lastRand  int64
	reachable int64
	// next periodic collector run
	nextPeriodic int64
	// gc list, oldest first: entries join at the tail when created or when
	// they stop being PERMANENT/NOARP; forced GC cleans from the head.
	gcHead, gcTail *entry
	// A forced collection that freed nothing stays fruitless until an entry
	// changes or the oldest spared entry ages past 5 s; remembering that
	// keeps a table full of INCOMPLETE entries (a scan) from costing a walk
	// of the whole list per refused entry.
	fruitless      bool
	fruitlessMut   uint64
	fruitlessUntil int64
}

func (x *entry) export() Entry {
	return Entry{
		Dev: x.key.Dev, Addr: x.key.Addr, MAC: x.mac, State: x.state, Router: x.router,
		Updated: x.updated, Used: x.used, Confirmed: x.confirmed, Probes: x.probes,
	}
}

func (t *Table) randReachable() int64 {
	if t.base <= 0 {
		return 0
	}
	return t.base/2 + int64(t.cfg.Rand()%uint64(t.base))
}

func (t *Table) retransTime() int64 { return max(t.retrans, minTimer) }

// publish makes an entry's state visible to the packet path.
func (t *Table) publish(x *entry) {
	t.mutations++
	v := packVal(x.mac, x.round, x.state)
	if t.fast.load(x.slot) != v {
		t.fast.store(x.slot, v)
		t.gen.Add(1)
	}
}

// setFailed moves x to FAILED and starts a new failure round, which tells
// packets queued before it that their resolution is over. Rounds count per
// entry (8 bits: a wrap would need 256 failures of one neighbour within a
// packet's MaxWait); a new entry starts from a table-wide counter so that a
// deleted and recreated neighbour does not repeat its predecessor's rounds.
func (t *Table) setFailed(x *entry) {
	x.state = Failed
	x.round++
}

// create is neigh_alloc + ___neigh_create: refuse at gc_thresh3 unless a
// forced collection frees something. exempt entries (PERMANENT, NOARP) are
// not counted and never refused.
func (t *Table) create(now int64, key Key, exempt bool) *entry {
	fi := famOf(!key.Addr.Is4())
	f := &t.fam[fi]
	if !exempt {
		n := f.gcEntries
		if n >= t.cfg.GCThresh3 || (n >= t.cfg.GCThresh2 && now > f.lastFlush+forcedGCGap) {
			if t.forcedGC(now, fi, n+1) == 0 && n >= t.cfg.GCThresh3 {
				t.c.tableFulls++
				return nil
			}
		}
	}
	ctl, hi, lo := keyWords(key.Dev, key.Addr)
	x := &entry{
		key: key, ctl: ctl, hi: hi, lo: lo, fam: fi,
		updated: now, used: now, confirmed: now - 2*t.base,
		round: t.roundSeed,
	}
	t.roundSeed += 7 // odd: cycles through all 256 values
	if !t.fast.hasRoom() {
		t.rebuild()
	}
	x.slot = t.fast.insert(ctl, hi, lo, packVal(x.mac, x.round, x.state))
	t.gen.Add(1)
	t.mutations++
	x.idx = len(t.all)
	t.all = append(t.all, x)
	t.byKey[key] = x
	f.entries++
	if !exempt {
		t.gcLink(x)
	}
	t.c.allocs++
	return x
}

// remove unlinks an entry from everything.
func (t *Table) remove(x *entry) {
	f := &t.fam[x.fam]
	delete(t.byKey, x.key)
	last := t.all[len(t.all)-1]
	t.all[x.idx] = last
	last.idx = x.idx
	t.all[len(t.all)-1] = nil
	t.all = t.all[:len(t.all)-1]
	if x.onGC {
		t.gcUnlink(x)
	}
	f.entries--
	t.fast.remove(x.slot)
	t.gen.Add(1)
	t.mutations++
	t.c.destroys++
	if t.fast.needsCompaction() {
		t.rebuild()
	}
}

// rebuild copies the live entries into a fresh slot array sized for them
// and publishes it; readers on the old array finish there.
func (t *Table) rebuild() {
	ns := newSlots(4*(len(t.all)+1), t.fast.seed)
	for _, x := range t.all {
		x.slot = ns.insert(x.ctl, x.hi, x.lo, packVal(x.mac, x.round, x.state))
	}
	t.fast = ns
	t.fastPtr.Store(ns)
	t.gen.Add(1)
}

func (t *Table) gcLink(x *entry) {
	f := &t.fam[x.fam]
	x.onGC = true
	x.gcPrev, x.gcNext = f.gcTail, nil
	if f.gcTail != nil {
		f.gcTail.gcNext = x
	} else {
		f.gcHead = x
	}
	f.gcTail = x
	f.gcEntries++
}

func (t *Table) gcUnlink(x *entry) {
	f := &t.fam[x.fam]
	if x.gcPrev != nil {
		x.gcPrev.gcNext = x.gcNext
	} else {
		f.gcHead = x.gcNext
	}
	if x.gcNext != nil {
		x.gcNext.gcPrev = x.gcPrev
	} else {
		f.gcTail = x.gcPrev
	}
	x.gcPrev, x.gcNext, x.onGC = nil, nil, false
	f.gcEntries--
}

// gcSync keeps gc-list membership equal to "not PERMANENT/NOARP"
// (neigh_update_gc_list).
func (t *Table) gcSync(x *entry) {
	want := x.state&staticStates == 0
	if want && !x.onGC {
		t.gcLink(x)
	} else if !want && x.onGC {
		t.gcUnlink(x)
	}
}

func (t *Table) addTimer(x *entry, when int64) {
	if x.used < x.confirmed {
		x.used = x.confirmed
	}
	x.timer, x.armed = when, true
	if when < t.nextTimer {
		t.nextTimer = when
	}
}

func (t *Table) delTimer(x *entry) { x.armed = false }

// probe sends one solicitation: unicast to the cached address for the first
// ucast_solicit probes of a round, broadcast/multicast after (arp_solicit,
// ndisc_solicit). INCOMPLETE rounds start with probes = ucast_solicit, so
// they are all broadcast; PROBE rounds start at 0.
func (t *Table) probe(x *entry) {
	s := solicitation{addr: x.key.Addr, dev: x.key.Dev}
	if x.probes < t.cfg.UcastSolicit {
		s.unicast, s.mac = true, x.mac
		t.c.ucastProbes++
	} else {
		t.c.mcastProbes++
	}
	t.sol = append(t.sol, s)
	x.probes++
}

func (t *Table) maxProbes(x *entry) int {
	if x.state&Probe != 0 {
		return t.cfg.UcastSolicit + t.cfg.McastResolicit
	}
	return t.cfg.UcastSolicit + t.cfg.McastSolicit
}

// invalidate ends a failed resolution (neigh_invalidate). Queued packets are
// failed by the workers' Pending queues when they see the new round.
func (t *Table) invalidate(x *entry, now int64) {
	t.c.resFailed++
	x.updated = now
}

// eventSend is neigh_event_send: a packet wants to go to x.
func (t *Table) eventSend(now int64, x *entry) {
	x.used = now
	st := x.state
	if st&(connectedStates|Delay|Probe) != 0 {
		return
	}
	switch {
	case st&(Stale|Incomplete) == 0: // NONE or FAILED: (re)start resolution
		if t.cfg.McastSolicit > 0 {
			x.probes = t.cfg.UcastSolicit
			t.delTimer(x)
			x.state = Incomplete
			x.updated = now
			t.addTimer(x, now+t.retransTime())
			t.probe(x)
		} else {
			t.setFailed(x)
			x.updated = now
		}
		t.publish(x)
	case st&Stale != 0:
		t.delTimer(x)
		x.state = Delay
		x.updated = now
		t.addTimer(x, now+t.delayProbe)
		t.publish(x)
	}
}

// confirm applies a received ARP/NDP message (arp_process, ndisc_recv_na,
// ndisc_recv_ns).
func (t *Table) confirm(now int64, key Key, mac [6]byte, flags ConfirmFlags) {
	x := t.byKey[key]
	var ll *[6]byte
	if flags&NoLLAddr == 0 {
		ll = &mac
	}
	if flags&IsRequest != 0 {
		// neigh_event_ns: the sender is our neighbour, learn it as STALE.
		if x == nil {
			if ll == nil {
				return
			}
			if x = t.create(now, key, false); x == nil {
				return
			}
		}
		t.update(x, now, ll, Stale, uOverride|uWeakOverride)
		return
	}
	if x == nil {
		return // unsolicited traffic does not create entries (arp_accept=0, accept_untracked_na=0)
	}
	nw := Stale
	if flags&Solicited != 0 {
		nw = Reachable
	}
	var uf updFlags
	if key.Addr.Is4() {
		// The first of several different replies wins for locktime: it
		// stops ARP flapping between proxies and prefers the fastest one.
		if now > x.updated+t.locktime || flags&Override != 0 {
			uf = uOverride
		}
	} else {
		uf = uWeakOverride | uOverrideIsRouter
		if flags&Override != 0 {
			uf |= uOverride
		}
		if flags&Router != 0 {
			uf |= uIsRouter
		}
	}
	t.update(x, now, ll, nw, uf)
}

// update is __neigh_update. ll is the proposed address or nil. It reports
// false when a usable state was asked for without any address known.
func (t *Table) update(x *entry, now int64, ll *[6]byte, nw State, flags updFlags) bool {
	old := x.state
	if flags&uAdmin == 0 && old&staticStates != 0 {
		return true
	}
	defer t.publish(x)
	if !nw.Valid() {
		t.delTimer(x)
		if nw == Failed && old != Failed {
			t.setFailed(x)
		} else {
			x.state = nw
		}
		if old&(Incomplete|Probe) != 0 && nw&Failed != 0 {
			t.invalidate(x, now)
		}
		t.gcSync(x)
		return true
	}
	macChanged := false
	var newMAC [6]byte
	switch {
	case ll != nil:
		newMAC = *ll
		macChanged = !(old.Valid() && newMAC == x.mac)
	case !old.Valid():
		return false
	}
	if nw&connectedStates != 0 {
		x.confirmed = now
	}
	updRouter := flags&uOverrideIsRouter != 0
	if old.Valid() {
		if macChanged && flags&uOverride == 0 {
			updRouter = false
			if flags&uWeakOverride != 0 && old&connectedStates != 0 {
				macChanged = false
				nw = Stale
			} else {
				return true
			}
		} else if !macChanged && nw == Stale && flags&uAdmin == 0 {
			nw = old
		}
	}
	if nw != old || macChanged {
		x.updated = now
	}
	if nw != old {
		t.delTimer(x)
		if nw&Probe != 0 {
			x.probes = 0
		}
		if nw&inTimerStates != 0 {
			var d int64
			if nw&Reachable != 0 {
				d = t.fam[x.fam].reachable
			}
			t.addTimer(x, now+d)
		}
		x.state = nw
	}
	if macChanged {
		x.mac = newMAC
		if nw&connectedStates == 0 {
			x.confirmed = now - 2*t.base
		}
	}
	if updRouter {
		x.router = flags&uIsRouter != 0
	}
	t.gcSync(x)
	return true
}

// runTimers fires every entry whose timer is due. Entries are independent,
// so the order does not matter.
func (t *Table) runTimers(now int64) {
	if now < t.nextTimer {
		return
	}
	next := int64(math.MaxInt64)
	for _, x := range t.all {
		if !x.armed {
			continue
		}
		if x.timer <= now {
			x.armed = false
			t.fire(x, now)
		}
		if x.armed && x.timer < next {
			next = x.timer
		}
	}
	t.nextTimer = next
}

// fire is neigh_timer_handler.
func (t *Table) fire(x *entry, now int64) {
	st := x.state
	if st&inTimerStates == 0 {
		return
	}
	next := now + int64(1e9)
	reach := t.fam[x.fam].reachable
	switch {
	case st&Reachable != 0:
		if now <= x.confirmed+reach {
			next = x.confirmed + reach
		} else if now <= x.used+t.delayProbe {
			x.state = Delay
			x.updated = now
			next = now + t.delayProbe
		} else {
			x.state = Stale
			x.updated = now
		}
	case st&Delay != 0:
		if now <= x.confirmed+t.delayProbe {
			x.state = Reachable
			x.updated = now
			next = x.confirmed + reach
		} else {
			x.state = Probe
			x.updated = now
			x.probes = 0
			next = now + t.retransTime()
		}
	default: // INCOMPLETE, PROBE
		next = now + t.retransTime()
	}
	if x.state&(Incomplete|Probe) != 0 && x.probes >= t.maxProbes(x) {
		t.setFailed(x)
		t.invalidate(x, now)
		t.publish(x)
		return
	}
	if x.state&inTimerStates != 0 {
		if next < now+minTimer {
			next = now + minTimer
		}
		x.timer, x.armed = next, true
	}
	if x.state&(Incomplete|Probe) != 0 {
		t.probe(x)
	}
	t.publish(x)
}

// periodic is neigh_periodic_work, per family, every base_reachable_time/2:
// re-randomise reachable_time every 300 s, and once a family has gc_thresh1
// entries, collect FAILED ones and those unused for gc_stale_time, unless
// they are in a timer state (kernel: the timer holds a reference).
func (t *Table) periodic(now int64) {
	for fi := range t.fam {
		f := &t.fam[fi]
		if now < f.nextPeriodic {
			continue
		}
		t.c.gcRuns++
		if now > f.lastRand+reRandPeriod {
			f.lastRand = now
			f.reachable = t.randReachable()
		}
		if f.entries >= t.cfg.GCThresh1 {
			for x := f.gcHead; x != nil; {
				nx := x.gcNext
				if x.state&inTimerStates == 0 {
					if x.used < x.confirmed && x.confirmed <= now {
						x.used = x.confirmed
					}
					if x.state == Failed || !(x.used <= now && now < x.used+t.stale) {
						t.remove(x)
					}
				}
				x = nx
			}
		}
		f.nextPeriodic = now + max(t.base/2, minTimer)
	}
}

// forcedGC is neigh_forced_gc: from the oldest, remove entries not in a
// timer state that are FAILED or were not updated in the last 5 s, until
// the family is back at gc_thresh2. gcEntries includes the entry being
// created. It returns how many were removed.
func (t *Table) forcedGC(now int64, fi int, gcEntries int) int {
	f := &t.fam[fi]
	t.c.forcedGCRuns++
	if f.fruitless && f.fruitlessMut == t.mutations && now <= f.fruitlessUntil {
		f.lastFlush = now
		return 0
	}
	maxClean := gcEntries - t.cfg.GCThresh2
	tref := now - forcedGCAge
	shrunk := 0
	until := int64(math.MaxInt64)
	for x := f.gcHead; x != nil; {
		nx := x.gcNext
		if x.state&inTimerStates == 0 {
			if x.state == Failed || x.updated < tref || x.updated > now {
				t.remove(x)
				shrunk++
			} else if x.updated+forcedGCAge < until {
				until = x.updated + forcedGCAge
			}
			if shrunk >= maxClean {
				break
			}
		}
		x = nx
	}
	f.lastFlush = now
	f.fruitless = shrunk == 0
	f.fruitlessMut = t.mutations
	f.fruitlessUntil = until
	return shrunk
}
