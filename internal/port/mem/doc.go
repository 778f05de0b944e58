// Package mem is an in-memory port for tests: no kernel, no root, and the
// same contract as the real ports (queue ownership, buffer ownership,
// Receive with timeout, offload flags), so the engine can be tested on it.
//
// Two ports are connected with Pair; every transmit queue owns one
// single-producer/single-consumer ring, and the peer's receive queues poll
// them. The test side injects frames through rings of its own and reads what
// an unpaired port sent with TakeSent/WaitSent:
//
//	port A                                        port B
//	TxQueue 0 ──► ring ─────────────┐       ┌──► RxQueue 0  (polls rings i % nRx == 0
//	TxQueue 1 ──► ring ───────────┐ │       │                plus its inject ring)
//	TxQueue 2 ──► ring ─────────┐ │ └───────┤
//	                            └─┴─────────┘
//	test: B.Inject ──► inject ring of B's RxQueue 0
//	test: A.TakeSent ◄── A's tx rings (only while A is not paired)
//
// Rings are lock-free: the producer publishes a slot by advancing tail, the
// consumer frees it by advancing head (atomic loads and stores, no CAS).
//
// Buffers: Transmit copies each frame into a slot buffer of the ring and
// Receive copies it into a Packet of the caller's pool, so ownership never
// crosses the pair. Slot buffers are preallocated in New with room for an
// MTU-sized frame (MTU + 14 + 4 bytes). The first frame larger than that to
// pass through a slot (a GSO super-frame) grows that slot's buffer once, to
// pkt.MaxFrame; it is kept from then on. So the packet path allocates only
// while warming up with super-frames and never in steady state; New does
// not allocate 64 KiB per slot up front, which would cost tens of MiB per
// test port.
//
// Waiting: Receive with a timeout first yields the processor a few times,
// then sleeps in growing steps (50 µs up to 1 ms) until a frame arrives,
// the timeout passes or the port is closed. That is fine for a test port;
// it adds up to 1 ms of latency on an idle pair.
//
// The medium checks what a real one would: frames shorter than an Ethernet
// header or longer than MTU + 18 bytes (Ethernet header and one VLAN tag,
// the kernel's forwarding limit) are dropped unless they are GSO
// super-frames, and offload state (GSO, partial checksum) is only accepted
// on transmit with Offloads.TxGSO and delivered on receive with
// Offloads.RxGSO; a super-frame whose ethertype its GSO type cannot
// segment (TCPv4 GSO under an MPLS label, say) is refused as the kernel
// refuses it; every refusal is counted in Stats.
package mem
