package hdr

import "encoding/binary"

// Tunnel header sizes, ports and the ethertype of a bridged payload.
const (
	VXLANLen     = 8
	GeneveMinLen = 8
	MPLSLen      = 4
	// VXLANPort and GenevePort are the IANA UDP ports.
	VXLANPort  uint16 = 4789
	GenevePort uint16 = 6081
	// EtherTypeTEB (transparent Ethernet bridging) is Geneve's protocol
	// type for an Ethernet payload.
	EtherTypeTEB uint16 = 0x6558
	// MaxMPLSLabels bounds how many stack entries MPLSStackLen walks.
	MaxMPLSLabels = 32
)

// VXLAN is a VXLAN header (RFC 7348):
//
//	flags(8: I=0x08) | reserved(24) | VNI(24) | reserved(8)
type VXLAN []byte

// IsValid reports whether b holds the header and the I flag (VNI valid)
// is set; a header without it is dropped by receivers.
func (b VXLAN) IsValid() bool { return len(b) >= VXLANLen && b[0]&0x08 != 0 }

// Flags is the first byte.
func (b VXLAN) Flags() uint8 { return b[0] }

// VNI is the 24-bit network identifier.
func (b VXLAN) VNI() uint32 { return binary.BigEndian.Uint32(b[4:]) >> 8 }

// SetVNI sets the VNI (low 24 bits of v).
func (b VXLAN) SetVNI(v uint32) {
	binary.BigEndian.PutUint32(b[4:], v<<8|uint32(b[7]))
}

// Payload is the inner Ethernet frame.
func (b VXLAN) Payload() []byte { return b[VXLANLen:] }

// PutVXLAN writes a VXLAN header with the I flag and vni into b[:8].
func PutVXLAN(b []byte, vni uint32) {
	_ = b[VXLANLen-1]
	binary.BigEndian.PutUint32(b[0:], 0x08000000)
	binary.BigEndian.PutUint32(b[4:], vni<<8)
}

// Geneve is a Geneve header with its options (RFC 8926):
//
//	ver(2) optlen(6) | O C rsvd(6) | protocol type(16)
//	VNI(24) | reserved(8)
//	options (optlen*4 bytes): class(16) type(8) rsvd(3) len(5) data(len*4)
type Geneve []byte

// IsValid reports whether b is version 0 and holds the header and the
// options it claims.
func (b Geneve) IsValid() bool {
	return len(b) >= GeneveMinLen && b[0]>>6 == 0 && GeneveMinLen+int(b[0]&0x3f)*4 <= len(b)
}

// Version is the version field (0).
func (b Geneve) Version() uint8 { return b[0] >> 6 }

// OptionsLen is the length of the options in bytes.
func (b Geneve) OptionsLen() int { return int(b[0]&0x3f) * 4 }

// OAM reports the O (control packet) flag.
func (b Geneve) OAM() bool { return b[1]&0x80 != 0 }

// Critical reports the C flag: a critical option is present.
func (b Geneve) Critical() bool { return b[1]&0x40 != 0 }

// Protocol is the ethertype of the payload (EtherTypeTEB for Ethernet).
func (b Geneve) Protocol() uint16 { return binary.BigEndian.Uint16(b[2:]) }

// VNI is the 24-bit virtual network identifier.
func (b Geneve) VNI() uint32 { return binary.BigEndian.Uint32(b[4:]) >> 8 }

// SetVNI sets the VNI (low 24 bits of v).
func (b Geneve) SetVNI(v uint32) { binary.BigEndian.PutUint32(b[4:], v<<8|uint32(b[7])) }

// hdrEnd is the header length clamped to b.
func (b Geneve) hdrEnd() int {
	n := GeneveMinLen + b.OptionsLen()
	if n > len(b) {
		n = len(b)
	}
	return n
}

// Options are the option bytes (clamped to b).
func (b Geneve) Options() []byte { return b[GeneveMinLen:b.hdrEnd()] }

// Payload is what follows the options.
func (b Geneve) Payload() []byte { return b[b.hdrEnd():] }

// GeneveOptionsValid reports whether opts is a sequence of whole options.
func GeneveOptionsValid(opts []byte) bool {
	for len(opts) > 0 {
		if len(opts) < 4 {
			return false
		}
		n := 4 + int(opts[3]&0x1f)*4
		if n > len(opts) {
			return false
		}
		opts = opts[n:]
	}
	return true
}

// PutGeneve writes a Geneve header with protocol proto, vni and the
// options opts (a multiple of 4 bytes, at most 252) into b, and returns its
// length (8+len(opts); b must hold it). The C flag is set when an option
// has the critical bit (the high bit of its type), as the kernel does.
func PutGeneve(b []byte, vni uint32, proto uint16, opts []byte) int {
	n := GeneveMinLen + len(opts)
	_ = b[n-1]
	b[0] = uint8(len(opts)/4) & 0x3f
	b[1] = 0
	for o := opts; len(o) >= 4; {
		if o[2]&0x80 != 0 {
			b[1] |= 0x40
		}
		l := 4 + int(o[3]&0x1f)*4
		if l > len(o) {
			break
		}
		o = o[l:]
	}
	binary.BigEndian.PutUint16(b[2:], proto)
	binary.BigEndian.PutUint32(b[4:], vni<<8)
	copy(b[GeneveMinLen:], opts)
	return n
}

// MPLS label values with a special meaning (RFC 3032, RFC 7274).
const (
	MPLSLabelIPv4ExplicitNull uint32 = 0
	MPLSLabelRouterAlert      uint32 = 1
	MPLSLabelIPv6ExplicitNull uint32 = 2
	MPLSLabelImplicitNull     uint32 = 3
	MPLSLabelFirstUnreserved  uint32 = 16
)

// MPLS is one label stack entry (RFC 3032):
//
//	label(20) | TC(3) | S(1) | TTL(8)
type MPLS []byte

// IsValid reports whether b holds one entry.
func (b MPLS) IsValid() bool { return len(b) >= MPLSLen }

// Entry is the whole 32-bit entry.
func (b MPLS) Entry() uint32 { return binary.BigEndian.Uint32(b) }

// Label is the 20-bit label.
func (b MPLS) Label() uint32 { return b.Entry() >> 12 }

// TC is the traffic class (3 bits).
func (b MPLS) TC() uint8 { return b[2] >> 1 & 0x07 }

// BottomOfStack reports the S bit.
func (b MPLS) BottomOfStack() bool { return b[2]&0x01 != 0 }

// TTL is the time to live.
func (b MPLS) TTL() uint8 { return b[3] }

// SetLabel sets the label (low 20 bits of l).
func (b MPLS) SetLabel(l uint32) {
	binary.BigEndian.PutUint32(b, b.Entry()&0x00000fff|l<<12)
}

// SetTC sets the traffic class.
func (b MPLS) SetTC(tc uint8) { b[2] = b[2]&0xf1 | (tc&0x07)<<1 }

// SetBottomOfStack sets the S bit.
func (b MPLS) SetBottomOfStack(s bool) {
	if s {
		b[2] |= 0x01
	} else {
		b[2] &^= 0x01
	}
}

// SetTTL sets the TTL.
func (b MPLS) SetTTL(ttl uint8) { b[3] = ttl }

// PutMPLS writes one label stack entry into b[:4].
func PutMPLS(b []byte, label uint32, tc uint8, bos bool, ttl uint8) {
	_ = b[MPLSLen-1]
	e := label<<12 | uint32(tc&0x07)<<9 | uint32(ttl)
	if bos {
		e |= 0x100
	}
	binary.BigEndian.PutUint32(b, e)
}

// MPLSStackLen returns the length in bytes of the label stack at the start
// of b, through the entry with the S bit. ok is false if b ends first or
// the stack has more than MaxMPLSLabels entries.
func MPLSStackLen(b []byte) (n int, ok bool) {
	for i := 0; i < MaxMPLSLabels; i++ {
		if len(b) < n+MPLSLen {
			return 0, false
		}
		n += MPLSLen
		if b[n-2]&0x01 != 0 {
			return n, true
		}
	}
	return 0, false
}
