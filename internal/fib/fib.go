package fib

import (
	"bytes"
	"iter"
	"net/netip"
	"slices"

	"github.com/gaissmai/bart"
)

// trie is the LPM structure of one table, both families. bart.Table's
// persistent operations path-copy, so a transaction shares every node it
// does not touch with the snapshot it started from.
type trie = bart.Table[*node]

// node is everything stored under one prefix of one table: its routes in
// lookup order (metric ascending, then insertion). Immutable once its
// snapshot is published; changes make a new node.
//
// On a big table the lookup is bound by memory latency: every dependent
// load that misses the cache costs ~100 ns. So the common case (one route,
// one nexthop) is answered from the node's first 40 bytes: hot points at
// that nexthop and hotType is the route's type, and Lookup needs neither
// the Route nor the Nexthop in cache.
type node struct {
	routes  []Route
	hot     *Nexthop
	hotDev  uint32
	hotType RouteType
}

// newNode makes the node for a non-empty list of routes.
func newNode(routes []Route) *node {
	n := &node{routes: routes}
	n.setHot()
	return n
}

func (n *node) setHot() {
	if len(n.routes) == 1 && n.routes[0].Type.hasNexthops() && len(n.routes[0].Nexthops) == 1 {
		n.hot, n.hotType = &n.routes[0].Nexthops[0], n.routes[0].Type
		n.hotDev = n.hot.Dev
	}
}

// table is one routing table. The struct is immutable once published.
type table struct {
	id      uint32
	gen     uint64 // this version's number (Cache keys on it)
	rt      *trie
	nroutes int // routes, not prefixes
}

// crule is a rule compiled for lookup at Commit: its table resolved to the
// snapshot's table, its goto resolved to an index.
type crule struct {
	tbl   *table // nil: absent table (the lookup continues, as in the kernel)
	next  int    // RuleGoto: index of the target rule, -1 if none (unresolved: skipped)
	iifLo bool   // IIF is "lo": matches locally generated flows
}

// ruleSet is the rule list of one family, in evaluation order.
type ruleSet struct {
	rules []Rule
	c     []crule // parallel to rules
	// chainGen numbers the chain of tables a fast rule set looks up, for
	// the Cache (lookupChain): kept from the previous snapshot while the
	// rules and every table in the chain are the same objects, a new
	// number otherwise; 0 when not fast or too long to cache.
	chainGen uint64
	// fast is set when every rule is an unconditional lookup (the
	// kernel's defaults, or any list of plain `lookup T` rules): Lookup
	// then only walks the tables, with no per-rule matching.
	fast bool
}

// FIB is an immutable snapshot of every table and rule: safe for any
// number of concurrent readers, never changed after Commit.
type FIB struct {
	tables map[uint32]*table
	rs     [2]ruleSet // [0] IPv4, [1] IPv6
	// Down devices: a bitmap for small indices, a map above it.
	down    []uint64
	downHi  map[uint32]struct{}
	anyDown bool
}

const downBitmapMax = 1 << 16 // device indices below this live in the bitmap

func famIdx(family int) int {
	if family == 6 {
		return 1
	}
	return 0
}

// defaultRules are the kernel's rules in a new namespace.
func defaultRules(family int) []Rule {
	rs := []Rule{
		{Priority: 0, Family: family, Table: TableLocal},
		{Priority: 32766, Family: family, Table: TableMain},
	}
	if family == 4 {
		rs = append(rs, Rule{Priority: 32767, Family: family, Table: TableDefault})
	}
	return rs
}

// Empty returns a FIB with no routes, tables local and main, and the
// kernel's default rules: IPv4 0 lookup local, 32766 lookup main, 32767
// lookup default; IPv6 0 lookup local, 32766 lookup main.
func Empty() *FIB {
	f := &FIB{tables: map[uint32]*table{
		TableLocal: {id: TableLocal, gen: nextTableGen(), rt: new(trie)},
		TableMain:  {id: TableMain, gen: nextTableGen(), rt: new(trie)},
	}}
	f.rs[0].rules = defaultRules(4)
	f.rs[1].rules = defaultRules(6)
	f.compile()
	return f
}

// compile resolves every rule against this snapshot's tables.
func (f *FIB) compile() {
	for fi := range f.rs {
		rs := &f.rs[fi]
		old, oldGen := rs.c, rs.chainGen // a copy of the base's, or nil after a rule change
		rs.c = make([]crule, len(rs.rules))
		rs.fast = true
		for i := range rs.rules {
			r := &rs.rules[i]
			c := &rs.c[i]
			c.next = -1
			c.iifLo = r.IIF == "lo"
			switch r.Action {
			case RuleToTable:
				c.tbl = f.tables[r.Table]
			case RuleGoto:
				for j := i + 1; j < len(rs.rules); j++ {
					if rs.rules[j].Priority == r.Goto {
						c.next = j
						break
					}
				}
			}
			if r.Action != RuleToTable || r.Invert || r.Suppress || hasSelectors(r) {
				rs.fast = false
			}
		}
		rs.chainGen = 0
		if rs.fast && len(rs.c) <= maxCachedChain {
			same := oldGen != 0 && len(old) == len(rs.c)
			for i := 0; same && i < len(rs.c); i++ {
				same = old[i].tbl == rs.c[i].tbl
			}
			if rs.chainGen = oldGen; !same {
				rs.chainGen = nextTableGen()
			}
		}
	}
}

func hasSelectors(r *Rule) bool {
	return r.Src.IsValid() || r.Dst.IsValid() || r.IIF != "" || r.OIF != "" ||
		r.FwMask != 0 || r.TunID != 0 || r.IPProto != 0 ||
		r.SrcPorts != [2]uint16{} || r.DstPorts != [2]uint16{}
}

// isDown reports whether dev was set down (SetDeviceUp).
func (f *FIB) isDown(dev uint32) bool {
	if w := dev >> 6; w < uint32(len(f.down)) {
		return f.down[w]&(1<<(dev&63)) != 0
	}
	if f.downHi != nil {
		_, ok := f.downHi[dev]
		return ok
	}
	return false
}

// match is the kernel's fib_rule_match plus the family's match: every
// selector that is set must match; Invert negates the whole.
func (c *crule) match(r *Rule, fl *Flow) bool {
	ok := c.matchSel(r, fl)
	return ok != r.Invert
}

func (c *crule) matchSel(r *Rule, fl *Flow) bool {
	if r.IIF != "" {
		if !(c.iifLo && fl.IIF == 0) && (r.IIFIndex == 0 || fl.IIF != r.IIFIndex) {
			return false
		}
	}
	if r.OIF != "" && (r.OIFIndex == 0 || fl.OIF != r.OIFIndex) {
		return false
	}
	if (fl.Mark^r.FwMark)&r.FwMask != 0 {
		return false
	}
	if r.TunID != 0 && r.TunID != fl.TunID {
		return false
	}
	if r.Src.IsValid() {
		src := fl.Src
		if !src.IsValid() {
			// No source chosen yet: the kernel's saddr is 0.
			src = unspecified(fl.Dst)
		}
		if !r.Src.Contains(src) {
			return false
		}
	}
	if r.Dst.IsValid() && !r.Dst.Contains(fl.Dst) {
		return false
	}
	if r.IPProto != 0 && r.IPProto != fl.Proto {
		return false
	}
	if r.SrcPorts[1] != 0 && (fl.SrcPort < r.SrcPorts[0] || fl.SrcPort > r.SrcPorts[1]) {
		return false
	}
	if r.DstPorts[1] != 0 && (fl.DstPort < r.DstPorts[0] || fl.DstPort > r.DstPorts[1]) {
		return false
	}
	return true
}

func unspecified(like netip.Addr) netip.Addr {
	if like.Is4() {
		return netip.IPv4Unspecified()
	}
	return netip.IPv6Unspecified()
}

// Lookup routes a flow: the rules of its family in priority order, each
// matching rule's table, the longest prefix with a usable route, and the
// nexthop (ECMP by hash, hash-threshold over hash>>1 like the kernel's
// fib_select_multipath). It returns false when no rule produced a route
// (the caller answers network unreachable). A Result of a reject type
// (blackhole, unreachable, prohibit) comes from a route or, with Route ==
// nil, from a rule action. Nexthops through down devices are skipped.
// With fl.OIF set, only nexthops through that device are usable and ECMP
// is not applied (the kernel's fib_lookup_good_nhc / fib_select_path).
//
// No allocation, no lock; f is never modified.
func (f *FIB) Lookup(fl *Flow, hash uint32, res *Result) bool {
	return f.LookupCached(nil, fl, hash, res)
}

// LookupCached is Lookup with the trie lookups going through cache (nil:
// none). The result is the same; cache must be the caller's own.
func (f *FIB) LookupCached(cache *Cache, fl *Flow, hash uint32, res *Result) bool {
	var rs *ruleSet
	if fl.Dst.Is4() {
		rs = &f.rs[0]
	} else if fl.Dst.Is6() {
		rs = &f.rs[1]
	} else {
		return false
	}
	h := int32(hash >> 1)
	if rs.fast {
		start := 0
		if cache != nil && rs.chainGen != 0 {
			// One cache probe for the whole chain: the tables before k
			// have no prefix covering dst (whatever the devices' state,
			// they cannot answer), and n is table k's longest one.
			k, n := cache.lookupChain(rs, fl.Dst)
			if k < len(rs.c) && f.lookupFrom(rs.c[k].tbl, n, true, fl.Dst, fl.OIF, h, res) {
				res.Rule = &rs.rules[k]
				return true
			}
			start = k + 1
		}
		for i := start; i < len(rs.c); i++ {
			if t := rs.c[i].tbl; t != nil && f.lookupIn(t, cache, fl.Dst, fl.OIF, h, res) {
				res.Rule = &rs.rules[i]
				return true
			}
		}
		return false
	}
	for i := 0; i < len(rs.rules); i++ {
		r, c := &rs.rules[i], &rs.c[i]
		if !c.match(r, fl) {
			continue
		}
		switch r.Action {
		case RuleToTable:
		case RuleGoto:
			if c.next >= 0 {
				i = c.next - 1
			}
			continue
		case RuleBlackhole, RuleUnreachable, RuleProhibit:
			*res = Result{Type: ruleResultType(r.Action), Rule: r, NHIndex: -1}
			return true
		default: // RuleNop
			continue
		}
		if c.tbl == nil || !f.lookupIn(c.tbl, cache, fl.Dst, fl.OIF, h, res) {
			continue
		}
		if r.Suppress && res.Type.hasNexthops() && res.Route.Prefix.Bits() <= int(r.SuppressPrefixLen) {
			continue
		}
		res.Rule = r
		return true
	}
	return false
}

func ruleResultType(a RuleAction) RouteType {
	switch a {
	case RuleUnreachable:
		return RouteUnreachable
	case RuleProhibit:
		return RouteProhibit
	}
	return RouteBlackhole
}

// LookupTable looks dst up in one table, without rules (Result.Rule is
// nil). It returns false when the table does not exist, has no usable
// route for dst, or the route found is a throw route.
func (f *FIB) LookupTable(table uint32, dst netip.Addr, hash uint32, res *Result) bool {
	return f.LookupTableCached(nil, table, dst, hash, res)
}

// LookupTableCached is LookupTable through c (nil: none), as LookupCached.
func (f *FIB) LookupTableCached(c *Cache, table uint32, dst netip.Addr, hash uint32, res *Result) bool {
	t := f.tables[table]
	if t == nil || !dst.IsValid() {
		return false
	}
	if !f.lookupIn(t, c, dst, 0, int32(hash>>1), res) {
		return false
	}
	res.Rule = nil
	return true
}

// lookupIn is fib_table_lookup: the longest prefix whose route list has a
// usable route, backtracking to shorter prefixes when every route of a
// prefix is unusable (all its nexthops down or not through oif). Routes are
// tried in list order; a reject route ends the lookup with its type, a
// throw route ends it with nothing (the rules continue).
func (f *FIB) lookupIn(t *table, c *Cache, dst netip.Addr, oif uint32, h int32, res *Result) bool {
	var n *node
	var ok bool
	if c != nil {
		n, ok = c.lookup(t, dst)
	} else {
		n, ok = t.rt.Lookup(dst)
	}
	return f.lookupFrom(t, n, ok, dst, oif, h, res)
}

// lookupFrom is lookupIn from n, the node of t's longest prefix covering
// dst (ok false: none covers it).
func (f *FIB) lookupFrom(t *table, n *node, ok bool, dst netip.Addr, oif uint32, h int32, res *Result) bool {
	for ok {
		if n.hot != nil && oif == 0 && !(f.anyDown && n.hotType != RouteLocal && f.isDown(n.hotDev)) {
			*res = Result{Type: n.hotType, Table: t.id, Route: &n.routes[0], Nexthop: n.hot}
			return true
		}
		for i := range n.routes {
			r := &n.routes[i]
			switch r.Type {
			case RouteLocal:
				// A local route lives on while its device is down (the
				// kernel does not kill host-scope nexthops): the address
				// still answers.
				k := 0
				for k < len(r.Nexthops) && oif != 0 && r.Nexthops[k].Dev != oif {
					k++
				}
				if k == len(r.Nexthops) {
					continue
				}
				*res = Result{Type: r.Type, Table: t.id, Route: r, Nexthop: &r.Nexthops[k], NHIndex: k}
				return true
			case RouteUnicast, RouteBroadcast:
				k := f.selectNH(r, oif, h)
				if k < 0 {
					continue
				}
				*res = Result{Type: r.Type, Table: t.id, Route: r, Nexthop: &r.Nexthops[k], NHIndex: k}
				return true
			case RouteThrow:
				return false
			default:
				*res = Result{Type: r.Type, Table: t.id, Route: r, NHIndex: -1}
				return true
			}
		}
		bits := n.routes[0].Prefix.Bits()
		if bits == 0 {
			return false
		}
		n, ok = t.rt.LookupPrefix(netip.PrefixFrom(dst, bits-1))
	}
	return false
}

// selectNH picks the nexthop of r for a flow, or -1 if none is usable.
func (f *FIB) selectNH(r *Route, oif uint32, h int32) int {
	nhs := r.Nexthops
	if oif != 0 || len(nhs) == 1 {
		for i := range nhs {
			if (oif == 0 || nhs[i].Dev == oif) && !(f.anyDown && f.isDown(nhs[i].Dev)) && nhs[i].Flags&NHDead == 0 {
				return i
			}
		}
		return -1
	}
	if !f.anyDown {
		// The bounds already leave out stored-dead legs (setBounds).
		for i := range nhs {
			if h <= nhs[i].upper {
				return i
			}
		}
		return -1
	}
	// Some device is down: share the hash space among the live legs, as
	// the kernel's fib_rebalance does when a nexthop dies.
	var total uint64
	for i := range nhs {
		if !f.isDown(nhs[i].Dev) && nhs[i].Flags&NHDead == 0 {
			total += uint64(nhs[i].Weight)
		}
	}
	if total == 0 {
		return -1
	}
	var w uint64
	for i := range nhs {
		if f.isDown(nhs[i].Dev) || nhs[i].Flags&NHDead != 0 {
			continue
		}
		w += uint64(nhs[i].Weight)
		if int64(h) <= int64((w<<31+total/2)/total)-1 {
			return i
		}
	}
	return -1
}

// Routes calls fn for every route of table (0 = all tables, in id order)
// and family (4, 6, 0 = both), in prefix order then lookup order (metric),
// until fn returns false. Nexthops through down devices are reported with
// NHDead|NHLinkDown (fn then gets a copy); otherwise fn gets a pointer into
// the snapshot, which it must not modify.
func (f *FIB) Routes(table uint32, family int, fn func(*Route) bool) {
	ids := []uint32{table}
	if table == 0 {
		ids = f.Tables()
	}
	for _, id := range ids {
		t := f.tables[id]
		if t == nil {
			continue
		}
		if family != 6 && !f.emitSorted(t.rt.AllSorted4(), fn) {
			return
		}
		if family != 4 && !f.emitPostOrder(t.rt.AllSorted6(), fn) {
			return
		}
	}
}

// emitPostOrder emits IPv6 nodes in the order the kernel's fib6 walk
// dumps them: a tree walked children first, so a prefix comes after every
// prefix inside it and ::/0 last. That is the order of the ranges' last
// addresses, the longer prefix first where two end together
// (2001:db8:ffff::/48 before 2001:db8::/32).
func (f *FIB) emitPostOrder(all iter.Seq2[netip.Prefix, *node], fn func(*Route) bool) bool {
	type entry struct {
		end  [16]byte
		bits int
		n    *node
	}
	var es []entry
	for pfx, n := range all {
		es = append(es, entry{rangeEnd6(pfx), pfx.Bits(), n})
	}
	slices.SortFunc(es, func(a, b entry) int {
		if c := bytes.Compare(a.end[:], b.end[:]); c != 0 {
			return c
		}
		return b.bits - a.bits
	})
	for _, e := range es {
		if !f.emit(e.n, fn) {
			return false
		}
	}
	return true
}

// rangeEnd6 is the last address of an IPv6 prefix.
func rangeEnd6(p netip.Prefix) [16]byte {
	a := p.Masked().Addr().As16()
	for i := p.Bits(); i < 128; i++ {
		a[i/8] |= 0x80 >> (i % 8)
	}
	return a
}

// emitSorted emits IPv4 nodes in the kernel's dump order (fib_trie):
// by address, and of prefixes on one address the longest first (a trie
// leaf lists its aliases that way). all yields them by address, then
// shortest first, so each run of one address is emitted backwards.
func (f *FIB) emitSorted(all iter.Seq2[netip.Prefix, *node], fn func(*Route) bool) bool {
	var run []*node
	var at netip.Addr
	flush := func() bool {
		for i := len(run) - 1; i >= 0; i-- {
			if !f.emit(run[i], fn) {
				return false
			}
		}
		run = run[:0]
		return true
	}
	for pfx, n := range all {
		if pfx.Addr() != at && !flush() {
			return false
		}
		at = pfx.Addr()
		run = append(run, n)
	}
	return flush()
}

func (f *FIB) emit(n *node, fn func(*Route) bool) bool {
	for i := range n.routes {
		r := &n.routes[i]
		if f.anyDown && r.Type != RouteLocal && slices.ContainsFunc(r.Nexthops, func(nh Nexthop) bool { return f.isDown(nh.Dev) }) {
			cp := *r
			cp.Nexthops = slices.Clone(r.Nexthops)
			for k := range cp.Nexthops {
				if f.isDown(cp.Nexthops[k].Dev) {
					cp.Nexthops[k].Flags |= NHDead | NHLinkDown
				}
			}
			r = &cp
		}
		if !fn(r) {
			return false
		}
	}
	return true
}

// Rules returns a copy of the rules of family (4 or 6; 0 = IPv4 then
// IPv6) in evaluation order.
func (f *FIB) Rules(family int) []Rule {
	switch family {
	case 4, 6:
		return slices.Clone(f.rs[famIdx(family)].rules)
	}
	return append(slices.Clone(f.rs[0].rules), f.rs[1].rules...)
}

// Tables returns the ids of the tables that exist, ascending. Local and
// main always exist; others from their first route on (the kernel never
// removes a table either).
func (f *FIB) Tables() []uint32 {
	ids := make([]uint32, 0, len(f.tables))
	for id := range f.tables {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// NumRoutes returns the number of routes in table (0 = all tables).
func (f *FIB) NumRoutes(table uint32) int {
	if table != 0 {
		if t := f.tables[table]; t != nil {
			return t.nroutes
		}
		return 0
	}
	n := 0
	for _, t := range f.tables {
		n += t.nroutes
	}
	return n
}

// DeviceUp reports whether dev is up in this snapshot (devices are up
// unless SetDeviceUp said otherwise).
func (f *FIB) DeviceUp(dev uint32) bool { return !f.isDown(dev) }
