package scenario

import (
	"encoding/json"
	"fmt"
	"testing"

	"flowpath/api"
	"flowpath/internal/errs"
)

// state renders everything the control API shows (counters left out) so
// two moments can be compared.
func (h *harness) state() string {
	h.t.Helper()
	var out []any
	for _, fam := range []int{4, 6} {
		out = append(out, h.do(api.Request{Op: api.OpRouteShow, Filter: &api.Filter{Table: api.TableAll, Family: fam}}).Routes)
		out = append(out, h.do(api.Request{Op: api.OpRuleShow, Filter: &api.Filter{Family: fam}}).Rules)
	}
	links := h.do(api.Request{Op: api.OpLinkShow}).Links
	for i := range links {
		links[i].Stats = nil
	}
	out = append(out, links)
	out = append(out, h.do(api.Request{Op: api.OpAddrShow}).Addrs)
	out = append(out, h.do(api.Request{Op: api.OpNeighShow}).Neighs)
	b, err := json.MarshalIndent(out, "", " ")
	if err != nil {
		h.t.Fatal(err)
	}
	return string(b)
}

func (h *harness) generation() uint64 { return h.stats().Generation }

func TestInvalidCommandsChangeNothing(t *testing.T) {
	h, _, _ := twoHosts(t, false)
	h.addLink("r3", "10.3.0.254/24")
	h.do(api.Request{Op: api.OpRouteAdd, Route: &api.Route{Dst: "10.8.0.0/24", Via: "10.2.0.1"}})
	h.do(api.Request{Op: api.OpRouteAdd, Route: &api.Route{Dst: "fd00:8::/64", Via: "fd00:2::1"}})
	h.do(api.Request{Op: api.OpRuleAdd, Rule: &api.Rule{From: "10.1.0.0/24", Table: 100}})
	h.do(api.Request{Op: api.OpNeighAdd, Neigh: &api.Neigh{Dev: "r2", Dst: "10.2.0.1", LLAddr: "02:00:00:00:02:01"}})
	down := false
	h.do(api.Request{Op: api.OpLinkSet, Link: &api.Link{Name: "r3", Up: &down}})

	route := func(r api.Route) api.Request { return api.Request{Op: api.OpRouteAdd, Route: &r} }
	cases := []struct {
		name string
		req  api.Request
		code string
	}{
		{"gateway not reachable", route(api.Route{Dst: "10.9.0.0/24", Via: "10.50.0.1"}), "ENETUNREACH"},
		{"gateway not on the named device", route(api.Route{Dst: "10.9.0.0/24", Via: "10.2.0.1", Dev: "r1"}), "ENETUNREACH"},
		{"gateway behind a gateway", route(api.Route{Dst: "10.9.0.0/24", Via: "10.8.0.1"}), "ENETUNREACH"},
		{"gateway on a down link", route(api.Route{Dst: "10.9.0.0/24", Via: "10.3.0.1"}), "ENETUNREACH"},
		{"device of a down link", route(api.Route{Dst: "10.9.0.0/24", Dev: "r3"}), "ENETDOWN"},
		{"ipv6 gateway not reachable", route(api.Route{Dst: "fd00:9::/64", Via: "fd00:50::1"}), "EHOSTUNREACH"},
		{"ipv4 gateway not reachable", route(api.Route{Dst: "10.9.0.0/24", Via: "10.50.0.1"}), "ENETUNREACH"},
		{"ipv6 link-local gateway without a device", route(api.Route{Dst: "fd00:9::/64", Via: "fe80::1"}), "EINVAL"},
		// The kernel takes an IPv4 local gateway unless onlink (checked
		// on Linux 6.18); IPv6 never.
		{"onlink gateway is a local address", route(api.Route{Dst: "10.9.0.0/24", Via: "10.1.0.254", Dev: "r1", Onlink: true}), "EINVAL"},
		{"ipv6 gateway is a local address", route(api.Route{Dst: "fd00:9::/64", Via: "fd00:1::254"}), "EINVAL"},
		{"gateway of the other family", route(api.Route{Dst: "10.9.0.0/24", Via: "fd00:2::1"}), "EINVAL"},
		{"non-existent device", route(api.Route{Dst: "10.9.0.0/24", Dev: "nosuch"}), "ENODEV"},
		{"non-existent device with gateway", route(api.Route{Dst: "10.9.0.0/24", Via: "10.2.0.1", Dev: "nosuch"}), "ENODEV"},
		{"prefix with host bits", route(api.Route{Dst: "10.9.0.1/24", Via: "10.2.0.1"}), "EINVAL"},
		{"ipv6 prefix with host bits", route(api.Route{Dst: "fd00:9::1/64", Via: "fd00:2::1"}), "EINVAL"},
		{"garbage prefix", route(api.Route{Dst: "10.9.0/24", Via: "10.2.0.1"}), "EINVAL"},
		{"duplicate route", route(api.Route{Dst: "10.8.0.0/24", Via: "10.2.0.1"}), "EEXIST"},
		{"duplicate ipv6 route", route(api.Route{Dst: "fd00:8::/64", Via: "fd00:2::1"}), "EEXIST"},
		{"duplicate connected route", route(api.Route{Dst: "10.2.0.0/24", Dev: "r2", Protocol: "kernel", Scope: "link"}), "EEXIST"},
		{"multipath with one bad leg", route(api.Route{Dst: "10.9.0.0/24",
			Nexthops: []api.Nexthop{{Via: "10.2.0.1", Dev: "r2"}, {Via: "10.60.0.1"}}}), "ENETUNREACH"},
		{"reject route with a gateway", route(api.Route{Dst: "10.9.0.0/24", Type: "unreachable", Via: "10.2.0.1"}), "EINVAL"},
		{"bad route mtu", route(api.Route{Dst: "10.9.0.0/24", Via: "10.2.0.1", MTU: 20}), "EINVAL"},
		{"unknown route type", route(api.Route{Dst: "10.9.0.0/24", Type: "teleport"}), "EINVAL"},
		{"delete missing route", api.Request{Op: api.OpRouteDel, Route: &api.Route{Dst: "10.99.0.0/24"}}, "ESRCH"},
		{"delete route with wrong gateway", api.Request{Op: api.OpRouteDel, Route: &api.Route{Dst: "10.8.0.0/24", Via: "10.2.0.9"}}, "ESRCH"},
		{"delete missing ipv6 route", api.Request{Op: api.OpRouteDel, Route: &api.Route{Dst: "fd00:99::/64"}}, "ESRCH"},
		{"mtu too small", api.Request{Op: api.OpLinkSet, Link: &api.Link{Name: "r2", MTU: 10}}, "EINVAL"},
		{"mtu too big", api.Request{Op: api.OpLinkSet, Link: &api.Link{Name: "r2", MTU: 70000}}, "EINVAL"},
		{"mtu with a bad address in the same request", api.Request{Op: api.OpLinkSet, Link: &api.Link{Name: "r2", MTU: 1400, MAC: "ff:ff:ff:ff:ff:ff"}}, "EINVAL"},
		{"link set of a missing device", api.Request{Op: api.OpLinkSet, Link: &api.Link{Name: "nosuch", MTU: 1400}}, "ENODEV"},
		{"duplicate link", api.Request{Op: api.OpLinkAdd, Link: &api.Link{Name: "r1", Kind: "mem", IfName: "p-other"}}, "EEXIST"},
		{"link of unknown kind", api.Request{Op: api.OpLinkAdd, Link: &api.Link{Name: "x1", Kind: "warp"}}, "EOPNOTSUPP"},
		{"link with bad name", api.Request{Op: api.OpLinkAdd, Link: &api.Link{Name: "a/b", Kind: "dummy"}}, "EINVAL"},
		{"link with bad mtu", api.Request{Op: api.OpLinkAdd, Link: &api.Link{Name: "x1", Kind: "mem", IfName: "p-x1", MTU: 20}}, "EINVAL"},
		{"port already attached", api.Request{Op: api.OpLinkAdd, Link: &api.Link{Name: "x1", Kind: "mem", IfName: "p-r1"}}, "EBUSY"},
		{"delete missing link", api.Request{Op: api.OpLinkDel, Link: &api.Link{Name: "nosuch"}}, "ENODEV"},
		{"delete loopback", api.Request{Op: api.OpLinkDel, Link: &api.Link{Name: "lo"}}, "EOPNOTSUPP"},
		{"rule del missing", api.Request{Op: api.OpRuleDel, Rule: &api.Rule{From: "10.99.0.0/24", Table: 100}}, "ENOENT"},
		{"rule del missing table", api.Request{Op: api.OpRuleDel, Rule: &api.Rule{From: "10.1.0.0/24", Table: 101}}, "ENOENT"},
		{"duplicate rule", api.Request{Op: api.OpRuleAdd, Rule: &api.Rule{From: "10.1.0.0/24", Table: 100, Priority: 32765, SetPriority: true}}, "EEXIST"},
		{"rule with host bits", api.Request{Op: api.OpRuleAdd, Rule: &api.Rule{From: "10.1.0.1/24", Table: 100}}, "EINVAL"},
		{"duplicate address", api.Request{Op: api.OpAddrAdd, Addr: &api.Addr{Dev: "r1", Prefix: "10.1.0.254/24"}}, "EEXIST"},
		{"address on a missing device", api.Request{Op: api.OpAddrAdd, Addr: &api.Addr{Dev: "nosuch", Prefix: "10.5.0.1/24"}}, "ENODEV"},
		{"delete missing address", api.Request{Op: api.OpAddrDel, Addr: &api.Addr{Dev: "r1", Prefix: "10.1.0.77/24"}}, "EADDRNOTAVAIL"},
		{"multicast address", api.Request{Op: api.OpAddrAdd, Addr: &api.Addr{Dev: "r1", Prefix: "224.0.0.1/4"}}, "EINVAL"},
		{"duplicate neighbour", api.Request{Op: api.OpNeighAdd, Neigh: &api.Neigh{Dev: "r2", Dst: "10.2.0.1", LLAddr: "02:00:00:00:02:02"}}, "EEXIST"},
		{"neighbour on a missing device", api.Request{Op: api.OpNeighAdd, Neigh: &api.Neigh{Dev: "nosuch", Dst: "10.2.0.1", LLAddr: "02:00:00:00:02:02"}}, "ENODEV"},
		{"bad protocol version", api.Request{Op: api.OpRouteShow}, "EINVAL"},
		{"unknown operation", api.Request{Op: "route.teleport"}, "EOPNOTSUPP"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h.t = t
			defer func() { h.t = nil }()
			before, gen, opened := h.state(), h.generation(), h.opened
			var resp *api.Response
			if c.name == "bad protocol version" {
				req := c.req
				req.Version = api.Version + 7
				resp = h.m.Handle(&req)
			} else {
				resp = h.try(c.req)
			}
			if resp.Error == "" || resp.Code != c.code {
				t.Fatalf("got error %q code %q, want code %s", resp.Error, resp.Code, c.code)
			}
			if after := h.state(); after != before {
				t.Fatalf("state changed:\nbefore %s\nafter %s", before, after)
			}
			if g := h.generation(); g != gen {
				t.Fatalf("a failed command published a snapshot (generation %d -> %d)", gen, g)
			}
			if h.opened != opened {
				t.Fatalf("a failed command opened a port")
			}
		})
	}
	h.t = t
}

// TestLinkAddPortFailure: a link whose port cannot be opened, or whose
// port the engine refuses, leaves no trace.
func TestLinkAddPortFailure(t *testing.T) {
	h, _, _ := twoHosts(t, false)
	before, gen := h.state(), h.generation()

	h.openErr = fmt.Errorf("open p-r9: %w", errs.ErrNoDevice)
	resp := h.try(api.Request{Op: api.OpLinkAdd, Link: &api.Link{Name: "r9", Kind: "mem", IfName: "p-r9"}})
	if resp.Code != "ENODEV" {
		t.Fatalf("got %q (%s), want ENODEV", resp.Error, resp.Code)
	}
	if after := h.state(); after != before {
		t.Fatalf("state changed:\nbefore %s\nafter %s", before, after)
	}
	if g := h.generation(); g != gen {
		t.Fatalf("generation %d -> %d", gen, g)
	}

	// The port opens but has too few transmit queues for the engine: the
	// link is rolled back and its port closed.
	h.txQueues = 1
	resp = h.try(api.Request{Op: api.OpLinkAdd, Link: &api.Link{Name: "r9", Kind: "mem", IfName: "p-r9"}})
	h.txQueues = 0
	if resp.Code != "EINVAL" {
		t.Fatalf("got %q (%s), want EINVAL", resp.Error, resp.Code)
	}
	if after := h.state(); after != before {
		t.Fatalf("state changed:\nbefore %s\nafter %s", before, after)
	}
	if h.ports["p-r9"].Inject([]byte{1}) {
		t.Fatal("the refused port was left open")
	}
	for _, w := range h.stats().Workers {
		if w.Port != "r1" && w.Port != "r2" {
			t.Fatalf("a worker runs for %q", w.Port)
		}
	}

	// The name is free and a good link with it works.
	h.addLink("r9", "10.9.0.254/24")
	if l := h.do(api.Request{Op: api.OpLinkShow, Link: &api.Link{Name: "r9"}}).Links; len(l) != 1 || l[0].OperState != "UP" {
		t.Fatalf("r9: %+v", l)
	}
}
