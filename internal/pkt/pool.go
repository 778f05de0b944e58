package pkt

import "sync/atomic"

// Pool is a bounded free list of Packets backed by one slab allocated in
// NewPool. It is owned by one goroutine: Get and Put must not be called
// concurrently. Counters may be read from any goroutine.
//
// A Pool never grows. When it is empty Get returns nil and counts the
// exhaustion; the caller drops what it was about to receive or build.
type Pool struct {
	name    string
	packets []Packet
	free    []*Packet

	exhausted  atomic.Uint64
	doubleFree atomic.Uint64
	foreign    atomic.Uint64
	inUse      atomic.Int64
}

// NewPool allocates n packets of BufSize bytes each. Untouched pages of the
// slab are never faulted in, so a large pool costs memory only as it is used.
func NewPool(name string, n int) *Pool {
	if n < 1 {
		n = 1
	}
	slab := make([]byte, n*BufSize)
	p := &Pool{name: name, packets: make([]Packet, n), free: make([]*Packet, 0, n)}
	for i := range p.packets {
		pk := &p.packets[i]
		pk.buf = slab[i*BufSize : (i+1)*BufSize : (i+1)*BufSize]
		pk.pool = p
		pk.inPool = true
		pk.head, pk.tail = DefaultHeadroom, DefaultHeadroom
		p.free = append(p.free, pk)
	}
	return p
}

// Name is the pool's name, for counters.
func (p *Pool) Name() string { return p.name }

// Get takes a packet with an empty frame at DefaultHeadroom and cleared
// metadata, or returns nil if the pool is empty.
func (p *Pool) Get() *Packet {
	n := len(p.free)
	if n == 0 {
		p.exhausted.Add(1)
		return nil
	}
	pk := p.free[n-1]
	p.free = p.free[:n-1]
	pk.inPool = false
	pk.head, pk.tail = DefaultHeadroom, DefaultHeadroom
	pk.ResetMeta()
	p.inUse.Add(1)
	return pk
}

// GetBatch fills out with packets and returns how many it got.
func (p *Pool) GetBatch(out []*Packet) int {
	for i := range out {
		pk := p.Get()
		if pk == nil {
			return i
		}
		out[i] = pk
	}
	return len(out)
}

// Put returns a packet. A packet of another pool is handed to its own pool
// (and counted: it means a packet crossed workers); a packet already in the
// pool is counted as a double free and ignored.
func (p *Pool) Put(pk *Packet) {
	if pk == nil {
		return
	}
	if pk.pool != p {
		p.foreign.Add(1)
		if pk.pool != nil {
			pk.pool.Put(pk)
		}
		return
	}
	if pk.inPool {
		p.doubleFree.Add(1)
		return
	}
	pk.inPool = true
	pk.Next = nil
	p.free = append(p.free, pk)
	p.inUse.Add(-1)
}

// PutBatch returns every packet in pkts.
func (p *Pool) PutBatch(pkts []*Packet) {
	for _, pk := range pkts {
		p.Put(pk)
	}
}

// Size is the number of packets the pool holds in all.
func (p *Pool) Size() int { return len(p.packets) }

// Available is the number of free packets (owner goroutine only).
func (p *Pool) Available() int { return len(p.free) }

// PoolStats are the pool's counters.
type PoolStats struct {
	Size       int
	InUse      int64
	Exhausted  uint64 // Get on an empty pool
	DoubleFree uint64 // Put of a packet already free
	Foreign    uint64 // Put of another pool's packet
}

// Stats reads the counters; safe from any goroutine.
func (p *Pool) Stats() PoolStats {
	return PoolStats{Size: len(p.packets), InUse: p.inUse.Load(), Exhausted: p.exhausted.Load(),
		DoubleFree: p.doubleFree.Load(), Foreign: p.foreign.Load()}
}
