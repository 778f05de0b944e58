// Package afpacket is a port on a kernel network interface through AF_PACKET
// sockets: a TPACKET_V3 memory-mapped ring per receive queue and sendmmsg
// batches per transmit queue, both with the virtio-net header
// (PACKET_VNET_HDR) so TCP crosses the port as 64 KiB GSO super-frames
// instead of 1500-byte segments.
//
// Receive side, one socket and ring per RxQueue (several queues share the
// traffic through a PACKET_FANOUT hash group, flow by flow):
//
//	ring (mmap, NumBlocks × BlockSize)
//	┌─────────────┬─────────────┬─────────────┬──────
//	│ block 0     │ block 1     │ block 2     │ ...     status KERNEL: the kernel fills it
//	│ desc│f│f│f..│ desc│f│f... │ desc│       │         status USER:   ours to read
//	└─────────────┴─────────────┴─────────────┴──────
//	  each frame f: tpacket3_hdr │ sockaddr_ll │ pad │ virtio_net_hdr │ frame
//
// The kernel hands a block over when it is full or when FrameTimeout
// (retire_blk_tov) passes, so an idle link adds up to ~1 ms of latency and
// a busy one is read with no system call at all. Receive copies each frame
// into a Packet of the worker's pool at DefaultHeadroom (a 64 KiB copy is
// far cheaper than the system calls it saves), decodes the virtio-net header
// into Packet.GSO, reinserts a VLAN tag the kernel had moved to metadata,
// skips the host's own outgoing frames, and gives the block back once read.
// With nothing to read it blocks in ppoll on the socket and the port's
// eventfd (which Close signals). In recvmmsg mode (Config.Recvmmsg) the
// worker instead parks in the Go runtime's poller (port.RxWaiter), holding
// no thread, until the socket is readable, its timeout passes or Close
// wakes it, unless Config.Ppoll (the ring ran TCP at half speed so). It never spins,
// not even on the error a socket keeps after its link went down.
//
// Transmit side, one socket per TxQueue, bound with protocol 0 so it never
// receives, with PACKET_QDISC_BYPASS: each batch is one sendmmsg whose
// messages are two iovecs, [virtio_net_hdr from Packet.GSO, frame], so a
// super-frame stays one skb down to the driver (veth passes it whole; a NIC
// with TSO segments it in hardware). The msghdr, iovec and header arrays
// are preallocated per queue; nothing allocates per call.
//
// Without the virtio-net header (Config.NoVnetHdr) the port offers no
// offloads; the hosts behind the interface must then turn TSO and checksum
// offload off (the kernel still hands over super-frames and partial
// checksums, with nothing saying so).
//
// Close wakes blocked receivers through the eventfd and waits (sys.Gate)
// until no queue is inside Receive or Transmit before closing sockets and
// unmapping rings.
//
// Config.CountCPUs attaches an eBPF socket filter to every receive socket
// that counts its frames per receiving CPU (sys.CPUCounter, one per queue);
// the queues offer the counts as port.ArrivalCounter, for workers that
// follow their senders.
//
// Sockets and interface lookups belong to the network namespace of the
// thread that calls Open.
package afpacket
