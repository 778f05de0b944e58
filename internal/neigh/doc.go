// Package neigh is flowpath's neighbour subsystem: the table that maps a
// next hop (IPv4 via ARP, IPv6 via neighbour discovery) on a device to a
// link-layer address, with the Linux kernel's state machine
// (net/core/neighbour.c) and `ip neigh` semantics. It knows nothing about
// frame formats: the dataplane parses and builds ARP/NDP, tells the table
// what it received and what it needs, and sends the solicitations the table
// asks for.
//
// # Architecture
//
//	workers (N goroutines, packet path)             manager (Run/Poll, control side)
//	  Table.Lookup(dev, ip) ── lock-free read ───►  slot array (single writer)
//	  Miss / UsedStale / Confirm ─► per-worker ───►  drains rings, runs the state machine,
//	                              SPSC ring          timers and GC, publishes changes,
//	  Pending (per worker): packets that wait        calls SolicitFunc; Add/Del/Flush/Dump
//	    Resolve: ready(p, mac) / failed(p)           take the same mutex (never the workers)
//
// The packet path never locks, allocates or blocks. A worker's recipe:
//
//	mac, st, ok := t.Lookup(dev, nh)
//	switch {
//	case ok && st.Valid():                  // REACHABLE, STALE, DELAY, PROBE, static
//		if st == neigh.Stale { t.UsedStale(w, dev, nh) }
//		send(p, mac)
//	default:                                 // none, INCOMPLETE, FAILED
//		if old := q.Push(dev, nh, p); old != nil { drop(old) }
//		t.Miss(w, dev, nh)                   // creates / restarts resolution; no-op while INCOMPLETE
//	}
//	...once per loop iteration:
//	q.Resolve(t, t.Now(), sendWithMAC, icmpUnreachableAndFree)
//
// and for received ARP/NDP: t.Confirm(w, dev, sender, mac, flags).
//
// # Why a slot array and not an immutable map
//
// The read side is an open-addressing table of slots whose words are all
// atomics (see fast.go). A key is written once, before the slot is marked
// used, and never rewritten while that array is in use; the value (MAC,
// state, failure round) is one 64-bit word. So Lookup is a hash and a short
// probe with plain atomic loads: no seqlock, no retry loop, nothing a
// preempted writer can stall. On the development VM it takes about 12 ns
// with one entry and 20 ns with 1000 (a Go map lookup of the same key: about
// 47 ns; BenchmarkLookup, BenchmarkLookupGoMap), with no allocation.
//
// An atomic pointer to an immutable map replaced per change was the simpler
// alternative, but the neighbour table changes all the time in steady state:
// every entry goes REACHABLE → STALE → DELAY → PROBE → REACHABLE about once
// per reachable_time, and each change would copy up to gc_thresh3 entries
// and leave the copy to the garbage collector, whose pauses the packet path
// then pays for. Here a change is one atomic store; only deletions leave
// tombstones, reclaimed by an occasional rebuild published through one
// atomic pointer (the single-copy case the map would pay every time).
//
// # Events
//
// Each worker has its own bounded single-producer single-consumer ring:
// no contention between workers, and no channel. A full ring drops the event
// and counts it (Stats.EventDrops): a lost Miss or UsedStale is posted again
// by the next packet, a lost Confirm is the same as a lost frame. Repeated
// Miss/UsedStale events for one neighbour that the manager has not read yet
// are posted once. The manager drains every ring each PollInterval (500 µs),
// so resolution starts within about a millisecond of the first packet.
//
// # Pending packets and failure
//
// Packets wait in the worker's own Pending queue (bounded in total and per
// neighbour; the oldest is dropped first, as the kernel does). Resolve
// compares the table's generation counter with the one it last saw and does
// nothing else when they match. A FAILED entry carries a failure round; a
// packet fails when its neighbour fails in a later round than the one it
// first saw, so packets that arrive at a FAILED entry restart resolution
// (as in the kernel, where the next packet to a FAILED neighbour makes it
// INCOMPLETE again) and wait for that new attempt.
//
// # State machine (kernel semantics)
//
//	         Miss                Confirm (solicited)
//	(none) ───────► INCOMPLETE ──────────────────► REACHABLE ◄─────────────┐
//	                  │                                 │                   │
//	  mcast_solicit   │                  reachable_time │                   │ Confirm
//	  probes, retrans │                     unconfirmed ▼                   │ (solicited)
//	  apart, no reply │                               STALE ────────────────┤
//	                  ▼                                 │ used (UsedStale)  │
//	  Miss ◄──────── FAILED                             ▼                   │
//	  (restarts       ▲                               DELAY ────────────────┤
//	   INCOMPLETE)    │                                 │ delay_first_      │
//	                  │  ucast_solicit probes           ▼ probe_time        │
//	                  └──── unanswered ─────────────  PROBE ────────────────┘
//
// FAILED entries and STALE ones left unused are garbage-collected.
//
// Confirm follows neigh_update: an ARP request for us or an NS with a source
// address creates/updates STALE; a solicited reply/NA makes REACHABLE; an
// unsolicited one with the same address changes nothing; with a different
// address it replaces the cached one if allowed (NDP: O flag, otherwise a
// REACHABLE entry only becomes STALE; ARP: after locktime or for gratuitous
// ARP). PERMANENT and NOARP entries change only by Add/Del.
//
// Garbage collection is per family as in the kernel: a periodic pass every
// base_reachable_time/2 (once the family has gc_thresh1 entries) removes
// FAILED entries and entries unused for gc_stale_time that are not in a
// timer state; creating an entry at gc_thresh2 (at most every 5 s) or
// gc_thresh3 forces a pass over the oldest entries; at gc_thresh3 a new
// entry is refused if that frees nothing (Stats.TableFulls).
//
// # Deviations from the kernel, and why
//
//   - Workers report the use of an entry only when it is STALE (UsedStale)
//     or unusable (Miss); the kernel updates `used` on every packet sent
//     through a non-connected entry. Used therefore means "last use the
//     manager learned of". The kernel does not update it for REACHABLE
//     entries either, so the REACHABLE → DELAY/STALE decision is the same.
//   - NOARP entries are static here, like PERMANENT ones: not counted against
//     the GC thresholds and never collected. The kernel collects unused NOARP
//     entries, which it mostly creates itself for NOARP devices and
//     recreates on demand; without per-packet use tracking, collecting a
//     user's static entry could not be told apart from collecting a busy one.
//   - No app_solicit (there is no user-space resolver to ask) and no proxy
//     entries. Add cannot set INCOMPLETE (the kernel accepts it and leaves an
//     entry that never resolves).
//   - Add refuses an entry at gc_thresh3 with ENOSPC; the kernel says ENOBUFS,
//     which flowpath/internal/errs does not have.
package neigh
