// Package gso turns what a port that cannot take offloads must not be given
// into what it can: it completes partial checksums, segments TCP and UDP
// GSO super-frames, and fragments IPv4 packets (RFC 791), all in software.
//
// Super-frames arrive from TAP and AF_PACKET ports with a virtio-net header
// (pkt.GSO): up to 64 KiB of payload behind one set of headers, the L4
// checksum left partial (pseudo-header sum only). Segment cuts one into
// frames of at most GSO.Size payload bytes, each a whole correct packet:
//
//	super-frame  | eth(+vlan) | ip | tcp | payload ..................... |
//	                \__________ hdr __________/  \_ Size _/\_ Size _/\_ rest _/
//	segment 0    | eth(+vlan) | ip' | tcp' | payload[0:Size]       |
//	segment 1    | eth(+vlan) | ip' | tcp' | payload[Size:2*Size]  |
//	...          ip': total/payload length, IPv4 ID+i, header checksum
//	             tcp': seq+i*Size, FIN/PSH on the last only, CWR on the
//	                   first only, full checksum (never left partial)
//
// UDP-L4 (USO) segments the same way with a UDP header per segment; legacy
// UFO (GSOUDP) is IPv4 fragmentation of one datagram and goes through
// FragmentIPv4.
//
// Every output packet comes from the pool the caller gives; on failure all
// of them go back, so the pool never leaks. The input is never freed or
// changed. Nothing allocates: the caller preallocates out. Header fields
// are the only things written besides one copy of each payload byte, and
// each segment's checksum is summed while the payload is hot in cache.
//
// This package imports only pkt and hdr.
package gso
