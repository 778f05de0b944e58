// Package fdb is the forwarding database of one VXLAN device: which remote
// VTEP(s) a frame for an inner destination MAC is sent to, learned from
// received frames or configured with `bridge fdb`. It follows the kernel's
// drivers/net/vxlan (vxlan_fdb_*, vxlan_snoop, vxlan_cleanup) and iproute2's
// `bridge fdb` semantics (spec/kernel-semantics.md §3.3 step 11, §3.4, §3.6).
// It knows nothing about frames: the dataplane parses, encapsulates, floods
// and drops; the table answers and counts.
//
// # Architecture
//
//	workers (packet path, N goroutines)            manager (Run/Poll) + control
//	  transmit: Lookup(dstMAC, vni) ─ lock-free ─►  slot array (one writer at a time,
//	     miss → Lookup(00:00:00:00:00:00, vni)       under a mutex the workers never take)
//	     → one copy per remote (flooding)            ▲
//	  receive:  Learn(w, srcMAC, vni, outer src)    │ create / migrate (events),
//	     drop? ── static entry elsewhere,            │ ageing every 10 s,
//	              invalid source MAC                 │ Add / Del / Dump / FlushDynamic
//	     new or moved source ─► per-worker ring ─────┘
//
// Lookup and Learn never lock, allocate or block. A miss in Lookup returns
// nothing: the caller looks the all-zero MAC up itself, and drops (counting
// tx_dropped) if that misses too; with several remotes it sends a copy to
// each (that is how `bridge fdb append 00:00:00:00:00:00 ... dst X` floods).
//
// # Why a slot array of immutable values
//
// Lookup is a seeded hash of (MAC, VNI) and a short linear probe in an
// open-addressing array whose words are atomics (slots.go); the value is a
// pointer to an immutable dest holding the remotes, so the slice Lookup
// returns needs no copy and stays valid. A change publishes one new dest
// (the size of the entry); only growth, shrinking and tombstone reclamation
// rebuild the array, published by one atomic pointer store. So the cost per
// frame does not depend on the number of entries or VNIs (the scale
// target). On the development VM (BenchmarkLookup, noisy, medians): a hit
// on a few hot MACs takes about 10 ns with 1 entry and 8-9 ns with 100,000;
// a miss about 6 ns either way. Keys spread over all 100,000 entries take
// about 18 ns (2x): the 10 MB slot array no longer fits in L2, so that
// difference is cache misses, not work. No allocation. An immutable map
// copied per change would cost O(n) per learned MAC, which at 100,000
// entries and a learning rate of thousands per second is not an option.
//
// # Learning (vxlan_snoop), split in two
//
// The worker decides what it can from the current snapshot: same remote →
// nothing; static entry (permanent or noarp) with another remote → drop the
// frame; multicast or zero source MAC → drop; otherwise post an event to its
// own bounded single-producer ring (a full ring drops the event and counts
// it; the next frame posts again; a burst from one new source posts once).
// The manager drains the rings every PollInterval and decides again under
// the lock: create a REACHABLE entry with the device's default port and VNI
// (ENOSPC at MaxAddress is counted as TableFull, the frame is not dropped),
// or migrate a dynamic entry to the new remote. Until then, frames to the
// new MAC follow the all-zero entry, as they did a moment before.
//
// # Time
//
// Entries carry Updated (the last change, or the last frame received from
// the MAC) and Used (the last transmit lookup). Workers do not read the
// clock: Poll publishes the table time, and a worker stores it into an
// entry's timestamp only when it is a second or more newer, so a busy entry
// costs one shared write per second rather than one per frame. Timestamps
// therefore lag by up to a second plus a poll interval.
//
// Ageing follows the current kernel (6.15+, "vxlan: Age out FDB entries
// based on 'updated' time"): dynamic entries whose Updated is Ageing old are
// removed; transmitting to a MAC does not keep it alive, receiving from it
// does. (Older kernels aged on `used`, which both directions refreshed.) The
// collector runs every 10 s, or sooner when an entry expires sooner, but at
// most once a second.
//
// # Deviations from the kernel, and why
//
//   - An add that fails changes nothing. The kernel sets the new state of an
//     existing all-zero/multicast entry before refusing `replace` with
//     EOPNOTSUPP.
//   - Migration moves the remote's address and ifindex; the kernel moves only
//     the address, so an entry whose `via` differs from the receiving
//     device's (IPv6 link-local sources) would be "migrated" by every frame.
//   - No nexthop-group entries (NDA_NH_ID), no extern_learn, no router/RSC
//     flag, no L2MISS/L3MISS notifications (not needed: flowpath has no
//     user-space resolver listening).
//   - Remotes and src_vni of 2^24 or more are refused (EINVAL); the kernel
//     stores them and truncates on the wire.
//   - Checking that a `via` device exists (EADDRNOTAVAIL) is the caller's job.
package fdb
