package hdr

import "encoding/binary"

// UDPLen is the size of the UDP header.
const UDPLen = 8

// UDP is a UDP header followed by its payload:
//
//	source port(2) | destination port(2) | length(2) | checksum(2)
type UDP []byte

// IsValid reports whether b holds the header and the length it claims
// (length >= 8; trailing bytes are allowed).
func (b UDP) IsValid() bool {
	if len(b) < UDPLen {
		return false
	}
	l := int(binary.BigEndian.Uint16(b[4:]))
	return l >= UDPLen && l <= len(b)
}

// SrcPort is the source port.
func (b UDP) SrcPort() uint16 { return binary.BigEndian.Uint16(b[0:]) }

// DstPort is the destination port.
func (b UDP) DstPort() uint16 { return binary.BigEndian.Uint16(b[2:]) }

// Length is the length field (header and payload).
func (b UDP) Length() uint16 { return binary.BigEndian.Uint16(b[4:]) }

// Checksum is the checksum field (0: none, IPv4 only).
func (b UDP) Checksum() uint16 { return binary.BigEndian.Uint16(b[6:]) }

// Payload is the bytes after the header up to Length (clamped to b).
func (b UDP) Payload() []byte {
	l := int(b.Length())
	if l > len(b) {
		l = len(b)
	}
	if l < UDPLen {
		l = UDPLen
	}
	return b[UDPLen:l]
}

// SetSrcPort sets the source port.
func (b UDP) SetSrcPort(p uint16) { binary.BigEndian.PutUint16(b[0:], p) }

// SetDstPort sets the destination port.
func (b UDP) SetDstPort(p uint16) { binary.BigEndian.PutUint16(b[2:], p) }

// SetLength sets the length field.
func (b UDP) SetLength(l uint16) { binary.BigEndian.PutUint16(b[4:], l) }

// SetChecksum sets the checksum field.
func (b UDP) SetChecksum(c uint16) { binary.BigEndian.PutUint16(b[6:], c) }

// PutUDP writes a UDP header into b[:8] with a zero checksum (fill it with
// TransportChecksum over the whole datagram, or leave 0 over IPv4).
func PutUDP(b []byte, srcPort, dstPort, length uint16) {
	_ = b[UDPLen-1]
	binary.BigEndian.PutUint16(b[0:], srcPort)
	binary.BigEndian.PutUint16(b[2:], dstPort)
	binary.BigEndian.PutUint16(b[4:], length)
	b[6], b[7] = 0, 0
}
