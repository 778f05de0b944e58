package hdr

import (
	"encoding/binary"
	"net/netip"
)

// ARPLen is the size of an Ethernet/IPv4 ARP message.
const ARPLen = 28

// ARP operations.
const (
	ARPRequest uint16 = 1
	ARPReply   uint16 = 2
)

// ARP is an Ethernet/IPv4 ARP message (RFC 826):
//
//	htype(2) ptype(2) hlen(1) plen(1) op(2) sha(6) spa(4) tha(6) tpa(4)
type ARP []byte

// IsValid reports whether b is a whole ARP message for Ethernet and IPv4
// (htype 1, ptype 0x0800, hlen 6, plen 4); other kinds are not ours.
func (b ARP) IsValid() bool {
	return len(b) >= ARPLen && b[0] == 0 && b[1] == 1 && b[2] == 0x08 && b[3] == 0x00 &&
		b[4] == 6 && b[5] == 4
}

// Op is the operation (ARPRequest, ARPReply).
func (b ARP) Op() uint16 { return binary.BigEndian.Uint16(b[6:]) }

// SenderMAC is the sender hardware address.
func (b ARP) SenderMAC() MAC { return MAC(b[8:14]) }

// SenderIP is the sender protocol address.
func (b ARP) SenderIP() netip.Addr { return netip.AddrFrom4([4]byte(b[14:18])) }

// TargetMAC is the target hardware address.
func (b ARP) TargetMAC() MAC { return MAC(b[18:24]) }

// TargetIP is the target protocol address.
func (b ARP) TargetIP() netip.Addr { return netip.AddrFrom4([4]byte(b[24:28])) }

// SetOp sets the operation.
func (b ARP) SetOp(op uint16) { binary.BigEndian.PutUint16(b[6:], op) }

// PutARP writes an Ethernet/IPv4 ARP message into b[:28].
func PutARP(b []byte, op uint16, sha MAC, spa netip.Addr, tha MAC, tpa netip.Addr) {
	_ = b[ARPLen-1]
	b[0], b[1], b[2], b[3], b[4], b[5] = 0, 1, 0x08, 0x00, 6, 4
	binary.BigEndian.PutUint16(b[6:], op)
	copy(b[8:14], sha[:])
	s, t := as4(spa), as4(tpa)
	copy(b[14:18], s[:])
	copy(b[18:24], tha[:])
	copy(b[24:28], t[:])
}
