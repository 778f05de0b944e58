package control

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"

	"flowpath/api"
	"flowpath/internal/dataplane"
	"flowpath/internal/errs"
	"flowpath/internal/fib"
	"flowpath/internal/tunnel"
)

// platformLabels is the label space flowpath accepts routes for: all of
// it (the kernel's net.mpls.platform_labels, which defaults to 0 there,
// i.e. MPLS off until configured).
const platformLabels = 1 << 20

func parseLabel(s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("label %q: %w", s, errs.ErrInvalid)
	}
	l := uint32(n)
	if err := tunnel.CheckRouteLabel(l, platformLabels); err != nil {
		return 0, err
	}
	return l, nil
}

// mplsNexthop validates one path of a label route: a device that exists
// and a via address (its family says what is under the stack).
func (m *Model) mplsNexthop(via, dev string, as []uint32) (dataplane.LabelNexthop, error) {
	var nh dataplane.LabelNexthop
	if dev == "" {
		return nh, fmt.Errorf("label route needs a device: %w", errs.ErrInvalid)
	}
	l, err := m.linkByName(dev)
	if err != nil {
		return nh, err
	}
	nh.Dev = l.index
	if via == "" {
		return nh, fmt.Errorf("label route needs a via address: %w", errs.ErrInvalid)
	}
	a, err := netip.ParseAddr(via)
	if err != nil || a.Zone() != "" {
		return nh, fmt.Errorf("via %q: %w", via, errs.ErrInvalid)
	}
	nh.Via = a
	nh.Payload = tunnel.PayloadIPv4
	if a.Is6() {
		nh.Payload = tunnel.PayloadIPv6
	}
	if len(as) > 0 {
		if err := tunnel.CheckLabels(as); err != nil {
			return nh, err
		}
		nh.As = append([]uint32(nil), as...)
	}
	return nh, nil
}

// mplsRouteAdd runs `-f mpls route add|replace|append LABEL ...`.
func (m *Model) mplsRouteAdd(a *api.Route, flags fib.AddFlags) error {
	label, err := parseLabel(a.Dst)
	if err != nil {
		return err
	}
	rt := &dataplane.LabelRoute{Label: label}
	if len(a.Nexthops) > 0 {
		for _, n := range a.Nexthops {
			nh, err := m.mplsNexthop(n.Via, n.Dev, n.As)
			if err != nil {
				return err
			}
			rt.Nexthops = append(rt.Nexthops, nh)
		}
	} else {
		nh, err := m.mplsNexthop(a.Via, a.Dev, a.As)
		if err != nil {
			return err
		}
		rt.Nexthops = []dataplane.LabelNexthop{nh}
	}
	// mpls_route_add: an existing label is replaced only when asked
	// (replace, change), a missing one created only when allowed (not by
	// change).
	_, exists := m.mpls[label]
	switch {
	case exists && (flags&fib.Excl != 0 || flags&fib.Replace == 0):
		return fmt.Errorf("label route %d: %w", label, errs.ErrExists)
	case !exists && flags&fib.Create == 0:
		return fmt.Errorf("label route %d: %w", label, errs.ErrNoEntry)
	}
	next := make(map[uint32]*dataplane.LabelRoute, len(m.mpls)+1)
	for k, v := range m.mpls {
		next[k] = v
	}
	next[label] = rt
	m.mpls = next
	m.publish()
	return nil
}

// mplsRouteDel removes a label route. Like the kernel's mpls_route_del,
// deleting a label that has no route is not an error.
func (m *Model) mplsRouteDel(a *api.Route) error {
	label, err := parseLabel(a.Dst)
	if err != nil {
		return err
	}
	if _, ok := m.mpls[label]; !ok {
		return nil
	}
	next := make(map[uint32]*dataplane.LabelRoute, len(m.mpls))
	for k, v := range m.mpls {
		if k != label {
			next[k] = v
		}
	}
	m.mpls = next
	m.publish()
	return nil
}

// mplsRouteShow lists the label routes in label order.
func (m *Model) mplsRouteShow() []api.Route {
	labels := make([]uint32, 0, len(m.mpls))
	for l := range m.mpls {
		labels = append(labels, l)
	}
	sort.Slice(labels, func(i, j int) bool { return labels[i] < labels[j] })
	out := make([]api.Route, 0, len(labels))
	for _, l := range labels {
		rt := m.mpls[l]
		r := api.Route{Family: api.FamilyMPLS, Dst: strconv.FormatUint(uint64(l), 10)}
		if len(rt.Nexthops) == 1 {
			nh := rt.Nexthops[0]
			r.Via, r.Dev, r.As = nh.Via.String(), m.devName(nh.Dev), nh.As
		} else {
			for _, nh := range rt.Nexthops {
				r.Nexthops = append(r.Nexthops, api.Nexthop{Via: nh.Via.String(), Dev: m.devName(nh.Dev), As: nh.As})
			}
		}
		out = append(out, r)
	}
	return out
}

// mplsFlushDevice drops the label routes through a deleted device.
func (m *Model) mplsFlushDevice(dev uint32) {
	changed := false
	next := make(map[uint32]*dataplane.LabelRoute, len(m.mpls))
	for k, v := range m.mpls {
		keep := true
		for _, nh := range v.Nexthops {
			keep = keep && nh.Dev != dev
		}
		if keep {
			next[k] = v
		} else {
			changed = true
		}
	}
	if changed {
		m.mpls = next
	}
}
