package main

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"flowpath/api"
)

func boolp(b bool) *bool { return &b }

type grammarCase struct {
	object, command string
	family          int
	args            string
	want            *api.Request
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

var validCases = []grammarCase{
	// ---- link ----
	{"link", "add", 0, "h1 type afpacket ifname veth1 queues 2",
		&api.Request{Op: api.OpLinkAdd, Link: &api.Link{Name: "h1", Kind: "afpacket", IfName: "veth1", Queues: 2}}},
	{"link", "add", 0, "name t0 type tap ifname tap0",
		&api.Request{Op: api.OpLinkAdd, Link: &api.Link{Name: "t0", Kind: "tap", IfName: "tap0"}}},
	{"link", "add", 0, "dev d0 mtu 9000 address 2:0:0:0:0:a type dummy",
		&api.Request{Op: api.OpLinkAdd, Link: &api.Link{Name: "d0", Kind: "dummy", MTU: 9000, MAC: "02:00:00:00:00:0a"}}},
	{"link", "add", 0, "d1 type dummy",
		&api.Request{Op: api.OpLinkAdd, Link: &api.Link{Name: "d1", Kind: "dummy"}}},
	{"link", "set", 0, "dev h1 up mtu 1400 address 02:AA:bb:00:00:01",
		&api.Request{Op: api.OpLinkSet, Link: &api.Link{Name: "h1", Up: boolp(true), MTU: 1400, MAC: "02:aa:bb:00:00:01"}}},
	{"link", "set", 0, "h1 down",
		&api.Request{Op: api.OpLinkSet, Link: &api.Link{Name: "h1", Up: boolp(false)}}},
	{"link", "set", 0, "h1 up down",
		&api.Request{Op: api.OpLinkSet, Link: &api.Link{Name: "h1", Up: boolp(false)}}},
	{"link", "set", 0, "h1 addr 02:00:00:00:00:01",
		&api.Request{Op: api.OpLinkSet, Link: &api.Link{Name: "h1", MAC: "02:00:00:00:00:01"}}},
	{"link", "set", 0, "h1 name uplink up",
		&api.Request{Op: api.OpLinkSet, Link: &api.Link{Name: "h1", NewName: "uplink", Up: boolp(true)}}},
	{"link", "delete", 0, "dev h1", &api.Request{Op: api.OpLinkDel, Link: &api.Link{Name: "h1"}}},
	{"link", "delete", 0, "h1", &api.Request{Op: api.OpLinkDel, Link: &api.Link{Name: "h1"}}},
	{"link", "show", 0, "", &api.Request{Op: api.OpLinkShow}},
	{"link", "show", 0, "dev h1", &api.Request{Op: api.OpLinkShow, Filter: &api.Filter{Dev: "h1"}}},
	{"link", "show", 0, "h1", &api.Request{Op: api.OpLinkShow, Filter: &api.Filter{Dev: "h1"}}},

	// ---- address ----
	{"address", "add", 0, "10.0.0.2/24 dev eth0",
		&api.Request{Op: api.OpAddrAdd, Addr: &api.Addr{Dev: "eth0", Prefix: "10.0.0.2/24", Family: 4}}},
	{"address", "add", 0, "dev eth0 local 2001:db8::1/64",
		&api.Request{Op: api.OpAddrAdd, Addr: &api.Addr{Dev: "eth0", Prefix: "2001:db8::1/64", Family: 6}}},
	{"address", "add", 0, "10.0.0.2 dev eth0 scope link",
		&api.Request{Op: api.OpAddrAdd, Addr: &api.Addr{Dev: "eth0", Prefix: "10.0.0.2/32", Family: 4, Scope: "link"}}},
	{"address", "add", 0, "10.0.0.2/255.255.255.0 dev eth0",
		&api.Request{Op: api.OpAddrAdd, Addr: &api.Addr{Dev: "eth0", Prefix: "10.0.0.2/24", Family: 4}}},
	{"address", "delete", 0, "10.0.0.2/24 dev eth0",
		&api.Request{Op: api.OpAddrDel, Addr: &api.Addr{Dev: "eth0", Prefix: "10.0.0.2/24", Family: 4}}},
	{"address", "show", 0, "", &api.Request{Op: api.OpAddrShow, Filter: &api.Filter{}}},
	{"address", "show", 6, "dev eth0", &api.Request{Op: api.OpAddrShow, Filter: &api.Filter{Dev: "eth0", Family: 6}}},
	{"address", "show", 0, "eth0 to 10.0.0.0/8", &api.Request{Op: api.OpAddrShow, Filter: &api.Filter{Dev: "eth0", Prefix: "10.0.0.0/8"}}},
	{"address", "flush", 0, "dev eth0", &api.Request{Op: api.OpAddrFlush, Filter: &api.Filter{Dev: "eth0"}}},

	// ---- route ----
	{"route", "add", 0, "default via 10.0.0.1 dev eth0 metric 100",
		&api.Request{Op: api.OpRouteAdd, Route: &api.Route{Family: 4, Type: "unicast", Dst: "default", Table: 254,
			Via: "10.0.0.1", Dev: "eth0", Metric: 100, SetMetric: true, Protocol: "boot", Scope: "global"}}},
	{"route", "add", 0, "10.0.0.0/24 dev eth0 proto kernel scope link src 10.0.0.2",
		&api.Request{Op: api.OpRouteAdd, Route: &api.Route{Family: 4, Type: "unicast", Dst: "10.0.0.0/24", Table: 254,
			Dev: "eth0", Protocol: "kernel", SetProtocol: true, Scope: "link", SetScope: true, Src: "10.0.0.2"}}},
	{"route", "add", 0, "10.1.0.0/16 dev eth0",
		&api.Request{Op: api.OpRouteAdd, Route: &api.Route{Family: 4, Type: "unicast", Dst: "10.1.0.0/16", Table: 254,
			Dev: "eth0", Protocol: "boot", Scope: "link"}}},
	{"route", "add", 0, "blackhole 10.9.0.0/16",
		&api.Request{Op: api.OpRouteAdd, Route: &api.Route{Family: 4, Type: "blackhole", SetType: true, Dst: "10.9.0.0/16",
			Table: 254, Protocol: "boot", Scope: "global"}}},
	{"route", "add", 0, "to unreachable 10.8/16 table 100 metric 0x10",
		&api.Request{Op: api.OpRouteAdd, Route: &api.Route{Family: 4, Type: "unreachable", SetType: true, Dst: "10.8.0.0/16",
			Table: 100, Metric: 16, SetMetric: true, Protocol: "boot", Scope: "global"}}},
	{"route", "add", 0, "local 10.0.0.2 dev eth0",
		&api.Request{Op: api.OpRouteAdd, Route: &api.Route{Family: 4, Type: "local", SetType: true, Dst: "10.0.0.2/32",
			Table: 255, Dev: "eth0", Protocol: "boot", Scope: "host"}}},
	{"route", "add", 0, "broadcast 10.0.0.255 dev eth0 table main",
		&api.Request{Op: api.OpRouteAdd, Route: &api.Route{Family: 4, Type: "broadcast", SetType: true, Dst: "10.0.0.255/32",
			Table: 254, Dev: "eth0", Protocol: "boot", Scope: "link"}}},
	{"route", "add", 0, "throw 10.5.0.0/16 table 100",
		&api.Request{Op: api.OpRouteAdd, Route: &api.Route{Family: 4, Type: "throw", SetType: true, Dst: "10.5.0.0/16",
			Table: 100, Protocol: "boot", Scope: "global"}}},
	{"route", "add", 0, "prohibit 10.6.0.0/16 table local",
		&api.Request{Op: api.OpRouteAdd, Route: &api.Route{Family: 4, Type: "prohibit", SetType: true, Dst: "10.6.0.0/16",
			Table: 255, Protocol: "boot", Scope: "global"}}},
	{"route", "add", 0, "10.4.0.0/24 via 10.1.0.2 mtu lock 1400 onlink pri 7 t default",
		&api.Request{Op: api.OpRouteAdd, Route: &api.Route{Family: 4, Type: "unicast", Dst: "10.4.0.0/24", Table: 253,
			Via: "10.1.0.2", MTU: 1400, MTULock: true, Onlink: true, Metric: 7, SetMetric: true, Protocol: "boot", Scope: "global"}}},
	{"route", "add", 0, "10.4.0.0/24 dev eth0 mtu 1300 preference 9 proto 42",
		&api.Request{Op: api.OpRouteAdd, Route: &api.Route{Family: 4, Type: "unicast", Dst: "10.4.0.0/24", Table: 254,
			Dev: "eth0", MTU: 1300, Metric: 9, SetMetric: true, Protocol: "42", SetProtocol: true, Scope: "link"}}},
	{"route", "add", 0, "10.4.0.0/24 dev eth0 proto babel scope 200",
		&api.Request{Op: api.OpRouteAdd, Route: &api.Route{Family: 4, Type: "unicast", Dst: "10.4.0.0/24", Table: 254,
			Dev: "eth0", Protocol: "42", SetProtocol: true, Scope: "site", SetScope: true}}},
	{"route", "add", 0, "10.5.0.0/24 proto static nexthop via 10.1.0.2 dev a weight 1 nexthop via 10.2.0.2 dev b weight 3 onlink",
		&api.Request{Op: api.OpRouteAdd, Route: &api.Route{Family: 4, Type: "unicast", Dst: "10.5.0.0/24", Table: 254,
			Protocol: "static", SetProtocol: true, Scope: "global", Nexthops: []api.Nexthop{
				{Via: "10.1.0.2", Dev: "a", Weight: 1}, {Via: "10.2.0.2", Dev: "b", Weight: 3, Onlink: true}}}}},
	{"route", "add", 0, "10.11.0.0/16 nexthop dev a nexthop dev b weight 256",
		&api.Request{Op: api.OpRouteAdd, Route: &api.Route{Family: 4, Type: "unicast", Dst: "10.11.0.0/16", Table: 254,
			Protocol: "boot", Scope: "global", Nexthops: []api.Nexthop{{Dev: "a"}, {Dev: "b", Weight: 256}}}}},
	{"route", "add", 0, "2001:db8:1::/48 via 2001:db8::2",
		&api.Request{Op: api.OpRouteAdd, Route: &api.Route{Family: 6, Type: "unicast", Dst: "2001:db8:1::/48", Table: 254,
			Via: "2001:db8::2", Protocol: "boot", Scope: "global"}}},
	{"route", "add", 6, "default dev eth0",
		&api.Request{Op: api.OpRouteAdd, Route: &api.Route{Family: 6, Type: "unicast", Dst: "default", Table: 254,
			Dev: "eth0", Protocol: "boot", Scope: "global"}}},
	{"route", "add", 0, "default via fe80::1 dev eth0",
		&api.Request{Op: api.OpRouteAdd, Route: &api.Route{Family: 6, Type: "unicast", Dst: "default", Table: 254,
			Via: "fe80::1", Dev: "eth0", Protocol: "boot", Scope: "global"}}},
	{"route", "add", 0, "10.0.0.0/8 via inet6 fe80::1 dev eth0",
		&api.Request{Op: api.OpRouteAdd, Route: &api.Route{Family: 4, Type: "unicast", Dst: "10.0.0.0/8", Table: 254,
			Via: "fe80::1", Dev: "eth0", Protocol: "boot", Scope: "global"}}},
	{"route", "add", 0, "via inet 10.0.0.1 10.0.0.0/8",
		&api.Request{Op: api.OpRouteAdd, Route: &api.Route{Family: 4, Type: "unicast", Dst: "10.0.0.0/8", Table: 254,
			Via: "10.0.0.1", Protocol: "boot", Scope: "global"}}},
	{"route", "add", 0, "10.0.0.0/8 dev a dev b oif c",
		&api.Request{Op: api.OpRouteAdd, Route: &api.Route{Family: 4, Type: "unicast", Dst: "10.0.0.0/8", Table: 254,
			Dev: "c", Protocol: "boot", Scope: "link"}}},
	{"route", "add", 0, "10.0.0.0/8 dev eth0 table 4294967294",
		&api.Request{Op: api.OpRouteAdd, Route: &api.Route{Family: 4, Type: "unicast", Dst: "10.0.0.0/8", Table: 4294967294,
			Dev: "eth0", Protocol: "boot", Scope: "link"}}},
	{"route", "replace", 0, "10.0.0.0/8 dev eth0",
		&api.Request{Op: api.OpRouteReplace, Route: &api.Route{Family: 4, Type: "unicast", Dst: "10.0.0.0/8", Table: 254,
			Dev: "eth0", Protocol: "boot", Scope: "link"}}},
	{"route", "prepend", 0, "10.0.0.0/8 via 10.0.0.1",
		&api.Request{Op: api.OpRoutePrepend, Route: &api.Route{Family: 4, Type: "unicast", Dst: "10.0.0.0/8", Table: 254,
			Via: "10.0.0.1", Protocol: "boot", Scope: "global"}}},
	{"route", "change", 0, "10.0.0.0/8 via 10.0.0.1",
		&api.Request{Op: api.OpRouteChange, Route: &api.Route{Family: 4, Type: "unicast", Dst: "10.0.0.0/8", Table: 254,
			Via: "10.0.0.1", Protocol: "boot", Scope: "global"}}},
	{"route", "append", 0, "10.0.0.0/8 via 10.0.0.1",
		&api.Request{Op: api.OpRouteAppend, Route: &api.Route{Family: 4, Type: "unicast", Dst: "10.0.0.0/8", Table: 254,
			Via: "10.0.0.1", Protocol: "boot", Scope: "global"}}},
	{"route", "delete", 0, "10.0.0.0/8",
		&api.Request{Op: api.OpRouteDel, Route: &api.Route{Family: 4, Dst: "10.0.0.0/8", Table: 254}}},
	{"route", "delete", 6, "default",
		&api.Request{Op: api.OpRouteDel, Route: &api.Route{Family: 6, Dst: "default", Table: 254}}},
	{"route", "delete", 0, "blackhole 10.9.0.0/16 table 7 metric 0",
		&api.Request{Op: api.OpRouteDel, Route: &api.Route{Family: 4, Type: "blackhole", SetType: true, Dst: "10.9.0.0/16",
			Table: 7, SetMetric: true}}},
	{"route", "delete", 0, "local 10.0.0.2 dev eth0",
		&api.Request{Op: api.OpRouteDel, Route: &api.Route{Family: 4, Type: "local", SetType: true, Dst: "10.0.0.2/32",
			Table: 255, Dev: "eth0"}}},
	{"route", "delete", 0, "10.0.0.0/8 via 10.0.0.1 proto static scope link",
		&api.Request{Op: api.OpRouteDel, Route: &api.Route{Family: 4, Dst: "10.0.0.0/8", Table: 254, Via: "10.0.0.1",
			Protocol: "static", SetProtocol: true, Scope: "link", SetScope: true}}},
	{"route", "show", 0, "", &api.Request{Op: api.OpRouteShow, Filter: &api.Filter{Family: 4}}},
	{"route", "show", 6, "", &api.Request{Op: api.OpRouteShow, Filter: &api.Filter{Family: 6}}},
	{"route", "show", 0, "table all", &api.Request{Op: api.OpRouteShow, Filter: &api.Filter{Table: api.TableAll}}},
	{"route", "show", 4, "table all", &api.Request{Op: api.OpRouteShow, Filter: &api.Filter{Table: api.TableAll, Family: 4}}},
	{"route", "show", 0, "table local dev eth0 type local",
		&api.Request{Op: api.OpRouteShow, Filter: &api.Filter{Family: 4, Table: 255, Dev: "eth0", Type: "local"}}},
	{"route", "show", 0, "10.0.0.0/8", &api.Request{Op: api.OpRouteShow, Filter: &api.Filter{Family: 4, Prefix: "10.0.0.0/8"}}},
	{"route", "show", 0, "exact 2001:db8::/32", &api.Request{Op: api.OpRouteShow, Filter: &api.Filter{Family: 6, Prefix: "2001:db8::/32"}}},
	{"route", "show", 0, "to default", &api.Request{Op: api.OpRouteShow, Filter: &api.Filter{Family: 4, Prefix: "default"}}},
	{"route", "flush", 0, "table 100", &api.Request{Op: api.OpRouteFlush, Filter: &api.Filter{Family: 4, Table: 100}}},
	{"route", "flush", 6, "dev eth0", &api.Request{Op: api.OpRouteFlush, Filter: &api.Filter{Family: 6, Dev: "eth0"}}},
	{"route", "get", 0, "10.9.1.1", &api.Request{Op: api.OpRouteGet, RouteGet: &api.RouteGet{Dst: "10.9.1.1"}}},
	{"route", "get", 0, "to 10.9.1.1 from 10.1.0.1 iif a oif b mark 0x10 ipproto tcp sport 1000 dport 0x50",
		&api.Request{Op: api.OpRouteGet, RouteGet: &api.RouteGet{Dst: "10.9.1.1", From: "10.1.0.1", Iif: "a", Oif: "b",
			Mark: 16, IPProto: "tcp", Sport: 1000, Dport: 80}}},
	{"route", "get", 0, "2001:db8::1 ipproto 58", &api.Request{Op: api.OpRouteGet, RouteGet: &api.RouteGet{Dst: "2001:db8::1", IPProto: "58"}}},
	{"route", "get", 0, "10.0.0.1 ipproto 17 dev x", &api.Request{Op: api.OpRouteGet, RouteGet: &api.RouteGet{Dst: "10.0.0.1", IPProto: "udp", Oif: "x"}}},
	{"route", "get", 0, "10.0.0.1 10.0.0.2", &api.Request{Op: api.OpRouteGet, RouteGet: &api.RouteGet{Dst: "10.0.0.2"}}},
	{"route", "get", 0, "10.0.0.1/32", &api.Request{Op: api.OpRouteGet, RouteGet: &api.RouteGet{Dst: "10.0.0.1"}}},

	// ---- rule ----
	{"rule", "add", 0, "from 10.1.0.0/24 iif d0 fwmark 0x10/0xff lookup 200 pref 200",
		&api.Request{Op: api.OpRuleAdd, Rule: &api.Rule{Family: 4, Priority: 200, SetPriority: true, From: "10.1.0.0/24",
			Iif: "d0", FwMark: 16, FwMask: 255, Action: "lookup", Table: 200}}},
	{"rule", "add", 0, "not from 10.3.0.0/24 to 10.4.0.0/16 oif d1 tun_id 9 blackhole priority 201",
		&api.Request{Op: api.OpRuleAdd, Rule: &api.Rule{Family: 4, Priority: 201, SetPriority: true, Not: true,
			From: "10.3.0.0/24", To: "10.4.0.0/16", Oif: "d1", TunID: 9, Action: "blackhole"}}},
	{"rule", "add", 0, "fwmark 5",
		&api.Request{Op: api.OpRuleAdd, Rule: &api.Rule{Family: 4, FwMark: 5, FwMask: 0xFFFFFFFF, Action: "lookup", Table: 254}}},
	{"rule", "add", 0, "from 10.1.0.0/24 goto 32766 pref 100",
		&api.Request{Op: api.OpRuleAdd, Rule: &api.Rule{Family: 4, Priority: 100, SetPriority: true, From: "10.1.0.0/24",
			Action: "goto", Goto: 32766}}},
	{"rule", "add", 0, "nop pref 50",
		&api.Request{Op: api.OpRuleAdd, Rule: &api.Rule{Family: 4, Priority: 50, SetPriority: true, Action: "nop"}}},
	{"rule", "add", 0, "from all to all fwmark 0 table main order 0",
		&api.Request{Op: api.OpRuleAdd, Rule: &api.Rule{Family: 4, SetPriority: true, FwMask: 0xFFFFFFFF, Action: "lookup", Table: 254}}},
	{"rule", "add", 0, "from 2001:db8::/32 lookup 300",
		&api.Request{Op: api.OpRuleAdd, Rule: &api.Rule{Family: 6, From: "2001:db8::/32", Action: "lookup", Table: 300}}},
	{"rule", "add", 6, "type unreachable p 5",
		&api.Request{Op: api.OpRuleAdd, Rule: &api.Rule{Family: 6, Priority: 5, SetPriority: true, Action: "unreachable"}}},
	{"rule", "add", 0, "dev lo prohibit",
		&api.Request{Op: api.OpRuleAdd, Rule: &api.Rule{Family: 4, Iif: "lo", Action: "prohibit"}}},
	{"rule", "add", 0, "t local type unicast",
		&api.Request{Op: api.OpRuleAdd, Rule: &api.Rule{Family: 4, Action: "lookup", Table: 255}}},
	{"rule", "delete", 0, "pref 100",
		&api.Request{Op: api.OpRuleDel, Rule: &api.Rule{Family: 4, Priority: 100, SetPriority: true}}},
	{"rule", "delete", 0, "from 10.0.0.0/8 table 7",
		&api.Request{Op: api.OpRuleDel, Rule: &api.Rule{Family: 4, From: "10.0.0.0/8", Action: "lookup", Table: 7}}},
	{"rule", "show", 0, "", &api.Request{Op: api.OpRuleShow, Filter: &api.Filter{Family: 4}}},
	{"rule", "show", 6, "", &api.Request{Op: api.OpRuleShow, Filter: &api.Filter{Family: 6}}},

	// ---- neighbour ----
	{"neighbour", "add", 0, "10.0.0.1 lladdr 2:0:0:0:0:9 dev eth0",
		&api.Request{Op: api.OpNeighAdd, Neigh: &api.Neigh{Dst: "10.0.0.1", LLAddr: "02:00:00:00:00:09", Dev: "eth0", State: "PERMANENT"}}},
	{"neighbour", "replace", 0, "to 2001:db8::9 dev eth0 lladdr 02:00:00:00:00:09 nud reachable router",
		&api.Request{Op: api.OpNeighReplace, Neigh: &api.Neigh{Dst: "2001:db8::9", LLAddr: "02:00:00:00:00:09", Dev: "eth0", State: "REACHABLE", Router: true}}},
	{"neighbour", "change", 0, "10.0.0.1 dev eth0 nud stale",
		&api.Request{Op: api.OpNeighChange, Neigh: &api.Neigh{Dst: "10.0.0.1", Dev: "eth0", State: "STALE"}}},
	{"neighbour", "add", 0, "10.0.0.1 dev eth0 nud noarp",
		&api.Request{Op: api.OpNeighAdd, Neigh: &api.Neigh{Dst: "10.0.0.1", Dev: "eth0", State: "NOARP"}}},
	{"neighbour", "delete", 0, "10.0.0.1 dev eth0",
		&api.Request{Op: api.OpNeighDel, Neigh: &api.Neigh{Dst: "10.0.0.1", Dev: "eth0"}}},
	{"neighbour", "show", 0, "", &api.Request{Op: api.OpNeighShow, Filter: &api.Filter{}}},
	{"neighbour", "show", 4, "dev eth0 nud permanent",
		&api.Request{Op: api.OpNeighShow, Filter: &api.Filter{Family: 4, Dev: "eth0", State: "PERMANENT"}}},
	{"neighbour", "show", 0, "nud all 10.0.0.0/8",
		&api.Request{Op: api.OpNeighShow, Filter: &api.Filter{State: "all", Prefix: "10.0.0.0/8"}}},
	{"neighbour", "flush", 0, "dev eth0", &api.Request{Op: api.OpNeighFlush, Filter: &api.Filter{Dev: "eth0"}}},

	{"stats", "show", 0, "", &api.Request{Op: api.OpStats}},
}

func init() {
	validCases = append(validCases, tunnelValidCases...)
	invalidCases = append(invalidCases, tunnelInvalidCases...)
}

func TestBuildRequestValid(t *testing.T) {
	for _, c := range validCases {
		name := c.object + " " + c.command + " " + c.args
		var argv []string
		if c.args != "" {
			argv = strings.Fields(c.args)
		}
		got, err := BuildRequest(c.object, c.command, argv, c.family)
		if err != nil {
			t.Errorf("%s (-%d): %v", name, c.family, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s (-%d):\n got %s\nwant %s", name, c.family, mustJSON(got), mustJSON(c.want))
		}
	}
}

var invalidCases = []struct {
	object, command string
	family          int
	args            string
	msg             string
	status          int
}{
	{"route", "add", 0, "10.0.0.0/33 dev d0", `Error: any valid prefix is expected rather than "10.0.0.0/33".`, 1},
	{"route", "add", 0, "foo dev d0", `Error: any valid prefix is expected rather than "foo".`, 1},
	{"route", "add", 0, "10.0.0.0/8 via foo", `Error: inet address is expected rather than "foo".`, 1},
	{"route", "add", 0, "10.0.0.0/8 via bogus 1.2.3.4", `Error: inet address is expected rather than "bogus".`, 1},
	{"route", "add", 0, "10.0.0.0/8 via 2001:db8::1", `Error: inet address is expected rather than "2001:db8::1".`, 1},
	{"route", "add", 0, "2001:db8::/32 via 10.1.0.2", `Error: inet6 address is expected rather than "10.1.0.2".`, 1},
	{"route", "add", 6, "10.0.0.0/8 dev d0", `Error: inet6 prefix is expected rather than "10.0.0.0/8".`, 1},
	{"route", "add", 0, "10.0.0.0/8 src foo dev d0", `Error: inet address is expected rather than "foo".`, 1},
	{"route", "add", 0, "10.0.0.0/8 metric x dev d0", `Error: argument "x" is wrong: "metric" value is invalid`, 255},
	{"route", "add", 0, "10.0.0.0/8 dev d0 metric 4294967296", `Error: argument "4294967296" is wrong: "metric" value is invalid`, 255},
	{"route", "add", 0, "10.0.0.0/8 table foo dev d0", `Error: argument "foo" is wrong: "table" value is invalid`, 255},
	{"route", "add", 0, "10.0.0.0/8 table all dev d0", `Error: argument "all" is wrong: "table" value is invalid`, 255},
	{"route", "add", 0, "10.0.0.0/8 10.1.0.0/16 dev d0", `Error: either "to" is duplicate, or "10.1.0.0/16" is a garbage.`, 255},
	{"route", "add", 0, "10.0.0.0/8 dev d0 foo", `Error: either "to" is duplicate, or "foo" is a garbage.`, 255},
	{"route", "add", 0, "10.0.0.0/8 dev", `Command line is not complete. Try option "help"`, 255},
	{"route", "add", 0, "10.0.0.0/8 mtu lock", `Command line is not complete. Try option "help"`, 255},
	{"route", "add", 0, "blackhole", `Command line is not complete. Try option "help"`, 255},
	{"route", "add", 0, "10.0.0.0/8 via 10.1.0.2 via 10.1.0.3", `Error: argument "via" is wrong: use nexthop syntax to specify multiple via`, 255},
	{"route", "add", 0, "10.0.0.0/8 nexthop via 10.1.0.2 dev d0 weight 0", `Error: argument "0" is wrong: "weight" is invalid`, 255},
	{"route", "add", 0, "10.0.0.0/8 nexthop via 10.1.0.2 dev d0 weight 257", `Error: argument "257" is wrong: "weight" is invalid`, 255},
	{"route", "add", 0, "10.0.0.0/8 nexthop", `Error: unexpected end of line after "nexthop"`, 255},
	{"route", "add", 0, "10.0.0.0/8 nexthop via 10.1.0.2 dev d0 nexthop", `Error: unexpected end of line after "nexthop"`, 255},
	{"route", "add", 0, "10.0.0.0/8 nexthop via 10.1.0.2 dev d0 foo", `Error: "nexthop" or end of line is expected instead of "foo"`, 255},
	{"route", "add", 0, "10.0.0.0/8 scope foo dev d0", `Error: argument "foo" is wrong: invalid "scope" value`, 255},
	{"route", "add", 0, "10.0.0.0/8 proto foo dev d0", `Error: argument "foo" is wrong: "protocol" value is invalid`, 255},
	{"route", "add", 0, "10.0.0.0/8 mtu x dev d0", `Error: argument "x" is wrong: "mtu" value is invalid`, 255},
	{"route", "add", 0, "10.0.0.0/8 dev d0 encap seg6 mode encap segs ::1", `Error: "encap seg6" is not supported by flowpath.`, 255},
	{"route", "add", 0, "10.0.0.0/8 dev d0 tos 4", `Error: "tos" is not supported by flowpath.`, 255},
	{"route", "add", 0, "10.0.0.0/8 via mpls 100", `Error: "via mpls" is not supported by flowpath.`, 255},
	{"route", "add", 0, "dev d0", usage["route"], 255},
	{"route", "add", 0, "", usage["route"], 255},
	{"route", "add", 0, "10.0.0.0/8 ''", `Error: either "to" is duplicate, or "''" is a garbage.`, 255},
	{"route", "delete", 0, "", usage["route"], 255},
	{"route", "flush", 0, "", `"fpctl route flush" requires arguments.`, 1},
	{"route", "show", 0, "foo", `Error: any valid prefix is expected rather than "foo".`, 1},
	{"route", "show", 0, "table foo", `Error: argument "foo" is wrong: table id value is invalid`, 255},
	{"route", "show", 0, "type foo", `Error: argument "foo" is wrong: node type value is invalid`, 255},
	{"route", "show", 0, "root 10.0.0.0/8", `Error: "root" is not supported by flowpath.`, 255},
	{"route", "show", 0, "proto kernel", `Error: "proto" is not supported by flowpath.`, 255},
	{"route", "get", 0, "", `need at least a destination address`, 1},
	{"route", "get", 0, "foo", `Error: any valid prefix is expected rather than "foo".`, 1},
	{"route", "get", 0, "10.0.0.1 bar", `Error: inet prefix is expected rather than "bar".`, 1},
	{"route", "get", 0, "10.0.0.1 from foo", `Error: inet prefix is expected rather than "foo".`, 1},
	{"route", "get", 0, "10.0.0.1 mark x", `Error: argument "x" is wrong: invalid mark value`, 255},
	{"route", "get", 0, "10.0.0.1 sport x", `Error: argument "x" is wrong: invalid sport`, 255},
	{"route", "get", 0, "10.0.0.1 dport 70000", `Error: argument "70000" is wrong: invalid dport`, 255},
	{"route", "get", 0, "10.0.0.1 ipproto foo", `Error: argument "foo" is wrong: Invalid "ipproto" value`, 255},
	{"route", "get", 0, "10.0.0.1 iif", `Command line is not complete. Try option "help"`, 255},
	{"route", "frob", 0, "", `Command "frob" is unknown, try "fpctl route help".`, 255},

	{"link", "add", 0, "x0", `Not enough information: "type" argument is required`, 1},
	{"link", "add", 0, "", `Not enough information: "type" argument is required`, 1},
	{"link", "add", 0, "x0 type", `Command line is not complete. Try option "help"`, 255},
	{"link", "add", 0, "type dummy", `Not enough information: "dev" argument is required.`, 255},
	{"link", "add", 0, "x0 mtu foo type dummy", `Error: argument "foo" is wrong: Invalid "mtu" value`, 255},
	{"link", "add", 0, "name a name b type dummy", `Error: duplicate "name": "b" is the second value.`, 255},
	{"link", "add", 0, "x y type dummy", `Error: either "dev" is duplicate, or "y" is a garbage.`, 255},
	// As in ip, "a" abbreviates "address".
	{"link", "add", 0, "a b type dummy", `"b" is invalid lladdr.`, 1},
	{"link", "add", 0, "x0 type afpacket ifname a ifname b", `Error: duplicate "ifname": "b" is the second value.`, 255},
	{"link", "add", 0, "x0 type afpacket queues 0", `Error: argument "0" is wrong: invalid "queues" value`, 255},
	{"link", "add", 0, "x0 type afpacket foo", `afpacket: unknown option "foo" (want ifname IF, queues N)`, 255},
	{"link", "add", 0, "x0 type dummy foo", `dummy: unknown option "foo"`, 255},
	{"link", "add", 0, "x0 txqueuelen 5 type dummy", `Error: "txqueuelen" is not supported by flowpath.`, 255},
	{"link", "set", 0, "d0 mtu foo", `Error: argument "foo" is wrong: Invalid "mtu" value`, 255},
	{"link", "set", 0, "d0 mtu 1400 mtu 1500", `Error: duplicate "mtu": "1500" is the second value.`, 255},
	{"link", "set", 0, "d0 address zz", `"zz" is invalid lladdr.`, 1},
	{"link", "set", 0, "d0 address 02:00:00:00:00:0g", `"02:00:00:00:00:0g" is invalid lladdr.`, 1},
	{"link", "set", 0, "d0 address 02:00:00:00:00", `"02:00:00:00:00" is invalid lladdr.`, 1},
	{"link", "set", 0, "d0 foo", `Error: either "dev" is duplicate, or "foo" is a garbage.`, 255},
	{"link", "set", 0, "dev d0 up dev d1", `Error: either "dev" is duplicate, or "d1" is a garbage.`, 255},
	{"link", "set", 0, "", `Not enough information: "dev" argument is required.`, 255},
	{"link", "set", 0, "up", `Not enough information: "dev" argument is required.`, 255},
	{"link", "set", 0, "d0 mtu", `Command line is not complete. Try option "help"`, 255},
	{"link", "set", 0, "d0 name x name y", `Error: duplicate "name": "y" is the second value.`, 255},
	{"link", "delete", 0, "", `Not enough information: "dev" argument is required.`, 255},
	{"link", "delete", 0, "d0 d1", `Error: either "dev" is duplicate, or "d1" is a garbage.`, 255},
	{"link", "show", 0, "d0 d1", `Error: either "dev" is duplicate, or "d1" is a garbage.`, 255},
	{"link", "show", 0, "dev", `Command line is not complete. Try option "help"`, 255},
	{"link", "frob", 0, "", `Command "frob" is unknown, try "fpctl link help".`, 255},

	{"address", "add", 0, "10.1.0.5/24", `Not enough information: "dev" argument is required.`, 1},
	{"address", "add", 0, "foo dev d0", `Error: any valid prefix is expected rather than "foo".`, 1},
	{"address", "add", 0, "10.1.0.5/33 dev d0", `Error: any valid prefix is expected rather than "10.1.0.5/33".`, 1},
	{"address", "add", 0, "10.1.0.5/255.0.255.0 dev d0", `Error: any valid prefix is expected rather than "10.1.0.5/255.0.255.0".`, 1},
	{"address", "add", 0, "default dev d0", `Error: any valid prefix is expected rather than "default".`, 1},
	{"address", "add", 4, "2001:db8::1/64 dev d0", `Error: inet prefix is expected rather than "2001:db8::1/64".`, 1},
	{"address", "add", 0, "10.1.0.5/24 dev d0 bar", `Error: either "local" is duplicate, or "bar" is a garbage.`, 255},
	{"address", "add", 0, "dev d0", usage["address"], 255},
	{"address", "add", 0, "10.1.0.5/24 label d0:1 dev d0", `Error: "label" is not supported by flowpath.`, 255},
	{"address", "add", 0, "10.1.0.5/24 brd xyz dev d0", `Error: an inet address is expected rather than "xyz".`, 1},
	{"address", "add", 0, "10.1.0.5/24 brd + brd - dev d0", `Error: duplicate "broadcast": "-" is the second value.`, 255},
	{"address", "flush", 0, "", `Flush requires arguments.`, 1},
	{"address", "flush", 0, "dev d0 x", `Error: either "dev" is duplicate, or "x" is a garbage.`, 255},
	{"address", "show", 0, "d0 foo", `Error: either "dev" is duplicate, or "foo" is a garbage.`, 255},

	{"neighbour", "add", 0, "10.1.0.50 lladdr zz dev d0", `"zz" is invalid lladdr.`, 1},
	{"neighbour", "add", 0, "10.1.0.50 lladdr 02:00:00:00:00:01", `Device and destination are required arguments.`, 255},
	{"neighbour", "add", 0, "lladdr 02:00:00:00:00:01 dev d0", `Device and destination are required arguments.`, 255},
	{"neighbour", "add", 0, "10.1.0.50 dev d0 nud foo", `Error: argument "foo" is wrong: nud state is bad`, 255},
	{"neighbour", "add", 0, "10.1.0.50 dev d0 nud all", `Error: argument "all" is wrong: nud state is bad`, 255},
	{"neighbour", "add", 0, "foo dev d0", `Error: any valid address is expected rather than "foo".`, 1},
	{"neighbour", "add", 6, "10.1.0.1 dev d0", `Error: inet6 address is expected rather than "10.1.0.1".`, 1},
	{"neighbour", "add", 0, "10.1.0.50 10.1.0.51 dev d0", `Error: either "to" is duplicate, or "10.1.0.51" is a garbage.`, 255},
	{"neighbour", "add", 0, "10.1.0.50 dev d0 proxy", `Error: "proxy" is not supported by flowpath.`, 255},
	{"neighbour", "flush", 0, "", `Flush requires arguments.`, 1},
	{"neighbour", "show", 0, "foo", `Error: any valid prefix is expected rather than "foo".`, 1},
	{"neighbour", "show", 0, "nud foo", `Error: argument "foo" is wrong: nud state is bad`, 255},

	{"rule", "add", 0, "from foo lookup 5", `Error: any valid prefix is expected rather than "foo".`, 1},
	{"rule", "add", 6, "to 10.0.0.0/8 lookup 7", `Error: inet6 prefix is expected rather than "10.0.0.0/8".`, 1},
	{"rule", "add", 0, "from 10.0.0.0/8 to 2001:db8::/32", `Error: inet prefix is expected rather than "2001:db8::/32".`, 1},
	{"rule", "add", 0, "pref x lookup 5", `Error: argument "x" is wrong: preference value is invalid`, 255},
	{"rule", "add", 0, "lookup foo", `Error: argument "foo" is wrong: invalid table ID`, 255},
	{"rule", "add", 0, "fwmark x lookup 5", `Error: argument "x" is wrong: fwmark value is invalid`, 255},
	{"rule", "add", 0, "fwmark 1/x lookup 5", `Error: argument "x" is wrong: fwmask value is invalid`, 255},
	{"rule", "add", 0, "tun_id x", `Error: argument "x" is wrong: "tun_id" value is invalid`, 255},
	{"rule", "add", 0, "bogus", `Error: argument "bogus" is wrong: Failed to parse rule type`, 255},
	{"rule", "add", 0, "type local", `Error: argument "local" is wrong: Failed to parse rule type`, 255},
	{"rule", "add", 0, "from 10.0.0.0/8 to", `Command line is not complete. Try option "help"`, 255},
	{"rule", "add", 0, "iif", `Command line is not complete. Try option "help"`, 255},
	{"rule", "add", 0, "lookup 5 blackhole", `Error: a blackhole rule has no table.`, 255},
	{"rule", "add", 0, "goto abc", `Error: argument "abc" is wrong: invalid target`, 255},
	{"rule", "show", 0, "table 5", `Error: "rule show table" is not supported by flowpath.`, 255},

	{"stats", "show", 0, "x", `Error: either "stats" is duplicate, or "x" is a garbage.`, 255},
	{"bogus", "show", 0, "", `Object "bogus" is unknown, try "fpctl help".`, 255},
}

func TestBuildRequestInvalid(t *testing.T) {
	for _, c := range invalidCases {
		name := c.object + " " + c.command + " " + c.args
		var argv []string
		if c.args != "" {
			argv = strings.Fields(c.args)
		}
		if c.args == "10.0.0.0/8 ''" {
			argv = []string{"10.0.0.0/8", "''"}
		}
		req, err := BuildRequest(c.object, c.command, argv, c.family)
		if err == nil {
			t.Errorf("%s (-%d): accepted as %s", name, c.family, mustJSON(req))
			continue
		}
		var ce *cliError
		if !errors.As(err, &ce) {
			t.Errorf("%s: error %v is not a cliError", name, err)
			continue
		}
		if ce.msg != c.msg || ce.status != c.status {
			t.Errorf("%s (-%d):\n got %q (exit %d)\nwant %q (exit %d)", name, c.family, ce.msg, ce.status, c.msg, c.status)
		}
	}
}

// An empty argument must not crash the parser (a[0] on "").
func TestEmptyArguments(t *testing.T) {
	for _, o := range objects {
		for _, w := range commandWords[o.name] {
			for _, argv := range [][]string{{""}, {"", ""}, {"to", ""}, {"dev", ""}, {"", "dev", "x"}} {
				BuildRequest(o.name, w.name, argv, 0)
			}
		}
	}
}

func TestWords(t *testing.T) {
	for _, c := range []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"10", 10, true}, {"0x10", 16, true}, {"010", 8, true}, {"0", 0, true},
		{"1_0", 0, false}, {"0b1", 0, false}, {"0o7", 0, false}, {"-1", 0, false},
		{"+1", 0, false}, {"", 0, false}, {"4294967295", 4294967295, true}, {"4294967296", 0, false},
	} {
		v, ok := parseUint(c.in, 32)
		if ok != c.ok || (ok && v != c.want) {
			t.Errorf("parseUint(%q) = %d, %v", c.in, v, ok)
		}
	}
	for in, want := range map[string]string{
		"10": "10.0.0.0", "10.1": "10.1.0.0", "0x0a.1.2.3": "10.1.2.3", "10.1.0.010": "10.1.0.8",
		"::1": "::1", "2001:DB8::1": "2001:db8::1",
	} {
		a, ok := parseAddr(in, 0)
		if !ok || a.String() != want {
			t.Errorf("parseAddr(%q) = %v, %v; want %s", in, a, ok, want)
		}
	}
	for _, bad := range []string{"1.2.3.4.5", "256.1.1.1", "fe80::1%eth0", "", "a.b.c.d", "1..2", "::ffff:1.2.3.4.5"} {
		if a, ok := parseAddr(bad, 0); ok {
			t.Errorf("parseAddr(%q) = %v", bad, a)
		}
	}
	for in, want := range map[string]string{
		"2:0:0:0:0:9": "02:00:00:00:00:09", "AA:BB:CC:DD:EE:FF": "aa:bb:cc:dd:ee:ff",
	} {
		if got, ok := parseMAC(in); !ok || got != want {
			t.Errorf("parseMAC(%q) = %q, %v", in, got, ok)
		}
	}
	for _, bad := range []string{"", "1:2:3:4:5", "1:2:3:4:5:6:7", "001:2:3:4:5:6", "g:0:0:0:0:0", "1::3:4:5:6"} {
		if got, ok := parseMAC(bad); ok {
			t.Errorf("parseMAC(%q) = %q", bad, got)
		}
	}
	if p, ok := parseProto("4"); !ok || p != "static" {
		t.Errorf("parseProto(4) = %q", p)
	}
	if n := protoName("186"); n != "bgp" {
		t.Errorf("protoName(186) = %q", n)
	}
	if _, ok := parseScope("256"); ok {
		t.Error("scope 256 accepted")
	}
	if _, ok := parseProto("256"); ok {
		t.Error("protocol 256 accepted")
	}
}

// The aliases are iproute2's: the first word a prefix abbreviates wins,
// and no two words share one.
func TestAliases(t *testing.T) {
	find := func(words []word, arg string) string {
		for name, al := range aliases(words) {
			if arg == name {
				return name
			}
			for _, a := range al {
				if a == arg {
					return name
				}
			}
		}
		for _, w := range words {
			if w.name == arg {
				return w.name
			}
		}
		return ""
	}
	for arg, want := range map[string]string{
		"a": "address", "addr": "address", "r": "route", "ro": "route", "ru": "rule",
		"n": "neighbour", "neigh": "neighbour", "neighbor": "neighbour", "l": "link",
		"st": "stats", "s": "",
	} {
		if got := find(objects, arg); got != want {
			t.Errorf("object %q -> %q, want %q", arg, got, want)
		}
	}
	for _, c := range []struct{ object, arg, want string }{
		{"route", "a", "add"}, {"route", "app", "append"}, {"route", "r", "replace"},
		{"route", "d", "delete"}, {"route", "del", "delete"}, {"route", "l", "show"},
		{"route", "ls", "show"}, {"route", "lst", "show"}, {"route", "s", "show"},
		{"route", "g", "get"}, {"route", "f", "flush"}, {"route", "chg", "change"}, {"route", "p", "prepend"},
		{"link", "s", "set"}, {"link", "sh", "show"}, {"link", "c", "set"}, {"link", "ls", "show"},
		{"rule", "s", "show"}, {"rule", "d", "delete"}, {"rule", "a", "add"},
		{"neighbour", "r", "replace"}, {"neighbour", "c", "change"}, {"neighbour", "f", "flush"},
		{"address", "a", "add"}, {"address", "l", "show"}, {"address", "f", "flush"},
	} {
		if got := find(commandWords[c.object], c.arg); got != c.want {
			t.Errorf("%s %q -> %q, want %q", c.object, c.arg, got, c.want)
		}
	}
}

// FuzzGrammar: any arguments give a request or an iproute2-style error,
// never a panic, and a request always names its object.
func FuzzGrammar(f *testing.F) {
	for _, c := range validCases {
		f.Add(c.object, c.command, c.args, c.family)
	}
	for _, c := range invalidCases {
		f.Add(c.object, c.command, c.args, c.family)
	}
	f.Fuzz(func(t *testing.T, object, command, args string, family int) {
		argv := strings.Split(args, " ")
		req, err := BuildRequest(object, command, argv, family%7)
		if err != nil {
			var ce *cliError
			if !errors.As(err, &ce) || ce.msg == "" || (ce.status != 1 && ce.status != 255) {
				t.Fatalf("error %#v", err)
			}
			return
		}
		if req == nil || req.Op == "" {
			t.Fatalf("no request and no error")
		}
		switch {
		case req.Route != nil && req.Route.Dst == "",
			req.Neigh != nil && (req.Neigh.Dst == "" || req.Neigh.Dev == ""),
			req.Addr != nil && (req.Addr.Prefix == "" || req.Addr.Dev == ""),
			req.Link != nil && req.Link.Name == "",
			req.RouteGet != nil && req.RouteGet.Dst == "":
			t.Fatalf("incomplete request %s", mustJSON(req))
		}
		if _, err := json.Marshal(req); err != nil {
			t.Fatal(err)
		}
	})
}
