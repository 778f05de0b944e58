// Package pcap is a port on capture files: it receives the frames of a
// classic libpcap file and transmits into another, so the dataplane can be
// driven and checked offline and its output read by tshark or gopacket.
//
// Receive side: the reader takes both byte orders and both the microsecond
// (0xa1b2c3d4) and nanosecond (0xa1b23c4d) magic, LINKTYPE_ETHERNET only.
// Receive returns the next frames at once (no pacing by timestamp); a record
// that was cut short when captured (caplen < len), is longer than
// pkt.MaxFrame or shorter than an Ethernet header is skipped and counted in
// RxDropped, as is a record cut off by the end of the file. After the last
// record Done reports true and Receive returns 0 after waiting its timeout
// (so a worker polling it does not spin).
//
// Transmit side: all transmit queues write into one file, in the order the
// writer sees them, without a lock on the packet path:
//
//	TxQueue 0 ──► SPSC ring ──┐
//	TxQueue 1 ──► SPSC ring ──┼──► writer goroutine ──► bufio ──► file
//	TxQueue N ──► SPSC ring ──┘    (round robin, flushes when idle)
//
// Transmit copies each frame and its timestamp into a ring slot (slot
// buffers start at 2 KiB and grow once to pkt.MaxFrame on the first larger
// frame, so steady state does not allocate). A full ring makes Transmit wait
// for the writer instead of dropping: a capture is only useful if it is
// complete, so a slow disk slows the worker down. Close waits until no
// Transmit is running, lets the writer drain every ring, flushes and closes
// the file.
//
// Without a transmit file the port is a sink: frames are counted as sent
// and discarded. Super-frames and partial checksums are refused (counted
// TxDropped) unless WithOffloads grants TxGSO; they would be written as is,
// which tools decode but flag.
package pcap
