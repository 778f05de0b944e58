package scenario

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"flowpath/api"
)

// TestNoErrorAboutErrors: a transit ICMP error that expires is dropped
// silently (RFC 1122 3.2.2), an echo request that expires is answered,
// and a packet for the router itself is delivered whatever its TTL.
func TestNoErrorAboutErrors(t *testing.T) {
	h, h1, h2 := twoHosts(t, false)
	h1.permanent()
	h2.permanent()

	// An ICMP port unreachable from h1 to h2 with TTL 1.
	quoted := h2.udp4("10.1.0.1", 5, 6, 64, true, []byte("x"))[14:]
	ip := h1.ip4hdr("10.2.0.1", layers.IPProtocolICMPv4, 1)
	h1.send(h1.eth(layers.EthernetTypeIPv4), ip,
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeDestinationUnreachable, 3)},
		gopacket.Payload(quoted[:28]))
	h1.quiet()
	h.waitDrop("ttl_exceeded", 1)

	// The same for ICMPv6.
	ip6 := h1.ip6hdr("fd00:2::1", layers.IPProtocolICMPv6, 1)
	ic6 := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeDestinationUnreachable, 4)}
	_ = ic6.SetNetworkLayerForChecksum(ip6)
	h1.send(h1.eth(layers.EthernetTypeIPv6), ip6, ic6, gopacket.Payload(make([]byte, 4+48)))
	h1.quiet()
	h.waitDrop("ttl_exceeded", 2)

	// An echo request with TTL 1 in transit gets time exceeded.
	ip = h1.ip4hdr("10.2.0.1", layers.IPProtocolICMPv4, 1)
	f := serialize(t, h1.eth(layers.EthernetTypeIPv4), ip,
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: 1, Seq: 1})
	h1.inject(f)
	expectError(t, h1.recvICMPError(false), "10.1.0.254", 11, 0, f)

	// TTL 1 to the router itself: answered.
	h1.send(h1.eth(layers.EthernetTypeIPv4), h1.ip4hdr("10.2.0.254", layers.IPProtocolICMPv4, 1),
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: 2, Seq: 1})
	p := h1.recv()
	if ic, ok := p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4); !ok || ic.TypeCode.Type() != layers.ICMPv4TypeEchoReply || ic.Id != 2 {
		t.Fatalf("want echo reply, got %v", p)
	}
	h2.quiet()
}

// TestPortUnreachable: UDP to one of the router's addresses gets port
// unreachable from that address (no sockets listen).
func TestPortUnreachable(t *testing.T) {
	_, h1, _ := twoHosts(t, false)
	h1.permanent()
	f := h1.udp4("10.2.0.254", 1234, 33434, 64, true, []byte("anyone?"))
	h1.inject(f)
	// The error comes from the address that was probed.
	expectError(t, h1.recvICMPError(false), "10.1.0.254", 3, 3, f)
	g := h1.udp6("fd00:1::254", 1234, 33434, 64, []byte("anyone?"))
	h1.inject(g)
	expectError(t, h1.recvICMPError(true), "fd00:1::254", 1, 4, g)
}

// TestICMPRateLimit: a burst of expiring packets gets at most about the
// bucket's depth of errors; the rest is counted, not answered.
func TestICMPRateLimit(t *testing.T) {
	h, h1, _ := twoHosts(t, false)
	h1.permanent()
	const n = 200
	for i := 0; i < n; i++ {
		h1.inject(h1.udp4("10.2.0.1", uint16(i), 9, 1, true, []byte("expire")))
	}
	errs := len(h1.sync())
	// Burst 50; at 1000/s a few more tokens may arrive while the 200
	// packets are handled.
	if errs < 50 || errs > 80 {
		t.Fatalf("%d ICMP errors for %d expiring packets, want the burst of 50 (+ refill)", errs, n)
	}
	h.waitDrop("ttl_exceeded", n)
}

// TestIPv6Scope: link-local addresses are never forwarded; a link-local
// source gets destination unreachable "beyond scope".
func TestIPv6Scope(t *testing.T) {
	h, h1, h2 := twoHosts(t, false)
	h1.permanent()
	h2.permanent()
	ll := *h1
	ll.ip6 = mustAddr("fe80::1")
	h.neigh("r1", ll.ip6, ll.mac)
	g := ll.udp6("fd00:2::1", 1, 2, 64, []byte("from link-local"))
	h1.inject(g)
	e := ll.recvICMPError(true)
	if e.typ != 1 || e.code != 2 || !e.src.IsLinkLocalUnicast() {
		t.Fatalf("ICMPv6 %d/%d from %s, want 1/2 from a link-local address", e.typ, e.code, e.src)
	}
	h1.inject(h1.udp6("fe80::99", 1, 2, 64, []byte("to link-local")))
	h1.quiet()
	h2.quiet()
	h.waitDrop("link_local_not_forwarded", 2)
}

// TestIPv6ExtensionHeaders: a packet with a destination options header is
// forwarded intact.
func TestIPv6ExtensionHeaders(t *testing.T) {
	_, h1, h2 := twoHosts(t, false)
	h1.permanent()
	h2.permanent()
	ip := h1.ip6hdr("fd00:2::1", layers.IPProtocolIPv6Destination, 64)
	opts := &layers.IPv6Destination{}
	opts.NextHeader = layers.IPProtocolUDP
	opts.Options = []*layers.IPv6DestinationOption{{OptionType: 1, OptionLength: 4, OptionData: make([]byte, 4)}}
	udp := &layers.UDP{SrcPort: 7, DstPort: 8}
	_ = udp.SetNetworkLayerForChecksum(ip)
	f := serialize(t, h1.eth(layers.EthernetTypeIPv6), ip, opts, udp, gopacket.Payload([]byte("with options")))
	h1.inject(f)
	checkForwarded6(t, h2.recv(), f, h2)
}

// TestDeviceDown: frames arriving on a down link are dropped and counted;
// routes through a down link are gone; both come back with the link.
func TestDeviceDown(t *testing.T) {
	h, h1, h2 := twoHosts(t, false)
	h1.permanent()
	h2.permanent()
	down, up := false, true
	h.do(api.Request{Op: api.OpLinkSet, Link: &api.Link{Name: "r2", Up: &down}})
	f := h1.udp4("10.2.0.1", 1, 2, 64, true, []byte("r2 is down"))
	h1.inject(f)
	expectError(t, h1.recvICMPError(false), "10.1.0.254", 3, 0, f)

	h2.inject(h2.udp4("10.1.0.1", 1, 2, 64, true, []byte("into a down link")))
	h1.quiet()
	h.waitDrop("input_device_down", 1)

	h.do(api.Request{Op: api.OpLinkSet, Link: &api.Link{Name: "r2", Up: &up}})
	// Taking a link down flushes its neighbours, permanent ones too (the
	// kernel's arp_ifdown): the router resolves h2 again.
	h1.inject(f)
	h2.answerARP()
	checkForwarded4(t, h2.recv(), f, h1, h2)
}

// TestDirectedBroadcast: the subnet broadcast of a router link is not
// forwarded or answered.
func TestDirectedBroadcast(t *testing.T) {
	h, h1, h2 := twoHosts(t, false)
	h1.permanent()
	h2.permanent()
	h1.inject(h1.udp4("10.2.0.255", 1, 2, 64, true, []byte("smurf")))
	h1.quiet()
	h2.quiet()
	h.waitDrop("broadcast", 1)
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

// A packet arriving with one of the router's own addresses as its source
// is a martian, as in the kernel's fib_validate_source (rp_filter off): it
// is dropped and counted whichever of our addresses it claims, while the
// same packet from a real host address is forwarded; route get with iif
// gives EINVAL for it, as `ip route get ... iif` does.
func TestOwnAddressSourceIsMartian(t *testing.T) {
	h, h1, h2 := twoHosts(t, false)
	h1.permanent()
	h2.permanent()
	send := func(src string) {
		ip := h1.ip4hdr("10.2.0.1", layers.IPProtocolUDP, 64)
		ip.SrcIP = netip.MustParseAddr(src).AsSlice()
		udp := &layers.UDP{SrcPort: 1000, DstPort: 2000}
		_ = udp.SetNetworkLayerForChecksum(ip)
		h1.send(h1.eth(layers.EthernetTypeIPv4), ip, udp, layersPayload("spoof"))
	}
	for i, src := range []string{"10.2.0.254", "10.1.0.254", "127.0.0.1"} {
		send(src)
		h.waitDrop("martian_source", uint64(i+1))
	}
	h2.expectNone(50 * time.Millisecond)
	send("10.1.0.1")
	if p := h2.recv(); addrOf(ip4Of(t, p).SrcIP).String() != "10.1.0.1" {
		t.Fatalf("forwarded %v", p)
	}
	for _, c := range []struct{ from, dst string }{
		{"10.2.0.254", "10.2.0.1"}, {"127.0.0.1", "10.2.0.1"}, {"10.1.0.1", "127.0.0.1"}, {"", "10.2.0.1"},
	} {
		resp := h.try(api.Request{Op: api.OpRouteGet, RouteGet: &api.RouteGet{Dst: c.dst, From: c.from, Iif: "r1"}})
		if resp.Code != "EINVAL" {
			t.Errorf("route get %s from %q iif r1: %q (%s), want EINVAL", c.dst, c.from, resp.Error, resp.Code)
		}
	}
	if g := h.routeGet(api.RouteGet{Dst: "10.2.0.1", From: "10.1.0.1", Iif: "r1"}); g.Dev != "r2" {
		t.Fatalf("route get from a host: %+v", g)
	}
}
