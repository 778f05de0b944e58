package fib

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"

	"flowpath/internal/errs"
)

// Txn builds the next snapshot from a FIB without touching it. Tables are
// copied on write and their tries path-copied per change, so a small
// change to a large FIB costs a few microseconds and shares everything
// else. A Txn belongs to one goroutine. After Commit it can go on being
// used: it then starts from the snapshot it just committed.
type Txn struct {
	base   *FIB
	tables map[uint32]*txTable // tables written in this Txn

	rules      [2][]Rule
	rulesDirty [2]bool

	down      []uint64
	downHi    map[uint32]struct{}
	downDirty bool
}

// txTable is a table being written.
type txTable struct {
	t *table // private copy of the struct
	// excl says t.rt is private to this Txn (the table is new, or its trie
	// was cloned), so it is changed in place instead of path-copied.
	excl bool
	ops  int // path-copying writes so far
}

// Begin starts a transaction on f. f is untouched.
func (f *FIB) Begin() *Txn { return &Txn{base: f} }

// table returns the current (possibly uncommitted) version of table id.
func (t *Txn) table(id uint32) *table {
	if tt := t.tables[id]; tt != nil {
		return tt.t
	}
	return t.base.tables[id]
}

// tableW returns table id for writing, creating it if asked to.
func (t *Txn) tableW(id uint32, create bool) *txTable {
	if tt := t.tables[id]; tt != nil {
		return tt
	}
	var tt *txTable
	if bt := t.base.tables[id]; bt != nil {
		cp := *bt
		tt = &txTable{t: &cp}
	} else if create {
		tt = &txTable{t: &table{id: id, rt: new(trie)}, excl: true}
	} else {
		return nil
	}
	if t.tables == nil {
		t.tables = make(map[uint32]*txTable)
	}
	t.tables[id] = tt
	return tt
}

// put stores n under pfx (nil deletes pfx). A Txn that writes a large
// share of a shared trie clones it once and then writes in place: past
// that point path copies would cost more than the clone.
func (tt *txTable) put(pfx netip.Prefix, n *node) {
	if !tt.excl {
		tt.ops++
		if tt.ops > 256+tt.t.rt.Size()/16 {
			tt.t.rt = tt.t.rt.Clone()
			tt.excl = true
		}
	}
	switch {
	case tt.excl && n == nil:
		tt.t.rt.Delete(pfx)
	case tt.excl:
		tt.t.rt.Insert(pfx, n)
	case n == nil:
		tt.t.rt = tt.t.rt.DeletePersist(pfx)
	default:
		tt.t.rt = tt.t.rt.InsertPersist(pfx, n)
	}
}

// node1 keeps the common case, one route with at most one nexthop, in one
// allocation.
type node1 struct {
	node
	r  [1]Route
	nh [1]Nexthop
}

// newNode1 stores r alone under its prefix, copying its nexthops.
func newNode1(r *Route) *node {
	n := &node1{}
	n.r[0] = *r
	if len(r.Nexthops) == 1 {
		n.nh[0] = r.Nexthops[0]
		n.r[0].Nexthops = n.nh[:]
	} else {
		n.r[0].Nexthops = slices.Clone(r.Nexthops)
	}
	fixNexthops(n.r[0].Nexthops)
	n.routes = n.r[:]
	n.setHot()
	return &n.node
}

// fixNexthops normalizes validated nexthops in place (weight 0 means 1)
// and sets their hash-threshold bounds.
func fixNexthops(nhs []Nexthop) {
	for i := range nhs {
		if nhs[i].Weight == 0 {
			nhs[i].Weight = 1
		}
	}
	setBounds(nhs)
}

// checkRoute validates r the way fib_create_info and fib_table_insert do,
// as far as the FIB can know (gateway reachability is the caller's job).
func checkRoute(r *Route) error {
	p := r.Prefix
	if !p.IsValid() || p.Addr().Zone() != "" {
		return fmt.Errorf("route %s: invalid prefix: %w", p, errs.ErrInvalid)
	}
	is4 := p.Addr().Is4()
	if is4 && p.Masked() != p {
		return fmt.Errorf("route %s: invalid prefix for given prefix length: %w", p, errs.ErrInvalid)
	}
	r.Prefix = p.Masked() // IPv6 masks silently
	if r.Table == 0 {
		return fmt.Errorf("route %s: table 0: %w", p, errs.ErrInvalid)
	}
	if r.Type >= numRouteTypes {
		return fmt.Errorf("route %s: unknown type %d: %w", p, r.Type, errs.ErrInvalid)
	}
	if is4 {
		if r.Scope > ScopeHost || r.Scope < r.Type.minScope() {
			return fmt.Errorf("route %s: invalid scope %s for %s: %w", p, r.Scope, r.Type, errs.ErrInvalid)
		}
		if r.Scope == ScopeHost && (len(r.Nexthops) > 1 || len(r.Nexthops) == 1 && r.Nexthops[0].Gateway.IsValid()) {
			return fmt.Errorf("route %s: host scope route with a gateway or multiple nexthops: %w", p, errs.ErrInvalid)
		}
	}
	if r.PrefSrc.IsValid() && (r.PrefSrc.Is4() != is4 || r.PrefSrc.Zone() != "") {
		return fmt.Errorf("route %s: invalid prefsrc %s: %w", p, r.PrefSrc, errs.ErrInvalid)
	}
	if !r.Type.hasNexthops() {
		if len(r.Nexthops) != 0 {
			return fmt.Errorf("route %s: %s route with a nexthop: %w", p, r.Type, errs.ErrInvalid)
		}
		return nil
	}
	if len(r.Nexthops) == 0 {
		return fmt.Errorf("route %s: %s route needs a nexthop device: %w", p, r.Type, errs.ErrInvalid)
	}
	for i := range r.Nexthops {
		nh := &r.Nexthops[i]
		if nh.Dev == 0 {
			return fmt.Errorf("route %s: nexthop without device: %w", p, errs.ErrInvalid)
		}
		if nh.Gateway.IsValid() && (nh.Gateway.Is4() != is4 || nh.Gateway.Zone() != "") {
			return fmt.Errorf("route %s: gateway %s: %w", p, nh.Gateway, errs.ErrInvalid)
		}
		if !nh.Gateway.IsValid() && !is4 && len(r.Nexthops) > 1 {
			return fmt.Errorf("route %s: ipv6 multipath leg without gateway: %w", p, errs.ErrInvalid)
		}
		if nh.Weight > 256 {
			return fmt.Errorf("route %s: weight %d: %w", p, nh.Weight, errs.ErrInvalid)
		}
		if nh.Flags&^NHOnLink != 0 {
			return fmt.Errorf("route %s: nexthop flags can not contain dead or linkdown: %w", p, errs.ErrInvalid)
		}
	}
	return nil
}

// AddRoute adds r with the semantics of the netlink flags (see AddFlags
// and the insert functions): `ip route add` is FlagsAdd (EEXIST when a
// route with the same table, prefix and metric exists), replace is
// FlagsReplace, append FlagsAppend. r is copied; the caller keeps its
// slices.
func (t *Txn) AddRoute(r Route, flags AddFlags) error {
	if err := checkRoute(&r); err != nil {
		return err
	}
	tt := t.tableW(r.Table, true)
	var list []Route
	if n, ok := tt.t.rt.Get(r.Prefix); ok {
		list = n.routes
	}
	if len(list) == 0 {
		// IPv4 creates only with NLM_F_CREATE; IPv6 only refuses a
		// replace without it (fib6_add_1 merely warns otherwise).
		if flags&Create == 0 && (r.Prefix.Addr().Is4() || flags&Replace != 0) {
			return routeErr(&r, errs.ErrNoEntry)
		}
		tt.put(r.Prefix, newNode1(&r))
		tt.t.nroutes++
		return nil
	}
	r.Nexthops = slices.Clone(r.Nexthops)
	fixNexthops(r.Nexthops)
	out, err := insertRoute(list, r, flags)
	if err != nil {
		return err
	}
	if len(out) == len(list) && &out[0] == &list[0] {
		return nil // replaced a route by itself
	}
	tt.put(r.Prefix, newNode(out))
	tt.t.nroutes += len(out) - len(list)
	return nil
}

// DelRoute deletes the first route m selects, with the kernel's matching
// (see RouteMatch). Table 0 means main. ESRCH (errs.ErrNotFound) if
// nothing matches.
func (t *Txn) DelRoute(m RouteMatch) error {
	p := m.Prefix
	if !p.IsValid() || p.Addr().Zone() != "" {
		return fmt.Errorf("route %s: invalid prefix: %w", p, errs.ErrInvalid)
	}
	if p.Addr().Is4() && p.Masked() != p {
		return fmt.Errorf("route %s: invalid prefix for given prefix length: %w", p, errs.ErrInvalid)
	}
	m.Prefix = p.Masked()
	if m.Table == 0 {
		m.Table = TableMain
	}
	cur := t.table(m.Table)
	if cur == nil {
		return fmt.Errorf("route %s table %d: table does not exist: %w", m.Prefix, m.Table, errs.ErrNotFound)
	}
	n, ok := cur.rt.Get(m.Prefix)
	if !ok {
		return matchErr(&m)
	}
	out, changed, err := deleteRoute(n.routes, &m)
	if changed {
		tt := t.tableW(m.Table, false)
		if len(out) == 0 {
			tt.put(m.Prefix, nil)
		} else {
			tt.put(m.Prefix, newNode(out))
		}
		tt.t.nroutes += len(out) - len(n.routes)
	}
	return err
}

// FlushDevice removes what goes through dev when the device is deleted:
// as the kernel on unregister, an IPv4 route with any nexthop through dev
// goes whole; an IPv6 multipath route loses just those legs. dev is also
// forgotten as down.
func (t *Txn) FlushDevice(dev uint32) {
	if dev == 0 {
		return
	}
	t.editRoutes(func(list []Route) ([]Route, bool) { return flushList(list, dev) })
	t.SetDeviceUp(dev, true)
}

// FlushDeviceIPv6 is FlushDevice for IPv6 routes alone: what the kernel
// does when IPv6 goes off on a device (an MTU under 1280), as if it were
// unregistered for IPv6.
func (t *Txn) FlushDeviceIPv6(dev uint32) {
	if dev == 0 {
		return
	}
	t.editRoutes(func(list []Route) ([]Route, bool) {
		if len(list) == 0 || list[0].Prefix.Addr().Is4() {
			return list, false
		}
		return flushList(list, dev)
	})
}

// FlushDeadRoutes removes, after SetDeviceUp(dev, false), the routes that
// have a nexthop through dev and none through a device that is up: the
// kernel's fib_sync_down_dev and fib_flush (IPv4), fib6_ifdown (IPv6) on an
// administrative down. A multipath route with a live leg stays, its legs
// through dev dead until dev comes back. Local routes stay (a host-scope
// nexthop does not die with its device: the address still answers).
func (t *Txn) FlushDeadRoutes(dev uint32) {
	if dev == 0 {
		return
	}
	keep := func(r *Route) bool {
		if r.Type == RouteLocal || !r.usesDev(dev) {
			return true
		}
		return slices.ContainsFunc(r.Nexthops, t.nhAlive)
	}
	t.editRoutes(func(list []Route) ([]Route, bool) {
		out := slices.DeleteFunc(slices.Clone(list), func(r Route) bool { return !keep(&r) })
		return out, len(out) != len(list)
	})
}

// DisableIPv4 is what the kernel does to IPv4 routes when dev loses its
// last IPv4 address (fib_disable_ip, forced): a route with a nexthop
// through dev goes unless another of its nexthops is alive; in that one
// the legs through dev are marked dead and linkdown and left out of the
// hash until EnableIPv4. Local routes go too (the forced sync spares no
// scope). IPv6 routes are not touched.
func (t *Txn) DisableIPv4(dev uint32) {
	if dev == 0 {
		return
	}
	t.editRoutes(func(list []Route) ([]Route, bool) {
		if len(list) == 0 || !list[0].Prefix.Addr().Is4() ||
			!slices.ContainsFunc(list, func(r Route) bool { return r.usesDev(dev) }) {
			return list, false
		}
		var out []Route
		for _, r := range list {
			if !r.usesDev(dev) {
				out = append(out, r)
				continue
			}
			live := slices.ContainsFunc(r.Nexthops, func(nh Nexthop) bool { return nh.Dev != dev && t.nhAlive(nh) })
			if !live {
				continue
			}
			r.Nexthops = markLegs(r.Nexthops, dev, true)
			out = append(out, r)
		}
		return out, true
	})
}

// EnableIPv4 revives the IPv4 legs DisableIPv4 marked dead on dev, when
// it has an IPv4 address again or comes up (fib_sync_up).
func (t *Txn) EnableIPv4(dev uint32) {
	t.editRoutes(func(list []Route) ([]Route, bool) {
		dead := func(r Route) bool {
			return slices.ContainsFunc(r.Nexthops, func(nh Nexthop) bool { return nh.Dev == dev && nh.Flags&NHDead != 0 })
		}
		if !slices.ContainsFunc(list, dead) {
			return list, false
		}
		out := slices.Clone(list)
		for k := range out {
			if !dead(out[k]) {
				continue
			}
			out[k].Nexthops = markLegs(out[k].Nexthops, dev, false)
		}
		return out, true
	})
}

// markLegs returns a copy of nhs with the legs through dev marked dead
// (and linkdown) or alive, and the hash bounds redone to match.
func markLegs(nhs []Nexthop, dev uint32, dead bool) []Nexthop {
	out := slices.Clone(nhs)
	for i := range out {
		if out[i].Dev != dev {
			continue
		}
		if dead {
			out[i].Flags |= nhDeadFlags
		} else {
			out[i].Flags &^= nhDeadFlags
		}
	}
	setBounds(out)
	return out
}

// nhAlive reports whether nh can carry traffic as this transaction has
// the devices: its device is up and it is not stored dead.
func (t *Txn) nhAlive(nh Nexthop) bool { return !t.devDown(nh.Dev) && nh.Flags&NHDead == 0 }

// FlushPrefsrc is what the kernel does to routes whose preferred source
// is an address no device has any more: IPv4 routes go
// (fib_sync_down_addr, then fib_flush), IPv6 routes keep going without a
// source (rt6_remove_prefsrc); clear says which.
func (t *Txn) FlushPrefsrc(a netip.Addr, clear bool) {
	t.editRoutes(func(list []Route) ([]Route, bool) {
		if !slices.ContainsFunc(list, func(r Route) bool { return r.PrefSrc == a }) {
			return list, false
		}
		if !clear {
			return slices.DeleteFunc(slices.Clone(list), func(r Route) bool { return r.PrefSrc == a }), true
		}
		out := slices.Clone(list)
		for i := range out {
			if out[i].PrefSrc == a {
				out[i].PrefSrc = netip.Addr{}
			}
		}
		return out, true
	})
}

// editRoutes replaces, in every table, each prefix's route list by what
// edit makes of it when edit reports a change (an empty list removes the
// prefix).
func (t *Txn) editRoutes(edit func([]Route) ([]Route, bool)) {
	ids := slices.Collect(maps.Keys(t.base.tables))
	for id := range t.tables {
		if t.base.tables[id] == nil {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	type change struct {
		pfx  netip.Prefix
		old  int
		list []Route
	}
	for _, id := range ids {
		cur := t.table(id)
		var changes []change
		for pfx, n := range cur.rt.All() {
			if out, ok := edit(n.routes); ok {
				changes = append(changes, change{pfx, len(n.routes), out})
			}
		}
		if len(changes) == 0 {
			continue
		}
		tt := t.tableW(id, false)
		for _, c := range changes {
			if len(c.list) == 0 {
				tt.put(c.pfx, nil)
			} else {
				tt.put(c.pfx, newNode(c.list))
			}
			tt.t.nroutes += len(c.list) - c.old
		}
	}
}

// devDown reports whether d is down as this transaction has it.
func (t *Txn) devDown(d uint32) bool {
	if w := d >> 6; w < uint32(len(t.downR())) {
		return t.downR()[w]&(1<<(d&63)) != 0
	}
	_, ok := t.downHiR()[d]
	return ok
}

// downR and downHiR are the device states as this transaction has them.
func (t *Txn) downR() []uint64 {
	if t.downDirty {
		return t.down
	}
	return t.base.down
}

func (t *Txn) downHiR() map[uint32]struct{} {
	if t.downDirty {
		return t.downHi
	}
	return t.base.downHi
}

// flushList returns list without what goes through dev, and whether that
// is a change.
func flushList(list []Route, dev uint32) ([]Route, bool) {
	var out []Route
	changed := false
	for i := range list {
		r := &list[i]
		through := 0
		for k := range r.Nexthops {
			if r.Nexthops[k].Dev == dev {
				through++
			}
		}
		switch {
		case through == 0:
			out = append(out, *r)
		case r.Prefix.Addr().Is6() && through < len(r.Nexthops):
			nr := *r
			nr.Nexthops = slices.DeleteFunc(slices.Clone(r.Nexthops), func(nh Nexthop) bool { return nh.Dev == dev })
			setBounds(nr.Nexthops)
			out = append(out, nr)
			changed = true
		default:
			changed = true
		}
	}
	return out, changed
}

// SetDeviceUp records the administrative/carrier state of dev. Lookups
// skip nexthops through a down device (ECMP shares the hash space among
// the live ones) and dumps show them dead and linkdown; the routes stay.
func (t *Txn) SetDeviceUp(dev uint32, up bool) {
	if !t.downDirty {
		t.down = slices.Clone(t.base.down)
		t.downHi = maps.Clone(t.base.downHi)
		t.downDirty = true
	}
	if dev < downBitmapMax {
		w := int(dev >> 6)
		if up {
			if w < len(t.down) {
				t.down[w] &^= 1 << (dev & 63)
			}
			return
		}
		if w >= len(t.down) {
			t.down = append(t.down, make([]uint64, w+1-len(t.down))...)
		}
		t.down[w] |= 1 << (dev & 63)
		return
	}
	if up {
		delete(t.downHi, dev)
		return
	}
	if t.downHi == nil {
		t.downHi = make(map[uint32]struct{})
	}
	t.downHi[dev] = struct{}{}
}

// rulesW returns the rules of a family for writing.
func (t *Txn) rulesW(fi int) []Rule {
	if !t.rulesDirty[fi] {
		t.rules[fi] = slices.Clone(t.base.rs[fi].rules)
		t.rulesDirty[fi] = true
	}
	return t.rules[fi]
}

func (t *Txn) rulesR(fi int) []Rule {
	if t.rulesDirty[fi] {
		return t.rules[fi]
	}
	return t.base.rs[fi].rules
}

func ruleErr(r *Rule, err error) error {
	return fmt.Errorf("rule ipv%d priority %d: %w", r.Family, r.Priority, err)
}

// normPrefix makes /0 the same as no prefix and masks the rest.
func normPrefix(p netip.Prefix) netip.Prefix {
	if !p.IsValid() || p.Bits() == 0 {
		return netip.Prefix{}
	}
	return p.Masked()
}

// normRule validates r and brings it to its stored form.
func normRule(r *Rule) error {
	if r.Family != 4 && r.Family != 6 {
		return fmt.Errorf("rule family %d: %w", r.Family, errs.ErrAFNoSupport)
	}
	for _, p := range []netip.Prefix{r.Src, r.Dst} {
		if p.IsValid() && (p.Addr().Is4() != (r.Family == 4) || p.Addr().Zone() != "") {
			return ruleErr(r, fmt.Errorf("prefix %s: %w", p, errs.ErrInvalid))
		}
	}
	r.Src, r.Dst = normPrefix(r.Src), normPrefix(r.Dst)
	if r.Action >= numRuleActions {
		return ruleErr(r, fmt.Errorf("unknown action %d: %w", r.Action, errs.ErrInvalid))
	}
	if r.Action == RuleToTable && r.Table == 0 {
		return ruleErr(r, fmt.Errorf("lookup table 0: %w", errs.ErrInvalid))
	}
	if r.Action != RuleGoto {
		r.Goto = 0
	}
	if r.FwMark != 0 && r.FwMask == 0 {
		r.FwMask = ^uint32(0)
	}
	for _, pr := range []*[2]uint16{&r.SrcPorts, &r.DstPorts} {
		if pr[1] == 0 {
			pr[1] = pr[0]
		}
		if pr[0] > pr[1] || pr[0] == 0 && pr[1] != 0 {
			return ruleErr(r, fmt.Errorf("port range %d-%d: %w", pr[0], pr[1], errs.ErrInvalid))
		}
	}
	if !r.Suppress {
		r.SuppressPrefixLen = 0
	}
	if r.IIF == "" {
		r.IIFIndex = 0
	}
	if r.OIF == "" {
		r.OIFIndex = 0
	}
	return nil
}

// sameRule is the kernel's rule_exists: identical in everything the user
// gave (resolved device indices are not part of a rule's identity).
func sameRule(a, b *Rule) bool {
	x, y := *a, *b
	x.IIFIndex, x.OIFIndex, y.IIFIndex, y.OIFIndex = 0, 0, 0, 0
	return x == y
}

// AddRule adds a rule after every rule of lower or equal priority, as the
// kernel does. With AutoPriority the priority is the kernel's default:
// one less than the second rule's, if there is one and it is not 0, else
// 0 (with the default rules: 32765, then 32764, ...). An identical rule is
// EEXIST (ip rule add sends NLM_F_EXCL). A goto must jump forward.
func (t *Txn) AddRule(r Rule) error {
	if err := normRule(&r); err != nil {
		return err
	}
	fi := famIdx(r.Family)
	if r.AutoPriority {
		r.AutoPriority = false
		cur := t.rulesR(fi)
		r.Priority = 0
		if len(cur) >= 2 && cur[1].Priority != 0 {
			r.Priority = cur[1].Priority - 1
		}
	}
	if r.Action == RuleGoto && r.Goto <= r.Priority {
		return ruleErr(&r, fmt.Errorf("backward goto %d: %w", r.Goto, errs.ErrInvalid))
	}
	cur := t.rulesR(fi)
	for i := range cur {
		if sameRule(&cur[i], &r) {
			return ruleErr(&r, errs.ErrExists)
		}
	}
	i := 0
	for i < len(cur) && cur[i].Priority <= r.Priority {
		i++
	}
	w := t.rulesW(fi)
	t.rules[fi] = slices.Insert(w, i, r)
	return nil
}

// DelRule deletes the first rule that m selects (the kernel's rule_find).
// ENOENT (errs.ErrNoEntry) if none does.
func (t *Txn) DelRule(m RuleMatch) error {
	if m.Family != 4 && m.Family != 6 {
		return fmt.Errorf("rule family %d: %w", m.Family, errs.ErrAFNoSupport)
	}
	src, dst := normPrefix(m.Src), normPrefix(m.Dst)
	fi := famIdx(m.Family)
	cur := t.rulesR(fi)
	for i := range cur {
		r := &cur[i]
		switch {
		case m.SetAction && r.Action != m.Action,
			m.Table != 0 && r.Table != m.Table,
			m.SetPriority && r.Priority != m.Priority,
			m.IIF != "" && r.IIF != m.IIF,
			m.OIF != "" && r.OIF != m.OIF,
			m.SetFwMark && r.FwMark != m.FwMark,
			m.SetFwMask && r.FwMask != m.FwMask,
			m.TunID != 0 && r.TunID != m.TunID,
			m.IPProto != 0 && r.IPProto != m.IPProto,
			src.IsValid() && r.Src != src,
			dst.IsValid() && r.Dst != dst:
			continue
		}
		w := t.rulesW(fi)
		t.rules[fi] = slices.Delete(w, i, i+1)
		return nil
	}
	return fmt.Errorf("rule ipv%d: %w", m.Family, errs.ErrNoEntry)
}

// SetRuleDevice records that device name now has index (0: it is gone),
// for every rule whose iif or oif names it.
func (t *Txn) SetRuleDevice(name string, index uint32) {
	if name == "" {
		return
	}
	for fi := range t.rules {
		cur := t.rulesR(fi)
		for i := range cur {
			r := &cur[i]
			if (r.IIF == name && r.IIFIndex != index) || (r.OIF == name && r.OIFIndex != index) {
				w := t.rulesW(fi)
				if w[i].IIF == name {
					w[i].IIFIndex = index
				}
				if w[i].OIF == name {
					w[i].OIFIndex = index
				}
				cur = w
			}
		}
	}
}

// Commit publishes the changes as a new snapshot and returns it. The base
// snapshot is unchanged. The Txn may go on: it now starts from the
// returned snapshot.
func (t *Txn) Commit() *FIB {
	b := t.base
	f := &FIB{tables: b.tables, rs: b.rs, down: b.down, downHi: b.downHi}
	if len(t.tables) > 0 {
		f.tables = make(map[uint32]*table, len(b.tables)+len(t.tables))
		maps.Copy(f.tables, b.tables)
		for id, tt := range t.tables {
			tt.t.gen = nextTableGen()
			f.tables[id] = tt.t
		}
	}
	for fi := range t.rules {
		if t.rulesDirty[fi] {
			f.rs[fi] = ruleSet{rules: t.rules[fi]}
		}
	}
	if t.downDirty {
		// Trim so that "no device down" is the cheap anyDown == false.
		for len(t.down) > 0 && t.down[len(t.down)-1] == 0 {
			t.down = t.down[:len(t.down)-1]
		}
		if len(t.downHi) == 0 {
			t.downHi = nil
		}
		f.down, f.downHi = t.down, t.downHi
	}
	f.anyDown = len(f.down) > 0 || len(f.downHi) > 0
	f.compile()
	*t = Txn{base: f}
	return f
}
