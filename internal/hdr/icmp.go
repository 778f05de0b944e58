package hdr

import (
	"encoding/binary"
	"net/netip"
)

// ICMPLen is the size of the ICMPv4/ICMPv6 header: type, code, checksum
// and the 4 type-specific bytes (echo id/seq, MTU, pointer, unused).
const ICMPLen = 8

// ICMPv4 types (RFC 792).
const (
	ICMPv4EchoReply       uint8 = 0
	ICMPv4DestUnreachable uint8 = 3
	ICMPv4Redirect        uint8 = 5
	ICMPv4Echo            uint8 = 8
	ICMPv4TimeExceeded    uint8 = 11
	ICMPv4ParamProblem    uint8 = 12
)

// ICMPv4 destination unreachable codes (RFC 792, RFC 1812 5.2.7.1).
const (
	ICMPv4CodeNetUnreachable     uint8 = 0
	ICMPv4CodeHostUnreachable    uint8 = 1
	ICMPv4CodeProtoUnreachable   uint8 = 2
	ICMPv4CodePortUnreachable    uint8 = 3
	ICMPv4CodeFragNeeded         uint8 = 4
	ICMPv4CodeSourceRouteFailed  uint8 = 5
	ICMPv4CodeNetUnknown         uint8 = 6
	ICMPv4CodeHostUnknown        uint8 = 7
	ICMPv4CodeNetProhibited      uint8 = 9  // network administratively prohibited
	ICMPv4CodeHostProhibited     uint8 = 10 // host administratively prohibited
	ICMPv4CodeAdminProhibited    uint8 = 13 // communication administratively prohibited
	ICMPv4CodeTTLExceeded        uint8 = 0  // time exceeded: TTL in transit
	ICMPv4CodeReassemblyExceeded uint8 = 1  // time exceeded: fragment reassembly
)

// ICMPv4 is an ICMP message (header and body).
type ICMPv4 []byte

// IsValid reports whether b holds the 8-byte header.
func (b ICMPv4) IsValid() bool { return len(b) >= ICMPLen }

// Type is the message type.
func (b ICMPv4) Type() uint8 { return b[0] }

// Code is the message code.
func (b ICMPv4) Code() uint8 { return b[1] }

// Checksum is the checksum field.
func (b ICMPv4) Checksum() uint16 { return binary.BigEndian.Uint16(b[2:]) }

// ID is the echo identifier.
func (b ICMPv4) ID() uint16 { return binary.BigEndian.Uint16(b[4:]) }

// Seq is the echo sequence number.
func (b ICMPv4) Seq() uint16 { return binary.BigEndian.Uint16(b[6:]) }

// MTU is the next-hop MTU of a fragmentation-needed message (RFC 1191).
func (b ICMPv4) MTU() uint16 { return binary.BigEndian.Uint16(b[6:]) }

// Pointer is the octet pointer of a parameter problem.
func (b ICMPv4) Pointer() uint8 { return b[4] }

// Payload is the body after the 8-byte header (for errors, the offending
// packet's header and leading bytes).
func (b ICMPv4) Payload() []byte { return b[ICMPLen:] }

// SetType sets the type.
func (b ICMPv4) SetType(t uint8) { b[0] = t }

// SetCode sets the code.
func (b ICMPv4) SetCode(c uint8) { b[1] = c }

// SetChecksum sets the checksum field.
func (b ICMPv4) SetChecksum(c uint16) { binary.BigEndian.PutUint16(b[2:], c) }

// SetID sets the echo identifier.
func (b ICMPv4) SetID(id uint16) { binary.BigEndian.PutUint16(b[4:], id) }

// SetSeq sets the echo sequence number.
func (b ICMPv4) SetSeq(s uint16) { binary.BigEndian.PutUint16(b[6:], s) }

// SetMTU sets the next-hop MTU (bytes 4-5 become unused, zero).
func (b ICMPv4) SetMTU(mtu uint16) {
	b[4], b[5] = 0, 0
	binary.BigEndian.PutUint16(b[6:], mtu)
}

// ComputeChecksum returns the checksum of the whole message with the
// checksum field counted as zero (ICMPv4 has no pseudo header).
func (b ICMPv4) ComputeChecksum() uint16 { return Fold(Sum(b[4:], Sum(b[:2], 0))) }

// UpdateChecksum stores the checksum of the whole message.
func (b ICMPv4) UpdateChecksum() { b.SetChecksum(b.ComputeChecksum()) }

// ICMPv6 types (RFC 4443, RFC 4861).
const (
	ICMPv6DestUnreachable uint8 = 1
	ICMPv6PacketTooBig    uint8 = 2
	ICMPv6TimeExceeded    uint8 = 3
	ICMPv6ParamProblem    uint8 = 4
	ICMPv6EchoRequest     uint8 = 128
	ICMPv6EchoReply       uint8 = 129
	ICMPv6RouterSolicit   uint8 = 133
	ICMPv6RouterAdvert    uint8 = 134
	ICMPv6NeighborSolicit uint8 = 135
	ICMPv6NeighborAdvert  uint8 = 136
	ICMPv6Redirect        uint8 = 137
)

// ICMPv6 codes.
const (
	// Destination unreachable.
	ICMPv6CodeNoRoute            uint8 = 0
	ICMPv6CodeAdminProhibited    uint8 = 1
	ICMPv6CodeBeyondScope        uint8 = 2
	ICMPv6CodeAddressUnreachable uint8 = 3
	ICMPv6CodePortUnreachable    uint8 = 4
	ICMPv6CodeSrcPolicyFailed    uint8 = 5
	ICMPv6CodeRejectRoute        uint8 = 6
	// Time exceeded.
	ICMPv6CodeHopLimitExceeded   uint8 = 0
	ICMPv6CodeReassemblyExceeded uint8 = 1
	// Parameter problem.
	ICMPv6CodeErroneousHeader   uint8 = 0
	ICMPv6CodeUnknownNextHeader uint8 = 1
	ICMPv6CodeUnknownOption     uint8 = 2
)

// ICMPv6 is an ICMPv6 message (header and body).
type ICMPv6 []byte

// IsValid reports whether b holds the 8-byte header.
func (b ICMPv6) IsValid() bool { return len(b) >= ICMPLen }

// Type is the message type.
func (b ICMPv6) Type() uint8 { return b[0] }

// Code is the message code.
func (b ICMPv6) Code() uint8 { return b[1] }

// Checksum is the checksum field.
func (b ICMPv6) Checksum() uint16 { return binary.BigEndian.Uint16(b[2:]) }

// ID is the echo identifier.
func (b ICMPv6) ID() uint16 { return binary.BigEndian.Uint16(b[4:]) }

// Seq is the echo sequence number.
func (b ICMPv6) Seq() uint16 { return binary.BigEndian.Uint16(b[6:]) }

// MTU is the MTU of a packet-too-big message.
func (b ICMPv6) MTU() uint32 { return binary.BigEndian.Uint32(b[4:]) }

// Pointer is the offset of a parameter problem.
func (b ICMPv6) Pointer() uint32 { return binary.BigEndian.Uint32(b[4:]) }

// Payload is the body after the 8-byte header.
func (b ICMPv6) Payload() []byte { return b[ICMPLen:] }

// SetType sets the type.
func (b ICMPv6) SetType(t uint8) { b[0] = t }

// SetCode sets the code.
func (b ICMPv6) SetCode(c uint8) { b[1] = c }

// SetChecksum sets the checksum field.
func (b ICMPv6) SetChecksum(c uint16) { binary.BigEndian.PutUint16(b[2:], c) }

// SetID sets the echo identifier.
func (b ICMPv6) SetID(id uint16) { binary.BigEndian.PutUint16(b[4:], id) }

// SetSeq sets the echo sequence number.
func (b ICMPv6) SetSeq(s uint16) { binary.BigEndian.PutUint16(b[6:], s) }

// SetMTU sets the MTU of a packet-too-big (and the pointer of a parameter
// problem: same field).
func (b ICMPv6) SetMTU(mtu uint32) { binary.BigEndian.PutUint32(b[4:], mtu) }

// ComputeChecksum returns the checksum of the message sent from src to dst
// (pseudo header included, len(b) is the upper-layer length), with the
// checksum field counted as zero.
func (b ICMPv6) ComputeChecksum(src, dst netip.Addr) uint16 {
	return TransportChecksum(src, dst, IPProtoICMPv6, b)
}

// UpdateChecksum stores the checksum of the message sent from src to dst.
func (b ICMPv6) UpdateChecksum(src, dst netip.Addr) { b.SetChecksum(b.ComputeChecksum(src, dst)) }
