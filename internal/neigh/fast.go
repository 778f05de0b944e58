package neigh

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
	"sync/atomic"
)

// The packet-path view of the table: an open-addressing hash table (linear
// probing) of fixed-size slots whose words are all atomics. One writer (the
// manager, under Table.mu) and any number of lock-free readers.
//
//	slot:  ctl  | dev(32) | 0 ... | v6 | dead | used |   0 = empty
//	       hi   | address bits 0..63   (0 for IPv4)
//	       lo   | address bits 64..127 (IPv4 in the low 32 bits)
//	       val  | MAC(48) | round(8) | state(8) |
//
// A slot's key (ctl without the dead bit, hi, lo) is written once, before
// ctl is stored, and never changes while the slot array is in use: deleting
// sets the dead bit (a tombstone readers probe past), and a tombstone is
// only reused for the same key. So a reader that sees a live ctl equal to
// the one it wants also sees the matching hi/lo, and the value is a single
// atomic word: no seqlock, no retry loop, nothing a preempted writer can
// stall. Tombstones are reclaimed by rebuilding into a fresh array that is
// published with one atomic pointer store; readers still on the old array
// finish on a consistent (slightly old) copy.
type slot struct {
	ctl atomic.Uint64
	hi  atomic.Uint64
	lo  atomic.Uint64
	val atomic.Uint64
}

type slots struct {
	s    []slot
	mask uint64
	seed uint64
	used int // live + dead (writer only)
	dead int // writer only
}

const (
	ctlUsed = 1 << 0
	ctlDead = 1 << 1
	ctlV6   = 1 << 2

	minSlots = 16
)

// keyWords turns a key into the words stored in a slot. Zones are ignored.
// The byte order only has to be consistent: little-endian reads of the
// big-endian bytes netip produces compile to plain loads.
func keyWords(dev uint32, a netip.Addr) (ctl, hi, lo uint64) {
	ctl = uint64(dev)<<32 | ctlUsed
	if a.Is4() {
		b := a.As4()
		return ctl, 0, uint64(binary.LittleEndian.Uint32(b[:]))
	}
	b := a.As16()
	return ctl | ctlV6, binary.LittleEndian.Uint64(b[:8]), binary.LittleEndian.Uint64(b[8:])
}

// hashKey is seeded per table so that addresses chosen by a remote sender
// cannot be aimed at one probe chain. One 64×64→128 multiply folded
// (wyhash's "mum") mixes all key bits into the low bits the index uses.
func hashKey(seed, ctl, hi, lo uint64) uint64 {
	h, l := bits.Mul64(lo^seed, hi^ctl^seed^0xe7037ed1a0b428db)
	return h ^ l
}

func packVal(mac [6]byte, round uint8, st State) uint64 {
	return uint64(mac[0])<<56 | uint64(mac[1])<<48 | uint64(mac[2])<<40 |
		uint64(mac[3])<<32 | uint64(mac[4])<<24 | uint64(mac[5])<<16 |
		uint64(round)<<8 | uint64(uint8(st))
}

func valMAC(v uint64) [6]byte {
	return [6]byte{byte(v >> 56), byte(v >> 48), byte(v >> 40), byte(v >> 32), byte(v >> 24), byte(v >> 16)}
}

func valState(v uint64) State { return State(uint8(v)) }
func valRound(v uint64) uint8 { return uint8(v >> 8) }

func newSlots(n int, seed uint64) *slots {
	size := nextPow2(uint64(n))
	if size < minSlots {
		size = minSlots
	}
	return &slots{s: make([]slot, size), mask: size - 1, seed: seed}
}

// find is the lock-free read. It never allocates; the probe is bounded by
// the table size, and the writer keeps at least half the slots empty.
func (t *slots) find(ctl, hi, lo uint64) (uint64, bool) {
	i := hashKey(t.seed, ctl, hi, lo) & t.mask
	for n := uint64(0); n <= t.mask; n++ {
		s := &t.s[i]
		c := s.ctl.Load()
		if c == 0 {
			return 0, false
		}
		if c == ctl && s.hi.Load() == hi && s.lo.Load() == lo {
			return s.val.Load(), true
		}
		i = (i + 1) & t.mask
	}
	return 0, false
}

// hasRoom reports whether one more insert keeps the load at most one half.
func (t *slots) hasRoom() bool { return uint64(t.used+1) <= (t.mask+1)/2 }

// insert places a key the writer knows is not live, and returns its slot.
// A tombstone of the same key is revived in place; otherwise the first empty
// slot of the probe chain is filled, value and key before ctl.
func (t *slots) insert(ctl, hi, lo, val uint64) int {
	i := hashKey(t.seed, ctl, hi, lo) & t.mask
	for {
		s := &t.s[i]
		c := s.ctl.Load()
		if c == 0 {
			s.hi.Store(hi)
			s.lo.Store(lo)
			s.val.Store(val)
			s.ctl.Store(ctl)
			t.used++
			return int(i)
		}
		if c == ctl|ctlDead && s.hi.Load() == hi && s.lo.Load() == lo {
			s.val.Store(val)
			s.ctl.Store(ctl)
			t.dead--
			return int(i)
		}
		i = (i + 1) & t.mask
	}
}

func (t *slots) store(i int, val uint64) { t.s[i].val.Store(val) }

func (t *slots) load(i int) uint64 { return t.s[i].val.Load() }

func (t *slots) remove(i int) {
	s := &t.s[i]
	s.ctl.Store(s.ctl.Load() | ctlDead)
	t.dead++
}

// needsCompaction: tombstones lengthen every miss's probe; once they
// outnumber live entries (and are a noticeable share) it is time to rebuild.
func (t *slots) needsCompaction() bool {
	live := t.used - t.dead
	return t.dead > live && uint64(t.dead) >= (t.mask+1)/8
}
