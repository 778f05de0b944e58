// Package port defines how the dataplane talks to the outside world: a Port
// has receive queues, each read by exactly one worker, and transmit queues,
// one per worker plus one for the control plane, so no queue is shared and
// nothing locks.
//
//	          ┌──────────── Port ─────────────┐
//	worker 0 ◄── RxQueue 0      TxQueue 0 ◄── worker 0
//	worker 1 ◄── RxQueue 1      TxQueue 1 ◄── worker 1
//	                            TxQueue N ◄── control (ARP/ND probes)
//	          └───────────────────────────────┘
//
// Concrete ports live in sub-packages (mem, pcap, afpacket, tap) and are
// wired by cmd/flowpathd; the dataplane only sees this interface.
package port
