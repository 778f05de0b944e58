package fdb

import (
	"math/bits"
	"sync/atomic"
)

// The packet-path view of the table: an open-addressing hash table (linear
// probing) of slots whose words are all atomics. One writer (holding
// Table.mu) and any number of lock-free readers.
//
//	slot:  key      | dead(1) | live(1) | 0... | MAC(48) |   0 = never used
//	       vni      | VNI (24 bits; 0 on classic devices)
//	       d        → dest: state, learned, remotes (immutable)
//	       used     last transmit lookup (ns, coarse)
//	       updated  last change / last frame from the MAC (ns, coarse)
//
// A slot's key (key without the dead bit, and vni) is written before key is
// stored and never changes while the slot array is in use: deleting sets the
// dead bit (a tombstone readers probe past) and a tombstone is only revived
// for the same key. So a reader that sees the live key it wants also sees
// the matching vni, and the entry's value is one pointer to an immutable
// dest: no seqlock, no retry, nothing a preempted writer can stall. A change
// of remotes or state publishes a new dest (one allocation, the size of the
// entry, never a copy of the table). Tombstones are reclaimed, and the array
// grown or shrunk, by rebuilding into a fresh array published with one atomic
// pointer store; readers still on the old array finish on a consistent,
// slightly old copy.
//
// used and updated live in the slot, not in dest, so that a worker refreshes
// them without the writer: each is stored only when the coarse clock has
// moved on by a second or more since the value it holds, so a busy entry
// costs one shared-cache-line write per second, not one per packet.
type slot struct {
	key     atomic.Uint64
	vni     atomic.Uint32
	_       uint32
	d       atomic.Pointer[dest]
	used    atomic.Int64
	updated atomic.Int64
}

// dest is an entry's value. It is immutable once published: Lookup returns
// remotes to the packet path without copying.
type dest struct {
	remotes []Remote // len ≥ 1, cap == len
	state   State
	learned bool
	one     [1]Remote // backing array of remotes in the common one-remote case
}

func newDest(st State, learned bool, rs []Remote) *dest {
	d := &dest{state: st, learned: learned}
	if len(rs) == 1 {
		d.one[0] = rs[0]
		d.remotes = d.one[:1:1]
	} else {
		d.remotes = make([]Remote, len(rs))
		copy(d.remotes, rs)
	}
	return d
}

type slots struct {
	s    []slot
	mask uint64
	seed uint64
	used int // live + dead (writer only)
	dead int // writer only
}

const (
	keyLive = 1 << 62
	keyDead = 1 << 63

	minSlots = 16
)

func macWord(m [6]byte) uint64 {
	return uint64(m[0])<<40 | uint64(m[1])<<32 | uint64(m[2])<<24 |
		uint64(m[3])<<16 | uint64(m[4])<<8 | uint64(m[5]) | keyLive
}

func wordMAC(k uint64) [6]byte {
	return [6]byte{byte(k >> 40), byte(k >> 32), byte(k >> 24), byte(k >> 16), byte(k >> 8), byte(k)}
}

// hash is seeded per table so that source MACs chosen by a remote sender
// cannot be aimed at one probe chain. One 64×64→128 multiply folded
// (wyhash's "mum") mixes every key bit into the low bits the index uses.
func hash(seed, key uint64, vni uint32) uint64 {
	h, l := bits.Mul64(key^seed, uint64(vni)^seed^0xe7037ed1a0b428db)
	return h ^ l
}

func newSlots(n int, seed uint64) *slots {
	size := nextPow2(uint64(n))
	if size < minSlots {
		size = minSlots
	}
	return &slots{s: make([]slot, size), mask: size - 1, seed: seed}
}

// find is the lock-free read: the index of the live slot with this key, or
// -1. The probe is bounded by the table size; the writer keeps at least half
// the slots empty, so it is short.
func (t *slots) find(key uint64, vni uint32) int {
	i := hash(t.seed, key, vni) & t.mask
	for n := uint64(0); n <= t.mask; n++ {
		s := &t.s[i]
		k := s.key.Load()
		if k == 0 {
			return -1
		}
		if k == key && s.vni.Load() == vni {
			return int(i)
		}
		i = (i + 1) & t.mask
	}
	return -1
}

// hasRoom reports whether one more insert keeps the load at most one half.
func (t *slots) hasRoom() bool { return uint64(t.used+1) <= (t.mask+1)/2 }

// insert places a key the writer knows is not live and returns its slot. A
// tombstone of the same key is revived in place (it lies before the first
// empty slot of the key's probe chain, since slots never become empty
// again); otherwise the first empty slot is filled. Value before key.
func (t *slots) insert(key uint64, vni uint32, d *dest, now int64) int {
	i := hash(t.seed, key, vni) & t.mask
	for {
		s := &t.s[i]
		k := s.key.Load()
		if k == 0 {
			s.vni.Store(vni)
			s.used.Store(now)
			s.updated.Store(now)
			s.d.Store(d)
			s.key.Store(key)
			t.used++
			return int(i)
		}
		if k == key|keyDead && s.vni.Load() == vni {
			s.used.Store(now)
			s.updated.Store(now)
			s.d.Store(d)
			s.key.Store(key)
			t.dead--
			return int(i)
		}
		i = (i + 1) & t.mask
	}
}

// remove makes slot i a tombstone. A reader that saw it live just before
// finds d nil and reports a miss.
func (t *slots) remove(i int) {
	s := &t.s[i]
	s.key.Store(s.key.Load() | keyDead)
	s.d.Store(nil)
	t.dead++
}

func (t *slots) live() int { return t.used - t.dead }

// needsCompaction: tombstones lengthen every miss's probe; once they
// outnumber live entries (and are a noticeable share) it is time to rebuild.
func (t *slots) needsCompaction() bool {
	return t.dead > t.live() && uint64(t.dead) >= (t.mask+1)/8
}

// rebuilt returns a fresh array holding t's live slots, sized for about a
// third full. Timestamps a worker stores into t after they were copied are
// lost: at most one second of freshness, and only during a rebuild.
func (t *slots) rebuilt(extra int) *slots {
	live := t.live()
	n := newSlots(3*(live+extra), t.seed)
	for i := range t.s {
		s := &t.s[i]
		k := s.key.Load()
		if k == 0 || k&keyDead != 0 {
			continue
		}
		j := n.insert(k, s.vni.Load(), s.d.Load(), 0)
		ns := &n.s[j]
		ns.used.Store(s.used.Load())
		ns.updated.Store(s.updated.Load())
	}
	return n
}
