package port

import (
	"time"

	"flowpath/internal/pkt"
)

// Offloads say what a port can take and give beyond plain frames.
type Offloads struct {
	// RxGSO: received frames may be GSO super-frames with partial
	// checksums (pkt.GSO filled from a virtio-net header).
	RxGSO bool
	// TxGSO: Transmit accepts super-frames and partial checksums
	// (TCP/UDP-L4 segmentation and checksum done by the port or kernel).
	TxGSO bool
	// TxUSO: Transmit accepts UDP segmentation super-frames (GSO type
	// UDP-L4: one datagram per segment, each with its own UDP header).
	// Needs TxGSO. AF_PACKET takes them since Linux 6.2; TAP when the
	// kernel accepted TUN_F_USO4/6.
	TxUSO bool
	// TxUDPTunnelGSO: Transmit accepts a TCP super-frame inside one UDP
	// tunnel datagram (pkt.GSO.OuterL4 set), and the kernel cuts it into
	// whole tunnel datagrams (SKB_GSO_UDP_TUNNEL). Needs TxGSO. TAP when
	// the kernel takes TUN_F_UDP_TUNNEL_GSO (Linux 6.17).
	TxUDPTunnelGSO bool
}

// RxQueue is read by exactly one goroutine.
type RxQueue interface {
	// Receive waits up to timeout for frames, then fills pkts[:n] with
	// packets taken from pool (frame, InPort left 0, GSO filled when the
	// port gives offload info) and returns n. Ownership of pkts[:n] passes
	// to the caller. It returns 0 on timeout, when the pool is empty (the
	// port counts what it had to drop), or once the port is closed.
	Receive(pool *pkt.Pool, pkts []*pkt.Packet, timeout time.Duration) int
}

// CPUCounts are per-CPU counts of arriving frames.
type CPUCounts interface {
	NumCPU() int
	Count(cpu int) uint64 // no allocation, no system call
}

// ArrivalCounter is an RxQueue that can say on which CPUs its frames
// arrived (the CPU its senders ran on). ArrivalCPUs is nil when it does
// not count.
type ArrivalCounter interface {
	ArrivalCPUs() CPUCounts
}

// TxQueue is written by exactly one goroutine.
type TxQueue interface {
	// Transmit sends the frames of pkts. The port is done with every
	// packet when Transmit returns: the caller keeps ownership and frees
	// them. It returns how many were handed to the medium; the others were
	// dropped and counted in Stats.TxDropped.
	Transmit(pkts []*pkt.Packet) int
}

// Stats are a port's own counters (what the medium saw).
type Stats struct {
	RxPackets, RxBytes, RxDropped uint64
	TxPackets, TxBytes, TxDropped uint64
}

// Port is one attachment to a medium: a kernel interface, a TAP, a memory
// pipe, a capture file.
type Port interface {
	// Kind names the port type ("afpacket", "tap", "mem", "pcap").
	Kind() string
	// HardwareAddr is the MAC the medium knows this port by; the device
	// uses it unless configured otherwise. Zero if the medium has none.
	HardwareAddr() [6]byte
	// MTU is the medium's MTU (0 if it has none).
	MTU() int
	// Offloads the port supports.
	Offloads() Offloads
	// RxQueues returns the receive queues (at least one).
	RxQueues() []RxQueue
	// TxQueue returns transmit queue i, for i in [0, NumTx). The dataplane
	// gives each worker its own index and the control plane the last one.
	TxQueue(i int) TxQueue
	// NumTx is the number of transmit queues.
	NumTx() int
	// Stats reads the counters; safe from any goroutine.
	Stats() Stats
	// Close releases the medium. Receive returns 0 afterwards; it is safe
	// to call Close while a worker is blocked in Receive.
	Close() error
}
