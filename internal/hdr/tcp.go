package hdr

import "encoding/binary"

// TCPMinLen is the size of a TCP header without options.
const TCPMinLen = 20

// TCP flags (the byte at offset 13).
const (
	TCPFlagFIN uint8 = 0x01
	TCPFlagSYN uint8 = 0x02
	TCPFlagRST uint8 = 0x04
	TCPFlagPSH uint8 = 0x08
	TCPFlagACK uint8 = 0x10
	TCPFlagURG uint8 = 0x20
	TCPFlagECE uint8 = 0x40
	TCPFlagCWR uint8 = 0x80
)

// TCP is a TCP header followed by its payload:
//
//	src port(2) | dst port(2) | seq(4) | ack(4) | off(4 bits) rsv | flags |
//	window(2) | checksum(2) | urgent(2) | options (off*4 - 20)
type TCP []byte

// IsValid reports whether b holds the whole header its data offset claims.
func (b TCP) IsValid() bool {
	if len(b) < TCPMinLen {
		return false
	}
	off := int(b[12]>>4) * 4
	return off >= TCPMinLen && off <= len(b)
}

// SrcPort is the source port.
func (b TCP) SrcPort() uint16 { return binary.BigEndian.Uint16(b[0:]) }

// DstPort is the destination port.
func (b TCP) DstPort() uint16 { return binary.BigEndian.Uint16(b[2:]) }

// Seq is the sequence number.
func (b TCP) Seq() uint32 { return binary.BigEndian.Uint32(b[4:]) }

// Ack is the acknowledgment number.
func (b TCP) Ack() uint32 { return binary.BigEndian.Uint32(b[8:]) }

// DataOffset is the header length in bytes.
func (b TCP) DataOffset() int { return int(b[12]>>4) * 4 }

// Flags is the flag byte (TCPFlag*).
func (b TCP) Flags() uint8 { return b[13] }

// Window is the window field.
func (b TCP) Window() uint16 { return binary.BigEndian.Uint16(b[14:]) }

// Checksum is the checksum field.
func (b TCP) Checksum() uint16 { return binary.BigEndian.Uint16(b[16:]) }

// Urgent is the urgent pointer.
func (b TCP) Urgent() uint16 { return binary.BigEndian.Uint16(b[18:]) }

// dataEnd is DataOffset clamped to [20, len(b)].
func (b TCP) dataEnd() int {
	off := b.DataOffset()
	if off > len(b) {
		off = len(b)
	}
	if off < TCPMinLen {
		off = TCPMinLen
	}
	return off
}

// Options are the option bytes (clamped to b).
func (b TCP) Options() []byte { return b[TCPMinLen:b.dataEnd()] }

// Payload is the bytes after the header. TCP has no length of its own:
// the caller slices the view to the IP payload first.
func (b TCP) Payload() []byte { return b[b.dataEnd():] }

// SetSrcPort sets the source port.
func (b TCP) SetSrcPort(p uint16) { binary.BigEndian.PutUint16(b[0:], p) }

// SetDstPort sets the destination port.
func (b TCP) SetDstPort(p uint16) { binary.BigEndian.PutUint16(b[2:], p) }

// SetSeq sets the sequence number.
func (b TCP) SetSeq(s uint32) { binary.BigEndian.PutUint32(b[4:], s) }

// SetAck sets the acknowledgment number.
func (b TCP) SetAck(a uint32) { binary.BigEndian.PutUint32(b[8:], a) }

// SetDataOffset sets the header length in bytes (a multiple of 4).
func (b TCP) SetDataOffset(n int) { b[12] = b[12]&0x0f | uint8(n/4)<<4 }

// SetFlags sets the flag byte.
func (b TCP) SetFlags(f uint8) { b[13] = f }

// SetWindow sets the window.
func (b TCP) SetWindow(w uint16) { binary.BigEndian.PutUint16(b[14:], w) }

// SetChecksum sets the checksum field.
func (b TCP) SetChecksum(c uint16) { binary.BigEndian.PutUint16(b[16:], c) }

// SetUrgent sets the urgent pointer.
func (b TCP) SetUrgent(u uint16) { binary.BigEndian.PutUint16(b[18:], u) }

// TCPFields are the fields PutTCP writes.
type TCPFields struct {
	SrcPort, DstPort uint16
	Seq, Ack         uint32
	DataOffset       int // header length in bytes; 0 means 20
	Flags            uint8
	Window           uint16
	Urgent           uint16
}

// PutTCP writes the first 20 bytes of a TCP header into b with a zero
// checksum; options, if DataOffset says there are some, are the caller's
// to write after them.
func PutTCP(b []byte, f *TCPFields) {
	_ = b[TCPMinLen-1]
	h := TCP(b)
	h.SetSrcPort(f.SrcPort)
	h.SetDstPort(f.DstPort)
	h.SetSeq(f.Seq)
	h.SetAck(f.Ack)
	off := f.DataOffset
	if off == 0 {
		off = TCPMinLen
	}
	b[12] = uint8(off/4) << 4
	b[13] = f.Flags
	h.SetWindow(f.Window)
	b[16], b[17] = 0, 0
	h.SetUrgent(f.Urgent)
}
