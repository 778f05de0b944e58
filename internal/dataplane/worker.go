package dataplane

import (
	"net/netip"
	"runtime"
	"sync/atomic"
	"time"

	"flowpath/internal/fib"
	"flowpath/internal/gso"
	"flowpath/internal/hdr"
	"flowpath/internal/neigh"
	"flowpath/internal/pkt"
	"flowpath/internal/port"
	"flowpath/internal/reasm"
	"flowpath/internal/sys"
	"flowpath/internal/tunnel"
)

// txBatch collects the packets a worker sends to one device during a batch.
type txBatch struct {
	n      int
	listed bool // in the worker's dirty list
	pkts   [pkt.BatchSize]*pkt.Packet
}

// worker owns one receive queue and everything it needs to run packets to
// completion: pool, transmit batches, pending queue, counters, scratch.
type worker struct {
	e     *Engine
	id    int
	dev   uint32
	queue int
	rxq   port.RxQueue
	pool  *pkt.Pool
	c     *workerCounters

	rx      [pkt.BatchSize]*pkt.Packet
	tx      [MaxDevices]txBatch
	dirty   [MaxDevices]uint16 // indices of devices with queued tx, in order
	ndirty  int
	scratch [256]*pkt.Packet // segmentation output
	udpSegs [256]*pkt.Packet // datagrams of a UDP GSO frame to a tunnel port
	// splitting is set while udpSegs is being walked (no nesting).
	splitting bool
	usoOut    [8]*pkt.Packet   // USO frames of one encapsulated super-frame
	tunSegs   [256]*pkt.Packet // segments of a super-frame encapsulated one by one
	// tunSegsBusy is set while tunSegs is being walked (no nesting).
	tunSegsBusy bool
	frags       [1024]*pkt.Packet // fragmentation output
	ipID        uint16

	pending    *neigh.Pending
	pendingLen atomic.Int64
	rxBatch    int // packets asked of the next Receive (see sizeBatch)
	depth      int // tunnel nesting of the packet being processed
	// looped is set while a tunnel packet to one of our own addresses is
	// handed to ip4Input (tunnelLoopback), which clears it on entry.
	looped  bool
	failedQ [pkt.BatchSize]*pkt.Packet // neighbour failures to answer after a Resolve walk
	nfailed int

	snap  *Snapshot
	now   int64 // monotonic ns at the start of the batch
	start time.Time
	icmp  tokenBucket
	reasm reasm.Table // datagrams to us arriving in fragments
	// reasmExpired is reasmTimedOut, bound once (a method value made in
	// the loop would allocate).
	reasmExpired func(p *pkt.Packet)
	ready        func(p *pkt.Packet, mac [6]byte)
	failed       func(p *pkt.Packet)
	seenGen      atomic.Uint64
	// receiving is set while the worker waits in Receive, where it holds
	// nothing of any snapshot: a publisher need not wait for it to wake
	// (see Engine.quiesce).
	receiving atomic.Bool
	stop      atomic.Bool
	stopped   atomic.Bool
	done      chan struct{}
	// routes remembers the FIB's trie answers for the destinations this
	// worker saw lately (fib.Cache: the same results at a flat cost).
	// Allocated on its own, page aligned.
	routes *fib.Cache
	follow cpuFollower
}

func newWorker(e *Engine, id int, dev uint32, q port.RxQueue, queue, poolSize int) *worker {
	w := &worker{e: e, id: id, dev: dev, queue: queue, rxq: q,
		pool:    pkt.NewPool("worker", poolSize),
		c:       newWorkerCounters(),
		routes:  new(fib.Cache),
		pending: neigh.NewPending(e.cfg.PendingCap, e.cfg.PendingPerNeigh),
		start:   time.Now(),
		done:    make(chan struct{}),
	}
	w.icmp.init(e.cfg.ICMPRate, e.cfg.ICMPBurst)
	w.reasm.Init(e.cfg.ReasmTimeout, e.cfg.ReasmTimeout6)
	w.reasmExpired = w.reasmTimedOut
	w.rxBatch = pkt.BatchSize
	w.ready = w.pendingReady
	w.failed = w.pendingFailed
	return w
}

func (w *worker) clock() int64 { return int64(time.Since(w.start)) }

func (w *worker) run() {
	defer func() {
		w.stopped.Store(true)
		close(w.done)
	}()
	if ac, ok := w.rxq.(port.ArrivalCounter); ok {
		if c := ac.ArrivalCPUs(); c != nil {
			// Never unlocked: the thread ends with the worker, binding
			// and all, instead of serving other goroutines on one CPU.
			runtime.LockOSThread()
			w.follow.init(c, sys.SetThreadCPU)
		}
	}
	for !w.stop.Load() {
		timeout := w.e.cfg.RxTimeout
		if w.pending.Len() > 0 {
			timeout = time.Millisecond
		}
		w.receiving.Store(true)
		n := w.rxq.Receive(w.pool, w.rx[:w.rxBatch], timeout)
		w.receiving.Store(false) // before the load: see Engine.quiesce
		w.snap = w.e.snap.Load()
		w.seenGen.Store(w.snap.Gen)
		w.now = w.clock()
		if n > 0 {
			w.sizeBatch(n, w.processBatch(w.rx[:n]))
		}
		if w.follow.counts != nil && w.follow.check(w.now) {
			w.c.cpu.Store(int32(w.follow.cpu))
			w.c.cpuMoves.Store(w.follow.moves)
		}
		if w.pending.Len() > 0 {
			w.resolvePending(w.now)
		}
		if w.reasm.InUse() > 0 {
			if n := w.reasm.Expire(w.now, w.reasmExpired); n > 0 {
				w.c.drops[DropReasmTimeout].Add(uint64(n))
			}
		}
		w.flush()
	}
	// Packets still waiting for resolution go back to the pool, counted.
	w.snap = w.e.snap.Load()
	w.pending.Drain(w.discardPending)
	w.pendingLen.Store(0)
	w.reasm.Drain()
	w.flush()
}

// processBatch runs a received batch through the pipeline and returns
// the bytes it received.
func (w *worker) processBatch(batch []*pkt.Packet) int {
	s := w.snap
	in := s.Device(w.dev)
	w.c.batches.Add(1)
	w.c.packets.Add(uint64(len(batch)))
	if in == nil || !in.Up {
		for _, p := range batch {
			w.dropIn(w.dev, p, DropInputDown)
		}
		return 0
	}
	var bytes uint64
	for _, p := range batch {
		bytes += uint64(p.Len())
	}
	dc := &w.c.dev[in.Index]
	dc.rxPackets.Add(uint64(len(batch)))
	dc.rxBytes.Add(bytes)
	for i, p := range batch {
		batch[i] = nil
		p.InPort = in.Index
		w.ethernetInput(in, p)
	}
	return int(bytes)
}

// dropIn frees a packet received on device dev, counting the reason on the
// worker and as an rx drop on the device.
func (w *worker) dropIn(dev uint32, p *pkt.Packet, r DropReason) {
	w.c.drops[r].Add(1)
	if dev < MaxDevices {
		dc := &w.c.dev[dev]
		dc.rxDropped.Add(1)
		dc.drops[r].Add(1)
	}
	p.Free()
}

// dropOut frees a packet that was to leave on device dev.
func (w *worker) dropOut(dev uint32, p *pkt.Packet, r DropReason) {
	w.c.drops[r].Add(1)
	if dev < MaxDevices {
		dc := &w.c.dev[dev]
		dc.txDropped.Add(1)
		dc.drops[r].Add(1)
	}
	p.Free()
}

// drop frees a packet counting the reason against its input device, or
// its output device if it was generated locally.
func (w *worker) drop(p *pkt.Packet, r DropReason) {
	if p.InPort != 0 {
		w.dropIn(p.InPort, p, r)
		return
	}
	w.dropOut(p.OutPort, p, r)
}

// ethernetInput classifies a frame received on in.
func (w *worker) ethernetInput(in *Device, p *pkt.Packet) {
	b := p.Bytes()
	eth := hdr.Ethernet(b)
	if !eth.IsValid() {
		w.dropIn(in.Index, p, DropL2Invalid)
		return
	}
	et := eth.EtherType()
	if et == hdr.EtherTypeVLAN || et == hdr.EtherTypeQinQ {
		// Tags come off before the destination MAC is judged: it is the
		// sub-interface's address that counts (vlan_do_receive).
		w.vlanInput(in, p, et)
		return
	}
	dst := eth.Dst()
	if dst != in.MAC && !dst.IsMulticast() {
		w.dropIn(in.Index, p, DropOtherHost)
		return
	}
	p.L3 = hdr.EthernetLen
	p.EtherType = et
	switch et {
	case hdr.EtherTypeIPv4:
		w.ip4Input(in, p)
	case hdr.EtherTypeIPv6:
		w.ip6Input(in, p)
	case hdr.EtherTypeARP:
		w.arpInput(in, p)
	case hdr.EtherTypeMPLS:
		w.mplsInput(in, p)
	default:
		w.dropIn(in.Index, p, DropUnknownEtherType)
	}
}

// arpInput answers requests for local addresses and feeds the neighbour
// table (arp_process: a request for us creates or refreshes the sender's
// entry; a reply confirms it).
func (w *worker) arpInput(in *Device, p *pkt.Packet) {
	a := hdr.ARP(p.Bytes()[p.L3:])
	if !a.IsValid() {
		w.dropIn(in.Index, p, DropARPInvalid)
		return
	}
	op := a.Op()
	sip, tip := a.SenderIP(), a.TargetIP()
	sha := a.SenderMAC()
	if sha.IsMulticast() || !sip.IsValid() {
		w.dropIn(in.Index, p, DropARPInvalid)
		return
	}
	forUs := w.isLocal(in, tip)
	switch op {
	case hdr.ARPRequest:
		if !forUs {
			w.dropIn(in.Index, p, DropARPIgnored)
			return
		}
		if !sip.IsUnspecified() {
			w.e.neigh.Confirm(w.id, in.Index, sip, sha, neigh.IsRequest)
		}
		// Turn the request into the reply in place.
		eth := hdr.Ethernet(p.Bytes())
		eth.SetDst(sha)
		eth.SetSrc(in.MAC)
		hdr.PutARP(p.Bytes()[p.L3:], hdr.ARPReply, in.MAC, tip, sha, sip)
		w.replyVia(in, p)
	case hdr.ARPReply:
		if !sip.IsUnspecified() {
			// A reply unicast to us answers our request; a broadcast
			// one only makes the entry stale (the kernel's PACKET_HOST
			// test), and a gratuitous one (sender = target) overrides.
			flags := neigh.ConfirmFlags(0)
			if hdr.Ethernet(p.Bytes()).Dst() == in.MAC {
				flags |= neigh.Solicited
			}
			if sip == tip {
				flags |= neigh.Override
			}
			w.e.neigh.Confirm(w.id, in.Index, sip, sha, flags)
		}
		p.Free()
	default:
		w.dropIn(in.Index, p, DropARPInvalid)
	}
}

// isLocal reports whether a is one of this host's addresses (any device,
// like the kernel with arp_ignore=0).
func (w *worker) isLocal(in *Device, a netip.Addr) bool {
	var res fib.Result
	if !w.snap.FIB.LookupTableCached(w.routes, fib.TableLocal, a, 0, &res) {
		return false
	}
	return res.Type == fib.RouteLocal && res.Route.Prefix.Bits() == res.Route.Prefix.Addr().BitLen()
}

// enqueue adds a finished frame to the transmit batch of out, flushing
// the batch when it is full.
func (w *worker) enqueue(out *Device, p *pkt.Packet) {
	if out.Port == nil {
		// No medium (dummy, loopback): the kernel's dummy counts and
		// discards.
		dc := &w.c.dev[out.Index]
		dc.txPackets.Add(1)
		dc.txBytes.Add(uint64(p.Len()))
		p.Free()
		return
	}
	tb := &w.tx[out.Index]
	if !tb.listed {
		tb.listed = true
		w.dirty[w.ndirty] = uint16(out.Index)
		w.ndirty++
	}
	tb.pkts[tb.n] = p
	tb.n++
	if tb.n == len(tb.pkts) {
		w.flushDev(out.Index)
	}
}

// flush transmits every queued batch.
func (w *worker) flush() {
	for i := 0; i < w.ndirty; i++ {
		idx := uint32(w.dirty[i])
		w.flushDev(idx)
		w.tx[idx].listed = false
	}
	w.ndirty = 0
}

func (w *worker) flushDev(idx uint32) {
	tb := &w.tx[idx]
	if tb.n == 0 {
		return
	}
	pkts := tb.pkts[:tb.n]
	d := w.snap.Device(idx)
	dc := &w.c.dev[idx]
	var q port.TxQueue
	if d != nil && d.Up {
		q = d.tx[w.id]
	}
	if q == nil {
		for i, p := range pkts {
			w.dropOut(idx, p, DropOutDown)
			pkts[i] = nil
		}
		tb.n = 0
		return
	}
	if w.e.cfg.TxCoalesce && d.TxGSO && len(pkts) > 1 {
		n, merged := gso.CoalesceFor(pkts, d.TxUSO)
		if merged > 0 {
			w.c.coalesced.Add(uint64(merged))
			pkts = pkts[:n]
		}
	}
	sent := q.Transmit(pkts)
	var bytes uint64
	for i, p := range pkts {
		if i < sent {
			bytes += uint64(p.Len())
		}
	}
	dc.txPackets.Add(uint64(sent))
	dc.txBytes.Add(bytes)
	if sent < len(pkts) {
		n := uint64(len(pkts) - sent)
		dc.txDropped.Add(n)
		dc.drops[DropTxFailed].Add(n)
		w.c.drops[DropTxFailed].Add(n)
	}
	for i, p := range pkts {
		p.Free()
		pkts[i] = nil
	}
	tb.n = 0
}

// discardPending frees a packet still waiting for its neighbour when the
// worker stops.
func (w *worker) discardPending(p *pkt.Packet) { w.dropOut(p.OutPort, p, DropNeighTimeout) }

// resolvePending sends the queued packets whose neighbour is now known and
// answers those whose resolution failed.
func (w *worker) resolvePending(now int64) {
	w.pending.Resolve(w.e.neigh, now, w.ready, w.failed)
	w.answerFailed()
	w.pendingLen.Store(int64(w.pending.Len()))
}

// batchBytes bounds the bytes one batch carries. A batch is received whole
// before any of it is sent, so 64 GSO super-frames (4 MiB, a whole TCP
// window) would add milliseconds of latency; small packets still come 64
// at a time.
const batchBytes = 256 << 10

// sizeBatch picks how many packets to ask for next from the average size
// of the batch just processed: batchBytes worth, between 4 and BatchSize.
func (w *worker) sizeBatch(n, bytes int) {
	avg := bytes/n + 1
	w.rxBatch = min(max(batchBytes/avg, 4), pkt.BatchSize)
}

// replyVia sends a reply built in place of the request p back out of the
// device the request came in on. A request that came through a flow-based
// tunnel carries RX metadata: the reply goes back through the tunnel to
// the request's outer source (iptunnel_metadata_reply).
func (w *worker) replyVia(in *Device, p *pkt.Packet) {
	if ti := p.Meta.TunnelInfo(); ti != nil {
		if reply, ok := tunnel.ReplyInfo(ti); ok {
			p.Meta.SetTunnel(&reply)
		} else {
			p.Meta.Clear()
		}
	}
	p.InPort = 0
	p.GSO = pkt.GSO{}
	w.emit(in, p)
}

// reasmTimedOut answers a datagram to us whose reassembly timed out with
// ICMP time exceeded, code 1 (fragment reassembly time exceeded), as the
// kernel's ip_expire and ip6_frag_expire do; reasm hands over only those
// whose first fragment arrived, as that fragment.
func (w *worker) reasmTimedOut(p *pkt.Packet) {
	if in := w.snap.Device(p.InPort); in != nil {
		if p.EtherType == hdr.EtherTypeIPv6 {
			w.icmp6Error(in, p, hdr.ICMPv6TimeExceeded, 1, 0)
		} else {
			w.icmp4Error(in, p, hdr.ICMPv4TimeExceeded, 1, 0)
		}
	}
	p.Free()
}
