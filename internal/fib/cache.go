package fib

import (
	"encoding/binary"
	"net/netip"
	"sync/atomic"
)

// Cache remembers, for one reader, what a table's trie answered for an
// address: the node of the longest prefix covering it, or that none does.
// It sits between Lookup and the trie only; rules, nexthop choice, down
// devices and backtracking are evaluated on every lookup as before, so a
// cached lookup returns exactly what an uncached one would.
//
// Why: a trie lookup costs one dependent load per 8 bits of prefix, so the
// cost of a packet grows with how deep its route sits (a /32 among 100,000
// host routes is four levels, a default route one). A forwarding worker
// sees few destinations at a time; with them in the cache every lookup is
// one hash and at most two compares whatever the table holds.
//
// Validity: each published table version has a generation number of its
// own (tables untouched by a Txn keep theirs), and an entry is keyed by it.
// A new snapshot therefore misses only in the tables it changed, and an
// entry can never answer for another version. Entries hold node pointers,
// which keep only those nodes (not old tries) alive.
//
//	(table generation, address) ──hash──► set of 2 ──► node | none
//
// Two ways per set: with one, a few hundred live addresses in 1024 slots
// already collide often enough (a fifth of them) to keep evicting each
// other. A miss fills way 0 and moves its entry to way 1.
//
// When most lookups miss (traffic to ever new addresses: a scan, a flood
// of random destinations) the cache only adds work, so it steps aside:
// after 1024 misses with fewer than half as many hits it is bypassed for
// the next 65,536 lookups, then tried again.
//
// A Cache belongs to one goroutine (a dataplane worker): it is written on
// lookups without a lock. Its zero value is empty and ready. It is 64 KiB:
// allocate it on its own (new), not inside another struct, to have its
// sets on cache lines.
type Cache struct {
	e      [cacheSets][2]cacheEntry
	hits   uint64 // since the last verdict (64 bits: never wraps)
	misses uint32 // since the last verdict
	bypass uint32 // lookups left to send straight to the trie
}

// cacheSets is the number of sets. 2048 entries cover the working set of a
// busy worker.
const (
	cacheBits = 10
	cacheSets = 1 << cacheBits

	cacheVerdictMisses = 1024
	cacheBypassLookups = 1 << 16
)

// cacheEntry is 32 bytes, so that a set is one 64-byte cache line (a
// Cache allocated on its own is page aligned).
type cacheEntry struct {
	key    uint64 // table version << 1 | IPv6; 0 for an empty slot
	hi, lo uint64 // IPv6: the address's halves; IPv4: 0 and the address
	n      *node  // nil: no prefix of the table covers the address
}

// tableGen numbers table versions; the first is 1, so a zero key never
// matches.
var tableGen atomic.Uint64

func nextTableGen() uint64 { return tableGen.Add(1) }

// lookup is t.rt.Lookup(dst) through the cache. No allocation.
func (c *Cache) lookup(t *table, dst netip.Addr) (*node, bool) {
	if c.bypass > 0 {
		c.bypass--
		return t.rt.Lookup(dst)
	}
	set, key, hi, lo := c.slot(t.gen, dst)
	if e := c.find(set, key, 0, hi, lo); e != nil {
		return e.n, e.n != nil
	}
	n, ok := t.rt.Lookup(dst)
	if !ok {
		n = nil
	}
	set[1] = set[0]
	set[0] = cacheEntry{key: key, hi: hi, lo: lo, n: n}
	return n, ok
}

// slot is where dst's entry for version gen (of a table or a chain) lives,
// with the entry's key and address words. The set: Fibonacci hashing of
// the address bits (read in the machine's order: any fixed mixing does)
// folded with the version, so that the local and main tables' entries
// for one address differ.
func (c *Cache) slot(gen uint64, dst netip.Addr) (set *[2]cacheEntry, key, hi, lo uint64) {
	key = gen << 1
	if dst.Is4() {
		b := dst.As4()
		lo = uint64(binary.LittleEndian.Uint32(b[:]))
	} else {
		b := dst.As16()
		hi, lo = binary.LittleEndian.Uint64(b[:8]), binary.LittleEndian.Uint64(b[8:])
		key |= 1
	}
	return &c.e[((hi^lo^key<<40)*0x9e3779b97f4a7c15)>>(64-cacheBits)], key, hi, lo
}

// find returns the way of set that holds key (the bits of ignore aside)
// for the address hi, lo, counted as a hit; or nil, counted as a miss,
// after which the cache may step aside (see Cache).
func (c *Cache) find(set *[2]cacheEntry, key, ignore, hi, lo uint64) *cacheEntry {
	for i := range set {
		if e := &set[i]; e.key&^ignore == key && e.lo == lo && e.hi == hi {
			c.hits++
			return e
		}
	}
	if c.misses++; c.misses == cacheVerdictMisses {
		if c.hits < cacheVerdictMisses/2 {
			c.bypass = cacheBypassLookups
		}
		c.hits, c.misses = 0, 0
	}
	return nil
}

// Chains: for a rule set whose rules are all unconditional lookups (the
// kernel's defaults: local, main, default), one entry answers for the
// whole chain: which table first has a prefix covering the address (k)
// and that prefix's node, keyed by the chain's generation (ruleSet.
// chainGen, from the same counter as the tables', so no table entry can
// match it) with k in the key's top bits. Without it every forwarded
// packet would take a line for the local table's "nothing here" as well
// as one for main's answer.
const (
	chainShift     = 56
	chainMask      = uint64(0x7f) << chainShift
	maxCachedChain = 0x7f - 1 // k runs to len(chain), "none"
)

// lookupChain is, for the fast rule set rs, the index k of the first of
// its tables whose trie has a prefix covering dst and that prefix's node;
// k is len(rs.c) (and n nil) when none has. No allocation.
func (c *Cache) lookupChain(rs *ruleSet, dst netip.Addr) (k int, n *node) {
	if c.bypass > 0 {
		c.bypass--
		return walkChain(rs, dst)
	}
	set, key, hi, lo := c.slot(rs.chainGen, dst)
	if e := c.find(set, key, chainMask, hi, lo); e != nil {
		return int(e.key >> chainShift), e.n
	}
	k, n = walkChain(rs, dst)
	set[1] = set[0]
	set[0] = cacheEntry{key: key | uint64(k)<<chainShift, hi: hi, lo: lo, n: n}
	return k, n
}

// walkChain is lookupChain without the cache.
func walkChain(rs *ruleSet, dst netip.Addr) (int, *node) {
	for k := range rs.c {
		if t := rs.c[k].tbl; t != nil {
			if n, ok := t.rt.Lookup(dst); ok {
				return k, n
			}
		}
	}
	return len(rs.c), nil
}

// Bypassed reports whether c is stepping aside (see Cache).
func (c *Cache) Bypassed() bool { return c.bypass > 0 }
