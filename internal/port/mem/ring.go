package mem

import (
	"sync/atomic"

	"flowpath/internal/pkt"
)

// slot is one frame in a ring.
type slot struct {
	buf []byte // len = frame length; cap grows once to pkt.MaxFrame
	gso pkt.GSO
}

// ring is a single-producer single-consumer queue of frames. The producer
// owns tail and the slots between tail and head+size; the consumer owns
// head and the slots between head and tail.
type ring struct {
	_     [64]byte
	tail  atomic.Uint64 // next slot to fill (producer)
	_     [56]byte
	head  atomic.Uint64 // next slot to read (consumer)
	_     [56]byte
	mask  uint64
	slots []slot
}

func newRing(size, slotCap int) *ring {
	n := 1
	for n < size {
		n <<= 1
	}
	r := &ring{mask: uint64(n - 1), slots: make([]slot, n)}
	backing := make([]byte, n*slotCap)
	for i := range r.slots {
		r.slots[i].buf = backing[i*slotCap : i*slotCap : (i+1)*slotCap]
	}
	return r
}

// push copies b into the next slot. It reports false if the ring is full.
// Producer only.
func (r *ring) push(b []byte, g *pkt.GSO) bool {
	t := r.tail.Load()
	if t-r.head.Load() > r.mask {
		return false
	}
	s := &r.slots[t&r.mask]
	if cap(s.buf) < len(b) {
		// Warm-up growth (see doc.go): once per slot, straight to the
		// largest frame so it never happens again for this slot.
		s.buf = make([]byte, 0, pkt.MaxFrame)
	}
	s.buf = s.buf[:len(b)]
	copy(s.buf, b)
	s.gso = *g
	r.tail.Store(t + 1)
	return true
}

// peek returns the oldest slot, or nil if the ring is empty. Consumer only.
func (r *ring) peek() *slot {
	h := r.head.Load()
	if h == r.tail.Load() {
		return nil
	}
	return &r.slots[h&r.mask]
}

// pop releases the slot peek returned. Consumer only.
func (r *ring) pop() { r.head.Store(r.head.Load() + 1) }

// len is the number of frames queued (approximate from other goroutines).
func (r *ring) len() int { return int(r.tail.Load() - r.head.Load()) }
