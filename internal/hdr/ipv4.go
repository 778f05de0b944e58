package hdr

import (
	"encoding/binary"
	"net/netip"
)

// IPv4MinLen is the size of an IPv4 header without options.
const IPv4MinLen = 20

// IP protocol numbers, and the IPv6 extension headers that share the space.
const (
	IPProtoHopByHop uint8 = 0
	IPProtoICMP     uint8 = 1
	IPProtoIPIP     uint8 = 4
	IPProtoTCP      uint8 = 6
	IPProtoUDP      uint8 = 17
	IPProtoIPv6     uint8 = 41
	IPProtoRouting  uint8 = 43
	IPProtoFragment uint8 = 44
	IPProtoGRE      uint8 = 47
	IPProtoESP      uint8 = 50
	IPProtoAH       uint8 = 51
	IPProtoICMPv6   uint8 = 58
	IPProtoNoNext   uint8 = 59
	IPProtoDestOpts uint8 = 60
	IPProtoMPLS     uint8 = 137 // MPLS in IP (RFC 4023)
)

// IPv4 option type bits (RFC 791): an option with the copied flag goes to
// every fragment, the others only to the first.
const (
	IPv4OptEnd    uint8 = 0
	IPv4OptNOP    uint8 = 1
	IPv4OptCopied uint8 = 0x80
)

// IPv4 is an IPv4 header followed by its payload:
//
//	0       4       8              16    19                     31
//	|version| IHL   |     TOS      |        total length        |
//	|         identification       |flags|   fragment offset    |
//	|     TTL       |   protocol   |     header checksum        |
//	|                       source address                      |
//	|                    destination address                    |
//	|                    options (IHL*4 - 20)                   |
type IPv4 []byte

// IsValid reports whether b is version 4 and holds its whole header and
// the total length it claims (trailing bytes, such as Ethernet padding, are
// allowed and ignored by Payload).
func (b IPv4) IsValid() bool {
	if len(b) < IPv4MinLen || b[0]>>4 != 4 {
		return false
	}
	hl := int(b[0]&0x0f) * 4
	tl := int(binary.BigEndian.Uint16(b[2:]))
	return hl >= IPv4MinLen && hl <= len(b) && tl >= hl && tl <= len(b)
}

// HeaderLen is IHL in bytes.
func (b IPv4) HeaderLen() int { return int(b[0]&0x0f) * 4 }

// TotalLen is the total length field (header and payload).
func (b IPv4) TotalLen() uint16 { return binary.BigEndian.Uint16(b[2:]) }

// TOS is the type-of-service byte (DSCP and ECN).
func (b IPv4) TOS() uint8 { return b[1] }

// ID is the identification field.
func (b IPv4) ID() uint16 { return binary.BigEndian.Uint16(b[4:]) }

// DF reports the don't-fragment flag.
func (b IPv4) DF() bool { return b[6]&0x40 != 0 }

// MF reports the more-fragments flag.
func (b IPv4) MF() bool { return b[6]&0x20 != 0 }

// FragOffset is the fragment offset in bytes.
func (b IPv4) FragOffset() int { return int(binary.BigEndian.Uint16(b[6:])&0x1fff) * 8 }

// IsFragment reports whether the packet is a fragment (MF or an offset).
func (b IPv4) IsFragment() bool { return binary.BigEndian.Uint16(b[6:])&0x3fff != 0 }

// TTL is the time to live.
func (b IPv4) TTL() uint8 { return b[8] }

// Protocol is the payload's protocol.
func (b IPv4) Protocol() uint8 { return b[9] }

// Checksum is the header checksum field.
func (b IPv4) Checksum() uint16 { return binary.BigEndian.Uint16(b[10:]) }

// Src is the source address.
func (b IPv4) Src() netip.Addr { return netip.AddrFrom4([4]byte(b[12:16])) }

// Dst is the destination address.
func (b IPv4) Dst() netip.Addr { return netip.AddrFrom4([4]byte(b[16:20])) }

// headerEnd is HeaderLen clamped to the slice.
func (b IPv4) headerEnd() int {
	hl := b.HeaderLen()
	if hl > len(b) {
		hl = len(b)
	}
	if hl < IPv4MinLen {
		hl = IPv4MinLen
	}
	return hl
}

// Options are the header bytes after the first 20 (clamped to b).
func (b IPv4) Options() []byte { return b[IPv4MinLen:b.headerEnd()] }

// Payload is the bytes after the header up to TotalLen (both clamped to
// b, so that it never reaches past the slice even on an invalid header).
func (b IPv4) Payload() []byte {
	hl := b.headerEnd()
	tl := int(b.TotalLen())
	if tl > len(b) {
		tl = len(b)
	}
	if tl < hl {
		tl = hl
	}
	return b[hl:tl]
}

// SetTOS sets the TOS byte (checksum not updated).
func (b IPv4) SetTOS(tos uint8) { b[1] = tos }

// SetTotalLen sets the total length (checksum not updated).
func (b IPv4) SetTotalLen(n uint16) { binary.BigEndian.PutUint16(b[2:], n) }

// SetID sets the identification (checksum not updated).
func (b IPv4) SetID(id uint16) { binary.BigEndian.PutUint16(b[4:], id) }

// SetFragment sets DF, MF and the fragment offset, given in bytes and
// rounded down to a multiple of 8 (checksum not updated). The reserved
// flag bit is kept.
func (b IPv4) SetFragment(df, mf bool, offsetBytes int) {
	v := binary.BigEndian.Uint16(b[6:])&0x8000 | uint16(offsetBytes>>3)&0x1fff
	if df {
		v |= 0x4000
	}
	if mf {
		v |= 0x2000
	}
	binary.BigEndian.PutUint16(b[6:], v)
}

// SetTTL sets the TTL (checksum not updated).
func (b IPv4) SetTTL(ttl uint8) { b[8] = ttl }

// SetProtocol sets the protocol (checksum not updated).
func (b IPv4) SetProtocol(p uint8) { b[9] = p }

// SetChecksum sets the checksum field.
func (b IPv4) SetChecksum(c uint16) { binary.BigEndian.PutUint16(b[10:], c) }

// SetSrc sets the source address (checksum not updated).
func (b IPv4) SetSrc(a netip.Addr) { x := as4(a); copy(b[12:16], x[:]) }

// SetDst sets the destination address (checksum not updated).
func (b IPv4) SetDst(a netip.Addr) { x := as4(a); copy(b[16:20], x[:]) }

// DecTTL decrements the TTL and patches the header checksum incrementally
// (RFC 1624), the way a router forwards. It returns the new TTL. A TTL of
// 0 is left alone (the caller drops such packets before, with an ICMP time
// exceeded); it does not wrap.
func (b IPv4) DecTTL() uint8 {
	ttl := b[8]
	if ttl == 0 {
		return 0
	}
	// TTL is the high byte of the 16-bit word at offset 8, so the word
	// drops by 0x0100.
	old := uint16(ttl)<<8 | uint16(b[9])
	b[8] = ttl - 1
	b.SetChecksum(UpdateChecksum16(b.Checksum(), old, old-0x0100))
	return ttl - 1
}

// ComputeChecksum returns the header checksum, computed with the checksum
// field counted as zero.
func (b IPv4) ComputeChecksum() uint16 {
	hl := b.headerEnd()
	return Fold(Sum(b[12:hl], Sum(b[:10], 0)))
}

// UpdateChecksum recomputes and stores the header checksum.
func (b IPv4) UpdateChecksum() { b.SetChecksum(b.ComputeChecksum()) }

// ChecksumValid reports whether the stored header checksum is right.
func (b IPv4) ChecksumValid() bool { return Checksum(b[:b.headerEnd()], 0) == 0 }

// IPv4Fields are the fields PutIPv4 writes.
type IPv4Fields struct {
	TOS        uint8
	TotalLen   uint16
	ID         uint16
	DF, MF     bool
	FragOffset int // bytes, a multiple of 8
	TTL        uint8
	Protocol   uint8
	Src, Dst   netip.Addr
}

// PutIPv4 writes a 20-byte IPv4 header (no options) with its checksum into
// b[:20].
func PutIPv4(b []byte, f *IPv4Fields) {
	_ = b[IPv4MinLen-1]
	h := IPv4(b)
	b[0] = 0x45
	b[1] = f.TOS
	h.SetTotalLen(f.TotalLen)
	h.SetID(f.ID)
	b[6] = 0
	h.SetFragment(f.DF, f.MF, f.FragOffset)
	b[8] = f.TTL
	b[9] = f.Protocol
	b[10], b[11] = 0, 0
	h.SetSrc(f.Src)
	h.SetDst(f.Dst)
	h.SetChecksum(Checksum(b[:IPv4MinLen], 0))
}
