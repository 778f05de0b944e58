package pkt

import "encoding/binary"

// GSOType is the kind of super-frame, as in virtio_net_hdr.gso_type.
type GSOType uint8

const (
	GSONone  GSOType = 0
	GSOTCPv4 GSOType = 1
	GSOUDP   GSOType = 3 // UFO: IP fragmentation of one UDP datagram
	GSOTCPv6 GSOType = 4
	GSOUDPL4 GSOType = 5 // USO: UDP segmentation (UDP_SEGMENT)
)

// VnetHdrLen is the size of struct virtio_net_hdr (without num_buffers).
const VnetHdrLen = 10

const (
	vnetFlagNeedsCsum = 1
	vnetFlagDataValid = 2
	vnetGSOECN        = 0x80
)

// GSO is the offload state of a frame: its segmentation type and size and
// the partial checksum the sender left to be completed.
type GSO struct {
	Type       GSOType
	ECN        bool
	NeedsCsum  bool   // checksum at CsumStart+CsumOffset holds only the pseudo-header sum
	DataValid  bool   // checksum already verified
	HdrLen     uint16 // length of all headers up to the payload
	Size       uint16 // segment payload size (MSS)
	CsumStart  uint16 // offset from frame start where checksumming starts
	CsumOffset uint16 // offset from CsumStart of the checksum field
}

// DecodeVnetHdr reads a virtio_net_hdr (little endian, as TAP with
// TUNSETVNETLE and AF_PACKET's PACKET_VNET_HDR give on x86). It reports
// false for a short buffer or an unknown GSO type.
func (g *GSO) DecodeVnetHdr(b []byte) bool {
	if len(b) < VnetHdrLen {
		return false
	}
	flags, typ := b[0], b[1]
	*g = GSO{
		NeedsCsum:  flags&vnetFlagNeedsCsum != 0,
		DataValid:  flags&vnetFlagDataValid != 0,
		ECN:        typ&vnetGSOECN != 0,
		Type:       GSOType(typ &^ vnetGSOECN),
		HdrLen:     binary.LittleEndian.Uint16(b[2:]),
		Size:       binary.LittleEndian.Uint16(b[4:]),
		CsumStart:  binary.LittleEndian.Uint16(b[6:]),
		CsumOffset: binary.LittleEndian.Uint16(b[8:]),
	}
	switch g.Type {
	case GSONone, GSOTCPv4, GSOUDP, GSOTCPv6, GSOUDPL4:
		return true
	}
	return false
}

// EncodeVnetHdr writes the virtio_net_hdr for this state into b, which
// must hold VnetHdrLen bytes.
func (g *GSO) EncodeVnetHdr(b []byte) {
	var flags, typ byte
	if g.NeedsCsum {
		flags |= vnetFlagNeedsCsum
	}
	if g.DataValid {
		flags |= vnetFlagDataValid
	}
	typ = byte(g.Type)
	if g.ECN && g.Type != GSONone {
		typ |= vnetGSOECN
	}
	b[0], b[1] = flags, typ
	binary.LittleEndian.PutUint16(b[2:], g.HdrLen)
	binary.LittleEndian.PutUint16(b[4:], g.Size)
	binary.LittleEndian.PutUint16(b[6:], g.CsumStart)
	binary.LittleEndian.PutUint16(b[8:], g.CsumOffset)
}

// IsGSO reports whether the frame is a super-frame to be segmented.
func (g *GSO) IsGSO() bool { return g.Type != GSONone }
