package control

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"flowpath/api"
	"flowpath/internal/errs"
	"flowpath/internal/fib"
)

var ipProtos = map[string]uint8{"icmp": 1, "tcp": 6, "udp": 17, "ipv6-icmp": 58, "icmpv6": 58}

// routeGet answers `route get` with the decision and every step taken to
// reach it, using the same snapshot and hash the workers use.
func (m *Model) routeGet(g *api.RouteGet) (*api.Response, error) {
	dst, err := netip.ParseAddr(g.Dst)
	if err != nil {
		return nil, fmt.Errorf("destination %q: %w", g.Dst, errs.ErrInvalid)
	}
	fl := fib.Flow{Dst: dst, Mark: g.Mark, SrcPort: g.Sport, DstPort: g.Dport}
	if g.From != "" {
		if fl.Src, err = netip.ParseAddr(g.From); err != nil || fl.Src.Is4() != dst.Is4() {
			return nil, fmt.Errorf("source %q: %w", g.From, errs.ErrInvalid)
		}
	}
	if g.IPProto != "" {
		if p, ok := ipProtos[g.IPProto]; ok {
			fl.Proto = p
		} else if n, err := strconv.ParseUint(g.IPProto, 0, 8); err == nil {
			fl.Proto = uint8(n)
		} else {
			return nil, fmt.Errorf("ipproto %q: %w", g.IPProto, errs.ErrInvalid)
		}
	}
	if g.Iif != "" {
		l, err := m.linkByName(g.Iif)
		if err != nil {
			return nil, err
		}
		fl.IIF = l.index
		// A packet that would arrive there from a martian is dropped
		// before routing; the kernel answers the lookup with EINVAL.
		if src := fl.Src; dst.Is4() && !l.loopback {
			if !src.IsValid() {
				src = netip.IPv4Unspecified()
			}
			if why, bad := m.e.Snapshot().Martian4(src, dst); bad {
				return nil, fmt.Errorf("from %s to %s on %s: %s: %w", src, dst, l.name, strings.ReplaceAll(why, "_", " "), errs.ErrInvalid)
			}
		}
	}
	if g.Oif != "" {
		l, err := m.linkByName(g.Oif)
		if err != nil {
			return nil, err
		}
		fl.OIF = l.index
	}
	hash := fib.FlowHash(&fl, m.hashL4)
	var res fib.Result
	var explain []string
	policy := "l3"
	if m.hashL4 {
		policy = "l4"
	}
	explain = append(explain, fmt.Sprintf("flow: dst %s src %s iif %s mark %#x proto %d sport %d dport %d, hash %#08x (%s)",
		dst, addrOrAny(fl.Src), m.ifOrLocal(fl.IIF), fl.Mark, fl.Proto, fl.SrcPort, fl.DstPort, hash, policy))
	if !m.fib.Lookup(&fl, hash, &res) {
		return nil, fmt.Errorf("no route to %s: %w", dst, errs.ErrNetUnreach)
	}
	out := &api.RouteGetResult{Type: res.Type.String(), Dst: dst.String(), Table: res.Table, Mark: g.Mark, Iif: g.Iif}
	if res.Rule != nil {
		explain = append(explain, "rule "+ruleText(res.Rule)+" decided")
	}
	if res.Route == nil {
		explain = append(explain, "the rule's action ends the lookup: "+res.Type.String())
		out.Explain = explain
		return &api.Response{RouteGet: out}, nil
	}
	r := res.Route
	explain = append(explain, fmt.Sprintf("table %s: route %s type %s metric %d proto %s",
		tableName(res.Table), r.Prefix, r.Type, r.Metric, r.Protocol))
	out.MTU = r.MTU
	if res.Nexthop != nil {
		nh := res.Nexthop
		l := m.links[nh.Dev]
		out.Dev = m.devName(nh.Dev)
		if nh.Gateway.IsValid() {
			out.Via = nh.Gateway.String()
		}
		out.Encap = fromEncap(nh.Encap)
		if len(r.Nexthops) > 1 {
			explain = append(explain, fmt.Sprintf("multipath: nexthop %d of %d chosen by hash %#08x (weight %d)",
				res.NHIndex+1, len(r.Nexthops), hash, nh.Weight))
		}
		src := r.PrefSrc
		if !src.IsValid() && l != nil {
			src = primaryOf(l, dst)
		}
		if src.IsValid() {
			out.Src = src.String()
		}
		if l != nil {
			pmtu := l.mtu
			if r.MTU != 0 && r.MTU < pmtu {
				pmtu = r.MTU
			}
			out.PathMTU = pmtu
			explain = append(explain, fmt.Sprintf("output dev %s (index %d, %s, mtu %d)", l.name, l.index, upDown(l.up), pmtu))
			if res.Type == fib.RouteUnicast {
				target := nh.Gateway
				if !target.IsValid() {
					target = dst
				}
				if mac, st, ok := m.e.Neigh().Lookup(nh.Dev, target); ok {
					explain = append(explain, fmt.Sprintf("neighbour %s: %s lladdr %s", target, st, macString(mac)))
				} else {
					explain = append(explain, fmt.Sprintf("neighbour %s: unresolved (would be solicited)", target))
				}
			}
		}
	}
	out.Explain = explain
	return &api.Response{RouteGet: out}, nil
}

func macString(m [6]byte) string {
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5])
}

func upDown(up bool) string {
	if up {
		return "up"
	}
	return "down"
}

func addrOrAny(a netip.Addr) string {
	if a.IsValid() {
		return a.String()
	}
	return "any"
}

func (m *Model) ifOrLocal(i uint32) string {
	if i == 0 {
		return "local"
	}
	return m.devName(i)
}

// primaryOf picks a device's source address for dst.
func primaryOf(l *link, dst netip.Addr) netip.Addr {
	var first netip.Addr
	for _, p := range l.addrs {
		a := p.Addr()
		if a.Is4() != dst.Is4() || (a.Is6() && a.IsLinkLocalUnicast() != dst.IsLinkLocalUnicast()) {
			continue
		}
		if p.Contains(dst) {
			return a
		}
		if !first.IsValid() {
			first = a
		}
	}
	return first
}

func tableName(t uint32) string {
	switch t {
	case fib.TableMain:
		return "main"
	case fib.TableLocal:
		return "local"
	case fib.TableDefault:
		return "default"
	}
	return strconv.FormatUint(uint64(t), 10)
}

// ruleText prints a rule the way `ip rule` does.
func ruleText(r *fib.Rule) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d: ", r.Priority)
	if r.Invert {
		b.WriteString("not ")
	}
	if r.Src.IsValid() && r.Src.Bits() > 0 {
		fmt.Fprintf(&b, "from %s", r.Src)
	} else {
		b.WriteString("from all")
	}
	if r.Dst.IsValid() && r.Dst.Bits() > 0 {
		fmt.Fprintf(&b, " to %s", r.Dst)
	}
	if r.FwMark != 0 || r.FwMask != 0 {
		fmt.Fprintf(&b, " fwmark %#x", r.FwMark)
		if r.FwMask != 0xffffffff {
			fmt.Fprintf(&b, "/%#x", r.FwMask)
		}
	}
	if r.IIF != "" {
		fmt.Fprintf(&b, " iif %s", r.IIF)
	}
	if r.OIF != "" {
		fmt.Fprintf(&b, " oif %s", r.OIF)
	}
	if r.TunID != 0 {
		fmt.Fprintf(&b, " tun_id %d", r.TunID)
	}
	if r.Action == fib.RuleToTable {
		fmt.Fprintf(&b, " lookup %s", tableName(r.Table))
	} else {
		fmt.Fprintf(&b, " %s", r.Action)
	}
	return b.String()
}
