package main

import "flowpath/api"

// Tunnel commands: they join validCases and invalidCases (init in
// grammar_test.go), so TestBuildRequestValid/Invalid check them and
// FuzzGrammar seeds from them.

var tunnelValidCases = []grammarCase{
	// ---- vxlan ----
	{"link", "add", 0, "vx0 type vxlan id 42 remote 10.0.0.2 local 10.0.0.1 dev eth0 dstport 4789",
		&api.Request{Op: api.OpLinkAdd, Link: &api.Link{Name: "vx0", Kind: "vxlan", VXLAN: &api.VXLAN{VNI: 42,
			Remote: "10.0.0.2", Local: "10.0.0.1", Dev: "eth0", DstPort: 4789, SetDstPort: true}}}},
	{"link", "add", 0, "vx0 type vxlan external dstport 0",
		&api.Request{Op: api.OpLinkAdd, Link: &api.Link{Name: "vx0", Kind: "vxlan", VXLAN: &api.VXLAN{External: true, SetDstPort: true}}}},
	{"link", "add", 0, "vx0 type vxlan vni 0x10 group 239.1.1.1 dev eth0 srcport 1000 2000 ttl 64 tos 0x10 nolearning udpcsum gbp ageing 60 maxaddress 100 nolocalbypass",
		&api.Request{Op: api.OpLinkAdd, Link: &api.Link{Name: "vx0", Kind: "vxlan", VXLAN: &api.VXLAN{VNI: 16,
			Group: "239.1.1.1", Dev: "eth0", SrcPortMin: 1000, SrcPortMax: 2000, TTL: 64, TOS: 0x10,
			Learning: boolp(false), UDPCsum: boolp(true), GBP: true, Ageing: 60, MaxAddress: 100, LocalBypass: boolp(false)}}}},
	// Abbreviations are iproute2's: "i" id, "r" remote, "t" ttl, "to" tos, "le" learning.
	{"link", "add", 0, "vx1 type vxlan i 7 r 2001:db8::2 l 2001:db8::1 t inherit to inherit le noudpcsum localbypass maxaddress unlimited",
		&api.Request{Op: api.OpLinkAdd, Link: &api.Link{Name: "vx1", Kind: "vxlan", VXLAN: &api.VXLAN{VNI: 7,
			Remote: "2001:db8::2", Local: "2001:db8::1", TTLInherit: true, TOS: 1, Learning: boolp(true), UDPCsum: boolp(false), LocalBypass: boolp(true)}}}},
	{"link", "add", 0, "vx2 type vxlan id 1 ttl auto",
		&api.Request{Op: api.OpLinkAdd, Link: &api.Link{Name: "vx2", Kind: "vxlan", VXLAN: &api.VXLAN{VNI: 1}}}},
	// ---- geneve ----
	{"link", "add", 0, "gn0 type geneve id 10 remote 10.0.0.2 dstport 6081 ttl 5 tos 0x20 flowlabel 7 udpcsum",
		&api.Request{Op: api.OpLinkAdd, Link: &api.Link{Name: "gn0", Kind: "geneve", Geneve: &api.Geneve{VNI: 10,
			Remote: "10.0.0.2", DstPort: 6081, TTL: 5, TOS: 0x20, Label: 7, UDPCsum: true}}}},
	{"link", "add", 0, "gn1 type geneve external ttl inherit tos inherit",
		&api.Request{Op: api.OpLinkAdd, Link: &api.Link{Name: "gn1", Kind: "geneve", Geneve: &api.Geneve{External: true, TTLInherit: true, TOS: 1}}}},
	// ---- fdb ----
	{"fdb", "add", 0, "00:00:00:00:00:00 dev vx0 dst 10.0.0.2",
		&api.Request{Op: api.OpFDBAdd, FDB: &api.FDB{MAC: "00:00:00:00:00:00", Dev: "vx0", Dst: "10.0.0.2", State: "permanent"}}},
	{"fdb", "append", 0, "to 2:0:0:0:0:1 dev vx0 dst 10.0.0.3 port 4790 vni 0x100 via eth0 self static",
		&api.Request{Op: api.OpFDBAppend, FDB: &api.FDB{MAC: "02:00:00:00:00:01", Dev: "vx0", Dst: "10.0.0.3", Port: 4790,
			VNI: 256, SetVNI: true, Via: "eth0", State: "static"}}},
	{"fdb", "replace", 0, "02:00:00:00:00:01 dev vx0 dst 2001:db8::3 dynamic",
		&api.Request{Op: api.OpFDBReplace, FDB: &api.FDB{MAC: "02:00:00:00:00:01", Dev: "vx0", Dst: "2001:db8::3", State: "dynamic"}}},
	{"fdb", "delete", 0, "02:00:00:00:00:01 dev vx0 dst 10.0.0.3",
		&api.Request{Op: api.OpFDBDel, FDB: &api.FDB{MAC: "02:00:00:00:00:01", Dev: "vx0", Dst: "10.0.0.3"}}},
	{"fdb", "delete", 0, "02:00:00:00:00:01 dev vx0 vni 0",
		&api.Request{Op: api.OpFDBDel, FDB: &api.FDB{MAC: "02:00:00:00:00:01", Dev: "vx0", SetVNI: true}}},
	{"fdb", "show", 0, "", &api.Request{Op: api.OpFDBShow, Filter: &api.Filter{}}},
	{"fdb", "show", 0, "dev vx0", &api.Request{Op: api.OpFDBShow, Filter: &api.Filter{Dev: "vx0"}}},
	{"fdb", "show", 0, "brport vx0", &api.Request{Op: api.OpFDBShow, Filter: &api.Filter{Dev: "vx0"}}},
	// ---- encap ----
	{"route", "add", 0, "10.2.0.0/24 encap ip id 10 dst 50.1.1.2 dev vx0",
		&api.Request{Op: api.OpRouteAdd, Route: &api.Route{Family: 4, Type: "unicast", Dst: "10.2.0.0/24", Table: 254,
			Dev: "vx0", Protocol: "boot", Scope: "link", Encap: &api.Encap{Type: "ip", ID: 10, Dst: "50.1.1.2"}}}},
	{"route", "add", 0, "10.2.0.0/24 encap ip id 0x10 src 10.0.0.1 dst 50.1.1.2 ttl 64 tos 10 key csum seq geneve_opts 0x102:0x80:00112233,1:2:aabbccdd dev vx0",
		&api.Request{Op: api.OpRouteAdd, Route: &api.Route{Family: 4, Type: "unicast", Dst: "10.2.0.0/24", Table: 254,
			Dev: "vx0", Protocol: "boot", Scope: "link", Encap: &api.Encap{Type: "ip", ID: 16, Src: "10.0.0.1", Dst: "50.1.1.2",
				TTL: 64, TOS: 0x10, Flags: []string{"key", "csum", "seq"}, GeneveOpts: "0x102:0x80:00112233,1:2:aabbccdd"}}}},
	{"route", "replace", 0, "10.2.0.0/24 dev vx0 encap ip id 5 dst 50.1.1.2 vxlan_opts 0x800ff",
		&api.Request{Op: api.OpRouteReplace, Route: &api.Route{Family: 4, Type: "unicast", Dst: "10.2.0.0/24", Table: 254,
			Dev: "vx0", Protocol: "boot", Scope: "link", Encap: &api.Encap{Type: "ip", ID: 5, Dst: "50.1.1.2", VXLANOpts: 0x800ff, SetVXLANOpts: true}}}},
	{"route", "add", 0, "2001:db8:9::/64 encap ip6 id 7 src 2001:db8::1 dst 2001:db8::2 hoplimit 9 tc 0x20 csum dev vx6",
		&api.Request{Op: api.OpRouteAdd, Route: &api.Route{Family: 6, Type: "unicast", Dst: "2001:db8:9::/64", Table: 254,
			Dev: "vx6", Protocol: "boot", Scope: "global", Encap: &api.Encap{Type: "ip6", ID: 7, Src: "2001:db8::1", Dst: "2001:db8::2",
				TTL: 9, TOS: 0x20, Flags: []string{"csum"}}}}},
	// The encapsulation ends at the first word that is not its own.
	{"route", "add", 0, "10.3.0.0/24 encap mpls 200/300 ttl 10 via 10.1.0.2 dev eth0",
		&api.Request{Op: api.OpRouteAdd, Route: &api.Route{Family: 4, Type: "unicast", Dst: "10.3.0.0/24", Table: 254,
			Via: "10.1.0.2", Dev: "eth0", Protocol: "boot", Scope: "global", Encap: &api.Encap{Type: "mpls", Labels: []uint32{200, 300}, TTL: 10}}}},
	{"route", "add", 0, "10.3.0.0/24 dev eth0 encap mpls 100",
		&api.Request{Op: api.OpRouteAdd, Route: &api.Route{Family: 4, Type: "unicast", Dst: "10.3.0.0/24", Table: 254,
			Dev: "eth0", Protocol: "boot", Scope: "link", Encap: &api.Encap{Type: "mpls", Labels: []uint32{100}}}}},
	{"route", "append", 0, "10.4.0.0/24 nexthop encap mpls 200 via 10.1.0.2 dev a nexthop encap ip id 3 dst 10.9.9.9 dev vx0 weight 2",
		&api.Request{Op: api.OpRouteAppend, Route: &api.Route{Family: 4, Type: "unicast", Dst: "10.4.0.0/24", Table: 254,
			Protocol: "boot", Scope: "global", Nexthops: []api.Nexthop{
				{Via: "10.1.0.2", Dev: "a", Encap: &api.Encap{Type: "mpls", Labels: []uint32{200}}},
				{Dev: "vx0", Weight: 2, Encap: &api.Encap{Type: "ip", ID: 3, Dst: "10.9.9.9"}}}}}},
	{"route", "delete", 0, "10.3.0.0/24 encap mpls 100",
		&api.Request{Op: api.OpRouteDel, Route: &api.Route{Family: 4, Dst: "10.3.0.0/24", Table: 254,
			Encap: &api.Encap{Type: "mpls", Labels: []uint32{100}}}}},
	// ---- MPLS label routes ----
	{"route", "add", api.FamilyMPLS, "100 as 200 via inet 10.1.1.1 dev swp1",
		&api.Request{Op: api.OpRouteAdd, Route: &api.Route{Family: api.FamilyMPLS, Dst: "100", As: []uint32{200}, Via: "10.1.1.1", Dev: "swp1"}}},
	{"route", "add", api.FamilyMPLS, "to 0x65 as to 200/300 via inet6 2001:db8::1 dev swp1",
		&api.Request{Op: api.OpRouteAdd, Route: &api.Route{Family: api.FamilyMPLS, Dst: "101", As: []uint32{200, 300}, Via: "2001:db8::1", Dev: "swp1"}}},
	{"route", "add", api.FamilyMPLS, "102 via inet 10.1.1.1 dev swp1",
		&api.Request{Op: api.OpRouteAdd, Route: &api.Route{Family: api.FamilyMPLS, Dst: "102", Via: "10.1.1.1", Dev: "swp1"}}},
	{"route", "replace", api.FamilyMPLS, "103 nexthop as 200 via inet 10.1.1.1 dev a nexthop via inet 10.2.2.2 dev b",
		&api.Request{Op: api.OpRouteReplace, Route: &api.Route{Family: api.FamilyMPLS, Dst: "103", Nexthops: []api.Nexthop{
			{As: []uint32{200}, Via: "10.1.1.1", Dev: "a"}, {Via: "10.2.2.2", Dev: "b"}}}}},
	{"route", "delete", api.FamilyMPLS, "100",
		&api.Request{Op: api.OpRouteDel, Route: &api.Route{Family: api.FamilyMPLS, Dst: "100"}}},
	{"route", "show", api.FamilyMPLS, "", &api.Request{Op: api.OpRouteShow, Filter: &api.Filter{Family: api.FamilyMPLS}}},
	{"route", "show", api.FamilyMPLS, "dev swp1", &api.Request{Op: api.OpRouteShow, Filter: &api.Filter{Family: api.FamilyMPLS, Dev: "swp1"}}},
}

var tunnelInvalidCases = []struct {
	object, command string
	family          int
	args            string
	msg             string
	status          int
}{
	{"link", "add", 0, "vx0 type vxlan remote 10.0.0.2", "vxlan: missing virtual network identifier", 1},
	{"link", "add", 0, "vx0 type vxlan external id 5", "vxlan: both 'external' and vni cannot be specified", 1},
	{"link", "add", 0, "vx0 type vxlan id 5 group 239.1.1.1", "vxlan: 'group' requires 'dev' to be specified", 1},
	{"link", "add", 0, "vx0 type vxlan id 5 group 239.1.1.1 remote 10.0.0.2", "vxlan: both group and remote cannot be specified", 1},
	{"link", "add", 0, "vx0 type vxlan id 5 remote 10.0.0.2 group 239.1.1.1", "vxlan: both group and remote cannot be specified", 1},
	{"link", "add", 0, "vx0 type vxlan id 5 x", `vxlan: unknown command "x"?`, 1},
	{"link", "add", 0, "vx0 type vxlan id 16777216", `Error: argument "16777216" is wrong: invalid id`, 255},
	{"link", "add", 0, "vx0 type vxlan id 5 id 6", `Error: either "id" is duplicate, or "6" is a garbage.`, 255},
	{"link", "add", 0, "vx0 type vxlan id 5 ttl 256", `Error: argument "256" is wrong: TTL must be <= 255`, 255},
	{"link", "add", 0, "vx0 type vxlan id 5 ttl x", `Error: argument "x" is wrong: invalid TTL`, 255},
	{"link", "add", 0, "vx0 type vxlan id 5 tos zz", `Error: argument "zz" is wrong: bad TOS value`, 255},
	{"link", "add", 0, "vx0 type vxlan id 5 remote 239.1.1.1", `Error: argument "239.1.1.1" is wrong: invalid remote address`, 255},
	{"link", "add", 0, "vx0 type vxlan id 5 group 10.0.0.1 dev eth0", `Error: argument "10.0.0.1" is wrong: invalid group address`, 255},
	{"link", "add", 0, "vx0 type vxlan id 5 local 10.0.0.1 remote 2001:db8::1", `Error: inet address is expected rather than "2001:db8::1".`, 1},
	{"link", "add", 0, "vx0 type vxlan id 5 srcport 1000 dstport 4789", `Error: argument "dstport" is wrong: max port`, 255},
	{"link", "add", 0, "vx0 type vxlan id 5 srcport 1000", `Command line is not complete. Try option "help"`, 255},
	{"link", "add", 0, "vx0 type vxlan id 5 dstport 65536", `Error: argument "65536" is wrong: dst port`, 255},
	{"link", "add", 0, "vx0 type vxlan id 5 ageing none", `Error: "ageing none" is not supported by flowpath.`, 255},
	{"link", "add", 0, "vx0 type vxlan id 5 proxy", `Error: "proxy" is not supported by flowpath.`, 255},
	{"link", "add", 0, "vx0 type geneve id 5 external", "geneve: both 'external' and vni cannot be specified", 1},
	{"link", "add", 0, "vx0 type geneve remote 10.0.0.2", "geneve: missing virtual network identifier", 1},
	{"link", "add", 0, "vx0 type geneve id 5", "geneve: remote link partner not specified", 1},
	{"link", "add", 0, "vx0 type geneve id 5 remote 10.0.0.2 foo", `geneve: unknown command "foo"?`, 1},
	{"link", "add", 0, "vx0 type geneve id 5 remote 10.0.0.2 ttl 300", `Error: argument "300" is wrong: TTL must be <= 255`, 255},

	{"fdb", "add", 0, "00:00:00:00:00:00 dst 10.0.0.2", "Device and address are required arguments.", 255},
	{"fdb", "add", 0, "dev vx0 dst 10.0.0.2", "Device and address are required arguments.", 255},
	{"fdb", "add", 0, "zz dev vx0", "Invalid mac address zz", 255},
	{"fdb", "add", 0, "00:00:00:00:00:00 00:00:00:00:00:01 dev vx0", `Error: either "to" is duplicate, or "00:00:00:00:00:01" is a garbage.`, 255},
	{"fdb", "add", 0, "00:00:00:00:00:00 dev vx0 dst foo", `Error: any valid address is expected rather than "foo".`, 1},
	{"fdb", "add", 0, "00:00:00:00:00:00 dev vx0 dst 10.0.0.2 dst 10.0.0.3", `Error: either "dst" is duplicate, or "10.0.0.3" is a garbage.`, 255},
	{"fdb", "add", 0, "00:00:00:00:00:00 dev vx0 vni 16777216", `Error: argument "16777216" is wrong: invalid VNI`, 255},
	{"fdb", "add", 0, "00:00:00:00:00:00 dev vx0 port x", `Error: argument "x" is wrong: invalid port`, 255},
	{"fdb", "add", 0, "00:00:00:00:00:00 dev vx0 master", `Error: "master" is not supported by flowpath.`, 255},
	{"fdb", "show", 0, "vlan 5", `Error: "vlan" is not supported by flowpath.`, 255},
	{"fdb", "frob", 0, "", `Command "frob" is unknown, try "fpctl fdb help".`, 255},

	{"route", "add", 0, "10.0.0.0/8 dev d0 encap foo", `Error: argument "foo" is wrong: "encap type" value is invalid`, 255},
	{"route", "add", 0, "10.0.0.0/8 dev d0 encap mpls", `Command line is not complete. Try option "help"`, 255},
	{"route", "add", 0, "10.0.0.0/8 dev d0 encap mpls 1048576", `Error: an inet address is expected rather than "1048576".`, 1},
	{"route", "add", 0, "10.0.0.0/8 dev d0 encap mpls 100 ttl x", `Error: argument "x" is wrong: "ttl" value is invalid`, 255},
	{"route", "add", 0, "10.0.0.0/8 dev d0 encap ip id x", `Error: argument "x" is wrong: "id" value is invalid`, 255},
	{"route", "add", 0, "10.0.0.0/8 dev d0 encap ip id 1 id 2", `Error: either "id" is duplicate, or "2" is a garbage.`, 255},
	{"route", "add", 0, "10.0.0.0/8 dev d0 encap ip dst 2001:db8::1", `Error: inet address is expected rather than "2001:db8::1".`, 1},
	{"route", "add", 0, "10.0.0.0/8 dev d0 encap ip6 dst 10.0.0.1", `Error: inet6 address is expected rather than "10.0.0.1".`, 1},
	{"route", "add", 0, "10.0.0.0/8 dev d0 encap ip key key", `Error: either "key" is duplicate, or "key" is a garbage.`, 255},
	{"route", "add", 0, "10.0.0.0/8 dev d0 encap ip geneve_opts 1:2:3:4", `Error: argument "1:2:3:4" is wrong: "geneve_opts" value is invalid`, 255},
	{"route", "add", 0, "10.0.0.0/8 dev d0 encap ip geneve_opts 1:2:abc", `Error: argument "1:2:abc" is wrong: "geneve_opts" value is invalid`, 255},
	{"route", "add", 0, "10.0.0.0/8 dev d0 encap ip geneve_opts 1:2:00 vxlan_opts 5", `Error: either "opts" is duplicate, or "vxlan_opts" is a garbage.`, 255},
	{"route", "add", 0, "10.0.0.0/8 dev d0 encap ip vxlan_opts x", `Error: argument "x" is wrong: "vxlan_opts" value is invalid`, 255},
	{"route", "add", 0, "10.0.0.0/8 dev d0 encap ip tos zz", `Error: argument "zz" is wrong: "tos" value is invalid`, 255},
	// ttl belongs to encap ip, not to ip6 (hoplimit there): it is left to the route, which does not know it.
	{"route", "add", 6, "2001:db8::/64 dev d0 encap ip6 ttl 5", `Error: either "to" is duplicate, or "ttl" is a garbage.`, 255},
	{"route", "add", 0, "10.0.0.0/8 as 100 dev d0", `Error: "as" is not supported by flowpath.`, 255},
	{"route", "add", 0, "10.0.0.0/8 nexthop as 100 dev d0", `Error: "as" is not supported by flowpath.`, 255},

	{"route", "add", api.FamilyMPLS, "100 via 10.1.1.1 dev swp1", `Error: mpls address is expected rather than "10.1.1.1".`, 1},
	{"route", "add", api.FamilyMPLS, "10.0.0.0/8 dev swp1", `Error: mpls prefix is expected rather than "10.0.0.0/8".`, 1},
	{"route", "add", api.FamilyMPLS, "100/200 dev swp1", `Error: mpls prefix is expected rather than "100/200".`, 1},
	{"route", "add", api.FamilyMPLS, "100 as 1048576 dev swp1", `Error: mpls address is expected rather than "1048576".`, 1},
	{"route", "add", api.FamilyMPLS, "100 101 dev swp1", `Error: either "to" is duplicate, or "101" is a garbage.`, 255},
	{"route", "add", api.FamilyMPLS, "100 dev swp1 metric 5", `Error: "metric" is not supported by flowpath.`, 255},
	{"route", "add", api.FamilyMPLS, "dev swp1", usage["route"], 255},
	{"route", "show", api.FamilyMPLS, "table 5", `Error: "table" is not supported by flowpath.`, 255},
}
