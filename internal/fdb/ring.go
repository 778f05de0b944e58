package fdb

import (
	"net/netip"
	"sync/atomic"
)

// event asks the manager to learn that mac (in vni) is behind ip/ifindex:
// create the entry or migrate it (vxlan_snoop's slow half).
type event struct {
	ip      netip.Addr
	mac     [6]byte
	vni     uint32
	ifindex uint32
}

// ring is a bounded single-producer (one worker) single-consumer (the
// manager) queue. The producer owns head, its counters and the slot it
// writes until it publishes head; the consumer owns tail. A full ring drops
// the event and counts it: the next frame from the same source posts again.
type ring struct {
	head atomic.Uint64 // next slot to write; stored by the producer only
	// Producer-side counters: one writer each, so Add never contends.
	drops   atomic.Uint64 // events lost to a full ring
	static  atomic.Uint64 // frames dropped: static entry, other remote
	invalid atomic.Uint64 // frames dropped: multicast / zero source MAC

	// Producer-private: the last event posted, so a burst of frames from one
	// new source posts one event, not one per frame.
	last    event
	lastPos uint64
	posted  bool

	buf  []event
	mask uint64
	_    [64]byte

	tail atomic.Uint64 // next slot to read; stored by the consumer only
	_    [56]byte
}

func (r *ring) init(size int) {
	r.buf = make([]event, size)
	r.mask = uint64(size - 1)
}

// post enqueues an event (producer side). It never blocks or allocates.
func (r *ring) post(ev event) {
	h := r.head.Load()
	t := r.tail.Load()
	if r.posted && ev == r.last && t <= r.lastPos && r.lastPos < h {
		return // the same request is still waiting to be read
	}
	if h-t > r.mask {
		r.drops.Add(1)
		return
	}
	r.buf[h&r.mask] = ev
	r.head.Store(h + 1)
	r.last, r.lastPos, r.posted = ev, h, true
}

// pending returns the range of unread positions (consumer side). The
// consumer reads them with at and hands them back with release.
func (r *ring) pending() (from, to uint64) { return r.tail.Load(), r.head.Load() }

func (r *ring) at(i uint64) event { return r.buf[i&r.mask] }

func (r *ring) release(to uint64) { r.tail.Store(to) }
