package dataplane

import "sync/atomic"

// devCounters are one worker's counters for one device. Only the owning
// worker writes them (atomically, so readers are race-free); nothing is
// shared between workers, so the adds never contend.
type devCounters struct {
	rxPackets, rxBytes atomic.Uint64
	txPackets, txBytes atomic.Uint64
	rxDropped          atomic.Uint64
	txDropped          atomic.Uint64
	drops              [numDropReasons]atomic.Uint64
}

// workerCounters are everything one worker counts.
type workerCounters struct {
	packets, batches atomic.Uint64
	drops            [numDropReasons]atomic.Uint64
	icmpSent         atomic.Uint64
	icmpRateLimited  atomic.Uint64
	coalesced        atomic.Uint64 // segments merged by gso.Coalesce
	cpu              atomic.Int32  // the CPU a following worker is bound to; -1: not bound
	cpuMoves         atomic.Uint64 // times it moved
	dev              [MaxDevices]devCounters
}

func newWorkerCounters() *workerCounters {
	c := new(workerCounters)
	c.cpu.Store(-1)
	return c
}

// DeviceStats are a device's counters summed over workers.
type DeviceStats struct {
	RxPackets, RxBytes, RxDropped uint64
	TxPackets, TxBytes, TxDropped uint64
}
