package fdb

import (
	"context"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"flowpath/internal/doorbell"
)

// concMAC is MAC number i (0 = the all-zero MAC); concIP(i, k, who) is an
// address that belongs to MAC i. Every writer only ever gives MAC i
// addresses of its own, so a Lookup result with someone else's address (or
// an empty or writable result) is a torn or stale-pointer read.
func concMAC(i int) [6]byte {
	if i == 0 {
		return [6]byte{}
	}
	return [6]byte{2, 0, 0, 0, byte(i >> 8), byte(i)}
}

func concIP(i, k, who int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), byte(k<<2 | who)})
}

func concOwner(mac [6]byte, rs []Remote) bool {
	if len(rs) == 0 || cap(rs) != len(rs) {
		return false
	}
	for _, r := range rs {
		a := r.IP.As4()
		if !r.IP.Is4() || a[0] != 10 || a[1] != mac[4] || a[2] != mac[5] {
			return false
		}
	}
	return true
}

// Workers look up and learn, the control plane adds, deletes, dumps and
// flushes, and the manager runs, all at once (run it with -race). Enough
// MACs that the slot array grows, and enough deletes that it compacts.
func TestConcurrentWorkersManagerControl(t *testing.T) {
	const workers, macs = 3, 3000
	var notified atomic.Int64
	tb := New(Config{
		Learning: true, Family: 4, VNI: 10, Port: 4789,
		Ageing: 50 * time.Millisecond, RingSize: 64, PollInterval: 200 * time.Microsecond,
		Notify: func(Change) { notified.Add(1) },
	}, workers)
	tb.gcEvery = int64(20 * time.Millisecond) // the kernel's 10 s would not run within the test
	tb.nextGC = tb.Now() + tb.gcEvery
	ctx, cancel := context.WithCancel(context.Background())
	var mgr sync.WaitGroup
	mgr.Add(1)
	go func() { defer mgr.Done(); tb.Run(ctx) }()

	run := 400 * time.Millisecond
	if testing.Short() {
		run = 150 * time.Millisecond
	}
	deadline := time.Now().Add(run)
	var wg sync.WaitGroup
	var bad, lookups, hits, drops atomic.Int64
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			g := &pcg{s: uint64(w + 1)}
			for time.Now().Before(deadline) {
				for j := 0; j < 64; j++ {
					i := g.n(macs)
					m := concMAC(i)
					lookups.Add(1)
					if rs, ok := tb.Lookup(m, 0); ok {
						hits.Add(1)
						if !concOwner(m, rs) {
							bad.Add(1)
						}
					}
					if i != 0 && tb.Learn(w, m, 0, Remote{IP: concIP(i, g.n(4), 1)}) {
						drops.Add(1)
					}
				}
			}
		}(w)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		g := &pcg{s: 99}
		states := []State{Permanent, Reachable, NoARP | Reachable, Permanent | Reachable}
		for n := 0; time.Now().Before(deadline); n++ {
			i := g.n(macs)
			m := concMAC(i)
			r := Remote{IP: concIP(i, g.n(4), 2)}
			switch x := g.n(20); {
			case x < 8:
				tb.Add(Entry{MAC: m, State: states[g.n(len(states))], Remotes: []Remote{r}}, Op(1+g.n(3)))
			case x < 10:
				tb.Add(Entry{MAC: concMAC(0), State: Permanent, Remotes: []Remote{{IP: concIP(0, g.n(8), 3)}}}, OpAppend)
			case x < 15:
				if g.n(2) == 0 {
					tb.Del(m, 0, nil)
				} else {
					tb.Del(m, 0, &r)
				}
			case x < 16:
				prev := [6]byte{}
				first := true
				tb.Dump(func(e Entry) bool {
					if !concOwner(e.MAC, e.Remotes) || (!first && macWord(e.MAC) <= macWord(prev)) {
						bad.Add(1)
					}
					prev, first = e.MAC, false
					return true
				})
			case x < 17:
				if n%500 == 0 {
					tb.FlushDynamic()
				}
			case x < 18:
				tb.SetAgeing(time.Duration(20+g.n(80)) * time.Millisecond)
			case x < 19:
				tb.SetLearning(g.n(8) > 0)
			default:
				if e, ok := tb.Get(m, 0); ok && !concOwner(m, e.Remotes) {
					bad.Add(1)
				}
				_ = tb.Stats()
			}
		}
		tb.SetLearning(true)
	}()
	wg.Wait()
	cancel()
	mgr.Wait()
	tb.Poll()

	if bad.Load() != 0 {
		t.Fatalf("%d inconsistent reads", bad.Load())
	}
	// Quiescent: every dumped entry is what Lookup returns, and Len agrees.
	n := 0
	tb.Dump(func(e Entry) bool {
		n++
		rs, ok := tb.Lookup(e.MAC, 0)
		if !ok || len(rs) != len(e.Remotes) {
			t.Fatalf("%v: dump %v, lookup %v %v", e.MAC, e.Remotes, rs, ok)
		}
		for k := range rs {
			if rs[k] != e.Remotes[k] {
				t.Fatalf("%v: dump %v, lookup %v", e.MAC, e.Remotes, rs)
			}
		}
		return true
	})
	st := tb.Stats()
	if n != tb.Len() || st.Entries != n {
		t.Fatalf("dump %d, Len %d, stats %+v", n, tb.Len(), st)
	}
	if st.Learned == 0 || st.Aged == 0 || st.Migrated == 0 || hits.Load() == 0 || notified.Load() == 0 {
		t.Fatalf("nothing happened: %+v hits %d notified %d", st, hits.Load(), notified.Load())
	}
	t.Logf("lookups %d hits %d drops %d notified %d stats %+v slots %d",
		lookups.Load(), hits.Load(), drops.Load(), notified.Load(), st, len(tb.fast.Load().s))
}

// TestIdleManager: an idle manager sleeps between polls every doorbell.IdlePoll;
// a worker's Learn after such a pause is applied at once (the doorbell
// wakes the manager), not at the next idle poll.
func TestIdleManager(t *testing.T) {
	learned := make(chan time.Time, 16)
	tb := New(Config{Learning: true, Family: 4, VNI: 10, Port: 4789,
		Notify: func(Change) {
			select {
			case learned <- time.Now():
			default:
			}
		}}, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); tb.Run(ctx) }()
	defer func() { cancel(); <-done }()
	var lat []time.Duration
	for i := range 15 {
		time.Sleep(doorbell.IdleAfter + 20*time.Millisecond) // asleep
		t0 := time.Now()
		tb.Learn(0, concMAC(i+1), 0, Remote{IP: netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)})})
		select {
		case at := <-learned:
			lat = append(lat, at.Sub(t0))
		case <-time.After(5 * time.Second):
			t.Fatal("not learned within 5 s")
		}
	}
	slices.Sort(lat)
	t.Logf("learn→applied from idle: p50 %v, max %v", lat[len(lat)/2], lat[len(lat)-1])
	if lat[len(lat)/2] > doorbell.IdlePoll/3 {
		t.Errorf("median learn→applied from idle %v: the manager waited for its idle poll", lat[len(lat)/2])
	}
}
