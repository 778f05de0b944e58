package scenario

import (
	"net/netip"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"flowpath/api"
)

// mplsFrame builds a labelled IPv4/UDP packet from h1 to dst, labels
// outermost first, each with ttl.
func mplsFrame(hs *host, dst string, ttl uint8, labels ...uint32) []gopacket.SerializableLayer {
	ls := []gopacket.SerializableLayer{&layers.Ethernet{SrcMAC: hs.mac[:], DstMAC: hs.rmac[:], EthernetType: layers.EthernetTypeMPLSUnicast}}
	for i, l := range labels {
		ls = append(ls, &layers.MPLS{Label: l, TTL: ttl, StackBottom: i == len(labels)-1})
	}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: hs.ip4.AsSlice(),
		DstIP: netip.MustParseAddr(dst).AsSlice()}
	u := &layers.UDP{SrcPort: 4000, DstPort: 5000}
	_ = u.SetNetworkLayerForChecksum(ip)
	return append(ls, ip, u, layersPayload("labelled"))
}

func mplsRoute(h *harness, label, via, dev string, as ...uint32) {
	h.do(api.Request{Op: api.OpRouteAdd, Route: &api.Route{Family: api.FamilyMPLS, Dst: label, Via: via, Dev: dev, As: as}})
}

func TestMPLSLabelSwapAndPop(t *testing.T) {
	h, h1, h2 := twoHosts(t, false)
	h.neigh("r2", netip.MustParseAddr("10.2.0.1"), h2.mac)
	mplsRoute(h, "100", "10.2.0.1", "r2", 200, 300) // swap 100 for 200/300
	mplsRoute(h, "101", "10.2.0.1", "r2")           // pop (PHP)

	h1.send(mplsFrame(h1, "10.9.9.9", 10, 100)...)
	p := h2.recv()
	var got []layers.MPLS
	for _, l := range p.Layers() {
		if m, ok := l.(*layers.MPLS); ok {
			got = append(got, *m)
		}
	}
	if len(got) != 2 || got[0].Label != 200 || got[1].Label != 300 || got[0].StackBottom || !got[1].StackBottom ||
		got[0].TTL != 9 || got[1].TTL != 9 {
		t.Fatalf("swapped stack: %+v (%v)", got, p)
	}
	if eth := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet); eth.EthernetType != layers.EthernetTypeMPLSUnicast ||
		[6]byte(eth.DstMAC) != h2.mac {
		t.Fatalf("L2: %v", eth)
	}
	// Pop of the bottom label: the IP packet goes to the nexthop, TTL from the label.
	h1.send(mplsFrame(h1, "10.9.9.9", 10, 101)...)
	p = h2.recv()
	ip, ok := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	if !ok || p.Layer(layers.LayerTypeMPLS) != nil || ip.DstIP.String() != "10.9.9.9" || ip.TTL != 9 {
		t.Fatalf("popped packet: %v", p)
	}
	if eth := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet); eth.EthernetType != layers.EthernetTypeIPv4 {
		t.Fatalf("popped ethertype %v", eth.EthernetType)
	}
	r := h.do(api.Request{Op: api.OpRouteShow, Filter: &api.Filter{Family: api.FamilyMPLS}})
	if len(r.Routes) != 2 || r.Routes[0].Dst != "100" || len(r.Routes[0].As) != 2 || r.Routes[1].Dst != "101" {
		t.Fatalf("label routes: %+v", r.Routes)
	}
}

func TestMPLSExplicitNullTTLAndNoRoute(t *testing.T) {
	h, h1, h2 := twoHosts(t, false)
	h.neigh("r2", netip.MustParseAddr("10.2.0.1"), h2.mac)
	h.neigh("r1", h1.ip4, h1.mac)
	// IPv4 explicit null: popped, the IP packet is routed normally.
	h1.send(mplsFrame(h1, "10.2.0.1", 30, 0)...)
	p := h2.recv()
	if ip, ok := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4); !ok || ip.TTL != 28 {
		t.Fatalf("explicit null: %v", p)
	}
	// TTL 1 expires here: ICMP time exceeded to the source of the packet under the stack.
	mplsRoute(h, "100", "10.2.0.1", "r2", 200)
	h1.send(mplsFrame(h1, "10.9.9.9", 1, 100)...)
	p = h1.recv()
	ic, ok := p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
	if !ok || ic.TypeCode.Type() != layers.ICMPv4TypeTimeExceeded {
		t.Fatalf("want time exceeded, got %v", p)
	}
	h.waitDrop("mpls_ttl_exceeded", 1)
	// Unknown label: dropped, counted, nothing sent.
	h1.send(mplsFrame(h1, "10.9.9.9", 10, 555)...)
	h.waitDrop("mpls_no_route", 1)
	h2.expectNone(50e6)
	// A TTL of 0 on arrival is no TTL to forward with: counted like an
	// expiry. A label stack cut short (two bytes of an entry) is invalid.
	h1.send(mplsFrame(h1, "10.2.0.1", 0, 100)...)
	h.waitDrop("mpls_ttl_exceeded", 2)
	short := serialize(t, mplsFrame(h1, "10.2.0.1", 9, 100)...)[:14+2]
	h1.inject(short)
	h.waitDrop("mpls_invalid", 1)
	h2.expectNone(50e6)
	// Invalid label routes.
	for _, bad := range []*api.Route{
		{Family: api.FamilyMPLS, Dst: "15", Via: "10.2.0.1", Dev: "r2"},                   // reserved
		{Family: api.FamilyMPLS, Dst: "1048576", Via: "10.2.0.1", Dev: "r2"},              // > 20 bits
		{Family: api.FamilyMPLS, Dst: "100", Via: "10.2.0.1", Dev: "r2", As: []uint32{3}}, // implicit null pushed
		{Family: api.FamilyMPLS, Dst: "102", Via: "10.2.0.1", Dev: "nope"},
	} {
		if r := h.try(api.Request{Op: api.OpRouteAdd, Route: bad}); r.Error == "" {
			t.Errorf("route %+v accepted", bad)
		}
	}
	if r := h.try(api.Request{Op: api.OpRouteAdd, Route: &api.Route{Family: api.FamilyMPLS, Dst: "100",
		Via: "10.2.0.1", Dev: "r2"}}); r.Code != "EEXIST" {
		t.Fatalf("duplicate label route: %+v", r)
	}
}

func sysctl(h *harness, name, value string) {
	h.t.Helper()
	h.do(api.Request{Op: api.OpSysctlSet, Sysctl: &api.Sysctl{Name: name, Value: value}})
}

// lseTTLs returns the TTLs of a frame's MPLS label stack entries.
func lseTTLs(p gopacket.Packet) (ttls []uint8) {
	for _, l := range p.Layers() {
		if m, ok := l.(*layers.MPLS); ok {
			ttls = append(ttls, m.TTL)
		}
	}
	return ttls
}

// Spec §1.9 L12 and §1.7: with net.mpls.ip_ttl_propagate=0, an encap
// without a ttl of its own pushes net.mpls.default_ttl; "ttl 0" still
// propagates and "ttl N" writes N, whatever the sysctl says; popping the
// last label keeps the IP TTL (decremented) instead of taking the label's.
func TestMPLSTTLPropagateSysctl(t *testing.T) {
	h, h1, h2 := twoHosts(t, false)
	h.neigh("r2", netip.MustParseAddr("10.2.0.1"), h2.mac)
	route := func(dst string, e *api.Encap) {
		h.do(api.Request{Op: api.OpRouteAdd, Route: &api.Route{Dst: dst, Via: "10.2.0.1", Dev: "r2", Encap: e}})
	}
	route("10.31.0.0/24", &api.Encap{Type: "mpls", Labels: []uint32{100}})                       // default
	route("10.32.0.0/24", &api.Encap{Type: "mpls", Labels: []uint32{100}, SetTTL: true})         // ttl 0: propagate
	route("10.33.0.0/24", &api.Encap{Type: "mpls", Labels: []uint32{100}, TTL: 9, SetTTL: true}) // ttl 9
	mplsRoute(h, "101", "10.2.0.1", "r2")                                                        // pop (PHP)

	send := func(dst string) []uint8 {
		t.Helper()
		h1.send(udp4(h1, dst, 1, 2, "ttl")...)
		return lseTTLs(h2.recv())
	}
	check := func(what string, got []uint8, want uint8) {
		t.Helper()
		if len(got) != 1 || got[0] != want {
			t.Errorf("%s: LSE TTLs %v, want [%d]", what, got, want)
		}
	}
	// The kernel's defaults: propagate the forwarded packet's TTL (63).
	check("default, propagate on", send("10.31.0.1"), 63)
	sysctl(h, "net.mpls.ip_ttl_propagate", "0")
	check("default, propagate off", send("10.31.0.1"), 255)
	sysctl(h, "net.mpls.default_ttl", "77")
	check("default, propagate off, default_ttl 77", send("10.31.0.1"), 77)
	check("ttl 0, propagate off", send("10.32.0.1"), 63)
	check("ttl 9, propagate off", send("10.33.0.1"), 9)

	// Pop with propagation off: IP TTL 64 - 1, not the label's 10 - 1.
	h1.send(mplsFrame(h1, "10.9.9.9", 10, 101)...)
	if ip, ok := h2.recv().Layer(layers.LayerTypeIPv4).(*layers.IPv4); !ok || ip.TTL != 63 {
		t.Fatalf("popped with propagation off: %v", ip)
	}
	sysctl(h, "net.mpls.ip_ttl_propagate", "1")
	h1.send(mplsFrame(h1, "10.9.9.9", 10, 101)...)
	if ip, ok := h2.recv().Layer(layers.LayerTypeIPv4).(*layers.IPv4); !ok || ip.TTL != 9 {
		t.Fatalf("popped with propagation on: %v", ip)
	}
	// The route shows say which were given a ttl.
	r := h.do(api.Request{Op: api.OpRouteShow, Filter: &api.Filter{Prefix: "10.32.0.0/24"}})
	if len(r.Routes) != 1 || r.Routes[0].Encap == nil || !r.Routes[0].Encap.SetTTL || r.Routes[0].Encap.TTL != 0 {
		t.Fatalf("route show 10.32.0.0/24: %+v", r.Routes)
	}
	// Out-of-range values are refused (EINVAL) and change nothing; unknown
	// names are ENOENT.
	for _, c := range []struct{ name, value, code string }{
		{"net.mpls.default_ttl", "0", "EINVAL"}, {"net.mpls.default_ttl", "256", "EINVAL"},
		{"net.mpls.ip_ttl_propagate", "2", "EINVAL"}, {"net.mpls.default_ttl", "x", "EINVAL"},
		{"net.mpls.nope", "1", "ENOENT"}, {"net.ipv4.fib_multipath_hash_policy", "2", "EOPNOTSUPP"},
	} {
		if resp := h.try(api.Request{Op: api.OpSysctlSet, Sysctl: &api.Sysctl{Name: c.name, Value: c.value}}); resp.Code != c.code {
			t.Errorf("%s=%s: %q (%s), want %s", c.name, c.value, resp.Error, resp.Code, c.code)
		}
	}
	r = h.do(api.Request{Op: api.OpSysctlShow, Sysctl: &api.Sysctl{Name: "net/mpls/default_ttl"}})
	if len(r.Sysctls) != 1 || r.Sysctls[0].Value != "77" {
		t.Fatalf("default_ttl after refused writes: %+v", r.Sysctls)
	}
}
