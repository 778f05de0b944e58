package hdr

import "encoding/binary"

// Ethernet and 802.1Q sizes.
const (
	EthernetLen = 14
	VLANLen     = 4
	// MaxVLANTags is how many stacked tags L2Payload walks (802.1ad QinQ).
	MaxVLANTags = 2
)

// EtherTypes.
const (
	EtherTypeIPv4          uint16 = 0x0800
	EtherTypeARP           uint16 = 0x0806
	EtherTypeVLAN          uint16 = 0x8100
	EtherTypeIPv6          uint16 = 0x86dd
	EtherTypeMPLS          uint16 = 0x8847
	EtherTypeMPLSMulticast uint16 = 0x8848
	EtherTypeQinQ          uint16 = 0x88a8
)

// Ethernet is an Ethernet II header: dst(6) src(6) ethertype(2).
type Ethernet []byte

// IsValid reports whether b holds a whole header.
func (b Ethernet) IsValid() bool { return len(b) >= EthernetLen }

// Dst is the destination address.
func (b Ethernet) Dst() MAC { return MAC(b[0:6]) }

// Src is the source address.
func (b Ethernet) Src() MAC { return MAC(b[6:12]) }

// EtherType is the type field (the outer one when tagged).
func (b Ethernet) EtherType() uint16 { return binary.BigEndian.Uint16(b[12:]) }

// SetDst sets the destination address.
func (b Ethernet) SetDst(m MAC) { copy(b[0:6], m[:]) }

// SetSrc sets the source address.
func (b Ethernet) SetSrc(m MAC) { copy(b[6:12], m[:]) }

// SetEtherType sets the type field.
func (b Ethernet) SetEtherType(t uint16) { binary.BigEndian.PutUint16(b[12:], t) }

// Payload is what follows the 14-byte header (tags included).
func (b Ethernet) Payload() []byte { return b[EthernetLen:] }

// PutEthernet writes an Ethernet header into b[:14].
func PutEthernet(b []byte, dst, src MAC, etherType uint16) {
	_ = b[13]
	copy(b[0:6], dst[:])
	copy(b[6:12], src[:])
	binary.BigEndian.PutUint16(b[12:], etherType)
}

// VLAN is an 802.1Q tag without its TPID: the 4 bytes after the outer
// ethertype, TCI(2) then the inner ethertype(2).
//
//	PCP(3) DEI(1) VID(12) | EtherType(16)
type VLAN []byte

// IsValid reports whether b holds a whole tag.
func (b VLAN) IsValid() bool { return len(b) >= VLANLen }

// TCI is the tag control information.
func (b VLAN) TCI() uint16 { return binary.BigEndian.Uint16(b[0:]) }

// VID is the VLAN id (12 bits).
func (b VLAN) VID() uint16 { return b.TCI() & 0x0fff }

// PCP is the priority code point (3 bits).
func (b VLAN) PCP() uint8 { return b[0] >> 5 }

// DEI is the drop-eligible indicator.
func (b VLAN) DEI() bool { return b[0]&0x10 != 0 }

// EtherType is the type of what follows the tag.
func (b VLAN) EtherType() uint16 { return binary.BigEndian.Uint16(b[2:]) }

// SetTCI sets the whole TCI.
func (b VLAN) SetTCI(tci uint16) { binary.BigEndian.PutUint16(b[0:], tci) }

// SetVID sets the VLAN id, keeping PCP and DEI.
func (b VLAN) SetVID(vid uint16) { b.SetTCI(b.TCI()&0xf000 | vid&0x0fff) }

// SetPCP sets the priority, keeping DEI and VID.
func (b VLAN) SetPCP(pcp uint8) { b[0] = b[0]&0x1f | pcp<<5 }

// SetEtherType sets the inner type.
func (b VLAN) SetEtherType(t uint16) { binary.BigEndian.PutUint16(b[2:], t) }

// PutVLAN writes a tag (TCI, inner ethertype) into b[:4].
func PutVLAN(b []byte, tci, etherType uint16) {
	_ = b[3]
	binary.BigEndian.PutUint16(b[0:], tci)
	binary.BigEndian.PutUint16(b[2:], etherType)
}

// L2Payload walks an Ethernet frame's header and up to MaxVLANTags tags
// (0x8100 or 0x88a8) and returns the ethertype of the payload, the payload
// offset, and the outer tag's TCI (0 if untagged). With more tags than
// MaxVLANTags it stops after MaxVLANTags and returns the next tag's TPID as
// the ethertype, as the OVS flow key does. ok is false for a frame too short
// for its header or a tag.
func L2Payload(frame []byte) (etherType uint16, off int, tci uint16, ok bool) {
	if len(frame) < EthernetLen {
		return 0, 0, 0, false
	}
	etherType = binary.BigEndian.Uint16(frame[12:])
	off = EthernetLen
	for i := 0; i < MaxVLANTags && (etherType == EtherTypeVLAN || etherType == EtherTypeQinQ); i++ {
		if len(frame) < off+VLANLen {
			return 0, 0, 0, false
		}
		if i == 0 {
			tci = binary.BigEndian.Uint16(frame[off:])
		}
		etherType = binary.BigEndian.Uint16(frame[off+2:])
		off += VLANLen
	}
	return etherType, off, tci, true
}
