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

func (m *Model) addrAdd(a *api.Addr) error {
	p, err := parseIfPrefix(a.Prefix)
	if err != nil {
		return err
	}
	cur, err := m.linkByName(a.Dev)
	if err != nil {
		return err
	}
	if hasAddr(cur.addrs, p.Addr()) {
		return fmt.Errorf("address %s on %s: %w", p, a.Dev, errs.ErrExists)
	}
	if p.Addr().IsMulticast() || p.Addr().IsUnspecified() {
		return fmt.Errorf("address %s: %w", p, errs.ErrInvalid)
	}
	l := cur.clone()
	l.addrs = append(l.addrs, p)
	txn := m.fib.Begin()
	if err := m.syncKernelRoutes(txn, l); err != nil {
		return fmt.Errorf("address %s: %w", p, err)
	}
	m.links[l.index] = l
	m.fib = txn.Commit()
	m.publish()
	return nil
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
	found := false
	for i, q := range l.addrs {
		// Like the kernel, a delete that gives a prefix length must
		// match it; the address alone (/32 given as bare) matches any.
		if q.Addr() == p.Addr() && (q.Bits() == p.Bits() || p.Bits() == p.Addr().BitLen()) {
			l.addrs = append(l.addrs[:i], l.addrs[i+1:]...)
			found = true
			break
		}
	}
	if !found {
		return fmt.Errorf("address %s on %s: %w", a.Prefix, a.Dev, errs.ErrAddrNotAvail)
	}
	txn := m.fib.Begin()
	if err := m.syncKernelRoutes(txn, l); err != nil {
		return err
	}
	m.links[l.index] = l
	m.fib = txn.Commit()
	m.publish()
	return nil
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
	var keep []netip.Prefix
	for _, p := range l.addrs {
		if (f.Family == 4 && !p.Addr().Is4()) || (f.Family == 6 && p.Addr().Is4()) {
			keep = append(keep, p)
		}
	}
	l.addrs = keep
	txn := m.fib.Begin()
	if err := m.syncKernelRoutes(txn, l); err != nil {
		return err
	}
	m.links[l.index] = l
	m.fib = txn.Commit()
	m.publish()
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
		for _, p := range l.addrs {
			fam := 4
			if !p.Addr().Is4() {
				fam = 6
			}
			if f != nil && f.Family != 0 && f.Family != fam {
				continue
			}
			a := api.Addr{Dev: l.name, Prefix: p.String(), Family: fam, Scope: addrScope(p.Addr())}
			if fam == 4 && p.Bits() < 31 {
				a.Broadcast = broadcastOf(p).String()
			}
			out = append(out, a)
		}
	}
	return &api.Response{Addrs: out}, nil
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
		out = slices.DeleteFunc(out, func(r fib.Route) bool { return r.Type != fib.RouteLocal || r.Prefix.Addr().Is6() })
	}
	return out
}

// addrRoutes are the routes l's addresses make while l is up.
func addrRoutes(l *link) []fib.Route {
	var out []fib.Route
	nh := []fib.Nexthop{{Dev: l.index}}
	seen := map[netip.Prefix]bool{}
	for _, p := range l.addrs {
		a := p.Addr()
		if a.Is4() {
			local := netip.PrefixFrom(a, 32)
			if l.loopback {
				local = p.Masked()
			}
			out = append(out, fib.Route{Table: fib.TableLocal, Prefix: local, Type: fib.RouteLocal,
				Scope: fib.ScopeHost, Protocol: fib.ProtoKernel, PrefSrc: a, Nexthops: nh})
			if l.loopback {
				continue
			}
			if p.Bits() < 31 {
				out = append(out, fib.Route{Table: fib.TableLocal, Prefix: netip.PrefixFrom(broadcastOf(p), 32),
					Type: fib.RouteBroadcast, Scope: fib.ScopeLink, Protocol: fib.ProtoKernel, PrefSrc: a, Nexthops: nh})
			}
			if p.Bits() < 32 && !seen[p.Masked()] {
				seen[p.Masked()] = true
				out = append(out, fib.Route{Table: fib.TableMain, Prefix: p.Masked(), Type: fib.RouteUnicast,
					Scope: fib.ScopeLink, Protocol: fib.ProtoKernel, PrefSrc: a, Nexthops: nh})
			}
			continue
		}
		out = append(out, fib.Route{Table: fib.TableLocal, Prefix: netip.PrefixFrom(a, 128), Type: fib.RouteLocal,
			Scope: fib.ScopeUniverse, Protocol: fib.ProtoKernel, Nexthops: nh})
		if p.Bits() < 128 && !seen[p.Masked()] {
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
	for _, r := range l.kroutes {
		err := txn.DelRoute(fib.RouteMatch{Table: r.Table, Prefix: r.Prefix, Type: r.Type, SetType: true,
			Protocol: fib.ProtoKernel, SetProto: true, Dev: l.index, Metric: r.Metric})
		if err != nil && !errors.Is(err, errs.ErrNotFound) {
			return err
		}
	}
	l.kroutes = l.kroutes[:0]
	for _, r := range kernelRoutes(l) {
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
