package scenario

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"flowpath/api"
	"flowpath/internal/control"
	"flowpath/internal/dataplane"
	"flowpath/internal/hdr"
	"flowpath/internal/port"
	"flowpath/internal/port/mem"
)

// harness is a running router with memory ports, configured through the
// control API.
type harness struct {
	t     *testing.T
	e     *dataplane.Engine
	m     *control.Model
	ports map[string]*mem.Port // by ifname
	// offloads applied to ports opened after it is set
	offloads port.Offloads
}

func newHarness(t *testing.T, hashL4 bool) *harness {
	t.Helper()
	cfg := dataplane.DefaultConfig()
	cfg.RxTimeout = 2 * time.Millisecond
	cfg.PoolSize = 1024
	h := &harness{t: t, e: dataplane.New(cfg), ports: map[string]*mem.Port{}}
	ctx, cancel := context.WithCancel(context.Background())
	go h.e.Run(ctx)
	open := func(l *api.Link) (port.Port, error) {
		var mac [6]byte
		copy(mac[:], []byte{0x02, 0xfe, 0, 0, 0, byte(len(h.ports) + 1)})
		p := mem.New(l.IfName, mac, 1500, dataplane.TxQueues)
		p.SetOffloads(h.offloads)
		h.ports[l.IfName] = p
		return p, nil
	}
	m, err := control.NewModel(control.Options{Engine: h.e, OpenPort: open, HashL4: hashL4})
	if err != nil {
		t.Fatal(err)
	}
	h.m = m
	t.Cleanup(func() {
		m.Close()
		h.e.Close()
		cancel()
	})
	return h
}

// do runs a request and fails the test on an API error.
func (h *harness) do(req api.Request) *api.Response {
	h.t.Helper()
	resp := h.try(req)
	if resp.Error != "" {
		h.t.Fatalf("%s: %s (%s)", req.Op, resp.Error, resp.Code)
	}
	return resp
}

// try runs a request and returns the response, error or not.
func (h *harness) try(req api.Request) *api.Response {
	req.Version = api.Version
	return h.m.Handle(&req)
}

// addLink creates a mem link named name on ifname, up, with addresses.
func (h *harness) addLink(name string, addrs ...string) *mem.Port {
	h.t.Helper()
	h.do(api.Request{Op: api.OpLinkAdd, Link: &api.Link{Name: name, Kind: "mem", IfName: "p-" + name}})
	up := true
	h.do(api.Request{Op: api.OpLinkSet, Link: &api.Link{Name: name, Up: &up}})
	for _, a := range addrs {
		h.do(api.Request{Op: api.OpAddrAdd, Addr: &api.Addr{Dev: name, Prefix: a}})
	}
	return h.ports["p-"+name]
}

// mac returns a link's MAC.
func (h *harness) mac(name string) hdr.MAC {
	h.t.Helper()
	r := h.do(api.Request{Op: api.OpLinkShow, Link: &api.Link{Name: name}})
	m, err := hdr.ParseMAC(r.Links[0].MAC)
	if err != nil {
		h.t.Fatal(err)
	}
	return m
}

// host is a station on one of the router's links, played by the test.
type host struct {
	h    *harness
	port *mem.Port
	mac  hdr.MAC
	ip4  netip.Addr
	ip6  netip.Addr
	rmac hdr.MAC // the router's MAC on this link
}

func (h *harness) host(link string, mac hdr.MAC, ip4, ip6 string) *host {
	hs := &host{h: h, port: h.ports["p-"+link], mac: mac, rmac: h.mac(link)}
	if ip4 != "" {
		hs.ip4 = netip.MustParseAddr(ip4)
	}
	if ip6 != "" {
		hs.ip6 = netip.MustParseAddr(ip6)
	}
	return hs
}

// send serializes layers into a frame and injects it.
func (hs *host) send(ls ...gopacket.SerializableLayer) {
	hs.h.t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		hs.h.t.Fatal(err)
	}
	if !hs.port.Inject(buf.Bytes()) {
		hs.h.t.Fatal("inject failed")
	}
}

func (hs *host) eth(t layers.EthernetType) *layers.Ethernet {
	return &layers.Ethernet{SrcMAC: hs.mac[:], DstMAC: hs.rmac[:], EthernetType: t}
}

func (hs *host) ip4hdr(dst string, proto layers.IPProtocol, ttl uint8) *layers.IPv4 {
	return &layers.IPv4{Version: 4, TTL: ttl, Protocol: proto, SrcIP: hs.ip4.AsSlice(),
		DstIP: netip.MustParseAddr(dst).AsSlice(), Flags: layers.IPv4DontFragment}
}

func (hs *host) ip6hdr(dst string, next layers.IPProtocol, hop uint8) *layers.IPv6 {
	return &layers.IPv6{Version: 6, HopLimit: hop, NextHeader: next, SrcIP: hs.ip6.AsSlice(),
		DstIP: netip.MustParseAddr(dst).AsSlice()}
}

// recv waits for the next frame the router sends towards this host and
// decodes it.
func (hs *host) recv() gopacket.Packet {
	hs.h.t.Helper()
	fs := hs.port.WaitSent(1, 2*time.Second)
	if len(fs) == 0 {
		hs.h.t.Fatal("no frame sent within 2s")
	}
	return gopacket.NewPacket(fs[0].Data, layers.LayerTypeEthernet, gopacket.Default)
}

// expectNone checks the router sends nothing towards this host for a while.
func (hs *host) expectNone(d time.Duration) {
	hs.h.t.Helper()
	if fs := hs.port.WaitSent(1, d); len(fs) != 0 {
		p := gopacket.NewPacket(fs[0].Data, layers.LayerTypeEthernet, gopacket.Default)
		hs.h.t.Fatalf("unexpected frame: %v", p)
	}
}

// answerARP waits for an ARP request for this host's address and answers.
func (hs *host) answerARP() {
	hs.h.t.Helper()
	p := hs.recv()
	a, ok := p.Layer(layers.LayerTypeARP).(*layers.ARP)
	if !ok || a.Operation != layers.ARPRequest || netip.AddrFrom4([4]byte(a.DstProtAddress)) != hs.ip4 {
		hs.h.t.Fatalf("want ARP request for %s, got %v", hs.ip4, p)
	}
	hs.send(&layers.Ethernet{SrcMAC: hs.mac[:], DstMAC: a.SourceHwAddress, EthernetType: layers.EthernetTypeARP},
		&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
			Operation: layers.ARPReply, SourceHwAddress: hs.mac[:], SourceProtAddress: hs.ip4.AsSlice(),
			DstHwAddress: a.SourceHwAddress, DstProtAddress: a.SourceProtAddress})
}

// answerNS waits for a neighbour solicitation for this host's IPv6
// address and answers with a solicited advertisement.
func (hs *host) answerNS() {
	hs.h.t.Helper()
	p := hs.recv()
	ns, ok := p.Layer(layers.LayerTypeICMPv6NeighborSolicitation).(*layers.ICMPv6NeighborSolicitation)
	if !ok || netip.AddrFrom16([16]byte(ns.TargetAddress)) != hs.ip6 {
		hs.h.t.Fatalf("want NS for %s, got %v", hs.ip6, p)
	}
	ip := p.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
	eth := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
	icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeNeighborAdvertisement, 0)}
	src := &layers.IPv6{Version: 6, HopLimit: 255, NextHeader: layers.IPProtocolICMPv6, SrcIP: hs.ip6.AsSlice(), DstIP: ip.SrcIP}
	_ = icmp.SetNetworkLayerForChecksum(src)
	hs.send(&layers.Ethernet{SrcMAC: hs.mac[:], DstMAC: eth.SrcMAC, EthernetType: layers.EthernetTypeIPv6}, src, icmp,
		&layers.ICMPv6NeighborAdvertisement{Flags: 0x60, TargetAddress: hs.ip6.AsSlice(),
			Options: layers.ICMPv6Options{{Type: layers.ICMPv6OptTargetAddress, Data: hs.mac[:]}}})
}
