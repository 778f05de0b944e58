package hdr

import (
	"encoding/binary"
	"net/netip"
)

// IPv6Len is the size of the fixed IPv6 header.
const IPv6Len = 40

// MaxIPv6ExtHeaders bounds how many extension headers IPv6Transport walks;
// a chain longer than that is treated as malformed (it is only ever an
// attack: real stacks send one or two).
const MaxIPv6ExtHeaders = 8

// IPv6 is an IPv6 header followed by its payload:
//
//	0       4               12      16              24              31
//	|version| traffic class |            flow label                  |
//	|        payload length         |  next header  |   hop limit    |
//	|                  source address (16 bytes)                       |
//	|                destination address (16 bytes)                    |
type IPv6 []byte

// IsValid reports whether b is version 6 and holds the fixed header and
// the payload length it claims. Jumbograms (payload length 0 with a
// hop-by-hop jumbo option) are not supported: they read as empty.
func (b IPv6) IsValid() bool {
	return len(b) >= IPv6Len && b[0]>>4 == 6 &&
		IPv6Len+int(binary.BigEndian.Uint16(b[4:])) <= len(b)
}

// TrafficClass is the traffic class byte (DSCP and ECN).
func (b IPv6) TrafficClass() uint8 { return b[0]<<4 | b[1]>>4 }

// FlowLabel is the 20-bit flow label.
func (b IPv6) FlowLabel() uint32 { return binary.BigEndian.Uint32(b[0:]) & 0x000fffff }

// PayloadLen is the payload length field.
func (b IPv6) PayloadLen() uint16 { return binary.BigEndian.Uint16(b[4:]) }

// NextHeader is the type of the first header after the fixed one.
func (b IPv6) NextHeader() uint8 { return b[6] }

// HopLimit is the hop limit.
func (b IPv6) HopLimit() uint8 { return b[7] }

// Src is the source address.
func (b IPv6) Src() netip.Addr { return netip.AddrFrom16([16]byte(b[8:24])) }

// Dst is the destination address.
func (b IPv6) Dst() netip.Addr { return netip.AddrFrom16([16]byte(b[24:40])) }

// Payload is the bytes after the fixed header up to PayloadLen (clamped to
// b), extension headers included.
func (b IPv6) Payload() []byte {
	end := IPv6Len + int(b.PayloadLen())
	if end > len(b) {
		end = len(b)
	}
	return b[IPv6Len:end]
}

// SetTrafficClass sets the traffic class.
func (b IPv6) SetTrafficClass(tc uint8) {
	b[0] = b[0]&0xf0 | tc>>4
	b[1] = b[1]&0x0f | tc<<4
}

// SetFlowLabel sets the flow label (low 20 bits of l).
func (b IPv6) SetFlowLabel(l uint32) {
	v := binary.BigEndian.Uint32(b[0:])&0xfff00000 | l&0x000fffff
	binary.BigEndian.PutUint32(b[0:], v)
}

// SetPayloadLen sets the payload length.
func (b IPv6) SetPayloadLen(n uint16) { binary.BigEndian.PutUint16(b[4:], n) }

// SetNextHeader sets the next header.
func (b IPv6) SetNextHeader(nh uint8) { b[6] = nh }

// SetHopLimit sets the hop limit.
func (b IPv6) SetHopLimit(h uint8) { b[7] = h }

// DecHopLimit decrements the hop limit and returns the new value; 0 stays
// 0 (IPv6 has no header checksum to patch).
func (b IPv6) DecHopLimit() uint8 {
	if b[7] != 0 {
		b[7]--
	}
	return b[7]
}

// SetSrc sets the source address.
func (b IPv6) SetSrc(a netip.Addr) { x := a.As16(); copy(b[8:24], x[:]) }

// SetDst sets the destination address.
func (b IPv6) SetDst(a netip.Addr) { x := a.As16(); copy(b[24:40], x[:]) }

// IPv6Fields are the fields PutIPv6 writes.
type IPv6Fields struct {
	TrafficClass uint8
	FlowLabel    uint32
	PayloadLen   uint16
	NextHeader   uint8
	HopLimit     uint8
	Src, Dst     netip.Addr
}

// PutIPv6 writes the fixed IPv6 header into b[:40]. An IPv4 address is
// written in its IPv4-mapped form.
func PutIPv6(b []byte, f *IPv6Fields) {
	_ = b[IPv6Len-1]
	binary.BigEndian.PutUint32(b[0:], 6<<28|uint32(f.TrafficClass)<<20|f.FlowLabel&0x000fffff)
	binary.BigEndian.PutUint16(b[4:], f.PayloadLen)
	b[6] = f.NextHeader
	b[7] = f.HopLimit
	h := IPv6(b)
	h.SetSrc(f.Src)
	h.SetDst(f.Dst)
}

// IPv6Chain is what WalkIPv6 learns from the extension header chain.
type IPv6Chain struct {
	// Proto is the upper-layer protocol: the next header value where the
	// walk stopped (a transport, ESP, NoNext, or for a non-first fragment
	// the fragment header's next header).
	Proto uint8
	// Off is the offset of the upper-layer header from the start of the
	// IPv6 header; for a non-first fragment, the offset of its data.
	Off int
	// FragHdr is the offset of the fragment header, 0 if there is none;
	// FragNH the offset of the next-header byte that names it (6, in the
	// IPv6 header, or the first byte of the extension header before it).
	FragHdr, FragNH int
	// FragOffset is the fragment offset in bytes; MoreFrags the M flag; ID
	// the identification. Meaningful when FragHdr != 0.
	FragOffset int
	MoreFrags  bool
	ID         uint32
}

// IsFragment reports whether the packet is a fragment (first or later).
// An atomic fragment (offset 0, M clear; RFC 6946) is not.
func (c *IPv6Chain) IsFragment() bool {
	return c.FragHdr != 0 && (c.FragOffset != 0 || c.MoreFrags)
}

// IsLaterFragment reports whether the packet is a non-first fragment, one
// without an upper-layer header.
func (c *IPv6Chain) IsLaterFragment() bool { return c.FragHdr != 0 && c.FragOffset != 0 }

// WalkIPv6 walks the extension headers of b (hop-by-hop, routing,
// destination options, fragment, AH) to the upper-layer header, at most
// MaxIPv6ExtHeaders of them, never past 40+PayloadLen. It stops at a
// non-first fragment (its data is not a header), at ESP (encrypted) and at
// NoNext. It reports false if b is not a valid IPv6 packet, a header runs
// past the payload, or the chain is too long; c is then undefined.
func WalkIPv6(b IPv6, c *IPv6Chain) bool {
	*c = IPv6Chain{}
	if !b.IsValid() {
		return false
	}
	end := IPv6Len + int(b.PayloadLen())
	nh, nhAt := b[6], 6
	off := IPv6Len
	for i := 0; ; i++ {
		var n int
		switch nh {
		case IPProtoHopByHop, IPProtoRouting, IPProtoDestOpts:
			if off+8 > end {
				return false
			}
			n = (int(b[off+1]) + 1) * 8
		case IPProtoAH:
			if off+8 > end {
				return false
			}
			n = (int(b[off+1]) + 2) * 4
		case IPProtoFragment:
			if off+8 > end || c.FragHdr != 0 {
				return false // two fragment headers: malformed
			}
			fo := binary.BigEndian.Uint16(b[off+2:])
			c.FragHdr, c.FragNH = off, nhAt
			c.FragOffset = int(fo &^ 7)
			c.MoreFrags = fo&1 != 0
			c.ID = binary.BigEndian.Uint32(b[off+4:])
			n = 8
			if c.FragOffset != 0 {
				c.Proto, c.Off = b[off], off+n
				return true
			}
		default:
			c.Proto, c.Off = nh, off
			return true
		}
		if i >= MaxIPv6ExtHeaders || off+n > end {
			return false
		}
		nh, nhAt = b[off], off
		off += n
	}
}

// IPv6Transport returns the upper-layer protocol of b and the offset of
// its header from the start of b, walking extension headers as WalkIPv6
// does. fragment is true for any fragment (first or later); a later
// fragment has no upper-layer header: off is then the offset of its data.
// Use WalkIPv6 to tell the two apart. ok is false for a malformed packet.
func IPv6Transport(b IPv6) (proto uint8, off int, fragment bool, ok bool) {
	var c IPv6Chain
	if !WalkIPv6(b, &c) {
		return 0, 0, false, false
	}
	return c.Proto, c.Off, c.IsFragment(), true
}
