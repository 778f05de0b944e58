package tunnel

import (
	"encoding/binary"

	"flowpath/internal/hdr"
)

// ECN codepoints (the low two bits of the TOS / traffic class, RFC 3168).
const (
	ECNNotECT uint8 = 0
	ECNECT1   uint8 = 1
	ECNECT0   uint8 = 2
	ECNCE     uint8 = 3
	ecnMask   uint8 = 3
)

// innerDSField is ip_tunnel_get_dsfield: the TOS of an inner IPv4 packet,
// the traffic class of an inner IPv6 one, ok false for anything else (or a
// header too short to hold the field).
func innerDSField(inner []byte, etherType uint16) (uint8, bool) {
	switch etherType {
	case hdr.EtherTypeIPv4:
		if len(inner) >= 2 {
			return inner[1], true
		}
	case hdr.EtherTypeIPv6:
		if len(inner) >= 2 {
			return hdr.IPv6(inner).TrafficClass(), true
		}
	}
	return 0, false
}

// ECNEncap is ip_tunnel_ecn_encap (INET_ECN_encapsulate): the outer TOS
// for configured tos over the inner L3 header: tos's DSCP with the inner
// packet's ECN bits, except that an inner CE becomes ECT(0) (congestion
// seen before the tunnel is not re-signalled on the outer path). A non-IP
// inner packet gives not-ECT.
func ECNEncap(tos uint8, inner []byte, innerEtherType uint16) uint8 {
	in, _ := innerDSField(inner, innerEtherType)
	tos &^= ecnMask
	if in&ecnMask == ECNCE {
		return tos | ECNECT0
	}
	return tos | in&ecnMask
}

// ECNDecap is INET_ECN_decapsulate for a received tunnel packet whose outer
// TOS (or traffic class) is outerTOS and whose inner L3 header is innerL3
// (IPv4 or IPv6 by innerEtherType). It changes the inner header in place:
//
//   - outer CE, inner ECT(0)/ECT(1): the inner becomes CE;
//   - outer ECT(1), inner ECT(0): the inner becomes ECT(1) (kernels since
//     5.10 propagate ECT(1) for L4S);
//
// patching the IPv4 header checksum incrementally. It returns drop true
// for outer CE over a not-ECT inner packet: the congestion signal cannot be
// passed on, and the kernel drops it (rx_frame_errors, rx_errors; §3.3
// step 12). Outer ECT over inner not-ECT is only logged by the kernel and
// passes. Non-IP inner packets, and inner headers too short to be whole
// (the caller validates them anyway), are left alone and not dropped.
func ECNDecap(outerTOS uint8, innerL3 []byte, innerEtherType uint16) (drop bool) {
	switch innerEtherType {
	case hdr.EtherTypeIPv4:
		if len(innerL3) < hdr.IPv4MinLen {
			return false
		}
	case hdr.EtherTypeIPv6:
		if len(innerL3) < hdr.IPv6Len {
			return false
		}
	default:
		return false
	}
	in, _ := innerDSField(innerL3, innerEtherType)
	outer := outerTOS & ecnMask
	var want uint8
	switch {
	case in&ecnMask == ECNNotECT:
		return outer == ECNCE
	case outer == ECNCE:
		want = in | ECNCE
	case outer == ECNECT1 && in&ecnMask == ECNECT0:
		want = in&^ecnMask | ECNECT1
	default:
		return false
	}
	if want == in {
		return false
	}
	if innerEtherType == hdr.EtherTypeIPv4 {
		ip := hdr.IPv4(innerL3)
		old := binary.BigEndian.Uint16(innerL3)
		innerL3[1] = want
		ip.SetChecksum(hdr.UpdateChecksum16(ip.Checksum(), old, binary.BigEndian.Uint16(innerL3)))
	} else {
		hdr.IPv6(innerL3).SetTrafficClass(want)
	}
	return false
}
