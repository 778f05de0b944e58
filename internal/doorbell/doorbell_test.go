package doorbell

import (
	"sync/atomic"
	"testing"
	"time"
)

func newBell(t *testing.T) *Doorbell {
	t.Helper()
	d, err := New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func never() bool { return false }

func TestSleepTimesOut(t *testing.T) {
	d := newBell(t)
	start := time.Now()
	if d.Sleep(20*time.Millisecond, never) {
		t.Fatal("woken without a Ring")
	}
	if el := time.Since(start); el < 15*time.Millisecond || el > time.Second {
		t.Fatalf("slept %v, want about 20ms", el)
	}
}

func TestReadyShortCuts(t *testing.T) {
	d := newBell(t)
	start := time.Now()
	if !d.Sleep(time.Second, func() bool { return true }) || time.Since(start) > 100*time.Millisecond {
		t.Fatal("waited although ready reported work")
	}
	if d.asleep.Load() {
		t.Fatal("still marked asleep")
	}
}

func TestRingWakes(t *testing.T) {
	d := newBell(t)
	d.Ring() // awake: nothing happens, and no wake-up is left behind
	go func() {
		for !d.asleep.Load() {
			time.Sleep(time.Millisecond)
		}
		d.Ring()
	}()
	start := time.Now()
	if !d.Sleep(5*time.Second, never) {
		t.Fatal("not woken by the Ring")
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("woken after %v", el)
	}
	// The Ring was consumed: the next Sleep times out.
	if d.Sleep(10*time.Millisecond, never) {
		t.Fatal("a second wake-up from one Ring")
	}
}

// TestNoLostWakeup: a producer posts (a counter) and rings, 20,000 times
// with pauses of every length around the consumer's mark; the consumer
// sleeps up to 10 s whenever it has seen everything. A lost wake-up would
// leave it asleep with work posted, and the test would take 10 s more.
func TestNoLostWakeup(t *testing.T) {
	d := newBell(t)
	var posted atomic.Int64
	const n = 20000
	go func() {
		for i := range n {
			posted.Add(1)
			d.Ring()
			for range i % 97 * 10 { // busy pauses of 0 to ~1000 iterations
				_ = posted.Load()
			}
		}
	}()
	start := time.Now()
	var seen int64
	for seen < n {
		if p := posted.Load(); p > seen {
			seen = p
			continue
		}
		d.Sleep(10*time.Second, func() bool { return posted.Load() > seen })
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("took %v: a wake-up was lost", el)
	}
}

func TestRingNoAllocs(t *testing.T) {
	d := newBell(t)
	if a := testing.AllocsPerRun(1000, d.Ring); a != 0 {
		t.Fatalf("Ring while awake: %v allocations", a)
	}
	if a := testing.AllocsPerRun(1000, func() { d.asleep.Store(true); d.Ring() }); a != 0 {
		t.Fatalf("Ring while asleep: %v allocations", a)
	}
}

func TestRingAfterClose(t *testing.T) {
	d, err := New()
	if err != nil {
		t.Fatal(err)
	}
	d.asleep.Store(true)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d.Ring() // must neither write to the closed descriptor nor panic
	d.asleep.Store(true)
	d.Ring()
	if err := d.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
}
