package main

import (
	"testing"

	"flowpath/api"
)

func TestFormatTunnelLinks(t *testing.T) {
	head := "7: vx0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1450 state UNKNOWN\n    link/ether 02:00:00:00:00:07 brd ff:ff:ff:ff:ff:ff\n"
	link := func(v *api.VXLAN, g *api.Geneve) api.Link {
		kind := "vxlan"
		if g != nil {
			kind = "geneve"
		}
		return api.Link{Name: "vx0", Index: 7, Kind: kind, MAC: "02:00:00:00:00:07", MTU: 1450, OperState: "UNKNOWN",
			Flags: []string{"BROADCAST", "MULTICAST", "UP", "LOWER_UP"}, VXLAN: v, Geneve: g}
	}
	cases := []struct {
		name string
		l    api.Link
		want string
	}{
		{"classic defaults", link(&api.VXLAN{VNI: 42, Remote: "10.0.0.2", Local: "10.0.0.1", Dev: "eth0"}, nil),
			"    vxlan id 42 remote 10.0.0.2 local 10.0.0.1 dev eth0 srcport 0 0 dstport 8472 ttl auto ageing 300 udpcsum noudp6zerocsumtx noudp6zerocsumrx \n"},
		{"external", link(&api.VXLAN{External: true, DstPort: 4789, SetDstPort: true}, nil),
			"    vxlan external id 0 srcport 0 0 dstport 4789 nolearning ttl auto ageing 300 udpcsum noudp6zerocsumtx noudp6zerocsumrx \n"},
		{"everything", link(&api.VXLAN{VNI: 7, Group: "239.1.1.1", Dev: "eth0", SrcPortMin: 1000, SrcPortMax: 2000,
			DstPort: 4789, Learning: boolp(false), TOS: 0x10, TTL: 64, Ageing: 60, MaxAddress: 100, UDPCsum: boolp(true), GBP: true}, nil),
			"    vxlan id 7 group 239.1.1.1 dev eth0 srcport 1000 2000 dstport 4789 nolearning tos 0x10 ttl 64 ageing 60 maxaddr 100 udpcsum noudp6zerocsumtx noudp6zerocsumrx gbp \n"},
		{"inherit", link(&api.VXLAN{VNI: 1, Remote: "2001:db8::2", TOS: 1, TTLInherit: true, Learning: boolp(true)}, nil),
			"    vxlan id 1 remote 2001:db8::2 srcport 0 0 dstport 8472 tos inherit ttl inherit ageing 300 udpcsum noudp6zerocsumtx noudp6zerocsumrx \n"},
		{"geneve", link(nil, &api.Geneve{VNI: 10, Remote: "10.0.0.2"}),
			"    geneve id 10 remote 10.0.0.2 ttl auto dstport 6081 noudpcsum udp6zerocsumtx udp6zerocsumrx \n"},
		{"geneve all", link(nil, &api.Geneve{VNI: 10, Remote: "10.0.0.2", TTL: 5, TOS: 0x20, Label: 7, DstPort: 7000, UDPCsum: true}),
			"    geneve id 10 remote 10.0.0.2 ttl 5 tos 0x20 flowlabel 0x7 dstport 7000 udpcsum noudp6zerocsumtx udp6zerocsumrx \n"},
		{"geneve external", link(nil, &api.Geneve{External: true, TTLInherit: true, TOS: 1}),
			"    geneve external id 0 ttl inherit tos inherit dstport 6081 noudpcsum udp6zerocsumtx udp6zerocsumrx \n"},
	}
	for _, c := range cases {
		if got := FormatLink(&c.l, 0, true); got != head+c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.name, got, head+c.want)
		}
		if got := FormatLink(&c.l, 0, false); got != head {
			t.Errorf("%s without -d: %q", c.name, got)
		}
	}
}

func TestFormatFDB(t *testing.T) {
	cases := []struct {
		e    api.FDB
		f    *api.Filter
		want string
	}{
		{api.FDB{MAC: "00:00:00:00:00:00", Dev: "vx0", Dst: "10.0.0.2", State: "permanent"}, nil,
			"00:00:00:00:00:00 dev vx0 dst 10.0.0.2 self permanent\n"},
		{api.FDB{MAC: "02:00:00:00:00:01", Dev: "vx0", Dst: "10.0.0.3", State: "dynamic", Learned: true}, nil,
			"02:00:00:00:00:01 dev vx0 dst 10.0.0.3 self \n"},
		{api.FDB{MAC: "02:00:00:00:00:01", Dev: "vx0", Dst: "10.0.0.3", Port: 4790, VNI: 0, SetVNI: true, Via: "eth0", State: "static"},
			&api.Filter{Dev: "vx0"}, "02:00:00:00:00:01 dst 10.0.0.3 port 4790 vni 0 via eth0 self static\n"},
		{api.FDB{MAC: "02:00:00:00:00:02", Dev: "vx0", Dst: "2001:db8::3"}, &api.Filter{},
			"02:00:00:00:00:02 dev vx0 dst 2001:db8::3 self permanent\n"},
	}
	for _, c := range cases {
		if got := FormatFDB(&c.e, c.f); got != c.want {
			t.Errorf("%+v:\n got %q\nwant %q", c.e, got, c.want)
		}
	}
}

func TestFormatRouteTunnels(t *testing.T) {
	main := &api.Filter{Family: 4}
	mpls := &api.Filter{Family: api.FamilyMPLS}
	cases := []struct {
		r    api.Route
		f    *api.Filter
		want string
	}{
		{api.Route{Dst: "10.2.0.0/24", Dev: "vx0", Scope: "link", Encap: &api.Encap{Type: "ip", ID: 10, Src: "0.0.0.0", Dst: "50.1.1.2"}},
			main, "10.2.0.0/24  encap ip id 10 src 0.0.0.0 dst 50.1.1.2 ttl 0 tos 0 dev vx0 scope link \n"},
		// Fields the daemon left out print as the kernel reports them: zero.
		{api.Route{Dst: "10.2.0.0/24", Dev: "vx0", Scope: "link", Encap: &api.Encap{Type: "ip", ID: 10, Dst: "50.1.1.2", TTL: 64, TOS: 16,
			Flags: []string{"csum", "key"}}},
			main, "10.2.0.0/24  encap ip id 10 src 0.0.0.0 dst 50.1.1.2 ttl 64 tos 16 key csum dev vx0 scope link \n"},
		{api.Route{Dst: "10.2.0.0/24", Dev: "vx0", Scope: "link", Encap: &api.Encap{Type: "ip", ID: 1, Dst: "50.1.1.2", GeneveOpts: "258:128:00112233"}},
			main, "10.2.0.0/24  encap ip id 1 src 0.0.0.0 dst 50.1.1.2 ttl 0 tos 0 \n\tgeneve_opts 258:128:00112233 dev vx0 scope link \n"},
		{api.Route{Dst: "10.2.0.0/24", Dev: "vx0", Scope: "link", Encap: &api.Encap{Type: "ip", ID: 1, Dst: "50.1.1.2", SetVXLANOpts: true, VXLANOpts: 0x800ff}},
			main, "10.2.0.0/24  encap ip id 1 src 0.0.0.0 dst 50.1.1.2 ttl 0 tos 0 \n\tvxlan_opts 524543 dev vx0 scope link \n"},
		{api.Route{Family: 6, Dst: "2001:db8:9::/64", Dev: "vx6", Metric: 1024, Encap: &api.Encap{Type: "ip6", ID: 7, Dst: "2001:db8::2", Flags: []string{"seq"}}},
			&api.Filter{Family: 6}, "2001:db8:9::/64  encap ip6 id 7 src :: dst 2001:db8::2 hoplimit 0 tc 0 seq dev vx6 metric 1024 \n"},
		{api.Route{Dst: "10.3.0.0/24", Via: "10.1.0.2", Dev: "eth0", Encap: &api.Encap{Type: "mpls", Labels: []uint32{200, 300}}},
			main, "10.3.0.0/24  encap mpls  200/300 via 10.1.0.2 dev eth0 \n"},
		{api.Route{Dst: "10.3.0.0/24", Via: "10.1.0.2", Dev: "eth0", Encap: &api.Encap{Type: "mpls", Labels: []uint32{200}, TTL: 10}},
			main, "10.3.0.0/24  encap mpls  200 ttl 10 via 10.1.0.2 dev eth0 \n"},
		{api.Route{Dst: "10.4.0.0/24", Nexthops: []api.Nexthop{
			{Via: "10.1.0.2", Dev: "a", Encap: &api.Encap{Type: "mpls", Labels: []uint32{200}}},
			{Dev: "vx0", Weight: 2, Encap: &api.Encap{Type: "ip", ID: 3, Src: "0.0.0.0", Dst: "10.9.9.9"}}}},
			main, "10.4.0.0/24 \n\tnexthop  encap mpls  200 via 10.1.0.2 dev a weight 1 \n\tnexthop  encap ip id 3 src 0.0.0.0 dst 10.9.9.9 ttl 0 tos 0 dev vx0 weight 2 \n"},
		{api.Route{Family: api.FamilyMPLS, Dst: "100", As: []uint32{200}, Via: "10.1.1.1", Dev: "swp1"},
			mpls, "100 as to 200 via inet 10.1.1.1 dev swp1 \n"},
		{api.Route{Family: api.FamilyMPLS, Dst: "101", As: []uint32{200, 300}, Via: "2001:db8::1", Dev: "swp1"},
			mpls, "101 as to 200/300 via inet6 2001:db8::1 dev swp1 \n"},
		{api.Route{Family: api.FamilyMPLS, Dst: "102", Via: "10.1.1.1", Dev: "swp1"},
			mpls, "102 via inet 10.1.1.1 dev swp1 \n"},
		{api.Route{Family: api.FamilyMPLS, Dst: "103", Nexthops: []api.Nexthop{
			{As: []uint32{200}, Via: "10.1.1.1", Dev: "a"}, {Via: "10.2.2.2", Dev: "b"}}},
			mpls, "103 \n\tnexthop as to 200 via inet 10.1.1.1 dev a \n\tnexthop via inet 10.2.2.2 dev b \n"},
	}
	for _, c := range cases {
		if got := FormatRoute(&c.r, c.f, false); got != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.r.Dst, got, c.want)
		}
	}
}

func TestFormatVLANLink(t *testing.T) {
	l := api.Link{Name: "eth0.100", Index: 9, Kind: "vlan", Link: "eth0", MAC: "02:00:00:00:00:09", MTU: 1500, OperState: "UP",
		Flags: []string{"BROADCAST", "MULTICAST", "UP", "LOWER_UP"}, VLAN: &api.VLAN{ID: 100, Protocol: "802.1Q"}}
	head := "9: eth0.100@eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 state UP\n    link/ether 02:00:00:00:00:09 brd ff:ff:ff:ff:ff:ff\n"
	if got := FormatLink(&l, 0, false); got != head {
		t.Errorf("without -d:\n got %q\nwant %q", got, head)
	}
	want := head + "    vlan protocol 802.1Q id 100 <REORDER_HDR> \n"
	if got := FormatLink(&l, 0, true); got != want {
		t.Errorf("with -d:\n got %q\nwant %q", got, want)
	}
}
