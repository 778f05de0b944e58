package pcap

import "encoding/binary"

// Classic libpcap file format: a 24-byte global header, then records of a
// 16-byte header and the captured bytes.
const (
	magicMicro       = 0xa1b2c3d4
	magicNano        = 0xa1b23c4d
	magicNG          = 0x0a0d0d0a // pcapng section header block
	fileHdrLen       = 24
	recHdrLen        = 16
	linkTypeEthernet = 1
	writeSnaplen     = 262144 // the largest snaplen tools accept
	versionMajor     = 2
	versionMinor     = 4
	minFrame         = 14
)

// fileHeader is the parsed global header.
type fileHeader struct {
	order    binary.ByteOrder
	nano     bool
	snaplen  uint32
	linkType uint32
}

// parseFileHeader reads the global header. ok is false for a short
// header or an unknown magic.
func parseFileHeader(b []byte) (h fileHeader, magic uint32, ok bool) {
	if len(b) < fileHdrLen {
		return h, 0, false
	}
	magic = binary.LittleEndian.Uint32(b)
	switch magic {
	case magicMicro:
		h.order = binary.LittleEndian
	case magicNano:
		h.order, h.nano = binary.LittleEndian, true
	default:
		switch binary.BigEndian.Uint32(b) {
		case magicMicro:
			h.order = binary.BigEndian
		case magicNano:
			h.order, h.nano = binary.BigEndian, true
		default:
			return h, magic, false
		}
	}
	h.snaplen = h.order.Uint32(b[16:])
	h.linkType = h.order.Uint32(b[20:]) & 0x0fffffff // upper bits: FCS info
	return h, magic, true
}

// appendFileHeader writes a little-endian global header.
func appendFileHeader(b []byte, nano bool) []byte {
	magic := uint32(magicMicro)
	if nano {
		magic = magicNano
	}
	b = binary.LittleEndian.AppendUint32(b, magic)
	b = binary.LittleEndian.AppendUint16(b, versionMajor)
	b = binary.LittleEndian.AppendUint16(b, versionMinor)
	b = binary.LittleEndian.AppendUint32(b, 0) // thiszone
	b = binary.LittleEndian.AppendUint32(b, 0) // sigfigs
	b = binary.LittleEndian.AppendUint32(b, writeSnaplen)
	b = binary.LittleEndian.AppendUint32(b, linkTypeEthernet)
	return b
}

// putRecHeader fills a little-endian record header for a frame of n bytes
// at time ts (Unix nanoseconds).
func putRecHeader(b []byte, ts int64, n int, nano bool) {
	sec, frac := ts/1e9, ts%1e9
	if !nano {
		frac /= 1e3
	}
	binary.LittleEndian.PutUint32(b[0:], uint32(sec))
	binary.LittleEndian.PutUint32(b[4:], uint32(frac))
	binary.LittleEndian.PutUint32(b[8:], uint32(n))
	binary.LittleEndian.PutUint32(b[12:], uint32(n))
}
