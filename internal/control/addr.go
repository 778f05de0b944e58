package control

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"flowpath/api"
	"flowpath/internal/errs"
	"flowpath/internal/fib"
)

// parseIfPrefix parses an interface address "10.0.0.1/24" (the host bits
// are the address; a bare address means /32 or /128).
func parseIfPrefix(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("address %q: %w", s, errs.ErrInvalid)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// addrAttrs are what an address was added with beyond its prefix.
type addrAttrs struct {
	brd           netip.Addr // IPv4 broadcast given with brd (invalid: none)
	nodad         bool
	noPrefixRoute bool // IFA_F_NOPREFIXROUTE: no connected route
	// addedDown: an IPv6 address added while its link is down, which
	// has its local route until the link changes state.
	addedDown bool
}

// parseAddrAttrs reads an add request's broadcast and flags for p.
func parseAddrAttrs(a *api.Addr, p netip.Prefix) (addrAttrs, error) {
	var at addrAttrs
	switch b := a.Broadcast; {
	case b == "":
	case !p.Addr().Is4():
		return at, fmt.Errorf("broadcast %s: broadcast can be set only for IPv4 addresses: %w", b, errs.ErrInvalid)
	case b == "+" || b == "-":
		// iproute2 computes them for prefixes that have a host part to
		// spare, and sends nothing for /31 and /32.
		if p.Bits() < 31 {
			at.brd = p.Masked().Addr()
			if b == "+" {
				at.brd = broadcastOf(p)
			}
		}
	default:
		ba, err := netip.ParseAddr(b)
		if err != nil || !ba.Is4() {
			return at, fmt.Errorf("broadcast %q: %w", b, errs.ErrInvalid)
		}
		at.brd = ba
	}
	for _, f := range a.Flags {
		switch f {
		case "nodad":
			at.nodad = true
		case "noprefixroute":
			at.noPrefixRoute = true
		default:
			return at, fmt.Errorf("address flag %q: %w", f, errs.ErrInvalid)
		}
	}
	return at, nil
}

func (m *Model) addrAdd(a *api.Addr) error {
	p, err := parseIfPrefix(a.Prefix)
	if err != nil {
		return err
	}
	cur, err := m.linkByName(a.Dev)
	if err != nil {
		return err
	}
	// IPv4 takes one address twice with different prefix lengths
	// (inet_insert_ifa compares address and mask); IPv6 does not.
	if slices.ContainsFunc(cur.addrs, func(q netip.Prefix) bool {
		return q.Addr() == p.Addr() && (q.Bits() == p.Bits() || p.Addr().Is6())
	}) {
		return fmt.Errorf("address %s on %s: %w", p, a.Dev, errs.ErrExists)
	}
	if p.Addr().IsMulticast() || p.Addr().IsUnspecified() {
		return fmt.Errorf("address %s: %w", p, errs.ErrInvalid)
	}
	if p.Addr().Is6() && cur.ipv6Off() {
		return fmt.Errorf("address %s: IPv6 is off on %s (mtu %d < %d): %w", p, a.Dev, cur.mtu, ipv6MinMTU, errs.ErrInvalid)
	}
	at, err := parseAddrAttrs(a, p)
	if err != nil {
		return err
	}
	at.addedDown = p.Addr().Is6() && !cur.up
	l := cur.clone()
	had4 := hasIPv4(l)
	l.addrs = append(l.addrs, p)
	if at != (addrAttrs{}) {
		if l.attrs == nil {
			l.attrs = map[netip.Prefix]addrAttrs{}
		}
		l.attrs[p] = at
	}
	txn := m.fib.Begin()
	if !had4 && p.Addr().Is4() {
		// IPv4 on again: the legs its loss killed live (fib_sync_up).
		txn.EnableIPv4(l.index)
	}
	if err := m.syncKernelRoutes(txn, l); err != nil {
		return fmt.Errorf("address %s: %w", p, err)
	}
	m.links[l.index] = l
	m.fib = txn.Commit()
	m.publish()
	return nil
}

// sameSubnet4 reports whether IPv4 addresses p and q are in one subnet
// with one prefix length, which makes the later one a secondary
// (inet_insert_ifa).
func sameSubnet4(p, q netip.Prefix) bool {
	return p.Addr().Is4() && q.Addr().Is4() && q.Bits() == p.Bits() && q.Masked() == p.Masked()
}

// secondary reports whether l.addrs[i] is an IPv4 secondary address: an
// earlier address is in its subnet with its prefix length.
func secondary(l *link, i int) bool {
	return slices.ContainsFunc(l.addrs[:i], func(q netip.Prefix) bool { return sameSubnet4(l.addrs[i], q) })
}

// primaryFor is the primary address of the subnet of IPv4 address p on l
// (p itself if p is primary).
func primaryFor(l *link, p netip.Prefix) netip.Addr {
	if i := slices.IndexFunc(l.addrs, func(q netip.Prefix) bool { return sameSubnet4(p, q) }); i >= 0 {
		return l.addrs[i].Addr()
	}
	return p.Addr()
}

func (m *Model) addrDel(a *api.Addr) error {
	p, err := parseIfPrefix(a.Prefix)
	if err != nil {
		return err
	}
	cur, err := m.linkByName(a.Dev)
	if err != nil {
		return err
	}
	l := cur.clone()
	at := -1
	for i, q := range l.addrs {
		// Like the kernel, a delete that gives a prefix length must
		// match it; the address alone (/32 given as bare) matches any.
		if q.Addr() == p.Addr() && (q.Bits() == p.Bits() || p.Bits() == p.Addr().BitLen()) {
			at = i
			break
		}
	}
	if at < 0 {
		return fmt.Errorf("address %s on %s: %w", a.Prefix, a.Dev, errs.ErrAddrNotAvail)
	}
	gone := []netip.Prefix{l.addrs[at]}
	if !secondary(l, at) && m.sys.promoteSecondaries == 0 {
		// Without promote_secondaries the secondaries of a deleted
		// primary go with it (__inet_del_ifa); with it, the next one
		// becomes the primary.
		for _, r := range l.addrs[at+1:] {
			if sameSubnet4(l.addrs[at], r) {
				gone = append(gone, r)
			}
		}
	}
	txn := m.fib.Begin()
	ipv4Off, err := m.removeAddrs(txn, l, gone)
	if err != nil {
		return err
	}
	m.links[l.index] = l
	m.fib = txn.Commit()
	m.publish()
	if ipv4Off {
		m.e.Neigh().FlushDeviceIPv4(l.index)
	}
	return nil
}

// removeAddrs takes the addresses gone off l (a clone the caller
// publishes) and, for each no other link still has, does what the kernel
// does to routes that name it as their source: IPv4 routes go
// (fib_sync_down_addr), IPv6 routes forget it (rt6_remove_prefsrc). Then
// l's own address routes are brought in line.
//
// When l's last IPv4 address goes, IPv4 is off on it (fib_disable_ip):
// the IPv4 routes through it go or lose those legs (fib.DisableIPv4), and
// ipv4Off tells the caller to flush its ARP entries once the change is
// published.
func (m *Model) removeAddrs(txn *fib.Txn, l *link, gone []netip.Prefix) (ipv4Off bool, err error) {
	had4 := hasIPv4(l)
	l.addrs = slices.DeleteFunc(l.addrs, func(p netip.Prefix) bool { return slices.Contains(gone, p) })
	for _, p := range gone {
		delete(l.attrs, p)
		if hasAddr(l.addrs, p.Addr()) || m.addrElsewhere(l.index, p.Addr()) {
			continue // still ours
		}
		txn.FlushPrefsrc(p.Addr(), p.Addr().Is6())
	}
	if had4 && !hasIPv4(l) {
		txn.DisableIPv4(l.index)
		ipv4Off = true
	}
	return ipv4Off, m.syncKernelRoutes(txn, l)
}

// hasIPv4 reports whether l has an IPv4 address.
func hasIPv4(l *link) bool {
	return slices.ContainsFunc(l.addrs, func(p netip.Prefix) bool { return p.Addr().Is4() })
}

// addrElsewhere reports whether a link other than index has address a.
func (m *Model) addrElsewhere(index uint32, a netip.Addr) bool {
	for i, o := range m.links {
		if i != index && hasAddr(o.addrs, a) {
			return true
		}
	}
	return false
}

func (m *Model) addrFlush(f *api.Filter) error {
	if f == nil || f.Dev == "" {
		return fmt.Errorf("addr flush: a device is required: %w", errs.ErrInvalid)
	}
	cur, err := m.linkByName(f.Dev)
	if err != nil {
		return err
	}
	l := cur.clone()
	var gone []netip.Prefix
	for _, p := range l.addrs {
		if f.Family == 0 || (f.Family == 4) == p.Addr().Is4() {
			gone = append(gone, p)
		}
	}
	txn := m.fib.Begin()
	ipv4Off, err := m.removeAddrs(txn, l, gone)
	if err != nil {
		return err
	}
	m.links[l.index] = l
	m.fib = txn.Commit()
	m.publish()
	if ipv4Off {
		m.e.Neigh().FlushDeviceIPv4(l.index)
	}
	return nil
}

func (m *Model) addrShow(f *api.Filter) (*api.Response, error) {
	if f != nil && f.Dev != "" {
		if _, err := m.linkByName(f.Dev); err != nil {
			return nil, err
		}
	}
	var out []api.Addr
	for _, l := range m.sortedLinks() {
		if f != nil && f.Dev != "" && f.Dev != l.name {
			continue
		}
		// The kernel keeps a link's IPv4 primaries ahead of its
		// secondaries, each in the order added.
		var prim, sec, v6 []api.Addr
		for i, p := range l.addrs {
			fam := 4
			if !p.Addr().Is4() {
				fam = 6
			}
			if f != nil && f.Family != 0 && f.Family != fam {
				continue
			}
			a := api.Addr{Dev: l.name, Prefix: p.String(), Family: fam, Scope: addrScope(p.Addr())}
			at := l.attrs[p]
			if at.brd.IsValid() {
				a.Broadcast = at.brd.String()
			}
			isSec := secondary(l, i)
			if isSec {
				a.Flags = append(a.Flags, "secondary")
			}
			if at.nodad {
				a.Flags = append(a.Flags, "nodad")
			}
			if at.noPrefixRoute {
				a.Flags = append(a.Flags, "noprefixroute")
			}
			switch {
			case fam == 6:
				v6 = append(v6, a)
			case isSec:
				sec = append(sec, a)
			default:
				prim = append(prim, a)
			}
		}
		out = append(append(out, prim...), sec...)
		out = append(out, ipv6Order(v6)...)
	}
	return &api.Response{Addrs: out}, nil
}

// ipv6Order puts a link's IPv6 addresses (given in the order added) in
// the kernel's order: by scope, global before link before host, and the
// newest first within a scope (ipv6_link_dev_addr inserts each before the
// first of its scope).
func ipv6Order(as []api.Addr) []api.Addr {
	rank := map[string]int{"global": 0, "link": 1, "host": 2}
	out := slices.Clone(as)
	slices.Reverse(out)
	slices.SortStableFunc(out, func(a, b api.Addr) int { return rank[a.Scope] - rank[b.Scope] })
	return out
}

func addrScope(a netip.Addr) string {
	switch {
	case a.IsLoopback():
		return "host"
	case a.IsLinkLocalUnicast():
		return "link"
	}
	return "global"
}

// broadcastOf is the directed broadcast address of an IPv4 prefix.
func broadcastOf(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// kernelRoutes are the routes the kernel derives from a device's addresses
// (fib_add_ifaddr, addrconf): while it is up, a local route per address in
// table local, an IPv4 broadcast route, and the connected prefix in main;
// while it is down, the IPv4 local routes alone. A second address in a
// prefix already connected adds no second prefix route (the kernel's
// secondary addresses).
func kernelRoutes(l *link) []fib.Route {
	out := addrRoutes(l)
	if !l.up {
		// A down link keeps only its IPv4 local routes: the kernel does
		// not kill host-scope nexthops (fib_sync_down_dev), so its
		// addresses still answer; the rest goes until it is up again.
		// An IPv6 address added while the link is down has its local
		// route from the start (addrconf adds it with the address) until
		// the link next changes state.
		out = slices.DeleteFunc(out, func(r fib.Route) bool {
			if r.Type != fib.RouteLocal {
				return true
			}
			if r.Prefix.Addr().Is4() {
				return false
			}
			return !slices.ContainsFunc(l.addrs, func(p netip.Prefix) bool {
				return p.Addr() == r.Prefix.Addr() && l.attrs[p].addedDown
			})
		})
	}
	return out
}

// addrRoutes are the routes l's addresses make while l is up
// (fib_add_ifaddr): every IPv4 address a local route and, when given one,
// a route for its broadcast address, with its primary's address as the
// source; a primary also its connected prefix (unless noprefixroute) and
// the prefix's broadcast. An IPv6 address a local route and its prefix.
func addrRoutes(l *link) []fib.Route {
	var out []fib.Route
	nh := []fib.Nexthop{{Dev: l.index}}
	seen := map[netip.Prefix]bool{}
	for i, p := range l.addrs {
		a := p.Addr()
		at := l.attrs[p]
		if a.Is4() {
			prim := primaryFor(l, p)
			out = append(out, fib.Route{Table: fib.TableLocal, Prefix: netip.PrefixFrom(a, 32), Type: fib.RouteLocal,
				Scope: fib.ScopeHost, Protocol: fib.ProtoKernel, PrefSrc: prim, Nexthops: nh})
			if at.brd.IsValid() && at.brd != netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
				out = append(out, fib.Route{Table: fib.TableLocal, Prefix: netip.PrefixFrom(at.brd, 32),
					Type: fib.RouteBroadcast, Scope: fib.ScopeLink, Protocol: fib.ProtoKernel, PrefSrc: prim, Nexthops: nh})
			}
			if secondary(l, i) || p.Bits() == 32 {
				continue
			}
			if !at.noPrefixRoute && !seen[p.Masked()] {
				seen[p.Masked()] = true
				// On a loopback the whole prefix is local (127.0.0.0/8).
				if l.loopback {
					out = append(out, fib.Route{Table: fib.TableLocal, Prefix: p.Masked(), Type: fib.RouteLocal,
						Scope: fib.ScopeHost, Protocol: fib.ProtoKernel, PrefSrc: a, Nexthops: nh})
				} else {
					out = append(out, fib.Route{Table: fib.TableMain, Prefix: p.Masked(), Type: fib.RouteUnicast,
						Scope: fib.ScopeLink, Protocol: fib.ProtoKernel, PrefSrc: a, Nexthops: nh})
				}
			}
			if p.Bits() < 31 {
				out = append(out, fib.Route{Table: fib.TableLocal, Prefix: netip.PrefixFrom(broadcastOf(p), 32),
					Type: fib.RouteBroadcast, Scope: fib.ScopeLink, Protocol: fib.ProtoKernel, PrefSrc: a, Nexthops: nh})
			}
			continue
		}
		out = append(out, fib.Route{Table: fib.TableLocal, Prefix: netip.PrefixFrom(a, 128), Type: fib.RouteLocal,
			Scope: fib.ScopeUniverse, Protocol: fib.ProtoKernel, Nexthops: nh})
		// Every IPv6 address has its prefix route, a /128 too
		// (addrconf_prefix_route), but the loopback's own ::1.
		if !at.noPrefixRoute && !seen[p.Masked()] && !(l.loopback && a == netip.IPv6Loopback()) {
			seen[p.Masked()] = true
			out = append(out, fib.Route{Table: fib.TableMain, Prefix: p.Masked(), Type: fib.RouteUnicast,
				Scope: fib.ScopeUniverse, Protocol: fib.ProtoKernel, Metric: 256, Nexthops: nh})
		}
	}
	return out
}

// syncKernelRoutes makes the FIB hold exactly the kernel routes of l's
// current addresses and state: the ones it put there before are removed
// (if the user has not already), the new ones added. l.kroutes records
// what was added.
func (m *Model) syncKernelRoutes(txn *fib.Txn, l *link) error {
	want := kernelRoutes(l)
	// Routes that stay are left where they are, as the kernel only
	// adds and removes what an address change adds or removes: the
	// order of equal prefixes in a dump stays the kernel's, and a kernel
	// route the user deleted is not brought back by an unrelated change.
	same := func(a, b *fib.Route) bool {
		return a.Table == b.Table && a.Prefix == b.Prefix && a.Type == b.Type && a.Scope == b.Scope &&
			a.Metric == b.Metric && a.PrefSrc == b.PrefSrc
	}
	in := func(list []fib.Route, r *fib.Route) bool {
		return slices.ContainsFunc(list, func(x fib.Route) bool { return same(&x, r) })
	}
	var kept []fib.Route
	for _, r := range l.kroutes {
		if in(want, &r) {
			kept = append(kept, r)
			continue
		}
		err := txn.DelRoute(fib.RouteMatch{Table: r.Table, Prefix: r.Prefix, Type: r.Type, SetType: true,
			Protocol: fib.ProtoKernel, SetProto: true, Dev: l.index, Metric: r.Metric})
		if err != nil && !errors.Is(err, errs.ErrNotFound) {
			return err
		}
	}
	l.kroutes = kept
	for _, r := range want {
		if in(kept, &r) {
			continue
		}
		// The kernel adds these without NLM_F_EXCL: IPv4 appends
		// (fib_magic: create|append), IPv6 just creates (addrconf, no
		// netlink header). So two devices on one prefix, like every
		// device's fe80::/64, each get a route of their own.
		flags := fib.FlagsAppend
		if r.Prefix.Addr().Is6() {
			flags = fib.Create
		}
		err := txn.AddRoute(r, flags)
		if errors.Is(err, errs.ErrExists) {
			continue // the same route through the same device is there already
		}
		if err != nil {
			return err
		}
		l.kroutes = append(l.kroutes, r)
	}
	return nil
}
