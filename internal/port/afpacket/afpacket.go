package afpacket

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"flowpath/internal/errs"
	"flowpath/internal/pkt"
	"flowpath/internal/port"
	"flowpath/internal/sys"
)

// Config says how to attach to the interface. The zero value is a single
// queue port with the defaults below and the virtio-net header on.
type Config struct {
	// Queues is the number of receive queues (sockets in one PACKET_FANOUT
	// hash group when > 1). Default 1.
	Queues int
	// NumTx is the number of transmit queues: one per worker plus one for
	// the control plane. Default 1.
	NumTx int
	// BlockSize is the size of one ring block in bytes: a multiple of the
	// page size, at least 128 KiB so a 64 KiB super-frame fits.
	// Default 1 MiB.
	BlockSize int
	// NumBlocks is the number of blocks per ring. Default 32.
	NumBlocks int
	// FrameTimeout is how long the kernel keeps a partly filled block
	// before handing it over (retire_blk_tov, whole milliseconds, at least
	// 1). Default 1 ms.
	FrameTimeout time.Duration
	// NoVnetHdr turns the virtio-net header off (it is on by default):
	// no GSO super-frames, no partial checksums, Offloads() all false.
	NoVnetHdr bool
	// Promisc puts the interface into promiscuous mode while the port is
	// open.
	Promisc bool
	// Recvmmsg receives with recvmmsg(2) straight into packet buffers
	// instead of through a TPACKET_V3 ring. The ring hands over a block
	// only when it is full or its timer (at least 1 ms) fires, so small
	// frames of a slow direction (TCP ACKs) wait; recvmmsg wakes for
	// every frame and saves the copy out of the ring, at the cost of a
	// syscall per batch. BlockSize, NumBlocks and FrameTimeout are unused.
	Recvmmsg bool
	// Ppoll makes an idle Receive wait in ppoll(2), blocking its thread,
	// instead of parking in the Go runtime's poller (port.RxWaiter, the
	// default with Recvmmsg, which holds no thread while idle). The ring
	// always waits in ppoll.
	Ppoll bool
	// CountCPUs attaches a socket filter counting the frames received on
	// each CPU (sys.CPUCounter), for workers that follow their senders.
	CountCPUs bool
}

const (
	defaultBlockSize = 1 << 20
	defaultNumBlocks = 32
	minBlockSize     = 128 << 10
	ringFrameSize    = 2048 // nominal: TPACKET_V3 frames are variable
	txBatch          = 64   // messages per sendmmsg
	sndBuf           = 4 << 20
	txRetries        = 20 // waits of txRetryWait on a full queue before dropping
	txRetryWait      = 50 * time.Microsecond
)

// usoOK: the kernel takes UDP segmentation (VIRTIO_NET_HDR_GSO_UDP_L4)
// in the virtio-net header of a packet socket, which it does since 6.2;
// older ones refuse such writes with EINVAL.
var usoOK = sys.KernelAtLeast(6, 2)

// Port is an AF_PACKET port.
type Port struct {
	name    string
	ifindex int
	mac     [6]byte
	mtu     int
	vnet    bool

	rx     []*rxQueue
	tx     []*txQueue
	wakeFd int
	gate   sys.Gate

	mu          sync.Mutex // Stats vs Close (control plane only)
	kernelDrops atomic.Uint64
}

type rxQueue struct {
	p    *Port
	fd   int
	slot *sys.Slot
	ring []byte
	// cpus counts this queue's arrivals per CPU (Config.CountCPUs), nil
	// if off: each queue its own, so that the workers of a fanout group
	// follow their own senders. Readable after Close.
	cpus *sys.CPUCounter
	bs   int // block size
	nb   int // number of blocks
	pfd  [2]sys.PollFd
	// waiter parks an idle Receive in the runtime poller (recvmmsg by
	// default); nil with Config.Ppoll or the ring.
	waiter *port.RxWaiter

	// Read position, owned by the receiving goroutine.
	cur  int    // current block
	open bool   // cur is ours (status USER) and being read
	left uint32 // frames left in cur
	off  uint32 // offset of the next frame in cur

	// recvmmsg mode (Config.Recvmmsg): batch buffers, owned by the
	// receiving goroutine.
	recv bool
	rhdr [pkt.BatchSize][pkt.VnetHdrLen]byte
	riov [pkt.BatchSize][2]sys.Iovec
	rmsg [pkt.BatchSize]sys.Mmsghdr
	rpkt [pkt.BatchSize]*pkt.Packet
	rctl [pkt.BatchSize][sys.AuxdataSpace]byte

	packets, bytes, dropped atomic.Uint64
}

type txQueue struct {
	p    *Port
	fd   int
	slot *sys.Slot
	vnet bool

	hdr  [txBatch][pkt.VnetHdrLen]byte
	iov  [txBatch][2]sys.Iovec
	msg  [txBatch]sys.Mmsghdr
	lens [txBatch]int

	packets, bytes, dropped atomic.Uint64
}

// Open attaches to the interface ifname in the calling thread's network
// namespace and brings it up.
func Open(ifname string, cfg Config) (*Port, error) {
	if cfg.Queues < 1 {
		cfg.Queues = 1
	}
	if cfg.NumTx < 1 {
		cfg.NumTx = 1
	}
	if cfg.BlockSize == 0 {
		cfg.BlockSize = defaultBlockSize
	}
	if cfg.NumBlocks == 0 {
		cfg.NumBlocks = defaultNumBlocks
	}
	if cfg.FrameTimeout == 0 {
		cfg.FrameTimeout = time.Millisecond
	}
	if cfg.BlockSize < minBlockSize || cfg.BlockSize%os.Getpagesize() != 0 || cfg.NumBlocks < 1 ||
		cfg.Queues > 64 || cfg.FrameTimeout < 0 {
		return nil, fmt.Errorf("afpacket %s: config %+v: %w", ifname, cfg, errs.ErrInvalid)
	}
	p := &Port{name: ifname, vnet: !cfg.NoVnetHdr, wakeFd: -1}
	fail := func(what string, err error) (*Port, error) {
		p.release()
		return nil, fmt.Errorf("afpacket %s: %s%w", ifname, what, err)
	}
	var err error
	if p.ifindex, err = sys.InterfaceIndex(ifname); err != nil {
		return fail("", err)
	}
	if p.mac, err = sys.InterfaceMAC(ifname); err != nil {
		return fail("", err)
	}
	if p.mtu, err = sys.InterfaceMTU(ifname); err != nil {
		return fail("", err)
	}
	// Up before binding: a fanout group can only be joined by a socket
	// whose interface is running.
	if err = sys.SetLinkUp(ifname); err != nil {
		return fail("", err)
	}
	if p.wakeFd, err = sys.Eventfd(); err != nil {
		return fail("", err)
	}
	var fanoutID uint16
	for i := 0; i < cfg.Queues; i++ {
		q, err := p.openRx(cfg, i, &fanoutID)
		if q != nil {
			p.rx = append(p.rx, q)
		}
		if err != nil {
			return fail(fmt.Sprintf("rx queue %d: ", i), err)
		}
	}
	for i := 0; i < cfg.NumTx; i++ {
		q, err := p.openTx()
		if q != nil {
			p.tx = append(p.tx, q)
		}
		if err != nil {
			return fail(fmt.Sprintf("tx queue %d: ", i), err)
		}
	}
	return p, nil
}

func (p *Port) openRx(cfg Config, i int, fanoutID *uint16) (*rxQueue, error) {
	fd, err := sys.PacketSocket()
	if err != nil {
		return nil, err
	}
	q := &rxQueue{p: p, fd: fd, slot: p.gate.NewSlot(), bs: cfg.BlockSize, nb: cfg.NumBlocks, recv: cfg.Recvmmsg}
	if !q.recv {
		if err := sys.SetTpacketV3(fd); err != nil {
			return q, err
		}
	}
	if p.vnet {
		if err := sys.SetPacketVnetHdr(fd); err != nil {
			return q, err
		}
	}
	// Frames the host sends on the interface (including our own
	// transmit sockets) are not input; older kernels lack the option and
	// Receive filters by packet type as well.
	if err := sys.SetIgnoreOutgoing(fd); err != nil && !errors.Is(err, errs.ErrNotSupported) {
		return q, err
	}
	if q.recv {
		if err := sys.SetPacketAuxdata(fd); err != nil {
			return q, err
		}
		// The socket queue is the ring now: as much as the ring would
		// have held.
		if err := sys.SetRcvbuf(fd, cfg.BlockSize*cfg.NumBlocks); err != nil {
			return q, err
		}
	} else {
		tov := max(uint32(cfg.FrameTimeout/time.Millisecond), 1)
		req := sys.TpacketReq3{
			Block_size:     uint32(cfg.BlockSize),
			Block_nr:       uint32(cfg.NumBlocks),
			Frame_size:     ringFrameSize,
			Frame_nr:       uint32(cfg.BlockSize / ringFrameSize * cfg.NumBlocks),
			Retire_blk_tov: tov,
		}
		if err := sys.SetRxRing(fd, &req); err != nil {
			return q, err
		}
		if q.ring, err = sys.Mmap(fd, cfg.BlockSize*cfg.NumBlocks); err != nil {
			q.ring = nil
			return q, err
		}
	}
	if cfg.CountCPUs {
		if q.cpus, err = sys.NewCPUCounter(); err != nil {
			return q, err
		}
		if err := q.cpus.Attach(fd); err != nil {
			return q, err
		}
	}
	if cfg.Promisc && i == 0 {
		if err := sys.AddPromisc(fd, p.ifindex); err != nil {
			return q, err
		}
	}
	if err := sys.BindPacket(fd, p.ifindex, sys.EthPAll); err != nil {
		return q, err
	}
	if cfg.Queues > 1 {
		if i == 0 {
			// Let the kernel pick a group id no one else uses.
			if err := sys.SetFanout(fd, 0, sys.FanoutHash|sys.FanoutFlagUniqueID); err != nil {
				return q, err
			}
			if *fanoutID, err = sys.FanoutID(fd); err != nil {
				return q, err
			}
		} else if err := sys.SetFanout(fd, *fanoutID, sys.FanoutHash); err != nil {
			return q, err
		}
	}
	q.pfd[0] = sys.PollFd{Fd: int32(fd), Events: sys.POLLIN | sys.POLLERR}
	q.pfd[1] = sys.PollFd{Fd: int32(p.wakeFd), Events: sys.POLLIN}
	// The ring waits in ppoll whatever Ppoll says: parked in the runtime
	// poller, TCP through ring ports ran at half the speed (5.1-6.1 vs
	// 9.3-10.4 Gbit/s in bench/router.sh's afring), the block timer's
	// hand-overs apparently not mixing with the poller's edge-triggered
	// wake-ups.
	if !cfg.Ppoll && q.recv {
		if q.waiter, err = port.NewRxWaiter(fd, q.receive, p.gate.Closed); err != nil {
			return q, err
		}
	}
	return q, nil
}

func (p *Port) openTx() (*txQueue, error) {
	fd, err := sys.PacketSocket()
	if err != nil {
		return nil, err
	}
	q := &txQueue{p: p, fd: fd, slot: p.gate.NewSlot(), vnet: p.vnet}
	if p.vnet {
		if err := sys.SetPacketVnetHdr(fd); err != nil {
			return q, err
		}
	}
	if err := sys.SetQdiscBypass(fd); err != nil {
		return q, err
	}
	if err := sys.SetSndbuf(fd, sndBuf); err != nil {
		return q, err
	}
	// Protocol 0: the socket sends but never receives a frame.
	if err := sys.BindPacket(fd, p.ifindex, 0); err != nil {
		return q, err
	}
	return q, nil
}

// release closes whatever Open got to; it must only run once no queue is
// in use.
// closeWaiters closes the queues' poller waiters, waking a Receive
// parked in one.
func (p *Port) closeWaiters() {
	for _, q := range p.rx {
		q.waiter.Close()
	}
}

func (p *Port) release() {
	p.closeWaiters() // again after Close: harmless
	fds := make([]int, 0, len(p.rx)+len(p.tx))
	for _, q := range p.rx {
		if q.ring != nil {
			sys.Munmap(q.ring)
			q.ring = nil
		}
		fds = append(fds, q.fd)
		if q.cpus != nil {
			_ = q.cpus.Close()
		}
	}
	for _, q := range p.tx {
		fds = append(fds, q.fd)
	}
	// Closing a packet socket waits for an RCU grace period
	// (synchronize_net in packet_release), 8-16 ms here; one after the
	// other, a port's 18 sockets made "link del" take a quarter of a
	// second. Closed all at once, the waits overlap.
	var wg sync.WaitGroup
	for _, fd := range fds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sys.Close(fd)
		}()
	}
	wg.Wait()
	if p.wakeFd >= 0 {
		sys.Close(p.wakeFd)
		p.wakeFd = -1
	}
}

// ArrivalCPUs implements port.ArrivalCounter: nil unless the port counts.
func (q *rxQueue) ArrivalCPUs() port.CPUCounts {
	if q.cpus == nil {
		return nil
	}
	return q.cpus
}

// Kind implements port.Port.
func (p *Port) Kind() string { return "afpacket" }

// Name is the interface name.
func (p *Port) Name() string { return p.name }

// Ifindex is the interface index (in the namespace Open ran in).
func (p *Port) Ifindex() int { return p.ifindex }

// HardwareAddr implements port.Port: the interface's MAC.
func (p *Port) HardwareAddr() [6]byte { return p.mac }

// MTU implements port.Port: the interface MTU when the port was opened.
func (p *Port) MTU() int { return p.mtu }

// Offloads implements port.Port: GSO both ways with the virtio-net header.
func (p *Port) Offloads() port.Offloads {
	return port.Offloads{RxGSO: p.vnet, TxGSO: p.vnet, TxUSO: p.vnet && usoOK}
}

// RxQueues implements port.Port.
func (p *Port) RxQueues() []port.RxQueue {
	qs := make([]port.RxQueue, len(p.rx))
	for i, q := range p.rx {
		qs[i] = q
	}
	return qs
}

// TxQueue implements port.Port.
func (p *Port) TxQueue(i int) port.TxQueue { return p.tx[i] }

// NumTx implements port.Port.
func (p *Port) NumTx() int { return len(p.tx) }

// Stats implements port.Port. RxDropped includes the kernel's ring drops
// (PACKET_STATISTICS, read and accumulated here).
func (p *Port) Stats() port.Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.gate.Closed() {
		p.pollKernelDrops()
	}
	var s port.Stats
	for _, q := range p.rx {
		s.RxPackets += q.packets.Load()
		s.RxBytes += q.bytes.Load()
		s.RxDropped += q.dropped.Load()
	}
	s.RxDropped += p.kernelDrops.Load()
	for _, q := range p.tx {
		s.TxPackets += q.packets.Load()
		s.TxBytes += q.bytes.Load()
		s.TxDropped += q.dropped.Load()
	}
	return s
}

// pollKernelDrops adds the kernel's drop counters (reset on read). Caller
// holds mu.
func (p *Port) pollKernelDrops() {
	for _, q := range p.rx {
		if _, drops, err := sys.PacketStats(q.fd); err == nil {
			p.kernelDrops.Add(uint64(drops))
		}
	}
}

// Close implements port.Port. It wakes receivers blocked in Receive, waits
// until no queue is in use, then closes the sockets and unmaps the rings.
func (p *Port) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.gate.Close() {
		return nil
	}
	err := sys.EventfdSignal(p.wakeFd)
	p.closeWaiters() // wakes a Receive parked in the poller
	p.gate.Wait()
	p.pollKernelDrops()
	p.release()
	if err != nil {
		return fmt.Errorf("afpacket %s: close: %w", p.name, err)
	}
	return nil
}
