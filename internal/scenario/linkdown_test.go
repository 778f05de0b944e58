package scenario

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/gopacket/layers"

	"flowpath/api"
)

// routeLines renders the routes of every table in a family, one line per
// route, as "prefix [type] table N via/dev ... flags" with each nexthop's
// flags: enough to compare with what `ip route show table all` printed.
func (h *harness) routeLines(fam int) []string {
	h.t.Helper()
	var out []string
	for _, r := range h.do(api.Request{Op: api.OpRouteShow, Filter: &api.Filter{Table: api.TableAll, Family: fam}}).Routes {
		if strings.HasPrefix(r.Dst, "fe80::") || strings.HasPrefix(r.Dst, "ff00::") || r.Dst == "::1" || r.Dev == "lo" {
			continue
		}
		s := r.Dst
		if r.Type != "" && r.Type != "unicast" {
			s = r.Type + " " + s
		}
		s += fmt.Sprintf(" table %d", r.Table)
		if r.Via != "" || r.Dev != "" {
			s += fmt.Sprintf(" via %s dev %s %s", r.Via, r.Dev, strings.Join(r.Flags, ","))
		}
		for _, n := range r.Nexthops {
			s += strings.TrimRight(fmt.Sprintf(" | via %s dev %s %s", n.Via, n.Dev, strings.Join(n.Flags, ",")), " ")
		}
		out = append(out, strings.TrimSpace(s))
	}
	slices.Sort(out)
	return out
}

// addrList is a link's addresses, link-local ones as "fe80::".
func (h *harness) addrList(dev string) []string {
	h.t.Helper()
	var out []string
	for _, a := range h.do(api.Request{Op: api.OpAddrShow, Filter: &api.Filter{Dev: dev}}).Addrs {
		if strings.HasPrefix(a.Prefix, "fe80:") {
			a.Prefix = "fe80::"
		}
		out = append(out, a.Prefix)
	}
	slices.Sort(out)
	return out
}

func wantLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s:\n got  %q\n want %q", what, got, want)
	}
}

// An administrative down, as `ip link set dev X down` does on Linux 6.18
// (checked on this machine's kernel with veths): the routes left with no
// nexthop through a device that is up go, in every table and both
// families, and do not come back with the link; multipath routes keep the
// live legs and the dead one returns with the link; the IPv6 addresses go
// (net.ipv6.conf.all.keep_addr_on_down 0) and only the link-local comes
// back; of the address routes only the IPv4 local ones stay, and the
// address still answers through them. With keep_addr_on_down 1 the IPv6
// addresses stay and their routes return with the link.
func TestLinkDownLikeKernel(t *testing.T) {
	h := newHarness(t, false)
	h.addLink("v1", "10.5.0.1/24", "2001:db8::1/64")
	h.addLink("v2", "10.6.0.1/24")
	h.addRoute(api.Route{Dst: "10.9.0.0/24", Via: "10.5.0.2"})
	h.addRoute(api.Route{Dst: "10.7.0.0/24", Via: "10.5.0.2", Table: 100})
	h.addRoute(api.Route{Dst: "10.7.1.0/24", Dev: "v1"})
	h.addRoute(api.Route{Dst: "2001:db8:9::/64", Via: "2001:db8::2"})
	h.addRoute(api.Route{Dst: "10.8.0.0/24", Nexthops: []api.Nexthop{{Via: "10.5.0.2"}, {Via: "10.6.0.2"}}})
	h.addRoute(api.Route{Dst: "2001:db8:8::/64", Nexthops: []api.Nexthop{{Via: "2001:db8::2", Dev: "v1"}, {Via: "fe80::2", Dev: "v2"}}})
	h.addRoute(api.Route{Dst: "10.7.2.0/24", Type: "blackhole"})
	down, up := false, true
	setUp := func(b *bool) { h.do(api.Request{Op: api.OpLinkSet, Link: &api.Link{Name: "v1", Up: b}}) }

	setUp(&down)
	wantLines(t, "IPv4 routes with v1 down", h.routeLines(4), []string{
		"10.6.0.0/24 table 254 via  dev v2",
		"10.8.0.0/24 table 254 | via 10.5.0.2 dev v1 dead,linkdown | via 10.6.0.2 dev v2",
		"blackhole 10.7.2.0/24 table 254",
		"broadcast 10.6.0.255 table 255 via  dev v2",
		"local 10.5.0.1 table 255 via  dev v1",
		"local 10.6.0.1 table 255 via  dev v2",
	})
	wantLines(t, "IPv6 routes with v1 down", h.routeLines(6), []string{
		"2001:db8:8::/64 table 254 | via 2001:db8::2 dev v1 dead,linkdown | via fe80::2 dev v2",
	})
	wantLines(t, "v1 addresses while down", h.addrList("v1"), []string{"10.5.0.1/24"})
	// The address of the down link still answers, from the other side.
	h2 := h.host("v2", [6]byte{2, 0, 0, 0, 6, 2}, "10.6.0.2", "").permanent()
	h2.send(h2.eth(layers.EthernetTypeIPv4), h2.ip4hdr("10.5.0.1", layers.IPProtocolICMPv4, 64),
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: 9, Seq: 1})
	if ic, ok := h2.recv().Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4); !ok || ic.TypeCode.Type() != layers.ICMPv4TypeEchoReply {
		t.Fatalf("10.5.0.1 did not answer while v1 was down: %v", ic)
	}

	setUp(&up)
	wantLines(t, "IPv4 routes with v1 up again", h.routeLines(4), []string{
		"10.5.0.0/24 table 254 via  dev v1",
		"10.6.0.0/24 table 254 via  dev v2",
		"10.8.0.0/24 table 254 | via 10.5.0.2 dev v1 | via 10.6.0.2 dev v2",
		"blackhole 10.7.2.0/24 table 254",
		"broadcast 10.5.0.255 table 255 via  dev v1",
		"broadcast 10.6.0.255 table 255 via  dev v2",
		"local 10.5.0.1 table 255 via  dev v1",
		"local 10.6.0.1 table 255 via  dev v2",
	})
	wantLines(t, "IPv6 routes with v1 up again", h.routeLines(6), []string{
		"2001:db8:8::/64 table 254 | via 2001:db8::2 dev v1 | via fe80::2 dev v2",
	})
	wantLines(t, "v1 addresses after down and up", h.addrList("v1"), []string{"10.5.0.1/24", "fe80::"})

	h.do(api.Request{Op: api.OpSysctlSet, Sysctl: &api.Sysctl{Name: "net.ipv6.conf.all.keep_addr_on_down", Value: "1"}})
	h.do(api.Request{Op: api.OpAddrAdd, Addr: &api.Addr{Dev: "v1", Prefix: "2001:db8::1/64"}})
	setUp(&down)
	wantLines(t, "v1 addresses while down, kept", h.addrList("v1"), []string{"10.5.0.1/24", "2001:db8::1/64"})
	setUp(&up)
	wantLines(t, "v1 addresses up again, kept", h.addrList("v1"), []string{"10.5.0.1/24", "2001:db8::1/64", "fe80::"})
	setUp(&down)
	wantLines(t, "IPv6 routes with v1 down, addresses kept", h.routeLines(6), []string{
		"2001:db8:8::/64 table 254 | via 2001:db8::2 dev v1 dead,linkdown | via fe80::2 dev v2",
	})
	setUp(&up)
	wantLines(t, "IPv6 routes with v1 up, addresses kept", h.routeLines(6), []string{
		"2001:db8:8::/64 table 254 | via 2001:db8::2 dev v1 | via fe80::2 dev v2",
		"2001:db8::/64 table 254 via  dev v1",
		"local 2001:db8::1 table 255 via  dev v1",
	})

	// An IPv6 address added to a down link has its local route at once,
	// until the link next changes state (the kernel's addrconf).
	h.do(api.Request{Op: api.OpSysctlSet, Sysctl: &api.Sysctl{Name: "net.ipv6.conf.all.keep_addr_on_down", Value: "0"}})
	setUp(&down)
	h.do(api.Request{Op: api.OpAddrAdd, Addr: &api.Addr{Dev: "v1", Prefix: "2001:db8:5::1/64"}})
	wantLines(t, "IPv6 routes of an address added while down", h.routeLines(6), []string{
		"2001:db8:8::/64 table 254 | via 2001:db8::2 dev v1 dead,linkdown | via fe80::2 dev v2",
		"local 2001:db8:5::1 table 255 via  dev v1",
	})
}

// Route commands next to add and replace, checked against the kernel the
// same way: prepend creates (another route of the prefix, first in line),
// change replaces and never creates (ENOENT); an MPLS label route exists
// once, so append or prepend on it is EEXIST as in mpls_route_add; "table
// all" without a family shows both; an IPv4 gateway may be a local
// address (not onlink); the loopback has the kernel's three
// IPv4 routes, keeps the local ones while down and gets ::1 back when up.
func TestRouteOpsLikeKernel(t *testing.T) {
	h := newHarness(t, false)
	h.addLink("v1", "10.5.0.1/24")
	h.addLink("v2", "10.6.0.1/24")
	op := func(o string, r api.Route) string {
		resp := h.try(api.Request{Op: o, Route: &r})
		return resp.Code
	}
	for _, c := range []struct {
		op   string
		r    api.Route
		code string
	}{
		{api.OpRoutePrepend, api.Route{Dst: "10.8.0.0/24", Dev: "v1"}, ""},
		{api.OpRoutePrepend, api.Route{Dst: "10.8.0.0/24", Dev: "v2"}, ""},
		{api.OpRouteChange, api.Route{Dst: "10.7.0.0/24", Dev: "v1"}, "ENOENT"},
		{api.OpRouteChange, api.Route{Dst: "10.8.0.0/24", Dev: "v2", Metric: 0}, ""},
		{api.OpRouteAdd, api.Route{Family: api.FamilyMPLS, Dst: "100", Via: "10.6.0.2", Dev: "v2"}, ""},
		{api.OpRouteAppend, api.Route{Family: api.FamilyMPLS, Dst: "100", Via: "10.6.0.3", Dev: "v2"}, "EEXIST"},
		{api.OpRoutePrepend, api.Route{Family: api.FamilyMPLS, Dst: "100", Via: "10.6.0.3", Dev: "v2"}, "EEXIST"},
		{api.OpRouteChange, api.Route{Family: api.FamilyMPLS, Dst: "101", Via: "10.6.0.3", Dev: "v2"}, "ENOENT"},
		{api.OpRouteChange, api.Route{Family: api.FamilyMPLS, Dst: "100", Via: "10.6.0.4", Dev: "v2"}, ""},
		// A gateway that is one of our addresses: IPv4 takes it unless
		// onlink.
		{api.OpRouteAdd, api.Route{Dst: "10.10.0.0/24", Via: "10.5.0.1"}, ""},
		{api.OpRouteAdd, api.Route{Dst: "10.11.0.0/24", Via: "10.5.0.1", Dev: "v1", Onlink: true}, "EINVAL"},
	} {
		if got := op(c.op, c.r); got != c.code {
			t.Errorf("%s %+v: %q, want %q", c.op, c.r, got, c.code)
		}
	}
	// Kernel: "10.8.0.0/24 dev v2 scope link" then "10.8.0.0/24 dev v1 scope link".
	if got := h.do(api.Request{Op: api.OpRouteShow, Filter: &api.Filter{Prefix: "10.8.0.0/24"}}).Routes; len(got) != 2 ||
		got[0].Dev != "v2" || got[1].Dev != "v1" {
		t.Fatalf("prepend order: %+v", got)
	}
	if r := h.do(api.Request{Op: api.OpRouteShow, Filter: &api.Filter{Family: api.FamilyMPLS}}).Routes; len(r) != 1 || r[0].Via != "10.6.0.4" {
		t.Fatalf("label route 100 after change: %+v", r)
	}

	fams := map[bool]int{}
	for _, r := range h.do(api.Request{Op: api.OpRouteShow, Filter: &api.Filter{Table: api.TableAll}}).Routes {
		fams[strings.Contains(r.Dst, ":")]++
	}
	if fams[false] == 0 || fams[true] == 0 {
		t.Fatalf("route show table all: %d IPv4 and %d IPv6 routes, want both", fams[false], fams[true])
	}

	// An IPv6 /128 gets a prefix route of its own, as addrconf gives it.
	h.do(api.Request{Op: api.OpAddrAdd, Addr: &api.Addr{Dev: "v1", Prefix: "2001:db8:3::1/128"}})
	if r := h.do(api.Request{Op: api.OpRouteShow, Filter: &api.Filter{Family: 6, Prefix: "2001:db8:3::1/128"}}).Routes; len(r) != 1 ||
		r[0].Dev != "v1" || r[0].Metric != 256 {
		t.Fatalf("prefix route of a /128: %+v", r)
	}

	lo := func() []string {
		var out []string
		for _, r := range h.do(api.Request{Op: api.OpRouteShow, Filter: &api.Filter{Table: api.TableAll, Dev: "lo"}}).Routes {
			out = append(out, r.Type+" "+r.Dst)
		}
		return out
	}
	wantLines(t, "lo routes", lo(), []string{"local 127.0.0.0/8", "local 127.0.0.1", "broadcast 127.255.255.255", "local ::1"})
	down, up := false, true
	h.do(api.Request{Op: api.OpLinkSet, Link: &api.Link{Name: "lo", Up: &down}})
	wantLines(t, "lo routes while down", lo(), []string{"local 127.0.0.0/8", "local 127.0.0.1"})
	h.do(api.Request{Op: api.OpLinkSet, Link: &api.Link{Name: "lo", Up: &up}})
	wantLines(t, "lo routes up again", lo(), []string{"local 127.0.0.0/8", "local 127.0.0.1", "broadcast 127.255.255.255", "local ::1"})
}

// An MTU under 1280 turns IPv6 off on a link, as addrconf does on Linux
// 6.18 here: its IPv6 addresses, the IPv6 routes and multipath legs
// through it and its IPv6 neighbours go (IPv4 stays); while it is off an
// IPv6 address is EINVAL and an IPv6 route through it ENODEV; back at
// 1500 it gets a link-local address, not the others.
func TestIPv6OffBelowMinMTU(t *testing.T) {
	h := newHarness(t, false)
	h.addLink("v1", "10.5.0.1/24", "2001:db8::1/64")
	h.addLink("v2", "10.6.0.1/24")
	h.addRoute(api.Route{Dst: "2001:db8:9::/64", Via: "2001:db8::2"})
	h.addRoute(api.Route{Dst: "2001:db8:7::/64", Nexthops: []api.Nexthop{{Via: "2001:db8::2", Dev: "v1"}, {Via: "fe80::2", Dev: "v2"}}})
	h.neigh("v1", netip.MustParseAddr("2001:db8::2"), [6]byte{2, 0, 0, 0, 0, 2})
	h.neigh("v1", netip.MustParseAddr("10.5.0.2"), [6]byte{2, 0, 0, 0, 0, 3})
	mtu := func(n int) { h.do(api.Request{Op: api.OpLinkSet, Link: &api.Link{Name: "v1", MTU: n}}) }

	mtu(1200)
	wantLines(t, "v1 addresses at mtu 1200", h.addrList("v1"), []string{"10.5.0.1/24"})
	wantLines(t, "IPv6 routes at mtu 1200", h.routeLines(6), []string{"2001:db8:7::/64 table 254 via fe80::2 dev v2"})
	wantLines(t, "neighbours", h.neighLines(), []string{"10.5.0.2 v1"})
	if c := h.try(api.Request{Op: api.OpAddrAdd, Addr: &api.Addr{Dev: "v1", Prefix: "2001:db8::1/64"}}).Code; c != "EINVAL" {
		t.Errorf("IPv6 address on a link without IPv6: %s, want EINVAL", c)
	}
	if c := h.try(api.Request{Op: api.OpRouteAdd, Route: &api.Route{Dst: "2001:db8:6::/64", Dev: "v1"}}).Code; c != "ENODEV" {
		t.Errorf("IPv6 route through a link without IPv6: %s, want ENODEV", c)
	}

	mtu(1500)
	wantLines(t, "v1 addresses back at 1500", h.addrList("v1"), []string{"10.5.0.1/24", "fe80::"})
	wantLines(t, "IPv6 routes back at 1500", h.routeLines(6), []string{"2001:db8:7::/64 table 254 via fe80::2 dev v2"})
	if r := h.do(api.Request{Op: api.OpRouteShow, Filter: &api.Filter{Family: 6, Dev: "v1", Prefix: "fe80::/64"}}).Routes; len(r) != 1 {
		t.Fatalf("v1's fe80::/64 route back at 1500: %+v", r)
	}
}

// Renaming a link, as on Linux 6.18 here (running links may be renamed
// since 6.2): its routes and addresses follow it, rules naming the old
// name are left detached and rules naming the new one take it; a taken
// name is EEXIST and changes nothing.
func TestLinkRenameLikeKernel(t *testing.T) {
	h := newHarness(t, false)
	h.addLink("v1", "10.5.0.1/24")
	h.addLink("v2", "10.6.0.1/24")
	h.do(api.Request{Op: api.OpRuleAdd, Rule: &api.Rule{Iif: "v1", Table: 100}})
	h.do(api.Request{Op: api.OpRuleAdd, Rule: &api.Rule{Iif: "v9", Table: 200}})
	h.do(api.Request{Op: api.OpRouteAdd, Route: &api.Route{Dst: "10.9.0.0/24", Via: "10.6.0.2", Table: 200}})
	h.do(api.Request{Op: api.OpLinkSet, Link: &api.Link{Name: "v1", NewName: "v9"}})
	var rules []string
	for _, r := range h.do(api.Request{Op: api.OpRuleShow, Filter: &api.Filter{Family: 4}}).Rules {
		if r.Iif != "" {
			rules = append(rules, fmt.Sprintf("%d iif %s detached=%v table %d", r.Priority, r.Iif, r.IifDetached, r.Table))
		}
	}
	wantLines(t, "rules", rules, []string{"32764 iif v9 detached=false table 200", "32765 iif v1 detached=true table 100"})
	if g := h.routeGet(api.RouteGet{Dst: "10.9.0.1", From: "10.5.0.9", Iif: "v9"}); g.Table != 200 || g.Dev != "v2" {
		t.Fatalf("route get iif v9 after the rename: %+v", g)
	}
	wantLines(t, "v9 addresses", h.addrList("v9"), []string{"10.5.0.1/24", "fe80::"})
	before := h.state()
	if c := h.try(api.Request{Op: api.OpLinkSet, Link: &api.Link{Name: "v9", NewName: "v2"}}).Code; c != "EEXIST" {
		t.Fatalf("rename onto a taken name: %s", c)
	}
	if h.state() != before {
		t.Fatal("a refused rename changed the state")
	}
}
