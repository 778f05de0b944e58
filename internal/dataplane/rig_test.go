package dataplane

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"flowpath/internal/fib"
	"flowpath/internal/hdr"
	"flowpath/internal/neigh"
	"flowpath/internal/pkt"
	"flowpath/internal/port"
	"flowpath/internal/port/mem"
)

// The rig is a router built by hand, without the control plane and
// without goroutines: two devices on memory ports, each paired with a
// peer port the test drains, a FIB, permanent neighbours, and one worker
// that the test drives by calling processBatch and flush itself.
//
//	h1 (10.1.0.1, fd00:1::1)          h2 (10.2.0.1, fd00:2::1)
//	peer1 ═══ p1 [dev 2 r1] router [dev 3 r2] p2 ═══ peer2
//	          10.1.0.254/24              10.2.0.254/24
//	          fd00:1::254/64             fd00:2::254/64

const (
	devR1 = 2
	devR2 = 3
)

var (
	macR1 = hdr.MAC{0x02, 0xfe, 0, 0, 0, 1}
	macR2 = hdr.MAC{0x02, 0xfe, 0, 0, 0, 2}
	macH1 = hdr.MAC{0x02, 0, 0, 0, 1, 1}
	macH2 = hdr.MAC{0x02, 0, 0, 0, 2, 1}

	ipR1  = netip.MustParseAddr("10.1.0.254")
	ipR2  = netip.MustParseAddr("10.2.0.254")
	ipH1  = netip.MustParseAddr("10.1.0.1")
	ipH2  = netip.MustParseAddr("10.2.0.1")
	ip6R1 = netip.MustParseAddr("fd00:1::254")
	ip6R2 = netip.MustParseAddr("fd00:2::254")
	ip6H1 = netip.MustParseAddr("fd00:1::1")
	ip6H2 = netip.MustParseAddr("fd00:2::1")
)

type rig struct {
	e            *Engine
	w            *worker
	p1, p2       *mem.Port
	peer1, peer2 *mem.Port
	drain        [2]port.RxQueue
	dpool        *pkt.Pool
	dbuf         [pkt.BatchSize]*pkt.Packet
	batch        [pkt.BatchSize]*pkt.Packet
	setup        time.Duration // benchmarks: time to build the rig
}

type rigOpts struct {
	cfg     func(*Config)
	routes  func(tx *fib.Txn) // extra routes
	r2      port.Offloads     // offloads of r2's port
	hashL4  bool
	noNeigh bool      // leave h1 and h2 unresolved
	r2Port  port.Port // replaces r2's memory port (benchmarks: a sink)
	// vlans adds r1.5 (dev 4, VID 5 on r1, 10.55.0.254/24, neighbour
	// 10.55.0.1 = h1) and r2.6 (dev 5, VID 6 on r2, 10.66.0.254/24,
	// neighbour 10.66.0.1 = h2).
	vlans bool
}

const (
	devR1V5 = 4
	devR2V6 = 5
)

func mustAdd(tb testing.TB, tx *fib.Txn, r fib.Route) {
	tb.Helper()
	if err := tx.AddRoute(r, fib.FlagsAdd); err != nil {
		tb.Fatalf("route %s: %v", r.Prefix, err)
	}
}

// kernelRoutes adds what an address on a device gives: a local route and
// the connected prefix.
func kernelRoutes(tb testing.TB, tx *fib.Txn, dev uint32, p netip.Prefix) {
	nh := []fib.Nexthop{{Dev: dev}}
	local := fib.Route{Table: fib.TableLocal, Prefix: netip.PrefixFrom(p.Addr(), p.Addr().BitLen()), Type: fib.RouteLocal,
		Scope: fib.ScopeHost, Protocol: fib.ProtoKernel, Nexthops: nh}
	conn := fib.Route{Table: fib.TableMain, Prefix: p.Masked(), Type: fib.RouteUnicast, Scope: fib.ScopeLink,
		Protocol: fib.ProtoKernel, Nexthops: nh}
	if p.Addr().Is4() {
		local.PrefSrc, conn.PrefSrc = p.Addr(), p.Addr()
	} else {
		conn.Scope, conn.Metric = fib.ScopeUniverse, 256
	}
	mustAdd(tb, tx, local)
	mustAdd(tb, tx, conn)
}

func newRig(tb testing.TB, o rigOpts) *rig {
	tb.Helper()
	cfg := DefaultConfig()
	cfg.PoolSize = 512
	cfg.RxTimeout = time.Millisecond
	if o.cfg != nil {
		o.cfg(&cfg)
	}
	e := New(cfg)
	r := &rig{e: e, dpool: pkt.NewPool("drain", 2*pkt.BatchSize)}
	r.p1 = mem.New("p1", macR1, 1500, TxQueues)
	r.p1.SetOffloads(port.Offloads{RxGSO: true})
	r.p2 = mem.New("p2", macR2, 1500, TxQueues)
	r.p2.SetOffloads(o.r2)
	r.peer1 = mem.New("peer1", macH1, 0, 1)
	r.peer2 = mem.New("peer2", macH2, 0, 1)
	r.peer1.SetOffloads(port.Offloads{RxGSO: true, TxGSO: true})
	r.peer2.SetOffloads(port.Offloads{RxGSO: true, TxGSO: true})
	mem.Pair(r.p1, r.peer1)
	mem.Pair(r.p2, r.peer2)
	r.drain[0] = r.peer1.RxQueues()[0]
	r.drain[1] = r.peer2.RxQueues()[0]

	a1 := []netip.Prefix{netip.MustParsePrefix("10.1.0.254/24")}
	a16 := []netip.Prefix{netip.MustParsePrefix("fd00:1::254/64")}
	a2 := []netip.Prefix{netip.MustParsePrefix("10.2.0.254/24")}
	a26 := []netip.Prefix{netip.MustParsePrefix("fd00:2::254/64")}
	d1 := &Device{Index: devR1, Name: "r1", Kind: "mem", MAC: macR1, MTU: 1500, Up: true, Port: r.p1, Addr4: a1, Addr6: a16}
	d2 := &Device{Index: devR2, Name: "r2", Kind: "mem", MAC: macR2, MTU: 1500, Up: true, Port: r.p2, Addr4: a2, Addr6: a26}
	if o.r2Port != nil {
		d2.Port = o.r2Port
	}

	tx := fib.Empty().Begin()
	for _, a := range []struct {
		dev uint32
		p   netip.Prefix
	}{{devR1, a1[0]}, {devR1, a16[0]}, {devR2, a2[0]}, {devR2, a26[0]}} {
		kernelRoutes(tb, tx, a.dev, a.p)
	}
	if o.routes != nil {
		o.routes(tx)
	}
	devs := []*Device{nil, nil, d1, d2}
	if o.vlans {
		v5 := &Device{Index: devR1V5, Name: "r1.5", Kind: "vlan", MAC: macR1, MTU: 1500, Up: true,
			Addr4: []netip.Prefix{netip.MustParsePrefix("10.55.0.254/24")}, VLAN: &VLANDev{Parent: d1, VID: 5, TPID: hdr.EtherTypeVLAN}}
		v6 := &Device{Index: devR2V6, Name: "r2.6", Kind: "vlan", MAC: macR2, MTU: 1500, Up: true,
			Addr4: []netip.Prefix{netip.MustParsePrefix("10.66.0.254/24")}, VLAN: &VLANDev{Parent: d2, VID: 6, TPID: hdr.EtherTypeVLAN}}
		d1.VLANs = map[uint32]*Device{VLANKey(hdr.EtherTypeVLAN, 5): v5}
		d2.VLANs = map[uint32]*Device{VLANKey(hdr.EtherTypeVLAN, 6): v6}
		kernelRoutes(tb, tx, devR1V5, v5.Addr4[0])
		kernelRoutes(tb, tx, devR2V6, v6.Addr4[0])
		devs = append(devs, v5, v6)
	}
	s := &Snapshot{Devices: devs, FIB: tx.Commit(), HashL4: o.hashL4}
	e.Publish(s)
	if o.vlans {
		for _, n := range []struct {
			dev  uint32
			addr string
			mac  hdr.MAC
		}{{devR1V5, "10.55.0.1", macH1}, {devR2V6, "10.66.0.1", macH2}} {
			if err := e.Neigh().Add(neigh.Entry{Dev: n.dev, Addr: netip.MustParseAddr(n.addr), MAC: n.mac, State: neigh.Permanent}, neigh.CmdAdd); err != nil {
				tb.Fatal(err)
			}
		}
	}

	if !o.noNeigh {
		for _, n := range []struct {
			dev  uint32
			addr netip.Addr
			mac  hdr.MAC
		}{{devR1, ipH1, macH1}, {devR1, ip6H1, macH1}, {devR2, ipH2, macH2}, {devR2, ip6H2, macH2}} {
			if err := e.Neigh().Add(neigh.Entry{Dev: n.dev, Addr: n.addr, MAC: n.mac, State: neigh.Permanent}, neigh.CmdAdd); err != nil {
				tb.Fatal(err)
			}
		}
	}
	r.w = newWorker(e, 0, devR1, r.p1.RxQueues()[0], 0, e.cfg.PoolSize)
	r.w.snap = e.Snapshot()
	r.w.now = r.w.clock()
	return r
}

// packet takes a packet from the worker's pool holding frame.
func (r *rig) packet(tb testing.TB, frame []byte, g pkt.GSO) *pkt.Packet {
	p := r.w.pool.Get()
	if p == nil {
		tb.Fatal("worker pool empty")
	}
	if !p.SetBytes(frame) {
		p.Truncate(0)
		p.SetBytes(frame[:pkt.MaxFrame])
	}
	p.GSO = g
	return p
}

// run pushes frames through the pipeline as one batch and flushes.
func (r *rig) run(tb testing.TB, frames ...[]byte) {
	for i, f := range frames {
		r.batch[i] = r.packet(tb, f, pkt.GSO{})
	}
	r.w.processBatch(r.batch[:len(frames)])
	r.w.flush()
}

// drainPeers empties both peers' receive sides and returns how many frames
// each got. It does not allocate.
func (r *rig) drainPeers() (n1, n2 int) {
	for i, q := range r.drain {
		for {
			n := q.Receive(r.dpool, r.dbuf[:], 0)
			if n == 0 {
				break
			}
			for k := 0; k < n; k++ {
				r.dpool.Put(r.dbuf[k])
				r.dbuf[k] = nil
			}
			if i == 0 {
				n1 += n
			} else {
				n2 += n
			}
		}
	}
	return n1, n2
}

// take empties one peer and returns copies of its frames (allocates).
func (r *rig) take(peer int) [][]byte {
	var out [][]byte
	for {
		n := r.drain[peer].Receive(r.dpool, r.dbuf[:], 0)
		if n == 0 {
			return out
		}
		for k := 0; k < n; k++ {
			out = append(out, append([]byte(nil), r.dbuf[k].Bytes()...))
			r.dpool.Put(r.dbuf[k])
			r.dbuf[k] = nil
		}
	}
}

// stopDrain does what worker.run does when it stops: pending packets go
// back to the pool and the transmit batches are flushed.
func (r *rig) stopDrain() {
	r.w.pending.Drain(r.w.discardPending)
	r.w.pendingLen.Store(0)
	r.w.flush()
}

// ---- frame builders (hdr only, so that they are cheap and exact) ----

func ethFrame(dst, src hdr.MAC, et uint16, n int) []byte {
	b := make([]byte, hdr.EthernetLen+n)
	hdr.PutEthernet(b, dst, src, et)
	return b
}

// udp4Frame is a UDP/IPv4 frame from h1 to the router with a payload of
// n bytes.
func udp4Frame(src, dst netip.Addr, ttl uint8, df bool, sport, dport uint16, n int) []byte {
	b := ethFrame(macR1, macH1, hdr.EtherTypeIPv4, hdr.IPv4MinLen+hdr.UDPLen+n)
	ip := b[hdr.EthernetLen:]
	hdr.PutIPv4(ip, &hdr.IPv4Fields{TotalLen: uint16(len(ip)), ID: 0x1234, DF: df, TTL: ttl,
		Protocol: hdr.IPProtoUDP, Src: src, Dst: dst})
	u := ip[hdr.IPv4MinLen:]
	for i := hdr.UDPLen; i < len(u); i++ {
		u[i] = byte(i)
	}
	hdr.PutUDP(u, sport, dport, uint16(len(u)))
	hdr.UDP(u).SetChecksum(hdr.TransportChecksum(src, dst, hdr.IPProtoUDP, u))
	return b
}

func udp6Frame(src, dst netip.Addr, hop uint8, sport, dport uint16, n int) []byte {
	b := ethFrame(macR1, macH1, hdr.EtherTypeIPv6, hdr.IPv6Len+hdr.UDPLen+n)
	ip := b[hdr.EthernetLen:]
	hdr.PutIPv6(ip, &hdr.IPv6Fields{PayloadLen: uint16(hdr.UDPLen + n), NextHeader: hdr.IPProtoUDP, HopLimit: hop, Src: src, Dst: dst})
	u := ip[hdr.IPv6Len:]
	for i := hdr.UDPLen; i < len(u); i++ {
		u[i] = byte(i)
	}
	hdr.PutUDP(u, sport, dport, uint16(len(u)))
	hdr.UDP(u).SetChecksum(hdr.TransportChecksum(src, dst, hdr.IPProtoUDP, u))
	return b
}

func echo4Frame(src, dst netip.Addr, n int) []byte {
	b := ethFrame(macR1, macH1, hdr.EtherTypeIPv4, hdr.IPv4MinLen+8+n)
	ip := b[hdr.EthernetLen:]
	hdr.PutIPv4(ip, &hdr.IPv4Fields{TotalLen: uint16(len(ip)), ID: 9, TTL: 64, Protocol: hdr.IPProtoICMP, Src: src, Dst: dst})
	ic := hdr.ICMPv4(ip[hdr.IPv4MinLen:])
	ic[0] = hdr.ICMPv4Echo
	ic.SetID(77)
	ic.SetSeq(1)
	ic.UpdateChecksum()
	return b
}

func echo6Frame(src, dst netip.Addr, n int) []byte {
	b := ethFrame(macR1, macH1, hdr.EtherTypeIPv6, hdr.IPv6Len+8+n)
	ip := b[hdr.EthernetLen:]
	hdr.PutIPv6(ip, &hdr.IPv6Fields{PayloadLen: uint16(8 + n), NextHeader: hdr.IPProtoICMPv6, HopLimit: 64, Src: src, Dst: dst})
	ic := hdr.ICMPv6(ip[hdr.IPv6Len:])
	ic[0] = hdr.ICMPv6EchoRequest
	ic.SetID(77)
	ic.UpdateChecksum(src, dst)
	return b
}

// tcpSuper is a TCP super-frame from h1 as a TSO sender leaves it: one
// packet with the whole payload, the checksum field holding the
// pseudo-header sum, and the matching GSO state.
func tcpSuper(src, dst netip.Addr, mss, n int) ([]byte, pkt.GSO) {
	v6 := src.Is6()
	l3 := hdr.IPv4MinLen
	et := hdr.EtherTypeIPv4
	if v6 {
		l3, et = hdr.IPv6Len, hdr.EtherTypeIPv6
	}
	b := ethFrame(macR1, macH1, et, l3+hdr.TCPMinLen+n)
	ip := b[hdr.EthernetLen:]
	if v6 {
		hdr.PutIPv6(ip, &hdr.IPv6Fields{PayloadLen: uint16(hdr.TCPMinLen + n), NextHeader: hdr.IPProtoTCP, HopLimit: 64, Src: src, Dst: dst})
	} else {
		hdr.PutIPv4(ip, &hdr.IPv4Fields{TotalLen: uint16(len(ip)), ID: 0x4000, DF: true, TTL: 64, Protocol: hdr.IPProtoTCP, Src: src, Dst: dst})
	}
	t := ip[l3:]
	hdr.PutTCP(t, &hdr.TCPFields{SrcPort: 40000, DstPort: 5201, Seq: 1000, Ack: 1, Flags: 0x18, Window: 512})
	for i := hdr.TCPMinLen; i < len(t); i++ {
		t[i] = byte(i * 13)
	}
	binary.BigEndian.PutUint16(t[16:], ^hdr.Fold(hdr.PseudoHeaderSum(src, dst, hdr.IPProtoTCP, len(t))))
	typ := pkt.GSOTCPv4
	if v6 {
		typ = pkt.GSOTCPv6
	}
	cs := uint16(hdr.EthernetLen + l3)
	return b, pkt.GSO{Type: typ, Size: uint16(mss), HdrLen: cs + hdr.TCPMinLen, NeedsCsum: true, CsumStart: cs, CsumOffset: 16}
}
