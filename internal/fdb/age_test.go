package fdb

import (
	"testing"
	"time"
)

// pollEvery advances the clock to end in steps, polling at each.
func pollEvery(tb *Table, c *clock, step, total time.Duration, each func()) {
	for end := c.now + int64(total); c.now < end; {
		c.advance(step)
		if each != nil {
			each()
		}
		tb.Poll()
	}
}

func TestAgeingLearned(t *testing.T) {
	cfg := classicCfg()
	var aged []Change
	cfg.Notify = func(c Change) {
		if c.Kind == ChangeAged {
			aged = append(aged, c)
		}
	}
	tb, c := newTestTable(cfg, 1) // Ageing 0: the 300 s default
	tb.Add(entry(zeroMAC, Permanent|Reachable, dst("192.0.2.2")), OpAdd)
	tb.Add(entry(macN, Permanent, dst("192.0.2.4")), OpAdd)
	tb.Learn(0, macM, 0, dst("192.0.2.3"))
	tb.Poll()
	t0 := c.now
	pollEvery(tb, c, time.Second, 299*time.Second, nil)
	if _, ok := tb.Get(macM, 0); !ok {
		t.Fatalf("aged at %v", time.Duration(c.now-t0))
	}
	c.advance(time.Second)
	tb.Poll()
	if _, ok := tb.Get(macM, 0); ok {
		t.Fatal("not aged at 300 s")
	}
	if len(aged) != 1 || aged[0].Entry.MAC != macM || !aged[0].Entry.Learned {
		t.Fatalf("notifications %+v", aged)
	}
	// Static entries stay.
	pollEvery(tb, c, 10*time.Second, 1000*time.Second, nil)
	if tb.Len() != 2 {
		t.Fatalf("Len %d", tb.Len())
	}
	if st := tb.Stats(); st.Aged != 1 {
		t.Fatalf("%+v", st)
	}
}

// The current kernel ages on `updated`: frames received from the MAC keep
// the entry, frames sent to it do not.
func TestAgeingRxKeepsTxDoesNot(t *testing.T) {
	cfg := classicCfg()
	cfg.Ageing = 30 * time.Second
	tb, c := newTestTable(cfg, 1)
	tb.Add(entry(macM, Reachable, dst("192.0.2.3")), OpAdd) // user-added dynamic
	tb.Learn(0, macN, 0, dst("192.0.2.4"))
	tb.Poll()
	pollEvery(tb, c, 5*time.Second, 200*time.Second, func() {
		tb.Lookup(macM, 0)
		tb.Learn(0, macN, 0, dst("192.0.2.4"))
	})
	if _, ok := tb.Get(macM, 0); ok {
		t.Fatal("transmit kept a dynamic entry alive")
	}
	e, ok := tb.Get(macN, 0)
	if !ok || c.now-e.Updated > int64(6*time.Second) {
		t.Fatalf("receive did not keep the entry alive: %+v %v", e, ok)
	}
}

// The collector re-arms for the earliest expiry (not a flat 10 s), but at
// most once a second.
func TestAgeingTimerPrecision(t *testing.T) {
	cfg := classicCfg()
	cfg.Ageing = 20 * time.Second
	tb, c := newTestTable(cfg, 1)
	tb.Poll()
	tb.Add(entry(macM, Reachable, dst("192.0.2.3")), OpAdd) // expires at +20.0
	c.advance(500 * time.Millisecond)
	tb.Add(entry(macN, Reachable, dst("192.0.2.3")), OpAdd) // expires at +20.5
	c.advance(11500 * time.Millisecond)                     // +12.0
	tb.Poll()                                               // collector runs (10 s passed), next at +20.0
	if tb.Len() != 2 {
		t.Fatal("aged early")
	}
	c.advance(8 * time.Second) // +20.0
	tb.Poll()
	if _, ok := tb.Get(macM, 0); ok {
		t.Fatal("first entry not aged at its expiry")
	}
	c.advance(600 * time.Millisecond) // +20.6: second expired, but the collector waits a second
	tb.Poll()
	if _, ok := tb.Get(macN, 0); !ok {
		t.Fatal("collector ran twice within a second")
	}
	c.advance(400 * time.Millisecond) // +21.0
	tb.Poll()
	if _, ok := tb.Get(macN, 0); ok {
		t.Fatal("second entry not aged")
	}
}

func TestSetAgeingZeroAndFlush(t *testing.T) {
	tb, c := newTestTable(classicCfg(), 1)
	tb.Add(entry(zeroMAC, Permanent, dst("192.0.2.2")), OpAdd)
	tb.Add(entry(macM, NoARP|Reachable, dst("192.0.2.3")), OpAdd)
	tb.Add(entry(macN, Reachable, dst("192.0.2.3")), OpAdd)
	tb.SetAgeing(0)
	c.advance(10 * time.Second)
	tb.Poll()
	if tb.Len() != 2 {
		t.Fatalf("ageing 0: Len %d", tb.Len())
	}
	tb.SetAgeing(-time.Second) // clamps to 0
	tb.SetAgeing(time.Hour)
	for i := 0; i < 50; i++ {
		tb.Learn(0, [6]byte{2, 1, 0, 0, 0, byte(i)}, 0, dst("192.0.2.9"))
	}
	tb.Poll()
	if n := tb.FlushDynamic(); n != 50 {
		t.Fatalf("flushed %d", n)
	}
	if tb.Len() != 2 {
		t.Fatalf("Len %d after flush", tb.Len())
	}
}
