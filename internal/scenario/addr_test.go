package scenario

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"flowpath/api"
)

// addrLines renders a link's addresses as `ip addr` prints their fields:
// "prefix [brd B] [flags]" in the daemon's order (the kernel's: IPv4
// primaries, IPv4 secondaries, IPv6 by scope and newest first).
func (h *harness) addrLines(dev string) []string {
	h.t.Helper()
	var out []string
	for _, a := range h.do(api.Request{Op: api.OpAddrShow, Filter: &api.Filter{Dev: dev, Family: 4}}).Addrs {
		s := a.Prefix
		if a.Broadcast != "" {
			s += " brd " + a.Broadcast
		}
		for _, f := range a.Flags {
			s += " " + f
		}
		out = append(out, s)
	}
	for _, a := range h.do(api.Request{Op: api.OpAddrShow, Filter: &api.Filter{Dev: dev, Family: 6}}).Addrs {
		if a.Scope == "link" {
			continue
		}
		s := a.Prefix
		for _, f := range a.Flags {
			s += " " + f
		}
		out = append(out, s)
	}
	return out
}

// IPv4 addresses as the kernel keeps them (each expectation is what Linux
// 6.18 printed on this machine for the same commands on a veth):
// primaries and secondaries (same prefix length and subnet as an earlier
// address), a secondary's routes sourced from its primary and no
// connected or broadcast route of its own, brd +/-/address with its
// broadcast route, noprefixroute, nodad; deleting an address drops the
// IPv4 routes that named it as source and strips it from IPv6 ones;
// deleting a primary takes its secondaries along unless
// net.ipv4.conf.all.promote_secondaries is 1.
func TestAddressesLikeKernel(t *testing.T) {
	h := newHarness(t, false)
	h.addLink("v1")
	h.addLink("v2")
	addr := func(dev, pfx, brd string, flags ...string) {
		h.do(api.Request{Op: api.OpAddrAdd, Addr: &api.Addr{Dev: dev, Prefix: pfx, Broadcast: brd, Flags: flags}})
	}
	del := func(dev, pfx string) { h.do(api.Request{Op: api.OpAddrDel, Addr: &api.Addr{Dev: dev, Prefix: pfx}}) }

	addr("v1", "10.5.0.1/24", "")
	addr("v1", "10.5.0.7/24", "")
	addr("v1", "10.5.0.9/16", "+")
	addr("v1", "10.5.0.10/24", "10.5.0.200")
	h.addRoute(api.Route{Dst: "10.9.0.0/24", Via: "10.5.0.2", Src: "10.5.0.7"})
	h.addRoute(api.Route{Dst: "10.9.1.0/24", Via: "10.5.0.2"})
	addr("v2", "10.6.0.1/24", "")
	addr("v2", "10.6.0.5/24", "", "noprefixroute")
	addr("v2", "2001:db8::1/64", "", "nodad", "noprefixroute")
	addr("v2", "2001:db8:1::1/64", "")
	h.addRoute(api.Route{Dst: "2001:db8:9::/64", Via: "2001:db8:1::2", Src: "2001:db8::1"})
	wantLines(t, "v1 addresses", h.addrLines("v1"), []string{
		"10.5.0.1/24", "10.5.0.9/16 brd 10.5.255.255", "10.5.0.7/24 secondary", "10.5.0.10/24 brd 10.5.0.200 secondary"})
	wantLines(t, "v2 addresses", h.addrLines("v2"), []string{
		"10.6.0.1/24", "10.6.0.5/24 secondary noprefixroute", "2001:db8:1::1/64", "2001:db8::1/64 nodad noprefixroute"})

	del("v1", "10.5.0.7/24")
	wantLines(t, "IPv4 routes", h.routeLinesSrc(4), []string{
		"10.5.0.0/24 table 254 dev v1 src 10.5.0.1",
		"10.5.0.0/16 table 254 dev v1 src 10.5.0.9",
		"10.6.0.0/24 table 254 dev v2 src 10.6.0.1",
		"10.9.1.0/24 table 254 via 10.5.0.2 dev v1",
		"local 10.5.0.1 table 255 dev v1 src 10.5.0.1",
		"local 10.5.0.9 table 255 dev v1 src 10.5.0.9",
		"local 10.5.0.10 table 255 dev v1 src 10.5.0.1",
		"broadcast 10.5.0.200 table 255 dev v1 src 10.5.0.1",
		"broadcast 10.5.0.255 table 255 dev v1 src 10.5.0.1",
		"broadcast 10.5.255.255 table 255 dev v1 src 10.5.0.9",
		"local 10.6.0.1 table 255 dev v2 src 10.6.0.1",
		"local 10.6.0.5 table 255 dev v2 src 10.6.0.1",
		"broadcast 10.6.0.255 table 255 dev v2 src 10.6.0.1",
	})
	del("v2", "2001:db8::1/64")
	wantLines(t, "IPv6 routes", h.routeLinesSrc(6), []string{
		"2001:db8:1::/64 table 254 dev v2",
		"2001:db8:9::/64 table 254 via 2001:db8:1::2 dev v2",
		"local 2001:db8:1::1 table 255 dev v2",
	})

	// A primary takes its secondaries with it...
	del("v2", "10.6.0.1/24")
	wantLines(t, "v2 after deleting its primary", h.addrLines("v2"), []string{"2001:db8:1::1/64"})
	// ...unless they are promoted (any value but 0: the kernel takes any
	// int there and tests it for non-zero).
	h.do(api.Request{Op: api.OpSysctlSet, Sysctl: &api.Sysctl{Name: "net.ipv4.conf.all.promote_secondaries", Value: "2"}})
	addr("v2", "10.6.0.1/24", "")
	addr("v2", "10.6.0.5/24", "")
	addr("v2", "10.6.0.6/24", "")
	h.addRoute(api.Route{Dst: "10.9.2.0/24", Via: "10.6.0.2", Src: "10.6.0.1"})
	h.addRoute(api.Route{Dst: "10.9.3.0/24", Via: "10.6.0.2", Src: "10.6.0.5"})
	del("v2", "10.6.0.1/24")
	wantLines(t, "v2 after promotion", h.addrLines("v2"), []string{"10.6.0.5/24", "10.6.0.6/24 secondary", "2001:db8:1::1/64"})
	var v2 []string
	for _, l := range h.routeLinesSrc(4) {
		if strings.Contains(l, "v2") {
			v2 = append(v2, l)
		}
	}
	wantLines(t, "v2 routes after promotion", v2, []string{
		"10.6.0.0/24 table 254 dev v2 src 10.6.0.5",
		"10.9.3.0/24 table 254 via 10.6.0.2 dev v2 src 10.6.0.5",
		"local 10.6.0.5 table 255 dev v2 src 10.6.0.5",
		"local 10.6.0.6 table 255 dev v2 src 10.6.0.5",
		"broadcast 10.6.0.255 table 255 dev v2 src 10.6.0.5",
	})

	// One IPv4 address with two prefix lengths is two addresses (not
	// with the same length twice); an IPv6 address is one whatever its
	// length. Deleting one of the two keeps the address's local route.
	addr("v2", "10.8.0.1/24", "")
	addr("v2", "10.8.0.1/16", "")
	for _, pfx := range []string{"10.8.0.1/24", "2001:db8:1::1/48"} {
		if c := h.try(api.Request{Op: api.OpAddrAdd, Addr: &api.Addr{Dev: "v2", Prefix: pfx}}).Code; c != "EEXIST" {
			t.Errorf("add %s again: %s, want EEXIST", pfx, c)
		}
	}
	del("v2", "10.8.0.1/24")
	var v8 []string
	for _, l := range h.routeLinesSrc(4) {
		if strings.Contains(l, "10.8.") {
			v8 = append(v8, l)
		}
	}
	wantLines(t, "10.8.0.1/16 left", v8, []string{"10.8.0.0/16 table 254 dev v2 src 10.8.0.1",
		"local 10.8.0.1 table 255 dev v2 src 10.8.0.1", "broadcast 10.8.255.255 table 255 dev v2 src 10.8.0.1"})

	// A link that goes takes its addresses' source routes along.
	h.addRoute(api.Route{Dst: "10.9.4.0/24", Via: "10.6.0.2", Src: "10.5.0.9"})
	h.do(api.Request{Op: api.OpLinkDel, Link: &api.Link{Name: "v1"}})
	for _, l := range h.routeLinesSrc(4) {
		if strings.Contains(l, "10.9.4.0") {
			t.Fatalf("route with the source of a deleted link stayed: %s", l)
		}
	}
	h.addLink("v1")

	// Bad broadcasts are refused and change nothing.
	before := h.state()
	for _, c := range []struct{ pfx, brd string }{{"2001:db8:5::1/64", "+"}, {"10.7.0.1/24", "x"}, {"10.7.0.1/24", "2001:db8::ff"}} {
		if resp := h.try(api.Request{Op: api.OpAddrAdd, Addr: &api.Addr{Dev: "v1", Prefix: c.pfx, Broadcast: c.brd}}); resp.Code != "EINVAL" {
			t.Errorf("%s brd %s: %q (%s), want EINVAL", c.pfx, c.brd, resp.Error, resp.Code)
		}
	}
	if resp := h.try(api.Request{Op: api.OpAddrAdd, Addr: &api.Addr{Dev: "v1", Prefix: "10.7.0.1/24", Flags: []string{"bogus"}}}); resp.Code != "EINVAL" {
		t.Errorf("flag bogus: %q (%s)", resp.Error, resp.Code)
	}
	if after := h.state(); after != before {
		t.Fatal("refused address adds changed the state")
	}
}

// routeLinesSrc is routeLines with each route's source.
func (h *harness) routeLinesSrc(fam int) []string {
	h.t.Helper()
	var out []string
	for _, r := range h.do(api.Request{Op: api.OpRouteShow, Filter: &api.Filter{Table: api.TableAll, Family: fam}}).Routes {
		if strings.HasPrefix(r.Dst, "fe80::") || strings.HasPrefix(r.Dst, "ff00::") || r.Dev == "lo" {
			continue
		}
		s := strings.TrimSuffix(strings.TrimSuffix(r.Dst, "/32"), "/128")
		if r.Type != "" && r.Type != "unicast" {
			s = r.Type + " " + s
		}
		s += fmt.Sprintf(" table %d", r.Table)
		if r.Via != "" {
			s += " via " + r.Via
		}
		s += " dev " + r.Dev
		if r.Src != "" {
			s += " src " + r.Src
		}
		out = append(out, s)
	}
	return out
}

// The last IPv4 address of a link going turns IPv4 off on it, as on Linux
// 6.18 here (fib_disable_ip): every IPv4 route through it goes, in every
// table, but a multipath route with another live leg, whose leg through
// it is dead and linkdown and carries no flow until the link has an IPv4
// address again; its ARP entries go, its IPv6 ones and routes stay.
func TestLastIPv4AddressLikeKernel(t *testing.T) {
	h := newHarness(t, false)
	h.addLink("v1", "10.5.0.1/24", "2001:db8::1/64")
	h.addLink("v2", "10.6.0.1/24")
	h.addRoute(api.Route{Dst: "10.9.0.0/24", Dev: "v1"})
	h.addRoute(api.Route{Dst: "10.9.1.0/24", Via: "10.5.0.2"})
	h.addRoute(api.Route{Dst: "10.9.3.0/24", Dev: "v1", Table: 100})
	h.addRoute(api.Route{Dst: "10.9.2.0/24", Nexthops: []api.Nexthop{{Via: "10.5.0.2", Dev: "v1"}, {Via: "10.6.0.2", Dev: "v2"}}})
	h.addRoute(api.Route{Dst: "2001:db8:9::/64", Dev: "v1"})
	h.neigh("v1", netip.MustParseAddr("10.5.0.2"), [6]byte{2, 0, 0, 0, 0, 2})
	h.neigh("v1", netip.MustParseAddr("2001:db8::2"), [6]byte{2, 0, 0, 0, 0, 3})
	h.neigh("v2", netip.MustParseAddr("10.6.0.2"), [6]byte{2, 0, 0, 0, 0, 4})

	h.do(api.Request{Op: api.OpAddrDel, Addr: &api.Addr{Dev: "v1", Prefix: "10.5.0.1/24"}})
	wantLines(t, "IPv4 routes", h.routeLines(4), []string{
		"10.6.0.0/24 table 254 via  dev v2",
		"10.9.2.0/24 table 254 | via 10.5.0.2 dev v1 dead,linkdown | via 10.6.0.2 dev v2",
		"broadcast 10.6.0.255 table 255 via  dev v2",
		"local 10.6.0.1 table 255 via  dev v2",
	})
	wantLines(t, "IPv6 routes", h.routeLines(6), []string{
		"2001:db8:9::/64 table 254 via  dev v1",
		"2001:db8::/64 table 254 via  dev v1",
		"local 2001:db8::1 table 255 via  dev v1",
	})
	wantLines(t, "neighbours", h.neighLines(), []string{"2001:db8::2 v1", "10.6.0.2 v2"})
	// Every flow takes the live leg.
	for i := range 32 {
		g := h.routeGet(api.RouteGet{Dst: fmt.Sprintf("10.9.2.%d", i+1)})
		if g.Dev != "v2" {
			t.Fatalf("10.9.2.%d goes out %s while v1 has no IPv4", i+1, g.Dev)
		}
	}

	h.do(api.Request{Op: api.OpAddrAdd, Addr: &api.Addr{Dev: "v1", Prefix: "10.5.0.7/24"}})
	wantLines(t, "IPv4 routes with an address again", h.routeLines(4), []string{
		"10.5.0.0/24 table 254 via  dev v1",
		"10.6.0.0/24 table 254 via  dev v2",
		"10.9.2.0/24 table 254 | via 10.5.0.2 dev v1 | via 10.6.0.2 dev v2",
		"broadcast 10.5.0.255 table 255 via  dev v1",
		"broadcast 10.6.0.255 table 255 via  dev v2",
		"local 10.5.0.7 table 255 via  dev v1",
		"local 10.6.0.1 table 255 via  dev v2",
	})
}
