package main

import (
	"bytes"
	"strings"
	"testing"

	"flowpath/api"
)

// The expected texts are what ip (iproute2 6.1) printed for the same
// kernel state, trailing spaces included.

func TestFormatRoute(t *testing.T) {
	main := &api.Filter{Family: 4}
	all := &api.Filter{Table: api.TableAll}
	cases := []struct {
		r       api.Route
		f       *api.Filter
		details bool
		want    string
	}{
		{api.Route{Dst: "default", Via: "10.1.0.2", Dev: "d0", Metric: 100, Protocol: "boot", Scope: "global", Table: 254},
			main, false, "default via 10.1.0.2 dev d0 metric 100 \n"},
		{api.Route{Dst: "10.1.0.0/24", Dev: "d0", Protocol: "kernel", Scope: "link", Src: "10.1.0.1"},
			main, false, "10.1.0.0/24 dev d0 proto kernel scope link src 10.1.0.1 \n"},
		{api.Route{Dst: "10.3.1.0/24", Dev: "d0", Protocol: "42", Scope: "link"},
			main, false, "10.3.1.0/24 dev d0 proto babel scope link \n"},
		{api.Route{Dst: "10.3.2.1/32", Dev: "d0", Scope: "link"},
			main, false, "10.3.2.1 dev d0 scope link \n"},
		{api.Route{Dst: "10.4.0.0/24", Via: "10.1.0.2", Dev: "d0", Src: "10.1.0.1", MTU: 1400, MTULock: true},
			main, false, "10.4.0.0/24 via 10.1.0.2 dev d0 src 10.1.0.1 mtu lock 1400 \n"},
		{api.Route{Dst: "10.3.0.0/24", Via: "10.1.0.2", Dev: "d0", MTU: 1300, Onlink: true},
			main, false, "10.3.0.0/24 via 10.1.0.2 dev d0 onlink mtu 1300 \n"},
		{api.Route{Dst: "10.5.0.0/24", Protocol: "static", Nexthops: []api.Nexthop{
			{Via: "10.1.0.2", Dev: "d0", Weight: 1}, {Via: "10.2.0.2", Dev: "d1", Weight: 3, Onlink: true}}},
			main, false, "10.5.0.0/24 proto static \n\tnexthop via 10.1.0.2 dev d0 weight 1 \n\tnexthop via 10.2.0.2 dev d1 weight 3 onlink \n"},
		{api.Route{Dst: "10.11.0.0/16", Table: 55, Nexthops: []api.Nexthop{{Dev: "d0"}, {Dev: "d1", Flags: []string{"dead", "linkdown"}}}},
			&api.Filter{Table: 55}, false, "10.11.0.0/16 \n\tnexthop dev d0 weight 1 \n\tnexthop dev d1 weight 1 dead linkdown \n"},
		{api.Route{Type: "unreachable", Dst: "10.7.0.0/16", Metric: 5},
			main, false, "unreachable 10.7.0.0/16 metric 5 \n"},
		{api.Route{Type: "blackhole", Dst: "10.8.0.0/16"},
			main, false, "blackhole 10.8.0.0/16 \n"},
		{api.Route{Type: "throw", Dst: "10.5.0.0/16", Table: 100},
			all, false, "throw 10.5.0.0/16 table 100 \n"},
		{api.Route{Type: "throw", Dst: "10.5.0.0/16", Table: 100},
			&api.Filter{Table: 100}, false, "throw 10.5.0.0/16 \n"},
		{api.Route{Dst: "10.99.0.0/16", Dev: "d0", Table: 253, Scope: "link"},
			all, false, "10.99.0.0/16 dev d0 table default scope link \n"},
		{api.Route{Dst: "10.9.0.0/16", Via: "10.1.0.2", Dev: "d0", Table: 254},
			all, false, "10.9.0.0/16 via 10.1.0.2 dev d0 \n"},
		{api.Route{Type: "local", Dst: "10.1.0.1/32", Dev: "d0", Table: 255, Protocol: "kernel", Scope: "host", Src: "10.1.0.1"},
			all, false, "local 10.1.0.1 dev d0 table local proto kernel scope host src 10.1.0.1 \n"},
		{api.Route{Type: "broadcast", Dst: "10.1.0.255/32", Dev: "d0", Table: 255, Protocol: "kernel", Scope: "link", Src: "10.1.0.1"},
			&api.Filter{Table: 255}, false, "broadcast 10.1.0.255 dev d0 proto kernel scope link src 10.1.0.1 \n"},
		{api.Route{Family: 6, Dst: "2001:db8:1::/48", Via: "2001:db8::2", Dev: "d0", Metric: 1024},
			&api.Filter{Family: 6}, false, "2001:db8:1::/48 via 2001:db8::2 dev d0 metric 1024 \n"},
		{api.Route{Dst: "2001:db8::/64", Dev: "d0", Protocol: "kernel", Metric: 256},
			&api.Filter{Family: 6}, false, "2001:db8::/64 dev d0 proto kernel metric 256 \n"},
		{api.Route{Family: 6, Dst: "default", Dev: "d0"},
			&api.Filter{Family: 6}, false, "default dev d0 metric 0 \n"},
		{api.Route{Dst: "10.0.0.0/8", Via: "fe80::1", Dev: "d0"},
			main, false, "10.0.0.0/8 via inet6 fe80::1 dev d0 \n"},
		{api.Route{Dst: "10.0.0.0/8", Dev: "d1", Scope: "link"},
			&api.Filter{Family: 4, Dev: "d1"}, false, "10.0.0.0/8 scope link \n"},
		// ip -d
		{api.Route{Dst: "default", Via: "10.1.0.2", Dev: "d0", Metric: 100},
			main, true, "unicast default via 10.1.0.2 dev d0 proto boot scope global metric 100 \n"},
		{api.Route{Dst: "10.11.0.0/16", Table: 55, Nexthops: []api.Nexthop{{Dev: "d0"}}},
			&api.Filter{Table: 55}, true, "unicast 10.11.0.0/16 proto boot scope global \n\tnexthop dev d0 weight 1 \n"},
		{api.Route{Dst: "10.0.0.0/8", Dev: "d0", Table: 254},
			all, true, "unicast 10.0.0.0/8 dev d0 table main proto boot scope global \n"},
		{api.Route{Dst: "10.0.0.0/8", Dev: "d0", Flags: []string{"linkdown", "dead", "offload"}},
			main, false, "10.0.0.0/8 dev d0 dead linkdown offload \n"},
	}
	for _, c := range cases {
		if got := FormatRoute(&c.r, c.f, c.details); got != c.want {
			t.Errorf("route %s:\n got %q\nwant %q", mustJSON(c.r), got, c.want)
		}
	}
}

func TestFormatRouteGet(t *testing.T) {
	cases := []struct {
		q    api.RouteGet
		g    api.RouteGetResult
		want string
	}{
		{api.RouteGet{Dst: "10.9.1.1"}, api.RouteGetResult{Type: "unicast", Dst: "10.9.1.1", Via: "10.1.0.2", Dev: "d0", Src: "10.1.0.1", Table: 254},
			"10.9.1.1 via 10.1.0.2 dev d0 src 10.1.0.1 \n"},
		{api.RouteGet{Dst: "10.66.1.1"}, api.RouteGetResult{Type: "unicast", Dst: "10.66.1.1", Via: "10.1.0.2", Dev: "d0", Src: "10.1.0.1", Table: 100},
			"10.66.1.1 via 10.1.0.2 dev d0 table 100 src 10.1.0.1 \n"},
		{api.RouteGet{Dst: "10.1.0.1"}, api.RouteGetResult{Type: "local", Dst: "10.1.0.1", Dev: "lo", Src: "10.1.0.1", Table: 255},
			"local 10.1.0.1 dev lo src 10.1.0.1 \n"},
		{api.RouteGet{Dst: "10.5.0.9", From: "10.1.0.1", Iif: "d1"}, api.RouteGetResult{Type: "unicast", Dst: "10.5.0.9", Via: "10.1.0.2", Dev: "d0", Table: 254, Iif: "d1"},
			"10.5.0.9 from 10.1.0.1 via 10.1.0.2 dev d0 iif d1 \n"},
		{api.RouteGet{Dst: "10.9.1.1", Mark: 7}, api.RouteGetResult{Dst: "10.9.1.1", Via: "10.1.0.2", Dev: "d0", Src: "10.1.0.1", Mark: 7},
			"10.9.1.1 via 10.1.0.2 dev d0 src 10.1.0.1 mark 7 \n"},
		{api.RouteGet{Dst: "10.9.1.1", Mark: 255}, api.RouteGetResult{Dst: "10.9.1.1", Dev: "d0", Mark: 255, MTU: 1400, PathMTU: 1400,
			Explain: []string{"rule 0: lookup local: no match", "rule 32766: lookup main: 10.9.0.0/16 via 10.1.0.2 dev d0"}},
			"10.9.1.1 dev d0 mark 0xff mtu 1400 \n    path mtu 1400\n    rule 0: lookup local: no match\n    rule 32766: lookup main: 10.9.0.0/16 via 10.1.0.2 dev d0\n"},
		{api.RouteGet{Dst: "10.8.1.1"}, api.RouteGetResult{Type: "blackhole", Dst: "10.8.1.1", Table: 254},
			"blackhole 10.8.1.1 \n"},
		{api.RouteGet{Dst: "2001:db8:1::5"}, api.RouteGetResult{Dst: "2001:db8:1::5", Via: "2001:db8::2", Dev: "d0", Src: "2001:db8::1", Table: 254},
			"2001:db8:1::5 via 2001:db8::2 dev d0 src 2001:db8::1 \n"},
	}
	for _, c := range cases {
		if got := FormatRouteGet(&c.q, &c.g); got != c.want {
			t.Errorf("route get %s:\n got %q\nwant %q", mustJSON(c.g), got, c.want)
		}
	}
}

func TestFormatRule(t *testing.T) {
	cases := []struct {
		r    api.Rule
		want string
	}{
		{api.Rule{Priority: 0, Table: 255}, "0:\tfrom all lookup local\n"},
		{api.Rule{Priority: 32766, Action: "lookup", Table: 254}, "32766:\tfrom all lookup main\n"},
		{api.Rule{Priority: 32767, From: "all", Table: 253}, "32767:\tfrom all lookup default\n"},
		{api.Rule{Priority: 0, To: "10.0.0.0/8", Table: 7}, "0:\tfrom all to 10.0.0.0/8 lookup 7\n"},
		{api.Rule{Priority: 97, FwMark: 5, FwMask: 0xFFFFFFFF, Table: 254}, "97:\tfrom all fwmark 0x5 lookup main\n"},
		{api.Rule{Priority: 98, Iif: "nosuch", IifDetached: true, Action: "prohibit"}, "98:\tfrom all iif nosuch [detached] prohibit\n"},
		{api.Rule{Priority: 99, TunID: 42, Action: "unreachable"}, "99:\tfrom all tun_id 42 unreachable\n"},
		{api.Rule{Priority: 200, From: "10.1.0.0/24", FwMark: 16, FwMask: 255, Iif: "d0", Table: 200},
			"200:\tfrom 10.1.0.0/24 fwmark 0x10/0xff iif d0 lookup 200\n"},
		{api.Rule{Priority: 201, Not: true, From: "10.3.0.0/24", Oif: "d1", Action: "blackhole"},
			"201:\tnot from 10.3.0.0/24 oif d1 blackhole\n"},
		{api.Rule{Priority: 400, Not: true, From: "10.3.0.0/24", To: "10.4.0.0/16", FwMark: 3, Iif: "d0", Oif: "d1", OifDetached: true, TunID: 9, Table: 300},
			"400:\tnot from 10.3.0.0/24 to 10.4.0.0/16 fwmark 0x3 iif d0 oif d1 [detached] tun_id 9 lookup 300\n"},
		{api.Rule{Priority: 401, From: "10.1.2.3/32", FwMark: 17, Table: 255}, "401:\tfrom 10.1.2.3 fwmark 0x11 lookup local\n"},
		{api.Rule{Priority: 402, FwMark: 0, FwMask: 1, Table: 254}, "402:\tfrom all fwmark 0/0x1 lookup main\n"},
		{api.Rule{Family: 6, Priority: 32765, From: "2001:db8::/32", Table: 300}, "32765:\tfrom 2001:db8::/32 lookup 300\n"},
	}
	for _, c := range cases {
		if got := FormatRule(&c.r); got != c.want {
			t.Errorf("rule %s:\n got %q\nwant %q", mustJSON(c.r), got, c.want)
		}
	}
}

func TestFormatNeigh(t *testing.T) {
	cases := []struct {
		n    api.Neigh
		f    *api.Filter
		want string
	}{
		{api.Neigh{Dst: "10.1.0.10", Dev: "d0", LLAddr: "02:00:00:00:00:0a", State: "STALE"}, &api.Filter{},
			"10.1.0.10 dev d0 lladdr 02:00:00:00:00:0a STALE \n"},
		{api.Neigh{Dst: "10.1.0.11", Dev: "d0", State: "FAILED"}, nil, "10.1.0.11 dev d0 FAILED \n"},
		{api.Neigh{Dst: "2001:db8::9", Dev: "d0", LLAddr: "02:00:00:00:00:09", Router: true, State: "PERMANENT"}, nil,
			"2001:db8::9 dev d0 lladdr 02:00:00:00:00:09 router PERMANENT \n"},
		{api.Neigh{Dst: "10.1.0.9", Dev: "d0", LLAddr: "02:00:00:00:00:09", State: "REACHABLE"}, &api.Filter{Dev: "d0"},
			"10.1.0.9 lladdr 02:00:00:00:00:09 REACHABLE \n"},
	}
	for _, c := range cases {
		if got := FormatNeigh(&c.n, c.f); got != c.want {
			t.Errorf("neigh %s:\n got %q\nwant %q", mustJSON(c.n), got, c.want)
		}
	}
}

func TestFormatLink(t *testing.T) {
	up := true
	eth := api.Link{Name: "d0", Index: 3, Kind: "afpacket", IfName: "veth0", Queues: 2, MAC: "0a:ee:04:5b:0b:0e", MTU: 1500, Up: &up,
		OperState: "UP", Flags: []string{"BROADCAST", "MULTICAST", "UP", "LOWER_UP"},
		Stats: &api.LinkStats{RxBytes: 586, RxPackets: 7, TxBytes: 666, TxPackets: 7, TxDropped: 2,
			Drops: map[string]uint64{"no_route": 2, "bad_checksum": 1}}}
	lo := api.Link{Name: "lo", Index: 1, Kind: "loopback", MTU: 65536, OperState: "UNKNOWN", Flags: []string{"LOOPBACK", "UP", "LOWER_UP"}}
	down := api.Link{Name: "d1", Index: 5, MAC: "76:2f:21:d1:a7:b7", MTU: 1500, OperState: "DOWN", Flags: []string{"BROADCAST", "MULTICAST"}}
	cases := []struct {
		l       api.Link
		stats   int
		details bool
		want    string
	}{
		{eth, 0, false, "3: d0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 state UP\n    link/ether 0a:ee:04:5b:0b:0e brd ff:ff:ff:ff:ff:ff\n"},
		{lo, 0, false, "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 state UNKNOWN\n    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00\n"},
		{down, 0, false, "5: d1: <BROADCAST,MULTICAST> mtu 1500 state DOWN\n    link/ether 76:2f:21:d1:a7:b7 brd ff:ff:ff:ff:ff:ff\n"},
		{api.Link{Name: "x", Index: 9}, 0, false, "9: x: <> mtu 0 state UNKNOWN\n    link/none \n"},
		{eth, 1, true, "3: d0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 state UP\n" +
			"    link/ether 0a:ee:04:5b:0b:0e brd ff:ff:ff:ff:ff:ff\n" +
			"    afpacket ifname veth0 queues 2 \n" +
			"    RX:  bytes packets dropped\n" +
			"           586       7       0\n" +
			"    TX:  bytes packets dropped\n" +
			"           666       7       2\n" +
			"    drops: bad_checksum 1 no_route 2\n"},
	}
	tap := api.Link{Name: "t0", Index: 4, Kind: "tap", IfName: "fp-tap0", MAC: "02:00:00:00:00:04", MTU: 1500,
		OperState: "UP", Flags: []string{"BROADCAST", "MULTICAST", "UP", "LOWER_UP"},
		Offloads: []string{"rx-gso", "tx-tcp-segmentation", "tx-udp-segmentation", "tx-udp_tnl-segmentation"}}
	cases = append(cases, struct {
		l       api.Link
		stats   int
		details bool
		want    string
	}{tap, 0, true, "4: t0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 state UP\n" +
		"    link/ether 02:00:00:00:00:04 brd ff:ff:ff:ff:ff:ff\n" +
		"    tap ifname fp-tap0 \n" +
		"    offload rx-gso tx-tcp-segmentation tx-udp-segmentation tx-udp_tnl-segmentation \n"})
	for _, c := range cases {
		if got := FormatLink(&c.l, c.stats, c.details); got != c.want {
			t.Errorf("link %s:\n got %q\nwant %q", c.l.Name, got, c.want)
		}
	}
	// Wide counters widen their column, for both directions.
	big := api.LinkStats{RxBytes: 123456789012, RxPackets: 5, TxBytes: 1}
	want := "    RX:        bytes packets dropped\n" +
		"        123456789012       5       0\n" +
		"    TX:        bytes packets dropped\n" +
		"                   1       0       0\n"
	if got := formatLinkStats(&big); got != want {
		t.Errorf("wide stats:\n got %q\nwant %q", got, want)
	}
}

func TestFormatAddrs(t *testing.T) {
	links := []api.Link{
		{Name: "lo", Index: 1, Kind: "loopback", MTU: 65536, OperState: "UNKNOWN", Flags: []string{"LOOPBACK", "UP", "LOWER_UP"}},
		{Name: "d0", Index: 3, MAC: "0a:ee:04:5b:0b:0e", MTU: 1500, OperState: "UP", Flags: []string{"BROADCAST", "MULTICAST", "UP", "LOWER_UP"}},
		{Name: "d1", Index: 5, MAC: "76:2f:21:d1:a7:b7", MTU: 1500, OperState: "UP", Flags: []string{"UP"}},
	}
	addrs := []api.Addr{
		{Dev: "lo", Prefix: "127.0.0.1/8", Family: 4, Scope: "host"},
		{Dev: "d0", Prefix: "2001:db8::1/64", Family: 6, Scope: "global"}, // IPv6 first: printed after IPv4
		{Dev: "d0", Prefix: "10.1.0.1/24", Family: 4, Broadcast: "10.1.0.255"},
		{Dev: "gone", Prefix: "10.9.9.9/24"},
	}
	lo := "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 state UNKNOWN\n    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00\n" +
		"    inet 127.0.0.1/8 scope host lo\n       valid_lft forever preferred_lft forever\n"
	d0 := "3: d0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 state UP\n    link/ether 0a:ee:04:5b:0b:0e brd ff:ff:ff:ff:ff:ff\n" +
		"    inet 10.1.0.1/24 brd 10.1.0.255 scope global d0\n       valid_lft forever preferred_lft forever\n" +
		"    inet6 2001:db8::1/64 scope global \n       valid_lft forever preferred_lft forever\n"
	d1 := "5: d1: <UP> mtu 1500 state UP\n    link/ether 76:2f:21:d1:a7:b7 brd ff:ff:ff:ff:ff:ff\n"
	gone := "?: gone:\n    inet 10.9.9.9/24 scope global gone\n       valid_lft forever preferred_lft forever\n"
	if got, want := FormatAddrs(links, addrs, &api.Filter{}), lo+d0+d1+gone; got != want {
		t.Errorf("addr show:\n got %q\nwant %q", got, want)
	}
	// -6: only links with (IPv6) addresses; the daemon did the filtering.
	d0v6 := "3: d0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 state UP\n" +
		"    inet6 2001:db8::1/64 scope global \n       valid_lft forever preferred_lft forever\n"
	if got := FormatAddrs(links, addrs[1:2], &api.Filter{Family: 6}); got != d0v6 {
		t.Errorf("addr show -6:\n got %q\nwant %q", got, d0v6)
	}
	if got := FormatAddrs(links, nil, &api.Filter{Dev: "d1"}); got != d1 {
		t.Errorf("addr show dev d1:\n got %q\nwant %q", got, d1)
	}
}

func TestFormatStats(t *testing.T) {
	s := &api.Stats{
		Links: []api.LinkStatsEntry{
			{Name: "eth0", LinkStats: api.LinkStats{RxPackets: 10, RxBytes: 1000, TxPackets: 9, TxBytes: 900, TxDropped: 1}},
			{Name: "veth-long", LinkStats: api.LinkStats{RxPackets: 1}},
		},
		Drops: map[string]uint64{"ttl_exceeded": 1, "no_route": 3},
		Workers: []api.WorkerStats{{ID: 0, Port: "eth0", Queue: 0, Packets: 19, Batches: 4, PoolInUse: 12, PoolSize: 4096, CPU: -1},
			{ID: 1, Port: "eth1", Queue: 0, Packets: 7, Batches: 2, PoolInUse: 0, PoolSize: 4096, CPU: 1, CPUMoves: 3}},
		Neigh:      map[string]uint64{"resolved": 2},
		Generation: 42,
	}
	want := `DEVICE     RX-PACKETS  RX-BYTES  RX-DROPPED  TX-PACKETS  TX-BYTES  TX-DROPPED
eth0       10          1000      0           9           900       1
veth-long  1           0         0           0           0         0

DROP REASON   PACKETS
no_route      3
ttl_exceeded  1

WORKER  PORT  QUEUE  PACKETS  BATCHES  POOL-IN-USE  POOL-SIZE  POOL-EXHAUSTED  PENDING  CPU  CPU-MOVES
0       eth0  0      19       4        12           4096       0               0        -    0
1       eth1  0      7        2        0            4096       0               0        1    3

NEIGHBOUR  COUNT
resolved   2

generation 42
`
	if got := FormatStats(s); got != want {
		t.Errorf("stats:\n got:\n%s\nwant:\n%s", got, want)
	}
	if got := FormatStats(&api.Stats{}); got != "DEVICE  RX-PACKETS  RX-BYTES  RX-DROPPED  TX-PACKETS  TX-BYTES  TX-DROPPED\n\ngeneration 0\n" {
		t.Errorf("empty stats: %q", got)
	}
}

func TestWriteJSON(t *testing.T) {
	var b bytes.Buffer
	if err := writeJSON(&b, nonNil([]api.Route(nil)), false); err != nil || b.String() != "[]\n" {
		t.Fatalf("empty: %q %v", b.String(), err)
	}
	b.Reset()
	writeJSON(&b, []api.Rule{{Priority: 5, Table: 254}}, true)
	if !strings.Contains(b.String(), "\n        \"priority\": 5,\n") {
		t.Fatalf("pretty: %q", b.String())
	}
}

func TestShowPrefix(t *testing.T) {
	for in, want := range map[string]string{
		"": "default", "default": "default", "10.0.0.1/32": "10.0.0.1", "10.0.0.0/8": "10.0.0.0/8",
		"2001:db8::1/128": "2001:db8::1", "::/0": "::/0", "junk": "junk",
	} {
		if got := showPrefix(in); got != want {
			t.Errorf("showPrefix(%q) = %q, want %q", in, got, want)
		}
	}
}
