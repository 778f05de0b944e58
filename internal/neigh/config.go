package neigh

import (
	"math/rand/v2"
	"time"
)

// Config holds the table's parameters. The defaults are the kernel's
// (net.ipv4.neigh.default.* / net.ipv6.neigh.default.*). Every threshold
// applies to each address family separately, as the kernel has one table
// for ARP and one for ND.
type Config struct {
	// GCThresh1: below this many entries (of a family) the periodic
	// collector does nothing. GCThresh2: creating an entry at or above it
	// runs a forced collection if none ran in the last 5 s. GCThresh3:
	// at or above it a new entry is refused unless a forced collection frees
	// one. Permanent and NoARP entries are not counted against 2 and 3.
	GCThresh1, GCThresh2, GCThresh3 int

	BaseReachable   time.Duration // reachable_time is random in [0.5, 1.5) × this
	DelayFirstProbe time.Duration // DELAY lasts this long before probing
	Retrans         time.Duration // interval between solicitations (at least 10 ms)
	GCStale         time.Duration // unused STALE entries older than this are collected
	Locktime        time.Duration // ARP: a different address within this is ignored

	UcastSolicit   int // unicast probes in PROBE (ucast_solicit)
	McastSolicit   int // broadcast/multicast probes in INCOMPLETE (mcast_solicit)
	McastResolicit int // broadcast probes after the unicast ones in PROBE (mcast_resolicit)

	// QueueLen is the number of packets a Pending queue should hold per
	// neighbour (the kernel's unres_qlen_bytes 212992 ≈ 101 frames).
	// Informational for the engine, which passes it to NewPending.
	QueueLen int

	// RingSize is the capacity of each worker's event ring (power of two).
	RingSize int
	// PollInterval is how often Run drains the rings and runs timers.
	PollInterval time.Duration

	// Now returns monotonic nanoseconds. nil: the process's monotonic clock.
	Now func() int64
	// Rand draws randomness for reachable_time. nil: math/rand/v2.
	Rand func() uint64
}

// DefaultConfig returns the kernel's defaults.
func DefaultConfig() Config {
	return Config{
		GCThresh1:       128,
		GCThresh2:       512,
		GCThresh3:       1024,
		BaseReachable:   30 * time.Second,
		DelayFirstProbe: 5 * time.Second,
		Retrans:         time.Second,
		GCStale:         60 * time.Second,
		Locktime:        time.Second,
		UcastSolicit:    3,
		McastSolicit:    3,
		McastResolicit:  0,
		QueueLen:        101,
		RingSize:        1024,
		PollInterval:    500 * time.Microsecond,
	}
}

var epoch = time.Now()

func monotonicNow() int64 { return int64(time.Since(epoch)) }

// normalize fills what the caller left unusable, so a zero Config is safe.
func (c *Config) normalize() {
	if c.Now == nil {
		c.Now = monotonicNow
	}
	if c.Rand == nil {
		c.Rand = rand.Uint64
	}
	if c.RingSize <= 0 {
		c.RingSize = 1024
	}
	c.RingSize = int(nextPow2(uint64(c.RingSize)))
	if c.PollInterval <= 0 {
		c.PollInterval = 500 * time.Microsecond
	}
	for _, p := range []*int{&c.GCThresh1, &c.GCThresh2, &c.GCThresh3, &c.UcastSolicit, &c.McastSolicit, &c.McastResolicit, &c.QueueLen} {
		if *p < 0 {
			*p = 0
		}
	}
	for _, d := range []*time.Duration{&c.BaseReachable, &c.DelayFirstProbe, &c.Retrans, &c.GCStale, &c.Locktime} {
		if *d < 0 {
			*d = 0
		}
	}
}

func nextPow2(n uint64) uint64 {
	p := uint64(1)
	for p < n {
		p <<= 1
	}
	return p
}
