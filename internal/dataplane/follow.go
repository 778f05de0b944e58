package dataplane

import (
	"time"

	"flowpath/internal/port"
)

// cpuFollower keeps a worker's thread on the CPU its frames arrive on,
// which for a veth or a TAP is the CPU its sender runs on.
//
// Why: the kernel forwards in the softirq of the sender's CPU, so a
// flooding sender pays for the forwarding and slows down, and the receiver
// has the other CPUs to itself. A worker placed anywhere by the scheduler
// lets the sender run at full speed and competes with the receiver
// instead, whose socket then overflows: at iperf3's -b 0 on two CPUs,
// 30-37 % of 64-byte datagrams were lost that way, 1-3 % with the worker
// following its sender.
//
//	sender (CPU k) ─ veth ─ packet socket: filter counts[k]++ ─ ring
//	                                                             │
//	worker: every followEvery, the CPU with the most arrivals ◄──┘
//	        since the last look ── at least twice the bound CPU's ──► bind there
//
// Frames of a flow stay in one queue and one worker whatever CPU the
// sender moves to, so following never reorders (per-CPU queues did).
type cpuFollower struct {
	counts port.CPUCounts
	bind   func(cpu int) error // sys.SetThreadCPU; a fake in tests
	last   [maxFollowCPUs]uint64
	next   int64 // worker clock of the next look
	cpu    int   // the CPU the thread is bound to, -1 before the first
	moves  uint64
}

const (
	// followEvery is how often the counts are looked at: 200 us to 2 ms
	// all worked; at 2 ms a moving sender ran away from its worker for
	// long enough to lose 3-5 % again.
	followEvery = int64(500 * time.Microsecond)
	// followMinFrames is the fewest arrivals in one look that move the
	// worker: a trickle is no reason to move.
	followMinFrames = 16
	// maxFollowCPUs bounds the CPUs looked at (the counts of CPUs beyond
	// are not looked at).
	maxFollowCPUs = 256
)

func (f *cpuFollower) init(c port.CPUCounts, bind func(cpu int) error) {
	f.counts, f.bind, f.cpu = c, bind, -1
	for i := 0; i < min(c.NumCPU(), maxFollowCPUs); i++ {
		f.last[i] = c.Count(i)
	}
}

// check moves the thread when it is time to look and another CPU received
// at least followMinFrames and twice what the bound CPU did. It reports
// whether it moved. No allocation.
func (f *cpuFollower) check(now int64) bool {
	if now < f.next {
		return false
	}
	f.next = now + followEvery
	best, bestN, cur := -1, uint64(0), uint64(0)
	for i := 0; i < min(f.counts.NumCPU(), maxFollowCPUs); i++ {
		v := f.counts.Count(i)
		d := v - f.last[i]
		f.last[i] = v
		if d > bestN {
			best, bestN = i, d
		}
		if i == f.cpu {
			cur = d
		}
	}
	if best < 0 || best == f.cpu || bestN < followMinFrames || bestN < 2*cur {
		return false
	}
	if f.bind(best) != nil {
		return false
	}
	f.cpu = best
	f.moves++
	return true
}
