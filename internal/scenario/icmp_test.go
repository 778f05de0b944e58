package scenario

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"sort"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/ip4defrag"
	"github.com/google/gopacket/layers"

	"flowpath/api"
)

// icmpErr is an ICMP or ICMPv6 error as it arrived at a host.
type icmpErr struct {
	src, dst   netip.Addr
	typ, code  uint8
	info       uint32 // bytes 4..8: next-hop MTU, MTU, pointer or unused
	quote      []byte // the offending packet as quoted
	ttlOrHop   uint8
	ipTotalLen int
}

// recvICMPError receives the next frame at hs, checks it is an ICMP(v6)
// error addressed to hs from the router's MAC with valid checksums, and
// returns its fields.
func (hs *host) recvICMPError(v6 bool) icmpErr {
	t := hs.h.t
	t.Helper()
	p := hs.recv()
	checkSums(t, p.Data())
	eth := ethOf(p)
	if [6]byte(eth.DstMAC) != hs.mac || [6]byte(eth.SrcMAC) != hs.rmac {
		t.Fatalf("ICMP error L2 %v -> %v, want %v -> %v", eth.SrcMAC, eth.DstMAC, hs.rmac, hs.mac)
	}
	var e icmpErr
	var msg []byte
	if v6 {
		ip := ip6Of(t, p)
		if ip.NextHeader != layers.IPProtocolICMPv6 {
			t.Fatalf("want ICMPv6, got %v", p)
		}
		e.src, e.dst, e.ttlOrHop, msg = addrOf(ip.SrcIP), addrOf(ip.DstIP), ip.HopLimit, ip.Payload
		e.ipTotalLen = 40 + int(ip.Length)
	} else {
		ip := ip4Of(t, p)
		if ip.Protocol != layers.IPProtocolICMPv4 {
			t.Fatalf("want ICMP, got %v", p)
		}
		e.src, e.dst, e.ttlOrHop, msg = addrOf(ip.SrcIP), addrOf(ip.DstIP), ip.TTL, ip.Payload
		e.ipTotalLen = int(ip.Length)
	}
	if len(msg) < 8 {
		t.Fatalf("short ICMP message % x", msg)
	}
	e.typ, e.code, e.info, e.quote = msg[0], msg[1], binary.BigEndian.Uint32(msg[4:]), msg[8:]
	if e.dst != hs.ip4 && e.dst != hs.ip6 {
		t.Fatalf("ICMP error to %s, want this host", e.dst)
	}
	return e
}

// ipOf returns the IP packet of a frame: after the Ethernet header, up to
// the length the IP header gives (gopacket pads short frames to 60 bytes).
func ipOf(frame []byte) []byte {
	ip := frame[14:]
	if ip[0]>>4 == 6 {
		return ip[:40+int(binary.BigEndian.Uint16(ip[4:]))]
	}
	return ip[:binary.BigEndian.Uint16(ip[2:])]
}

// expectError checks an error's type, code, source and quote: the quote is
// the start of the offending IP packet as it was received, as long as the
// error may be (576 bytes in all for ICMP, 1280 for ICMPv6).
func expectError(t *testing.T, e icmpErr, src string, typ, code uint8, sent []byte) {
	t.Helper()
	if e.typ != typ || e.code != code {
		t.Fatalf("ICMP type %d code %d, want %d/%d", e.typ, e.code, typ, code)
	}
	if e.src.String() != src {
		t.Fatalf("ICMP error from %s, want %s", e.src, src)
	}
	orig := ipOf(sent)
	max := 576 - 28
	if orig[0]>>4 == 6 {
		max = 1280 - 48
	}
	want := min(len(orig), max)
	if len(e.quote) != want || !bytes.Equal(e.quote, orig[:want]) {
		t.Fatalf("quote of %d bytes, want the first %d bytes of the original\n got % x\nwant % x", len(e.quote), want, e.quote, orig[:want])
	}
	if e.ttlOrHop != 64 {
		t.Fatalf("ICMP error TTL/hop limit %d, want 64", e.ttlOrHop)
	}
}

func TestTTLExceeded(t *testing.T) {
	h, h1, h2 := twoHosts(t, false)
	h1.permanent()
	h2.permanent()

	f := h1.udp4("10.2.0.1", 33434, 33435, 1, true, []byte("traceroute probe"))
	h1.inject(f)
	e := h1.recvICMPError(false)
	// Time exceeded comes from the address of the link the probe came in
	// on (the route back to h1 has it as preferred source).
	expectError(t, e, "10.1.0.254", 11, 0, f)
	if e.info != 0 {
		t.Fatalf("unused field %#x", e.info)
	}

	g := h1.udp6("fd00:2::1", 33434, 33435, 1, []byte("traceroute6 probe"))
	h1.inject(g)
	e = h1.recvICMPError(true)
	expectError(t, e, "fd00:1::254", 3, 0, g)

	// TTL 2 still passes, arriving with 1.
	f2 := h1.udp4("10.2.0.1", 33434, 33435, 2, true, []byte("ttl 2"))
	h1.inject(f2)
	checkForwarded4(t, h2.recv(), f2, h1, h2)

	h2.quiet()
	h1.quiet()
	h.waitDrop("ttl_exceeded", 2)
	if d := h.linkStats("r1").Drops["ttl_exceeded"]; d != 2 {
		t.Fatalf("r1 ttl_exceeded %d, want 2", d)
	}
}

func TestFragNeededAndPacketTooBig(t *testing.T) {
	h, h1, h2 := twoHosts(t, false)
	h1.permanent()
	h2.permanent()
	h.do(api.Request{Op: api.OpLinkSet, Link: &api.Link{Name: "r2", MTU: 1400}})
	h.do(api.Request{Op: api.OpRouteAdd, Route: &api.Route{Dst: "10.9.0.0/24", Via: "10.2.0.1", MTU: 1300}})
	h.do(api.Request{Op: api.OpRouteAdd, Route: &api.Route{Dst: "fd00:9::/64", Via: "fd00:2::1", MTU: 1300}})

	// Exactly the MTU passes.
	fit := h1.udp4("10.2.0.1", 1, 2, 64, true, make([]byte, 1400-28))
	h1.inject(fit)
	p := h2.recv()
	checkForwarded4(t, p, fit, h1, h2)
	if n := ip4Of(t, p).Length; n != 1400 {
		t.Fatalf("forwarded length %d", n)
	}

	// One byte more with DF: fragmentation needed, next-hop MTU 1400.
	big := h1.udp4("10.2.0.1", 1, 2, 64, true, make([]byte, 1401-28))
	h1.inject(big)
	e := h1.recvICMPError(false)
	expectError(t, e, "10.1.0.254", 3, 4, big)
	if e.info != 1400 {
		t.Fatalf("next-hop MTU field %#x, want 1400", e.info)
	}

	// A route mtu 1300 is smaller than the link's: it wins.
	big9 := h1.udp4("10.9.0.7", 1, 2, 64, true, make([]byte, 1301-28))
	h1.inject(big9)
	e = h1.recvICMPError(false)
	expectError(t, e, "10.1.0.254", 3, 4, big9)
	if e.info != 1300 {
		t.Fatalf("next-hop MTU field %#x, want 1300", e.info)
	}

	// IPv6: packet too big with the MTU, never fragmentation.
	fit6 := h1.udp6("fd00:2::1", 1, 2, 64, make([]byte, 1400-48))
	h1.inject(fit6)
	checkForwarded6(t, h2.recv(), fit6, h2)
	big6 := h1.udp6("fd00:2::1", 1, 2, 64, make([]byte, 1401-48))
	h1.inject(big6)
	e = h1.recvICMPError(true)
	expectError(t, e, "fd00:1::254", 2, 0, big6)
	if e.info != 1400 {
		t.Fatalf("packet too big MTU %d, want 1400", e.info)
	}
	big69 := h1.udp6("fd00:9::7", 1, 2, 64, make([]byte, 1301-48))
	h1.inject(big69)
	e = h1.recvICMPError(true)
	expectError(t, e, "fd00:1::254", 2, 0, big69)
	if e.info != 1300 {
		t.Fatalf("packet too big MTU %d, want 1300", e.info)
	}

	h2.quiet()
	h.waitDrop("frag_needed", 2)
	h.waitDrop("packet_too_big", 2)
}

// fragment is one received IPv4 fragment.
type fragment struct {
	off     int
	mf      bool
	payload []byte
}

func TestFragmentIPv4WithoutDF(t *testing.T) {
	for _, c := range []struct {
		name string
		dst  string
		mtu  int
	}{{"link-mtu", "10.2.0.1", 1400}, {"route-mtu", "10.9.0.5", 1300}} {
		t.Run(c.name, func(t *testing.T) {
			h, h1, h2 := twoHosts(t, false)
			h1.permanent()
			h2.permanent()
			h.do(api.Request{Op: api.OpLinkSet, Link: &api.Link{Name: "r2", MTU: 1400}})
			h.do(api.Request{Op: api.OpRouteAdd, Route: &api.Route{Dst: "10.9.0.0/24", Via: "10.2.0.1", MTU: 1300}})

			payload := make([]byte, 3500)
			for i := range payload {
				payload[i] = byte(i * 7)
			}
			f := h1.udp4(c.dst, 4000, 5000, 64, false, payload)
			orig := ip4Of(t, gopacket.NewPacket(f, layers.LayerTypeEthernet, gopacket.Default))
			h1.inject(f)
			var frags []fragment
			defrag := ip4defrag.NewIPv4Defragmenter()
			var whole *layers.IPv4
			for whole == nil {
				p := h2.recv()
				checkSums(t, p.Data())
				eth := ethOf(p)
				if [6]byte(eth.DstMAC) != h2.mac || [6]byte(eth.SrcMAC) != h2.rmac {
					t.Fatalf("fragment L2 %v -> %v", eth.SrcMAC, eth.DstMAC)
				}
				ip := ip4Of(t, p)
				if int(ip.Length) > c.mtu {
					t.Fatalf("fragment of %d bytes exceeds MTU %d", ip.Length, c.mtu)
				}
				if ip.Id != orig.Id || ip.TTL != 63 || ip.Protocol != layers.IPProtocolUDP ||
					!ip.SrcIP.Equal(orig.SrcIP) || !ip.DstIP.Equal(orig.DstIP) || ip.Flags&layers.IPv4DontFragment != 0 {
					t.Fatalf("fragment header %+v", ip)
				}
				frags = append(frags, fragment{off: int(ip.FragOffset) * 8, mf: ip.Flags&layers.IPv4MoreFragments != 0,
					payload: append([]byte(nil), ip.Payload...)})
				cp := *ip
				out, err := defrag.DefragIPv4(&cp)
				if err != nil {
					t.Fatal(err)
				}
				if out != nil {
					whole = out
				}
				if len(frags) > 10 {
					t.Fatal("more than 10 fragments and no reassembly")
				}
			}
			sort.Slice(frags, func(i, j int) bool { return frags[i].off < frags[j].off })
			var re []byte
			for i, fr := range frags {
				if fr.off != len(re) {
					t.Fatalf("fragment %d at offset %d, want %d", i, fr.off, len(re))
				}
				last := i == len(frags)-1
				if fr.mf == last {
					t.Fatalf("fragment %d: MF=%v", i, fr.mf)
				}
				if !last && len(fr.payload)%8 != 0 {
					t.Fatalf("fragment %d carries %d bytes, not a multiple of 8", i, len(fr.payload))
				}
				re = append(re, fr.payload...)
			}
			if !bytes.Equal(re, orig.Payload) {
				t.Fatalf("reassembled %d bytes, differ from the original %d", len(re), len(orig.Payload))
			}
			if whole == nil || !bytes.Equal(whole.Payload, orig.Payload) {
				t.Fatal("gopacket's ip4defrag did not reassemble the original")
			}
			// The fewest fragments that fit: ceil(3508 / per-fragment payload).
			per := (c.mtu - 20) &^ 7
			if want := (len(orig.Payload) + per - 1) / per; len(frags) != want {
				t.Fatalf("%d fragments, want %d", len(frags), want)
			}
			h2.quiet()
			h1.quiet()
		})
	}
}

func TestRejectRoutes(t *testing.T) {
	h, h1, h2 := twoHosts(t, false)
	h1.permanent()
	h2.permanent()
	for _, r := range []api.Route{
		{Dst: "10.5.0.0/24", Type: "unreachable"}, {Dst: "10.6.0.0/24", Type: "prohibit"}, {Dst: "10.7.0.0/24", Type: "blackhole"},
		{Dst: "fd00:5::/64", Type: "unreachable"}, {Dst: "fd00:6::/64", Type: "prohibit"}, {Dst: "fd00:7::/64", Type: "blackhole"},
	} {
		h.do(api.Request{Op: api.OpRouteAdd, Route: &r})
	}

	f := h1.udp4("10.5.0.1", 1, 2, 64, true, []byte("to an unreachable route"))
	h1.inject(f)
	expectError(t, h1.recvICMPError(false), "10.1.0.254", 3, 1, f)
	f = h1.udp4("10.6.0.1", 1, 2, 64, true, []byte("to a prohibit route"))
	h1.inject(f)
	expectError(t, h1.recvICMPError(false), "10.1.0.254", 3, 13, f)
	h1.inject(h1.udp4("10.7.0.1", 1, 2, 64, true, []byte("into the blackhole")))
	h1.quiet()
	h.waitDrop("blackhole", 1)

	g := h1.udp6("fd00:5::1", 1, 2, 64, []byte("to an unreachable route"))
	h1.inject(g)
	expectError(t, h1.recvICMPError(true), "fd00:1::254", 1, 0, g)
	g = h1.udp6("fd00:6::1", 1, 2, 64, []byte("to a prohibit route"))
	h1.inject(g)
	expectError(t, h1.recvICMPError(true), "fd00:1::254", 1, 1, g)
	h1.inject(h1.udp6("fd00:7::1", 1, 2, 64, []byte("into the blackhole")))
	h1.quiet()
	h.waitDrop("blackhole", 2)
	h.waitDrop("unreachable_route", 2)
	h.waitDrop("prohibit_route", 2)

	// No route at all: network unreachable.
	f = h1.udp4("10.77.0.1", 1, 2, 64, true, []byte("nowhere"))
	h1.inject(f)
	expectError(t, h1.recvICMPError(false), "10.1.0.254", 3, 0, f)
	g = h1.udp6("fd00:77::1", 1, 2, 64, []byte("nowhere"))
	h1.inject(g)
	expectError(t, h1.recvICMPError(true), "fd00:1::254", 1, 0, g)

	// Deleting the connected route makes h2's network unreachable.
	h.do(api.Request{Op: api.OpRouteDel, Route: &api.Route{Dst: "10.2.0.0/24", Dev: "r2"}})
	h.do(api.Request{Op: api.OpRouteDel, Route: &api.Route{Dst: "fd00:2::/64", Dev: "r2"}})
	f = h1.udp4("10.2.0.1", 1, 2, 64, true, []byte("connected route gone"))
	h1.inject(f)
	expectError(t, h1.recvICMPError(false), "10.1.0.254", 3, 0, f)
	g = h1.udp6("fd00:2::1", 1, 2, 64, []byte("connected route gone"))
	h1.inject(g)
	expectError(t, h1.recvICMPError(true), "fd00:1::254", 1, 0, g)
	h.waitDrop("no_route", 4)

	h2.quiet2()
}

// quiet2 checks nothing reached a host whose link may have lost its
// routes (sync cannot be used): the router had every frame handled by the
// time the other host synced, so a short look suffices.
func (hs *host) quiet2() {
	hs.h.t.Helper()
	if fs := hs.port.TakeSent(0); len(fs) != 0 {
		hs.h.t.Fatalf("unexpected %d frame(s) on %s: %v", len(fs), hs.link,
			gopacket.NewPacket(fs[0].Data, layers.LayerTypeEthernet, gopacket.Default))
	}
}
