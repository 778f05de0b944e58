package dataplane

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"flowpath/internal/fib"
	"flowpath/internal/hdr"
	"flowpath/internal/neigh"
	"flowpath/internal/pkt"
	"flowpath/internal/port"
	"flowpath/internal/tunnel"
)

// The VXLAN rig is the rig plus a flow-based VXLAN device:
//
//	h1 ═══ r1 [router] r2 ═══ h2 / underlay (VTEPs 10.2.0.1, or 10.128/9 via 10.2.0.1)
//	              vx (dev 4, external, dstport 4789, 10.99.0.1/24)
//
//	encap: 198.18.0.0+i/32 encap ip id VNI(i) dst VTEP(i) via 10.99.0.2 dev vx onlink
//	decap: h1 → 10.1.0.254:4789 VNI v → inner frame to h2, routed by main
const devVX = 4

var (
	macVX    = hdr.MAC{0x02, 0xfe, 0, 0, 0, 4}
	vxGW     = netip.MustParseAddr("10.99.0.2")
	macVXGW  = hdr.MAC{0x02, 0, 0, 0, 0x99, 2}
	encBase  = netip.MustParseAddr("198.18.0.0")
	vtepBase = netip.MustParseAddr("10.128.0.0")
)

func addrPlus(a netip.Addr, n int) netip.Addr {
	b := a.As4()
	v := binary.BigEndian.Uint32(b[:]) + uint32(n)
	binary.BigEndian.PutUint32(b[:], v)
	return netip.AddrFrom4(b)
}

// vxlanRig adds vx and n encap routes to a rig: route i goes to VTEP
// 10.2.0.1 when n is 1, else to 10.128.0.0+i, with VNI i+1.
func vxlanRig(tb testing.TB, o rigOpts, n int) *rig {
	tb.Helper()
	start := time.Now()
	r := newRig(tb, o)
	old := r.e.Snapshot()
	vx := &Device{Index: devVX, Name: "vx", Kind: "vxlan", MAC: macVX, MTU: 1450, Up: true,
		Addr4:  []netip.Prefix{netip.MustParsePrefix("10.99.0.1/24")},
		Tunnel: &TunnelDev{Kind: TunnelVXLAN, External: true, DstPort: 4789}}
	tx := old.FIB.Begin()
	kernelRoutes(tb, tx, devVX, vx.Addr4[0])
	mustAdd(tb, tx, fib.Route{Table: fib.TableMain, Prefix: netip.MustParsePrefix("10.128.0.0/9"),
		Nexthops: []fib.Nexthop{{Gateway: ipH2, Dev: devR2}}})
	for i := 0; i < n; i++ {
		dst := ipH2
		if n > 1 {
			dst = addrPlus(vtepBase, i)
		}
		enc, err := tunnel.Build(&tunnel.EncapConfig{Type: "ip", ID: uint64(i + 1), Dst: dst.String()})
		if err != nil {
			tb.Fatal(err)
		}
		mustAdd(tb, tx, fib.Route{Table: fib.TableMain, Prefix: netip.PrefixFrom(addrPlus(encBase, i), 32),
			Nexthops: []fib.Nexthop{{Gateway: vxGW, Dev: devVX, Flags: fib.NHOnLink, Encap: enc}}})
	}
	s := &Snapshot{Devices: append(append([]*Device(nil), old.Devices...), vx), FIB: tx.Commit(), HashL4: old.HashL4}
	r.e.Publish(s)
	r.w.snap = r.e.Snapshot()
	if err := r.e.Neigh().Add(neigh.Entry{Dev: devVX, Addr: vxGW, MAC: macVXGW, State: neigh.Permanent}, neigh.CmdAdd); err != nil {
		tb.Fatal(err)
	}
	r.setup = time.Since(start)
	return r
}

// vxlanDecapFrame is a VXLAN packet from h1 to the router with VNI vni
// whose inner frame is a 64-byte UDP packet from src to h2.
func vxlanDecapFrame(vni uint32, src netip.Addr, sport uint16) []byte {
	inner := udp4Frame(src, ipH2, 64, true, sport, 53, 64-42)
	hdr.PutEthernet(inner, macVX, hdr.MAC{2, 0, 0, 0, 0x99, 7}, hdr.EtherTypeIPv4)
	n := hdr.UDPLen + tunnel.VXLANHeaderLen + len(inner)
	b := ethFrame(macR1, macH1, hdr.EtherTypeIPv4, hdr.IPv4MinLen+n)
	ip := b[hdr.EthernetLen:]
	hdr.PutIPv4(ip, &hdr.IPv4Fields{TotalLen: uint16(len(ip)), ID: 1, TTL: 64, Protocol: hdr.IPProtoUDP, Src: ipH1, Dst: ipR1})
	u := ip[hdr.IPv4MinLen:]
	hdr.PutUDP(u, 40000+sport%1000, 4789, uint16(n))
	tunnel.PutVXLAN(u[hdr.UDPLen:], vni, 0, false)
	copy(u[hdr.UDPLen+tunnel.VXLANHeaderLen:], inner)
	return b
}

// checkEncapFrame checks one outer frame the encap path produced for
// route i of n.
func checkEncapFrame(t *testing.T, f []byte, i, n int) {
	t.Helper()
	vtep := ipH2
	if n > 1 {
		vtep = addrPlus(vtepBase, i)
	}
	ip := hdr.IPv4(f[hdr.EthernetLen:])
	if hdr.Ethernet(f).Dst() != macH2 || !ip.IsValid() || !ip.ChecksumValid() || ip.Dst() != vtep || ip.Src() != ipR2 ||
		ip.Protocol() != hdr.IPProtoUDP || ip.TTL() != 64 {
		t.Fatalf("outer frame % x", f[:48])
	}
	u := hdr.UDP(ip.Payload())
	vx := u[hdr.UDPLen:]
	vni := uint32(i + 1)
	want := []byte{8, 0, 0, 0, byte(vni >> 16), byte(vni >> 8), byte(vni), 0}
	if u.DstPort() != 4789 || string(vx[:8]) != string(want) {
		t.Fatalf("UDP/VXLAN % x, want VNI %d", u[:16], vni)
	}
	in := vx[8:]
	if hdr.Ethernet(in).Dst() != macVXGW || hdr.Ethernet(in).Src() != macVX || hdr.IPv4(in[14:]).Dst() != addrPlus(encBase, i) ||
		hdr.IPv4(in[14:]).TTL() != 63 {
		t.Fatalf("inner frame % x", in[:34])
	}
}

func TestVXLANRigEncapDecap(t *testing.T) {
	for _, n := range []int{1, 1000} {
		r := vxlanRig(t, rigOpts{}, n)
		for _, i := range []int{0, n / 2, n - 1} {
			r.run(t, udp4Frame(ipH1, addrPlus(encBase, i), 64, true, 1000, 53, 22))
			fs := r.take(1)
			if len(fs) != 1 {
				t.Fatalf("n=%d route %d: %d frames; drops %v", n, i, len(fs), r.dropsByName())
			}
			checkEncapFrame(t, fs[0], i, n)
		}
	}
	r := vxlanRig(t, rigOpts{}, 1)
	for _, vni := range []uint32{1, 77, 1<<24 - 1} {
		r.run(t, vxlanDecapFrame(vni, netip.MustParseAddr("10.200.0.9"), 5))
		fs := r.take(1)
		if len(fs) != 1 {
			t.Fatalf("decap VNI %d: %d frames; drops %v", vni, len(fs), r.dropsByName())
		}
		ip := hdr.IPv4(fs[0][hdr.EthernetLen:])
		if hdr.Ethernet(fs[0]).Dst() != macH2 || ip.Src() != netip.MustParseAddr("10.200.0.9") || ip.TTL() != 63 || !ip.ChecksumValid() {
			t.Fatalf("decapsulated frame % x", fs[0][:34])
		}
	}
}

// TestNoAllocsVXLAN: encapsulation through an encap ip route and a
// flow-based device, decapsulation to a forwarded packet, and a TCP
// super-frame encapsulated whole for an underlay that takes UDP-tunnel GSO
// (and not USO: one frame out is then only that path's) allocate nothing.
func TestNoAllocsVXLAN(t *testing.T) {
	super, superGSO := tcpSuper(ipH1, encBase, 1300, 20*1300)
	tunnelGSO := &sinkPort{mac: macR2, offload: port.Offloads{RxGSO: true, TxGSO: true, TxUDPTunnelGSO: true}}
	for _, c := range []struct {
		name  string
		frame []byte
		gso   pkt.GSO
		sink  *sinkPort // r2's port, instead of a memory port
	}{
		{"encap", udp4Frame(ipH1, encBase, 64, true, 1000, 53, 22), pkt.GSO{}, nil},
		{"decap", vxlanDecapFrame(42, netip.MustParseAddr("10.200.0.9"), 5), pkt.GSO{}, nil},
		{"encap-tunnel-gso", super, superGSO, tunnelGSO},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := rigOpts{}
			if c.sink != nil {
				o.r2Port = c.sink
			}
			r := vxlanRig(t, o, 1)
			// sentOne reports whether exactly one frame left towards h2
			// since before (the sink's count; a memory port is drained).
			sentOne := func(before uint64) bool {
				if c.sink != nil {
					return c.sink.sent.Load() == before+1
				}
				n1, n2 := r.drainPeers()
				return n1 == 0 && n2 == 1
			}
			bad := 0
			allocs := testing.AllocsPerRun(1000, func() {
				var before uint64
				if c.sink != nil {
					before = c.sink.sent.Load()
				}
				r.batch[0] = r.packet(t, c.frame, c.gso)
				r.w.processBatch(r.batch[:1])
				r.w.flush()
				if !sentOne(before) {
					bad++
				}
			})
			if bad != 0 {
				t.Fatalf("%d runs did not send one frame to h2; drops %v", bad, r.dropsByName())
			}
			if allocs != 0 {
				t.Fatalf("%v allocations per packet", allocs)
			}
			if r.w.pool.Available() != r.w.pool.Size() {
				t.Fatalf("%d packets not back in the pool", r.w.pool.Size()-r.w.pool.Available())
			}
		})
	}
}

// benchFrames is the number of distinct frames the VXLAN benchmarks cycle
// through (a power of two, for forwardFrames; more than 100k so that
// every endpoint or VNI is used).
const benchFrames = 1 << 17

// BenchmarkVXLANEncap forwards 64-byte UDP packets into the flow-based
// VXLAN device through encap ip routes: one route, or 100k routes each
// with its own VTEP and VNI with the traffic spread over all of them.
// ns/op is per packet.
//
// The active=64 case configures all 100k endpoints but sends to 64 of them
// (scattered over the table), the working set a VTEP has at any moment;
// it is measured the way BenchmarkForward's 1M-route case is. The spread
// case touches every endpoint and is bound by cache misses.
func BenchmarkVXLANEncap(b *testing.B) {
	for _, c := range []struct {
		n, active int
	}{{1, 1}, {100_000, 64}, {100_000, 100_000}} {
		name := fmt.Sprintf("endpoints=%d", c.n)
		if c.n > 1 {
			name += fmt.Sprintf("/active=%d", c.active)
		}
		n, active := c.n, c.active
		b.Run(name, func(b *testing.B) {
			r := vxlanRig(b, rigOpts{r2Port: &sinkPort{mac: macR2}}, n)
			frames := make([][]byte, benchFrames)
			for k := range frames {
				i := 0
				if n > 1 {
					i = ((k % active) * 7919) % n
				}
				frames[k] = udp4Frame(ipH1, addrPlus(encBase, i), 64, true, uint16(1024+k%50000), 53, 64-42)
			}
			forwardFrames(b, r, frames)
		})
	}
}

// BenchmarkVXLANDecap receives VXLAN packets on the flow-based device
// (one VNI, or 100k VNIs spread) and forwards the inner packets by the
// main table. ns/op is per packet.
func BenchmarkVXLANDecap(b *testing.B) {
	for _, n := range []int{1, 100_000} {
		b.Run(fmt.Sprintf("vnis=%d", n), func(b *testing.B) {
			r := vxlanRig(b, rigOpts{r2Port: &sinkPort{mac: macR2}}, 1)
			frames := make([][]byte, benchFrames)
			for k := range frames {
				vni := uint32(1)
				if n > 1 {
					vni = uint32((k*7919)%n) + 1
				}
				frames[k] = vxlanDecapFrame(vni, addrPlus(netip.MustParseAddr("10.200.0.0"), k%4096), uint16(k))
			}
			forwardFrames(b, r, frames)
		})
	}
}
