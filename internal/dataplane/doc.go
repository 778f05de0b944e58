// Package dataplane is the engine: devices, workers and the packet path.
//
// One worker goroutine per receive queue runs every packet of its batch to
// completion through the pipeline below, then flushes its transmit batches.
// Workers share nothing mutable: the configuration comes from an immutable
// Snapshot loaded once per batch from an atomic pointer (the control plane
// publishes a new one for every change and waits only for the workers in
// the middle of a batch, not for those waiting for frames), the neighbour
// table is read
// lock-free, and each worker owns its packet pool, its transmit queues
// (index = worker id on every port), its pending-resolution queue and its
// counters.
//
//	Receive(batch) ─► ethernet input ─┬─► ARP ──────────────► neighbour events, ARP replies
//	 InPort set,       (dst MAC ours   ├─► IPv6 ND (NS/NA) ──► neighbour events, NA replies
//	 counters          or multicast)   ├─► IPv4 input ─┐
//	                                   └─► IPv6 input ─┤  header checks, martians
//	                                                   ▼
//	                         FIB lookup: rules → table → route (ECMP by flow hash)
//	             local ◄─────────┤ unicast           └─► blackhole / unreachable / prohibit
//	  echo reply, ICMP errors    ▼                           (counted, ICMP errors)
//	  (built in place, routed    forward: TTL/hop limit, MTU (frag-needed / too-big,
//	   like any local packet)    or IPv4 fragmentation), TTL decrement
//	                             ▼
//	                neighbour lookup ─ miss ─► pending queue (per worker) + solicit
//	                             ▼ hit
//	                L2 rewrite ─► GSO kept (port takes it) or segmented / checksummed
//	                             ▼
//	                per-device transmit batch ─► port.TxQueue(worker).Transmit
//
// Nothing on this path allocates, locks or returns an error: every packet
// ends transmitted, queued for resolution, or freed with a DropReason
// counted on the worker and the device.
package dataplane
