package dataplane

import (
	"net/netip"
	"testing"
	"time"

	"flowpath/internal/fib"
	"flowpath/internal/pkt"
	"flowpath/internal/port/mem"
)

// A configuration change does not wait for idle workers: Publish returns
// once every worker has loaded the new snapshot or is waiting for frames,
// and the frame that wakes a waiting worker is forwarded by the new one.
// Before, each change waited out the idle workers' receive timeout (50 ms
// a command by default; 5 s here, so a regression fails plainly).
func TestPublishDoesNotWaitForIdleWorkers(t *testing.T) {
	r := newRig(t, rigOpts{cfg: func(c *Config) { c.RxTimeout = 5 * time.Second }})
	for _, d := range []struct {
		dev uint32
		p   *mem.Port
	}{{devR1, r.p1}, {devR2, r.p2}} {
		if err := r.e.StartPort(d.dev, d.p); err != nil {
			t.Fatal(err)
		}
	}
	defer func() {
		r.p1.Close() // ends the workers' waits at once
		r.p2.Close()
		r.e.StopPort(devR1)
		r.e.StopPort(devR2)
	}()
	// Let both workers begin to wait.
	deadline := time.Now().Add(5 * time.Second)
	for !allReceiving(r.e) {
		if time.Now().After(deadline) {
			t.Fatal("workers never began to wait for frames")
		}
		time.Sleep(time.Millisecond)
	}

	old := r.e.Snapshot()
	tx := old.FIB.Begin()
	mustAdd(t, tx, fib.Route{Table: fib.TableMain, Prefix: netip.MustParsePrefix("10.9.0.0/24"),
		Nexthops: []fib.Nexthop{{Gateway: ipH2, Dev: devR2}}})
	start := time.Now()
	r.e.Publish(&Snapshot{Devices: old.Devices, FIB: tx.Commit()})
	pub := time.Since(start)
	if d := pub; d > time.Second {
		t.Fatalf("Publish took %v with both workers idle: it waited for their receive timeout", d)
	}

	// A frame to the new route's prefix: the worker that wakes for it must
	// route it with the new snapshot (the old one has no route: unreachable).
	p := pkt.NewPool("inject", 1).Get()
	if !p.SetBytes(udp4Frame(ipH1, netip.MustParseAddr("10.9.0.7"), 64, false, 1000, 2000, 32)) {
		t.Fatal("frame does not fit a packet")
	}
	if r.peer1.TxQueue(0).Transmit([]*pkt.Packet{p}) != 1 {
		t.Fatal("peer1 did not send")
	}
	for time.Now().Before(start.Add(5 * time.Second)) {
		if got := r.take(1); len(got) > 0 {
			if len(got) != 1 {
				t.Fatalf("h2 got %d frames, want 1", len(got))
			}
			t.Logf("publish %v, forwarded after %v", pub, time.Since(start))
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("the frame to 10.9.0.7 never reached h2; drops %v", r.e.Drops())
}

func allReceiving(e *Engine) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, w := range e.workers {
		if w != nil {
			if !w.receiving.Load() {
				return false
			}
			n++
		}
	}
	return n > 0
}

// StopClosePort wakes a worker waiting for frames by closing its port, so
// "link del" does not wait for the receive timeout.
func TestStopClosePortDoesNotWaitForTimeout(t *testing.T) {
	r := newRig(t, rigOpts{cfg: func(c *Config) { c.RxTimeout = 5 * time.Second }})
	if err := r.e.StartPort(devR1, r.p1); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !allReceiving(r.e) {
		if time.Now().After(deadline) {
			t.Fatal("the worker never began to wait for frames")
		}
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	if err := r.e.StopClosePort(devR1, r.p1); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("StopClosePort took %v: it waited for the receive timeout", d)
	}
	if len(r.e.Workers()) != 0 {
		t.Fatalf("workers left: %+v", r.e.Workers())
	}
}
