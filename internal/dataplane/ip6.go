package dataplane

import (
	"encoding/binary"
	"net/netip"

	"flowpath/internal/fib"
	"flowpath/internal/hdr"
	"flowpath/internal/neigh"
	"flowpath/internal/pkt"
	"flowpath/internal/reasm"
)

var allNodes = netip.MustParseAddr("ff02::1")

// ip6Input validates an IPv6 packet received on in, handles neighbour
// discovery, and routes the rest.
func (w *worker) ip6Input(in *Device, p *pkt.Packet) {
	ip := hdr.IPv6(p.Bytes()[p.L3:])
	if !ip.IsValid() || (ip.PayloadLen() == 0 && ip.NextHeader() == hdr.IPProtoHopByHop) {
		w.dropIn(in.Index, p, DropIPv6Invalid)
		return
	}
	if end := int(p.L3) + hdr.IPv6Len + int(ip.PayloadLen()); end < p.Len() {
		p.Truncate(end)
		ip = hdr.IPv6(p.Bytes()[p.L3:])
	}
	src, dst := ip.Src(), ip.Dst()
	if src.IsMulticast() || src.IsLoopback() {
		w.dropIn(in.Index, p, DropMartianSource)
		return
	}
	if dst.IsLoopback() || dst.IsUnspecified() {
		w.dropIn(in.Index, p, DropMartianDest)
		return
	}
	var chain hdr.IPv6Chain
	if !hdr.WalkIPv6(ip, &chain) {
		w.dropIn(in.Index, p, DropIPv6ExtHeader)
		return
	}
	proto, off, frag := chain.Proto, chain.Off, chain.IsFragment()
	if proto == hdr.IPProtoICMPv6 && !frag && off < len(ip) {
		switch ip[off] {
		case hdr.ICMPv6NeighborSolicit, hdr.ICMPv6NeighborAdvert,
			hdr.ICMPv6RouterSolicit, hdr.ICMPv6RouterAdvert, hdr.ICMPv6Redirect:
			w.ndInput(in, p, ip, off)
			return
		}
	}
	if dst.IsMulticast() {
		w.dropIn(in.Index, p, DropMulticast)
		return
	}
	s := w.snap
	fl := fib.Flow{Dst: dst, Src: src, IIF: in.Index, Mark: p.Mark, Proto: proto, TunID: rxTunID(p)}
	if s.HashL4 && !frag {
		fl.SrcPort, fl.DstPort = l4Ports(proto, ip[off:])
	}
	p.Hash = fib.FlowHash(&fl, s.HashL4)
	var res fib.Result
	if !s.FIB.LookupCached(w.routes, &fl, p.Hash, &res) {
		w.icmp6Error(in, p, hdr.ICMPv6DestUnreachable, hdr.ICMPv6CodeNoRoute, 0)
		w.dropIn(in.Index, p, DropNoRoute)
		return
	}
	switch res.Type {
	case fib.RouteUnicast:
		dropRXMeta(p)
		w.ip6Forward(in, p, ip, &res)
	case fib.RouteLocal:
		w.ip6Local(in, p, ip, &chain)
	case fib.RouteBlackhole:
		w.dropIn(in.Index, p, DropBlackhole)
	case fib.RouteUnreachable:
		w.icmp6Error(in, p, hdr.ICMPv6DestUnreachable, hdr.ICMPv6CodeNoRoute, 0)
		w.dropIn(in.Index, p, DropUnreachable)
	case fib.RouteProhibit:
		w.icmp6Error(in, p, hdr.ICMPv6DestUnreachable, hdr.ICMPv6CodeAdminProhibited, 0)
		w.dropIn(in.Index, p, DropProhibit)
	default:
		w.icmp6Error(in, p, hdr.ICMPv6DestUnreachable, hdr.ICMPv6CodeNoRoute, 0)
		w.dropIn(in.Index, p, DropNoRoute)
	}
}

// ip6Forward forwards a transit packet (ip6_forward). Routers never
// fragment IPv6: too big is always answered with packet too big.
func (w *worker) ip6Forward(in *Device, p *pkt.Packet, ip hdr.IPv6, res *fib.Result) {
	src, dst := ip.Src(), ip.Dst()
	if src.IsLinkLocalUnicast() || dst.IsLinkLocalUnicast() {
		if src.IsLinkLocalUnicast() {
			w.icmp6Error(in, p, hdr.ICMPv6DestUnreachable, hdr.ICMPv6CodeBeyondScope, 0)
		}
		w.dropIn(in.Index, p, DropLinkLocalScope)
		return
	}
	if ip.HopLimit() <= 1 {
		w.icmp6Error(in, p, hdr.ICMPv6TimeExceeded, 0, 0)
		w.dropIn(in.Index, p, DropTTLExceeded)
		return
	}
	nh := res.Nexthop
	out := w.snap.Device(nh.Dev)
	if out == nil || !out.Up {
		w.icmp6Error(in, p, hdr.ICMPv6DestUnreachable, hdr.ICMPv6CodeNoRoute, 0)
		w.dropIn(in.Index, p, DropOutDown)
		return
	}
	mtu := encapMTU(pathMTU(out, res), applyEncap(p, nh))
	if uint32(hdr.IPv6Len+int(ip.PayloadLen())) > mtu && !(p.GSO.IsGSO() && gsoFits(p, mtu)) {
		w.icmp6Error(in, p, hdr.ICMPv6PacketTooBig, 0, mtu)
		w.dropIn(in.Index, p, DropPacketTooBig)
		return
	}
	ip.DecHopLimit()
	w.output(out, p, nexthopOr(nh.Gateway, dst), 0)
}

// ip6Local answers echo requests to this host; UDP gets port unreachable.
// c is ip's extension header chain.
func (w *worker) ip6Local(in *Device, p *pkt.Packet, ip hdr.IPv6, c *hdr.IPv6Chain) {
	proto, off := c.Proto, c.Off
	if c.IsFragment() {
		// Reassembled before local delivery, as ipv6_frag_rcv does.
		q, r := w.reasm.AddIPv6(p, c, w.now)
		switch r {
		case reasm.Held:
			return
		case reasm.Done:
			var frag, ok bool
			p, ip = q, hdr.IPv6(q.Bytes()[q.L3:])
			if proto, off, frag, ok = hdr.IPv6Transport(ip); !ok || frag {
				w.dropIn(in.Index, p, DropIPv6ExtHeader) // a fragment inside a fragment
				return
			}
		default:
			w.dropIn(in.Index, p, reasmDrops[r])
			return
		}
	}
	switch proto {
	case hdr.IPProtoICMPv6:
		ic := hdr.ICMPv6(ip[off:])
		if len(ic) < 8 || hdr.TransportChecksum(ip.Src(), ip.Dst(), hdr.IPProtoICMPv6, ic) != ic.Checksum() {
			w.dropIn(in.Index, p, DropICMPInvalid)
			return
		}
		if ic.Type() != hdr.ICMPv6EchoRequest {
			w.dropIn(in.Index, p, DropLocalUnhandled)
			return
		}
		src, dst := ip.Src(), ip.Dst()
		ip.SetSrc(dst)
		ip.SetDst(src)
		ip.SetHopLimit(64)
		oldw := uint16(ic.Type())<<8 | uint16(ic.Code())
		ic[0] = hdr.ICMPv6EchoReply
		ic.SetChecksum(hdr.UpdateChecksum16(ic.Checksum(), oldw, uint16(hdr.ICMPv6EchoReply)<<8|uint16(ic.Code())))
		p.InPort = 0
		p.GSO = pkt.GSO{}
		if src.IsLinkLocalUnicast() {
			// Link-local addresses are only meaningful on the link the
			// request came from: answer there, not by a route lookup.
			w.output(in, p, src, 0)
			return
		}
		w.sendLocal6(p, ip)
	case hdr.IPProtoUDP:
		if w.snap.tunnels != nil && w.udpTunnelInput(in, p, int(p.L3)+off) {
			return
		}
		w.icmp6Error(in, p, hdr.ICMPv6DestUnreachable, hdr.ICMPv6CodePortUnreachable, 0)
		w.dropIn(in.Index, p, DropLocalUnhandled)
	default:
		w.dropIn(in.Index, p, DropLocalUnhandled)
	}
}

// sendLocal6 routes and sends an IPv6 packet this host originates.
func (w *worker) sendLocal6(p *pkt.Packet, ip hdr.IPv6) {
	s := w.snap
	fl := fib.Flow{Dst: ip.Dst(), Src: ip.Src(), Mark: p.Mark, Proto: ip.NextHeader()}
	var res fib.Result
	if !s.FIB.LookupCached(w.routes, &fl, fib.FlowHash(&fl, false), &res) || res.Type != fib.RouteUnicast {
		w.dropOut(0, p, DropNoRoute)
		return
	}
	out := s.Device(res.Nexthop.Dev)
	if out == nil {
		w.dropOut(0, p, DropOutDown)
		return
	}
	if mtu := encapMTU(pathMTU(out, &res), applyEncap(p, res.Nexthop)); uint32(hdr.IPv6Len+int(ip.PayloadLen())) > mtu {
		w.dropOut(out.Index, p, DropPacketTooBig)
		return
	}
	w.output(out, p, nexthopOr(res.Nexthop.Gateway, ip.Dst()), 0)
}

// icmp6MaxLen: an ICMPv6 error carries as much of the offending packet as
// fits in the minimum MTU (RFC 4443 2.4 (c)).
const icmp6MaxLen = 1280

// icmp6Error sends an ICMPv6 error about p back to its source; p is not
// consumed. info is the MTU (packet too big) or pointer (parameter problem).
func (w *worker) icmp6Error(in *Device, p *pkt.Packet, typ, code uint8, info uint32) {
	orig := hdr.IPv6(p.Bytes()[p.L3:])
	if !orig.IsValid() {
		return
	}
	src, dst := orig.Src(), orig.Dst()
	if src.IsUnspecified() || src.IsMulticast() || src.IsLoopback() {
		return
	}
	// RFC 4443 2.4 (e): no errors for multicast destinations except
	// packet too big and parameter problem code 2.
	if (dst.IsMulticast() || hdr.Ethernet(p.Bytes()).Dst().IsMulticast()) &&
		typ != hdr.ICMPv6PacketTooBig && !(typ == hdr.ICMPv6ParamProblem && code == 2) {
		return
	}
	if proto, off, frag, ok := hdr.IPv6Transport(orig); ok && !frag && proto == hdr.IPProtoICMPv6 {
		if off < len(orig) && orig[off] < 128 {
			return // never answer an error
		}
	}
	out, saddr, gw, q := w.errorStart(in, src, p.Mark)
	if q == nil {
		return
	}
	quote := hdr.IPv6Len + int(orig.PayloadLen())
	if max := icmp6MaxLen - hdr.IPv6Len - 8; quote > max {
		quote = max
	}
	plen := 8 + quote
	frame := q.Append(hdr.EthernetLen + hdr.IPv6Len + plen)
	hdr.PutEthernet(frame, hdr.MAC{}, out.MAC, hdr.EtherTypeIPv6)
	hdr.PutIPv6(frame[hdr.EthernetLen:], &hdr.IPv6Fields{PayloadLen: uint16(plen),
		NextHeader: hdr.IPProtoICMPv6, HopLimit: 64, Src: saddr, Dst: src})
	ic := frame[hdr.EthernetLen+hdr.IPv6Len:]
	ic[0], ic[1] = typ, code
	clear(ic[2:8])
	binary.BigEndian.PutUint32(ic[4:], info)
	copy(ic[8:], orig[:quote])
	hdr.ICMPv6(ic).SetChecksum(hdr.TransportChecksum(saddr, src, hdr.IPProtoICMPv6, ic))
	q.L3 = hdr.EthernetLen
	q.EtherType = hdr.EtherTypeIPv6
	w.c.icmpSent.Add(1)
	w.output(out, q, gw, 0)
}

// ndInput handles neighbour discovery (RFC 4861): solicitations for local
// addresses are answered, advertisements confirm neighbours. Router
// solicitations and advertisements are not served.
func (w *worker) ndInput(in *Device, p *pkt.Packet, ip hdr.IPv6, off int) {
	ic := hdr.ICMPv6(ip[off:])
	src, dst := ip.Src(), ip.Dst()
	if ip.HopLimit() != 255 || len(ic) < 8 || ic.Code() != 0 ||
		hdr.TransportChecksum(src, dst, hdr.IPProtoICMPv6, ic) != ic.Checksum() {
		w.dropIn(in.Index, p, DropNDInvalid)
		return
	}
	switch ic.Type() {
	case hdr.ICMPv6NeighborSolicit:
		ns := hdr.NDPNeighborSolicit(ic)
		if !ns.IsValid() {
			w.dropIn(in.Index, p, DropNDInvalid)
			return
		}
		target := ns.TargetAddress()
		if !hasAddr6(in, target) {
			w.dropIn(in.Index, p, DropARPIgnored)
			return
		}
		slla, hasSLLA := hdr.NDPLinkAddrOption(ns.Options(), hdr.NDPOptSourceLinkAddr)
		if src.IsUnspecified() && hasSLLA {
			w.dropIn(in.Index, p, DropNDInvalid) // RFC 4861 7.1.1
			return
		}
		if !src.IsUnspecified() && hasSLLA {
			w.e.neigh.Confirm(w.id, in.Index, src, slla, neigh.IsRequest)
		}
		l2dst := hdr.Ethernet(p.Bytes()).Src()
		if hasSLLA {
			l2dst = slla
		}
		ndst := src
		flags := uint8(hdr.NDPFlagRouter | hdr.NDPFlagOverride)
		if src.IsUnspecified() {
			ndst = allNodes
			l2dst = hdr.IPv6MulticastMAC(allNodes)
		} else {
			flags |= hdr.NDPFlagSolicited
		}
		w.sendNA(in, p, l2dst, target, ndst, flags)
	case hdr.ICMPv6NeighborAdvert:
		na := hdr.NDPNeighborAdvert(ic)
		if !na.IsValid() {
			w.dropIn(in.Index, p, DropNDInvalid)
			return
		}
		if tlla, ok := hdr.NDPLinkAddrOption(na.Options(), hdr.NDPOptTargetLinkAddr); ok {
			var f neigh.ConfirmFlags
			if na.Solicited() {
				f |= neigh.Solicited
			}
			if na.Override() {
				f |= neigh.Override
			}
			if na.Router() {
				f |= neigh.Router
			}
			w.e.neigh.Confirm(w.id, in.Index, na.TargetAddress(), tlla, f)
		}
		p.Free()
	default:
		w.dropIn(in.Index, p, DropLocalUnhandled)
	}
}

// sendNA rewrites p into a neighbour advertisement for target and queues
// it on in.
func (w *worker) sendNA(in *Device, p *pkt.Packet, l2dst hdr.MAC, target, dst netip.Addr, flags uint8) {
	const naLen = 24 + 8
	p.Truncate(0)
	frame := p.Append(hdr.EthernetLen + hdr.IPv6Len + naLen)
	if frame == nil {
		w.dropIn(in.Index, p, DropNDInvalid)
		return
	}
	hdr.PutEthernet(frame, l2dst, in.MAC, hdr.EtherTypeIPv6)
	hdr.PutIPv6(frame[hdr.EthernetLen:], &hdr.IPv6Fields{PayloadLen: naLen,
		NextHeader: hdr.IPProtoICMPv6, HopLimit: 255, Src: target, Dst: dst})
	ic := frame[hdr.EthernetLen+hdr.IPv6Len:]
	hdr.PutNDPNeighborAdvert(ic, target, flags, in.MAC)
	hdr.ICMPv6(ic).SetChecksum(0)
	hdr.ICMPv6(ic).SetChecksum(hdr.TransportChecksum(target, dst, hdr.IPProtoICMPv6, ic))
	w.replyVia(in, p)
}

// hasAddr6 reports whether a is one of d's own IPv6 addresses. Unlike ARP
// (answered for any local address, arp_ignore=0), a neighbour
// solicitation is answered only for an address of the device it arrived
// on: the kernel's ndisc_recv_ns looks the target up strictly on it.
func hasAddr6(d *Device, a netip.Addr) bool {
	for _, p := range d.Addr6 {
		if p.Addr() == a {
			return true
		}
	}
	return false
}
