package dataplane

import (
	"net/netip"
	"testing"

	"flowpath/internal/fib"
	"flowpath/internal/hdr"
	"flowpath/internal/neigh"
	"flowpath/internal/pkt"
	"flowpath/internal/port"
	"flowpath/internal/reasm"
)

// fuzzRoutes gives the fuzz rig every kind of route: a gateway route with
// an MTU, an ECMP route with one unresolved leg, reject routes, a policy
// table, for both families.
func fuzzRoutes(tb testing.TB) func(tx *fib.Txn) {
	return func(tx *fib.Txn) {
		nh := func(gw string, dev uint32) fib.Nexthop {
			return fib.Nexthop{Gateway: netip.MustParseAddr(gw), Dev: dev}
		}
		pfx := netip.MustParsePrefix
		mustAdd(tb, tx, fib.Route{Table: fib.TableMain, Prefix: pfx("10.9.0.0/24"), MTU: 1300, Nexthops: []fib.Nexthop{nh("10.2.0.1", devR2)}})
		mustAdd(tb, tx, fib.Route{Table: fib.TableMain, Prefix: pfx("10.8.0.0/24"),
			Nexthops: []fib.Nexthop{nh("10.2.0.1", devR2), nh("10.2.0.2", devR2)}})
		mustAdd(tb, tx, fib.Route{Table: fib.TableMain, Prefix: pfx("10.5.0.0/24"), Type: fib.RouteUnreachable})
		mustAdd(tb, tx, fib.Route{Table: fib.TableMain, Prefix: pfx("10.6.0.0/24"), Type: fib.RouteProhibit})
		mustAdd(tb, tx, fib.Route{Table: fib.TableMain, Prefix: pfx("10.7.0.0/24"), Type: fib.RouteBlackhole})
		mustAdd(tb, tx, fib.Route{Table: fib.TableMain, Prefix: pfx("fd00:9::/64"), MTU: 1300, Metric: 1024,
			Nexthops: []fib.Nexthop{nh("fd00:2::1", devR2)}})
		mustAdd(tb, tx, fib.Route{Table: fib.TableMain, Prefix: pfx("fd00:8::/64"), Metric: 1024,
			Nexthops: []fib.Nexthop{nh("fd00:2::1", devR2), nh("fd00:2::2", devR2)}})
		mustAdd(tb, tx, fib.Route{Table: fib.TableMain, Prefix: pfx("fd00:5::/64"), Type: fib.RouteUnreachable})
		mustAdd(tb, tx, fib.Route{Table: fib.TableMain, Prefix: pfx("fd00:6::/64"), Type: fib.RouteProhibit})
		mustAdd(tb, tx, fib.Route{Table: fib.TableMain, Prefix: pfx("fd00:7::/64"), Type: fib.RouteBlackhole})
		mustAdd(tb, tx, fib.Route{Table: 100, Prefix: pfx("10.9.0.0/24"), Nexthops: []fib.Nexthop{nh("10.1.0.1", devR1)}})
		if err := tx.AddRule(fib.Rule{Family: 4, Priority: 100, Src: pfx("10.1.0.128/25"), Table: 100}); err != nil {
			tb.Fatal(err)
		}
		if err := tx.AddRule(fib.Rule{Family: 4, Priority: 101, Dst: pfx("10.4.0.0/24"), Action: fib.RuleUnreachable}); err != nil {
			tb.Fatal(err)
		}
	}
}

// seedFrames are valid frames of every kind the router handles.
func seedFrames() (frames [][]byte, gsos []pkt.GSO) {
	add := func(b []byte) { frames, gsos = append(frames, b), append(gsos, pkt.GSO{}) }
	a := netip.MustParseAddr
	add(udp4Frame(ipH1, ipH2, 64, true, 1, 2, 22))
	add(udp4Frame(ipH1, a("10.2.0.99"), 64, true, 1, 2, 22))           // unresolved: pending
	add(udp4Frame(a("10.1.0.77"), a("10.2.0.99"), 64, true, 1, 2, 22)) // both unresolved
	add(udp4Frame(ipH1, ipH2, 1, true, 1, 2, 22))
	add(udp4Frame(ipH1, a("10.9.0.1"), 64, true, 1, 2, 1400)) // frag needed (route mtu)
	add(udp4Frame(ipH1, a("10.9.0.1"), 64, false, 1, 2, 1400))
	add(udp4Frame(ipH1, a("10.8.0.1"), 64, true, 1, 2, 22))
	add(udp4Frame(ipH1, a("10.5.0.1"), 64, true, 1, 2, 22))
	add(udp4Frame(ipH1, a("10.6.0.1"), 64, true, 1, 2, 22))
	add(udp4Frame(ipH1, a("10.7.0.1"), 64, true, 1, 2, 22))
	add(udp4Frame(ipH1, a("10.4.0.1"), 64, true, 1, 2, 22))
	add(udp4Frame(a("10.1.0.200"), a("10.9.0.1"), 64, true, 1, 2, 22))
	add(udp4Frame(ipH1, a("10.77.0.1"), 64, true, 1, 2, 22))
	add(udp4Frame(ipH1, ipR1, 64, true, 1, 2, 22))
	add(echo4Frame(ipH1, ipR1, 56))
	add(echo4Frame(ipH1, ipR2, 56))
	add(udp6Frame(ip6H1, ip6H2, 64, 1, 2, 22))
	add(udp6Frame(ip6H1, a("fd00:2::99"), 64, 1, 2, 22))
	add(udp6Frame(ip6H1, ip6H2, 1, 1, 2, 22))
	add(udp6Frame(ip6H1, a("fd00:9::1"), 64, 1, 2, 1400))
	add(udp6Frame(ip6H1, a("fd00:8::1"), 64, 1, 2, 22))
	add(udp6Frame(ip6H1, a("fd00:5::1"), 64, 1, 2, 22))
	add(udp6Frame(ip6H1, a("fd00:7::1"), 64, 1, 2, 22))
	add(udp6Frame(ip6H1, a("fd00:77::1"), 64, 1, 2, 22))
	add(udp6Frame(a("fe80::1"), ip6H2, 64, 1, 2, 22))
	add(echo6Frame(ip6H1, ip6R1, 56))
	add(echo6Frame(ip6H1, ip6R2, 56))

	// ARP request and reply for the router.
	arp := func(op uint16, dst hdr.MAC) []byte {
		b := ethFrame(dst, macH1, hdr.EtherTypeARP, hdr.ARPLen)
		hdr.PutARP(b[hdr.EthernetLen:], op, macH1, ipH1, hdr.MAC{}, ipR1)
		return b
	}
	add(arp(hdr.ARPRequest, hdr.BroadcastMAC))
	add(arp(hdr.ARPReply, macR1))
	// Neighbour solicitation and advertisement.
	nd := func(typ uint8, dst netip.Addr, l2 hdr.MAC) []byte {
		n := 32
		b := ethFrame(l2, macH1, hdr.EtherTypeIPv6, hdr.IPv6Len+n)
		ip := b[hdr.EthernetLen:]
		hdr.PutIPv6(ip, &hdr.IPv6Fields{PayloadLen: uint16(n), NextHeader: hdr.IPProtoICMPv6, HopLimit: 255, Src: ip6H1, Dst: dst})
		ic := ip[hdr.IPv6Len:]
		if typ == hdr.ICMPv6NeighborSolicit {
			hdr.PutNDPNeighborSolicit(ic, ip6R1, macH1, true)
		} else {
			hdr.PutNDPNeighborAdvert(ic, ip6H1, hdr.NDPFlagSolicited|hdr.NDPFlagOverride, macH1)
		}
		hdr.ICMPv6(ic).SetChecksum(0)
		hdr.ICMPv6(ic).SetChecksum(hdr.TransportChecksum(ip6H1, dst, hdr.IPProtoICMPv6, ic))
		return b
	}
	snm := hdr.SolicitedNodeMulticast(ip6R1)
	add(nd(hdr.ICMPv6NeighborSolicit, snm, hdr.IPv6MulticastMAC(snm)))
	add(nd(hdr.ICMPv6NeighborAdvert, ip6R1, macR1))
	// GSO super-frames, TCP over both families and UDP-L4.
	for _, c := range []struct{ src, dst netip.Addr }{{ipH1, ipH2}, {ip6H1, ip6H2}, {ipH1, a("10.9.0.1")}} {
		b, g := tcpSuper(c.src, c.dst, 1000, 4000)
		frames, gsos = append(frames, b), append(gsos, g)
	}
	u := udp4Frame(ipH1, ipH2, 64, false, 1, 2, 3000)
	frames, gsos = append(frames, u), append(gsos, pkt.GSO{Type: pkt.GSOUDPL4, Size: 1000, HdrLen: 42, NeedsCsum: true, CsumStart: 34, CsumOffset: 6})
	// Tagged frames for the rig's VLAN devices (rigOpts.vlans): VID 5 on
	// r1 to VID 6 on r2, a super-frame among them, an unknown VID, a
	// priority tag, QinQ.
	v55, v66 := a("10.55.0.1"), a("10.66.0.1")
	add(withTag(udp4Frame(v55, v66, 64, true, 1, 2, 22), 5))
	add(withTag(udp4Frame(v55, a("10.55.0.254"), 64, true, 1, 2, 22), 5))
	add(withTag(udp4Frame(ipH1, ipH2, 64, true, 1, 2, 22), 0))
	add(withTag(udp4Frame(v55, v66, 64, true, 1, 2, 22), 9))
	add(withTag(withTag(udp4Frame(v55, v66, 64, true, 1, 2, 22), 5), 5))
	b, g := tcpSuper(v55, v66, 1000, 4000)
	g.CsumStart += hdr.VLANLen
	g.HdrLen += hdr.VLANLen
	frames, gsos = append(frames, withTag(b, 5)), append(gsos, g)
	return frames, gsos
}

// FuzzPipeline runs a random frame with random offload state through the
// whole pipeline, then fails every pending resolution and drains the
// worker the way it stops. Nothing may panic and every packet must be
// back in the pool.
func FuzzPipeline(f *testing.F) {
	frames, gsos := seedFrames()
	for i, b := range frames {
		g := gsos[i]
		var flags uint8
		if g.NeedsCsum {
			flags |= 1
		}
		if g.DataValid {
			flags |= 2
		}
		f.Add(b, uint8(g.Type), g.Size, g.HdrLen, g.CsumStart, g.CsumOffset, flags)
	}
	r := newRig(f, rigOpts{routes: fuzzRoutes(f), r2: port.Offloads{}, hashL4: true, vlans: true,
		cfg: func(c *Config) { c.PoolSize = 1200 }})
	// 10.1.0.77 and 10.2.0.99 stay unresolved; 10.2.0.2 has failed.
	if err := r.e.Neigh().Add(neigh.Entry{Dev: devR2, Addr: netip.MustParseAddr("10.2.0.2"), State: neigh.Failed}, neigh.CmdAdd|neigh.AddNoLLAddr); err != nil {
		f.Fatal(err)
	}
	now := int64(0)
	f.Fuzz(func(t *testing.T, frame []byte, typ uint8, size, hdrLen, csumStart, csumOff uint16, flags uint8) {
		g := pkt.GSO{Type: pkt.GSOType(typ % 6), Size: size, HdrLen: hdrLen, CsumStart: csumStart, CsumOffset: csumOff,
			NeedsCsum: flags&1 != 0, DataValid: flags&2 != 0, ECN: flags&4 != 0}
		// Half the time send the frame as is; otherwise force it to
		// the router's MAC so that it gets past ethernet input.
		if len(frame) >= hdr.EthernetLen && flags&8 != 0 {
			copy(frame, macR1[:])
		}
		w := r.w
		now += 10e9
		w.now = now
		r.batch[0] = r.packet(t, frame, g)
		n := 1
		if flags&16 != 0 { // a second copy in the same batch
			r.batch[1] = r.packet(t, frame, g)
			n = 2
		}
		w.processBatch(r.batch[:n])
		w.flush()
		r.drainPeers()
		// Resolution: first sight, then past MaxWait, so that queued
		// packets fail (host unreachable errors, which may queue again).
		w.resolvePending(now)
		w.flush()
		w.resolvePending(now + w.pending.MaxWait)
		w.flush()
		r.drainPeers()
		r.stopDrain()
		r.drainPeers()
		if w.pending.Len() != 0 {
			t.Fatalf("%d packets still pending after the stop drain", w.pending.Len())
		}
		// Fragments to us wait for the rest of their datagram until the
		// reassembly timeout, which the worker loop enforces.
		w.reasm.Expire(w.now+int64(reasm.DefaultTimeout6)+1, nil)
		if av, sz := w.pool.Available(), w.pool.Size(); av != sz {
			t.Fatalf("%d of %d packets not back in the pool", sz-av, sz)
		}
		if st := w.pool.Stats(); st.DoubleFree != 0 || st.Foreign != 0 {
			t.Fatalf("pool: %+v", st)
		}
		if r.dpool.Available() != r.dpool.Size() {
			t.Fatal("drain pool leaked")
		}
		// Keep the neighbour table's event rings from filling.
		r.e.neigh.Poll()
	})
}

// TestSeedFramesAreHandled checks the seeds are what they claim: each
// valid frame makes the router act (send, queue, or count a specific
// drop), none is rejected as malformed.
func TestSeedFramesAreHandled(t *testing.T) {
	frames, gsos := seedFrames()
	r := newRig(t, rigOpts{routes: fuzzRoutes(t), hashL4: true, vlans: true})
	malformed := []DropReason{DropL2Invalid, DropIPv4Invalid, DropIPv4Checksum, DropIPv6Invalid, DropIPv6ExtHeader,
		DropARPInvalid, DropNDInvalid, DropICMPInvalid, DropGSOFailed, DropOtherHost}
	for i, b := range frames {
		before := make([]uint64, numDropReasons)
		for k := range before {
			before[k] = r.w.c.drops[k].Load()
		}
		r.batch[0] = r.packet(t, b, gsos[i])
		r.w.processBatch(r.batch[:1])
		r.w.flush()
		for _, m := range malformed {
			if r.w.c.drops[m].Load() != before[m] {
				t.Fatalf("seed %d (% x...) dropped as %s", i, b[:min(len(b), 40)], m)
			}
		}
		r.drainPeers()
	}
	if r.w.pending.Len() == 0 {
		t.Fatal("no seed queued for resolution")
	}
	r.stopDrain()
	if r.w.pool.Available() != r.w.pool.Size() {
		t.Fatal("packets leaked")
	}
}
