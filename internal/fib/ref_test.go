package fib

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"

	"flowpath/internal/errs"
)

// refModel is the slow reference the FIB is compared against: every route
// in one map scanned linearly on lookup, rules evaluated by a plain loop,
// nexthop bounds computed from scratch on every lookup. It shares with the
// FIB only the per-prefix list semantics (insertRoute/deleteRoute, tested
// on their own in fib_test.go) and the validation (checkRoute/normRule).
type refModel struct {
	routes map[refKey][]Route
	tables map[uint32]bool
	rules  [2][]Rule
	down   map[uint32]bool
}

type refKey struct {
	table uint32
	pfx   netip.Prefix
}

func newRef() *refModel {
	m := &refModel{
		routes: map[refKey][]Route{},
		tables: map[uint32]bool{TableLocal: true, TableMain: true},
		down:   map[uint32]bool{},
	}
	m.rules[0] = defaultRules(4)
	m.rules[1] = defaultRules(6)
	return m
}

func (m *refModel) clone() *refModel {
	c := &refModel{routes: map[refKey][]Route{}, tables: map[uint32]bool{}, down: map[uint32]bool{}}
	for k, v := range m.routes {
		c.routes[k] = v // lists are never modified in place
	}
	for k, v := range m.tables {
		c.tables[k] = v
	}
	for k, v := range m.down {
		c.down[k] = v
	}
	c.rules[0] = slices.Clone(m.rules[0])
	c.rules[1] = slices.Clone(m.rules[1])
	return c
}

func (m *refModel) addRoute(r Route, flags AddFlags) error {
	if err := checkRoute(&r); err != nil {
		return err
	}
	m.tables[r.Table] = true
	k := refKey{r.Table, r.Prefix}
	list := m.routes[k]
	if len(list) == 0 && flags&Create == 0 && r.Prefix.Addr().Is4() {
		return errs.ErrNoEntry
	}
	r.Nexthops = slices.Clone(r.Nexthops)
	fixNexthops(r.Nexthops)
	out, err := insertRoute(list, r, flags)
	if err != nil {
		return err
	}
	m.routes[k] = out
	return nil
}

func (m *refModel) delRoute(rm RouteMatch) error {
	p := rm.Prefix
	if !p.IsValid() || p.Addr().Zone() != "" || p.Addr().Is4() && p.Masked() != p {
		return errs.ErrInvalid
	}
	rm.Prefix = p.Masked()
	if rm.Table == 0 {
		rm.Table = TableMain
	}
	k := refKey{rm.Table, rm.Prefix}
	list := m.routes[k]
	if len(list) == 0 {
		return errs.ErrNotFound
	}
	out, changed, err := deleteRoute(list, &rm)
	if changed {
		if len(out) == 0 {
			delete(m.routes, k)
		} else {
			m.routes[k] = out
		}
	}
	return err
}

func (m *refModel) flushDevice(dev uint32) {
	for k, list := range m.routes {
		var out []Route
		for _, r := range list {
			var keep []Nexthop
			for _, nh := range r.Nexthops {
				if nh.Dev != dev {
					keep = append(keep, nh)
				}
			}
			switch {
			case len(keep) == len(r.Nexthops):
				out = append(out, r)
			case len(keep) > 0 && k.pfx.Addr().Is6():
				r.Nexthops = keep
				setBounds(r.Nexthops)
				out = append(out, r)
			}
		}
		if len(out) == 0 {
			delete(m.routes, k)
		} else {
			m.routes[k] = out
		}
	}
	delete(m.down, dev)
}

// flushDeadRoutes drops the routes, local ones aside, that go through dev
// and through no device that is up.
func (m *refModel) flushDeadRoutes(dev uint32) {
	for k, list := range m.routes {
		var out []Route
		for _, r := range list {
			via, live := false, false
			for _, nh := range r.Nexthops {
				via = via || nh.Dev == dev
				live = live || (!m.down[nh.Dev] && nh.Flags&NHDead == 0)
			}
			if r.Type == RouteLocal || !via || live {
				out = append(out, r)
			}
		}
		m.setList(k, out)
	}
}

// setList stores a prefix's route list, or forgets the prefix if empty.
func (m *refModel) setList(k refKey, out []Route) {
	if len(out) == 0 {
		delete(m.routes, k)
	} else {
		m.routes[k] = out
	}
}

// disableIPv4 drops the IPv4 routes through dev with no other live leg
// and marks the legs through dev dead in the others; enableIPv4 revives
// them.
func (m *refModel) disableIPv4(dev uint32) {
	for k, list := range m.routes {
		if !k.pfx.Addr().Is4() {
			continue
		}
		var out []Route
		for _, r := range list {
			via, live := false, false
			for _, nh := range r.Nexthops {
				via = via || nh.Dev == dev
				live = live || (nh.Dev != dev && !m.down[nh.Dev] && nh.Flags&NHDead == 0)
			}
			if via && !live {
				continue
			}
			if via {
				r.Nexthops = slices.Clone(r.Nexthops)
				for i := range r.Nexthops {
					if r.Nexthops[i].Dev == dev {
						r.Nexthops[i].Flags |= NHDead | NHLinkDown
					}
				}
				setBounds(r.Nexthops) // the dump shows the bounds
			}
			out = append(out, r)
		}
		m.setList(k, out)
	}
}

func (m *refModel) enableIPv4(dev uint32) {
	for k, list := range m.routes {
		out := slices.Clone(list)
		for j := range out {
			out[j].Nexthops = slices.Clone(out[j].Nexthops)
			for i := range out[j].Nexthops {
				if out[j].Nexthops[i].Dev == dev {
					out[j].Nexthops[i].Flags &^= NHDead | NHLinkDown
				}
			}
			setBounds(out[j].Nexthops)
		}
		m.routes[k] = out
	}
}

// flushPrefsrc drops (IPv4) or strips (IPv6, clear) the source a of
// every route that has it.
func (m *refModel) flushPrefsrc(a netip.Addr, clear bool) {
	for k, list := range m.routes {
		var out []Route
		for _, r := range list {
			switch {
			case r.PrefSrc != a:
			case clear:
				r.PrefSrc = netip.Addr{}
			default:
				continue
			}
			out = append(out, r)
		}
		m.setList(k, out)
	}
}

func (m *refModel) addRule(r Rule) error {
	if err := normRule(&r); err != nil {
		return err
	}
	fi := famIdx(r.Family)
	rs := m.rules[fi]
	if r.AutoPriority {
		r.AutoPriority = false
		r.Priority = 0
		if len(rs) > 1 && rs[1].Priority > 0 {
			r.Priority = rs[1].Priority - 1
		}
	}
	if r.Action == RuleGoto && r.Goto <= r.Priority {
		return errs.ErrInvalid
	}
	for _, x := range rs {
		a, b := x, r
		a.IIFIndex, a.OIFIndex, b.IIFIndex, b.OIFIndex = 0, 0, 0, 0
		if reflect.DeepEqual(a, b) {
			return errs.ErrExists
		}
	}
	pos := len(rs)
	for i := len(rs) - 1; i >= 0 && rs[i].Priority > r.Priority; i-- {
		pos = i
	}
	m.rules[fi] = slices.Insert(slices.Clone(rs), pos, r)
	return nil
}

func (m *refModel) delRule(rm RuleMatch) error {
	if rm.Family != 4 && rm.Family != 6 {
		return errs.ErrAFNoSupport
	}
	fi := famIdx(rm.Family)
	for i, r := range m.rules[fi] {
		if rm.SetAction && r.Action != rm.Action ||
			rm.Table != 0 && r.Table != rm.Table ||
			rm.SetPriority && r.Priority != rm.Priority ||
			rm.IIF != "" && rm.IIF != r.IIF || rm.OIF != "" && rm.OIF != r.OIF ||
			rm.SetFwMark && r.FwMark != rm.FwMark || rm.SetFwMask && r.FwMask != rm.FwMask ||
			rm.TunID != 0 && r.TunID != rm.TunID || rm.IPProto != 0 && r.IPProto != rm.IPProto ||
			rm.Src.IsValid() && rm.Src.Bits() > 0 && r.Src != rm.Src.Masked() ||
			rm.Dst.IsValid() && rm.Dst.Bits() > 0 && r.Dst != rm.Dst.Masked() {
			continue
		}
		m.rules[fi] = slices.Delete(slices.Clone(m.rules[fi]), i, i+1)
		return nil
	}
	return errs.ErrNoEntry
}

func (m *refModel) setRuleDevice(name string, idx uint32) {
	for fi := range m.rules {
		rs := slices.Clone(m.rules[fi])
		for i := range rs {
			if rs[i].IIF == name {
				rs[i].IIFIndex = idx
			}
			if rs[i].OIF == name {
				rs[i].OIFIndex = idx
			}
		}
		m.rules[fi] = rs
	}
}

// refResult is a lookup outcome in comparable form.
type refResult struct {
	ok      bool
	typ     RouteType
	table   uint32
	rule    Rule
	hasRule bool
	route   Route
	hasRt   bool
	nh      int
}

func (r refResult) String() string {
	if !r.ok {
		return "no route"
	}
	s := fmt.Sprintf("%s table %d nh %d", r.typ, r.table, r.nh)
	if r.hasRule {
		s += fmt.Sprintf(" rule %d:%s", r.rule.Priority, r.rule.Action)
	}
	if r.hasRt {
		s += fmt.Sprintf(" route %s metric %d %v", r.route.Prefix, r.route.Metric, r.route.Nexthops)
	}
	return s
}

func fromResult(ok bool, res *Result) refResult {
	if !ok {
		return refResult{}
	}
	out := refResult{ok: true, typ: res.Type, table: res.Table, nh: res.NHIndex}
	if res.Rule != nil {
		out.rule, out.hasRule = *res.Rule, true
	}
	if res.Route != nil {
		out.route, out.hasRt = *res.Route, true
		if res.NHIndex >= 0 && &res.Route.Nexthops[res.NHIndex] != res.Nexthop {
			out.nh = -100 // Nexthop does not point at Route.Nexthops[NHIndex]
		}
	} else if res.Nexthop != nil {
		out.nh = -200
	}
	return out
}

func (m *refModel) ruleMatches(r *Rule, fl *Flow) bool {
	ok := true
	if r.IIF != "" {
		lo := r.IIF == "lo" && fl.IIF == 0
		ok = ok && (lo || r.IIFIndex != 0 && r.IIFIndex == fl.IIF)
	}
	if r.OIF != "" {
		ok = ok && r.OIFIndex != 0 && r.OIFIndex == fl.OIF
	}
	ok = ok && fl.Mark&r.FwMask == r.FwMark&r.FwMask
	ok = ok && (r.TunID == 0 || r.TunID == fl.TunID)
	if r.Src.IsValid() {
		src := fl.Src
		if !src.IsValid() {
			if fl.Dst.Is4() {
				src = netip.AddrFrom4([4]byte{})
			} else {
				src = netip.AddrFrom16([16]byte{})
			}
		}
		ok = ok && src.Is4() == r.Src.Addr().Is4() && r.Src.Contains(src)
	}
	if r.Dst.IsValid() {
		ok = ok && r.Dst.Contains(fl.Dst)
	}
	ok = ok && (r.IPProto == 0 || r.IPProto == fl.Proto)
	if r.SrcPorts[0] != 0 {
		ok = ok && fl.SrcPort >= r.SrcPorts[0] && fl.SrcPort <= r.SrcPorts[1]
	}
	if r.DstPorts[0] != 0 {
		ok = ok && fl.DstPort >= r.DstPorts[0] && fl.DstPort <= r.DstPorts[1]
	}
	if r.Invert {
		return !ok
	}
	return ok
}

func (m *refModel) lookup(fl *Flow, hash uint32) refResult {
	if !fl.Dst.IsValid() {
		return refResult{}
	}
	rs := m.rules[famIdx(map[bool]int{true: 4, false: 6}[fl.Dst.Is4()])]
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		if !m.ruleMatches(&r, fl) {
			continue
		}
		switch r.Action {
		case RuleNop:
			continue
		case RuleGoto:
			for j := i + 1; j < len(rs); j++ {
				if rs[j].Priority == r.Goto {
					i = j - 1
					break
				}
			}
			continue
		case RuleBlackhole:
			return refResult{ok: true, typ: RouteBlackhole, rule: r, hasRule: true, nh: -1}
		case RuleUnreachable:
			return refResult{ok: true, typ: RouteUnreachable, rule: r, hasRule: true, nh: -1}
		case RuleProhibit:
			return refResult{ok: true, typ: RouteProhibit, rule: r, hasRule: true, nh: -1}
		}
		if !m.tables[r.Table] {
			continue
		}
		res := m.lookupTable(r.Table, fl.Dst, fl.OIF, hash)
		if !res.ok {
			continue
		}
		if r.Suppress && res.typ <= RouteBroadcast && res.route.Prefix.Bits() <= int(r.SuppressPrefixLen) {
			continue
		}
		res.rule, res.hasRule = r, true
		return res
	}
	return refResult{}
}

func (m *refModel) lookupTable(table uint32, dst netip.Addr, oif uint32, hash uint32) refResult {
	var keys []refKey
	for k := range m.routes {
		if k.table == table && k.pfx.Contains(dst) {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b refKey) int { return cmp.Compare(b.pfx.Bits(), a.pfx.Bits()) })
	for _, k := range keys {
		for _, r := range m.routes[k] {
			switch r.Type {
			case RouteThrow:
				return refResult{}
			case RouteBlackhole, RouteUnreachable, RouteProhibit:
				return refResult{ok: true, typ: r.Type, table: table, route: r, hasRt: true, nh: -1}
			}
			if r.Type == RouteLocal {
				// Local routes do not die with their device.
				if nh := slices.IndexFunc(r.Nexthops, func(nh Nexthop) bool { return oif == 0 || nh.Dev == oif }); nh >= 0 {
					return refResult{ok: true, typ: r.Type, table: table, route: r, hasRt: true, nh: nh}
				}
				continue
			}
			if nh := m.pick(&r, oif, hash>>1); nh >= 0 {
				return refResult{ok: true, typ: r.Type, table: table, route: r, hasRt: true, nh: nh}
			}
		}
	}
	return refResult{}
}

// pick is the kernel's nexthop choice with bounds recomputed over the live
// legs on every call (fib_rebalance + fib_select_multipath).
func (m *refModel) pick(r *Route, oif uint32, h uint32) int {
	dead := func(nh Nexthop) bool { return m.down[nh.Dev] || nh.Flags&NHDead != 0 }
	if oif != 0 || len(r.Nexthops) == 1 {
		for i, nh := range r.Nexthops {
			if (oif == 0 || nh.Dev == oif) && !dead(nh) {
				return i
			}
		}
		return -1
	}
	total := 0.0
	for _, nh := range r.Nexthops {
		if !dead(nh) {
			total += float64(nh.Weight)
		}
	}
	w := 0.0
	for i, nh := range r.Nexthops {
		if dead(nh) {
			continue
		}
		w += float64(nh.Weight)
		bound := int64(w*(1<<31)/total+0.5) - 1
		if int64(h) <= bound {
			return i
		}
	}
	return -1
}

// ---- random operations, shared by the random test and the fuzz target ----

// chooser is a source of choices: math/rand for the random test, the fuzz
// input for the fuzz target.
type chooser interface{ intn(n int) int }

type randChooser struct{ r *rand.Rand }

func (c randChooser) intn(n int) int { return c.r.IntN(n) }

type byteChooser struct {
	b []byte
	i int
}

func (c *byteChooser) intn(n int) int {
	if c.i >= len(c.b) {
		return 0
	}
	v := int(c.b[c.i])
	c.i++
	if n > 256 {
		if c.i < len(c.b) {
			v = v<<8 | int(c.b[c.i])
			c.i++
		}
	}
	return v % n
}

func (c *byteChooser) done() bool { return c.i >= len(c.b) }

var (
	v4Lens = []int{0, 8, 16, 20, 24, 28, 30, 32}
	v6Lens = []int{0, 16, 32, 48, 64, 120, 127, 128}
	tabs   = []uint32{TableMain, TableLocal, 100, 101, TableDefault}
)

func randAddr(c chooser, v4 bool) netip.Addr {
	if v4 {
		return netip.AddrFrom4([4]byte{10, byte(c.intn(3)), byte(c.intn(3)), byte(c.intn(6))})
	}
	var b [16]byte
	b[0], b[1], b[2], b[3] = 0x20, 0x01, 0x0d, 0xb8
	b[5] = byte(c.intn(3))
	b[7] = byte(c.intn(3))
	b[15] = byte(c.intn(6))
	return netip.AddrFrom16(b)
}

func randPrefix(c chooser, v4 bool) netip.Prefix {
	lens := v6Lens
	if v4 {
		lens = v4Lens
	}
	p, _ := randAddr(c, v4).Prefix(lens[c.intn(len(lens))])
	return p
}

func randGateway(c chooser, v4 bool) netip.Addr {
	if c.intn(4) == 0 {
		return netip.Addr{}
	}
	if v4 {
		return netip.AddrFrom4([4]byte{192, 0, 2, byte(1 + c.intn(3))})
	}
	return netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0xff, 15: byte(1 + c.intn(3))})
}

// randPrefsrc is one of two source addresses of a family.
func randPrefsrc(c chooser, v4 bool) netip.Addr {
	if v4 {
		return netip.AddrFrom4([4]byte{10, 0, 0, byte(1 + c.intn(2))})
	}
	return netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(1 + c.intn(2))})
}

func randRoute(c chooser, v4 bool) Route {
	r := Route{
		Table:  tabs[c.intn(len(tabs))],
		Prefix: randPrefix(c, v4),
		Metric: uint32(c.intn(3)) * 10,
	}
	if k := c.intn(10); k >= 7 {
		r.Type = []RouteType{RouteBlackhole, RouteUnreachable, RouteProhibit, RouteThrow, RouteLocal}[c.intn(5)]
	}
	if r.Type == RouteLocal {
		r.Scope = ScopeHost
	}
	if c.intn(5) == 0 {
		r.Protocol = ProtoStatic
	}
	if r.Type == RouteUnicast && c.intn(4) == 0 {
		r.PrefSrc = randPrefsrc(c, v4)
	}
	if r.Type.hasNexthops() {
		n := 1
		if r.Type == RouteUnicast && c.intn(3) == 0 {
			n = 2 + c.intn(3)
		}
		for range n {
			nh := Nexthop{Dev: uint32(1 + c.intn(5)), Gateway: randGateway(c, v4), Weight: uint16(c.intn(4))}
			if r.Scope == ScopeHost {
				nh.Gateway = netip.Addr{}
			}
			if !v4 && n > 1 && !nh.Gateway.IsValid() {
				nh.Gateway = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0xff, 15: 9})
			}
			r.Nexthops = append(r.Nexthops, nh)
		}
	}
	return r
}

func randMatch(c chooser, v4 bool, existing []Route) RouteMatch {
	var m RouteMatch
	if len(existing) > 0 && c.intn(4) != 0 {
		r := existing[c.intn(len(existing))]
		m = RouteMatch{Table: r.Table, Prefix: r.Prefix}
		if c.intn(2) == 0 {
			m.Metric = r.Metric
		}
		if c.intn(3) == 0 {
			m.Type, m.SetType = r.Type, true
		}
		if len(r.Nexthops) > 0 && c.intn(2) == 0 {
			nh := r.Nexthops[c.intn(len(r.Nexthops))]
			if c.intn(2) == 0 {
				m.Dev = nh.Dev
			}
			if c.intn(2) == 0 {
				m.Gateway = nh.Gateway
			}
		}
		if c.intn(6) == 0 {
			m.Nexthops = slices.Clone(r.Nexthops)
		}
		if c.intn(6) == 0 {
			m.Protocol = ProtoStatic
		}
		if c.intn(8) == 0 {
			m.Scope, m.SetScope = ScopeLink, true
		}
		return m
	}
	return RouteMatch{Table: tabs[c.intn(len(tabs))], Prefix: randPrefix(c, v4), Metric: uint32(c.intn(3)) * 10}
}

var devNames = []string{"eth0", "eth1", "lo", "gone"}

func randRule(c chooser, v4 bool) Rule {
	fam := 6
	if v4 {
		fam = 4
	}
	r := Rule{Family: fam, Priority: uint32(c.intn(5)) * 100}
	if c.intn(4) == 0 {
		r.AutoPriority = true
	}
	if c.intn(3) == 0 {
		r.Src = randPrefix(c, v4)
	}
	if c.intn(3) == 0 {
		r.Dst = randPrefix(c, v4)
	}
	if c.intn(4) == 0 {
		r.IIF = devNames[c.intn(len(devNames))]
		r.IIFIndex = devIndex(r.IIF)
	}
	if c.intn(6) == 0 {
		r.OIF = devNames[c.intn(len(devNames))]
		r.OIFIndex = devIndex(r.OIF)
	}
	if c.intn(4) == 0 {
		r.FwMark = uint32(c.intn(3))
		if c.intn(2) == 0 {
			r.FwMask = 1
		}
	}
	if c.intn(6) == 0 {
		r.TunID = uint64(1 + c.intn(2))
	}
	if c.intn(6) == 0 {
		r.IPProto = []uint8{6, 17}[c.intn(2)]
	}
	if c.intn(6) == 0 {
		lo := uint16(1 + c.intn(100))
		r.DstPorts = [2]uint16{lo, lo + uint16(c.intn(50))}
	}
	r.Invert = c.intn(6) == 0
	switch k := c.intn(12); {
	case k < 9:
		r.Action, r.Table = RuleToTable, tabs[c.intn(len(tabs))]
		if c.intn(5) == 0 {
			r.Suppress, r.SuppressPrefixLen = true, uint8(v4Lens[c.intn(4)])
		}
	case k == 9:
		r.Action, r.Goto = RuleGoto, r.Priority+uint32(1+c.intn(3))*100
	case k == 10:
		r.Action = RuleNop
	default:
		r.Action = []RuleAction{RuleBlackhole, RuleUnreachable, RuleProhibit}[c.intn(3)]
	}
	return r
}

func devIndex(name string) uint32 {
	switch name {
	case "eth0":
		return 1
	case "eth1":
		return 2
	case "lo":
		return 0
	}
	return 0
}

func randRuleMatch(c chooser, v4 bool, existing []Rule) RuleMatch {
	fam := 6
	if v4 {
		fam = 4
	}
	m := RuleMatch{Family: fam}
	if len(existing) > 0 && c.intn(3) != 0 {
		r := existing[c.intn(len(existing))]
		m.Priority, m.SetPriority = r.Priority, c.intn(4) != 0
		if c.intn(2) == 0 {
			m.Table = r.Table
		}
		if c.intn(3) == 0 {
			m.Src = r.Src
		}
		if c.intn(3) == 0 {
			m.IIF = r.IIF
		}
		if c.intn(3) == 0 {
			m.Action, m.SetAction = r.Action, true
		}
		if c.intn(4) == 0 {
			m.FwMark, m.SetFwMark = r.FwMark, true
		}
		return m
	}
	m.Priority, m.SetPriority = uint32(c.intn(5))*100, true
	return m
}

func randFlow(c chooser, v4 bool) Flow {
	fl := Flow{Dst: randAddr(c, v4)}
	if c.intn(4) != 0 {
		fl.Src = randAddr(c, v4)
	}
	switch c.intn(4) {
	case 0:
		fl.IIF = 0
	default:
		fl.IIF = uint32(1 + c.intn(3))
	}
	if c.intn(4) == 0 {
		fl.OIF = uint32(1 + c.intn(5))
	}
	fl.Mark = uint32(c.intn(3))
	fl.TunID = uint64(c.intn(3))
	fl.Proto = []uint8{6, 17, 1}[c.intn(3)]
	fl.DstPort = uint16(c.intn(200))
	if c.intn(20) == 0 {
		fl.Dst = netip.AddrFrom16(fl.Dst.As16()) // IPv4-mapped IPv6
	}
	return fl
}

// harness applies the same random operations to a FIB and the reference.
type harness struct {
	f   *FIB
	tx  *Txn
	ref *refModel
	// cache lives across every commit of the run, as a worker's does:
	// lookups through it must answer as uncached ones.
	cache *Cache
}

func newHarness() *harness {
	f := Empty()
	return &harness{f: f, tx: f.Begin(), ref: newRef(), cache: new(Cache)}
}

func sameErr(a, b error) bool {
	if (a == nil) != (b == nil) {
		return false
	}
	for _, s := range []error{errs.ErrExists, errs.ErrNotFound, errs.ErrNoEntry, errs.ErrInvalid, errs.ErrAFNoSupport} {
		if errors.Is(a, s) != errors.Is(b, s) {
			return false
		}
	}
	return true
}

func (h *harness) refRoutes(v4 bool) []Route {
	var out []Route
	keys := make([]refKey, 0, len(h.ref.routes))
	for k := range h.ref.routes {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b refKey) int {
		if c := cmp.Compare(a.table, b.table); c != 0 {
			return c
		}
		// The kernel's dump order. IPv4: by address, the longest
		// prefix of an address first. IPv6: by the range's last
		// address, the longest first (a children-first tree walk).
		if a.pfx.Addr().Is6() && b.pfx.Addr().Is6() {
			ea, eb := rangeEnd6(a.pfx), rangeEnd6(b.pfx)
			if c := bytes.Compare(ea[:], eb[:]); c != 0 {
				return c
			}
			return cmp.Compare(b.pfx.Bits(), a.pfx.Bits())
		}
		return a.pfx.Addr().Compare(b.pfx.Addr())*256 + cmp.Compare(b.pfx.Bits(), a.pfx.Bits())
	})
	for _, k := range keys {
		if k.pfx.Addr().Is4() != v4 {
			continue
		}
		for _, r := range h.ref.routes[k] {
			// Compared without the dead flags, as the FIB's dump is.
			r.Nexthops = slices.Clone(r.Nexthops)
			for i := range r.Nexthops {
				r.Nexthops[i].Flags &^= NHDead | NHLinkDown
			}
			out = append(out, r)
		}
	}
	return out
}

// step applies one random operation to both and reports a mismatch.
func (h *harness) step(c chooser) error {
	v4 := c.intn(3) != 0
	switch op := c.intn(20); {
	case op < 8:
		r := randRoute(c, v4)
		flags := []AddFlags{FlagsAdd, FlagsReplace, FlagsAppend, FlagsPrepend, FlagsChange}[c.intn(5)]
		e1, e2 := h.tx.AddRoute(r, flags), h.ref.addRoute(r, flags)
		if !sameErr(e1, e2) {
			return fmt.Errorf("add %+v flags %d: fib %v, ref %v", r, flags, e1, e2)
		}
	case op < 12:
		m := randMatch(c, v4, h.refRoutes(v4))
		e1, e2 := h.tx.DelRoute(m), h.ref.delRoute(m)
		if !sameErr(e1, e2) {
			return fmt.Errorf("del %+v: fib %v, ref %v", m, e1, e2)
		}
	case op < 14:
		r := randRule(c, v4)
		e1, e2 := h.tx.AddRule(r), h.ref.addRule(r)
		if !sameErr(e1, e2) {
			return fmt.Errorf("add rule %+v: fib %v, ref %v", r, e1, e2)
		}
	case op < 15:
		m := randRuleMatch(c, v4, h.ref.rules[famIdx(map[bool]int{true: 4, false: 6}[v4])])
		e1, e2 := h.tx.DelRule(m), h.ref.delRule(m)
		if !sameErr(e1, e2) {
			return fmt.Errorf("del rule %+v: fib %v, ref %v", m, e1, e2)
		}
	case op < 17:
		dev, up := uint32(1+c.intn(5)), c.intn(2) == 0
		h.tx.SetDeviceUp(dev, up)
		if up {
			delete(h.ref.down, dev)
		} else {
			h.ref.down[dev] = true
			if c.intn(2) == 0 { // an administrative down, not a carrier loss
				h.tx.FlushDeadRoutes(dev)
				h.ref.flushDeadRoutes(dev)
			}
		}
	case op < 18:
		if k := c.intn(6); k < 2 {
			dev := uint32(1 + c.intn(5))
			if k == 0 {
				h.tx.DisableIPv4(dev)
				h.ref.disableIPv4(dev)
			} else {
				h.tx.EnableIPv4(dev)
				h.ref.enableIPv4(dev)
			}
			return nil
		}
		if c.intn(3) == 0 {
			a := randPrefsrc(c, v4)
			h.tx.FlushPrefsrc(a, !v4)
			h.ref.flushPrefsrc(a, !v4)
			return nil
		}
		dev := uint32(1 + c.intn(5))
		h.tx.FlushDevice(dev)
		h.ref.flushDevice(dev)
	case op < 19:
		name := devNames[c.intn(len(devNames))]
		idx := uint32(c.intn(3))
		h.tx.SetRuleDevice(name, idx)
		h.ref.setRuleDevice(name, idx)
	default:
		h.f = h.tx.Commit()
	}
	return nil
}

// check commits and compares n random lookups and the dumps.
func (h *harness) check(c chooser, n int) error {
	h.f = h.tx.Commit()
	for i := 0; i < n; i++ {
		v4 := c.intn(2) == 0
		fl := randFlow(c, v4)
		hash := uint32(c.intn(1<<16)) * 65537
		var res Result
		got := fromResult(h.f.Lookup(&fl, hash, &res), &res)
		want := h.ref.lookup(&fl, hash)
		if !reflect.DeepEqual(got, want) {
			return fmt.Errorf("lookup %+v hash %#x:\n fib %v\n ref %v", fl, hash, got, want)
		}
		for range 2 { // a miss that fills the slot, then a hit
			res = Result{}
			if got := fromResult(h.f.LookupCached(h.cache, &fl, hash, &res), &res); !reflect.DeepEqual(got, want) {
				return fmt.Errorf("cached lookup %+v hash %#x:\n fib %v\n ref %v", fl, hash, got, want)
			}
		}
		tab := tabs[c.intn(len(tabs))]
		res = Result{}
		got = fromResult(h.f.LookupTable(tab, fl.Dst, hash, &res), &res)
		want = refResult{}
		if h.ref.tables[tab] {
			want = h.ref.lookupTable(tab, fl.Dst, 0, hash)
		}
		if !reflect.DeepEqual(got, want) {
			return fmt.Errorf("lookup table %d %s hash %#x:\n fib %v\n ref %v", tab, fl.Dst, hash, got, want)
		}
		res = Result{}
		if got := fromResult(h.f.LookupTableCached(h.cache, tab, fl.Dst, hash, &res), &res); !reflect.DeepEqual(got, want) {
			return fmt.Errorf("cached lookup table %d %s hash %#x:\n fib %v\n ref %v", tab, fl.Dst, hash, got, want)
		}
	}
	for _, fam := range []int{4, 6} {
		if got, want := h.f.Rules(fam), h.ref.rules[famIdx(fam)]; !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
			return fmt.Errorf("rules ipv%d:\n fib %+v\n ref %+v", fam, got, want)
		}
		var got []Route
		h.f.Routes(0, fam, func(r *Route) bool {
			cp := *r
			cp.Nexthops = slices.Clone(r.Nexthops)
			for i := range cp.Nexthops {
				cp.Nexthops[i].Flags &^= NHDead | NHLinkDown
			}
			got = append(got, cp)
			return true
		})
		want := h.refRoutes(fam == 4)
		if len(got) != len(want) {
			return fmt.Errorf("dump ipv%d: %d routes, ref %d", fam, len(got), len(want))
		}
		for i := range got {
			if !reflect.DeepEqual(got[i], want[i]) {
				return fmt.Errorf("dump ipv%d route %d:\n fib %+v\n ref %+v", fam, i, got[i], want[i])
			}
		}
	}
	total := 0
	for _, l := range h.ref.routes {
		total += len(l)
	}
	if n := h.f.NumRoutes(0); n != total {
		return fmt.Errorf("NumRoutes %d, ref %d", n, total)
	}
	return nil
}
