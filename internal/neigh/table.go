package neigh

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"flowpath/internal/doorbell"
	"flowpath/internal/errs"
)

// SolicitFunc sends one solicitation (an ARP request or a Neighbour
// Solicitation) for target on dev. It is called on the goroutine running
// Run/Poll, never with the table locked, so it may call the table. unicast
// is the cached address for a PROBE-state (unicast) solicitation and nil for
// a broadcast (ARP) / solicited-node multicast (NDP) one; it points into the
// table's buffer and is valid only during the call.
type SolicitFunc func(dev uint32, target netip.Addr, unicast *[6]byte)

// Table is the neighbour table of both address families. Workers read it
// without locks (Lookup) and report what they see through their own event
// ring (Miss, UsedStale, Confirm); the manager (Run or Poll) is the only
// writer of the state machine, and control operations (Add, Del, Flush, ...)
// are serialised with it by a mutex that the packet path never touches.
type Table struct {
	// Packet path: read-mostly.
	fastPtr atomic.Pointer[slots]
	gen     atomic.Uint64 // bumped on every published change; Pending checks it
	rings   []ring
	// bell wakes Run's manager while it sleeps between idle polls; nil
	// outside Run.
	bell atomic.Pointer[doorbell.Doorbell]

	unresDiscards atomic.Uint64 // folded in by Pending.Resolve

	cfg     Config
	solicit SolicitFunc
	// afterPoll runs at the end of every Poll, on the polling goroutine
	// and serialised with solicit (SetAfterPoll).
	afterPoll func()

	// Below: the manager's state, guarded by mu.
	mu        sync.Mutex
	pollMu    sync.Mutex // one Poll at a time: it owns the ring tails and sol
	fast      *slots     // the writer's handle on fastPtr
	byKey     map[Key]*entry
	all       []*entry
	fam       [2]famState
	nextTimer int64
	sol       []solicitation
	roundSeed uint8
	mutations uint64 // any change an entry's GC eligibility depends on

	base, delayProbe, retrans, stale, locktime int64 // Config durations in ns

	c counters
}

type counters struct {
	allocs, destroys, resFailed, gcRuns, forcedGCRuns, tableFulls uint64
	ucastProbes, mcastProbes                                      uint64
}

type solicitation struct {
	addr    netip.Addr
	dev     uint32
	mac     [6]byte
	unicast bool
}

// NewTable makes a table for the given number of workers (each gets an
// event ring and must call Miss/UsedStale/Confirm only with its own index).
// solicit may be nil (nothing is sent; useful in tests).
func NewTable(cfg Config, workers int, solicit SolicitFunc) *Table {
	cfg.normalize()
	if workers < 1 {
		workers = 1
	}
	t := &Table{
		cfg:        cfg,
		solicit:    solicit,
		rings:      make([]ring, workers),
		byKey:      make(map[Key]*entry),
		nextTimer:  math.MaxInt64,
		base:       int64(cfg.BaseReachable),
		delayProbe: int64(cfg.DelayFirstProbe),
		retrans:    int64(cfg.Retrans),
		stale:      int64(cfg.GCStale),
		locktime:   int64(cfg.Locktime),
	}
	for i := range t.rings {
		t.rings[i].init(cfg.RingSize)
	}
	t.fast = newSlots(minSlots, rand.Uint64())
	t.fastPtr.Store(t.fast)
	now := cfg.Now()
	for i := range t.fam {
		f := &t.fam[i]
		f.reachable = t.randReachable()
		f.lastFlush = now
		f.lastRand = now + 20*f.reachable
		f.nextPeriodic = now + f.reachable
	}
	return t
}

// Now reads the table's clock; workers pass it to Pending.Resolve.
func (t *Table) Now() int64 { return t.cfg.Now() }

// Workers is the number of event rings.
func (t *Table) Workers() int { return len(t.rings) }

func usableAddr(a netip.Addr) bool { return a.IsValid() && !a.IsUnspecified() }

// ---- packet path ----

// Lookup returns the neighbour's address and state. ok is false if there is
// no entry. It takes no lock and does not allocate. A caller may use mac only
// if st.Valid(); st == Stale means "use it and call UsedStale".
func (t *Table) Lookup(dev uint32, addr netip.Addr) (mac [6]byte, st State, ok bool) {
	ctl, hi, lo := keyWords(dev, addr)
	v, ok := t.fastPtr.Load().find(ctl, hi, lo)
	if !ok {
		return mac, 0, false
	}
	return valMAC(v), valState(v), true
}

// Miss reports (for worker w) that a packet to addr found no usable entry
// and was queued. The manager creates the entry and starts resolution, or
// restarts it for a FAILED one. Entries already resolving or usable are left
// alone, so it is cheap to call for every such packet.
func (t *Table) Miss(w int, dev uint32, addr netip.Addr) {
	if uint(w) >= uint(len(t.rings)) || dev == 0 || !usableAddr(addr) {
		return
	}
	ctl, hi, lo := keyWords(dev, addr)
	if v, ok := t.fastPtr.Load().find(ctl, hi, lo); ok && valState(v)&(Incomplete|Reachable|Delay|Probe|staticStates) != 0 {
		return
	}
	t.rings[w].post(evMiss, dev, addr.WithZone(""), [6]byte{}, 0)
	t.bell.Load().Ring()
}

// UsedStale reports (for worker w) that a packet was sent using a STALE
// entry: the manager moves it to DELAY, which leads to a unicast probe unless
// the neighbour is confirmed meanwhile.
func (t *Table) UsedStale(w int, dev uint32, addr netip.Addr) {
	if uint(w) >= uint(len(t.rings)) {
		return
	}
	ctl, hi, lo := keyWords(dev, addr)
	if v, ok := t.fastPtr.Load().find(ctl, hi, lo); !ok || valState(v) != Stale {
		return
	}
	t.rings[w].post(evUse, dev, addr.WithZone(""), [6]byte{}, 0)
	t.bell.Load().Ring()
}

// Confirm reports (for worker w) a received ARP or NDP message that carried
// addr's link-layer address mac; flags say what kind (see ConfirmFlags).
func (t *Table) Confirm(w int, dev uint32, addr netip.Addr, mac [6]byte, flags ConfirmFlags) {
	if uint(w) >= uint(len(t.rings)) || dev == 0 || !usableAddr(addr) {
		return
	}
	t.rings[w].post(evConfirm, dev, addr.WithZone(""), mac, flags)
	t.bell.Load().Ring()
}

// ---- manager ----

// Run is the manager loop: every Config.PollInterval it drains the event
// rings, runs the entries' timers and the periodic collector, and sends the
// solicitations that produced. After doorbell.IdleAfter without an event
// it polls only every doorbell.IdlePoll, or sooner when an entry's timer
// is due, and sleeps in between, until a worker posts an event and rings:
// an idle daemon does not wake 2,000 times a second. It returns when ctx
// is done.
func (t *Table) Run(ctx context.Context) {
	doorbell.Manage(ctx, t.cfg.PollInterval, t.Poll, t.untilTimer, t.bell.Store)
}

// untilTimer is how long until the next entry timer is due: an idle
// manager wakes for it on time (a FAILED or STALE comes when the kernel's
// would), not at its next idle poll.
func (t *Table) untilTimer() time.Duration {
	t.mu.Lock()
	next := t.nextTimer
	t.mu.Unlock()
	if next == math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(next - t.cfg.Now())
}

// Poll runs one manager iteration at the table's current time and reports
// whether it handled an event. Run calls it; tests with an injected clock
// call it directly.
func (t *Table) Poll() (events bool) {
	t.pollMu.Lock()
	defer t.pollMu.Unlock()
	t.mu.Lock()
	now := t.cfg.Now()
	t.sol = t.sol[:0]
	for i := range t.rings {
		r := &t.rings[i]
		from, to := r.pending()
		for j := from; j != to; j++ {
			ev := r.at(j)
			t.handle(now, &ev)
		}
		r.release(to)
		events = events || from != to
	}
	t.runTimers(now)
	t.periodic(now)
	// Only Poll appends to sol and Polls are serialised by pollMu, so the
	// slice stays ours after unlocking.
	sol := t.sol
	t.mu.Unlock()
	if t.solicit != nil {
		for i := range sol {
			s := &sol[i]
			if s.unicast {
				t.solicit(s.dev, s.addr, &s.mac)
			} else {
				t.solicit(s.dev, s.addr, nil)
			}
		}
	}
	if t.afterPoll != nil {
		t.afterPoll()
	}
	return events
}

// SetAfterPoll makes every Poll end by calling f, on the polling goroutine
// and serialised with the solicit callback, once the pass's events have
// changed the table: the owner of what solicit sends can then act on the
// neighbours that pass resolved. Call it before Run.
func (t *Table) SetAfterPoll(f func()) { t.afterPoll = f }

func (t *Table) handle(now int64, ev *event) {
	key := Key{ev.dev, ev.addr}
	switch ev.kind {
	case evMiss:
		e := t.byKey[key]
		if e == nil {
			if e = t.create(now, key, false); e == nil {
				return
			}
		}
		t.eventSend(now, e)
	case evUse:
		if e := t.byKey[key]; e != nil {
			t.eventSend(now, e)
		}
	case evConfirm:
		t.confirm(now, key, ev.mac, ev.flags)
	}
}

// ---- control plane ----

func normKey(dev uint32, addr netip.Addr) (Key, error) {
	if dev == 0 {
		return Key{}, fmt.Errorf("neighbour %s: no device: %w", addr, errs.ErrInvalid)
	}
	if !usableAddr(addr) {
		return Key{}, fmt.Errorf("neighbour %s: invalid address: %w", addr, errs.ErrInvalid)
	}
	return Key{dev, addr.WithZone("")}, nil
}

// Add creates or changes an entry as `ip neigh add|replace|change` do
// (flags CmdAdd, CmdReplace, CmdChange; see AddFlags). e.State 0 means
// PERMANENT, iproute2's default; INCOMPLETE and NONE cannot be set.
// Errors: EEXIST (AddExcl and the entry exists), ENOENT (no AddCreate and
// it does not), EINVAL (bad address, device or state, or a usable state
// without a link-layer address), ENOSPC (the family is at gc_thresh3 and
// nothing could be collected; the kernel says ENOBUFS).
func (t *Table) Add(e Entry, flags AddFlags) error {
	key, err := normKey(e.Dev, e.Addr)
	if err != nil {
		return err
	}
	st := e.State
	if st == None {
		st = Permanent
	}
	switch st {
	case Permanent, NoARP, Reachable, Stale, Delay, Probe, Failed:
	default:
		return fmt.Errorf("neighbour %s: state %s: %w", key.Addr, st, errs.ErrInvalid)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.cfg.Now()
	x := t.byKey[key]
	uf := uAdmin | uOverride | uOverrideIsRouter
	if x == nil {
		if flags&AddCreate == 0 {
			return fmt.Errorf("neighbour %s dev %d: %w", key.Addr, key.Dev, errs.ErrNoEntry)
		}
		if st.Valid() && flags&AddNoLLAddr != 0 {
			return fmt.Errorf("neighbour %s: no link-layer address given: %w", key.Addr, errs.ErrInvalid)
		}
		if x = t.create(now, key, st&staticStates != 0); x == nil {
			return fmt.Errorf("neighbour %s: table overflow: %w", key.Addr, errs.ErrNoSpace)
		}
	} else {
		if flags&AddExcl != 0 {
			return fmt.Errorf("neighbour %s dev %d: %w", key.Addr, key.Dev, errs.ErrExists)
		}
		if flags&AddReplace == 0 {
			uf &^= uOverride | uOverrideIsRouter
		}
	}
	if e.Router {
		uf |= uIsRouter
	}
	var ll *[6]byte
	if flags&AddNoLLAddr == 0 {
		ll = &e.MAC
	}
	if !t.update(x, now, ll, st, uf) {
		return fmt.Errorf("neighbour %s: no link-layer address given: %w", key.Addr, errs.ErrInvalid)
	}
	return nil
}

// Del removes an entry, whatever its state (ip neigh del). ENOENT if absent.
func (t *Table) Del(dev uint32, addr netip.Addr) error {
	key, err := normKey(dev, addr)
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	x := t.byKey[key]
	if x == nil {
		return fmt.Errorf("neighbour %s dev %d: %w", key.Addr, key.Dev, errs.ErrNoEntry)
	}
	t.del(t.cfg.Now(), x)
	return nil
}

// del is the kernel's neigh_delete: fail the entry (an INCOMPLETE or PROBE
// one counts as a failed resolution), then unlink it.
func (t *Table) del(now int64, x *entry) {
	t.update(x, now, nil, Failed, uOverride|uAdmin)
	t.remove(x)
}

// Flush deletes every entry that filter accepts (nil: all), except
// PERMANENT and NOARP ones, as `ip neigh flush` does by default. filter runs
// with the table locked and must not call the table. It returns how many
// entries were deleted.
func (t *Table) Flush(filter func(Entry) bool) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.cfg.Now()
	var victims []*entry
	for _, x := range t.all {
		if x.state&staticStates == 0 && (filter == nil || filter(x.export())) {
			victims = append(victims, x)
		}
	}
	for _, x := range victims {
		t.del(now, x)
	}
	return len(victims)
}

// FlushDevice drops every entry of dev, permanent ones included: the device
// is gone (the kernel's neigh_ifdown).
func (t *Table) FlushDevice(dev uint32) { t.flushDev(dev, func(*entry) bool { return true }) }

// FlushDeviceIPv4 drops every IPv4 entry of dev, permanent ones included:
// the device lost its last IPv4 address (arp_ifdown from fib_disable_ip).
func (t *Table) FlushDeviceIPv4(dev uint32) {
	t.flushDev(dev, func(x *entry) bool { return x.key.Addr.Is4() })
}

// FlushDeviceIPv6 drops every IPv6 entry of dev, permanent ones included:
// IPv6 went off on the device (addrconf_ifdown).
func (t *Table) FlushDeviceIPv6(dev uint32) {
	t.flushDev(dev, func(x *entry) bool { return x.key.Addr.Is6() })
}

// CarrierDown drops dev's entries except PERMANENT ones: the link went down
// and what was learned on it may be wrong when it comes back
// (neigh_carrier_down).
func (t *Table) CarrierDown(dev uint32) {
	t.flushDev(dev, func(x *entry) bool { return x.state&Permanent == 0 })
}

// flushDev drops the entries of dev that drop says yes to.
func (t *Table) flushDev(dev uint32, drop func(*entry) bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var victims []*entry
	for _, x := range t.all {
		if x.key.Dev == dev && drop(x) {
			victims = append(victims, x)
		}
	}
	for _, x := range victims {
		t.remove(x)
	}
}

// Get returns a copy of one entry (ip neigh get).
func (t *Table) Get(dev uint32, addr netip.Addr) (Entry, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	x := t.byKey[Key{dev, addr.WithZone("")}]
	if x == nil {
		return Entry{}, false
	}
	return x.export(), true
}

// Dump calls fn with a copy of every entry, ordered by device then address
// (IPv4 before IPv6), until fn returns false. fn runs without the lock.
func (t *Table) Dump(fn func(Entry) bool) {
	t.mu.Lock()
	out := make([]Entry, 0, len(t.all))
	for _, x := range t.all {
		out = append(out, x.export())
	}
	t.mu.Unlock()
	slices.SortFunc(out, func(a, b Entry) int {
		if c := cmp.Compare(a.Dev, b.Dev); c != 0 {
			return c
		}
		return a.Addr.Compare(b.Addr)
	})
	for _, e := range out {
		if !fn(e) {
			return
		}
	}
}

// Stats are the table's counters, both families summed (the kernel's
// ndt_stats, plus what this design adds).
type Stats struct {
	Entries            int    // entries now (IPv4 + IPv6)
	Entries4, Entries6 int    // per family
	Allocs             uint64 // entries created
	Destroys           uint64 // entries removed
	ResFailed          uint64 // resolutions that ended FAILED
	GCRuns             uint64 // periodic collector runs (periodic_gc_runs)
	ForcedGCRuns       uint64 // forced collections (forced_gc_runs)
	TableFulls         uint64 // entries refused at gc_thresh3 (table_fulls)
	UnresolvedDiscards uint64 // packets dropped from Pending queues (unres_discards)
	UcastProbes        uint64 // unicast solicitations sent
	McastProbes        uint64 // broadcast/multicast solicitations sent
	EventDrops         uint64 // worker events lost to a full ring
}

// Stats reads the counters.
func (t *Table) Stats() Stats {
	var drops uint64
	for i := range t.rings {
		drops += t.rings[i].drops.Load()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return Stats{
		Entries: len(t.all), Entries4: t.fam[0].entries, Entries6: t.fam[1].entries,
		Allocs: t.c.allocs, Destroys: t.c.destroys, ResFailed: t.c.resFailed,
		GCRuns: t.c.gcRuns, ForcedGCRuns: t.c.forcedGCRuns, TableFulls: t.c.tableFulls,
		UnresolvedDiscards: t.unresDiscards.Load(),
		UcastProbes:        t.c.ucastProbes, McastProbes: t.c.mcastProbes,
		EventDrops: drops,
	}
}

// ReachableTime is the current randomised reachable_time of a family
// (IPv6 if v6), as `ip ntable show` reports it.
func (t *Table) ReachableTime(v6 bool) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	return time.Duration(t.fam[famOf(v6)].reachable)
}

func famOf(v6 bool) int {
	if v6 {
		return 1
	}
	return 0
}
