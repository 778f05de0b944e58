package neigh

import (
	"net/netip"
	"sync/atomic"
)

type evKind uint8

const (
	evMiss    evKind = iota + 1 // no usable entry; a packet waits (neigh_event_send, creating)
	evUse                       // a STALE entry was used (neigh_event_send)
	evConfirm                   // ARP/NDP message with the neighbour's address
)

type event struct {
	addr  netip.Addr
	dev   uint32
	mac   [6]byte
	kind  evKind
	flags ConfirmFlags
}

// ring is a bounded single-producer (one worker) single-consumer (the
// manager) queue. The producer owns head and the slot it writes until it
// publishes head; the consumer owns tail. A full ring drops the event and
// counts it: every event is retried by the next packet that needs it.
type ring struct {
	head atomic.Uint64 // next slot to write; stored by the producer only
	_    [56]byte
	tail atomic.Uint64 // next slot to read; stored by the consumer only
	_    [56]byte

	drops atomic.Uint64

	// Producer-private: the last Miss/Use posted, so a burst of packets to
	// one unresolved neighbour posts one event, not one per packet.
	lastKind evKind
	lastDev  uint32
	lastAddr netip.Addr
	lastPos  uint64

	buf  []event
	mask uint64
	_    [32]byte
}

func (r *ring) init(size int) {
	r.buf = make([]event, size)
	r.mask = uint64(size - 1)
}

// post enqueues an event (producer side). It never blocks or allocates.
func (r *ring) post(kind evKind, dev uint32, addr netip.Addr, mac [6]byte, flags ConfirmFlags) {
	h := r.head.Load()
	t := r.tail.Load()
	if kind != evConfirm && kind == r.lastKind && dev == r.lastDev && addr == r.lastAddr && t <= r.lastPos && r.lastPos < h {
		return // the same request is still waiting to be read
	}
	if h-t > r.mask {
		r.drops.Add(1)
		return
	}
	e := &r.buf[h&r.mask]
	e.addr, e.dev, e.mac, e.kind, e.flags = addr, dev, mac, kind, flags
	r.head.Store(h + 1)
	if kind != evConfirm {
		r.lastKind, r.lastDev, r.lastAddr, r.lastPos = kind, dev, addr, h
	}
}

// pending returns the range of unread positions (consumer side). The
// consumer reads them with at and then hands them back with release.
func (r *ring) pending() (from, to uint64) { return r.tail.Load(), r.head.Load() }

func (r *ring) at(i uint64) event { return r.buf[i&r.mask] }

func (r *ring) release(to uint64) { r.tail.Store(to) }
