// Package tunnel holds what flowpath's tunnels are made of: the route
// encapsulation state of lightweight tunnels (lwtunnel "encap ip", "encap
// ip6", "encap mpls"), the VXLAN, Geneve and MPLS header operations of the
// packet path, the outer UDP/IP header builder, and the tunnel metadata
// helpers (receive info, reply info, ECN) that the Linux kernel spreads over
// net/core/lwtunnel.c, net/ipv4/ip_tunnel_core.c, drivers/net/vxlan,
// drivers/net/geneve.c and net/mpls. The behaviour reproduced is specified
// in spec/kernel-semantics.md §1-3.
//
// Two halves, two sets of rules:
//
//   - Control plane: Build turns an EncapConfig (what `route add ... encap`
//     says) into an immutable *Encap, with the kernel's validation and errno
//     (wrapped errs sentinels). An Encap is shared by every FIB snapshot
//     that holds the route; nothing ever writes to it after Build.
//   - Packet path: every other function works on bytes or a *pkt.Packet in
//     place, never allocates, never locks, and reports failure as a bool (or
//     an MPLSVerdict) for the caller to count as a drop reason.
//
// The engine decides (device lookups, FIB, neighbours, counters); this
// package only builds and parses.
//
// Frames this package builds or takes apart (byte counts; the Ethernet
// header in front of the outer IP header is reserved by PushUDPTunnel and
// filled by the caller's L2 rewrite, except for its type field):
//
// VXLAN over IPv4 (VXLANHeadroom = 50 bytes in front of the inner frame,
// plus the outer Ethernet header):
//
//	+----------+-----------+---------+-----------+------------------------+
//	| Ethernet | IPv4 20   | UDP 8   | VXLAN 8   | inner Ethernet frame   |
//	| 14       | proto 17  | dp 4789 |           | (14 + payload, no FCS) |
//	+----------+-----------+---------+-----------+------------------------+
//	VXLAN:  |G . . . I . . .| reserved / GBP D,A | GBP policy ID (16)    |
//	        |            VNI (24)                 | reserved (8)          |
//	        I=0x08 must be set; G=0x80, D=0x40 (byte 1), A=0x08 (byte 1)
//	        only with GBP: "88 48 12 34" is policy 0x1234 with D and A.
//
// VXLAN over IPv6 (VXLAN6Headroom = 70): the IPv4 header becomes a 40-byte
// IPv6 header (next header 17); the UDP checksum is written unless the
// caller asks for a zero one (Outer.Csum false, RFC 6935).
//
// Geneve (RFC 8926, UDP port 6081), same outer headers:
//
//	+----------+---------+--------+-------------------+------------------+
//	| Eth|IP   | UDP 8   | Geneve | options 0..252    | inner frame      |
//	|          | dp 6081 | 8      | (optlen*4 bytes)  | (proto 0x6558)   |
//	+----------+---------+--------+-------------------+------------------+
//	Geneve: |Ver(2) OptLen(6)|O C rsvd|  protocol type (16)  |
//	        |          VNI (24)               | reserved (8)  |
//	option: | class (16) | type (8) | rsvd(3) len(5) | data len*4 bytes |
//
// MPLS (ethertype 0x8847), the label stack between the L2 header and the
// IP header; entry 0 is the outermost, only the last has S=1:
//
//	+----------+---------+---------+-----+---------+-------------------+
//	| Ethernet | LSE 0   | LSE 1   | ... | LSE n-1 | IPv4 / IPv6 ...   |
//	| type     | S=0     | S=0     |     | S=1     |                   |
//	| 0x8847   |         |         |     |         |                   |
//	+----------+---------+---------+-----+---------+-------------------+
//	LSE:    | label (20) | TC (3) | S (1) | TTL (8) |
//	        "encap mpls 100/200 ttl 10": 00 06 40 0a  00 0c 81 0a
//
// Tunnel metadata (pkt.TunnelInfo) follows the kernel's ip_tunnel_info
// byte for byte where the kernel compares it byte-wise: unused address
// bytes are zero, options are raw option bytes (Geneve TLVs as on the wire;
// the VXLAN GBP word as 4 bytes, stored big-endian here, see SetGBP).
package tunnel
