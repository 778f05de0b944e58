package main

// The printers against iproute2 itself: a network namespace gets routes,
// rules, neighbours and addresses; ip -j describes them, the test turns
// that into api objects, and fpctl's text must equal ip's text line for
// line (after removing what flowpath does not have: qdisc, group, qlen,
// veth peers, IPv6 router preference).

import (
	"encoding/json"
	"flowpath/internal/sys/nstest"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"flowpath/api"
)

type netns struct {
	t    *testing.T
	name string
}

func newNetns(t *testing.T) *netns {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2")
	}
	if err := nstest.NetlinkUsable(); err != nil {
		t.Skip(err)
	}
	n := &netns{t: t, name: fmt.Sprintf("fpt-fpctl-%d", os.Getpid())}
	exec.Command("ip", "netns", "del", n.name).Run() // a leftover of a killed run
	if out, err := exec.Command("ip", "netns", "add", n.name).CombinedOutput(); err != nil {
		t.Skipf("cannot create a namespace: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", n.name).Run() })
	return n
}

// ip runs ip inside the namespace and returns its output.
func (n *netns) ip(args string) string {
	n.t.Helper()
	argv := append([]string{"-n", n.name}, strings.Fields(args)...)
	out, err := exec.Command("ip", argv...).CombinedOutput()
	if err != nil {
		n.t.Fatalf("ip %s: %v\n%s", args, err, out)
	}
	return string(out)
}

func (n *netns) ipJSON(args string, v any) {
	n.t.Helper()
	out := n.ip("-j " + args)
	if strings.TrimSpace(out) == "" {
		out = "[]"
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		n.t.Fatalf("ip -j %s: %v\n%s", args, err, out)
	}
}

// ipRoute is ip -j's route.
type ipRoute struct {
	Type     string `json:"type"`
	Dst      string `json:"dst"`
	Gateway  string `json:"gateway"`
	Via      *struct{ Family, Host string }
	Dev      string           `json:"dev"`
	Table    string           `json:"table"`
	Protocol string           `json:"protocol"`
	Scope    string           `json:"scope"`
	PrefSrc  string           `json:"prefsrc"`
	Metric   *uint32          `json:"metric"`
	Flags    []string         `json:"flags"`
	Metrics  []map[string]int `json:"metrics"`
	Nexthops []struct {
		Gateway string   `json:"gateway"`
		Dev     string   `json:"dev"`
		Weight  int      `json:"weight"`
		Flags   []string `json:"flags"`
	} `json:"nexthops"`
}

func (r *ipRoute) api(t *testing.T, family int) api.Route {
	out := api.Route{Family: family, Type: r.Type, Dev: r.Dev, Via: r.Gateway, Src: r.PrefSrc, Scope: r.Scope}
	if r.Via != nil {
		out.Via = r.Via.Host
	}
	switch {
	case r.Dst == "default":
		out.Dst = "default"
	case strings.Contains(r.Dst, "/"):
		out.Dst = r.Dst
	case family == 6:
		out.Dst = r.Dst + "/128"
	default:
		out.Dst = r.Dst + "/32"
	}
	out.Table = api.TableMain
	if r.Table != "" {
		tb, ok := parseTable(r.Table, false)
		if !ok {
			t.Fatalf("table %q", r.Table)
		}
		out.Table = tb
	}
	if r.Protocol != "" {
		p, ok := parseProto(r.Protocol)
		if !ok {
			t.Fatalf("protocol %q", r.Protocol)
		}
		out.Protocol = p
	}
	if r.Metric != nil {
		out.Metric = *r.Metric
	}
	for _, f := range r.Flags {
		if f == "onlink" {
			out.Onlink = true
		} else {
			out.Flags = append(out.Flags, f)
		}
	}
	for _, m := range r.Metrics {
		out.MTU = uint32(m["mtu"])
	}
	for _, nh := range r.Nexthops {
		h := api.Nexthop{Via: nh.Gateway, Dev: nh.Dev, Weight: nh.Weight}
		for _, f := range nh.Flags {
			if f == "onlink" {
				h.Onlink = true
			} else {
				h.Flags = append(h.Flags, f)
			}
		}
		out.Nexthops = append(out.Nexthops, h)
	}
	return out
}

type ipRule struct {
	Priority    uint32  `json:"priority"`
	Not         *string `json:"not"`
	Src         string  `json:"src"`
	SrcLen      *int    `json:"srclen"`
	Dst         string  `json:"dst"`
	DstLen      *int    `json:"dstlen"`
	FwMark      string  `json:"fwmark"`
	FwMask      string  `json:"fwmask"`
	Iif         string  `json:"iif"`
	IifDetached *string `json:"iif_detached"`
	Oif         string  `json:"oif"`
	TunID       uint64  `json:"tun_id"`
	Table       string  `json:"table"`
	Action      string  `json:"action"`
}

// ip -j prints "null" for flags; a pointer tells present from absent.
func (r *ipRule) UnmarshalJSON(b []byte) error {
	type plain ipRule
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	if err := json.Unmarshal(b, (*plain)(r)); err != nil {
		return err
	}
	present := ""
	if _, ok := raw["not"]; ok {
		r.Not = &present
	}
	if _, ok := raw["iif_detached"]; ok {
		r.IifDetached = &present
	}
	return nil
}

func (r *ipRule) api(t *testing.T, family int) api.Rule {
	out := api.Rule{Family: family, Priority: r.Priority, Not: r.Not != nil, Iif: r.Iif, IifDetached: r.IifDetached != nil,
		Oif: r.Oif, TunID: r.TunID, Action: r.Action}
	pfx := func(addr string, l *int) string {
		if addr == "all" || addr == "" {
			return ""
		}
		if l == nil {
			if family == 6 {
				return addr + "/128"
			}
			return addr + "/32"
		}
		return fmt.Sprintf("%s/%d", addr, *l)
	}
	out.From, out.To = pfx(r.Src, r.SrcLen), pfx(r.Dst, r.DstLen)
	if r.FwMark != "" {
		m, _ := parseU32(r.FwMark)
		out.FwMark, out.FwMask = m, 0xFFFFFFFF
	}
	if r.FwMask != "" {
		out.FwMask, _ = parseU32(r.FwMask)
	}
	if r.Table != "" {
		tb, ok := parseTable(r.Table, false)
		if !ok {
			t.Fatalf("table %q", r.Table)
		}
		out.Table = tb
	}
	return out
}

func compareText(t *testing.T, what, ip, fp string) {
	t.Helper()
	if ip == fp {
		return
	}
	il, fl := strings.Split(ip, "\n"), strings.Split(fp, "\n")
	for i := 0; i < max(len(il), len(fl)); i++ {
		var a, b string
		if i < len(il) {
			a = il[i]
		}
		if i < len(fl) {
			b = fl[i]
		}
		if a != b {
			t.Errorf("%s, line %d:\n    ip: %q\n fpctl: %q", what, i+1, a, b)
			return
		}
	}
}

func TestPrintersMatchIproute2(t *testing.T) {
	n := newNetns(t)
	for _, c := range []string{
		"link add d0 type veth peer name p0",
		"link add d1 type veth peer name p1",
		"link set lo up", "link set d0 up", "link set p0 up", "link set d1 up", "link set p1 up",
		"link set d1 mtu 1400",
		"addr add 10.1.0.1/24 dev d0",
		"addr add 10.2.0.1/24 brd 10.2.0.255 dev d1",
		"addr add 10.2.0.9/32 dev d1",
		"addr add 10.1.0.17/24 dev d0 noprefixroute",
		"addr add 10.1.0.18/24 brd + dev d0",
		"addr add 10.3.0.1/16 brd - dev d0",
		"-6 addr add 2001:db8::1/64 dev d0 nodad",
		"route add default via 10.1.0.2 dev d0 metric 100",
		"route add 10.9.0.0/16 via 10.1.0.2",
		"route add blackhole 10.8.0.0/16",
		"route add unreachable 10.7.0.0/16 metric 5",
		"route add prohibit 10.6.0.0/16 table 100",
		"route add throw 10.5.0.0/16 table 100",
		"route add 10.66.0.0/16 via 10.1.0.2 table 100",
		"route add 10.5.0.0/24 proto static nexthop via 10.1.0.2 dev d0 weight 1 nexthop via 10.2.0.2 dev d1 weight 3 onlink",
		"route add 10.11.0.0/16 table 55 nexthop dev d0 nexthop dev d1",
		"route add 10.1.9.0/24 dev d0 table 55",
		"route add 10.4.0.0/24 via 10.1.0.2 mtu 1400 src 10.1.0.1",
		"route add 10.3.0.0/24 via 10.1.0.2 dev d0 onlink",
		"route add 10.3.1.0/24 dev d0 scope link proto 42",
		"route add 10.3.2.1 dev d0",
		"route add 10.99.0.0/16 dev d0 table 253",
		"route add 10.98.0.0/16 via inet6 2001:db8::5 dev d0",
		"route add local 10.2.0.50 dev d1",
		"route add broadcast 10.2.0.51 dev d1 proto static",
		"route add 10.97.0.0/16 dev d0 table 4000 metric 0x20",
		"-6 route add 2001:db8:1::/48 via 2001:db8::2",
		"-6 route add blackhole 2001:db8:2::/48",
		"-6 route add default via 2001:db8::3 metric 10",
		"rule add to 10.66.0.0/16 lookup 100 pref 100",
		"rule add from 10.1.0.0/24 iif d0 fwmark 0x10/0xff lookup 200 pref 200",
		"rule add not from 10.3.0.0/24 oif d1 blackhole pref 201",
		"rule add tun_id 42 unreachable pref 99",
		"rule add iif nosuch prohibit pref 98",
		"rule add fwmark 5 table main pref 97",
		"rule add from 10.1.2.3 fwmark 17 table local pref 401",
		"rule add fwmark 0/1 table 9 pref 402",
		"rule add not from 10.3.0.0/24 to 10.4.0.0/16 fwmark 0x3 iif d0 oif d1 tun_id 9 lookup 300 pref 400",
		"-6 rule add from 2001:db8::/32 lookup 300",
		"neigh add 10.1.0.7 lladdr 02:00:00:00:00:07 dev d0",
		"neigh add 10.2.0.8 lladdr 2:0:0:0:0:8 dev d1",
		"-6 neigh add 2001:db8::9 lladdr 02:00:00:00:00:09 dev d0 router",
	} {
		n.ip(c)
		checkRouteGrammar(t, n, c)
	}

	routes := func(args string, family int, f *api.Filter, details bool) string {
		var rs []ipRoute
		n.ipJSON(args, &rs)
		var b strings.Builder
		for i := range rs {
			r := rs[i].api(t, family)
			b.WriteString(FormatRoute(&r, f, details))
		}
		return b.String()
	}
	compareText(t, "ip route", n.ip("-4 route show"), routes("-4 route show", 4, &api.Filter{Family: 4}, false))
	compareText(t, "ip route show table all", n.ip("-4 route show table all"),
		routes("-4 route show table all", 4, &api.Filter{Family: 4, Table: api.TableAll}, false))
	compareText(t, "ip route show table 100", n.ip("-4 route show table 100"),
		routes("-4 route show table 100", 4, &api.Filter{Family: 4, Table: 100}, false))
	compareText(t, "ip -d route show table 55", n.ip("-4 -d route show table 55"),
		routes("-4 -d route show table 55", 4, &api.Filter{Family: 4, Table: 55}, true))
	compareText(t, "ip route show dev d1", n.ip("-4 route show dev d1"),
		routes("-4 route show dev d1", 4, &api.Filter{Family: 4, Dev: "d1"}, false))
	v6 := strings.ReplaceAll(n.ip("-6 route show"), " pref medium", " ")
	compareText(t, "ip -6 route", v6, routes("-6 route show", 6, &api.Filter{Family: 6}, false))

	rules := func(args string, family int) string {
		var rs []ipRule
		n.ipJSON(args, &rs)
		var b strings.Builder
		for i := range rs {
			r := rs[i].api(t, family)
			b.WriteString(FormatRule(&r))
		}
		return b.String()
	}
	compareText(t, "ip rule", n.ip("-4 rule show"), rules("-4 rule show", 4))
	compareText(t, "ip -6 rule", n.ip("-6 rule show"), rules("-6 rule show", 6))

	neighs := func(args string, f *api.Filter) string {
		var ns []struct {
			Dst    string   `json:"dst"`
			Dev    string   `json:"dev"`
			LLAddr string   `json:"lladdr"`
			Router *string  `json:"router"`
			State  []string `json:"state"`
		}
		out := n.ip("-j " + args)
		// "router": null marks a router; keep it visible to the decoder.
		out = strings.ReplaceAll(out, `"router":null`, `"router":""`)
		if err := json.Unmarshal([]byte(out), &ns); err != nil {
			t.Fatalf("%s: %v", args, err)
		}
		var b strings.Builder
		for _, x := range ns {
			a := api.Neigh{Dst: x.Dst, Dev: x.Dev, LLAddr: x.LLAddr, Router: x.Router != nil, State: strings.Join(x.State, ",")}
			b.WriteString(FormatNeigh(&a, f))
		}
		return b.String()
	}
	compareText(t, "ip neigh show nud permanent", n.ip("neigh show nud permanent"), neighs("neigh show nud permanent", &api.Filter{}))
	compareText(t, "ip neigh show dev d0 nud permanent", n.ip("neigh show dev d0 nud permanent"),
		neighs("neigh show dev d0 nud permanent", &api.Filter{Dev: "d0"}))

	// Links and addresses: ip's header has fields flowpath does not.
	header := regexp.MustCompile(`(?m)^(\d+: [^:@]+)(@[^:]+)?: <([^>]*)> mtu (\d+) qdisc \S+ state (\S+) (mode \S+ )?group \S+ qlen \d+$`)
	normal := func(s string) string { return header.ReplaceAllString(s, "$1: <$3> mtu $4 state $5") }
	var ipLinks []struct {
		Index    uint32   `json:"ifindex"`
		Name     string   `json:"ifname"`
		Flags    []string `json:"flags"`
		MTU      int      `json:"mtu"`
		Oper     string   `json:"operstate"`
		LinkType string   `json:"link_type"`
		Address  string   `json:"address"`
	}
	n.ipJSON("link show", &ipLinks)
	var links []api.Link
	var linkText strings.Builder
	for _, l := range ipLinks {
		al := api.Link{Name: l.Name, Index: l.Index, Flags: l.Flags, MTU: l.MTU, OperState: l.Oper, MAC: l.Address}
		if l.LinkType == "loopback" {
			al.Kind = "loopback"
		}
		links = append(links, al)
		linkText.WriteString(FormatLink(&al, 0, false))
	}
	compareText(t, "ip link", normal(n.ip("link show")), linkText.String())

	var ipAddrs []struct {
		Name  string `json:"ifname"`
		Addrs []struct {
			Family    string `json:"family"`
			Local     string `json:"local"`
			PrefixLen int    `json:"prefixlen"`
			Broadcast string `json:"broadcast"`
			Scope     string `json:"scope"`
			Secondary bool   `json:"secondary"`
			NoDAD     bool   `json:"nodad"`
			NoPrefix  bool   `json:"noprefixroute"`
		} `json:"addr_info"`
	}
	n.ipJSON("-4 addr show", &ipAddrs)
	var addrs []api.Addr
	for _, l := range ipAddrs {
		for _, a := range l.Addrs {
			ad := api.Addr{Dev: l.Name, Prefix: fmt.Sprintf("%s/%d", a.Local, a.PrefixLen), Family: 4,
				Scope: a.Scope, Broadcast: a.Broadcast}
			for _, f := range []struct {
				on   bool
				name string
			}{{a.Secondary, "secondary"}, {a.NoDAD, "nodad"}, {a.NoPrefix, "noprefixroute"}} {
				if f.on {
					ad.Flags = append(ad.Flags, f.name)
				}
			}
			addrs = append(addrs, ad)
		}
	}
	compareText(t, "ip -4 addr", normal(n.ip("-4 addr show")), FormatAddrs(links, addrs, &api.Filter{Family: 4}))
}

// checkRouteGrammar parses a route add the kernel just accepted and
// compares fpctl's request with what the kernel stored: type, table,
// scope and protocol defaults, gateway, nexthops, metrics.
func checkRouteGrammar(t *testing.T, n *netns, command string) {
	t.Helper()
	fam := 0
	if strings.HasPrefix(command, "-6 ") {
		fam, command = 6, command[3:]
	}
	if !strings.HasPrefix(command, "route add ") {
		return
	}
	got, err := ParseRoute(strings.Fields(command)[2:], fam, false)
	if err != nil {
		t.Errorf("%s: %v", command, err)
		return
	}
	var rs []ipRoute
	n.ipJSON(fmt.Sprintf("-%d route show table all", got.Family), &rs)
	var kernel *api.Route
	for i := range rs {
		r := rs[i].api(t, got.Family)
		if r.Dst == got.Dst && r.Table == got.Table {
			kernel = &r
		}
	}
	if kernel == nil {
		t.Errorf("%s: the kernel has no %s in table %d", command, got.Dst, got.Table)
		return
	}
	def := func(s, d string) string {
		if s == "" {
			return d
		}
		return s
	}
	kernel.Type = def(kernel.Type, "unicast")
	kernel.Scope = def(kernel.Scope, "global")
	kernel.Protocol = def(kernel.Protocol, "boot")
	if got.Dev == "" {
		kernel.Dev = "" // the kernel found it from the gateway
	}
	if !got.SetMetric {
		kernel.Metric = 0 // the kernel's default (IPv6: 1024)
	}
	for i := range kernel.Nexthops {
		if kernel.Nexthops[i].Weight == 1 && got.Nexthops[i].Weight == 0 {
			kernel.Nexthops[i].Weight = 0
		}
	}
	kernel.SetMetric, kernel.SetProtocol, kernel.SetScope, kernel.SetType = got.SetMetric, got.SetProtocol, got.SetScope, got.SetType
	if mustJSON(kernel) != mustJSON(got) {
		t.Errorf("%s:\n fpctl sends %s\nkernel holds %s", command, mustJSON(got), mustJSON(kernel))
	}
}
