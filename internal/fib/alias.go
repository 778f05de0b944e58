package fib

import (
	"fmt"
	"slices"

	"flowpath/internal/errs"
)

// This file holds what happens to the list of routes of one (table,
// prefix) on add and delete: the kernel's fib_table_insert/fib_table_delete
// for IPv4 and fib6_add_rt2node/ip6_route_del for IPv6. The list is kept in
// lookup order: metric ascending, then as inserted. Lists are immutable once
// published, so every function here returns a new slice.

// sameInfo reports whether two routes with the same prefix and metric are
// the same route apart from their type (the kernel's fib_info identity).
func sameInfo(a, b *Route) bool {
	if a.Scope != b.Scope || a.Protocol != b.Protocol || a.PrefSrc != b.PrefSrc ||
		a.MTU != b.MTU || a.MTULock != b.MTULock || len(a.Nexthops) != len(b.Nexthops) {
		return false
	}
	for i := range a.Nexthops {
		x, y := &a.Nexthops[i], &b.Nexthops[i]
		if x.Gateway != y.Gateway || x.Dev != y.Dev || x.Weight != y.Weight || x.Flags&^nhDeadFlags != y.Flags&^nhDeadFlags ||
			!x.Encap.Equal(y.Encap) {
			return false
		}
	}
	return true
}

// ecmpOK is the kernel's rt6_qualify_for_ecmp: only IPv6 unicast routes
// through gateways join other routes of the same metric as multipath legs.
func ecmpOK(r *Route) bool {
	if r.Type != RouteUnicast || len(r.Nexthops) == 0 {
		return false
	}
	for i := range r.Nexthops {
		if !r.Nexthops[i].Gateway.IsValid() {
			return false
		}
	}
	return true
}

// dupNexthop is the kernel's rt6_duplicate_nexthop, applied leg by leg:
// two routes share a path if some leg of each has the same device and
// gateway. Routes without nexthops all sit on the loopback device in the
// kernel, so two of them are duplicates too.
func dupNexthop(a, b *Route) bool {
	if len(a.Nexthops) == 0 && len(b.Nexthops) == 0 {
		return true
	}
	for i := range a.Nexthops {
		for j := range b.Nexthops {
			if a.Nexthops[i].Dev == b.Nexthops[j].Dev && a.Nexthops[i].Gateway == b.Nexthops[j].Gateway {
				return true
			}
		}
	}
	return false
}

// setBounds fills the hash-threshold bounds for the all-alive case: the
// kernel's fib_rebalance, bound = round(cumulative weight * 2^31 / total) - 1.
func setBounds(nhs []Nexthop) {
	var total uint64
	for i := range nhs {
		if nhs[i].Flags&NHDead == 0 {
			total += uint64(nhs[i].Weight)
		}
	}
	var w uint64
	for i := range nhs {
		// A stored-dead leg never wins (fib_rebalance gives it -1).
		if total == 0 || nhs[i].Flags&NHDead != 0 {
			nhs[i].upper = -1
			continue
		}
		w += uint64(nhs[i].Weight)
		nhs[i].upper = int32((w<<31+total/2)/total) - 1
	}
}

// insertAt returns a copy of list with r inserted at i.
func insertAt(list []Route, i int, r Route) []Route {
	out := make([]Route, 0, len(list)+1)
	out = append(out, list[:i]...)
	out = append(out, r)
	return append(out, list[i:]...)
}

// removeAt returns a copy of list without element i.
func removeAt(list []Route, i int) []Route {
	out := make([]Route, 0, len(list)-1)
	out = append(out, list[:i]...)
	return append(out, list[i+1:]...)
}

func routeErr(r *Route, err error) error {
	return fmt.Errorf("route %s table %d metric %d: %w", r.Prefix, r.Table, r.Metric, err)
}

// insertRoute adds r (validated, bounds set) to the list of its prefix.
func insertRoute(list []Route, r Route, flags AddFlags) ([]Route, error) {
	if r.Prefix.Addr().Is4() {
		return insert4(list, r, flags)
	}
	return insert6(list, r, flags)
}

// insert4 follows fib_table_insert: routes of equal metric form a run;
// EXCL refuses to join a run, REPLACE replaces its first route, APPEND
// adds at its end, a plain create adds at its front; an identical route
// (same type and fib_info) is EEXIST except that replacing the first
// route of the run by itself is a no-op.
func insert4(list []Route, r Route, flags AddFlags) ([]Route, error) {
	i := 0
	for i < len(list) && list[i].Metric < r.Metric {
		i++
	}
	if i < len(list) && list[i].Metric == r.Metric {
		if flags&Excl != 0 {
			return nil, routeErr(&r, errs.ErrExists)
		}
		j, match := i, -1
		for ; j < len(list) && list[j].Metric == r.Metric; j++ {
			if match < 0 && list[j].Type == r.Type && sameInfo(&list[j], &r) {
				match = j
			}
		}
		if flags&Replace != 0 {
			if match == i {
				return list, nil
			}
			if match >= 0 {
				return nil, routeErr(&r, errs.ErrExists)
			}
			out := slices.Clone(list)
			out[i] = r
			return out, nil
		}
		if match >= 0 {
			return nil, routeErr(&r, errs.ErrExists)
		}
		if flags&Append != 0 {
			i = j
		}
	}
	if flags&Create == 0 {
		return nil, routeErr(&r, errs.ErrNoEntry)
	}
	return insertAt(list, i, r), nil
}

// insert6 follows fib6_add_rt2node: EXCL refuses any route of equal
// metric; REPLACE replaces the first route of equal metric that is as
// multipath-capable as r (else the first of equal metric); otherwise a
// route that shares a path with one of equal metric is EEXIST, an
// ECMP-capable route joins the ECMP-capable route of equal metric as more
// legs, and anything else goes after the routes of equal metric.
func insert6(list []Route, r Route, flags AddFlags) ([]Route, error) {
	ins, found, fallback, sibling := 0, -1, -1, -1
	canECMP := ecmpOK(&r)
	for k := range list {
		it := &list[k]
		if it.Metric > r.Metric {
			break
		}
		ins = k + 1
		if it.Metric != r.Metric {
			continue
		}
		if flags&Excl != 0 {
			return nil, routeErr(&r, errs.ErrExists)
		}
		if flags&Replace != 0 {
			if canECMP == ecmpOK(it) {
				found = k
				break
			}
			if fallback < 0 {
				fallback = k
			}
			continue
		}
		if dupNexthop(it, &r) {
			return nil, routeErr(&r, errs.ErrExists)
		}
		if canECMP && sibling < 0 && ecmpOK(it) {
			sibling = k
		}
	}
	if flags&Replace != 0 {
		if found < 0 {
			found = fallback
		}
		if found >= 0 {
			out := slices.Clone(list)
			out[found] = r
			return out, nil
		}
		if flags&Create == 0 {
			return nil, routeErr(&r, errs.ErrNoEntry)
		}
	}
	if sibling >= 0 {
		out := slices.Clone(list)
		m := out[sibling]
		m.Nexthops = append(slices.Clip(slices.Clone(m.Nexthops)), r.Nexthops...)
		setBounds(m.Nexthops)
		out[sibling] = m
		return out, nil
	}
	return insertAt(list, ins, r), nil
}

// deleteRoute removes the first route of list that m selects. It returns
// the new list and whether it differs from list (an IPv6 multipath delete
// can change the list and still fail), or ErrNotFound.
func deleteRoute(list []Route, m *RouteMatch) ([]Route, bool, error) {
	if m.Prefix.Addr().Is4() {
		out, err := delete4(list, m)
		return out, err == nil, err
	}
	return delete6(list, m)
}

func matchErr(m *RouteMatch) error {
	return fmt.Errorf("route %s table %d: %w", m.Prefix, m.Table, errs.ErrNotFound)
}

// nhMatch4 is fib_nh_match: a device or gateway is compared with the first
// nexthop only; a multipath spec is compared leg by leg and must cover
// every leg of the route (extra legs in the spec are not looked at).
func nhMatch4(r *Route, m *RouteMatch) bool {
	if m.Dev != 0 || m.Gateway.IsValid() {
		if len(r.Nexthops) == 0 {
			// The kernel compares with a zeroed nexthop here.
			return m.Dev == 0 && !m.Gateway.IsValid()
		}
		nh := &r.Nexthops[0]
		return (m.Dev == 0 || m.Dev == nh.Dev) && (!m.Gateway.IsValid() || m.Gateway == nh.Gateway) &&
			(m.Encap == nil || m.Encap.Equal(nh.Encap))
	}
	if len(m.Nexthops) == 0 {
		return true
	}
	for i := range r.Nexthops {
		if i >= len(m.Nexthops) {
			return false
		}
		want, nh := &m.Nexthops[i], &r.Nexthops[i]
		if want.Dev != 0 && want.Dev != nh.Dev {
			return false
		}
		if want.Gateway.IsValid() && want.Gateway != nh.Gateway {
			return false
		}
	}
	return true
}

// delete4 is fib_table_delete: the first route (in lookup order) that
// matches every given field goes.
func delete4(list []Route, m *RouteMatch) ([]Route, error) {
	for k := range list {
		r := &list[k]
		if m.SetType && r.Type != m.Type {
			continue
		}
		if m.SetScope && r.Scope != m.Scope {
			continue
		}
		if m.PrefSrc.IsValid() && r.PrefSrc != m.PrefSrc {
			continue
		}
		if m.Protocol != 0 && r.Protocol != m.Protocol {
			continue
		}
		if m.Metric != 0 && r.Metric != m.Metric {
			continue
		}
		if !nhMatch4(r, m) {
			continue
		}
		return removeAt(list, k), nil
	}
	return nil, matchErr(m)
}

// delete6 is ip6_route_del: IPv6 compares device, gateway, metric and
// protocol only (not type, scope or source). Multipath legs are separate
// routes in the kernel, so the device and gateway are compared with every
// leg, and a delete naming a gateway removes only that leg; otherwise the
// route goes with all its legs. A multipath spec deletes leg by leg and
// fails if any leg was not found (having deleted the others).
func delete6(list []Route, m *RouteMatch) ([]Route, bool, error) {
	if len(m.Nexthops) > 0 && m.Dev == 0 && !m.Gateway.IsValid() {
		var failed error
		changed := false
		for i := range m.Nexthops {
			one := *m
			one.Nexthops = nil
			one.Dev, one.Gateway = m.Nexthops[i].Dev, m.Nexthops[i].Gateway
			out, _, err := delete6(list, &one)
			if err != nil {
				failed = err
				continue
			}
			list, changed = out, true
		}
		return list, changed, failed
	}
	for k := range list {
		r := &list[k]
		if m.Metric != 0 && r.Metric != m.Metric {
			continue
		}
		if m.Protocol != 0 && r.Protocol != m.Protocol {
			continue
		}
		leg := -1
		if m.Dev == 0 && !m.Gateway.IsValid() {
			leg = 0
		} else {
			for i := range r.Nexthops {
				nh := &r.Nexthops[i]
				if (m.Dev == 0 || nh.Dev == m.Dev) && (!m.Gateway.IsValid() || nh.Gateway == m.Gateway) {
					leg = i
					break
				}
			}
		}
		if leg < 0 {
			continue
		}
		if !m.Gateway.IsValid() || len(r.Nexthops) <= 1 {
			return removeAt(list, k), true, nil
		}
		out := slices.Clone(list)
		nr := out[k]
		nr.Nexthops = slices.Delete(slices.Clone(nr.Nexthops), leg, leg+1)
		setBounds(nr.Nexthops)
		out[k] = nr
		return out, true, nil
	}
	return nil, false, matchErr(m)
}
