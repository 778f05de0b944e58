package scenario

import (
	"context"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"flowpath/api"
	"flowpath/internal/control"
	"flowpath/internal/dataplane"
	"flowpath/internal/hdr"
	"flowpath/internal/pkt"
	"flowpath/internal/port"
	"flowpath/internal/port/mem"
	"flowpath/internal/port/pcap"
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
	// openErr, when set, makes the next port opening fail with it.
	openErr error
	// txQueues, when set, is the number of transmit queues of ports
	// opened next (too few makes the engine refuse the port).
	txQueues int
	// opened counts successful port openings.
	opened int
	// pcapFiles gives the capture files (receive, transmit) of a pcap
	// link, by link name; pcapPorts holds the opened ports, gated.
	pcapFiles map[string][2]string
	pcapPorts map[string]*gatedPort
}

func newHarness(t *testing.T, hashL4 bool) *harness {
	t.Helper()
	return newHarnessWith(t, hashL4, nil)
}

// newHarnessWith is newHarness with the engine configuration adjusted by
// tweak (shorter neighbour timers, say) before the engine is made.
func newHarnessWith(t *testing.T, hashL4 bool, tweak func(*dataplane.Config)) *harness {
	t.Helper()
	return newHarnessOpts(t, tweak, control.Options{HashL4: hashL4})
}

// newHarnessOpts is newHarnessWith with the model's options given (the
// engine and the port opener are the harness's).
func newHarnessOpts(t *testing.T, tweak func(*dataplane.Config), o control.Options) *harness {
	t.Helper()
	cfg := dataplane.DefaultConfig()
	cfg.RxTimeout = 2 * time.Millisecond
	cfg.PoolSize = 1024
	if tweak != nil {
		tweak(&cfg)
	}
	h := &harness{t: t, e: dataplane.New(cfg), ports: map[string]*mem.Port{},
		pcapFiles: map[string][2]string{}, pcapPorts: map[string]*gatedPort{}}
	ctx, cancel := context.WithCancel(context.Background())
	go h.e.Run(ctx)
	open := func(l *api.Link) (port.Port, error) {
		if err := h.openErr; err != nil {
			h.openErr = nil
			return nil, err
		}
		h.opened++
		var mac [6]byte
		copy(mac[:], []byte{0x02, 0xfe, 0, 0, 0, byte(len(h.ports) + len(h.pcapPorts) + 1)})
		if l.Kind == "pcap" {
			return h.openPcap(l, mac)
		}
		ntx := dataplane.TxQueues
		if h.txQueues != 0 {
			ntx = h.txQueues
		}
		p := mem.New(l.IfName, mac, 1500, ntx)
		p.SetOffloads(h.offloads)
		h.ports[l.IfName] = p
		return p, nil
	}
	o.Engine, o.OpenPort = h.e, open
	m, err := control.NewModel(o)
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
	link string
	port *mem.Port
	mac  hdr.MAC
	ip4  netip.Addr
	ip6  netip.Addr
	rmac hdr.MAC // the router's MAC on this link
}

func (h *harness) host(link string, mac hdr.MAC, ip4, ip6 string) *host {
	hs := &host{h: h, link: link, port: h.ports["p-"+link], mac: mac, rmac: h.mac(link)}
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

// ---- additions for the acceptance suite ----

// neigh installs a permanent neighbour entry on the router.
func (h *harness) neigh(dev string, ip netip.Addr, mac hdr.MAC) {
	h.t.Helper()
	h.do(api.Request{Op: api.OpNeighAdd, Neigh: &api.Neigh{Dev: dev, Dst: ip.String(), LLAddr: mac.String()}})
}

// permanent makes the router know this host's MACs without ARP/ND.
func (hs *host) permanent() *host {
	hs.h.t.Helper()
	if hs.ip4.IsValid() {
		hs.h.neigh(hs.link, hs.ip4, hs.mac)
	}
	if hs.ip6.IsValid() {
		hs.h.neigh(hs.link, hs.ip6, hs.mac)
	}
	return hs
}

// stats returns the daemon's counters.
// addRoute adds r, failing the test if the daemon refuses.
func (h *harness) addRoute(r api.Route) { h.do(api.Request{Op: api.OpRouteAdd, Route: &r}) }

// neighLines lists the neighbour table as "DST DEV" lines.
func (h *harness) neighLines() []string {
	var out []string
	for _, n := range h.do(api.Request{Op: api.OpNeighShow, Filter: &api.Filter{}}).Neighs {
		out = append(out, n.Dst+" "+n.Dev)
	}
	return out
}

func (h *harness) stats() *api.Stats {
	h.t.Helper()
	return h.do(api.Request{Op: api.OpStats}).Stats
}

// drops returns the drop counters by reason, summed over workers.
func (h *harness) drops() map[string]uint64 { return h.stats().Drops }

// linkStats returns `link show` counters of one link.
func (h *harness) linkStats(name string) *api.LinkStats {
	h.t.Helper()
	return h.do(api.Request{Op: api.OpLinkShow, Link: &api.Link{Name: name}}).Links[0].Stats
}

// waitDrop waits until the drop counter reason reaches want.
func (h *harness) waitDrop(reason string, want uint64) {
	h.t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		got := h.drops()[reason]
		if got >= want {
			if got > want {
				h.t.Fatalf("drop counter %s = %d, want %d", reason, got, want)
			}
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("drop counter %s = %d, want %d (all: %v)", reason, got, want, h.drops())
		}
		time.Sleep(time.Millisecond)
	}
}

// routerAddr returns the router's first global address of a family on a link.
func (h *harness) routerAddr(link string, v6 bool) netip.Addr {
	h.t.Helper()
	r := h.do(api.Request{Op: api.OpAddrShow, Filter: &api.Filter{Dev: link}})
	for _, a := range r.Addrs {
		p := netip.MustParsePrefix(a.Prefix)
		if p.Addr().Is6() == v6 && !p.Addr().IsLinkLocalUnicast() {
			return p.Addr()
		}
	}
	h.t.Fatalf("link %s has no IPv%d address", link, map[bool]int{false: 4, true: 6}[v6])
	return netip.Addr{}
}

// serialize builds a frame from layers, fixing lengths and checksums.
func serialize(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

// inject puts a raw frame on the host's wire.
func (hs *host) inject(b []byte) {
	hs.h.t.Helper()
	if !hs.port.Inject(b) {
		hs.h.t.Fatal("inject failed")
	}
}

// udp4 builds a UDP/IPv4 frame from this host to the router's MAC.
func (hs *host) udp4(dst string, sport, dport uint16, ttl uint8, df bool, payload []byte) []byte {
	ip := hs.ip4hdr(dst, layers.IPProtocolUDP, ttl)
	ip.Id = 0x1234
	if !df {
		ip.Flags = 0
	}
	udp := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
	_ = udp.SetNetworkLayerForChecksum(ip)
	return serialize(hs.h.t, hs.eth(layers.EthernetTypeIPv4), ip, udp, gopacket.Payload(payload))
}

// udp6 builds a UDP/IPv6 frame from this host to the router's MAC.
func (hs *host) udp6(dst string, sport, dport uint16, hop uint8, payload []byte) []byte {
	ip := hs.ip6hdr(dst, layers.IPProtocolUDP, hop)
	udp := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
	_ = udp.SetNetworkLayerForChecksum(ip)
	return serialize(hs.h.t, hs.eth(layers.EthernetTypeIPv6), ip, udp, gopacket.Payload(payload))
}

var syncID uint16 = 0x5000

// sync pings the router's address on this host's link and returns every
// frame the router sent towards the host before the echo reply. Frames are
// handled in order and transmit batches are flushed in order, so whatever
// the router was going to send because of earlier frames precedes the
// reply. The router must know the host's MAC (see permanent).
func (hs *host) sync() []gopacket.Packet {
	hs.h.t.Helper()
	syncID++
	id := syncID
	raddr := hs.h.routerAddr(hs.link, false)
	hs.send(hs.eth(layers.EthernetTypeIPv4), hs.ip4hdr(raddr.String(), layers.IPProtocolICMPv4, 64),
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: id, Seq: 1})
	var before []gopacket.Packet
	for {
		p := hs.recv()
		if ic, ok := p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4); ok &&
			ic.TypeCode.Type() == layers.ICMPv4TypeEchoReply && ic.Id == id {
			return before
		}
		before = append(before, p)
		if len(before) > 1000 {
			hs.h.t.Fatal("sync: no echo reply among 1000 frames")
		}
	}
}

// quiet checks (with sync) that the router sent nothing towards this host.
func (hs *host) quiet() {
	hs.h.t.Helper()
	if ps := hs.sync(); len(ps) != 0 {
		hs.h.t.Fatalf("router sent %d unexpected frame(s) on %s, first: %v", len(ps), hs.link, ps[0])
	}
}

// checkSums verifies every checksum of an Ethernet/IP frame: the IPv4
// header, and the TCP, UDP, ICMP or ICMPv6 checksum of an unfragmented
// packet.
func checkSums(t testing.TB, frame []byte) {
	t.Helper()
	et, off, _, ok := hdr.L2Payload(frame)
	if !ok {
		t.Fatalf("bad L2 header: % x", frame)
	}
	var src, dst netip.Addr
	var proto uint8
	var l4 []byte
	switch et {
	case hdr.EtherTypeIPv4:
		ip := hdr.IPv4(frame[off:])
		if !ip.IsValid() || !ip.ChecksumValid() {
			t.Fatalf("IPv4 header invalid or bad checksum: % x", frame[off:])
		}
		if int(ip.TotalLen()) != len(ip) {
			t.Fatalf("IPv4 total length %d, frame carries %d", ip.TotalLen(), len(ip))
		}
		if ip.IsFragment() {
			return
		}
		src, dst, proto, l4 = ip.Src(), ip.Dst(), ip.Protocol(), ip.Payload()
	case hdr.EtherTypeIPv6:
		ip := hdr.IPv6(frame[off:])
		if !ip.IsValid() || hdr.IPv6Len+int(ip.PayloadLen()) != len(ip) {
			t.Fatalf("IPv6 header invalid or wrong payload length: % x", frame[off:])
		}
		p, o, frag, ok := hdr.IPv6Transport(ip)
		if !ok || frag {
			return
		}
		src, dst, proto, l4 = ip.Src(), ip.Dst(), p, ip[o:]
	default:
		return
	}
	switch proto {
	case hdr.IPProtoTCP, hdr.IPProtoUDP, hdr.IPProtoICMP, hdr.IPProtoICMPv6:
		if !hdr.TransportChecksumValid(src, dst, proto, l4) {
			t.Fatalf("bad transport checksum (proto %d) in % x", proto, frame)
		}
	}
}

// ip4Of and ip6Of extract the network layers or fail.
func ip4Of(t testing.TB, p gopacket.Packet) *layers.IPv4 {
	t.Helper()
	ip, ok := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	if !ok {
		t.Fatalf("want IPv4, got %v", p)
	}
	return ip
}

func ip6Of(t testing.TB, p gopacket.Packet) *layers.IPv6 {
	t.Helper()
	ip, ok := p.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
	if !ok {
		t.Fatalf("want IPv6, got %v", p)
	}
	return ip
}

func ethOf(p gopacket.Packet) *layers.Ethernet {
	return p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
}

func addrOf(b []byte) netip.Addr {
	a, _ := netip.AddrFromSlice(b)
	return a.Unmap()
}

// openPcap opens a capture-file port for link l (files from pcapFiles)
// behind a gate: its frames flow only once the test opens the gate, after
// the link is configured.
func (h *harness) openPcap(l *api.Link, mac [6]byte) (port.Port, error) {
	f := h.pcapFiles[l.Name]
	p, err := pcap.Open(f[0], f[1], pcap.WithNumTx(dataplane.TxQueues), pcap.WithMAC(mac), pcap.WithMTU(1500))
	if err != nil {
		return nil, err
	}
	g := &gatedPort{Port: p, pcap: p}
	h.pcapPorts[l.Name] = g
	return g, nil
}

// gatedPort holds a port's receive side shut until open is called.
type gatedPort struct {
	port.Port
	pcap *pcap.Port
	on   atomic.Bool
}

type gatedQueue struct {
	g *gatedPort
	q port.RxQueue
}

func (g *gatedPort) open() { g.on.Store(true) }

func (g *gatedPort) RxQueues() []port.RxQueue {
	var out []port.RxQueue
	for _, q := range g.Port.RxQueues() {
		out = append(out, gatedQueue{g, q})
	}
	return out
}

func (q gatedQueue) Receive(pool *pkt.Pool, pkts []*pkt.Packet, timeout time.Duration) int {
	if !q.g.on.Load() {
		time.Sleep(min(timeout, time.Millisecond))
		return 0
	}
	return q.q.Receive(pool, pkts, timeout)
}
