package sys

import (
	"sync/atomic"
	"time"
)

// Gate makes it safe to close file descriptors and unmap rings while
// packet-path goroutines may be using them, without a lock on the packet
// path. Each queue has a Slot; its single user brackets every use with
// Enter/Exit. Close marks the gate closed (new Enters fail) and Wait blocks
// until every slot is idle, after which the resources can go.
//
// Enter stores busy then loads closed; Close stores closed then Wait loads
// busy. Go atomics are sequentially consistent, so at least one side sees
// the other: either Enter fails, or Wait waits for the matching Exit.
type Gate struct {
	closed atomic.Bool
	slots  []*Slot
}

// Slot is one queue's claim on a Gate.
type Slot struct {
	_    [64]byte // keep busy off the cache lines of its neighbours
	busy atomic.Bool
	_    [63]byte
	g    *Gate
}

// NewSlot adds a slot. Control plane only, before the gate is shared.
func (g *Gate) NewSlot() *Slot {
	s := &Slot{g: g}
	g.slots = append(g.slots, s)
	return s
}

// Enter claims the slot; it reports false once the gate is closed.
func (s *Slot) Enter() bool {
	s.busy.Store(true)
	if s.g.closed.Load() {
		s.busy.Store(false)
		return false
	}
	return true
}

// Exit releases the slot.
func (s *Slot) Exit() { s.busy.Store(false) }

// Closed reports whether Close was called.
func (g *Gate) Closed() bool { return g.closed.Load() }

// Close marks the gate closed. It reports false if it already was.
func (g *Gate) Close() bool { return !g.closed.Swap(true) }

// Wait blocks until no slot is in use. Users must leave promptly once the
// gate is closed (wake them first: an eventfd in their poll set).
func (g *Gate) Wait() {
	for _, s := range g.slots {
		for s.busy.Load() {
			time.Sleep(50 * time.Microsecond)
		}
	}
}
