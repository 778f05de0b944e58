package dataplane

import (
	"net/netip"

	"flowpath/internal/gso"
	"flowpath/internal/hdr"
	"flowpath/internal/neigh"
	"flowpath/internal/pkt"
	"flowpath/internal/tunnel"
)

// output sends an IP packet (an Ethernet frame whose network header is at
// p.L3) out of device out towards the neighbour nh. fragMTU is non-zero
// when the IPv4 packet exceeds the path MTU and must be fragmented.
func (w *worker) output(out *Device, p *pkt.Packet, nh netip.Addr, fragMTU uint32) {
	if !out.Up {
		w.dropOut(out.Index, p, DropOutDown)
		return
	}
	p.OutPort, p.NextHop, p.MTU = out.Index, nh, fragMTU
	if out.Port == nil && out.Tunnel == nil && out.VLAN == nil {
		w.enqueue(out, p) // no medium, no neighbours: counted and discarded
		return
	}
	mac, st, ok := w.e.neigh.Lookup(out.Index, nh)
	if ok && st.Valid() {
		if st == neigh.Stale {
			w.e.neigh.UsedStale(w.id, out.Index, nh)
		}
		w.xmit(out, p, mac)
		return
	}
	// Unknown, incomplete or failed: (re)start resolution and wait.
	// Behind a flow-based tunnel a solicitation needs TX metadata: every
	// waiting packet leaves its own as the neighbour's hint, which the
	// manager's solicitations carry, the first one included (the kernel's
	// use the newest queued packet). The hint goes in before the miss is
	// posted, so the manager's first pass already finds it.
	if out.OverExternalTunnel() {
		if ti := p.Meta.TunnelInfo(); ti != nil && ti.IsTX() {
			w.e.hints.put(out.Index, nh, ti)
		}
	}
	w.e.neigh.Miss(w.id, out.Index, nh)
	if ev := w.pending.Push(out.Index, nh, p); ev != nil {
		w.dropOut(out.Index, ev, DropNeighQueueFull)
	}
}

// pendingReady sends a packet whose neighbour got resolved.
func (w *worker) pendingReady(p *pkt.Packet, mac [6]byte) {
	out := w.snap.Device(p.OutPort)
	if out == nil || !out.Up {
		w.dropOut(p.OutPort, p, DropOutDown)
		return
	}
	w.xmit(out, p, mac)
}

// pendingFailed collects a packet whose neighbour could not be resolved.
// It runs inside Pending.Resolve, which must not be re-entered, so the
// ICMP error (itself routed, and possibly queued for resolution) is sent
// by answerFailed once the walk is over.
func (w *worker) pendingFailed(p *pkt.Packet) {
	if w.nfailed == len(w.failedQ) {
		w.dropOut(p.OutPort, p, DropNeighFailed)
		return
	}
	w.failedQ[w.nfailed] = p
	w.nfailed++
}

// answerFailed answers the packets pendingFailed collected with host
// unreachable (forwarded packets only, as the kernel's ipv4_link_failure /
// ip6_link_failure do) and drops them.
func (w *worker) answerFailed() {
	for i := 0; i < w.nfailed; i++ {
		p := w.failedQ[i]
		w.failedQ[i] = nil
		if p.InPort != 0 {
			if in := w.snap.Device(p.InPort); in != nil {
				switch p.EtherType {
				case hdr.EtherTypeIPv4:
					w.icmp4Error(in, p, hdr.ICMPv4DestUnreachable, hdr.ICMPv4CodeHostUnreachable, 0)
				case hdr.EtherTypeIPv6:
					w.icmp6Error(in, p, hdr.ICMPv6DestUnreachable, hdr.ICMPv6CodeAddressUnreachable, 0)
				}
			}
		}
		w.dropOut(p.OutPort, p, DropNeighFailed)
	}
	w.nfailed = 0
}

// xmit rewrites the Ethernet header and queues the frame, fragmenting or
// segmenting it first when the output cannot take it as it is.
//
// A TCP super-frame inside a UDP tunnel datagram (tun), as AF_PACKET hands
// over a kernel VTEP's (plain TCP GSO by the virtio-net header, checksum
// start on the inner TCP header) or tunnelSendTunnelGSO builds, goes whole
// only to a port that takes UDP-tunnel GSO, marked as such. Any other port
// would take the header's word and segment or offload it as TCP, which the
// outer packet is not; so it is cut into whole tunnel datagrams, as the
// kernel's UDP-tunnel GSO would.
func (w *worker) xmit(out *Device, p *pkt.Packet, mac hdr.MAC) {
	eth := hdr.Ethernet(p.Bytes())
	eth.SetDst(mac)
	eth.SetSrc(out.MAC)
	if p.GSO.IsGSO() {
		udp, inner, v6, tun := gso.UDPTunnelOffsets(p)
		switch {
		case tun && out.TxUDPTunnelGSO && p.MTU == 0 && !mplsPush(p):
			markTunnelGSO(p, udp, inner, v6)
			w.emit(out, p)
			return
		case tun || !out.TxGSO || p.MTU != 0 || mplsPush(p) || (p.GSO.Type == pkt.GSOUDPL4 && !out.TxUSO):
			w.segmentOut(out, p, tun)
			return
		}
	}
	switch {
	case p.MTU != 0:
		w.fragment(out, p, p.MTU)
	default:
		if p.GSO.NeedsCsum && !out.TxGSO && !gso.CompleteChecksum(p) {
			w.dropOut(out.Index, p, DropGSOFailed)
			return
		}
		w.emit(out, p)
	}
}

// segmentOut cuts the super-frame p (a UDP tunnel datagram around one if
// tun) for out, fragmenting the pieces that exceed p.MTU when it is set.
func (w *worker) segmentOut(out *Device, p *pkt.Packet, tun bool) {
	var n int
	var ok bool
	if tun {
		n, ok = gso.SegmentUDPTunnel(p, w.pool, w.scratch[:])
	} else {
		n, ok = gso.Segment(p, w.pool, w.scratch[:])
	}
	if !ok {
		w.dropOut(out.Index, p, DropGSOFailed)
		return
	}
	fragMTU := p.MTU
	p.Free()
	for i := 0; i < n; i++ {
		s := w.scratch[i]
		w.scratch[i] = nil
		if fragMTU != 0 && s.Len()-int(s.L3) > int(fragMTU) {
			w.fragment(out, s, fragMTU)
			continue
		}
		w.emit(out, s)
	}
}

// markTunnelGSO fills in the tunnel offsets of the tunnel super-frame p
// for a port that takes it whole. The outer UDP checksum field says
// whether each datagram gets a checksum (a partial one is non-zero), as
// for gso.SegmentUDPTunnel.
func markTunnelGSO(p *pkt.Packet, udp, inner int, v6 bool) {
	b := p.Bytes()
	g := &p.GSO
	g.OuterL4, g.InnerL3, g.TunnelV6 = uint16(udp), uint16(inner), v6
	g.TunnelCsum = b[udp+6] != 0 || b[udp+7] != 0
}

// mplsPush reports whether emit will push an MPLS label stack onto p.
// A labelled super-frame cannot be handed to a port: the virtio-net
// header has no MPLS segmentation, and the kernel refuses TCP GSO under
// an ethertype other than IP's (AF_PACKET and TAP writes fail with
// EINVAL). So such a frame is segmented first and each segment labelled,
// as the kernel's MPLS GSO would do.
func mplsPush(p *pkt.Packet) bool {
	enc, _ := p.Encap.(*tunnel.Encap)
	return enc != nil && enc.Type == tunnel.EncapMPLS
}

// emit finishes a frame for device out: the route's MPLS label push (the
// lwtunnel xmit hook, after fragmentation and segmentation), then either
// the tunnel device's encapsulation or the port's transmit batch.
func (w *worker) emit(out *Device, p *pkt.Packet) {
	if p.Encap != nil {
		enc, _ := p.Encap.(*tunnel.Encap)
		p.Encap = nil
		if enc != nil && enc.Type == tunnel.EncapMPLS &&
			!tunnel.PushMPLS(p, enc.Labels, enc.MPLSTTL(!w.snap.MPLSNoTTLPropagate, w.snap.mplsDefaultTTL())) {
			w.dropOut(out.Index, p, DropTunnelEncap)
			return
		}
	}
	if out.Tunnel != nil {
		w.tunnelXmit(out, p)
		return
	}
	if out.VLAN != nil {
		w.vlanXmit(out, p)
		return
	}
	w.enqueue(out, p)
}

// fragment splits an IPv4 packet into fragments of at most mtu bytes.
func (w *worker) fragment(out *Device, p *pkt.Packet, mtu uint32) {
	if p.GSO.NeedsCsum && !gso.CompleteChecksum(p) {
		w.dropOut(out.Index, p, DropFragFailed)
		return
	}
	n, ok := gso.FragmentIPv4(p, int(mtu), w.pool, w.frags[:])
	if !ok {
		w.dropOut(out.Index, p, DropFragFailed)
		return
	}
	p.Free()
	for i := 0; i < n; i++ {
		f := w.frags[i]
		w.frags[i] = nil
		w.emit(out, f)
	}
}
