package fdb

import (
	"slices"
	"testing"
	"time"
)

// V11: learning creates `M dst .3 self`, a frame from .4 migrates it (with a
// notification); a permanent entry is not migrated and the frame is dropped.
func TestV11Learning(t *testing.T) {
	cfg := classicCfg()
	var changes []Change
	cfg.Notify = func(c Change) { changes = append(changes, c) }
	tb, c := newTestTable(cfg, 2)
	tb.Add(entry(zeroMAC, Permanent|Reachable, dst("192.0.2.2")), OpAdd)

	if tb.Learn(0, macM, 0, dst("192.0.2.3")) {
		t.Fatal("new source dropped")
	}
	if _, ok := tb.Lookup(macM, 0); ok {
		t.Fatal("learning is the manager's job, not the worker's")
	}
	tb.Poll()
	e, ok := tb.Get(macM, 0)
	if !ok || !slices.Equal(ips(e.Remotes), []string{"192.0.2.3"}) || e.State != Reachable || !e.Learned || e.Updated != c.now {
		t.Fatalf("learned %+v %v", e, ok)
	}
	if e.Remotes[0] != dst("192.0.2.3") {
		t.Fatalf("learned remote has no defaults: %+v", e.Remotes[0])
	}
	// The same source again: nothing to do, no event.
	if tb.Learn(1, macM, 0, dst("192.0.2.3")) {
		t.Fatal("known source dropped")
	}
	if f, to := tb.rings[1].pending(); f != to {
		t.Fatal("event posted for a known source")
	}

	c.advance(time.Second)
	if tb.Learn(1, macM, 0, dst("192.0.2.4")) {
		t.Fatal("moved source dropped")
	}
	tb.Poll()
	e, _ = tb.Get(macM, 0)
	if !slices.Equal(ips(e.Remotes), []string{"192.0.2.4"}) || e.Updated != c.now || !e.Learned {
		t.Fatalf("migrated %+v", e)
	}
	if len(changes) != 2 || changes[0].Kind != ChangeLearned || changes[1].Kind != ChangeMigrated ||
		changes[1].Entry.Remotes[0].IP != ip("192.0.2.4") || changes[1].Entry.MAC != macM {
		t.Fatalf("notifications %+v", changes)
	}

	// Permanent M' at .3: a frame from .4 is dropped and changes nothing.
	tb.Add(entry(macN, Permanent, dst("192.0.2.3")), OpAdd)
	if !tb.Learn(0, macN, 0, dst("192.0.2.4")) {
		t.Fatal("frame migrating a permanent entry not dropped")
	}
	if tb.Learn(0, macN, 0, dst("192.0.2.3")) {
		t.Fatal("frame from a permanent entry's own remote dropped")
	}
	tb.Poll()
	e, _ = tb.Get(macN, 0)
	if !slices.Equal(ips(e.Remotes), []string{"192.0.2.3"}) || e.Learned {
		t.Fatalf("permanent entry changed: %+v", e)
	}
	st := tb.Stats()
	if st.Learned != 1 || st.Migrated != 1 || st.DroppedStatic != 1 || st.Entries != 3 || st.EventDrops != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestLearnStaticNoARP(t *testing.T) {
	tb, _ := newTestTable(classicCfg(), 1)
	tb.Add(entry(macM, NoARP|Reachable, dst("192.0.2.3")), OpAdd)
	if !tb.Learn(0, macM, 0, dst("192.0.2.4")) {
		t.Fatal("noarp entry is static: frame must be dropped")
	}
}

// A user-added dynamic entry migrates like a learned one, and stays
// user-owned (Learned false); a user change to a learned entry makes it the
// user's.
func TestLearnUserDynamic(t *testing.T) {
	tb, _ := newTestTable(classicCfg(), 1)
	tb.Add(entry(macM, Reachable, Remote{IP: ip("192.0.2.3"), Port: 9000}), OpAdd)
	tb.Learn(0, macM, 0, dst("192.0.2.4"))
	tb.Poll()
	e, _ := tb.Get(macM, 0)
	if e.Learned || e.Remotes[0] != (Remote{IP: ip("192.0.2.4"), Port: 9000}) {
		t.Fatalf("%+v", e)
	}
	tb.Learn(0, macN, 0, dst("192.0.2.5"))
	tb.Poll()
	if e, _ = tb.Get(macN, 0); !e.Learned {
		t.Fatal("not learned")
	}
	tb.Add(entry(macN, Reachable, dst("192.0.2.5")), OpReplace)
	if e, _ = tb.Get(macN, 0); e.Learned {
		t.Fatal("user replace keeps Learned")
	}
}

// The worker's view may be stale by the time the manager runs: the manager
// decides again.
func TestLearnRechecksOnManager(t *testing.T) {
	tb, _ := newTestTable(classicCfg(), 1)
	tb.Add(entry(macM, Reachable, dst("192.0.2.3")), OpAdd)
	tb.Learn(0, macM, 0, dst("192.0.2.4")) // would migrate...
	tb.Add(entry(macM, Permanent, dst("192.0.2.3")), OpReplace)
	tb.Poll() // ...but it is permanent now
	if e, _ := tb.Get(macM, 0); e.Remotes[0].IP != ip("192.0.2.3") {
		t.Fatalf("migrated a permanent entry: %+v", e)
	}
	if st := tb.Stats(); st.Migrated != 0 {
		t.Fatalf("%+v", st)
	}
	// A creation whose entry the user added meanwhile: nothing to create.
	tb.Learn(0, macN, 0, dst("192.0.2.5"))
	tb.Add(entry(macN, Permanent, dst("192.0.2.5")), OpAdd)
	tb.Poll()
	if st := tb.Stats(); st.Learned != 0 {
		t.Fatalf("%+v", st)
	}
}

func TestLearnInvalidSourceAndOff(t *testing.T) {
	tb, _ := newTestTable(classicCfg(), 1)
	for _, m := range [][6]byte{zeroMAC, bcastMAC, mcastMAC} {
		if !tb.Learn(0, m, 0, dst("192.0.2.3")) {
			t.Fatalf("source %v not dropped", m)
		}
	}
	if st := tb.Stats(); st.DroppedInvalidSource != 3 {
		t.Fatalf("%+v", st)
	}
	tb.SetLearning(false)
	if tb.Learning() {
		t.Fatal("Learning")
	}
	if tb.Learn(0, zeroMAC, 0, dst("192.0.2.3")) || tb.Learn(0, macM, 0, dst("192.0.2.3")) {
		t.Fatal("learning off drops")
	}
	tb.Poll()
	if tb.Len() != 0 {
		t.Fatal("learned with learning off")
	}
	tb.SetLearning(true)
	// Out-of-range worker, invalid address: ignored.
	if tb.Learn(5, macM, 0, dst("192.0.2.3")) || tb.Learn(-1, macM, 0, dst("192.0.2.3")) || tb.Learn(0, macM, 0, Remote{}) {
		t.Fatal("drop")
	}
	tb.Poll()
	if tb.Len() != 0 {
		t.Fatal("learned from a bad call")
	}
}

// The kernel keeps the receiving ifindex only for IPv6 link-local sources;
// the address's zone never reaches the table.
func TestLearnIfindex(t *testing.T) {
	tb, _ := newTestTable(Config{Learning: true, Family: 6}, 1)
	tb.Learn(0, macM, 0, Remote{IP: ip("fe80::1%eth0"), Ifindex: 3})
	tb.Learn(0, macN, 0, Remote{IP: ip("2001:db8::1"), Ifindex: 3, Port: 5, VNI: 6, HasVNI: true})
	tb.Poll()
	e, _ := tb.Get(macM, 0)
	if e.Remotes[0] != (Remote{IP: ip("fe80::1"), Ifindex: 3}) {
		t.Fatalf("link-local %+v", e.Remotes[0])
	}
	e, _ = tb.Get(macN, 0)
	if e.Remotes[0] != dst("2001:db8::1") {
		t.Fatalf("global %+v", e.Remotes[0])
	}
	// Same address through another device: a move.
	tb.Learn(0, macM, 0, Remote{IP: ip("fe80::1"), Ifindex: 4})
	tb.Poll()
	if e, _ = tb.Get(macM, 0); e.Remotes[0].Ifindex != 4 {
		t.Fatalf("%+v", e.Remotes[0])
	}
}

// A burst from one new source posts one event; a full ring counts drops and
// the next frame posts again once there is room.
func TestLearnRing(t *testing.T) {
	cfg := classicCfg()
	cfg.RingSize = 4
	tb, _ := newTestTable(cfg, 1)
	for i := 0; i < 100; i++ {
		tb.Learn(0, macM, 0, dst("192.0.2.3"))
	}
	if f, to := tb.rings[0].pending(); to-f != 1 {
		t.Fatalf("%d events for one source", to-f)
	}
	for i := 0; i < 10; i++ {
		tb.Learn(0, [6]byte{2, 0, 0, 0, 0, byte(i)}, 0, dst("192.0.2.3"))
	}
	if st := tb.Stats(); st.EventDrops != 7 {
		t.Fatalf("drops %d", st.EventDrops)
	}
	tb.Poll()
	if tb.Len() != 4 {
		t.Fatalf("Len %d", tb.Len())
	}
	tb.Learn(0, [6]byte{2, 0, 0, 0, 0, 9}, 0, dst("192.0.2.3"))
	tb.Poll()
	if _, ok := tb.Get([6]byte{2, 0, 0, 0, 0, 9}, 0); !ok {
		t.Fatal("not learned after the ring drained")
	}
	// An A, B, A sequence is three events (only repeats of the last unread
	// one are folded).
	tb.Learn(0, macN, 0, dst("192.0.2.3"))
	tb.Learn(0, macN, 0, dst("192.0.2.4"))
	tb.Learn(0, macN, 0, dst("192.0.2.3"))
	if f, to := tb.rings[0].pending(); to-f != 3 {
		t.Fatalf("%d events", to-f)
	}
}

// maxaddress applies to learning: the entry is not created, the frame is
// not dropped, TableFull counts it.
func TestLearnMaxAddress(t *testing.T) {
	cfg := classicCfg()
	cfg.MaxAddress = 2
	tb, _ := newTestTable(cfg, 1)
	tb.Add(entry(zeroMAC, Permanent|Reachable, dst("192.0.2.2")), OpAdd)
	tb.Learn(0, macM, 0, dst("192.0.2.3"))
	if tb.Learn(0, macN, 0, dst("192.0.2.3")) {
		t.Fatal("frame dropped at maxaddress")
	}
	tb.Poll()
	st := tb.Stats()
	if st.Entries != 2 || st.Learned != 1 || st.TableFull != 1 {
		t.Fatalf("%+v", st)
	}
	// Migration is not creation: allowed when full.
	tb.Learn(0, macM, 0, dst("192.0.2.4"))
	tb.Poll()
	if st := tb.Stats(); st.Migrated != 1 {
		t.Fatalf("%+v", st)
	}
}

// External devices learn per VNI.
func TestLearnExternal(t *testing.T) {
	tb, _ := newTestTable(Config{External: true, Learning: true}, 1)
	tb.Learn(0, macM, 10, dst("192.0.2.3"))
	tb.Learn(0, macM, 20, dst("192.0.2.4"))
	tb.Poll()
	a, _ := tb.Lookup(macM, 10)
	b, _ := tb.Lookup(macM, 20)
	if len(a) != 1 || len(b) != 1 || a[0].IP != ip("192.0.2.3") || b[0].IP != ip("192.0.2.4") {
		t.Fatalf("%v %v", ips(a), ips(b))
	}
}

// Receiving refreshes Updated (at most once a second, from the coarse
// clock Poll publishes); transmitting refreshes Used the same way.
func TestCoarseTimestamps(t *testing.T) {
	tb, c := newTestTable(classicCfg(), 1)
	tb.Add(entry(macM, Reachable, dst("192.0.2.3")), OpAdd)
	t0 := c.now
	c.advance(5 * time.Second)
	tb.Learn(0, macM, 0, dst("192.0.2.3"))
	tb.Lookup(macM, 0)
	if e, _ := tb.Get(macM, 0); e.Updated != t0 || e.Used != t0 {
		t.Fatalf("workers saw the clock before Poll published it: %+v", e)
	}
	tb.Poll()
	t1 := c.now
	tb.Learn(0, macM, 0, dst("192.0.2.3"))
	tb.Lookup(macM, 0)
	if e, _ := tb.Get(macM, 0); e.Updated != t1 || e.Used != t1 {
		t.Fatalf("%+v, want %d", e, t1)
	}
	c.advance(900 * time.Millisecond)
	tb.Poll()
	tb.Learn(0, macM, 0, dst("192.0.2.3"))
	tb.Lookup(macM, 0)
	if e, _ := tb.Get(macM, 0); e.Updated != t1 || e.Used != t1 {
		t.Fatalf("refreshed within a second: %+v", e)
	}
	c.advance(100 * time.Millisecond)
	tb.Poll()
	tb.Learn(0, macM, 0, dst("192.0.2.3"))
	tb.Lookup(macM, 0)
	if e, _ := tb.Get(macM, 0); e.Updated != c.now || e.Used != c.now {
		t.Fatalf("not refreshed after a second: %+v", e)
	}
	// A static entry's Updated is refreshed too (the kernel does), even by a
	// frame that is dropped.
	tb.Add(entry(macN, Permanent, dst("192.0.2.3")), OpAdd)
	c.advance(2 * time.Second)
	tb.Poll()
	tb.Learn(0, macN, 0, dst("192.0.2.9"))
	if e, _ := tb.Get(macN, 0); e.Updated != c.now {
		t.Fatalf("%+v", e)
	}
}

// Repeats are folded only while the earlier event is unread: after the
// manager consumed it (and the user deleted the entry), the same source
// posts again.
func TestLearnAgainAfterConsumed(t *testing.T) {
	tb, _ := newTestTable(classicCfg(), 1)
	tb.Learn(0, macM, 0, dst("192.0.2.3"))
	tb.Poll()
	tb.Del(macM, 0, nil)
	tb.Learn(0, macM, 0, dst("192.0.2.3"))
	tb.Poll()
	if _, ok := tb.Get(macM, 0); !ok {
		t.Fatal("not learned again")
	}
}
