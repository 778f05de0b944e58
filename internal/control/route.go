package control

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"

	"flowpath/api"
	"flowpath/internal/errs"
	"flowpath/internal/fib"
)

// parseDst parses a route destination: "default", a prefix, or an address
// (a host route). The prefix must have no host bits set, as the kernel
// insists ("Invalid prefix for given prefix length").
func parseDst(s string, family int) (netip.Prefix, error) {
	if s == "default" || s == "all" || s == "" {
		if family == 6 {
			return netip.PrefixFrom(netip.IPv6Unspecified(), 0), nil
		}
		return netip.PrefixFrom(netip.IPv4Unspecified(), 0), nil
	}
	p, err := parseIfPrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("destination %q: %w", s, errs.ErrInvalid)
	}
	if p.Masked() != p {
		return netip.Prefix{}, fmt.Errorf("invalid prefix for given prefix length %s: %w", s, errs.ErrInvalid)
	}
	if family != 0 && (family == 4) != p.Addr().Is4() {
		return netip.Prefix{}, fmt.Errorf("destination %s is not IPv%d: %w", s, family, errs.ErrAFNoSupport)
	}
	return p, nil
}

// routeFamily infers the family of a route from what it names.
func routeFamily(r *api.Route) int {
	if r.Family == 4 || r.Family == 6 {
		return r.Family
	}
	try := func(s string) int {
		if p, err := parseIfPrefix(s); err == nil {
			if p.Addr().Is4() {
				return 4
			}
			return 6
		}
		return 0
	}
	if f := try(r.Dst); f != 0 {
		return f
	}
	if f := try(r.Via); f != 0 {
		return f
	}
	for _, nh := range r.Nexthops {
		if f := try(nh.Via); f != 0 {
			return f
		}
	}
	return 4
}

func parseTable(t uint32, typ fib.RouteType) uint32 {
	if t != 0 {
		return t
	}
	if typ == fib.RouteLocal || typ == fib.RouteBroadcast {
		return fib.TableLocal
	}
	return fib.TableMain
}

var protoNames = map[string]fib.Protocol{"unspec": 0, "redirect": 1, "kernel": 2, "boot": 3, "static": 4}

func parseProto(s string) (fib.Protocol, error) {
	if s == "" {
		return fib.ProtoBoot, nil
	}
	if p, ok := protoNames[s]; ok {
		return p, nil
	}
	n, err := strconv.ParseUint(s, 0, 8)
	if err != nil {
		return 0, fmt.Errorf("protocol %q: %w", s, errs.ErrInvalid)
	}
	return fib.Protocol(n), nil
}

var scopeNames = map[string]fib.Scope{"global": fib.ScopeUniverse, "universe": fib.ScopeUniverse,
	"site": fib.ScopeSite, "link": fib.ScopeLink, "host": fib.ScopeHost, "nowhere": fib.ScopeNowhere}

func parseScope(s string) (fib.Scope, error) {
	if sc, ok := scopeNames[s]; ok {
		return sc, nil
	}
	n, err := strconv.ParseUint(s, 0, 8)
	if err != nil {
		return 0, fmt.Errorf("scope %q: %w", s, errs.ErrInvalid)
	}
	return fib.Scope(n), nil
}

// isLocalAddr reports whether a is one of this host's addresses.
func (m *Model) isLocalAddr(a netip.Addr) bool {
	var res fib.Result
	return m.fib.LookupTable(fib.TableLocal, a, 0, &res) && res.Type == fib.RouteLocal
}

// resolveNexthop turns an API nexthop into a FIB one, checking it the
// way the kernel's fib_check_nh does: the device exists and is up, the
// gateway has the route's family, is not local, and is reachable through
// a directly connected route (on the named device, if one is named)
// unless onlink says otherwise.
func (m *Model) resolveNexthop(via, dev string, weight int, onlink bool, family int, table uint32, encap *api.Encap, multipath bool) (fib.Nexthop, error) {
	var nh fib.Nexthop
	var err error
	if nh.Encap, err = m.toEncap(encap, multipath); err != nil {
		return nh, err
	}
	if weight < 0 || weight > 256 {
		return nh, fmt.Errorf("nexthop weight %d not in 1..256: %w", weight, errs.ErrInvalid)
	}
	if weight == 0 {
		weight = 1
	}
	nh.Weight = uint16(weight)
	var l *link
	if dev != "" {
		var err error
		if l, err = m.linkByName(dev); err != nil {
			return nh, err
		}
		nh.Dev = l.index
	}
	if onlink {
		if l == nil {
			return nh, fmt.Errorf("onlink needs a device: %w", errs.ErrInvalid)
		}
		nh.Flags |= fib.NHOnLink
	}
	if via != "" {
		gw, err := netip.ParseAddr(via)
		if err != nil || gw.Zone() != "" {
			return nh, fmt.Errorf("gateway %q: %w", via, errs.ErrInvalid)
		}
		if (family == 4) != gw.Is4() {
			return nh, fmt.Errorf("gateway %s is not IPv%d: %w", gw, family, errs.ErrInvalid)
		}
		if gw.IsMulticast() || gw.IsUnspecified() {
			return nh, fmt.Errorf("nexthop has invalid gateway %s: %w", gw, errs.ErrInvalid)
		}
		// One of our own addresses as the gateway: IPv6 refuses it
		// (ip6_validate_gw), IPv4 only on an onlink nexthop, which must
		// name a unicast address (fib_check_nh_v4_gw); otherwise the
		// kernel's lookup of the gateway finds a local route and takes it.
		if m.isLocalAddr(gw) {
			switch {
			case gw.Is6():
				return nh, fmt.Errorf("gateway %s: gateway can not be a local address: %w", gw, errs.ErrInvalid)
			case onlink:
				return nh, fmt.Errorf("nexthop has invalid gateway %s (a local address): %w", gw, errs.ErrInvalid)
			}
		}
		nh.Gateway = gw
		if gw.Is6() && gw.IsLinkLocalUnicast() && l == nil {
			// A link-local gateway means nothing without its link
			// (ip6_validate_gw).
			return nh, fmt.Errorf("gateway %s: egress device not specified: %w", gw, errs.ErrInvalid)
		}
		if !onlink && !(gw.Is6() && gw.IsLinkLocalUnicast()) {
			var res fib.Result
			ok := m.fib.LookupTable(table, gw, 0, &res)
			if !ok && table != fib.TableMain {
				ok = m.fib.LookupTable(fib.TableMain, gw, 0, &res)
			}
			if !ok || res.Type != fib.RouteUnicast || res.Nexthop == nil || res.Nexthop.Gateway.IsValid() ||
				(l != nil && res.Nexthop.Dev != l.index) {
				// fib_check_nh_v4_gw fails with the lookup's
				// ENETUNREACH, ip6_route_check_nh with EHOSTUNREACH.
				if gw.Is6() {
					return nh, fmt.Errorf("nexthop has invalid gateway %s: %w", gw, errs.ErrHostUnreach)
				}
				return nh, fmt.Errorf("nexthop has invalid gateway %s: %w", gw, errs.ErrNetUnreach)
			}
			if l == nil {
				nh.Dev = res.Nexthop.Dev
				l = m.links[nh.Dev]
			}
		}
	}
	if l == nil {
		return nh, fmt.Errorf("nexthop needs a gateway or a device: %w", errs.ErrInvalid)
	}
	if family == 6 && l.ipv6Off() {
		// No IPv6 on the device (mtu under 1280): the kernel finds no
		// inet6_dev for it.
		return nh, fmt.Errorf("nexthop device %s has no IPv6 (mtu %d): %w", l.name, l.mtu, errs.ErrNoDevice)
	}
	if !l.up {
		return nh, fmt.Errorf("nexthop device %s is not up: %w", l.name, errs.ErrNetDown)
	}
	return nh, nil
}

// toFIBRoute converts and validates a route of an add/replace/append.
func (m *Model) toFIBRoute(a *api.Route) (fib.Route, error) {
	var r fib.Route
	family := routeFamily(a)
	typ := fib.RouteUnicast
	if a.Type != "" {
		t, ok := fib.ParseRouteType(a.Type)
		if !ok {
			return r, fmt.Errorf("route type %q: %w", a.Type, errs.ErrInvalid)
		}
		typ = t
	}
	dst, err := parseDst(a.Dst, family)
	if err != nil {
		return r, err
	}
	r.Prefix, r.Type, r.Table, r.Metric = dst, typ, parseTable(a.Table, typ), a.Metric
	if family == 6 && a.Metric == 0 && typ == fib.RouteUnicast {
		r.Metric = 1024 // the kernel's IP6_RT_PRIO_USER
	}
	if r.Protocol, err = parseProto(a.Protocol); err != nil {
		return r, err
	}
	r.MTU, r.MTULock = a.MTU, a.MTULock
	if a.MTU != 0 && (a.MTU < 68 || a.MTU > 65535) {
		return r, fmt.Errorf("route mtu %d: %w", a.MTU, errs.ErrInvalid)
	}
	if a.Src != "" {
		src, err := netip.ParseAddr(a.Src)
		if err != nil || (family == 4) != src.Is4() || !m.isLocalAddr(src) {
			return r, fmt.Errorf("invalid prefsrc address %q: %w", a.Src, errs.ErrInvalid)
		}
		r.PrefSrc = src
	}
	switch typ {
	case fib.RouteBlackhole, fib.RouteUnreachable, fib.RouteProhibit, fib.RouteThrow:
		if a.Via != "" || len(a.Nexthops) > 0 {
			return r, fmt.Errorf("%s route cannot have a nexthop: %w", typ, errs.ErrInvalid)
		}
	default:
		if len(a.Nexthops) > 0 {
			if a.Via != "" || a.Dev != "" {
				return r, fmt.Errorf("route has both a nexthop and a multipath list: %w", errs.ErrInvalid)
			}
			for _, n := range a.Nexthops {
				nh, err := m.resolveNexthop(n.Via, n.Dev, n.Weight, n.Onlink, family, r.Table, n.Encap, true)
				if err != nil {
					return r, err
				}
				r.Nexthops = append(r.Nexthops, nh)
			}
		} else {
			nh, err := m.resolveNexthop(a.Via, a.Dev, 0, a.Onlink, family, r.Table, a.Encap, false)
			if err != nil {
				return r, err
			}
			r.Nexthops = []fib.Nexthop{nh}
		}
	}
	// iproute2's default scopes: host for local, link for broadcast and
	// for unicast routes without a gateway, else universe.
	switch {
	case a.Scope != "":
		if r.Scope, err = parseScope(a.Scope); err != nil {
			return r, err
		}
	case typ == fib.RouteLocal:
		r.Scope = fib.ScopeHost
	case typ == fib.RouteBroadcast:
		r.Scope = fib.ScopeLink
	case typ == fib.RouteUnicast && family == 4 && len(r.Nexthops) == 1 && !r.Nexthops[0].Gateway.IsValid():
		r.Scope = fib.ScopeLink
	}
	return r, nil
}

func (m *Model) routeAdd(a *api.Route, flags fib.AddFlags) error {
	if a.Family == api.FamilyMPLS {
		return m.mplsRouteAdd(a, flags)
	}
	r, err := m.toFIBRoute(a)
	if err != nil {
		return err
	}
	txn := m.fib.Begin()
	if err := txn.AddRoute(r, flags); err != nil {
		return err
	}
	m.fib = txn.Commit()
	m.publish()
	return nil
}

// toMatch converts a route del into a match on what it names.
func (m *Model) toMatch(a *api.Route) (fib.RouteMatch, error) {
	var rm fib.RouteMatch
	family := routeFamily(a)
	dst, err := parseDst(a.Dst, family)
	if err != nil {
		return rm, err
	}
	rm.Prefix = dst
	if a.Type != "" {
		t, ok := fib.ParseRouteType(a.Type)
		if !ok {
			return rm, fmt.Errorf("route type %q: %w", a.Type, errs.ErrInvalid)
		}
		rm.Type, rm.SetType = t, true
	}
	rm.Table = parseTable(a.Table, rm.Type)
	rm.Metric = a.Metric
	if a.Protocol != "" {
		if rm.Protocol, err = parseProto(a.Protocol); err != nil {
			return rm, err
		}
		rm.SetProto = true
	}
	if a.Scope != "" {
		if rm.Scope, err = parseScope(a.Scope); err != nil {
			return rm, err
		}
		rm.SetScope = true
	}
	if a.Dev != "" {
		l, err := m.linkByName(a.Dev)
		if err != nil {
			return rm, err
		}
		rm.Dev = l.index
	}
	if a.Via != "" {
		gw, err := netip.ParseAddr(a.Via)
		if err != nil {
			return rm, fmt.Errorf("gateway %q: %w", a.Via, errs.ErrInvalid)
		}
		rm.Gateway = gw
	}
	if rm.Encap, err = m.toEncap(a.Encap, false); err != nil {
		return rm, err
	}
	for _, n := range a.Nexthops {
		var nh fib.Nexthop
		if n.Dev != "" {
			l, err := m.linkByName(n.Dev)
			if err != nil {
				return rm, err
			}
			nh.Dev = l.index
		}
		if n.Via != "" {
			gw, err := netip.ParseAddr(n.Via)
			if err != nil {
				return rm, fmt.Errorf("gateway %q: %w", n.Via, errs.ErrInvalid)
			}
			nh.Gateway = gw
		}
		rm.Nexthops = append(rm.Nexthops, nh)
	}
	return rm, nil
}

func (m *Model) routeDel(a *api.Route) error {
	if a.Family == api.FamilyMPLS {
		return m.mplsRouteDel(a)
	}
	rm, err := m.toMatch(a)
	if err != nil {
		return err
	}
	txn := m.fib.Begin()
	if err := txn.DelRoute(rm); err != nil {
		return err
	}
	m.fib = txn.Commit()
	m.publish()
	return nil
}

// selectRoutes lists the routes a show or flush filter selects.
func (m *Model) selectRoutes(f *api.Filter) ([]fib.Route, error) {
	var filt api.Filter
	if f != nil {
		filt = *f
	}
	table := filt.Table
	if table == 0 {
		table = fib.TableMain
	}
	family := filt.Family
	if family == 0 {
		// iproute2 asks for IPv4 unless the table is "all" (then both,
		// or the family of a prefix given).
		family = 4
		if table == api.TableAll {
			family = 0
			if p, err := parseIfPrefix(filt.Prefix); err == nil && p.Addr().Is6() {
				family = 6
			} else if err == nil {
				family = 4
			}
		}
	}
	if table == api.TableAll {
		table = 0
	}
	var dev uint32
	if filt.Dev != "" {
		l, err := m.linkByName(filt.Dev)
		if err != nil {
			return nil, err
		}
		dev = l.index
	}
	var pfx netip.Prefix
	if filt.Prefix != "" {
		p, err := parseDst(filt.Prefix, family)
		if err != nil {
			return nil, err
		}
		pfx = p
	}
	var typ fib.RouteType
	if filt.Type != "" {
		t, ok := fib.ParseRouteType(filt.Type)
		if !ok {
			return nil, fmt.Errorf("route type %q: %w", filt.Type, errs.ErrInvalid)
		}
		typ = t
	}
	var out []fib.Route
	m.fib.Routes(table, family, func(r *fib.Route) bool {
		if pfx.IsValid() && r.Prefix != pfx {
			return true
		}
		if filt.Type != "" && r.Type != typ {
			return true
		}
		if dev != 0 {
			hit := false
			for _, nh := range r.Nexthops {
				hit = hit || nh.Dev == dev
			}
			if !hit {
				return true
			}
		}
		out = append(out, *r)
		return true
	})
	return out, nil
}

func (m *Model) routeShow(f *api.Filter) (*api.Response, error) {
	if f != nil && f.Family == api.FamilyMPLS {
		return &api.Response{Routes: m.mplsRouteShow()}, nil
	}
	rs, err := m.selectRoutes(f)
	if err != nil {
		return nil, err
	}
	out := make([]api.Route, 0, len(rs))
	for i := range rs {
		out = append(out, m.toAPIRoute(&rs[i]))
	}
	return &api.Response{Routes: out}, nil
}

func (m *Model) devName(i uint32) string {
	if l := m.links[i]; l != nil {
		return l.name
	}
	return fmt.Sprintf("if%d", i)
}

func nhFlags(f fib.NHFlags) []string {
	var out []string
	if f&fib.NHDead != 0 {
		out = append(out, "dead")
	}
	if f&fib.NHOnLink != 0 {
		out = append(out, "onlink")
	}
	if f&fib.NHLinkDown != 0 {
		out = append(out, "linkdown")
	}
	return out
}

func (m *Model) toAPIRoute(r *fib.Route) api.Route {
	fam := 4
	if !r.Prefix.Addr().Is4() {
		fam = 6
	}
	dst := r.Prefix.String()
	if r.Prefix.Bits() == 0 {
		dst = "default"
	} else if r.Prefix.Bits() == r.Prefix.Addr().BitLen() {
		dst = r.Prefix.Addr().String()
	}
	a := api.Route{Family: fam, Type: r.Type.String(), Dst: dst, Table: r.Table, Metric: r.Metric,
		MTU: r.MTU, MTULock: r.MTULock, Protocol: r.Protocol.String(), Scope: r.Scope.String()}
	if r.PrefSrc.IsValid() {
		a.Src = r.PrefSrc.String()
	}
	if len(r.Nexthops) == 1 {
		nh := r.Nexthops[0]
		if nh.Gateway.IsValid() {
			a.Via = nh.Gateway.String()
		}
		a.Dev = m.devName(nh.Dev)
		a.Onlink = nh.Flags&fib.NHOnLink != 0
		a.Flags = nhFlags(nh.Flags &^ fib.NHOnLink)
		a.Encap = fromEncap(nh.Encap)
	} else {
		for _, nh := range r.Nexthops {
			an := api.Nexthop{Dev: m.devName(nh.Dev), Weight: int(nh.Weight), Onlink: nh.Flags&fib.NHOnLink != 0,
				Flags: nhFlags(nh.Flags), Encap: fromEncap(nh.Encap)}
			if nh.Gateway.IsValid() {
				an.Via = nh.Gateway.String()
			}
			a.Nexthops = append(a.Nexthops, an)
		}
	}
	return a
}

// routeFlush deletes every route the filter selects, all or nothing.
func (m *Model) routeFlush(f *api.Filter) error {
	rs, err := m.selectRoutes(f)
	if err != nil {
		return err
	}
	txn := m.fib.Begin()
	for _, r := range rs {
		rm := fib.RouteMatch{Table: r.Table, Prefix: r.Prefix, Type: r.Type, SetType: true,
			Protocol: r.Protocol, SetProto: true, Metric: r.Metric}
		if len(r.Nexthops) > 0 {
			rm.Dev, rm.Gateway = r.Nexthops[0].Dev, r.Nexthops[0].Gateway
		}
		if err := txn.DelRoute(rm); err != nil && !errors.Is(err, errs.ErrNotFound) {
			return err
		}
	}
	m.fib = txn.Commit()
	for _, l := range m.links {
		// Forget kernel routes that were flushed so a later address
		// change does not try to delete them again.
		keep := l.kroutes[:0]
		for _, kr := range l.kroutes {
			var res fib.Result
			if m.fib.LookupTable(kr.Table, kr.Prefix.Addr(), 0, &res) && res.Route.Prefix == kr.Prefix {
				keep = append(keep, kr)
			}
		}
		l.kroutes = keep
	}
	m.publish()
	return nil
}
