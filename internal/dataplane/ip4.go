package dataplane

import (
	"encoding/binary"
	"net/netip"

	"flowpath/internal/fib"
	"flowpath/internal/gso"
	"flowpath/internal/hdr"
	"flowpath/internal/pkt"
	"flowpath/internal/reasm"
	"flowpath/internal/tunnel"
)

var limitedBroadcast = netip.AddrFrom4([4]byte{255, 255, 255, 255})

// l4Ports returns the transport ports of a TCP or UDP header, if present.
func l4Ports(proto uint8, l4 []byte) (sport, dport uint16) {
	if (proto == hdr.IPProtoTCP || proto == hdr.IPProtoUDP) && len(l4) >= 4 {
		return binary.BigEndian.Uint16(l4), binary.BigEndian.Uint16(l4[2:])
	}
	return 0, 0
}

// martian4 is the kernel's verdict on the addresses of an IPv4 packet
// arriving on an interface, before any route (ip_route_input_slow, and
// fib_validate_source with rp_filter off): a multicast, limited broadcast,
// loopback or zero-network source, a loopback or zero-network
// destination, or a source that is one of our addresses (not for a packet
// we looped to ourselves). Zero-network sources are fine towards the
// limited broadcast (a DHCP client's first packets). src and dst are the
// addresses as big-endian words: a few integer tests, no netip calls.
func (s *Snapshot) martian4(src, dst uint32, looped bool) (DropReason, bool) {
	switch {
	case src>>28 == 0xe || src == 0xffffffff || src>>24 == 127:
		return DropMartianSource, true
	case dst>>24 == 127 || dst>>24 == 0:
		return DropMartianDest, true
	case src>>24 == 0 && dst != 0xffffffff:
		return DropMartianSource, true
	case !looped && s.local4.has32(src):
		return DropMartianSource, true
	}
	return 0, false
}

// Martian4 is martian4 for the control plane (route get with iif): the
// drop reason's name, "martian_source" or "martian_destination".
func (s *Snapshot) Martian4(src, dst netip.Addr) (string, bool) {
	r, bad := s.martian4(key4(src), key4(dst), false)
	if !bad {
		return "", false
	}
	return r.String(), true
}

// ip4Input validates an IPv4 packet received on in and routes it.
func (w *worker) ip4Input(in *Device, p *pkt.Packet) {
	looped := w.looped
	w.looped = false
	ip := hdr.IPv4(p.Bytes()[p.L3:])
	if !ip.IsValid() {
		w.dropIn(in.Index, p, DropIPv4Invalid)
		return
	}
	if !ip.ChecksumValid() {
		w.dropIn(in.Index, p, DropIPv4Checksum)
		return
	}
	// Drop link-layer padding beyond the IP datagram.
	if end := int(p.L3) + int(ip.TotalLen()); end < p.Len() {
		p.Truncate(end)
		ip = hdr.IPv4(p.Bytes()[p.L3:])
	}
	src, dst := ip.Src(), ip.Dst()
	s := w.snap
	if r, bad := s.martian4(binary.BigEndian.Uint32(ip[12:16]), binary.BigEndian.Uint32(ip[16:20]), looped); bad {
		w.dropIn(in.Index, p, r)
		return
	}
	if dst.IsMulticast() {
		w.dropIn(in.Index, p, DropMulticast)
		return
	}
	if dst == limitedBroadcast {
		w.dropIn(in.Index, p, DropBroadcast)
		return
	}
	fl := fib.Flow{Dst: dst, Src: src, IIF: in.Index, Mark: p.Mark, Proto: ip.Protocol(), TunID: rxTunID(p)}
	if s.HashL4 && !ip.IsFragment() {
		fl.SrcPort, fl.DstPort = l4Ports(fl.Proto, ip.Payload())
	}
	p.Hash = fib.FlowHash(&fl, s.HashL4)
	var res fib.Result
	if !s.FIB.LookupCached(w.routes, &fl, p.Hash, &res) {
		w.icmp4Error(in, p, hdr.ICMPv4DestUnreachable, hdr.ICMPv4CodeNetUnreachable, 0)
		w.dropIn(in.Index, p, DropNoRoute)
		return
	}
	switch res.Type {
	case fib.RouteUnicast:
		dropRXMeta(p)
		w.ip4Forward(in, p, ip, &res)
	case fib.RouteLocal:
		w.ip4Local(in, p, ip)
	case fib.RouteBroadcast:
		w.dropIn(in.Index, p, DropBroadcast)
	case fib.RouteBlackhole:
		w.dropIn(in.Index, p, DropBlackhole)
	case fib.RouteUnreachable:
		// An unreachable route is EHOSTUNREACH (host unreachable); a
		// rule's unreachable action (no Route) is ENETUNREACH, which
		// the kernel's ip_error answers with network unreachable.
		code := uint8(hdr.ICMPv4CodeHostUnreachable)
		if res.Route == nil {
			code = hdr.ICMPv4CodeNetUnreachable
		}
		w.icmp4Error(in, p, hdr.ICMPv4DestUnreachable, code, 0)
		w.dropIn(in.Index, p, DropUnreachable)
	case fib.RouteProhibit:
		w.icmp4Error(in, p, hdr.ICMPv4DestUnreachable, hdr.ICMPv4CodeAdminProhibited, 0)
		w.dropIn(in.Index, p, DropProhibit)
	default:
		w.icmp4Error(in, p, hdr.ICMPv4DestUnreachable, hdr.ICMPv4CodeNetUnreachable, 0)
		w.dropIn(in.Index, p, DropNoRoute)
	}
}

// pathMTU is the MTU a packet routed by res must fit: the route's mtu
// metric if it has one and it is smaller, else the device's.
func pathMTU(out *Device, res *fib.Result) uint32 {
	mtu := out.MTU
	if res.Route != nil && res.Route.MTU != 0 && res.Route.MTU < mtu {
		mtu = res.Route.MTU
	}
	return mtu
}

// gsoFits reports whether every segment of a GSO super-frame fits mtu.
// The headers each segment repeats are measured in the frame, as
// gso.Segment cuts it: the sender's HdrLen is only a hint, and a wrong
// one must not let oversized segments out. An unparsable super-frame
// does not fit.
func gsoFits(p *pkt.Packet, mtu uint32) bool {
	if n, ok := gso.UDPTunnelHeaders(p); ok {
		// A kernel VTEP's UDP-tunnel super-frame in transit: each
		// segment is a whole tunnel datagram.
		return n+int(p.GSO.Size) <= int(mtu)
	}
	b := p.Bytes()
	l3 := int(p.L3)
	var nh int // network and transport header bytes of a segment
	var proto uint8
	switch p.EtherType {
	case hdr.EtherTypeIPv4:
		ip := hdr.IPv4(b[l3:])
		nh, proto = ip.HeaderLen(), ip.Protocol()
	case hdr.EtherTypeIPv6:
		pr, off, _, ok := hdr.IPv6Transport(hdr.IPv6(b[l3:]))
		if !ok {
			return false
		}
		nh, proto = off, pr
	default:
		return false
	}
	if l3+nh > len(b) {
		return false
	}
	switch p.GSO.Type {
	case pkt.GSOTCPv4, pkt.GSOTCPv6:
		t := hdr.TCP(b[l3+nh:])
		if proto != hdr.IPProtoTCP || !t.IsValid() {
			return false
		}
		nh += t.DataOffset()
	case pkt.GSOUDPL4:
		nh += hdr.UDPLen
	}
	return nh+int(p.GSO.Size) <= int(mtu)
}

// ip4Forward forwards a transit packet (ip_forward).
func (w *worker) ip4Forward(in *Device, p *pkt.Packet, ip hdr.IPv4, res *fib.Result) {
	if ip.TTL() <= 1 {
		w.icmp4Error(in, p, hdr.ICMPv4TimeExceeded, 0, 0)
		w.dropIn(in.Index, p, DropTTLExceeded)
		return
	}
	nh := res.Nexthop
	out := w.snap.Device(nh.Dev)
	if out == nil || !out.Up {
		w.icmp4Error(in, p, hdr.ICMPv4DestUnreachable, hdr.ICMPv4CodeNetUnreachable, 0)
		w.dropIn(in.Index, p, DropOutDown)
		return
	}
	mtu := encapMTU(pathMTU(out, res), applyEncap(p, nh))
	var fragMTU uint32
	if uint32(ip.TotalLen()) > mtu && !(p.GSO.IsGSO() && gsoFits(p, mtu)) {
		if ip.DF() {
			w.icmp4Error(in, p, hdr.ICMPv4DestUnreachable, hdr.ICMPv4CodeFragNeeded, mtu)
			w.dropIn(in.Index, p, DropFragNeeded)
			return
		}
		fragMTU = mtu
	}
	ip.DecTTL()
	gw := nh.Gateway
	if !gw.IsValid() {
		gw = ip.Dst()
	}
	w.output(out, p, gw, fragMTU)
}

// ip4Local handles a packet addressed to this host: echo requests are
// answered, UDP gets port unreachable (no sockets here), the rest is
// counted and dropped.
func (w *worker) ip4Local(in *Device, p *pkt.Packet, ip hdr.IPv4) {
	if ip.IsFragment() {
		// Reassembled before local delivery, as ip_local_deliver does
		// (a VXLAN peer that lets the underlay fragment, for one).
		q, r := w.reasm.Add(p, w.now)
		switch r {
		case reasm.Held:
			return
		case reasm.Done:
			p, ip = q, hdr.IPv4(q.Bytes()[q.L3:])
		default:
			w.dropIn(in.Index, p, reasmDrops[r])
			return
		}
	}
	switch ip.Protocol() {
	case hdr.IPProtoICMP:
		ic := hdr.ICMPv4(ip.Payload())
		if len(ic) < 8 || hdr.Checksum(ic, 0) != 0 {
			w.dropIn(in.Index, p, DropICMPInvalid)
			return
		}
		if ic.Type() != hdr.ICMPv4Echo {
			w.dropIn(in.Index, p, DropLocalUnhandled)
			return
		}
		// Answer in place: swap addresses (the header checksum is a sum,
		// so it does not change), fresh TTL, type echo reply.
		src, dst := ip.Src(), ip.Dst()
		ip.SetSrc(dst)
		ip.SetDst(src)
		old := uint16(ip.TTL())<<8 | uint16(ip.Protocol())
		ip.SetTTL(64)
		ip.SetChecksum(hdr.UpdateChecksum16(ip.Checksum(), old, uint16(64)<<8|uint16(ip.Protocol())))
		oldw := uint16(ic.Type())<<8 | uint16(ic.Code())
		ic[0] = hdr.ICMPv4EchoReply
		ic.SetChecksum(hdr.UpdateChecksum16(ic.Checksum(), oldw, uint16(hdr.ICMPv4EchoReply)<<8|uint16(ic.Code())))
		p.InPort = 0
		p.GSO = pkt.GSO{}
		w.sendLocal4(p, ip)
	case hdr.IPProtoUDP:
		if w.snap.tunnels != nil && w.udpTunnelInput(in, p, int(p.L3)+ip.HeaderLen()) {
			return
		}
		w.icmp4Error(in, p, hdr.ICMPv4DestUnreachable, hdr.ICMPv4CodePortUnreachable, 0)
		w.dropIn(in.Index, p, DropLocalUnhandled)
	default:
		w.dropIn(in.Index, p, DropLocalUnhandled)
	}
}

// sendLocal4 routes and sends a packet this host originates (its IPv4
// header at p.L3, room for the Ethernet header before it).
func (w *worker) sendLocal4(p *pkt.Packet, ip hdr.IPv4) {
	s := w.snap
	fl := fib.Flow{Dst: ip.Dst(), Src: ip.Src(), Mark: p.Mark, Proto: ip.Protocol()}
	if s.HashL4 {
		fl.SrcPort, fl.DstPort = l4Ports(fl.Proto, ip.Payload())
	}
	var res fib.Result
	if !s.FIB.LookupCached(w.routes, &fl, fib.FlowHash(&fl, s.HashL4), &res) || res.Type != fib.RouteUnicast {
		w.dropOut(0, p, DropNoRoute)
		return
	}
	out := s.Device(res.Nexthop.Dev)
	if out == nil {
		w.dropOut(0, p, DropOutDown)
		return
	}
	var fragMTU uint32
	if mtu := encapMTU(pathMTU(out, &res), applyEncap(p, res.Nexthop)); uint32(ip.TotalLen()) > mtu {
		if ip.DF() {
			w.dropOut(out.Index, p, DropFragNeeded)
			return
		}
		fragMTU = mtu
	}
	gw := res.Nexthop.Gateway
	if !gw.IsValid() {
		gw = ip.Dst()
	}
	w.output(out, p, gw, fragMTU)
}

// icmp4MaxLen is the largest ICMP error datagram (RFC 1812 4.3.2.3: no
// more than 576 bytes).
const icmp4MaxLen = 576

// icmp4Error sends an ICMP error about packet p (received on in) back to
// its source. p is not consumed. info is the next-hop MTU for
// fragmentation needed. RFC 1122/1812 suppressions apply: no errors about
// ICMP errors, non-first fragments, or non-unicast packets.
func (w *worker) icmp4Error(in *Device, p *pkt.Packet, typ, code uint8, info uint32) {
	orig := hdr.IPv4(p.Bytes()[p.L3:])
	if !orig.IsValid() || orig.FragOffset() != 0 {
		return
	}
	src := orig.Src()
	if src.IsUnspecified() || src.IsMulticast() || src == limitedBroadcast || src.IsLoopback() {
		return
	}
	if hdr.Ethernet(p.Bytes()).Dst().IsMulticast() {
		return
	}
	if orig.Protocol() == hdr.IPProtoICMP {
		pl := orig.Payload()
		if len(pl) < 1 {
			return
		}
		switch pl[0] {
		case hdr.ICMPv4Echo, hdr.ICMPv4EchoReply, 13, 14, 15, 16, 17, 18:
		default:
			return // an error (or unknown): never answer it
		}
	}
	out, saddr, gw, q := w.errorStart(in, src, p.Mark)
	if q == nil {
		return
	}
	quote := int(orig.TotalLen())
	if max := icmp4MaxLen - hdr.IPv4MinLen - 8; quote > max {
		quote = max
	}
	total := hdr.IPv4MinLen + 8 + quote
	frame := q.Append(hdr.EthernetLen + total)
	hdr.PutEthernet(frame, hdr.MAC{}, out.MAC, hdr.EtherTypeIPv4)
	w.ipID++
	hdr.PutIPv4(frame[hdr.EthernetLen:], &hdr.IPv4Fields{
		TOS: orig.TOS()&0x1e | 0xc0, TotalLen: uint16(total), ID: w.ipID,
		TTL: 64, Protocol: hdr.IPProtoICMP, Src: saddr, Dst: src})
	ic := frame[hdr.EthernetLen+hdr.IPv4MinLen:]
	ic[0], ic[1] = typ, code
	clear(ic[2:8])
	if typ == hdr.ICMPv4DestUnreachable && code == hdr.ICMPv4CodeFragNeeded {
		binary.BigEndian.PutUint16(ic[6:], uint16(info))
	}
	copy(ic[8:], orig[:quote])
	hdr.ICMPv4(ic).SetChecksum(hdr.Checksum(ic, 0))
	q.L3 = hdr.EthernetLen
	q.EtherType = hdr.EtherTypeIPv4
	w.c.icmpSent.Add(1)
	w.output(out, q, gw, 0)
}

func nexthopOr(gw, dst netip.Addr) netip.Addr {
	if gw.IsValid() {
		return gw
	}
	return dst
}

// rxTunID is the tunnel id a packet received through a flow-based tunnel
// carries, for `rule ... tun_id N` (ip_route_input_slow); 0 otherwise.
func rxTunID(p *pkt.Packet) uint64 {
	if ti := p.Meta.TunnelInfo(); ti != nil && !ti.IsTX() {
		return ti.Key.ID
	}
	return 0
}

// dropRXMeta removes received tunnel metadata from a packet being routed:
// it described how the packet arrived, not where it goes (the kernel
// drops the metadata dst when it attaches the real route).
func dropRXMeta(p *pkt.Packet) {
	if ti := p.Meta.TunnelInfo(); ti != nil && !ti.IsTX() {
		p.Meta.Clear()
	}
}

// applyEncap attaches the nexthop's encapsulation to a packet about to be
// output and returns the headroom it will add (which lowers the MTU the
// packet must fit). IP/IP6 encap becomes TX tunnel metadata for the
// flow-based tunnel device the route points at, unless the packet already
// carries TX metadata (metadata on the packet wins, as skb_tunnel_info
// checks it first); MPLS is pushed by the output stage.
func applyEncap(p *pkt.Packet, nh *fib.Nexthop) uint32 {
	if nh == nil || nh.Encap == nil {
		return 0
	}
	e := nh.Encap
	switch e.Type {
	case tunnel.EncapIP, tunnel.EncapIP6:
		if ti := p.Meta.TunnelInfo(); ti == nil || !ti.IsTX() {
			p.Meta.SetTunnel(&e.Info)
		}
		return 0
	case tunnel.EncapMPLS:
		p.Encap = e
		return uint32(e.Headroom())
	}
	return 0
}

// encapMTU lowers mtu by an encapsulation's headroom, only when the
// headroom is smaller (lwtunnel_headroom).
func encapMTU(mtu, headroom uint32) uint32 {
	if headroom < mtu {
		return mtu - headroom
	}
	return mtu
}

// reasmDrops are the drop reasons of reasm.Add's refusals (the pool's
// running dry counts as that).
var reasmDrops = [...]DropReason{
	reasm.Invalid:  DropReasmInvalid,
	reasm.TooBig:   DropReasmTooBig,
	reasm.Overlap:  DropReasmOverlap,
	reasm.Full:     DropReasmFull,
	reasm.NoBuffer: DropPoolEmpty,
}
