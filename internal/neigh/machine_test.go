package neigh

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"flowpath/internal/errs"
)

func TestStateString(t *testing.T) {
	cases := map[State]string{
		None: "NONE", Incomplete: "INCOMPLETE", Reachable: "REACHABLE", Stale: "STALE",
		Delay: "DELAY", Probe: "PROBE", Failed: "FAILED", NoARP: "NOARP", Permanent: "PERMANENT",
		Reachable | NoARP: "REACHABLE NOARP", 0x300: "0x300",
	}
	for s, want := range cases {
		if got := s.String(); got != want {
			t.Errorf("%#x: %q, want %q", uint16(s), got, want)
		}
	}
	for _, s := range []State{None, Incomplete, Reachable, Stale, Delay, Probe, Failed, NoARP, Permanent} {
		got, err := ParseState(s.String())
		if err != nil || got != s {
			t.Errorf("ParseState(%q) = %v, %v", s.String(), got, err)
		}
	}
	if _, err := ParseState("bogus"); !errors.Is(err, errs.ErrInvalid) {
		t.Errorf("ParseState(bogus): %v", err)
	}
	valid := map[State]bool{None: false, Incomplete: false, Failed: false, Reachable: true, Stale: true,
		Delay: true, Probe: true, NoARP: true, Permanent: true}
	for s, want := range valid {
		if s.Valid() != want {
			t.Errorf("%v.Valid() = %v", s, !want)
		}
	}
}

func TestResolutionSuccess(t *testing.T) {
	h := newHarness(t, nil)
	tb := h.tbl
	tb.Miss(0, 1, v4a)
	h.at(0)
	h.wantState(1, v4a, Incomplete)
	h.wantSols(bcast(1, v4a))
	h.at(500 * time.Millisecond)
	h.wantSols()
	tb.Confirm(1, 1, v4a, macA, Solicited)
	h.at(600 * time.Millisecond)
	h.wantState(1, v4a, Reachable)
	mac, _, _ := tb.Lookup(1, v4a)
	if mac != macA {
		t.Fatalf("mac %x", mac)
	}
	// No more probes while reachable; STALE once reachable_time (30 s here)
	// passed without confirmation. At exactly confirmed+reachable_time the
	// kernel's timer still finds it alive (time_before_eq) and re-arms for
	// the 10 ms minimum.
	h.at(30*time.Second + 600*time.Millisecond)
	h.wantState(1, v4a, Reachable)
	h.at(30*time.Second + 609*time.Millisecond)
	h.wantState(1, v4a, Reachable)
	h.at(30*time.Second + 610*time.Millisecond)
	h.wantState(1, v4a, Stale)
	h.wantSols()
	st := tb.Stats()
	if st.Allocs != 1 || st.McastProbes != 1 || st.UcastProbes != 0 || st.ResFailed != 0 || st.Entries4 != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestResolutionFailureAndRestart(t *testing.T) {
	h := newHarness(t, nil)
	tb := h.tbl
	tb.Miss(0, 1, v4a)
	h.at(0)
	h.wantSols(bcast(1, v4a))
	h.at(999 * time.Millisecond)
	h.wantSols()
	h.at(time.Second)
	h.wantSols(bcast(1, v4a))
	h.wantState(1, v4a, Incomplete)
	h.at(2 * time.Second)
	h.wantSols(bcast(1, v4a))
	h.at(3*time.Second - 1)
	h.wantState(1, v4a, Incomplete)
	h.at(3 * time.Second)
	h.wantState(1, v4a, Failed)
	h.wantSols() // mcast_solicit = 3 probes, then FAILED retrans after the last
	if e, _ := tb.Get(1, v4a); e.Probes != 6 {
		t.Fatalf("probes %d, want ucast+mcast = 6 (kernel counting)", e.Probes)
	}
	h.at(10 * time.Second)
	h.wantSols()
	// Misses while INCOMPLETE do nothing; a Miss on FAILED restarts.
	tb.Miss(0, 1, v4a)
	h.at(10 * time.Second)
	h.wantState(1, v4a, Incomplete)
	h.wantSols(bcast(1, v4a))
	tb.Miss(0, 1, v4a)
	h.at(10*time.Second + 100*time.Millisecond)
	h.wantSols()
	if st := tb.Stats(); st.ResFailed != 1 || st.McastProbes != 4 || st.Allocs != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestStaleDelayProbeReachable(t *testing.T) {
	h := newHarness(t, nil)
	tb := h.tbl
	// An ARP request from the neighbour creates a STALE entry.
	tb.Confirm(0, 1, v4a, macA, IsRequest)
	h.at(0)
	h.wantState(1, v4a, Stale)
	tb.UsedStale(0, 1, v4a)
	h.at(time.Second)
	h.wantState(1, v4a, Delay)
	h.at(6*time.Second - 1)
	h.wantState(1, v4a, Delay)
	h.wantSols()
	h.at(6 * time.Second)
	h.wantState(1, v4a, Probe)
	h.wantSols(ucast(1, v4a, macA))
	mac, st, _ := tb.Lookup(1, v4a)
	if mac != macA || !st.Valid() {
		t.Fatalf("PROBE entry must stay usable: %x %v", mac, st)
	}
	h.at(7 * time.Second)
	h.wantSols(ucast(1, v4a, macA))
	tb.Confirm(0, 1, v4a, macA, Solicited)
	h.at(7*time.Second + 10*time.Millisecond)
	h.wantState(1, v4a, Reachable)
	h.at(20 * time.Second)
	h.wantSols()
}

func TestDelayConfirmed(t *testing.T) {
	h := newHarness(t, nil)
	tb := h.tbl
	tb.Confirm(0, 1, v4a, macA, IsRequest)
	h.at(0)
	tb.UsedStale(0, 1, v4a)
	h.at(time.Second)
	h.wantState(1, v4a, Delay)
	tb.Confirm(0, 1, v4a, macA, Solicited)
	h.at(2 * time.Second)
	h.wantState(1, v4a, Reachable)
	h.at(10 * time.Second)
	h.wantState(1, v4a, Reachable)
	h.wantSols()
}

func TestProbeFails(t *testing.T) {
	h := newHarness(t, nil)
	tb := h.tbl
	tb.Confirm(0, 1, v4a, macA, IsRequest)
	h.at(0)
	tb.UsedStale(0, 1, v4a)
	h.at(0)
	for i := 5; i <= 7; i++ {
		h.at(time.Duration(i) * time.Second)
		h.wantState(1, v4a, Probe)
		h.wantSols(ucast(1, v4a, macA))
	}
	h.at(8 * time.Second)
	h.wantState(1, v4a, Failed)
	h.wantSols()
	if st := tb.Stats(); st.ResFailed != 1 || st.UcastProbes != 3 {
		t.Fatalf("stats %+v", st)
	}
	// The next packet starts a fresh, broadcast resolution.
	tb.Miss(0, 1, v4a)
	h.at(9 * time.Second)
	h.wantState(1, v4a, Incomplete)
	h.wantSols(bcast(1, v4a))
}

func TestMcastResolicit(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.UcastSolicit = 1; c.McastResolicit = 2 })
	tb := h.tbl
	tb.Confirm(0, 1, v4a, macA, IsRequest)
	h.at(0)
	tb.UsedStale(0, 1, v4a)
	h.at(0)
	h.at(5 * time.Second)
	h.wantSols(ucast(1, v4a, macA))
	h.at(6 * time.Second)
	h.wantSols(bcast(1, v4a))
	h.at(7 * time.Second)
	h.wantSols(bcast(1, v4a))
	h.at(8 * time.Second)
	h.wantState(1, v4a, Failed)
}

func TestNoMcastSolicitFailsAtOnce(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.McastSolicit = 0 })
	h.tbl.Miss(0, 1, v4a)
	h.at(0)
	h.wantState(1, v4a, Failed)
	h.wantSols()
}

func TestPermanentAndNoARPImmune(t *testing.T) {
	for _, st := range []State{Permanent, NoARP} {
		t.Run(st.String(), func(t *testing.T) {
			h := newHarness(t, func(c *Config) { c.GCThresh1 = 0 })
			tb := h.tbl
			if err := tb.Add(Entry{Dev: 1, Addr: v4a, MAC: macA, State: st}, CmdAdd); err != nil {
				t.Fatal(err)
			}
			for _, f := range []ConfirmFlags{Solicited, Override, IsRequest, Solicited | Override, 0} {
				tb.Confirm(0, 1, v4a, macB, f)
			}
			tb.Miss(0, 1, v4a)
			tb.UsedStale(0, 1, v4a)
			for d := time.Duration(0); d < time.Hour; d += 7 * time.Second {
				h.at(d)
			}
			h.wantState(1, v4a, st)
			if mac, _, _ := tb.Lookup(1, v4a); mac != macA {
				t.Fatalf("mac changed to %x", mac)
			}
			h.wantSols()
			if n := tb.Flush(nil); n != 0 {
				t.Fatalf("flush removed %d static entries", n)
			}
			tb.CarrierDown(1)
			if st == Permanent {
				h.wantState(1, v4a, Permanent)
			} else {
				h.wantAbsent(1, v4a) // the kernel keeps only PERMANENT on carrier loss
				return
			}
			tb.FlushDevice(1)
			h.wantAbsent(1, v4a)
		})
	}
}

func TestAddReplaceChangeDel(t *testing.T) {
	h := newHarness(t, nil)
	tb := h.tbl
	code := func(err error) string { return errs.Code(err) }
	if c := code(tb.Add(Entry{Dev: 1, Addr: v4a, MAC: macA}, CmdChange)); c != "ENOENT" {
		t.Fatalf("change of absent: %q", c)
	}
	if err := tb.Add(Entry{Dev: 1, Addr: v4a, MAC: macA}, CmdAdd); err != nil {
		t.Fatal(err)
	}
	h.wantState(1, v4a, Permanent) // iproute2 default
	if c := code(tb.Add(Entry{Dev: 1, Addr: v4a, MAC: macB}, CmdAdd)); c != "EEXIST" {
		t.Fatalf("add of existing: %q", c)
	}
	if err := tb.Add(Entry{Dev: 1, Addr: v4a, MAC: macB, State: Reachable, Router: true}, CmdReplace); err != nil {
		t.Fatal(err)
	}
	e, _ := tb.Get(1, v4a)
	if e.State != Reachable || e.MAC != macB || !e.Router {
		t.Fatalf("after replace: %+v", e)
	}
	// change without lladdr keeps the address.
	if err := tb.Add(Entry{Dev: 1, Addr: v4a, State: Stale}, CmdChange|AddNoLLAddr); err != nil {
		t.Fatal(err)
	}
	e, _ = tb.Get(1, v4a)
	if e.State != Stale || e.MAC != macB || e.Router {
		t.Fatalf("after change: %+v", e)
	}
	// create without lladdr for a usable state is invalid; FAILED is fine.
	if c := code(tb.Add(Entry{Dev: 1, Addr: v4b, State: Reachable}, CmdAdd|AddNoLLAddr)); c != "EINVAL" {
		t.Fatalf("no lladdr: %q", c)
	}
	h.wantAbsent(1, v4b)
	if err := tb.Add(Entry{Dev: 1, Addr: v4b, State: Failed}, CmdAdd|AddNoLLAddr); err != nil {
		t.Fatal(err)
	}
	h.wantState(1, v4b, Failed)
	for _, bad := range []Entry{
		{Dev: 0, Addr: v4a, MAC: macA},
		{Dev: 1, Addr: netip.Addr{}, MAC: macA},
		{Dev: 1, Addr: netip.IPv4Unspecified(), MAC: macA},
		{Dev: 1, Addr: v4a, MAC: macA, State: Incomplete},
		{Dev: 1, Addr: v4a, MAC: macA, State: 0x300},
	} {
		if c := code(tb.Add(bad, CmdReplace)); c != "EINVAL" {
			t.Errorf("Add(%+v): %q, want EINVAL", bad, c)
		}
	}
	if err := tb.Del(1, v4a); err != nil {
		t.Fatal(err)
	}
	h.wantAbsent(1, v4a)
	if c := code(tb.Del(1, v4a)); c != "ENOENT" {
		t.Fatalf("del of absent: %q", c)
	}
	// add without CREATE and without EXCL on an existing entry: no override.
	if err := tb.Add(Entry{Dev: 1, Addr: v4a, MAC: macA, State: Reachable}, CmdAdd); err != nil {
		t.Fatal(err)
	}
	if err := tb.Add(Entry{Dev: 1, Addr: v4a, MAC: macB, State: Reachable}, AddCreate); err != nil {
		t.Fatal(err)
	}
	if e, _ := tb.Get(1, v4a); e.MAC != macA {
		t.Fatalf("non-replace add overrode the address: %x", e.MAC)
	}
	// zones are ignored.
	z := netip.MustParseAddr("fe80::1%eth0")
	if err := tb.Add(Entry{Dev: 1, Addr: z, MAC: macC}, CmdAdd); err != nil {
		t.Fatal(err)
	}
	if mac, st, ok := tb.Lookup(1, netip.MustParseAddr("fe80::1")); !ok || mac != macC || st != Permanent {
		t.Fatalf("zoned add not found without zone")
	}
}

func TestAdminDelayProbes(t *testing.T) {
	h := newHarness(t, nil)
	if err := h.tbl.Add(Entry{Dev: 1, Addr: v4a, MAC: macA, State: Delay}, CmdAdd); err != nil {
		t.Fatal(err)
	}
	h.at(0) // the timer is due at once and nothing confirmed it
	h.wantState(1, v4a, Probe)
	h.wantSols(ucast(1, v4a, macA))
}

func TestARPLocktimeAndGratuitous(t *testing.T) {
	h := newHarness(t, nil)
	tb := h.tbl
	tb.Miss(0, 1, v4a)
	h.at(0)
	h.rec.take()
	tb.Confirm(0, 1, v4a, macA, Solicited)
	h.at(100 * time.Millisecond)
	// A second, different reply within locktime loses.
	tb.Confirm(0, 1, v4a, macB, Solicited)
	h.at(200 * time.Millisecond)
	if mac, st, _ := tb.Lookup(1, v4a); mac != macA || st != Reachable {
		t.Fatalf("within locktime: %x %v", mac, st)
	}
	// Gratuitous ARP overrides at once.
	tb.Confirm(0, 1, v4a, macB, Override)
	h.at(300 * time.Millisecond)
	if mac, st, _ := tb.Lookup(1, v4a); mac != macB || st != Stale {
		t.Fatalf("gratuitous: %x %v", mac, st)
	}
	// After locktime a plain reply replaces the address.
	tb.Confirm(0, 1, v4a, macC, Solicited)
	h.at(1400 * time.Millisecond)
	if mac, st, _ := tb.Lookup(1, v4a); mac != macC || st != Reachable {
		t.Fatalf("after locktime: %x %v", mac, st)
	}
	// Same address, not solicited: a REACHABLE entry stays REACHABLE.
	tb.Confirm(0, 1, v4a, macC, 0)
	h.at(3 * time.Second)
	h.wantState(1, v4a, Reachable)
	// Unsolicited traffic never creates entries.
	tb.Confirm(0, 1, v4b, macA, Solicited)
	h.at(4 * time.Second)
	h.wantAbsent(1, v4b)
}

func TestNDPOverrideRules(t *testing.T) {
	h := newHarness(t, nil)
	tb := h.tbl
	tb.Miss(0, 1, v6a)
	h.at(0)
	h.wantSols(bcast(1, v6a))
	tb.Confirm(0, 1, v6a, macA, Solicited|Router)
	h.at(10 * time.Millisecond)
	e, _ := tb.Get(1, v6a)
	if e.State != Reachable || !e.Router || e.MAC != macA {
		t.Fatalf("%+v", e)
	}
	// Unsolicited NA, no O flag, different address: REACHABLE → STALE, old
	// address kept, router flag untouched (RFC 4861 7.2.5).
	tb.Confirm(0, 1, v6a, macB, 0)
	h.at(20 * time.Millisecond)
	e, _ = tb.Get(1, v6a)
	if e.State != Stale || e.MAC != macA || !e.Router {
		t.Fatalf("weak override: %+v", e)
	}
	// Same again on a STALE entry: ignored.
	tb.Confirm(0, 1, v6a, macB, Solicited)
	h.at(30 * time.Millisecond)
	if e, _ = tb.Get(1, v6a); e.State != Stale || e.MAC != macA {
		t.Fatalf("no override on stale: %+v", e)
	}
	// O flag: the new address wins; R cleared.
	tb.Confirm(0, 1, v6a, macB, Override)
	h.at(40 * time.Millisecond)
	if e, _ = tb.Get(1, v6a); e.State != Stale || e.MAC != macB || e.Router {
		t.Fatalf("override: %+v", e)
	}
	// Solicited NA without target address (Linux answers unicast NUD probes
	// so): confirms the cached one.
	tb.Confirm(0, 1, v6a, [6]byte{}, Solicited|NoLLAddr)
	h.at(50 * time.Millisecond)
	if e, _ = tb.Get(1, v6a); e.State != Reachable || e.MAC != macB {
		t.Fatalf("NA without lladdr: %+v", e)
	}
	// NS with source address from the neighbour: STALE with the new address.
	tb.Confirm(0, 1, v6a, macC, IsRequest)
	h.at(60 * time.Millisecond)
	if e, _ = tb.Get(1, v6a); e.State != Stale || e.MAC != macC {
		t.Fatalf("NS: %+v", e)
	}
	// Without lladdr, nothing can be learned about an unknown neighbour.
	tb.Confirm(0, 1, netip.MustParseAddr("fd00::9"), macC, IsRequest|NoLLAddr)
	h.at(70 * time.Millisecond)
	h.wantAbsent(1, netip.MustParseAddr("fd00::9"))
}

func addrN(v6 bool, i int) netip.Addr {
	if v6 {
		return netip.AddrFrom16([16]byte{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, byte(i >> 8), byte(i)})
	}
	return netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)})
}

func TestPeriodicGC(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.GCThresh1 = 3 })
	tb := h.tbl
	// Two STALE entries: below gc_thresh1 the collector leaves them.
	for i := 0; i < 2; i++ {
		tb.Confirm(0, 1, addrN(false, i), macA, IsRequest)
	}
	h.at(0)
	h.at(10 * time.Minute)
	if st := tb.Stats(); st.Entries != 2 || st.GCRuns == 0 {
		t.Fatalf("below thresh1: %+v", st)
	}
	// A third, fresh one: now the two old ones go, the fresh one stays.
	tb.Confirm(0, 1, addrN(false, 2), macA, IsRequest)
	h.at(10*time.Minute + time.Second)
	h.at(10*time.Minute + 16*time.Second)
	h.wantAbsent(1, addrN(false, 0))
	h.wantAbsent(1, addrN(false, 1))
	h.wantState(1, addrN(false, 2), Stale)
	// IPv6 is another table: its count does not include the IPv4 entries.
	for i := 0; i < 2; i++ {
		tb.Confirm(0, 1, addrN(true, i), macA, IsRequest)
	}
	h.at(20 * time.Minute)
	h.at(30 * time.Minute)
	h.wantState(1, addrN(true, 0), Stale)
	// FAILED entries are collected at the next run above thresh1.
	tb.Miss(0, 1, addrN(true, 5))
	tb.Miss(0, 1, addrN(true, 6))
	for d := time.Millisecond; d < 4*time.Second; d += 500 * time.Millisecond {
		h.at(30*time.Minute + d)
	}
	h.wantState(1, addrN(true, 5), Failed)
	h.at(31 * time.Minute)
	h.wantAbsent(1, addrN(true, 5))
	h.wantAbsent(1, addrN(true, 6))
	h.wantAbsent(1, addrN(true, 0)) // stale for > 60 s
}

func TestForcedGCAndTableFull(t *testing.T) {
	// thresh2 = thresh3: a forced GC at 4 entries may clean 4+1-4 = 1.
	h := newHarness(t, func(c *Config) { c.GCThresh1, c.GCThresh2, c.GCThresh3 = 1, 4, 4 })
	tb := h.tbl
	for i := 0; i < 4; i++ {
		tb.Miss(0, 1, addrN(false, i))
	}
	h.at(0)
	if st := tb.Stats(); st.Entries4 != 4 {
		t.Fatalf("%+v", st)
	}
	// All four are INCOMPLETE (in a timer): nothing can be collected.
	tb.Miss(0, 1, addrN(false, 10))
	h.at(time.Millisecond)
	h.wantAbsent(1, addrN(false, 10))
	st := tb.Stats()
	if st.TableFulls != 1 || st.ForcedGCRuns == 0 {
		t.Fatalf("table full not counted: %+v", st)
	}
	// Permanent entries are not limited.
	if err := tb.Add(Entry{Dev: 1, Addr: addrN(false, 20), MAC: macA}, CmdAdd); err != nil {
		t.Fatal(err)
	}
	if err := tb.Add(Entry{Dev: 1, Addr: addrN(false, 21), MAC: macA, State: Stale}, CmdAdd); errs.Code(err) != "ENOSPC" {
		t.Fatalf("non-permanent add at thresh3: %v", err)
	}
	// Other family unaffected.
	tb.Miss(0, 1, addrN(true, 1))
	h.at(2 * time.Millisecond)
	h.wantState(1, addrN(true, 1), Incomplete)
	// Entries 0,1 get answered and go STALE (unsolicited replies); once
	// they have not changed for 5 s, a forced GC may take them.
	tb.Confirm(0, 1, addrN(false, 0), macA, 0)
	tb.Confirm(0, 1, addrN(false, 1), macA, 0)
	h.at(100 * time.Millisecond)
	h.wantState(1, addrN(false, 0), Stale)
	tb.Miss(0, 1, addrN(false, 11))
	h.at(200 * time.Millisecond)
	h.wantAbsent(1, addrN(false, 11)) // they changed 100 ms ago: spared
	tb.Miss(0, 1, addrN(false, 11))
	h.at(5*time.Second + 101*time.Millisecond)
	h.wantState(1, addrN(false, 11), Incomplete)
	h.wantAbsent(1, addrN(false, 0)) // the oldest went first
	h.wantState(1, addrN(false, 1), Stale)
	st = tb.Stats()
	if st.TableFulls != 3 {
		t.Fatalf("table fulls %d, want 3 (2 misses + 1 add)", st.TableFulls)
	}
}

func TestFlushAndDevices(t *testing.T) {
	h := newHarness(t, nil)
	tb := h.tbl
	for dev := uint32(1); dev <= 2; dev++ {
		tb.Confirm(0, dev, v4a, macA, IsRequest)
		tb.Miss(0, dev, v4b)
		if err := tb.Add(Entry{Dev: dev, Addr: v6a, MAC: macB}, CmdAdd); err != nil {
			t.Fatal(err)
		}
	}
	h.at(0)
	n := tb.Flush(func(e Entry) bool { return e.Dev == 1 })
	if n != 2 {
		t.Fatalf("flush dev 1 removed %d, want 2", n)
	}
	h.wantAbsent(1, v4a)
	h.wantAbsent(1, v4b)
	h.wantState(1, v6a, Permanent)
	h.wantState(2, v4b, Incomplete)
	if st := tb.Stats(); st.ResFailed != 1 {
		t.Fatalf("deleting an INCOMPLETE entry counts a failed resolution: %+v", st)
	}
	tb.FlushDevice(2)
	h.wantAbsent(2, v4a)
	h.wantAbsent(2, v6a)
	var got []Entry
	tb.Dump(func(e Entry) bool { got = append(got, e); return true })
	if len(got) != 1 || got[0].Addr != v6a || got[0].Dev != 1 {
		t.Fatalf("dump %v", got)
	}
}

func TestDumpOrder(t *testing.T) {
	h := newHarness(t, nil)
	tb := h.tbl
	addrs := []string{"fd00::2", "10.0.0.9", "10.0.0.10", "fd00::1", "10.0.0.1"}
	for _, dev := range []uint32{3, 1, 2} {
		for _, a := range addrs {
			if err := tb.Add(Entry{Dev: dev, Addr: netip.MustParseAddr(a), MAC: macA}, CmdAdd); err != nil {
				t.Fatal(err)
			}
		}
	}
	var got []string
	tb.Dump(func(e Entry) bool {
		got = append(got, e.String())
		return len(got) < 7
	})
	want := []string{
		"10.0.0.1 dev 1 lladdr 02:00:00:00:00:0a PERMANENT",
		"10.0.0.9 dev 1 lladdr 02:00:00:00:00:0a PERMANENT",
		"10.0.0.10 dev 1 lladdr 02:00:00:00:00:0a PERMANENT",
		"fd00::1 dev 1 lladdr 02:00:00:00:00:0a PERMANENT",
		"fd00::2 dev 1 lladdr 02:00:00:00:00:0a PERMANENT",
		"10.0.0.1 dev 2 lladdr 02:00:00:00:00:0a PERMANENT",
		"10.0.0.9 dev 2 lladdr 02:00:00:00:00:0a PERMANENT",
	}
	if len(got) != len(want) {
		t.Fatalf("got %d entries: %v", len(got), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("entry %d: %q, want %q", i, got[i], want[i])
		}
	}
}

func TestReachableTimeRandomised(t *testing.T) {
	var g pcg
	cfg := DefaultConfig()
	cfg.Rand = g.next
	seen := map[time.Duration]bool{}
	for i := 0; i < 50; i++ {
		tb := NewTable(cfg, 1, nil)
		for _, v6 := range []bool{false, true} {
			r := tb.ReachableTime(v6)
			if r < 15*time.Second || r >= 45*time.Second {
				t.Fatalf("reachable_time %v outside [15s, 45s)", r)
			}
			seen[r] = true
		}
	}
	if len(seen) < 50 {
		t.Fatalf("only %d distinct reachable times in 100 draws", len(seen))
	}
	// Re-randomised every 300 s by the periodic work (first after 20 × reachable).
	h := newHarness(t, func(c *Config) { c.Rand = g.next })
	r0 := h.tbl.ReachableTime(false)
	changed := false
	for d := time.Duration(0); d < 40*time.Minute; d += 15 * time.Second {
		h.at(d)
		if h.tbl.ReachableTime(false) != r0 {
			changed = true
		}
	}
	if !changed {
		t.Fatal("reachable_time never re-randomised")
	}
}

func TestBadWorkerAndAddressIgnored(t *testing.T) {
	h := newHarness(t, nil)
	tb := h.tbl
	tb.Miss(-1, 1, v4a)
	tb.Miss(2, 1, v4a)
	tb.Miss(0, 0, v4a)
	tb.Miss(0, 1, netip.Addr{})
	tb.Miss(0, 1, netip.IPv6Unspecified())
	tb.Confirm(5, 1, v4a, macA, IsRequest)
	tb.Confirm(0, 1, netip.Addr{}, macA, IsRequest)
	tb.UsedStale(9, 1, v4a)
	h.at(0)
	if st := tb.Stats(); st.Entries != 0 || st.Allocs != 0 {
		t.Fatalf("%+v", st)
	}
	if _, _, ok := tb.Lookup(1, netip.Addr{}); ok {
		t.Fatal("zero address found")
	}
}

func TestRingOverflowCounted(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.RingSize = 8 })
	tb := h.tbl
	for i := 0; i < 20; i++ {
		tb.Miss(0, 1, addrN(false, i))
	}
	if st := tb.Stats(); st.EventDrops != 12 {
		t.Fatalf("drops %d, want 12", st.EventDrops)
	}
	h.at(0)
	if st := tb.Stats(); st.Entries != 8 {
		t.Fatalf("entries %d", st.Entries)
	}
	// Duplicates of an unread event are not posted twice.
	for i := 0; i < 20; i++ {
		tb.Miss(1, 1, addrN(false, 100))
	}
	if st := tb.Stats(); st.EventDrops != 12 {
		t.Fatalf("duplicate misses filled the ring: %+v", st)
	}
}

func TestFastTableRebuilds(t *testing.T) {
	h := newHarness(t, nil)
	tb := h.tbl
	present := map[int]bool{}
	var g pcg
	for round := 0; round < 3000; round++ {
		i := int(g.next() % 300)
		if present[i] {
			if err := tb.Del(1, addrN(i%2 == 0, i)); err != nil {
				t.Fatal(err)
			}
			delete(present, i)
		} else {
			if err := tb.Add(Entry{Dev: 1, Addr: addrN(i%2 == 0, i), MAC: [6]byte{byte(i)}}, CmdAdd); err != nil {
				t.Fatal(err)
			}
			present[i] = true
		}
	}
	for i := 0; i < 300; i++ {
		mac, _, ok := tb.Lookup(1, addrN(i%2 == 0, i))
		if ok != present[i] || (ok && mac[0] != byte(i)) {
			t.Fatalf("%d: ok %v mac %x, want %v", i, ok, mac, present[i])
		}
	}
	if size := len(tb.fastPtr.Load().s); size > 4*nextPowInt(4*(len(present)+1)) {
		t.Fatalf("slot array %d for %d entries: tombstones not reclaimed", size, len(present))
	}
}

func nextPowInt(n int) int { return int(nextPow2(uint64(n))) }

// The forced-GC shortcut (a fruitless collection stays fruitless until
// something changes or the oldest spared entry turns 5 s old) must give the
// kernel's answer at the exact boundary.
func TestForcedGCMemoBoundary(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.GCThresh1, c.GCThresh2, c.GCThresh3 = 1, 2, 2 })
	tb := h.tbl
	tb.Confirm(0, 1, addrN(false, 0), macA, IsRequest)
	tb.Confirm(0, 1, addrN(false, 1), macA, IsRequest)
	h.at(0)
	for _, d := range []time.Duration{time.Second, 3 * time.Second, 5 * time.Second} {
		tb.Miss(0, 1, addrN(false, 9))
		h.at(d)
		h.wantAbsent(1, addrN(false, 9))
	}
	if st := tb.Stats(); st.TableFulls != 3 || st.ForcedGCRuns != 3 {
		t.Fatalf("%+v", st)
	}
	tb.Miss(0, 1, addrN(false, 9))
	h.at(5*time.Second + 1)
	h.wantState(1, addrN(false, 9), Incomplete)
	h.wantAbsent(1, addrN(false, 0))
}
