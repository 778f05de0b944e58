package dataplane

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"flowpath/internal/errs"
	"flowpath/internal/fib"
	"flowpath/internal/neigh"
	"flowpath/internal/pkt"
	"flowpath/internal/port"
	"flowpath/internal/reasm"
)

// Config tunes the engine.
type Config struct {
	// PoolSize is the number of packets each worker owns.
	PoolSize int
	// RxTimeout is how long a worker waits for frames before running its
	// housekeeping (pending neighbour queue, snapshot pick-up).
	RxTimeout time.Duration
	// ICMPRate and ICMPBurst bound the ICMP errors each worker sends
	// (token bucket, like the kernel's icmp_msgs_per_sec/icmp_msgs_burst).
	ICMPRate, ICMPBurst int
	// PendingCap bounds the packets one worker holds waiting for
	// neighbour resolution; PendingPerNeigh bounds them per neighbour.
	PendingCap, PendingPerNeigh int
	// Neigh configures the neighbour table.
	Neigh neigh.Config
	// TxCoalesce merges consecutive TCP segments of one flow in a
	// transmit batch into a GSO super-frame for ports that take them
	// (gso.Coalesce): the kernel's GRO, done before the port.
	TxCoalesce bool
	// ReasmTimeout and ReasmTimeout6 bound how long a worker keeps the
	// fragments of an incomplete IPv4 / IPv6 datagram to us
	// (net.ipv4.ipfrag_time, net.ipv6.ip6frag_time).
	ReasmTimeout, ReasmTimeout6 time.Duration
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		PoolSize:        4096,
		RxTimeout:       50 * time.Millisecond,
		ICMPRate:        1000,
		ICMPBurst:       50,
		PendingCap:      1024,
		PendingPerNeigh: 101,
		Neigh:           neigh.DefaultConfig(),
		TxCoalesce:      true,
		ReasmTimeout:    reasm.DefaultTimeout,
		ReasmTimeout6:   reasm.DefaultTimeout6,
	}
}

// Engine runs the workers against the current Snapshot.
type Engine struct {
	cfg   Config
	snap  atomic.Pointer[Snapshot]
	neigh *neigh.Table

	mu      sync.Mutex // control side only: the worker set
	workers [MaxWorkers]*worker
	byDev   map[uint32][]*worker
	// retired keeps the counters of stopped workers so totals survive a
	// port going away.
	retired []*workerCounters

	ctrl *controlTx
	// hints carry TX metadata from waiting packets to the manager's
	// solicitations through flow-based tunnels (tunhint.go).
	hints *tunnelHints
}

// New makes an engine with an empty configuration. Call Run to start the
// neighbour manager.
func New(cfg Config) *Engine {
	e := &Engine{cfg: cfg, byDev: map[uint32][]*worker{}}
	e.hints = newTunnelHints()
	e.ctrl = newControlTx(e)
	e.neigh = neigh.NewTable(cfg.Neigh, MaxWorkers+1, e.ctrl.solicit) // + the control worker
	e.neigh.SetAfterPoll(e.ctrl.flushPending)
	e.snap.Store(&Snapshot{Devices: make([]*Device, 0), FIB: fib.Empty()})
	return e
}

// Run runs the neighbour manager until ctx ends.
func (e *Engine) Run(ctx context.Context) { e.neigh.Run(ctx) }

// Neigh is the neighbour table.
func (e *Engine) Neigh() *neigh.Table { return e.neigh }

// Snapshot is the running configuration.
func (e *Engine) Snapshot() *Snapshot { return e.snap.Load() }

// Publish makes s the running configuration. Devices in s must not be
// changed afterwards. It returns once every worker has moved past the old
// snapshot, so the caller may release what only the old one referenced
// (a closed port, say).
func (e *Engine) Publish(s *Snapshot) {
	old := e.snap.Load()
	s.Gen = old.Gen + 1
	for _, d := range s.Devices {
		if d != nil {
			d.bind()
		}
	}
	for _, d := range s.Devices {
		if d != nil {
			d.bindStacked()
		}
	}
	s.buildTunnels()
	s.buildLocal4()
	e.snap.Store(s)
	e.quiesce(s.Gen)
}

// quiesce waits until each running worker has loaded generation gen,
// stopped, or is waiting for frames. Workers load the snapshot after every
// Receive, so a busy one is through within a batch; one waiting in Receive
// holds nothing of the old snapshot (its transmit batches went out before
// it began to wait) and loads the new one when it wakes: the worker clears
// receiving before its load, and we stored the snapshot before reading
// receiving, so if we read it set, its next load comes after our store
// (sequentially consistent atomics). Without that, every change waited for
// idle workers' RxTimeout (50 ms a command).
func (e *Engine) quiesce(gen uint64) {
	e.mu.Lock()
	ws := e.workers
	e.mu.Unlock()
	deadline := time.Now().Add(2*e.cfg.RxTimeout + time.Second)
	for _, w := range ws {
		if w == nil {
			continue
		}
		for w.seenGen.Load() < gen && !w.receiving.Load() && !w.stopped.Load() && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
	}
	e.ctrl.seenGen.Store(gen)
}

// StartPort starts one worker per receive queue of the port of device dev.
func (e *Engine) StartPort(dev uint32, p port.Port) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.byDev[dev]; ok {
		return fmt.Errorf("device %d already has workers: %w", dev, errs.ErrBusy)
	}
	if p.NumTx() < TxQueues {
		return fmt.Errorf("port has %d transmit queues, needs %d: %w", p.NumTx(), TxQueues, errs.ErrInvalid)
	}
	qs := p.RxQueues()
	var ids []int
	for id := 0; id < MaxWorkers && len(ids) < len(qs); id++ {
		if e.workers[id] == nil {
			ids = append(ids, id)
		}
	}
	if len(ids) < len(qs) {
		return fmt.Errorf("%d receive queues, %d free workers: %w", len(qs), len(ids), errs.ErrNoSpace)
	}
	var ws []*worker
	for i, q := range qs {
		w := newWorker(e, ids[i], dev, q, i, e.cfg.PoolSize)
		e.workers[ids[i]] = w
		ws = append(ws, w)
	}
	e.byDev[dev] = ws
	for _, w := range ws {
		go w.run()
	}
	return nil
}

// StopClosePort stops the workers of device dev, closes its port p, which
// wakes a worker waiting in Receive at once, and waits for the workers.
// The device must be gone from the running snapshot already, so that no
// other worker transmits on p any more.
func (e *Engine) StopClosePort(dev uint32, p port.Port) error {
	var err error
	e.stopPort(dev, func() { err = p.Close() })
	return err
}

// stopPort stops the workers of device dev, calls closePort (nil: none)
// once they are told to stop, and waits for them. Without a close, a
// worker waiting for frames ends only when its receive timeout passes.
func (e *Engine) stopPort(dev uint32, closePort func()) {
	e.mu.Lock()
	ws := e.byDev[dev]
	delete(e.byDev, dev)
	e.mu.Unlock()
	for _, w := range ws {
		w.stop.Store(true)
	}
	if closePort != nil {
		closePort()
	}
	for _, w := range ws {
		<-w.done
		e.mu.Lock()
		e.workers[w.id] = nil
		e.retired = append(e.retired, w.c)
		e.mu.Unlock()
	}
}

// Close stops every worker (ports are the caller's: a worker still
// waiting for frames ends with its receive timeout).
func (e *Engine) Close() {
	e.mu.Lock()
	var devs []uint32
	for d := range e.byDev {
		devs = append(devs, d)
	}
	e.mu.Unlock()
	for _, d := range devs {
		e.stopPort(d, nil)
	}
}

// DeviceStats sums device i's counters over all workers (and the control
// transmitter).
func (e *Engine) DeviceStats(i uint32) (st DeviceStats, drops map[string]uint64) {
	if i >= MaxDevices {
		return st, nil
	}
	drops = map[string]uint64{}
	add := func(c *devCounters) {
		st.RxPackets += c.rxPackets.Load()
		st.RxBytes += c.rxBytes.Load()
		st.TxPackets += c.txPackets.Load()
		st.TxBytes += c.txBytes.Load()
		st.RxDropped += c.rxDropped.Load()
		st.TxDropped += c.txDropped.Load()
		for r := DropReason(1); r < numDropReasons; r++ {
			if v := c.drops[r].Load(); v != 0 {
				drops[r.String()] += v
			}
		}
	}
	e.mu.Lock()
	for _, w := range e.workers {
		if w != nil {
			add(&w.c.dev[i])
		}
	}
	for _, c := range e.retired {
		add(&c.dev[i])
	}
	e.mu.Unlock()
	add(&e.ctrl.w.c.dev[i])
	return st, drops
}

// Drops sums the drop counters by reason over all workers.
func (e *Engine) Drops() map[string]uint64 {
	out := map[string]uint64{}
	e.mu.Lock()
	defer e.mu.Unlock()
	sum := func(c *workerCounters) {
		for r := DropReason(1); r < numDropReasons; r++ {
			if v := c.drops[r].Load(); v != 0 {
				out[r.String()] += v
			}
		}
	}
	for _, w := range e.workers {
		if w != nil {
			sum(w.c)
		}
	}
	for _, c := range e.retired {
		sum(c)
	}
	sum(e.ctrl.w.c)
	return out
}

// WorkerInfo describes one running worker.
type WorkerInfo struct {
	ID                 int
	Dev                uint32
	Queue              int
	Packets, Batches   uint64
	ICMPSent, ICMPRate uint64
	Coalesced          uint64 // segments merged into super-frames before transmit
	CPU                int    // the CPU a worker following its senders is bound to; -1: not bound
	CPUMoves           uint64 // times it moved to another CPU
	Pool               pkt.PoolStats
	Pending            int
}

// Workers lists the running workers.
func (e *Engine) Workers() []WorkerInfo {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []WorkerInfo
	for _, w := range e.workers {
		if w == nil {
			continue
		}
		out = append(out, WorkerInfo{ID: w.id, Dev: w.dev, Queue: w.queue,
			Packets: w.c.packets.Load(), Batches: w.c.batches.Load(),
			ICMPSent: w.c.icmpSent.Load(), ICMPRate: w.c.icmpRateLimited.Load(),
			Coalesced: w.c.coalesced.Load(), CPU: int(w.c.cpu.Load()), CPUMoves: w.c.cpuMoves.Load(),
			Pool: w.pool.Stats(), Pending: int(w.pendingLen.Load())})
	}
	return out
}

// ResetDevice zeroes device i's counters (its index is being reused).
func (e *Engine) ResetDevice(i uint32) {
	if i >= MaxDevices {
		return
	}
	reset := func(c *devCounters) {
		c.rxPackets.Store(0)
		c.rxBytes.Store(0)
		c.txPackets.Store(0)
		c.txBytes.Store(0)
		c.rxDropped.Store(0)
		c.txDropped.Store(0)
		for r := range c.drops {
			c.drops[r].Store(0)
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, w := range e.workers {
		if w != nil {
			reset(&w.c.dev[i])
		}
	}
	for _, c := range e.retired {
		reset(&c.dev[i])
	}
	reset(&e.ctrl.w.c.dev[i])
}
