package hdr

import (
	"fmt"
	"net/netip"
)

// MAC is an Ethernet address.
type MAC [6]byte

// BroadcastMAC is ff:ff:ff:ff:ff:ff.
var BroadcastMAC = MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

const hexDigits = "0123456789abcdef"

// String formats the address as aa:bb:cc:dd:ee:ff.
func (m MAC) String() string {
	var b [17]byte
	for i, x := range m {
		if i > 0 {
			b[i*3-1] = ':'
		}
		b[i*3] = hexDigits[x>>4]
		b[i*3+1] = hexDigits[x&0xf]
	}
	return string(b[:])
}

// IsBroadcast reports whether m is ff:ff:ff:ff:ff:ff.
func (m MAC) IsBroadcast() bool { return m == BroadcastMAC }

// IsMulticast reports whether the group bit is set (broadcast included).
func (m MAC) IsMulticast() bool { return m[0]&1 != 0 }

// IsZero reports whether m is 00:00:00:00:00:00.
func (m MAC) IsZero() bool { return m == MAC{} }

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// ParseMAC parses six hex octets separated by ':' or '-' (one separator
// throughout), each one or two digits: "02:00:5e:10:00:01", "2-0-5e-10-0-1".
// The error is plain (this package imports no project code); callers in the
// control plane wrap it with errs.ErrInvalid.
func ParseMAC(s string) (MAC, error) {
	var m MAC
	var sep byte
	i := 0
	for k := 0; k < 6; k++ {
		if k > 0 {
			if i >= len(s) || (s[i] != ':' && s[i] != '-') || (sep != 0 && s[i] != sep) {
				return MAC{}, fmt.Errorf("invalid mac address %q", s)
			}
			sep = s[i]
			i++
		}
		var v byte
		n := 0
		for n < 2 && i < len(s) {
			d, ok := unhex(s[i])
			if !ok {
				break
			}
			v = v<<4 | d
			i++
			n++
		}
		if n == 0 {
			return MAC{}, fmt.Errorf("invalid mac address %q", s)
		}
		m[k] = v
	}
	if i != len(s) {
		return MAC{}, fmt.Errorf("invalid mac address %q", s)
	}
	return m, nil
}

// IPv4MulticastMAC maps an IPv4 multicast group to its Ethernet address
// (RFC 1112: 01:00:5e and the low 23 bits of the group).
func IPv4MulticastMAC(a netip.Addr) MAC {
	b := as4(a)
	return MAC{0x01, 0x00, 0x5e, b[1] & 0x7f, b[2], b[3]}
}

// IPv6MulticastMAC maps an IPv6 multicast group to its Ethernet address
// (RFC 2464: 33:33 and the low 32 bits of the group).
func IPv6MulticastMAC(a netip.Addr) MAC {
	b := a.As16()
	return MAC{0x33, 0x33, b[12], b[13], b[14], b[15]}
}

// SolicitedNodeMulticast returns ff02::1:ffXX:XXXX for a, the group a
// neighbour solicitation for a is sent to (RFC 4291 2.7.1).
func SolicitedNodeMulticast(a netip.Addr) netip.Addr {
	b := a.As16()
	return netip.AddrFrom16([16]byte{0xff, 0x02, 11: 0x01, 12: 0xff, 13: b[13], 14: b[14], 15: b[15]})
}

// as4 returns the 4 bytes of an IPv4 (or IPv4-mapped) address and zeros for
// anything else, so that a wrong-family address never panics on the packet
// path.
func as4(a netip.Addr) [4]byte {
	if a.Is4() || a.Is4In6() {
		return a.As4()
	}
	return [4]byte{}
}
