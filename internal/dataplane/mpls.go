package dataplane

import (
	"encoding/binary"
	"net/netip"

	"flowpath/internal/hdr"
	"flowpath/internal/pkt"
	"flowpath/internal/tunnel"
)

// LabelRoute is an MPLS label route (`ip -f mpls route add 100 as 200 via
// inet A dev D`): what to do with a packet whose top label is Label.
type LabelRoute struct {
	Label    uint32
	Nexthops []LabelNexthop
}

// LabelNexthop is one path of a label route.
type LabelNexthop struct {
	Via     netip.Addr // the neighbour to send to (inet or inet6)
	Dev     uint32
	As      []uint32       // labels pushed in place of the incoming one; none = pop
	Payload tunnel.Payload // what is under the stack when the last label is popped (from Via's family)
}

// mplsDefaultTTL is net.mpls.default_ttl.
func (s *Snapshot) mplsDefaultTTL() uint8 {
	if s.MPLSDefaultTTL == 0 {
		return 255
	}
	return s.MPLSDefaultTTL
}

// mplsInput forwards a labelled packet (mpls_forward): explicit nulls pop
// and deliver the IP packet underneath; a label route swaps the top label
// for its stack or pops it (penultimate hop popping sends the IP packet
// straight to the nexthop, without an IP route lookup). A TTL that expires
// here is answered with ICMP time exceeded to the source of the IP packet
// under the stack, when there is one.
func (w *worker) mplsInput(in *Device, p *pkt.Packet) {
	s := w.snap
	b := p.Bytes()[p.L3:]
	label, _, bos, ttl, ok := tunnel.ParseLSE(b)
	if !ok {
		w.dropIn(in.Index, p, DropMPLSInvalid)
		return
	}
	switch tunnel.ClassifyLabel(label) {
	case tunnel.LabelIPv4Null, tunnel.LabelIPv6Null:
		payload := tunnel.PayloadIPv4
		if label == hdr.MPLSLabelIPv6ExplicitNull {
			payload = tunnel.PayloadIPv6
		}
		if ttl <= 1 {
			w.mplsTTLExpired(in, p)
			return
		}
		et, isIP, v := tunnel.PopMPLS(p, payload, !s.MPLSNoTTLPropagate)
		if !v.OK() {
			w.dropIn(in.Index, p, mplsDrop(v))
			return
		}
		if !isIP {
			w.mplsInput(in, p) // the next label
			return
		}
		w.ipInput(in, p, et)
		return
	case tunnel.LabelReserved:
		w.dropIn(in.Index, p, DropMPLSNoRoute)
		return
	}
	rt := s.MPLS[label]
	if rt == nil || len(rt.Nexthops) == 0 {
		w.dropIn(in.Index, p, DropMPLSNoRoute)
		return
	}
	nh := &rt.Nexthops[0]
	if len(rt.Nexthops) > 1 {
		nh = &rt.Nexthops[mplsHash(b)%uint32(len(rt.Nexthops))]
	}
	out := s.Device(nh.Dev)
	if out == nil || !out.Up {
		w.dropIn(in.Index, p, DropOutDown)
		return
	}
	if ttl <= 1 {
		w.mplsTTLExpired(in, p)
		return
	}
	_ = bos
	et, _, v := tunnel.ForwardMPLS(p, nh.As, nh.Payload, !s.MPLSNoTTLPropagate)
	if !v.OK() {
		w.dropIn(in.Index, p, mplsDrop(v))
		return
	}
	p.EtherType = et
	// mpls_pkt_too_big: no fragmentation and no ICMP for labelled packets.
	if p.Len()-int(p.L3) > int(out.MTU) && !p.GSO.IsGSO() {
		w.dropIn(in.Index, p, DropFragNeeded)
		return
	}
	w.output(out, p, nh.Via, 0)
}

// ipInput re-enters IP input with the packet at p.L3.
func (w *worker) ipInput(in *Device, p *pkt.Packet, et uint16) {
	p.EtherType = et
	switch et {
	case hdr.EtherTypeIPv4:
		w.ip4Input(in, p)
	case hdr.EtherTypeIPv6:
		w.ip6Input(in, p)
	default:
		w.dropIn(in.Index, p, DropMPLSInvalid)
	}
}

// mplsTTLExpired answers a labelled packet whose TTL runs out here with
// ICMP time exceeded about the IP packet under the label stack (RFC 3032
// section 2.3.2), routed back by IP, and drops it.
func (w *worker) mplsTTLExpired(in *Device, p *pkt.Packet) {
	b := p.Bytes()
	off := int(p.L3)
	for off+hdr.MPLSLen <= len(b) {
		bos := b[off+2]&0x01 != 0
		off += hdr.MPLSLen
		if bos {
			break
		}
	}
	if off < len(b) {
		l3 := p.L3
		p.L3 = uint16(off)
		switch b[off] >> 4 {
		case 4:
			w.icmp4Error(in, p, hdr.ICMPv4TimeExceeded, 0, 0)
		case 6:
			w.icmp6Error(in, p, hdr.ICMPv6TimeExceeded, 0, 0)
		}
		p.L3 = l3
	}
	w.dropIn(in.Index, p, DropMPLSTTL)
}

// mplsHash spreads flows over a multipath label route: the label stack
// entries' labels (not their TTLs) and the IP addresses under them.
func mplsHash(b []byte) uint32 {
	h := uint32(2166136261)
	off := 0
	for off+hdr.MPLSLen <= len(b) && off < 8*hdr.MPLSLen {
		h = (h ^ binary.BigEndian.Uint32(b[off:])>>12) * 16777619
		bos := b[off+2]&0x01 != 0
		off += hdr.MPLSLen
		if bos {
			break
		}
	}
	if off+20 <= len(b) && b[off]>>4 == 4 {
		h = (h ^ binary.BigEndian.Uint32(b[off+12:])) * 16777619
		h = (h ^ binary.BigEndian.Uint32(b[off+16:])) * 16777619
	}
	return h ^ h>>16
}

func mplsDrop(v tunnel.MPLSVerdict) DropReason {
	if v == tunnel.MPLSDropTTL {
		return DropMPLSTTL
	}
	return DropMPLSInvalid
}
