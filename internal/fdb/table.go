package fdb

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"flowpath/internal/doorbell"
	"flowpath/internal/errs"
)

// Table is the forwarding database of one VXLAN device. Workers read it
// without locks (Lookup) and report what they receive through their own
// event ring (Learn); the manager (Run or Poll) applies those reports and
// ages entries; control operations (Add, Del, Dump, ...) are serialised with
// the manager by a mutex the packet path never touches.
type Table struct {
	// Packet path: read-mostly.
	fast     atomic.Pointer[slots]
	clock    atomic.Int64 // table time at the last Poll: the workers' coarse clock
	learning atomic.Bool
	external bool
	rings    []ring
	// bell wakes Run's manager while it sleeps between idle polls; nil
	// outside Run.
	bell atomic.Pointer[doorbell.Doorbell]
	_    [64]byte

	cfg Config

	pollMu  sync.Mutex // one Poll at a time: it owns the ring tails
	mu      sync.Mutex // below: the writer's state
	w       *slots     // the writer's handle on fast
	ageing  int64
	gcEvery int64 // gcInterval; tests shorten it
	nextGC  int64
	c       counters
	changes []Change
	victims []int
}

type counters struct {
	learned, migrated, aged, tableFull uint64
}

// New makes the FDB of one device for the given number of workers (each
// gets an event ring and must call Learn only with its own index).
func New(cfg Config, workers int) *Table {
	cfg.normalize()
	if workers < 1 {
		workers = 1
	}
	t := &Table{
		cfg:      cfg,
		external: cfg.External,
		rings:    make([]ring, workers),
		ageing:   int64(cfg.Ageing),
		gcEvery:  gcInterval,
	}
	for i := range t.rings {
		t.rings[i].init(cfg.RingSize)
	}
	t.learning.Store(cfg.Learning)
	t.w = newSlots(minSlots, rand.Uint64())
	t.fast.Store(t.w)
	now := cfg.Now()
	t.clock.Store(now)
	t.nextGC = now + t.gcEvery
	return t
}

// Now reads the table's clock (the timestamps in Entry use it).
func (t *Table) Now() int64 { return t.cfg.Now() }

// Workers is the number of event rings.
func (t *Table) Workers() int { return len(t.rings) }

func (t *Table) keyVNI(vni uint32) uint32 {
	if !t.external {
		return 0
	}
	return vni
}

// ---- packet path ----

// Lookup returns the remotes of the entry for mac (in vni, on an external
// device; vni is ignored on a classic one). The slice belongs to the table
// and must not be modified; it stays valid (and unchanged) after later
// updates, which publish a new one. A miss falls back to nothing: the
// caller looks up the all-zero MAC itself, as vxlan_xmit does. Lookup takes
// no lock and does not allocate; it refreshes the entry's Used at most once
// per second.
func (t *Table) Lookup(mac [6]byte, vni uint32) (remotes []Remote, ok bool) {
	if !t.external {
		vni = 0
	}
	s := t.fast.Load()
	i := s.find(macWord(mac), vni)
	if i < 0 {
		return nil, false
	}
	sl := &s.s[i]
	d := sl.d.Load()
	if d == nil {
		return nil, false
	}
	if c := t.clock.Load(); c-sl.used.Load() >= coarse {
		sl.used.Store(c)
	}
	return d.remotes, true
}

// Learn is vxlan_snoop, for worker w: a frame with inner source MAC mac
// arrived (in vni) from remote (the outer source address; remote.Ifindex is
// the underlay device it came in on, kept only for IPv6 link-local sources,
// as the kernel does; Port and VNI are ignored). It does nothing unless
// learning is on. drop reports that the frame must be dropped: its source
// MAC is multicast or all-zero, or it is a static entry pointing at another
// remote. A new source or a dynamic entry pointing elsewhere posts an event;
// the manager creates or migrates the entry asynchronously. Learn never
// blocks, locks or allocates.
func (t *Table) Learn(w int, mac [6]byte, vni uint32, remote Remote) (drop bool) {
	if !t.learning.Load() || uint(w) >= uint(len(t.rings)) {
		return false
	}
	r := &t.rings[w]
	if isMulticastMAC(mac) || isZeroMAC(mac) {
		r.invalid.Add(1)
		return true
	}
	if !remote.IP.IsValid() {
		return false
	}
	if !t.external {
		vni = 0
	}
	ip := remote.IP.WithZone("")
	var ifindex uint32
	if ip.Is6() && ip.IsLinkLocalUnicast() {
		ifindex = remote.Ifindex
	}
	key := macWord(mac)
	s := t.fast.Load()
	if i := s.find(key, vni); i >= 0 {
		sl := &s.s[i]
		if c := t.clock.Load(); c-sl.updated.Load() >= coarse {
			sl.updated.Store(c)
		}
		if d := sl.d.Load(); d != nil {
			r0 := &d.remotes[0]
			if r0.IP == ip && r0.Ifindex == ifindex {
				return false
			}
			if d.state.Static() {
				r.static.Add(1)
				return true
			}
		}
	}
	r.post(event{ip: ip, mac: mac, vni: vni, ifindex: ifindex})
	t.bell.Load().Ring()
	return false
}

// ---- manager ----

// Run is the manager loop: every Config.PollInterval it drains the event
// rings and, when due, runs the ageing collector. After doorbell.IdleAfter
// without an event it polls only every doorbell.IdlePoll (the workers'
// coarse clock and the collector then advance at that pace) and sleeps in
// between, until a worker posts an event and rings. It returns when ctx is
// done.
func (t *Table) Run(ctx context.Context) {
	doorbell.Manage(ctx, t.cfg.PollInterval, t.Poll, nil, t.bell.Store)
}

// Poll runs one manager iteration at the table's current time: it advances
// the workers' coarse clock, applies the learn events and, when due, ages
// entries. It reports whether it applied an event. Run calls it; tests with
// an injected clock call it directly.
func (t *Table) Poll() (events bool) {
	t.pollMu.Lock()
	defer t.pollMu.Unlock()
	t.mu.Lock()
	now := t.cfg.Now()
	t.clock.Store(now)
	for i := range t.rings {
		r := &t.rings[i]
		from, to := r.pending()
		for j := from; j != to; j++ {
			ev := r.at(j)
			t.learn(now, &ev)
		}
		r.release(to)
		events = events || from != to
	}
	if now >= t.nextGC {
		t.gc(now)
	}
	t.maybeCompact()
	ch := t.changes
	t.changes = nil
	t.mu.Unlock()
	for _, c := range ch {
		t.cfg.Notify(c)
	}
	return events
}

// learn is the slow half of vxlan_snoop: create the entry (REACHABLE, the
// device's default port and VNI) or move a dynamic one to the new remote.
// The worker's check may be stale by now, so everything is decided again.
func (t *Table) learn(now int64, ev *event) {
	key := macWord(ev.mac)
	i := t.w.find(key, ev.vni)
	if i < 0 {
		if t.full() {
			t.c.tableFull++
			return
		}
		i = t.insert(key, ev.vni, newDest(Reachable, true, []Remote{{IP: ev.ip, Ifindex: ev.ifindex}}), now)
		t.c.learned++
		t.notify(ChangeLearned, i)
		return
	}
	s := &t.w.s[i]
	d := s.d.Load()
	r0 := d.remotes[0]
	if (r0.IP == ev.ip && r0.Ifindex == ev.ifindex) || d.state.Static() {
		return
	}
	rs := slices.Clone(d.remotes)
	rs[0].IP, rs[0].Ifindex = ev.ip, ev.ifindex
	s.d.Store(newDest(d.state, d.learned, rs))
	s.updated.Store(now)
	t.c.migrated++
	t.notify(ChangeMigrated, i)
}

// gc is vxlan_cleanup: remove dynamic entries whose updated time is Ageing
// or more in the past. It runs again in 10 s or when the next entry expires,
// whichever is sooner (as the kernel re-arms its timer), but not sooner than
// a second from now: the timestamps have that resolution, and a full scan of
// a large table per expiring entry would cost more than it buys.
func (t *Table) gc(now int64) {
	next := now + t.gcEvery
	v := t.victims[:0]
	for i := range t.w.s {
		s := &t.w.s[i]
		k := s.key.Load()
		if k == 0 || k&keyDead != 0 {
			continue
		}
		if s.d.Load().state.Static() {
			continue
		}
		exp := s.updated.Load() + t.ageing
		if exp <= now {
			v = append(v, i)
		} else if exp < next {
			next = exp
		}
	}
	for _, i := range v {
		t.notify(ChangeAged, i)
		t.w.remove(i)
		t.c.aged++
	}
	t.victims = v[:0]
	t.nextGC = max(next, now+min(gcMinSpacing, t.gcEvery))
}

func (t *Table) notify(k ChangeKind, i int) {
	if t.cfg.Notify != nil {
		t.changes = append(t.changes, Change{Kind: k, Entry: export(&t.w.s[i])})
	}
}

// ---- writer helpers (t.mu held) ----

func (t *Table) full() bool { return t.cfg.MaxAddress > 0 && t.w.live() >= t.cfg.MaxAddress }

func (t *Table) publish(n *slots) {
	t.w = n
	t.fast.Store(n)
}

func (t *Table) insert(key uint64, vni uint32, d *dest, now int64) int {
	if !t.w.hasRoom() {
		t.publish(t.w.rebuilt(1))
	}
	return t.w.insert(key, vni, d, now)
}

func (t *Table) maybeCompact() {
	if t.w.needsCompaction() {
		t.publish(t.w.rebuilt(0))
	}
}

func export(s *slot) Entry {
	d := s.d.Load()
	return Entry{
		MAC:     wordMAC(s.key.Load()),
		VNI:     s.vni.Load(),
		Remotes: slices.Clone(d.remotes),
		State:   d.state,
		Learned: d.learned,
		Updated: s.updated.Load(),
		Used:    s.used.Load(),
	}
}

// ---- control plane ----

func (t *Table) name(mac [6]byte, vni uint32) string {
	if t.external {
		return fmt.Sprintf("fdb %s src_vni %d", macString(mac), vni)
	}
	return "fdb " + macString(mac)
}

// normRemote stores the device's defaults as defaults, so that a remote
// that names them compares equal to one that does not (the kernel fills in
// the defaults before comparing).
func (t *Table) normRemote(r Remote) Remote {
	r.IP = r.IP.WithZone("")
	if r.Port == t.cfg.Port {
		r.Port = 0
	}
	if !r.HasVNI || r.VNI == t.cfg.VNI {
		r.HasVNI, r.VNI = false, 0
	}
	return r
}

// Add creates or changes an entry as `bridge fdb add|append|replace` do
// (vxlan_fdb_add → vxlan_fdb_update). e.Remotes must hold exactly one
// remote; e.State must include Permanent or Reachable (`bridge fdb` sends
// Permanent unless told `dynamic`). Errors, in the kernel's order:
//
//   - EINVAL: state lacks Permanent and Reachable; no remote (or an invalid
//     address); also (flowpath only) more than one remote, a VNI of 2^24 or
//     more, or an unknown Op;
//   - EAFNOSUPPORT: the remote's family is not the device's;
//   - EEXIST: OpAdd and the entry exists;
//   - EOPNOTSUPP: OpReplace/OpChange on an all-zero or multicast MAC;
//   - ENOENT: OpChange and the entry does not exist;
//   - ENOSPC: a new entry would exceed MaxAddress.
//
// An existing entry takes the new state and loses Learned; its Updated time
// moves only if something changed. OpReplace puts the remote in place of
// the first one unless it is already there; OpAppend adds it to an all-zero
// or multicast entry unless present, and only sets the state of a unicast
// one. The device check of Ifindex (EADDRNOTAVAIL) is the caller's.
func (t *Table) Add(e Entry, op Op) error {
	name := t.name(e.MAC, e.VNI)
	if op < OpAdd || op > OpChange {
		return fmt.Errorf("%s: unknown operation %s: %w", name, op, errs.ErrInvalid)
	}
	if e.State&(Permanent|Reachable) == 0 {
		return fmt.Errorf("%s: state %s is neither permanent nor reachable: %w", name, e.State, errs.ErrInvalid)
	}
	if len(e.Remotes) == 0 || !e.Remotes[0].IP.IsValid() {
		return fmt.Errorf("%s: no destination: %w", name, errs.ErrInvalid)
	}
	if len(e.Remotes) > 1 {
		return fmt.Errorf("%s: one destination per request: %w", name, errs.ErrInvalid)
	}
	r := t.normRemote(e.Remotes[0])
	if r.IP.Is4() != (t.cfg.Family == 4) {
		return fmt.Errorf("%s: dst %s on an IPv%d device: %w", name, r.IP, t.cfg.Family, errs.ErrAFNoSupport)
	}
	if r.VNI > vniMask || (t.external && e.VNI > vniMask) {
		return fmt.Errorf("%s: vni out of range: %w", name, errs.ErrInvalid)
	}
	vni := t.keyVNI(e.VNI)
	key := macWord(e.MAC)

	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.cfg.Now()
	if i := t.w.find(key, vni); i >= 0 {
		if op == OpAdd {
			return fmt.Errorf("%s: %w", name, errs.ErrExists)
		}
		s := &t.w.s[i]
		d := s.d.Load()
		rs := d.remotes
		changed := d.state != e.State || d.learned
		switch op {
		case OpReplace, OpChange:
			if floodMAC(e.MAC) {
				return fmt.Errorf("%s: cannot replace a non-unicast entry: %w", name, errs.ErrNotSupported)
			}
			if !slices.Contains(rs, r) {
				rs = slices.Clone(rs)
				rs[0] = r
				changed = true
			}
		case OpAppend:
			if floodMAC(e.MAC) && !slices.Contains(rs, r) {
				rs = append(slices.Clip(rs), r)
				changed = true
			}
		}
		if changed {
			s.d.Store(newDest(e.State, false, rs))
			s.updated.Store(now)
		}
		return nil
	}
	switch {
	case op == OpChange:
		return fmt.Errorf("%s: %w", name, errs.ErrNoEntry)
	case op == OpReplace && floodMAC(e.MAC):
		return fmt.Errorf("%s: cannot replace a non-unicast entry: %w", name, errs.ErrNotSupported)
	case t.full():
		return fmt.Errorf("%s: maxaddress %d reached: %w", name, t.cfg.MaxAddress, errs.ErrNoSpace)
	}
	t.insert(key, vni, newDest(e.State, false, []Remote{r}), now)
	return nil
}

// Del removes an entry, or one of its remotes, as `bridge fdb del` does
// (__vxlan_fdb_delete). remote nil (or with an invalid or unspecified
// address: no `dst`) removes the whole entry. Otherwise only the remote
// that matches dst, port, VNI and ifindex (device defaults for the ones not
// given) goes, and the entry with it if it was the last; a remote that
// matches none of the entry's is not an error and removes nothing. ENOENT if
// the entry does not exist.
func (t *Table) Del(mac [6]byte, vni uint32, remote *Remote) error {
	name := t.name(mac, vni)
	key := macWord(mac)
	vni = t.keyVNI(vni)
	t.mu.Lock()
	defer t.mu.Unlock()
	i := t.w.find(key, vni)
	if i < 0 {
		return fmt.Errorf("%s: %w", name, errs.ErrNoEntry)
	}
	defer t.maybeCompact()
	if remote == nil || !remote.IP.IsValid() || remote.IP.IsUnspecified() {
		t.w.remove(i)
		return nil
	}
	r := t.normRemote(*remote)
	s := &t.w.s[i]
	d := s.d.Load()
	j := slices.Index(d.remotes, r)
	switch {
	case j < 0:
	case len(d.remotes) == 1:
		t.w.remove(i)
	default:
		s.d.Store(newDest(d.state, d.learned, slices.Delete(slices.Clone(d.remotes), j, j+1)))
	}
	return nil
}

// Get returns a copy of one entry (`bridge fdb get`).
func (t *Table) Get(mac [6]byte, vni uint32) (Entry, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	i := t.w.find(macWord(mac), t.keyVNI(vni))
	if i < 0 {
		return Entry{}, false
	}
	return export(&t.w.s[i]), true
}

// Dump calls fn with a copy of every entry, ordered by VNI then MAC, until
// fn returns false. fn runs without the table locked.
func (t *Table) Dump(fn func(Entry) bool) {
	t.mu.Lock()
	out := make([]Entry, 0, t.w.live())
	for i := range t.w.s {
		s := &t.w.s[i]
		if k := s.key.Load(); k != 0 && k&keyDead == 0 {
			out = append(out, export(s))
		}
	}
	t.mu.Unlock()
	slices.SortFunc(out, func(a, b Entry) int {
		if c := cmp.Compare(a.VNI, b.VNI); c != 0 {
			return c
		}
		return cmp.Compare(macWord(a.MAC), macWord(b.MAC))
	})
	for _, e := range out {
		if !fn(e) {
			return
		}
	}
}

// FlushDynamic removes every dynamic entry (the kernel does this when the
// device goes down) and returns how many it removed.
func (t *Table) FlushDynamic() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for i := range t.w.s {
		s := &t.w.s[i]
		if k := s.key.Load(); k != 0 && k&keyDead == 0 && !s.d.Load().state.Static() {
			t.w.remove(i)
			n++
		}
	}
	t.maybeCompact()
	return n
}

// Len is the number of entries.
func (t *Table) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.w.live()
}

// SetLearning turns learning on or off (`ip link set ... type vxlan
// [no]learning`); Learn reads it on every frame.
func (t *Table) SetLearning(on bool) { t.learning.Store(on) }

// Learning reports whether learning is on.
func (t *Table) Learning() bool { return t.learning.Load() }

// SetAgeing changes the ageing time (`ip link set ... type vxlan ageing N`).
// Unlike at creation, 0 is taken literally: dynamic entries go at the next
// collection.
func (t *Table) SetAgeing(d time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.ageing = max(int64(d), 0)
}

// Stats reads the counters.
func (t *Table) Stats() Stats {
	var st Stats
	for i := range t.rings {
		r := &t.rings[i]
		st.EventDrops += r.drops.Load()
		st.DroppedStatic += r.static.Load()
		st.DroppedInvalidSource += r.invalid.Load()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	st.Entries = t.w.live()
	st.Learned, st.Migrated, st.Aged, st.TableFull = t.c.learned, t.c.migrated, t.c.aged, t.c.tableFull
	return st
}
