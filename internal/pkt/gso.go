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

// VnetTunnelHdrLen is the size of struct virtio_net_hdr_v1_hash_tunnel: a
// TAP whose header is this long takes UDP-tunnel GSO frames (Linux 6.17):
//
//	0 virtio_net_hdr (10) │ 10 num_buffers │ 12 hash_value, hash_report,
//	padding (8) │ 20 outer_th_offset │ 22 inner_nh_offset
const VnetTunnelHdrLen = 24

const (
	vnetFlagNeedsCsum     = 1
	vnetFlagDataValid     = 2
	vnetFlagUDPTunnelCsum = 8
	vnetGSOECN            = 0x80
	vnetGSOUDPTunnelIPv4  = 0x20
	vnetGSOUDPTunnelIPv6  = 0x40
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

	// A TCP super-frame inside a UDP tunnel datagram, handed whole to a
	// port that takes UDP-tunnel GSO (the kernel's SKB_GSO_UDP_TUNNEL):
	// OuterL4 is the offset of the outer UDP header (0: not such a
	// frame), InnerL3 the inner IP header's, TunnelV6 says the outer IP
	// is IPv6 and TunnelCsum that every datagram gets an outer UDP
	// checksum. Type, Size and the checksum fields describe the inner
	// TCP super-frame. Only the dataplane sets them, just before such a
	// port; nothing decodes them (see DecodeVnetTunnelHdr).
	OuterL4, InnerL3     uint16
	TunnelV6, TunnelCsum bool
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

// DecodeVnetTunnelHdr reads a virtio_net_hdr_v1_hash_tunnel (a TAP with
// UDP-tunnel GSO on). A UDP-tunnel super-frame comes out as AF_PACKET
// reports one (see gso.UDPTunnelHeaders): Type the inner TCP's, the
// checksum start on the inner TCP header, the tunnel fields zero (the
// pipeline finds the tunnel in the frame; offsets kept here would go stale
// the moment it decapsulates). It reports false for a short buffer, an
// unknown type, or a tunnel header that is not a TCP super-frame with its
// offsets in order.
func (g *GSO) DecodeVnetTunnelHdr(b []byte) bool {
	if len(b) < VnetTunnelHdrLen {
		return false
	}
	typ := b[1]
	tun := typ & (vnetGSOUDPTunnelIPv4 | vnetGSOUDPTunnelIPv6)
	var plain [VnetHdrLen]byte
	copy(plain[:], b)
	plain[0] &^= vnetFlagUDPTunnelCsum
	plain[1] &^= tun
	if !g.DecodeVnetHdr(plain[:]) {
		return false
	}
	if tun == 0 {
		return true
	}
	outer, inner := binary.LittleEndian.Uint16(b[20:]), binary.LittleEndian.Uint16(b[22:])
	return tun != vnetGSOUDPTunnelIPv4|vnetGSOUDPTunnelIPv6 && (g.Type == GSOTCPv4 || g.Type == GSOTCPv6) &&
		g.NeedsCsum && outer != 0 && inner > outer && g.CsumStart > inner
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

// EncodeVnetTunnelHdr writes the virtio_net_hdr_v1_hash_tunnel for this
// state into b, which must hold VnetTunnelHdrLen bytes: the plain header,
// zero num_buffers and hash fields, and the tunnel offsets and type bits
// when OuterL4 is set.
func (g *GSO) EncodeVnetTunnelHdr(b []byte) {
	g.EncodeVnetHdr(b)
	clear(b[VnetHdrLen:VnetTunnelHdrLen])
	if g.OuterL4 == 0 || g.Type == GSONone {
		return
	}
	if g.TunnelV6 {
		b[1] |= vnetGSOUDPTunnelIPv6
	} else {
		b[1] |= vnetGSOUDPTunnelIPv4
	}
	if g.TunnelCsum {
		b[0] |= vnetFlagUDPTunnelCsum
	}
	binary.LittleEndian.PutUint16(b[20:], g.OuterL4)
	binary.LittleEndian.PutUint16(b[22:], g.InnerL3)
}

// IsGSO reports whether the frame is a super-frame to be segmented.
func (g *GSO) IsGSO() bool { return g.Type != GSONone }
