package hdr

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
)

// Sum adds b to the partial ones'-complement sum initial and returns the
// new partial sum, unfolded. The sum is of big-endian 16-bit words with an
// odd trailing byte padded with zero (RFC 1071), so chaining is exact when
// every chunk but the last has even length:
//
//	Sum(b[n:], Sum(b[:n], 0)) == Sum(b, 0)   for even n (after Fold)
//
// It reads little-endian 64-bit words and adds them with carry: the
// ones'-complement sum does not care about byte order as long as the
// result is swapped back (RFC 1071 section 2(B)), and native loads let the
// loop run at memory speed.
func Sum(b []byte, initial uint32) uint32 {
	var s, c uint64
	for len(b) >= 64 {
		s, c = bits.Add64(s, binary.LittleEndian.Uint64(b[0:]), c)
		s, c = bits.Add64(s, binary.LittleEndian.Uint64(b[8:]), c)
		s, c = bits.Add64(s, binary.LittleEndian.Uint64(b[16:]), c)
		s, c = bits.Add64(s, binary.LittleEndian.Uint64(b[24:]), c)
		s, c = bits.Add64(s, binary.LittleEndian.Uint64(b[32:]), c)
		s, c = bits.Add64(s, binary.LittleEndian.Uint64(b[40:]), c)
		s, c = bits.Add64(s, binary.LittleEndian.Uint64(b[48:]), c)
		s, c = bits.Add64(s, binary.LittleEndian.Uint64(b[56:]), c)
		b = b[64:]
	}
	for len(b) >= 8 {
		s, c = bits.Add64(s, binary.LittleEndian.Uint64(b), c)
		b = b[8:]
	}
	if len(b) >= 4 {
		s, c = bits.Add64(s, uint64(binary.LittleEndian.Uint32(b)), c)
		b = b[4:]
	}
	if len(b) >= 2 {
		s, c = bits.Add64(s, uint64(binary.LittleEndian.Uint16(b)), c)
		b = b[2:]
	}
	if len(b) == 1 {
		// The last byte is the high byte of a big-endian word, so the
		// low byte of a little-endian one.
		s, c = bits.Add64(s, uint64(b[0]), c)
	}
	s, c = bits.Add64(s, 0, c)
	s += c // s is at most 2^64-2 after adding a carry, so this cannot wrap
	// Fold 64 -> 16 bits with end-around carry, then swap to big-endian.
	t := s>>32 + s&0xffffffff
	t = t>>16 + t&0xffff
	t = t>>16 + t&0xffff
	t = t>>16 + t&0xffff
	w := uint64(bits.ReverseBytes16(uint16(t)))
	r := uint64(initial) + w
	return uint32(r>>32) + uint32(r) // end-around carry; cannot carry again
}

// Fold folds a partial sum to 16 bits and complements it: the value to
// store in a checksum field.
func Fold(sum uint32) uint16 {
	s := sum>>16 + sum&0xffff
	s = s>>16 + s&0xffff
	return ^uint16(s)
}

// Checksum is Fold(Sum(b, initial)).
func Checksum(b []byte, initial uint32) uint16 { return Fold(Sum(b, initial)) }

// PseudoHeaderSum is the partial sum of the TCP/UDP/ICMPv6 pseudo header:
// the IPv4 one (RFC 793) when src is IPv4, else the IPv6 one (RFC 8200
// 8.1). length is the upper-layer length (header and payload).
func PseudoHeaderSum(src, dst netip.Addr, proto uint8, length int) uint32 {
	var s uint64
	if src.Is4() {
		a, b := src.As4(), as4(dst)
		s = uint64(binary.BigEndian.Uint16(a[0:])) + uint64(binary.BigEndian.Uint16(a[2:])) +
			uint64(binary.BigEndian.Uint16(b[0:])) + uint64(binary.BigEndian.Uint16(b[2:]))
	} else {
		a, b := src.As16(), dst.As16()
		for i := 0; i < 16; i += 2 {
			s += uint64(binary.BigEndian.Uint16(a[i:])) + uint64(binary.BigEndian.Uint16(b[i:]))
		}
	}
	l := uint64(uint32(length))
	s += uint64(proto) + l>>16 + l&0xffff
	return uint32(s>>32) + uint32(s) // s < 2^32 here; written out for clarity
}

// fold16 reduces a partial sum to 16 bits with end-around carry, without
// complementing.
func fold16(s uint32) uint32 {
	s = s>>16 + s&0xffff
	return s>>16 + s&0xffff
}

// UpdateChecksum16 returns the checksum after a 16-bit word covered by it
// changed from old to new (RFC 1624 equation 3: HC' = ~(~HC + ~m + m')).
func UpdateChecksum16(check, old, new uint16) uint16 {
	s := uint32(^check) + uint32(^old) + uint32(new)
	return ^uint16(fold16(s))
}

// UpdateChecksum32 is UpdateChecksum16 for a 32-bit field (aligned on a
// 16-bit boundary of the checksummed data).
func UpdateChecksum32(check uint16, old, new uint32) uint16 {
	s := uint32(^check) + uint32(^uint16(old>>16)) + uint32(^uint16(old)) +
		uint32(uint16(new>>16)) + uint32(uint16(new))
	return ^uint16(fold16(s))
}

// UpdateChecksumAddr returns the checksum after an address it covers (in
// the IP header, or in a pseudo header for TCP/UDP/ICMPv6) changed from old
// to new: NAT and tunnel rewrites. Both are summed in their own size (4 or
// 16 bytes). A UDP checksum of 0 means "none" and must not be patched; that
// is the caller's test.
func UpdateChecksumAddr(check uint16, old, new netip.Addr) uint16 {
	s := uint32(^check)
	s += ^addrSum(old) & 0xffff
	s += addrSum(new)
	return ^uint16(fold16(s))
}

// addrSum is the folded 16-bit ones'-complement sum of an address.
func addrSum(a netip.Addr) uint32 {
	var s uint32
	if a.Is4() {
		b := a.As4()
		s = uint32(binary.BigEndian.Uint16(b[0:])) + uint32(binary.BigEndian.Uint16(b[2:]))
	} else {
		b := a.As16()
		for i := 0; i < 16; i += 2 {
			s += uint32(binary.BigEndian.Uint16(b[i:]))
		}
	}
	return fold16(s)
}

// ChecksumOffset returns where the checksum field of a transport header of
// protocol proto is (TCP 16, UDP 6, ICMP/ICMPv6 2), or -1 if unknown.
func ChecksumOffset(proto uint8) int {
	switch proto {
	case IPProtoTCP:
		return 16
	case IPProtoUDP:
		return 6
	case IPProtoICMP, IPProtoICMPv6:
		return 2
	}
	return -1
}

// TransportChecksum computes the checksum to store in the transport header
// l4 (header and payload, len(l4) is the upper-layer length) of protocol
// proto sent from src to dst. The checksum field already in l4 does not
// count: the sum skips its two bytes (they sit at an even offset, so
// summing l4[:off] and l4[off+2:] separately is exact), so the field need
// not be zeroed first and l4 is not written.
//
// TCP, UDP and ICMPv6 include the pseudo header; ICMP (v4) does not. A UDP
// result of 0 is returned as 0xffff (0 means "no checksum", RFC 768). For
// other protocols (no known checksum field) the pseudo header and all of l4
// are summed as they are.
func TransportChecksum(src, dst netip.Addr, proto uint8, l4 []byte) uint16 {
	var s uint32
	if proto != IPProtoICMP {
		s = PseudoHeaderSum(src, dst, proto, len(l4))
	}
	off := ChecksumOffset(proto)
	if off < 0 || len(l4) < off+2 {
		return Fold(Sum(l4, s))
	}
	c := Fold(Sum(l4[off+2:], Sum(l4[:off], s)))
	if c == 0 && proto == IPProtoUDP {
		c = 0xffff
	}
	return c
}

// TransportChecksumValid reports whether the checksum stored in l4 is
// right. A UDP checksum of 0 (none, IPv4 only) counts as valid for IPv4.
func TransportChecksumValid(src, dst netip.Addr, proto uint8, l4 []byte) bool {
	off := ChecksumOffset(proto)
	if off < 0 || len(l4) < off+2 {
		return false
	}
	if proto == IPProtoUDP && src.Is4() && l4[6] == 0 && l4[7] == 0 {
		return true
	}
	var s uint32
	if proto != IPProtoICMP {
		s = PseudoHeaderSum(src, dst, proto, len(l4))
	}
	return Fold(Sum(l4, s)) == 0
}
