package pcap

import (
	"sync/atomic"

	"flowpath/internal/pkt"
)

// slot is one frame waiting for the writer.
type slot struct {
	buf []byte // len = frame length; cap grows once to pkt.MaxFrame
	ts  int64  // Unix nanoseconds at Transmit
}

// ring is a single-producer (a TxQueue) single-consumer (the writer)
// queue of frames.
type ring struct {
	_     [64]byte
	tail  atomic.Uint64 // next slot to fill (producer)
	_     [56]byte
	head  atomic.Uint64 // next slot to write out (consumer)
	_     [56]byte
	mask  uint64
	slots []slot
}

const initialSlotCap = 2048

func newRing(size int) *ring {
	n := 1
	for n < size {
		n <<= 1
	}
	r := &ring{mask: uint64(n - 1), slots: make([]slot, n)}
	backing := make([]byte, n*initialSlotCap)
	for i := range r.slots {
		r.slots[i].buf = backing[i*initialSlotCap : i*initialSlotCap : (i+1)*initialSlotCap]
	}
	return r
}

// push copies b into the next slot; false if the ring is full.
func (r *ring) push(b []byte, ts int64) bool {
	t := r.tail.Load()
	if t-r.head.Load() > r.mask {
		return false
	}
	s := &r.slots[t&r.mask]
	if cap(s.buf) < len(b) {
		s.buf = make([]byte, 0, pkt.MaxFrame) // once per slot (doc.go)
	}
	s.buf = s.buf[:len(b)]
	copy(s.buf, b)
	s.ts = ts
	r.tail.Store(t + 1)
	return true
}

// peek returns the oldest slot or nil; pop releases it. Consumer only.
func (r *ring) peek() *slot {
	h := r.head.Load()
	if h == r.tail.Load() {
		return nil
	}
	return &r.slots[h&r.mask]
}

func (r *ring) pop() { r.head.Store(r.head.Load() + 1) }
