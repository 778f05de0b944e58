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
// Only a flood is followed: a bulk TCP transfer arrives as a few tens of
// thousands of super-frames a second, and there the sender's CPU is the
// bottleneck; sharing it cost 10-15 % of TCP throughput. So a worker
// moves only when the busiest CPU sent at least followMinFrames since the
// last look (64,000 frames a second), and a bound worker whose arrivals
// stay below that for followIdleLooks looks in a row is let go to any CPU.
//
// Frames of a flow stay in one queue and one worker whatever CPU the
// sender moves to, so following never reorders (per-CPU queues did).
type cpuFollower struct {
	counts port.CPUCounts
	bind   func(cpu int) error // sys.SetThreadCPU (-1: any CPU); a fake in tests
	last   [maxFollowCPUs]uint64
	next   int64 // worker clock of the next look
	cpu    int   // the CPU the thread is bound to, -1 when not bound
	quiet  int   // looks in a row below followMinFrames while bound
	moves  uint64
}

const (
	// followEvery is how often the counts are looked at: 200 us to 2 ms
	// all worked; at 2 ms a moving sender ran away from its worker for
	// long enough to lose 3-5 % again.
	followEvery = int64(500 * time.Microsecond)
	// followMinFrames is the fewest arrivals from one CPU in one look
	// that move the worker (64,000 frames a second: a flood of small
	// frames, not a bulk transfer of super-frames).
	followMinFrames = 32
	// followIdleLooks is how many looks in a row under followMinFrames
	// let a bound worker go (5 ms).
	followIdleLooks = 10
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
// at least followMinFrames and twice what the bound CPU did, and unbinds
// it after followIdleLooks quiet looks. It reports whether the binding
// changed. No allocation.
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
	if bestN < followMinFrames {
		if f.cpu < 0 {
			return false
		}
		if f.quiet++; f.quiet < followIdleLooks || f.bind(-1) != nil {
			return false
		}
		f.cpu, f.quiet = -1, 0
		return true
	}
	f.quiet = 0
	if best == f.cpu || bestN < 2*cur || f.bind(best) != nil {
		return false
	}
	f.cpu = best
	f.moves++
	return true
}
