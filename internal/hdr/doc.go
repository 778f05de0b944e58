// Package hdr gives typed views over the bytes of packet headers, builders
// that write them, and the Internet checksum (full and incremental).
//
// A view is a named []byte (type IPv4 []byte) aliasing the frame, so reading
// or patching a header costs no copy and no allocation. Every view has an
// IsValid gate that checks the lengths the getters rely on (the gVisor
// header style): a parser calls IsValid once, then uses the getters freely.
// Getters on a view that failed IsValid may panic; Payload and Options clamp
// to the slice so that a malformed length field never reaches past it.
//
//	frame:  | Ethernet 14 | VLAN 4 (0..2) | IPv4 20..60 / IPv6 40+ext | TCP/UDP/ICMP | payload |
//	views:  Ethernet(b)   VLAN(b[14:])    IPv4(b[l3:])                TCP(b[l4:])
//
// Covered: Ethernet, 802.1Q/802.1ad tags, ARP, IPv4, IPv6 and its
// extension header chain, ICMPv4, ICMPv6, NDP neighbour solicitation and
// advertisement, UDP, TCP, and the tunnel headers VXLAN, Geneve and MPLS.
//
// Setters write one field and never touch a checksum, except IPv4.DecTTL,
// which patches the header checksum incrementally (RFC 1624) because that
// is what forwarding does to every packet.
//
// Builders (PutXxx) write a whole header into a buffer the caller sized; a
// too-short buffer is a programming error and panics. Addresses are
// netip.Addr (AddrFrom4/AddrFrom16 do not allocate); a builder or setter
// given an address of the wrong family writes the unspecified address.
//
// Checksums: Sum returns the unfolded 32-bit ones'-complement sum of bytes
// (chainable: Sum(b2, Sum(b1, 0)) sums b1||b2 when len(b1) is even), Fold
// turns a sum into the value to store. Sum reads 8 bytes at a time with a
// 64-bit add-with-carry chain, so it runs at memory speed on 64 KiB GSO
// frames.
//
// Nothing in this package allocates except MAC.String and ParseMAC, which
// belong to the control plane. It imports only the standard library.
package hdr
