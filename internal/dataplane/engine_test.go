package dataplane

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"flowpath/internal/fib"
	"flowpath/internal/hdr"
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
	r.startWorkers(t)
	waitReceiving(t, r.e)

	old := r.e.Snapshot()
	tx := old.FIB.Begin()
	mustAdd(t, tx, fib.Route{Table: fib.TableMain, Prefix: netip.MustParsePrefix("10.9.0.0/24"),
		Nexthops: []fib.Nexthop{{Gateway: ipH2, Dev: devR2}}})
	start := time.Now()
	r.e.Publish(&Snapshot{Devices: freshDevices(old.Devices), FIB: tx.Commit()})
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

// freshDevices makes new devices with the configuration of devs, as the
// control plane does for every snapshot: Publish binds a snapshot's
// devices, and those of the running one must stay as they are.
func freshDevices(devs []*Device) []*Device {
	out := make([]*Device, len(devs))
	for i, d := range devs {
		if d != nil {
			out[i] = &Device{Index: d.Index, Name: d.Name, Kind: d.Kind, MAC: d.MAC, MTU: d.MTU,
				Up: d.Up, Port: d.Port, Addr4: d.Addr4, Addr6: d.Addr6}
		}
	}
	return out
}

// startWorkers runs real workers on both of the rig's ports, instead of
// the test driving r.w; they are stopped and the ports closed when the
// test ends.
func (r *rig) startWorkers(t *testing.T) {
	t.Helper()
	for _, d := range []struct {
		dev uint32
		p   *mem.Port
	}{{devR1, r.p1}, {devR2, r.p2}} {
		if err := r.e.StartPort(d.dev, d.p); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		_ = r.e.StopClosePort(devR1, r.p1)
		_ = r.e.StopClosePort(devR2, r.p2)
	})
}

// waitReceiving waits until every running worker waits in Receive.
func waitReceiving(t *testing.T, e *Engine) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !allReceiving(e) {
		if time.Now().After(deadline) {
			t.Fatal("workers never began to wait for frames")
		}
		time.Sleep(time.Millisecond)
	}
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
	r.startWorkers(t)
	waitReceiving(t, r.e)
	start := time.Now()
	if err := r.e.StopClosePort(devR1, r.p1); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("StopClosePort took %v: it waited for the receive timeout", d)
	}
	for _, w := range r.e.Workers() {
		if w.Dev == devR1 {
			t.Fatalf("r1's worker left: %+v", w)
		}
	}
}

// No packet is lost to an update: workers forward a steady flow while the
// control plane publishes a new snapshot as fast as it can (routes for the
// flow's destination replaced by others that still cover it, unrelated
// routes coming and going). Every frame arrives, once, and nothing is
// counted as a drop.
func TestNoPacketLostToUpdates(t *testing.T) {
	r := newRig(t, rigOpts{})
	r.startWorkers(t)

	base := r.e.Snapshot()
	via := []fib.Nexthop{{Gateway: ipH2, Dev: devR2}}
	stop := make(chan struct{})
	published := make(chan int)
	// publish makes the n-th state; each routes 10.9.0.7 to h2.
	publish := func(n int) {
		tx := base.FIB.Begin()
		switch n % 3 {
		case 0:
			mustAdd(t, tx, fib.Route{Table: fib.TableMain, Prefix: netip.MustParsePrefix("10.9.0.0/24"), Nexthops: via})
		case 1:
			mustAdd(t, tx, fib.Route{Table: fib.TableMain, Prefix: netip.MustParsePrefix("10.9.0.0/16"), Nexthops: via})
			mustAdd(t, tx, fib.Route{Table: fib.TableMain, Prefix: netip.MustParsePrefix("10.9.0.0/24"), Metric: 10, Nexthops: via})
		case 2:
			mustAdd(t, tx, fib.Route{Table: fib.TableMain, Prefix: netip.MustParsePrefix("10.0.0.0/8"), Nexthops: via})
		}
		for k := 0; k < n%7; k++ {
			mustAdd(t, tx, fib.Route{Table: fib.TableMain,
				Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 50, byte(n), byte(k)}), 32), Nexthops: via})
		}
		r.e.Publish(&Snapshot{Devices: freshDevices(base.Devices), FIB: tx.Commit()})
	}
	publish(0)
	go func() {
		n := 1
		defer func() { published <- n }()
		for ; ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			publish(n)
		}
	}()

	const batch = 32
	const total = 200 * batch
	pool := pkt.NewPool("inject", batch)
	seen := make([]bool, total)
	got := 0
	var out [batch]*pkt.Packet
	for sent := 0; sent < total; sent += batch {
		for i := range out {
			p := pool.Get()
			p.SetBytes(udp4Frame(ipH1, netip.MustParseAddr("10.9.0.7"), 64, false, uint16(1024+sent+i), 9, 16))
			out[i] = p
		}
		if n := r.peer1.TxQueue(0).Transmit(out[:]); n != batch {
			t.Fatalf("peer1 sent %d of %d", n, batch)
		}
		for i := range out {
			out[i].Free()
		}
		deadline := time.Now().Add(5 * time.Second)
		for got < sent+batch && time.Now().Before(deadline) {
			for _, f := range r.take(1) {
				u := f[hdr.EthernetLen+hdr.IPv4MinLen:]
				seq := int(binary.BigEndian.Uint16(u)) - 1024
				if seq < 0 || seq >= total || seen[seq] {
					t.Fatalf("frame %d unexpected or twice", seq)
				}
				seen[seq] = true
				got++
			}
		}
		if got < sent+batch {
			break
		}
	}
	close(stop)
	n := <-published
	if got != total {
		t.Fatalf("%d of %d frames arrived while %d snapshots were published; drops %v", got, total, n, r.e.Drops())
	}
	if d := r.e.Drops(); len(d) != 0 {
		t.Fatalf("drops %v", d)
	}
	if n < 100 {
		t.Fatalf("only %d snapshots published while forwarding: not much of a test", n)
	}
	t.Logf("%d frames forwarded while %d snapshots were published", got, n)
}
