package neigh

import (
	"math"
	"math/rand/v2"
	"net/netip"
	"sync/atomic"

	"flowpath/internal/pkt"
)

// DefaultMaxWait is how long a packet may wait for resolution before
// Resolve gives up on it. The kernel's resolution lasts mcast_solicit ×
// retrans_time = 3 s by default, after which the entry is FAILED and its
// queue dropped; the neighbour's state is to decide that here too, so the
// safety net waits one retransmission longer (with exactly 3 s it raced
// the manager, which sends the first solicitation after the packet came).
const DefaultMaxWait = int64(4e9)

// Pending holds one worker's packets that wait for a neighbour to resolve
// (the kernel's per-neighbour arp_queue). It belongs to that worker's
// goroutine: nothing in it is safe for concurrent use, except Discards. It
// is resolved against one Table.
// Its memory is allocated in NewPending; Push and Resolve never allocate.
//
//	neighbour queues (FIFO, ≤ perNeighbour each)      packet slots (capacity)
//	index[hash(dev,addr)] ─► qs[i]{head ─► slot ─► slot ─► tail}
//	                                        └ unst: first slot not yet seen by Resolve
//
// A packet leaves by exactly one door: Push's return value (evicted or
// refused), Resolve's ready or failed callback, or Drain.
type Pending struct {
	// MaxWait bounds a packet's wait in ns (DefaultMaxWait). It covers a
	// lost Miss event, a refused entry (table full) and a manager that does
	// not run; normally the neighbour's state decides first.
	MaxWait int64

	slots    []pslot
	free     int32 // free slot list, linked through next
	n        int
	perNeigh int32

	qs     []pqueue
	qfree  int32   // free queue list, linked through head
	active []int32 // queues in use, for iteration
	index  []int32 // open addressing, queue index + 1; 0 = empty
	imask  uint64
	seed   uint64

	gen         uint64 // Table generation at the last full pass
	dirty       bool   // pushed since the last full pass
	minDeadline int64

	discards atomic.Uint64
	folded   uint64 // discards already added to the table's counter
}

type pslot struct {
	p     *pkt.Packet
	stamp int64 // when Resolve first saw it
	next  int32
	round uint8 // the neighbour's failure round when first seen present
	known bool  // the neighbour was present when the packet was first seen (or since)
}

type pqueue struct {
	addr             netip.Addr
	ctl, hi, lo      uint64
	home             uint64
	dev              uint32
	head, tail, unst int32
	count            int32
	pos              int32 // in active
	islot            int32 // in index
	lastVal          uint64
	lastOK, seen     bool
}

// NewPending makes a queue for capacity packets in all and at most
// perNeighbour per neighbour.
func NewPending(capacity, perNeighbour int) *Pending {
	capacity = max(capacity, 1)
	perNeighbour = min(max(perNeighbour, 1), capacity)
	isize := nextPow2(uint64(2 * capacity))
	q := &Pending{
		MaxWait:  DefaultMaxWait,
		slots:    make([]pslot, capacity),
		perNeigh: int32(perNeighbour),
		qs:       make([]pqueue, capacity),
		active:   make([]int32, 0, capacity),
		index:    make([]int32, isize),
		imask:    isize - 1,
		seed:     rand.Uint64(),
	}
	for i := range q.slots {
		q.slots[i].next = int32(i + 1)
	}
	q.slots[capacity-1].next = -1
	for i := range q.qs {
		q.qs[i].head = int32(i + 1)
	}
	q.qs[capacity-1].head = -1
	return q
}

// Len is the number of packets waiting.
func (q *Pending) Len() int { return q.n }

// Discards counts packets Push evicted or refused. Safe from any goroutine.
func (q *Pending) Discards() uint64 { return q.discards.Load() }

// Push queues p for (dev, addr). It returns a packet the caller must drop
// (and count): the neighbour's oldest packet when its queue is full (the
// kernel drops the oldest too), or p itself when the whole Pending is full.
// Otherwise it returns nil. The caller should also call Table.Miss.
func (q *Pending) Push(dev uint32, addr netip.Addr, p *pkt.Packet) (evicted *pkt.Packet) {
	if p == nil {
		return nil
	}
	ctl, hi, lo := keyWords(dev, addr)
	qi := q.find(ctl, hi, lo)
	if qi >= 0 && q.qs[qi].count >= q.perNeigh {
		pq := &q.qs[qi]
		s := pq.head
		evicted = q.slots[s].p
		q.unlink(pq, -1, s)
		q.appendPkt(pq, p)
		q.discards.Add(1)
		return evicted
	}
	if q.n == len(q.slots) {
		q.discards.Add(1)
		return p
	}
	if qi < 0 {
		qi = q.newQueue(dev, addr, ctl, hi, lo)
	}
	q.appendPkt(&q.qs[qi], p)
	return nil
}

func (q *Pending) appendPkt(pq *pqueue, p *pkt.Packet) {
	s := q.free
	q.free = q.slots[s].next
	q.slots[s] = pslot{p: p, next: -1}
	if pq.tail < 0 {
		pq.head = s
	} else {
		q.slots[pq.tail].next = s
	}
	pq.tail = s
	if pq.unst < 0 {
		pq.unst = s
	}
	pq.count++
	q.n++
	q.dirty = true
}

// unlink removes slot s (whose predecessor is prev, -1 for the head) from
// pq and frees it; it returns the slot that followed s.
func (q *Pending) unlink(pq *pqueue, prev, s int32) int32 {
	nx := q.slots[s].next
	if prev < 0 {
		pq.head = nx
	} else {
		q.slots[prev].next = nx
	}
	if pq.tail == s {
		pq.tail = prev
	}
	if pq.unst == s {
		pq.unst = nx
	}
	pq.count--
	q.slots[s] = pslot{next: q.free}
	q.free = s
	q.n--
	return nx
}

// Queued returns how many packets wait for (dev, addr). The first packet
// to wait for a neighbour is the one whose own metadata a solicitation
// through a flow-based tunnel must carry.
func (q *Pending) Queued(dev uint32, addr netip.Addr) int {
	ctl, hi, lo := keyWords(dev, addr)
	if qi := q.find(ctl, hi, lo); qi >= 0 {
		return int(q.qs[qi].count)
	}
	return 0
}

func (q *Pending) find(ctl, hi, lo uint64) int32 {
	i := hashKey(q.seed, ctl, hi, lo) & q.imask
	for {
		v := q.index[i]
		if v == 0 {
			return -1
		}
		pq := &q.qs[v-1]
		if pq.ctl == ctl && pq.hi == hi && pq.lo == lo {
			return v - 1
		}
		i = (i + 1) & q.imask
	}
}

func (q *Pending) newQueue(dev uint32, addr netip.Addr, ctl, hi, lo uint64) int32 {
	qi := q.qfree
	pq := &q.qs[qi]
	q.qfree = pq.head
	home := hashKey(q.seed, ctl, hi, lo) & q.imask
	*pq = pqueue{addr: addr, ctl: ctl, hi: hi, lo: lo, home: home, dev: dev,
		head: -1, tail: -1, unst: -1, pos: int32(len(q.active))}
	q.active = append(q.active, qi)
	i := home
	for q.index[i] != 0 {
		i = (i + 1) & q.imask
	}
	q.index[i] = qi + 1
	pq.islot = int32(i)
	return qi
}

// dropQueue frees an empty queue: backward-shift deletion in the index (no
// tombstones), swap-remove from active.
func (q *Pending) dropQueue(qi int32) {
	pq := &q.qs[qi]
	i := uint64(pq.islot)
	q.index[i] = 0
	for j := (i + 1) & q.imask; q.index[j] != 0; j = (j + 1) & q.imask {
		v := q.index[j]
		k := q.qs[v-1].home
		// Move v back into the hole unless its home lies cyclically in (i, j].
		if (j > i && (k <= i || k > j)) || (j < i && k <= i && k > j) {
			q.index[i] = v
			q.qs[v-1].islot = int32(i)
			q.index[j] = 0
			i = j
		}
	}
	last := q.active[len(q.active)-1]
	q.active[pq.pos] = last
	q.qs[last].pos = pq.pos
	q.active = q.active[:len(q.active)-1]
	*pq = pqueue{head: q.qfree}
	q.qfree = qi
}

// Resolve hands every packet whose neighbour is now usable to ready (with
// the address to send to), and to failed every packet whose resolution is
// over: the neighbour went FAILED after the packet was queued, was removed
// after the packet saw it, or the packet waited MaxWait. failed should send
// the ICMP unreachable (or just free the packet). Neither callback may call
// q. Resolve costs two loads when nothing changed; now is the table's clock
// (Table.Now).
func (q *Pending) Resolve(t *Table, now int64, ready func(p *pkt.Packet, mac [6]byte), failed func(p *pkt.Packet)) {
	if d := q.discards.Load(); d != q.folded {
		t.unresDiscards.Add(d - q.folded)
		q.folded = d
	}
	if q.n == 0 {
		return
	}
	g := t.gen.Load()
	if g == q.gen && !q.dirty && now < q.minDeadline {
		return
	}
	q.gen, q.dirty = g, false
	fast := t.fastPtr.Load()
	minDL := int64(math.MaxInt64)
	for i := 0; i < len(q.active); {
		qi := q.active[i]
		pq := &q.qs[qi]
		v, ok := fast.find(pq.ctl, pq.hi, pq.lo)
		st := valState(v)
		if ok && st.Valid() {
			mac := valMAC(v)
			for s := pq.head; s >= 0; {
				p := q.slots[s].p
				s = q.unlink(pq, -1, s)
				ready(p, mac)
			}
			q.dropQueue(qi)
			continue
		}
		round := valRound(v)
		if !pq.seen || ok != pq.lastOK || v != pq.lastVal {
			// The neighbour changed: re-judge the packets seen before.
			prev := int32(-1)
			for s := pq.head; s >= 0 && s != pq.unst; {
				sl := &q.slots[s]
				fail := false
				switch {
				case !ok:
					fail = sl.known // it existed and is gone: deleted or collected
				case !sl.known:
					if st == Failed {
						fail = true // first seen already failed: the round it waited for
					} else {
						sl.round, sl.known = round, true
					}
				default:
					fail = st == Failed && sl.round != round
				}
				if fail {
					p := sl.p
					s = q.unlink(pq, prev, s)
					failed(p)
				} else {
					prev, s = s, sl.next
				}
			}
			pq.seen, pq.lastOK, pq.lastVal = true, ok, v
		}
		// Packets seen for the first time wait for the round after the
		// current one: a FAILED entry they found is restarted by their Miss.
		for s := pq.unst; s >= 0; s = q.slots[s].next {
			sl := &q.slots[s]
			sl.stamp = now
			sl.round, sl.known = round, ok
		}
		pq.unst = -1
		for pq.head >= 0 && now-q.slots[pq.head].stamp >= q.MaxWait {
			p := q.slots[pq.head].p
			q.unlink(pq, -1, pq.head)
			failed(p)
		}
		if pq.head < 0 {
			q.dropQueue(qi)
			continue
		}
		if dl := q.slots[pq.head].stamp + q.MaxWait; dl < minDL {
			minDL = dl
		}
		i++
	}
	q.minDeadline = minDL
}

// Drain hands every queued packet to fn and empties the queue (worker
// shutdown, device removal).
func (q *Pending) Drain(fn func(p *pkt.Packet)) {
	for len(q.active) > 0 {
		qi := q.active[len(q.active)-1]
		pq := &q.qs[qi]
		for s := pq.head; s >= 0; {
			p := q.slots[s].p
			s = q.unlink(pq, -1, s)
			fn(p)
		}
		q.dropQueue(qi)
	}
	q.dirty = false
}
