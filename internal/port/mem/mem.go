package mem

import (
	"runtime"
	"sync/atomic"
	"time"

	"flowpath/internal/pkt"
	"flowpath/internal/port"
)

// DefaultRingSize is the number of frames each ring holds.
const DefaultRingSize = 512

// Frame is a frame a port sent, as the test side sees it.
type Frame struct {
	Data []byte
	GSO  pkt.GSO
}

// Port is an in-memory port. See the package comment for the model.
type Port struct {
	name     string
	mac      [6]byte
	mtu      int
	offloads port.Offloads
	ringSize int
	slotCap  int

	tx   []*txQueue
	rx   []*rxQueue
	peer atomic.Pointer[Port]

	closed atomic.Bool
}

type txQueue struct {
	p    *Port
	ring *ring

	packets, bytes, dropped atomic.Uint64
}

type rxQueue struct {
	p      *Port
	idx    int
	inject *ring // written by the test side (Inject), read here
	next   int   // round-robin start among the rings

	packets, bytes, dropped atomic.Uint64
}

// New makes an unpaired port with nTx transmit queues (at least 1) and one
// receive queue. mtu 0 means no MTU check.
func New(name string, mac [6]byte, mtu int, nTx int) *Port {
	if nTx < 1 {
		nTx = 1
	}
	// Slots start MTU-sized; without an MTU, Ethernet-sized. Larger frames
	// grow their slot once (see doc.go).
	slotCap := 1518
	if mtu > 0 {
		slotCap = min(mtu+18, pkt.MaxFrame)
	}
	p := &Port{name: name, mac: mac, mtu: mtu, ringSize: DefaultRingSize, slotCap: slotCap}
	p.tx = make([]*txQueue, nTx)
	for i := range p.tx {
		p.tx[i] = &txQueue{p: p, ring: newRing(p.ringSize, slotCap)}
	}
	p.rx = []*rxQueue{{p: p, inject: newRing(p.ringSize, slotCap)}}
	return p
}

// SetOffloads sets the offloads the port claims and enforces. Call before
// the port is used.
func (p *Port) SetOffloads(o port.Offloads) { p.offloads = o }

// SetRxQueues gives the port n receive queues (at least 1). Receive queue
// q polls the peer's transmit rings i with i % n == q and its own inject
// ring. Call before the port is used.
func (p *Port) SetRxQueues(n int) {
	if n < 1 {
		n = 1
	}
	p.rx = make([]*rxQueue, n)
	for i := range p.rx {
		p.rx[i] = &rxQueue{p: p, idx: i, inject: newRing(p.ringSize, p.slotCap)}
	}
}

// SetRingSize resizes every ring (rounded up to a power of two). Call
// before the port is used.
func (p *Port) SetRingSize(n int) {
	if n < 1 {
		n = 1
	}
	p.ringSize = n
	for _, q := range p.tx {
		q.ring = newRing(n, p.slotCap)
	}
	for _, q := range p.rx {
		q.inject = newRing(n, p.slotCap)
	}
}

// Pair connects a's transmit queues to b's receive queues and b's to a's.
// Pair(a, a) loops a back to itself. Call before either port is used;
// pairing a port twice is a test bug and panics.
func Pair(a, b *Port) {
	if a.peer.Load() != nil || b.peer.Load() != nil {
		panic("mem: Pair of a port that is already paired")
	}
	a.peer.Store(b)
	b.peer.Store(a)
}

// Name is the name given to New.
func (p *Port) Name() string { return p.name }

// Kind implements port.Port.
func (p *Port) Kind() string { return "mem" }

// HardwareAddr implements port.Port.
func (p *Port) HardwareAddr() [6]byte { return p.mac }

// MTU implements port.Port.
func (p *Port) MTU() int { return p.mtu }

// Offloads implements port.Port.
func (p *Port) Offloads() port.Offloads { return p.offloads }

// RxQueues implements port.Port.
func (p *Port) RxQueues() []port.RxQueue {
	qs := make([]port.RxQueue, len(p.rx))
	for i, q := range p.rx {
		qs[i] = q
	}
	return qs
}

// TxQueue implements port.Port.
func (p *Port) TxQueue(i int) port.TxQueue { return p.tx[i] }

// NumTx implements port.Port.
func (p *Port) NumTx() int { return len(p.tx) }

// Stats implements port.Port.
func (p *Port) Stats() port.Stats {
	var s port.Stats
	for _, q := range p.rx {
		s.RxPackets += q.packets.Load()
		s.RxBytes += q.bytes.Load()
		s.RxDropped += q.dropped.Load()
	}
	for _, q := range p.tx {
		s.TxPackets += q.packets.Load()
		s.TxBytes += q.bytes.Load()
		s.TxDropped += q.dropped.Load()
	}
	return s
}

// Close implements port.Port: Receive returns 0 and Transmit drops from
// now on. Frames still in rings are discarded.
func (p *Port) Close() error {
	p.closed.Store(true)
	return nil
}

// maxPlain is the longest frame the medium carries without GSO.
func (p *Port) maxPlain() int {
	if p.mtu <= 0 {
		return pkt.MaxFrame
	}
	return p.mtu + 18
}

// Transmit implements port.TxQueue: it copies each acceptable frame into
// the queue's ring. It never blocks; a full ring drops.
func (q *txQueue) Transmit(pkts []*pkt.Packet) int {
	p := q.p
	if p.closed.Load() {
		q.dropped.Add(uint64(len(pkts)))
		return 0
	}
	sent, bytes := 0, 0
	maxPlain := p.maxPlain()
	for _, pk := range pkts {
		b := pk.Bytes()
		g := &pk.GSO
		offload := g.IsGSO() || g.NeedsCsum
		switch {
		case len(b) < 14 || len(b) > pkt.MaxFrame:
		case offload && !p.offloads.TxGSO:
		case g.OuterL4 != 0 && !p.offloads.TxUDPTunnelGSO:
		case g.IsGSO() && g.OuterL4 == 0 && !gsoProtoOK(g.Type, b):
		case g.OuterL4 != 0 && !tunnelProtoOK(g, b):
		case !g.IsGSO() && len(b) > maxPlain:
		case !q.ring.push(b, g):
		default:
			sent++
			bytes += len(b)
		}
	}
	q.packets.Add(uint64(sent))
	q.bytes.Add(uint64(bytes))
	if d := len(pkts) - sent; d > 0 {
		q.dropped.Add(uint64(d))
	}
	return sent
}

// gsoProtoOK reports whether a super-frame's ethertype is one its GSO
// type can segment, as the kernel checks a virtio-net header on AF_PACKET
// and TAP writes: TCPv4 under IPv4, TCPv6 under IPv6, UDP under either.
// A labelled or tagged super-frame is refused there (EINVAL), so here too.
func gsoProtoOK(t pkt.GSOType, b []byte) bool {
	et := uint16(b[12])<<8 | uint16(b[13])
	switch t {
	case pkt.GSOTCPv4:
		return et == 0x0800
	case pkt.GSOTCPv6:
		return et == 0x86dd
	}
	return et == 0x0800 || et == 0x86dd
}

// tunnelProtoOK reports whether a UDP-tunnel super-frame's ethertype is
// its outer IP version: the GSO type names the inner packet's, which may
// be the other one (a TAP takes TCPv4 inside an IPv6 tunnel).
func tunnelProtoOK(g *pkt.GSO, b []byte) bool {
	et := uint16(b[12])<<8 | uint16(b[13])
	return g.TunnelV6 && et == 0x86dd || !g.TunnelV6 && et == 0x0800
}

// Receive implements port.RxQueue.
func (q *rxQueue) Receive(pool *pkt.Pool, pkts []*pkt.Packet, timeout time.Duration) int {
	if q.p.closed.Load() || len(pkts) == 0 {
		return 0
	}
	if n := q.poll(pool, pkts); n > 0 || timeout <= 0 {
		return n
	}
	start := time.Now()
	step := 50 * time.Microsecond
	for spin := 0; ; spin++ {
		if spin < 8 {
			runtime.Gosched()
		} else {
			left := timeout - time.Since(start)
			if left <= 0 {
				return 0
			}
			time.Sleep(min(step, left))
			step = min(2*step, time.Millisecond)
		}
		if q.p.closed.Load() {
			return 0
		}
		if n := q.poll(pool, pkts); n > 0 {
			return n
		}
		if time.Since(start) >= timeout {
			return 0
		}
	}
}

// source returns ring i of the rings this queue reads: 0 is the inject
// ring, then the peer's transmit rings that map to this queue. nil past
// the end.
func (q *rxQueue) source(peer *Port, i int) *ring {
	if i == 0 {
		return q.inject
	}
	if peer == nil {
		return nil
	}
	t := q.idx + (i-1)*len(q.p.rx)
	if t >= len(peer.tx) {
		return nil
	}
	return peer.tx[t].ring
}

// nSources is how many rings source can return.
func (q *rxQueue) nSources(peer *Port) int {
	if peer == nil || q.idx >= len(peer.tx) {
		return 1
	}
	nr := len(q.p.rx)
	return 1 + (len(peer.tx)-q.idx+nr-1)/nr
}

// poll moves frames from the rings into packets, starting at a rotating
// ring so no producer starves the others.
func (q *rxQueue) poll(pool *pkt.Pool, pkts []*pkt.Packet) int {
	peer := q.p.peer.Load()
	ns := q.nSources(peer)
	n, bytes, dropped := 0, 0, 0
	rxGSO := q.p.offloads.RxGSO
	start := q.next % ns
	q.next = start + 1
	for k := 0; k < ns && n < len(pkts); k++ {
		r := q.source(peer, (start+k)%ns)
		for n < len(pkts) {
			s := r.peek()
			if s == nil {
				break
			}
			if !rxGSO && (s.gso.IsGSO() || s.gso.NeedsCsum) {
				// The medium cannot hand offload state to this port.
				r.pop()
				dropped++
				continue
			}
			pk := pool.Get()
			if pk == nil {
				// Leave the frame queued; the ring holds it until the
				// worker frees packets (or the producer sees it full).
				k = ns
				break
			}
			pk.SetBytes(s.buf)
			pk.GSO = s.gso
			r.pop()
			pkts[n] = pk
			n++
			bytes += pk.Len()
		}
	}
	if n > 0 {
		q.packets.Add(uint64(n))
		q.bytes.Add(uint64(bytes))
	}
	if dropped > 0 {
		q.dropped.Add(uint64(dropped))
	}
	return n
}
