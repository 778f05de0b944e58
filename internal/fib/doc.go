// Package fib is the forwarding information base: routing tables with
// longest-prefix match for IPv4 and IPv6, routes with ECMP nexthops, policy
// rules, and immutable snapshots that the packet path reads without locks.
// The behaviour is Linux's (ip route, ip rule); where this package differs,
// the comment at the spot says so.
//
// Snapshots. A *FIB never changes. Control builds the next one with a Txn
// and publishes it (an atomic.Pointer in the dataplane); workers keep
// reading whichever snapshot they loaded, and every pointer a lookup
// returns stays valid as long as it is held:
//
//	FIB v1 ── Begin ──► Txn ── AddRoute, DelRoute, AddRule, ... ── Commit ──► FIB v2
//	  │                                                                       │
//	  └─► table main ─► trie root ─┬─► untouched subtrees ◄─┬─ trie root' ◄─ table main'
//	                               └─► old path   new path ◄─┘  (path copy)
//
// Readers of v1 see v1 until they load v2; v1 and v2 share every trie node
// the transaction did not touch.
//
// Each table is a bart.Table (a multibit trie) keyed by prefix; a change
// path-copies the few trie nodes on the way to its prefix (InsertPersist),
// so a route added to a 1M-route FIB costs microseconds, not a clone. A
// transaction that rewrites a large share of a table clones it once and
// then writes in place.
//
// What one prefix holds. Under each prefix is the list of its routes in the
// kernel's fib_alias order: metric ascending, then as inserted. Add
// semantics follow the netlink flags (add = Create|Excl, replace, append,
// prepend, change), IPv4 as fib_table_insert and IPv6 as fib6_add_rt2node
// (where an appended gateway route joins the existing one as a multipath
// leg). Delete matches on table and prefix plus whatever fields were given
// (fib_table_delete / ip6_route_del).
//
// Lookup (fib_rules_lookup + fib_table_lookup + fib_select_multipath):
//
//	rules of the family, priority order ──► match? ──► action
//	   lookup T: LPM in T ──► routes of the longest prefix, in order:
//	        reject type       → result (blackhole/unreachable/prohibit)
//	        throw             → no result from T, next rule
//	        unicast/local/brd → first nexthop alive (and = oif if set);
//	                            ECMP: hash-threshold over hash>>1 among live legs
//	        none usable       → next shorter prefix (backtrack)
//	   blackhole/unreachable/prohibit: result with that type, no route
//	   goto P: continue at the first rule with priority P; nop: next rule
//	no rule produced a result → false (network unreachable)
//
// When the rules are all unconditional lookups (the kernel's defaults:
// local, main, default), Lookup skips rule matching and just walks the
// tables. Lookup allocates nothing and takes no lock.
//
// Cache: a worker passes its own Cache to LookupCached, which remembers the
// tries' answers per table version and address, so that a deep route (a
// /32 among 100,000) costs what a shallow one does. Results are the same
// with and without it; it steps aside when traffic has no locality.
//
// Device state: SetDeviceUp(dev, false) makes lookups skip nexthops through
// dev, without removing routes, and dumps show those nexthops dead and
// linkdown. (On an administrative down the kernel also deletes the IPv4
// routes whose nexthops are all down; a control plane that wants exactly
// that deletes them itself.) FlushDevice removes what goes through a
// deleted device: whole IPv4 routes, IPv6 multipath legs.
//
// The package knows nothing of devices beyond their indices: control
// resolves gateways to devices and names to indices before calling.
package fib
