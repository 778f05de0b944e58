package sys

import (
	"encoding/binary"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// AF_PACKET constants the afpacket port uses.
const (
	EthPAll = unix.ETH_P_ALL

	PacketOutgoing = unix.PACKET_OUTGOING // sll_pkttype of frames this host sent

	TpStatusKernel        = unix.TP_STATUS_KERNEL
	TpStatusUser          = unix.TP_STATUS_USER
	TpStatusLosing        = unix.TP_STATUS_LOSING
	TpStatusVLANValid     = unix.TP_STATUS_VLAN_VALID
	TpStatusVLANTPIDValid = unix.TP_STATUS_VLAN_TPID_VALID

	FanoutHash         = unix.PACKET_FANOUT_HASH
	FanoutFlagDefrag   = unix.PACKET_FANOUT_FLAG_DEFRAG
	FanoutFlagIgnOut   = unix.PACKET_FANOUT_FLAG_IGNORE_OUTGOING
	FanoutFlagRollover = unix.PACKET_FANOUT_FLAG_ROLLOVER
	FanoutFlagUniqueID = unix.PACKET_FANOUT_FLAG_UNIQUEID
)

// TpacketReq3 is struct tpacket_req3 (PACKET_RX_RING with TPACKET_V3).
type TpacketReq3 = unix.TpacketReq3

// htons converts a 16-bit value to network order for sockaddr_ll and the
// socket protocol argument.
func htons(v uint16) uint16 { return v<<8 | v>>8 }

// PacketSocket opens an AF_PACKET raw socket that receives nothing until it
// is bound with a protocol: rings and options can be set up before the
// first frame is queued.
func PacketSocket() (int, error) {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	return fd, wrap("socket", err)
}

// BindPacket binds a packet socket to an interface. proto is the
// ethertype to receive in host order: EthPAll for everything, 0 for a
// transmit-only socket (no receive hook, so it costs nothing on receive).
func BindPacket(fd, ifindex int, proto uint16) error {
	sa := &unix.SockaddrLinklayer{Protocol: htons(proto), Ifindex: ifindex}
	return wrap("bind", unix.Bind(fd, sa))
}

// SetsockoptInt sets an integer SOL_PACKET option; name is used in the
// error ("setsockopt PACKET_VERSION: ...").
func setPacketInt(fd, opt, v int, name string) error {
	return wrap("setsockopt "+name, unix.SetsockoptInt(fd, unix.SOL_PACKET, opt, v))
}

// SetTpacketV3 selects TPACKET_V3 (variable-size frames in blocks).
func SetTpacketV3(fd int) error {
	return setPacketInt(fd, unix.PACKET_VERSION, unix.TPACKET_V3, "PACKET_VERSION")
}

// SetPacketVnetHdr makes the socket prepend (rx) and expect (tx) a
// virtio_net_hdr, so GSO super-frames and partial checksums cross the
// socket intact. It must be set before a ring is mapped.
// SetPacketAuxdata asks for a PACKET_AUXDATA control message with every
// received frame (it carries the VLAN tag the kernel took off the frame).
func SetPacketAuxdata(fd int) error {
	return setPacketInt(fd, unix.PACKET_AUXDATA, 1, "PACKET_AUXDATA")
}

// AuxdataSpace is the control buffer a received frame's PACKET_AUXDATA
// message needs.
const AuxdataSpace = 64

// ParseAuxdata finds the PACKET_AUXDATA message in a control buffer and
// returns its status, VLAN TCI and TPID.
func ParseAuxdata(control []byte) (status uint32, tci, tpid uint16, ok bool) {
	const hdr = unix.SizeofCmsghdr
	for len(control) >= hdr {
		l := int(binary.NativeEndian.Uint64(control))
		level := int32(binary.NativeEndian.Uint32(control[8:]))
		typ := int32(binary.NativeEndian.Uint32(control[12:]))
		if l < hdr || l > len(control) {
			return 0, 0, 0, false
		}
		if level == unix.SOL_PACKET && typ == unix.PACKET_AUXDATA && l >= hdr+20 {
			d := control[hdr:]
			return binary.NativeEndian.Uint32(d), binary.NativeEndian.Uint16(d[16:]), binary.NativeEndian.Uint16(d[18:]), true
		}
		next := (l + 7) &^ 7
		if next >= len(control) {
			break
		}
		control = control[next:]
	}
	return 0, 0, 0, false
}

func SetPacketVnetHdr(fd int) error {
	return setPacketInt(fd, unix.PACKET_VNET_HDR, 1, "PACKET_VNET_HDR")
}

// SetQdiscBypass sends frames straight to the driver, skipping the qdisc
// layer (and its locks); drops on a full device queue are then ours.
func SetQdiscBypass(fd int) error {
	return setPacketInt(fd, unix.PACKET_QDISC_BYPASS, 1, "PACKET_QDISC_BYPASS")
}

// SetIgnoreOutgoing stops the socket from seeing frames the host itself
// transmits on the interface (kernel 4.20+).
func SetIgnoreOutgoing(fd int) error {
	return setPacketInt(fd, unix.PACKET_IGNORE_OUTGOING, 1, "PACKET_IGNORE_OUTGOING")
}

// SetRxRing configures the TPACKET_V3 receive ring.
func SetRxRing(fd int, req *TpacketReq3) error {
	return wrap("setsockopt PACKET_RX_RING", unix.SetsockoptTpacketReq3(fd, unix.SOL_PACKET, unix.PACKET_RX_RING, req))
}

// SetFanout joins fanout group id with the given mode and flags; every
// socket of the group must use the same mode.
func SetFanout(fd int, id uint16, mode uint16) error {
	return setPacketInt(fd, unix.PACKET_FANOUT, int(uint32(mode)<<16|uint32(id)), "PACKET_FANOUT")
}

// FanoutID returns the id of the fanout group the socket is in (the one
// the kernel chose for FanoutFlagUniqueID).
func FanoutID(fd int) (uint16, error) {
	v, err := unix.GetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_FANOUT)
	if err != nil {
		return 0, wrap("getsockopt PACKET_FANOUT", err)
	}
	return uint16(v), nil
}

// AddPromisc puts the interface into promiscuous mode for as long as the
// socket lives (the kernel counts memberships, so it is undone on close).
func AddPromisc(fd, ifindex int) error {
	mreq := &unix.PacketMreq{Ifindex: int32(ifindex), Type: unix.PACKET_MR_PROMISC}
	return wrap("setsockopt PACKET_ADD_MEMBERSHIP", unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, mreq))
}

// PacketStats reads and resets the socket's counters (PACKET_STATISTICS on
// a TPACKET_V3 socket): frames seen and frames dropped since the last read.
func PacketStats(fd int) (packets, drops uint32, err error) {
	st, err := unix.GetsockoptTpacketStatsV3(fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
	if err != nil {
		return 0, 0, wrap("getsockopt PACKET_STATISTICS", err)
	}
	return st.Packets, st.Drops, nil
}

// SetSndbuf sets the send buffer, beyond rmem_max when privileged.
func SetSndbuf(fd, bytes int) error {
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, bytes); err == nil {
		return nil
	}
	return wrap("setsockopt SO_SNDBUF", unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, bytes))
}

// SetRcvbuf sets the receive buffer, beyond rmem_max when privileged.
func SetRcvbuf(fd, bytes int) error {
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, bytes); err == nil {
		return nil
	}
	return wrap("setsockopt SO_RCVBUF", unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, bytes))
}

// Mmap maps size bytes of fd shared and read-write (a packet ring).
func Mmap(fd, size int) ([]byte, error) {
	b, err := unix.Mmap(fd, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	return b, wrap("mmap", err)
}

// Munmap unmaps a region returned by Mmap.
func Munmap(b []byte) error { return wrap("munmap", unix.Munmap(b)) }

// Layout of the TPACKET_V3 structures in the ring (linux/if_packet.h).
// The ring is read through these offsets rather than Go structs so a reader
// never depends on Go's struct layout rules for memory the kernel writes.
const (
	// struct tpacket_block_desc: version, offset_to_priv, then
	// struct tpacket_hdr_v1.
	BlockStatusOff   = 8  // hdr.bh1.block_status
	BlockNumPktsOff  = 12 // hdr.bh1.num_pkts
	BlockFirstPktOff = 16 // hdr.bh1.offset_to_first_pkt
	BlockLenOff      = 20 // hdr.bh1.blk_len

	// struct tpacket3_hdr.
	PktNextOff    = 0  // tp_next_offset
	PktSnaplenOff = 12 // tp_snaplen
	PktLenOff     = 16 // tp_len
	PktStatusOff  = 20 // tp_status
	PktMacOff     = 24 // tp_mac (u16)
	PktVLANTCIOff = 32 // hv1.tp_vlan_tci
	PktVLANTPID   = 36 // hv1.tp_vlan_tpid (u16)
	// sockaddr_ll follows the header at TPACKET_ALIGN(sizeof(tpacket3_hdr));
	// sll_pkttype is its byte 10.
	PktTypeOff = 48 + 10
)

// LoadUint32 reads a 32-bit word of a mapped ring atomically, so a reader
// sees the kernel's writes to a block before the status that publishes it.
// off must be 4-byte aligned.
func LoadUint32(b []byte, off int) uint32 {
	return atomic.LoadUint32((*uint32)(unsafe.Pointer(&b[off])))
}

// StoreUint32 writes a 32-bit ring word atomically (hands a block back).
func StoreUint32(b []byte, off int, v uint32) {
	atomic.StoreUint32((*uint32)(unsafe.Pointer(&b[off])), v)
}

// SocketError reads and clears the socket's pending error (SO_ERROR).
func SocketError(fd int) int {
	v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		return -1
	}
	return v
}
