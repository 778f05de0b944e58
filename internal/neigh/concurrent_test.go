package neigh

import (
	"context"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"flowpath/internal/doorbell"
	"flowpath/internal/pkt"
)

// Workers, the manager and the control plane all at once (run it with
// -race). The invariant that shows torn reads: every address is only ever
// given the MAC macFor(addr), so any usable Lookup result must carry it.
func TestConcurrentWorkersManagerControl(t *testing.T) {
	const workers = 4
	cfg := DefaultConfig()
	cfg.Retrans = 20 * time.Millisecond // fail fast, so all paths run in a short test
	cfg.DelayFirstProbe = 20 * time.Millisecond
	cfg.BaseReachable = 100 * time.Millisecond
	cfg.GCStale = 200 * time.Millisecond
	cfg.GCThresh1, cfg.GCThresh2, cfg.GCThresh3 = 8, 24, 40
	var solicits atomic.Int64
	tb := NewTable(cfg, workers, func(dev uint32, a netip.Addr, u *[6]byte) {
		solicits.Add(1)
		if u != nil && *u != macFor(a) {
			t.Errorf("unicast probe of %s to %x", a, *u)
		}
	})
	var addrs []netip.Addr
	for i := 0; i < 48; i++ {
		addrs = append(addrs, addrN(i%3 == 0, i))
	}
	ctx, cancel := context.WithCancel(context.Background())
	var mgr sync.WaitGroup
	mgr.Add(1)
	go func() { defer mgr.Done(); tb.Run(ctx) }()

	deadline := time.Now().Add(400 * time.Millisecond)
	if testing.Short() {
		deadline = time.Now().Add(150 * time.Millisecond)
	}
	var wg sync.WaitGroup
	var readyTotal, failedTotal, bad atomic.Int64
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			pool := pkt.NewPool("w", 128)
			q := NewPending(64, 4)
			q.MaxWait = int64(200 * time.Millisecond)
			ready := func(p *pkt.Packet, mac [6]byte) {
				if mac != macFor(p.NextHop) {
					bad.Add(1)
				}
				readyTotal.Add(1)
				p.Free()
			}
			failed := func(p *pkt.Packet) { failedTotal.Add(1); p.Free() }
			g := &pcg{s: uint64(w + 1)}
			for time.Now().Before(deadline) {
				for j := 0; j < 32; j++ {
					r := g.next()
					ai := int(r % uint64(len(addrs)))
					a := addrs[ai]
					dev := uint32(1 + (r>>8)%2)
					mac, st, ok := tb.Lookup(dev, a)
					switch {
					case ok && st.Valid():
						if mac != macFor(a) {
							bad.Add(1)
						}
						if st == Stale {
							tb.UsedStale(w, dev, a)
						}
					default:
						if p := pool.Get(); p != nil {
							p.OutPort, p.NextHop = dev, a
							if ev := q.Push(dev, a, p); ev != nil {
								ev.Free()
							}
						}
						tb.Miss(w, dev, a)
					}
					// Half of the addresses answer, now and then.
					if ai%2 == 0 && (r>>16)%16 == 0 {
						tb.Confirm(w, dev, a, macFor(a), ConfirmFlags(r>>24)&(Solicited|IsRequest|Override))
					}
				}
				q.Resolve(tb, tb.Now(), ready, failed)
				// Real workers block in their ports' receive calls; pure
				// spinning on every core would starve the manager goroutine
				// (Go preempts only every ~10 ms).
				time.Sleep(20 * time.Microsecond)
			}
			q.Drain(func(p *pkt.Packet) { p.Free() })
			if pool.Available() != pool.Size() {
				t.Errorf("worker %d: pool %d/%d", w, pool.Available(), pool.Size())
			}
		}(w)
	}
	// The control plane.
	wg.Add(1)
	go func() {
		defer wg.Done()
		g := &pcg{s: 77}
		for time.Now().Before(deadline) {
			r := g.next()
			a := addrs[r%uint64(len(addrs))]
			dev := uint32(1 + (r>>8)%2)
			switch (r >> 12) % 8 {
			case 0:
				tb.Add(Entry{Dev: dev, Addr: a, MAC: macFor(a), State: []State{Permanent, Reachable, Stale, NoARP}[(r>>16)%4]}, CmdReplace)
			case 1:
				tb.Del(dev, a)
			case 2:
				tb.Flush(func(e Entry) bool { return e.State == Failed })
			case 3:
				tb.Dump(func(e Entry) bool {
					if e.State.Valid() && e.MAC != macFor(e.Addr) {
						bad.Add(1)
					}
					return true
				})
			case 4:
				tb.Stats()
			case 5:
				if r%16 == 0 {
					tb.CarrierDown(dev)
				}
			default:
				tb.Get(dev, a)
			}
			time.Sleep(200 * time.Microsecond)
		}
	}()
	wg.Wait()
	cancel()
	mgr.Wait()
	if bad.Load() != 0 {
		t.Fatalf("%d lookups/results with a MAC that was never given to that address", bad.Load())
	}
	st := tb.Stats()
	t.Logf("ready %d failed %d solicits %d stats %+v", readyTotal.Load(), failedTotal.Load(), solicits.Load(), st)
	if readyTotal.Load() == 0 || failedTotal.Load() == 0 || solicits.Load() == 0 || st.ResFailed == 0 || st.UcastProbes == 0 {
		t.Fatal("nothing was resolved: the test did not exercise the table")
	}
	var n int
	byState := map[State]int{}
	tb.Dump(func(e Entry) bool { n++; byState[e.State]++; return true })
	t.Logf("states %v", byState)
	if n != st.Entries {
		t.Fatalf("dump %d entries, stats %d", n, st.Entries)
	}
}

// Resolution latency with the real manager loop: from a worker's Miss to
// INCOMPLETE (solicitation sent), and from a Confirm to a usable entry.
func TestResolutionLatency(t *testing.T) {
	sent := make(chan time.Time, 1024)
	tb := NewTable(DefaultConfig(), 1, func(uint32, netip.Addr, *[6]byte) {
		select {
		case sent <- time.Now():
		default:
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go tb.Run(ctx)
	var toProbe, toUsable []time.Duration
	for i := 0; i < 100; i++ {
		a := addrN(i%2 == 0, i)
		t0 := time.Now()
		tb.Miss(0, 1, a)
		select {
		case at := <-sent:
			toProbe = append(toProbe, at.Sub(t0))
		case <-time.After(5 * time.Second):
			t.Fatal("no solicitation within 5 s")
		}
		t1 := time.Now()
		tb.Confirm(0, 1, a, macFor(a), Solicited)
		for {
			if _, st, _ := tb.Lookup(1, a); st == Reachable {
				break
			}
			if time.Since(t1) > 5*time.Second {
				t.Fatal("not reachable within 5 s")
			}
			time.Sleep(20 * time.Microsecond)
		}
		toUsable = append(toUsable, time.Since(t1))
	}
	slices.Sort(toProbe)
	slices.Sort(toUsable)
	p := func(d []time.Duration, q float64) time.Duration { return d[int(float64(len(d)-1)*q)] }
	t.Logf("miss→solicit p50 %v p99 %v; confirm→usable p50 %v p99 %v",
		p(toProbe, .5), p(toProbe, .99), p(toUsable, .5), p(toUsable, .99))
	// The design target is ~1 ms; allow for a loaded 2-core machine and -race.
	if p(toProbe, .5) > 20*time.Millisecond || p(toUsable, .5) > 20*time.Millisecond {
		t.Fatalf("median latency too high")
	}
}

// TestIdleManager: with nothing happening, the manager polls every
// doorbell.IdlePoll, not every PollInterval; a worker's Miss after such a pause is
// still answered at once (the doorbell wakes the manager), not at the next
// idle poll.
func TestIdleManager(t *testing.T) {
	sent := make(chan time.Time, 16)
	tb := NewTable(DefaultConfig(), 1, func(uint32, netip.Addr, *[6]byte) {
		select {
		case sent <- time.Now():
		default:
		}
	})
	var polls atomic.Int64
	tb.SetAfterPoll(func() { polls.Add(1) })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); tb.Run(ctx) }()
	defer func() { cancel(); <-done }()

	time.Sleep(doorbell.IdleAfter + 50*time.Millisecond)
	before := polls.Load()
	time.Sleep(300 * time.Millisecond)
	idle := polls.Load() - before
	t.Logf("%d polls in 300 ms idle (every %v: %d; every %v: %d)", idle, doorbell.IdlePoll, 300*time.Millisecond/doorbell.IdlePoll,
		DefaultConfig().PollInterval, 300*time.Millisecond/DefaultConfig().PollInterval)
	if idle > 2*int64(300*time.Millisecond/doorbell.IdlePoll) {
		t.Errorf("%d polls in 300 ms of idleness", idle)
	}

	var lat []time.Duration
	for i := range 15 {
		time.Sleep(doorbell.IdleAfter + 20*time.Millisecond) // asleep again
		t0 := time.Now()
		tb.Miss(0, 1, addrN(false, i))
		select {
		case at := <-sent:
			lat = append(lat, at.Sub(t0))
		case <-time.After(5 * time.Second):
			t.Fatal("no solicitation within 5 s")
		}
	}
	slices.Sort(lat)
	t.Logf("miss→solicit from idle: p50 %v, max %v", lat[len(lat)/2], lat[len(lat)-1])
	if lat[len(lat)/2] > doorbell.IdlePoll/3 {
		t.Errorf("median miss→solicit from idle %v: the manager waited for its idle poll", lat[len(lat)/2])
	}
}
