package scenario

import (
	"strings"
	"testing"

	"flowpath/api"
)

// explainHas checks that some line of a route get explanation contains
// every one of the fragments.
func explainHas(t *testing.T, g *api.RouteGetResult, frags ...string) {
	t.Helper()
	for _, line := range g.Explain {
		ok := true
		for _, f := range frags {
			ok = ok && strings.Contains(line, f)
		}
		if ok {
			return
		}
	}
	t.Fatalf("no explanation line has all of %q:\n%s", frags, strings.Join(g.Explain, "\n"))
}

func (h *harness) routeGet(g api.RouteGet) *api.RouteGetResult {
	h.t.Helper()
	return h.do(api.Request{Op: api.OpRouteGet, RouteGet: &g}).RouteGet
}

func TestRouteGetExplains(t *testing.T) {
	h, _, h2 := twoHosts(t, false)
	h2.permanent()
	h.do(api.Request{Op: api.OpRouteAdd, Route: &api.Route{Dst: "10.9.0.0/24", Via: "10.2.0.1", MTU: 1300}})

	g := h.routeGet(api.RouteGet{Dst: "10.9.0.42", From: "10.1.0.1", Iif: "r1"})
	if g.Type != "unicast" || g.Dev != "r2" || g.Via != "10.2.0.1" || g.Table != 254 || g.PathMTU != 1300 || g.MTU != 1300 {
		t.Fatalf("route get: %+v", g)
	}
	explainHas(t, g, "flow", "dst 10.9.0.42", "src 10.1.0.1", "iif r1")
	explainHas(t, g, "rule", "32766", "lookup main")
	explainHas(t, g, "table main", "10.9.0.0/24", "unicast")
	explainHas(t, g, "output dev r2", "mtu 1300")
	explainHas(t, g, "neighbour 10.2.0.1", "PERMANENT", "02:00:00:00:02:01")

	// A connected destination nobody has resolved yet.
	g = h.routeGet(api.RouteGet{Dst: "10.2.0.77"})
	if g.Dev != "r2" || g.Via != "" || g.Src != "10.2.0.254" {
		t.Fatalf("route get: %+v", g)
	}
	explainHas(t, g, "table main", "10.2.0.0/24")
	explainHas(t, g, "neighbour 10.2.0.77", "unresolved")

	// A local address: rule 0, table local.
	g = h.routeGet(api.RouteGet{Dst: "10.2.0.254"})
	if g.Type != "local" || g.Table != 255 {
		t.Fatalf("route get local: %+v", g)
	}
	explainHas(t, g, "rule", "0:", "lookup local")
	explainHas(t, g, "table local", "10.2.0.254")

	// IPv6, and no route at all.
	g = h.routeGet(api.RouteGet{Dst: "fd00:2::1"})
	if g.Dev != "r2" || g.Table != 254 {
		t.Fatalf("route get v6: %+v", g)
	}
	explainHas(t, g, "neighbour fd00:2::1", "PERMANENT")
	if r := h.try(api.Request{Op: api.OpRouteGet, RouteGet: &api.RouteGet{Dst: "10.99.0.1"}}); r.Code != "ENETUNREACH" {
		t.Fatalf("route get without route: %q %s", r.Error, r.Code)
	}
}

// policyRouter: h1 on r1, gateways gw2 (r2) and gw3 (r3); main sends
// 10.9.0.0/24 via gw2, table 100 via gw3.
func policyRouter(t *testing.T) (h *harness, h1, gw2, gw3 *host) {
	h = newHarness(t, false)
	h.addLink("r1", "10.1.0.254/24", "fd00:1::254/64")
	h.addLink("r2", "10.2.0.254/24", "fd00:2::254/64")
	h.addLink("r3", "10.3.0.254/24", "fd00:3::254/64")
	h1 = h.host("r1", [6]byte{2, 0, 0, 0, 1, 1}, "10.1.0.1", "fd00:1::1").permanent()
	gw2 = h.host("r2", [6]byte{2, 0, 0, 0, 2, 2}, "10.2.0.2", "fd00:2::2").permanent()
	gw3 = h.host("r3", [6]byte{2, 0, 0, 0, 3, 2}, "10.3.0.2", "fd00:3::2").permanent()
	h.do(api.Request{Op: api.OpRouteAdd, Route: &api.Route{Dst: "10.9.0.0/24", Via: "10.2.0.2"}})
	h.do(api.Request{Op: api.OpRouteAdd, Route: &api.Route{Dst: "10.9.0.0/24", Via: "10.3.0.2", Table: 100}})
	h.do(api.Request{Op: api.OpRouteAdd, Route: &api.Route{Dst: "fd00:9::/64", Via: "fd00:2::2"}})
	h.do(api.Request{Op: api.OpRouteAdd, Route: &api.Route{Dst: "fd00:9::/64", Via: "fd00:3::2", Table: 100}})
	return h, h1, gw2, gw3
}

// path sends one UDP packet from src to dst and returns the host it was
// forwarded to.
func path(t *testing.T, src *host, dst string, v6 bool, gws ...*host) *host {
	t.Helper()
	if v6 {
		src.inject(src.udp6(dst, 9, 9, 64, []byte("which way?")))
	} else {
		src.inject(src.udp4(dst, 9, 9, 64, true, []byte("which way?")))
	}
	ps, at := collect(t, 1, gws...)
	checkSums(t, ps[0].Data())
	eth := ethOf(ps[0])
	if [6]byte(eth.DstMAC) != at[0].mac || [6]byte(eth.SrcMAC) != at[0].rmac {
		t.Fatalf("L2 %v -> %v towards %s", eth.SrcMAC, eth.DstMAC, at[0].link)
	}
	return at[0]
}

func TestPolicyRuleFromSource(t *testing.T) {
	h, h1, gw2, gw3 := policyRouter(t)
	if p := path(t, h1, "10.9.0.1", false, gw2, gw3); p != gw2 {
		t.Fatalf("without a rule: via %s", p.link)
	}
	h.do(api.Request{Op: api.OpRuleAdd, Rule: &api.Rule{From: "10.1.0.0/24", Table: 100}})
	h.do(api.Request{Op: api.OpRuleAdd, Rule: &api.Rule{From: "fd00:1::/64", Table: 100}})
	if p := path(t, h1, "10.9.0.1", false, gw2, gw3); p != gw3 {
		t.Fatalf("with from 10.1.0.0/24 lookup 100: via %s", p.link)
	}
	if p := path(t, h1, "fd00:9::1", true, gw2, gw3); p != gw3 {
		t.Fatalf("with from fd00:1::/64 lookup 100: via %s", p.link)
	}
	// Another source still uses main (gw3 itself sends; main says r2).
	if p := path(t, gw3, "10.9.0.1", false, gw2, gw3); p != gw2 {
		t.Fatalf("other source: via %s", p.link)
	}
	g := h.routeGet(api.RouteGet{Dst: "10.9.0.1", From: "10.1.0.1", Iif: "r1"})
	if g.Dev != "r3" || g.Table != 100 || g.Via != "10.3.0.2" {
		t.Fatalf("route get: %+v", g)
	}
	explainHas(t, g, "rule", "32765", "from 10.1.0.0/24", "lookup 100")
	explainHas(t, g, "table 100", "10.9.0.0/24")
	explainHas(t, g, "neighbour 10.3.0.2", "PERMANENT")

	// A destination table 100 does not have falls through to main.
	h.do(api.Request{Op: api.OpRouteAdd, Route: &api.Route{Dst: "10.8.0.0/24", Via: "10.2.0.2"}})
	if p := path(t, h1, "10.8.0.1", false, gw2, gw3); p != gw2 {
		t.Fatalf("fall-through: via %s", p.link)
	}

	h.do(api.Request{Op: api.OpRuleDel, Rule: &api.Rule{From: "10.1.0.0/24", Table: 100}})
	if p := path(t, h1, "10.9.0.1", false, gw2, gw3); p != gw2 {
		t.Fatalf("after rule del: via %s", p.link)
	}
}

func TestPolicyRuleIif(t *testing.T) {
	h, h1, gw2, gw3 := policyRouter(t)
	h.do(api.Request{Op: api.OpRuleAdd, Rule: &api.Rule{Iif: "r1", Table: 100}})
	if p := path(t, h1, "10.9.0.1", false, gw2, gw3); p != gw3 {
		t.Fatalf("iif r1 lookup 100: via %s", p.link)
	}
	if p := path(t, gw3, "10.9.0.1", false, gw2, gw3); p != gw2 {
		t.Fatalf("from r3: via %s", p.link)
	}
}

// TestPolicyRuleFwmark: the packet path sets no fwmark yet (nothing marks
// packets), so a fwmark rule is checked through route get, and packets
// with mark 0 must not match it.
func TestPolicyRuleFwmark(t *testing.T) {
	h, h1, gw2, gw3 := policyRouter(t)
	h.do(api.Request{Op: api.OpRouteAdd, Route: &api.Route{Dst: "10.9.0.0/24", Via: "10.3.0.2", Table: 200, Metric: 5}})
	h.do(api.Request{Op: api.OpRuleAdd, Rule: &api.Rule{FwMark: 5, Table: 200}})
	g := h.routeGet(api.RouteGet{Dst: "10.9.0.1", Mark: 5})
	if g.Dev != "r3" || g.Table != 200 || g.Mark != 5 {
		t.Fatalf("route get mark 5: %+v", g)
	}
	explainHas(t, g, "rule", "fwmark 0x5", "lookup 200")
	explainHas(t, g, "table 200", "10.9.0.0/24", "metric 5")
	if g := h.routeGet(api.RouteGet{Dst: "10.9.0.1", Mark: 6}); g.Dev != "r2" || g.Table != 254 {
		t.Fatalf("route get mark 6: %+v", g)
	}
	if g := h.routeGet(api.RouteGet{Dst: "10.9.0.1"}); g.Dev != "r2" {
		t.Fatalf("route get without mark: %+v", g)
	}
	if p := path(t, h1, "10.9.0.1", false, gw2, gw3); p != gw2 {
		t.Fatalf("unmarked packet: via %s", p.link)
	}
	// With a mask: 0x15/0x0f matches mark 5 as well.
	h.do(api.Request{Op: api.OpRuleDel, Rule: &api.Rule{FwMark: 5, Table: 200}})
	h.do(api.Request{Op: api.OpRuleAdd, Rule: &api.Rule{FwMark: 0x5, FwMask: 0x0f, Table: 200}})
	if g := h.routeGet(api.RouteGet{Dst: "10.9.0.1", Mark: 0x15}); g.Table != 200 {
		t.Fatalf("route get mark 0x15 with mask 0xf: %+v", g)
	}
}

// TestPolicyRuleActions: rule unreachable answers network unreachable
// (the kernel's ENETUNREACH -> ICMP_NET_UNREACH), unlike an unreachable
// route (host unreachable); prohibit answers code 13; blackhole nothing.
func TestPolicyRuleActions(t *testing.T) {
	h, h1, gw2, gw3 := policyRouter(t)
	h.do(api.Request{Op: api.OpRuleAdd, Rule: &api.Rule{To: "10.9.0.0/25", Action: "unreachable"}})
	h.do(api.Request{Op: api.OpRuleAdd, Rule: &api.Rule{To: "10.9.0.128/26", Action: "prohibit"}})
	h.do(api.Request{Op: api.OpRuleAdd, Rule: &api.Rule{To: "10.9.0.192/26", Action: "blackhole"}})
	h.do(api.Request{Op: api.OpRuleAdd, Rule: &api.Rule{To: "fd00:9::/64", Action: "unreachable"}})

	f := h1.udp4("10.9.0.1", 1, 2, 64, true, []byte("rule unreachable"))
	h1.inject(f)
	expectError(t, h1.recvICMPError(false), "10.1.0.254", 3, 0, f)
	f = h1.udp4("10.9.0.129", 1, 2, 64, true, []byte("rule prohibit"))
	h1.inject(f)
	expectError(t, h1.recvICMPError(false), "10.1.0.254", 3, 13, f)
	h1.inject(h1.udp4("10.9.0.193", 1, 2, 64, true, []byte("rule blackhole")))
	h1.quiet()
	g := h1.udp6("fd00:9::1", 1, 2, 64, []byte("rule unreachable"))
	h1.inject(g)
	expectError(t, h1.recvICMPError(true), "fd00:1::254", 1, 0, g)
	gw2.quiet()
	gw3.quiet()

	r := h.routeGet(api.RouteGet{Dst: "10.9.0.1"})
	if r.Type != "unreachable" {
		t.Fatalf("route get: %+v", r)
	}
	explainHas(t, r, "rule", "to 10.9.0.0/25", "unreachable")
}
