// Package tap is a port on a Linux TAP device: the kernel sees an Ethernet
// interface, flowpath holds the other end of the wire through /dev/net/tun.
//
//	  kernel stack                         flowpath
//	┌──────────────┐  frames the kernel  ┌──────────────┐
//	│  tap0 (MAC)  │ ──── sends ───────► │ RxQueue  read│
//	│              │ ◄─── receives ───── │ TxQueue write│
//	└──────────────┘                     └──────────────┘
//
// The TAP is opened with IFF_VNET_HDR and TUNSETOFFLOAD (checksum, TSO4/6
// with ECN, and USO4/6 where the kernel accepts them), so every read and
// write carries a virtio-net header and TCP moves as 64 KiB super-frames
// with partial checksums both ways: the kernel skips segmentation and
// checksumming, and so does flowpath unless a hop needs them.
//
// UDP-tunnel GSO (Linux 6.17): where the kernel accepts
// TUN_F_UDP_TUNNEL_GSO(_CSUM), the header grows to the 24 bytes of
// virtio_net_hdr_v1_hash_tunnel. A write may then be one VXLAN or Geneve
// datagram around a whole TCP super-frame (pkt.GSO.OuterL4 and InnerL3
// give the offsets; Offloads().TxUDPTunnelGSO), which the kernel cuts into
// whole tunnel datagrams or hands to a NIC that does; and a read may be
// such a frame from the kernel's own tunnel devices, reported like
// AF_PACKET reports one (TCP GSO, checksum start on the inner TCP header).
//
//	write: [hdr 24: gso_type TCPv4|UDP_TUNNEL_IPV4, outer_th 34, inner_nh 64]
//	       [eth][IP][UDP][VXLAN][eth][IP][TCP][64 KiB of payload]
//
// Receive: a TAP has no batched read, so Receive reads one frame per
// system call (readv of [virtio-net header, packet buffer at
// DefaultHeadroom]) but drains up to len(pkts) frames per call without
// waiting once one is ready; when none is, the worker parks in the Go
// runtime's poller (port.RxWaiter), holding no thread, until the TAP is
// readable, its timeout passes or Close wakes it; with Config.Ppoll it
// blocks in ppoll on the TAP and the port's eventfd (signalled by Close).
//
// Transmit: one writev per frame, [virtio-net header from Packet.GSO,
// frame], from arrays preallocated per queue. The header is not written into
// the packet's headroom: the packet is the caller's and Transmit leaves it
// untouched.
//
// Queues: with Queues > 1 the TAP is multi-queue (IFF_MULTI_QUEUE), one file
// descriptor per receive queue; the kernel spreads flows over them.
// Transmit queue i writes to descriptor i % Queues (a write is atomic per
// frame, so sharing a descriptor between transmit queues is safe).
//
// Drops: when the worker does not keep up, the kernel drops the frames
// no TAP queue can take and counts them as the device's tx_dropped. Stats
// reads that counter (since Open) into RxDropped, as an AF_PACKET port
// reports its ring's drops: fpctl shows them as port_rx_dropped. The
// kernel end may sit in another namespace (a host's eth0): the counter is
// read there (TUNGETDEVNETNS, Linux 5.2).
//
// Addresses: HardwareAddr is the TAP interface's own MAC unless
// Config.HardwareAddr sets one. The TAP's MAC is the kernel's side of the
// wire; a dataplane that answers ARP on the TAP must use a different MAC for
// itself (configure the device or set Config.HardwareAddr), or the kernel
// would see its own address as the neighbour's.
//
// A TAP created by Open disappears on Close; an existing persistent TAP is
// attached to and left in place.
package tap
