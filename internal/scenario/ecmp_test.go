package scenario

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"flowpath/api"
)

// ecmpRouter builds
//
//	h1 — r1 [router] r2 — gw2 (10.2.0.2)
//	                 r3 — gw3 (10.3.0.2)
//
// with 10.9.0.0/24 and fd00:9::/64 split over both gateways.
func ecmpRouter(t *testing.T, hashL4 bool) (h *harness, h1, gw2, gw3 *host) {
	h = newHarness(t, hashL4)
	h.addLink("r1", "10.1.0.254/24", "fd00:1::254/64")
	h.addLink("r2", "10.2.0.254/24", "fd00:2::254/64")
	h.addLink("r3", "10.3.0.254/24", "fd00:3::254/64")
	h1 = h.host("r1", [6]byte{2, 0, 0, 0, 1, 1}, "10.1.0.1", "fd00:1::1").permanent()
	gw2 = h.host("r2", [6]byte{2, 0, 0, 0, 2, 2}, "10.2.0.2", "fd00:2::2").permanent()
	gw3 = h.host("r3", [6]byte{2, 0, 0, 0, 3, 2}, "10.3.0.2", "fd00:3::2").permanent()
	h.do(api.Request{Op: api.OpRouteAdd, Route: &api.Route{Dst: "10.9.0.0/24",
		Nexthops: []api.Nexthop{{Via: "10.2.0.2", Dev: "r2"}, {Via: "10.3.0.2", Dev: "r3"}}}})
	h.do(api.Request{Op: api.OpRouteAdd, Route: &api.Route{Dst: "fd00:9::/64",
		Nexthops: []api.Nexthop{{Via: "fd00:2::2", Dev: "r2"}, {Via: "fd00:3::2", Dev: "r3"}}}})
	return h, h1, gw2, gw3
}

// collect reads n frames from any of the hosts' ports and returns, for
// each, which host got it.
func collect(t *testing.T, n int, hosts ...*host) (frames []gopacket.Packet, at []*host) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for len(frames) < n {
		got := false
		for _, hs := range hosts {
			for _, f := range hs.port.TakeSent(0) {
				p := gopacket.NewPacket(f.Data, layers.LayerTypeEthernet, gopacket.Default)
				frames, at = append(frames, p), append(at, hs)
				got = true
			}
		}
		if len(frames) >= n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("collected %d frames, want %d", len(frames), n)
		}
		if !got {
			time.Sleep(200 * time.Microsecond)
		}
	}
	if len(frames) != n {
		t.Fatalf("collected %d frames, want %d", len(frames), n)
	}
	return frames, at
}

// sendFlows sends one UDP packet for each source port and returns the
// host each one left the router towards, by source port.
func sendFlows(t *testing.T, h1 *host, dst string, v6 bool, sports []uint16, gws ...*host) map[uint16]*host {
	t.Helper()
	for _, sp := range sports {
		if v6 {
			h1.inject(h1.udp6(dst, sp, 53, 64, []byte("flow")))
		} else {
			h1.inject(h1.udp4(dst, sp, 53, 64, true, []byte("flow")))
		}
	}
	frames, at := collect(t, len(sports), gws...)
	out := map[uint16]*host{}
	for i, p := range frames {
		checkSums(t, p.Data())
		eth := ethOf(p)
		if [6]byte(eth.DstMAC) != at[i].mac || [6]byte(eth.SrcMAC) != at[i].rmac {
			t.Fatalf("frame to %s has L2 %v -> %v", at[i].link, eth.SrcMAC, eth.DstMAC)
		}
		udp, ok := p.Layer(layers.LayerTypeUDP).(*layers.UDP)
		if !ok {
			t.Fatalf("want UDP, got %v", p)
		}
		if prev, dup := out[uint16(udp.SrcPort)]; dup && prev != at[i] {
			t.Fatalf("flow %d left by two links", udp.SrcPort)
		}
		out[uint16(udp.SrcPort)] = at[i]
	}
	return out
}

func ports(n int) []uint16 {
	out := make([]uint16, n)
	for i := range out {
		out[i] = uint16(20000 + 7*i)
	}
	return out
}

func share(m map[uint16]*host, hs *host) int {
	n := 0
	for _, v := range m {
		if v == hs {
			n++
		}
	}
	return n
}

func TestECMPL4Hash(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		name := map[bool]string{false: "ipv4", true: "ipv6"}[v6]
		t.Run(name, func(t *testing.T) {
			h, h1, gw2, gw3 := ecmpRouter(t, true)
			dst := "10.9.0.1"
			if v6 {
				dst = "fd00:9::1"
			}
			sp := ports(64)
			first := sendFlows(t, h1, dst, v6, sp, gw2, gw3)
			n2, n3 := share(first, gw2), share(first, gw3)
			if n2+n3 != 64 || n2 < 13 || n3 < 13 { // each at least 20%
				t.Fatalf("64 flows split %d/%d", n2, n3)
			}
			// Every flow keeps its path: the whole set again, then one
			// flow many times.
			again := sendFlows(t, h1, dst, v6, sp, gw2, gw3)
			for p, hs := range first {
				if again[p] != hs {
					t.Fatalf("flow %d moved from %s to %s", p, hs.link, again[p].link)
				}
			}
			one := make([]uint16, 20)
			for i := range one {
				one[i] = sp[5]
			}
			for p, hs := range sendFlows(t, h1, dst, v6, one, gw2, gw3) {
				if hs != first[p] {
					t.Fatalf("flow %d took %s, first took %s", p, hs.link, first[p].link)
				}
			}
			// route get names the leg and agrees with the packet path.
			g := h.do(api.Request{Op: api.OpRouteGet, RouteGet: &api.RouteGet{Dst: dst, From: map[bool]string{false: "10.1.0.1", true: "fd00:1::1"}[v6],
				Iif: "r1", IPProto: "udp", Sport: sp[5], Dport: 53}}).RouteGet
			if g.Dev != first[sp[5]].link {
				t.Fatalf("route get says %s, packets took %s (%v)", g.Dev, first[sp[5]].link, g.Explain)
			}
			gw2.quiet()
			gw3.quiet()
		})
	}
}

func TestECMPL3Hash(t *testing.T) {
	_, h1, gw2, gw3 := ecmpRouter(t, false)
	// One source/destination pair: one path, whatever the ports.
	m := sendFlows(t, h1, "10.9.0.1", false, ports(64), gw2, gw3)
	if n2, n3 := share(m, gw2), share(m, gw3); n2 != 64 && n3 != 64 {
		t.Fatalf("L3 hash split one address pair %d/%d", n2, n3)
	}
	m6 := sendFlows(t, h1, "fd00:9::1", true, ports(64), gw2, gw3)
	if n2, n3 := share(m6, gw2), share(m6, gw3); n2 != 64 && n3 != 64 {
		t.Fatalf("L3 hash split one IPv6 address pair %d/%d", n2, n3)
	}
	// Many destinations do spread.
	for i := 1; i <= 64; i++ {
		h1.inject(h1.udp4(netip.AddrFrom4([4]byte{10, 9, 0, byte(i)}).String(), 1, 53, 64, true, []byte("x")))
	}
	_, at := collect(t, 64, gw2, gw3)
	n2 := 0
	for _, hs := range at {
		if hs == gw2 {
			n2++
		}
	}
	if n2 < 13 || 64-n2 < 13 {
		t.Fatalf("64 destinations split %d/%d", n2, 64-n2)
	}
}

// TestECMPLegDown checks that taking one nexthop's link down moves every
// flow to the other leg.
func TestECMPLegDown(t *testing.T) {
	h, h1, gw2, gw3 := ecmpRouter(t, true)
	down := false
	h.do(api.Request{Op: api.OpLinkSet, Link: &api.Link{Name: "r3", Up: &down}})
	m := sendFlows(t, h1, "10.9.0.1", false, ports(32), gw2, gw3)
	if share(m, gw2) != 32 {
		t.Fatalf("with r3 down %d of 32 flows left by r2", share(m, gw2))
	}
}
