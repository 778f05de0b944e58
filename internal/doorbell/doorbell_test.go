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

// TestRingDuringLastLook is the race made deterministic: a producer posts
// and rings while the consumer takes its last look (ready), too late for
// that look to see the work. The consumer must have marked itself asleep
// before looking, so the Ring writes and the wait returns at once.
func TestRingDuringLastLook(t *testing.T) {
	d := newBell(t)
	start := time.Now()
	woken := d.Sleep(5*time.Second, func() bool {
		if !d.asleep.Load() {
			t.Error("last look before the consumer marked itself asleep")
		}
		d.Ring() // the post this look does not see
		return false
	})
	if el := time.Since(start); !woken || el > 2*time.Second {
		t.Fatalf("woken %v after %v: the Ring during the last look was lost", woken, el)
	}
}

// TestNoLostWakeup: a producer posts (a counter) and rings 20,000 times,
// pausing now and then (busy, or asleep for up to 100 µs), so that the
// consumer goes to sleep often and the post/mark race is run many times;
// the consumer sleeps up to 10 s whenever it has seen everything. A lost
// wake-up would leave it asleep with work posted, and the test would take
// 10 s more.
func TestNoLostWakeup(t *testing.T) {
	d := newBell(t)
	var posted atomic.Int64
	const n = 20000
	go func() {
		for i := range n {
			posted.Add(1)
			d.Ring()
			switch {
			case i%50 == 0:
				time.Sleep(time.Duration(i%100) * time.Microsecond)
			case i%3 == 0:
				for range i % 97 * 10 { // a busy pause of up to ~1000 loads
					_ = posted.Load()
				}
			}
		}
	}()
	start := time.Now()
	var seen int64
	slept := 0
	for seen < n {
		if p := posted.Load(); p > seen {
			seen = p
			continue
		}
		if d.Sleep(10*time.Second, func() bool { return posted.Load() > seen }) {
			slept++
		}
	}
	el := time.Since(start)
	t.Logf("%d posts, the consumer woken %d times, %v", n, slept, el)
	if el > 8*time.Second {
		t.Fatalf("took %v: a wake-up was lost", el)
	}
	if slept < 100 {
		t.Fatalf("the consumer went to sleep only %d times: the race was not exercised", slept)
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
	var none *Doorbell // no consumer: a producer rings what it loaded
	if a := testing.AllocsPerRun(1000, none.Ring); a != 0 {
		t.Fatalf("Ring on a nil bell: %v allocations", a)
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
