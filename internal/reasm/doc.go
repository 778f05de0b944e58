// Package reasm reassembles IPv4 and IPv6 datagrams addressed to flowpath
// from their fragments, as the kernel's ip_defrag and ipv6_frag_rcv do
// before local delivery:
// a tunnel endpoint whose peer lets the underlay fragment (the kernel's
// VXLAN sends outer packets without DF unless told to) receives its
// datagrams in pieces.
//
// A Table belongs to one worker (no locks) and holds at most Slots
// datagrams in progress. Each keeps one packet of the worker's pool as
// its buffer, laid out so that a fragment's payload is copied once, to its
// final place, and the first fragment's link and IP headers go right in
// front of the payload:
//
//	RecvBuf: [ .... reserve (158) ....][ payload, at 158 + fragment offset ... ]
//	                    └ L2 + IP headers of the offset-0 fragment, ending at 158
//	                      (IPv6: the unfragmentable part, without the fragment header,
//	                      which a timeout's ICMP quote puts back in the 8 bytes before)
//
// A bitmap of 8-byte units says what has arrived. As in Linux:
//
//   - a fragment that exactly repeats received data is dropped, one that
//     partly overlaps it discards the whole datagram (RFC 5722's rule, which
//     the kernel applies to IPv4 too);
//   - a datagram longer than 65535 bytes, a non-final fragment whose length
//     is not a multiple of 8, or fragments past the end the final one gave
//     are refused;
//   - a datagram not complete within the timeout (net.ipv4.ipfrag_time,
//     30 s; net.ipv6.ip6frag_time, 60 s) is discarded by Expire, which
//     hands its first fragment (if it came) to the caller for the ICMP time
//     exceeded the kernel sends.
//
// The reassembled IPv4 datagram is the offset-0 fragment's headers with the
// total length set, MF and the offset cleared, and the header checksum
// recomputed; the IPv6 one is the offset-0 fragment's unfragmentable part
// with the payload length set and the next header that named the fragment
// header naming what the fragment header did (RFC 8200 4.5). Nothing here
// allocates.
package reasm
