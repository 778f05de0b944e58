package hdr

import "net/netip"

// NDP sizes: a solicitation or advertisement without options, and one
// Ethernet link-layer address option.
const (
	NDPNSLen          = 24
	NDPNALen          = 24
	NDPLinkAddrOptLen = 8
)

// NDP option types (RFC 4861 4.6).
const (
	NDPOptSourceLinkAddr uint8 = 1
	NDPOptTargetLinkAddr uint8 = 2
)

// Neighbor advertisement flags (the byte after the checksum).
const (
	NDPFlagRouter    uint8 = 0x80
	NDPFlagSolicited uint8 = 0x40
	NDPFlagOverride  uint8 = 0x20
)

// NDPNeighborSolicit is a neighbour solicitation, the whole ICMPv6
// message:
//
//	type=135 | code=0 | checksum | reserved(4) | target(16) | options...
type NDPNeighborSolicit []byte

// IsValid checks the RFC 4861 7.1.1 rules that concern the message itself:
// type 135, code 0, at least 24 bytes, target not multicast, options
// well formed. Hop limit 255 and the checksum are the caller's checks.
func (b NDPNeighborSolicit) IsValid() bool {
	return len(b) >= NDPNSLen && b[0] == ICMPv6NeighborSolicit && b[1] == 0 &&
		b[8] != 0xff && NDPOptionsValid(b[NDPNSLen:])
}

// TargetAddress is the address being resolved.
func (b NDPNeighborSolicit) TargetAddress() netip.Addr {
	return netip.AddrFrom16([16]byte(b[8:24]))
}

// Options are the option bytes.
func (b NDPNeighborSolicit) Options() []byte { return b[NDPNSLen:] }

// SourceLinkAddr returns the source link-layer address option, if any.
func (b NDPNeighborSolicit) SourceLinkAddr() (MAC, bool) {
	return NDPLinkAddrOption(b.Options(), NDPOptSourceLinkAddr)
}

// NDPNeighborAdvert is a neighbour advertisement, the whole ICMPv6
// message:
//
//	type=136 | code=0 | checksum | R S O reserved(29 bits) | target(16) | options...
type NDPNeighborAdvert []byte

// IsValid checks type 136, code 0, at least 24 bytes, target not
// multicast, options well formed.
func (b NDPNeighborAdvert) IsValid() bool {
	return len(b) >= NDPNALen && b[0] == ICMPv6NeighborAdvert && b[1] == 0 &&
		b[8] != 0xff && NDPOptionsValid(b[NDPNALen:])
}

// Flags is the flag byte (NDPFlagRouter|NDPFlagSolicited|NDPFlagOverride).
func (b NDPNeighborAdvert) Flags() uint8 { return b[4] & 0xe0 }

// Router reports the R flag.
func (b NDPNeighborAdvert) Router() bool { return b[4]&NDPFlagRouter != 0 }

// Solicited reports the S flag.
func (b NDPNeighborAdvert) Solicited() bool { return b[4]&NDPFlagSolicited != 0 }

// Override reports the O flag.
func (b NDPNeighborAdvert) Override() bool { return b[4]&NDPFlagOverride != 0 }

// TargetAddress is the address advertised.
func (b NDPNeighborAdvert) TargetAddress() netip.Addr {
	return netip.AddrFrom16([16]byte(b[8:24]))
}

// Options are the option bytes.
func (b NDPNeighborAdvert) Options() []byte { return b[NDPNALen:] }

// TargetLinkAddr returns the target link-layer address option, if any.
func (b NDPNeighborAdvert) TargetLinkAddr() (MAC, bool) {
	return NDPLinkAddrOption(b.Options(), NDPOptTargetLinkAddr)
}

// NDPOptionsValid reports whether opts is a well-formed option list:
// every option has a nonzero length (in units of 8 bytes) and fits.
func NDPOptionsValid(opts []byte) bool {
	for len(opts) > 0 {
		if len(opts) < 2 || opts[1] == 0 {
			return false
		}
		n := int(opts[1]) * 8
		if n > len(opts) {
			return false
		}
		opts = opts[n:]
	}
	return true
}

// NDPLinkAddrOption returns the Ethernet address in the first option of
// type typ (NDPOptSourceLinkAddr or NDPOptTargetLinkAddr). It reports false
// if there is none or the list is malformed before it (a zero length makes
// the rest unwalkable, RFC 4861 says to drop the message).
func NDPLinkAddrOption(opts []byte, typ uint8) (MAC, bool) {
	for len(opts) > 0 {
		if len(opts) < 2 || opts[1] == 0 {
			return MAC{}, false
		}
		n := int(opts[1]) * 8
		if n > len(opts) {
			return MAC{}, false
		}
		if opts[0] == typ {
			return MAC(opts[2:8]), true
		}
		opts = opts[n:]
	}
	return MAC{}, false
}

// putNDPHead writes type, code, zero checksum, the 4 flag/reserved bytes
// and the target.
func putNDPHead(b []byte, typ, flags uint8, target netip.Addr) {
	b[0], b[1], b[2], b[3] = typ, 0, 0, 0
	b[4], b[5], b[6], b[7] = flags, 0, 0, 0
	t := target.As16()
	copy(b[8:24], t[:])
}

func putLinkAddrOpt(b []byte, typ uint8, m MAC) {
	b[0], b[1] = typ, 1
	copy(b[2:8], m[:])
}

// PutNDPNeighborSolicit writes a neighbour solicitation for target into b,
// with a source link-layer address option for srcMAC when withOpt (it must
// be left out when the IPv6 source is unspecified, during DAD). It returns
// the bytes written (24 or 32; b must hold them). The checksum field is
// left zero: it depends on the IPv6 addresses, so the caller finishes with
// ICMPv6(b[:n]).UpdateChecksum(src, dst).
func PutNDPNeighborSolicit(b []byte, target netip.Addr, srcMAC MAC, withOpt bool) int {
	n := NDPNSLen
	if withOpt {
		n += NDPLinkAddrOptLen
	}
	_ = b[n-1]
	putNDPHead(b, ICMPv6NeighborSolicit, 0, target)
	if withOpt {
		putLinkAddrOpt(b[NDPNSLen:], NDPOptSourceLinkAddr, srcMAC)
	}
	return n
}

// PutNDPNeighborAdvert writes a neighbour advertisement for target with
// flags (NDPFlag*) and a target link-layer address option for tgtMAC into
// b. It returns the bytes written (32; b must hold them). As for
// solicitations, the caller fills the checksum with
// ICMPv6(b[:n]).UpdateChecksum(src, dst).
func PutNDPNeighborAdvert(b []byte, target netip.Addr, flags uint8, tgtMAC MAC) int {
	n := NDPNALen + NDPLinkAddrOptLen
	_ = b[n-1]
	putNDPHead(b, ICMPv6NeighborAdvert, flags&0xe0, target)
	putLinkAddrOpt(b[NDPNALen:], NDPOptTargetLinkAddr, tgtMAC)
	return n
}
