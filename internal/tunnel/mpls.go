package tunnel

import (
	"encoding/binary"

	"flowpath/internal/hdr"
	"flowpath/internal/pkt"
)

// DefaultMPLSTTL is net.mpls.default_ttl's default: the TTL pushed when
// there is no IP TTL to propagate (or propagation is off).
const DefaultMPLSTTL = 255

// validLabels reports whether labels can be pushed: 1..MaxLabels values
// of 20 bits, none the implicit null (which never appears on the wire).
func validLabels(labels []uint32, allowEmpty bool) bool {
	if len(labels) > MaxLabels || (!allowEmpty && len(labels) == 0) {
		return false
	}
	for _, l := range labels {
		if l > MaxLabel || l == hdr.MPLSLabelImplicitNull {
			return false
		}
	}
	return true
}

// putLabels writes the stack entries for labels into b (4 per label): TC
// 0, ttl on every entry, S on the last one only when bos.
func putLabels(b []byte, labels []uint32, ttl uint8, bos bool) {
	for i, l := range labels {
		hdr.PutMPLS(b[4*i:], l, 0, bos && i == len(labels)-1, ttl)
	}
}

// shiftOffsets keeps the offsets that point past at (the transport header,
// the GSO checksum start and header length) pointing at the same bytes
// after delta bytes were inserted (or, negative, removed) at at.
func shiftOffsets(p *pkt.Packet, at, delta int) {
	move := func(v uint16) uint16 {
		if v == 0 || int(v) < at {
			return v
		}
		n := int(v) + delta
		if n < at || n > 0xffff {
			return 0
		}
		return uint16(n)
	}
	p.L4 = move(p.L4)
	if p.GSO.NeedsCsum {
		p.GSO.CsumStart = move(p.GSO.CsumStart)
	}
	p.GSO.HdrLen = move(p.GSO.HdrLen)
}

// resize makes room for grow bytes (or removes -grow bytes) at offset l3 of
// p's frame by moving the l3 bytes of L2 header in front of it, and
// reports false, with p unchanged, if the headroom or pkt.MaxFrame does
// not allow it.
func resize(p *pkt.Packet, l3, grow int) bool {
	switch {
	case grow > 0:
		if grow > p.Headroom() || p.Len()+grow > pkt.MaxFrame {
			return false
		}
		p.Prepend(grow)
		f := p.Bytes()
		copy(f[:l3], f[grow:grow+l3])
	case grow < 0:
		f := p.Bytes()
		copy(f[-grow:-grow+l3], f[:l3])
		p.Pull(-grow)
	}
	return true
}

// PushMPLS inserts an MPLS label stack (labels, outermost first) between
// the L2 header (the p.L3 bytes at the frame start, at least an Ethernet
// header; any VLAN tags stay in it) and the L3 header, as mpls_xmit does
// (spec §1.7): the ethertype in front of the stack becomes 0x8847, TC is
// 0, S is set on the last entry, and every entry carries
//
//   - ttl when it is not 0 (a configured "ttl N", or the default TTL the
//     caller chose when propagation is off);
//   - else the inner IPv4 TTL or IPv6 hop limit as it is now (a forwarded
//     packet was already decremented);
//   - else (not IP) DefaultMPLSTTL.
//
// p.EtherType becomes 0x8847; p.L3 stays (it now points at the stack) and
// p.L4 and the GSO offsets follow the bytes they pointed at. It returns
// false, with p unchanged, for no or too many labels (MaxLabels), a label
// over 20 bits or the implicit null, an L3 offset outside the frame, or too
// little headroom.
func PushMPLS(p *pkt.Packet, labels []uint32, ttl uint8) bool {
	l3 := int(p.L3)
	if !validLabels(labels, false) || l3 < hdr.EthernetLen || l3 > p.Len() {
		return false
	}
	if ttl == 0 {
		ttl = DefaultMPLSTTL
		f := p.Bytes()
		switch p.EtherType {
		case hdr.EtherTypeIPv4:
			if len(f) >= l3+hdr.IPv4MinLen {
				ttl = f[l3+8]
			}
		case hdr.EtherTypeIPv6:
			if len(f) >= l3+hdr.IPv6Len {
				ttl = f[l3+7]
			}
		}
	}
	n := hdr.MPLSLen * len(labels)
	if !resize(p, l3, n) {
		return false
	}
	f := p.Bytes()
	putLabels(f[l3:], labels, ttl, true)
	binary.BigEndian.PutUint16(f[l3-2:], hdr.EtherTypeMPLS)
	p.EtherType = hdr.EtherTypeMPLS
	shiftOffsets(p, l3, n)
	return true
}

// ParseLSE reads the label stack entry at the start of b; ok is false if b
// is shorter than 4 bytes.
func ParseLSE(b []byte) (label uint32, tc uint8, bos bool, ttl uint8, ok bool) {
	m := hdr.MPLS(b)
	if !m.IsValid() {
		return 0, 0, false, 0, false
	}
	return m.Label(), m.TC(), m.BottomOfStack(), m.TTL(), true
}

// LabelClass says what MPLS input does with an incoming top label before
// any label route lookup.
type LabelClass uint8

const (
	// LabelRouted: 16 and above, the label routes' space: look it up.
	LabelRouted LabelClass = iota
	// LabelIPv4Null (0) and LabelIPv6Null (2): the kernel installs routes
	// for them itself, to the loopback with payload IPv4 / IPv6 and no
	// labels: pop (PopMPLS with PayloadIPv4 / PayloadIPv6) and deliver the
	// packet locally if that exposed the IP header, or process the exposed
	// next label again.
	LabelIPv4Null
	LabelIPv6Null
	// LabelReserved: the other labels below 16 — router alert (1),
	// implicit null (3, never valid on the wire), entropy label indicator
	// (7), GAL (13) and the unassigned ones. No route can be added for
	// them, so the kernel drops them as "no route" (rx_noroute).
	LabelReserved
)

// ClassifyLabel sorts an incoming top label (see LabelClass).
func ClassifyLabel(label uint32) LabelClass {
	switch {
	case label >= hdr.MPLSLabelFirstUnreserved:
		return LabelRouted
	case label == hdr.MPLSLabelIPv4ExplicitNull:
		return LabelIPv4Null
	case label == hdr.MPLSLabelIPv6ExplicitNull:
		return LabelIPv6Null
	}
	return LabelReserved
}

// Payload is what a label route says sits under the bottom of the stack
// (the kernel's rt_payload_type, from the family of its "via").
type Payload uint8

const (
	PayloadUnspec Payload = iota // decided by the IP version nibble
	PayloadIPv4
	PayloadIPv6
)

// MPLSVerdict is the outcome of ForwardMPLS: a result to act on or a drop
// reason to count.
type MPLSVerdict uint8

const (
	// MPLSForward: the stack was rewritten; send the packet as MPLS
	// (0x8847) to the route's nexthop.
	MPLSForward MPLSVerdict = iota
	// MPLSEgress: the last label was popped; the packet is now IPv4 or
	// IPv6 (penultimate hop popping, or an explicit null to deliver).
	MPLSEgress
	// MPLSDropMalformed: no whole label stack entry at p.L3, or p.L3 does
	// not leave room for an Ethernet header before it.
	MPLSDropMalformed
	// MPLSDropTTL: the incoming TTL is 0 or 1: it expires here (the kernel
	// counts rx_errors; flowpath may answer ICMP time exceeded).
	MPLSDropTTL
	// MPLSDropPayload: the bottom label was popped but what is under it is
	// not IPv4 or IPv6, or is shorter than 12 bytes.
	MPLSDropPayload
	// MPLSDropLabels: the labels to push are invalid (more than MaxLabels,
	// over 20 bits, implicit null).
	MPLSDropLabels
	// MPLSDropHeadroom: the new stack does not fit the headroom or
	// pkt.MaxFrame.
	MPLSDropHeadroom
)

var verdictNames = [...]string{
	MPLSForward: "forward", MPLSEgress: "egress", MPLSDropMalformed: "mpls_malformed",
	MPLSDropTTL: "mpls_ttl_expired", MPLSDropPayload: "mpls_bad_payload",
	MPLSDropLabels: "mpls_bad_labels", MPLSDropHeadroom: "mpls_no_headroom",
}

func (v MPLSVerdict) String() string {
	if int(v) < len(verdictNames) {
		return verdictNames[v]
	}
	return "unknown"
}

// OK reports whether the packet goes on (MPLSForward or MPLSEgress).
func (v MPLSVerdict) OK() bool { return v <= MPLSEgress }

// ForwardMPLS is mpls_forward after the route lookup: it pops the top
// label at p.L3 and pushes out (outermost first) in its place, the way the
// kernel rewrites a packet for a label route's nexthop:
//
//   - the incoming TTL must be above 1 (else MPLSDropTTL); the new
//     entries carry it decremented, TC 0, and S on the last one only if
//     the popped label had it;
//   - with no labels to push under a label without S, the next label is
//     exposed as it is (the kernel does not copy the TTL down);
//   - with no labels to push under the bottom label, the packet leaves the
//     LSP (mpls_egress): its payload is payload, or by the IP version
//     nibble when PayloadUnspec; with propagate (route ttl-propagate on,
//     or default with net.mpls.ip_ttl_propagate=1) the IP TTL / hop limit
//     becomes the decremented label TTL, otherwise it is decremented
//     (never below 0); the IPv4 checksum is patched.
//
// The L2 header moves with the stack (its last ethertype becomes 0x8847,
// or 0x0800 / 0x86dd on egress); p.L3 stays, p.EtherType is set, p.L4 and
// GSO offsets follow their bytes. etherType is p's new EtherType and isIP
// true on egress. A drop verdict leaves p unchanged.
func ForwardMPLS(p *pkt.Packet, out []uint32, payload Payload, propagate bool) (etherType uint16, isIP bool, v MPLSVerdict) {
	l3 := int(p.L3)
	f := p.Bytes()
	if l3 < hdr.EthernetLen || l3+hdr.MPLSLen > len(f) {
		return 0, false, MPLSDropMalformed
	}
	if !validLabels(out, true) {
		return 0, false, MPLSDropLabels
	}
	top := hdr.MPLS(f[l3:])
	bos, ttl := top.BottomOfStack(), top.TTL()
	if ttl <= 1 {
		return 0, false, MPLSDropTTL
	}
	ttl--
	if len(out) == 0 && bos {
		return mplsEgress(p, l3, ttl, payload, propagate)
	}
	grow := hdr.MPLSLen*len(out) - hdr.MPLSLen
	if !resize(p, l3, grow) {
		return 0, false, MPLSDropHeadroom
	}
	f = p.Bytes()
	putLabels(f[l3:], out, ttl, bos)
	binary.BigEndian.PutUint16(f[l3-2:], hdr.EtherTypeMPLS)
	p.EtherType = hdr.EtherTypeMPLS
	shiftOffsets(p, l3, grow)
	return hdr.EtherTypeMPLS, false, MPLSForward
}

// mplsEgress pops the bottom label and fixes the IP TTL (mpls_egress).
func mplsEgress(p *pkt.Packet, l3 int, ttl uint8, payload Payload, propagate bool) (uint16, bool, MPLSVerdict) {
	f := p.Bytes()
	ip := f[l3+hdr.MPLSLen:]
	// The kernel needs 12 bytes, through the IPv4 checksum.
	if len(ip) < 12 {
		return 0, false, MPLSDropPayload
	}
	if payload == PayloadUnspec {
		switch ip[0] >> 4 {
		case 4:
			payload = PayloadIPv4
		case 6:
			payload = PayloadIPv6
		default:
			return 0, false, MPLSDropPayload
		}
	}
	var et uint16
	switch payload {
	case PayloadIPv4:
		et = hdr.EtherTypeIPv4
		nt := ttl
		if !propagate {
			nt = ip[8]
			if nt > 0 {
				nt--
			}
		}
		old := binary.BigEndian.Uint16(ip[8:])
		ip[8] = nt
		h := hdr.IPv4(ip)
		h.SetChecksum(hdr.UpdateChecksum16(h.Checksum(), old, binary.BigEndian.Uint16(ip[8:])))
	case PayloadIPv6:
		et = hdr.EtherTypeIPv6
		if propagate {
			ip[7] = ttl
		} else if ip[7] > 0 {
			ip[7]--
		}
	default:
		return 0, false, MPLSDropPayload
	}
	resize(p, l3, -hdr.MPLSLen)
	binary.BigEndian.PutUint16(p.Bytes()[l3-2:], et)
	p.EtherType = et
	shiftOffsets(p, l3, -hdr.MPLSLen)
	return et, true, MPLSEgress
}

// SwapMPLS replaces the top label at p.L3 by the stack out (at least one
// label): ForwardMPLS for a label route "as L1/L2...".
func SwapMPLS(p *pkt.Packet, out []uint32) (etherType uint16, isIP bool, v MPLSVerdict) {
	if len(out) == 0 {
		return 0, false, MPLSDropLabels
	}
	return ForwardMPLS(p, out, PayloadUnspec, true)
}

// PopMPLS removes the top label at p.L3: ForwardMPLS for a label route
// without "as" (and for the explicit nulls). It exposes the next label, or
// under the bottom label the IP header (payload, propagate: see
// ForwardMPLS).
func PopMPLS(p *pkt.Packet, payload Payload, propagate bool) (etherType uint16, isIP bool, v MPLSVerdict) {
	return ForwardMPLS(p, nil, payload, propagate)
}
