//go:build netns

package tests

import (
	"strings"
	"testing"
	"time"
)

// TestTshark: what flowpath puts on h2's wire, decoded by tshark. An echo
// request forwarded from h1 carries the router's MAC as source, h2's MAC
// as destination, TTL (hop limit) 63, and checksums tshark finds good.
func TestTshark(t *testing.T) {
	kinds(t, func(t *testing.T, kind string) {
		tp := newTopo(t, topoConfig{kind: kind})
		h1, h2 := tp.host("h1"), tp.host("h2")
		routerMAC := tp.link("h2").Address
		hostMAC := tp.hostMAC(h2)
		// Resolve the neighbours first so the capture holds just the two
		// echo requests.
		for _, a := range []string{h2.v4, h2.v6} {
			if out, ok := tp.ping(h1, "-c", "1", "-W", "2", a); !ok {
				t.Fatalf("ping %s:\n%s", a, out)
			}
		}

		c := tp.startCapture(tsharkSpec{ns: h2.ns, iface: "eth0", filter: "(icmp and icmp[0] == 8) or (icmp6 and ip6[40] == 128)",
			count: 2, limit: 15, settle: 500 * time.Millisecond,
			fields: []string{"eth.src", "eth.dst", "ip.src", "ip.ttl", "ipv6.src", "ipv6.hlim",
				"icmp.type", "icmpv6.type", "ip.checksum.status", "icmp.checksum.status", "icmpv6.checksum.status"}})
		for _, a := range []string{h2.v4, h2.v6} {
			if out, ok := tp.ping(h1, "-c", "1", "-W", "2", a); !ok {
				t.Errorf("ping %s:\n%s", a, out)
			}
		}

		var v4, v6 int
		for _, r := range c.rows() {
			// Every occurrence, as one string: a second IP header
			// would not match.
			f := func(name string) string { return strings.Join(r[name], ",") }
			if f("eth.src") != routerMAC || f("eth.dst") != hostMAC {
				t.Errorf("frame %s -> %s, want router %s -> host %s (%v)", f("eth.src"), f("eth.dst"), routerMAC, hostMAC, r)
			}
			switch {
			case f("icmp.type") == "8":
				v4++
				// Checksum status 1 is tshark's "Good".
				if f("ip.src") != h1.v4 || f("ip.ttl") != "63" || f("ip.checksum.status") != "1" || f("icmp.checksum.status") != "1" {
					t.Errorf("IPv4 echo: want src %s ttl 63, good checksums; got %v", h1.v4, r)
				}
			case f("icmpv6.type") == "128":
				v6++
				if f("ipv6.src") != h1.v6 || f("ipv6.hlim") != "63" || f("icmpv6.checksum.status") != "1" {
					t.Errorf("IPv6 echo: want src %s hop limit 63, good checksum; got %v", h1.v6, r)
				}
			default:
				t.Errorf("unexpected frame: %v", r)
			}
		}
		if v4 != 1 || v6 != 1 {
			t.Errorf("tshark saw %d IPv4 and %d IPv6 echo requests, want 1 each:\n%s", v4, v6, c.output())
		}
	}, bothKinds...)
}
