package tap

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"flowpath/internal/errs"
	"flowpath/internal/pkt"
	"flowpath/internal/port"
	"flowpath/internal/sys"
)

// Config says how to open the TAP. The zero value is a one-queue TAP with
// the virtio-net header and offloads on.
type Config struct {
	// Queues is the number of receive queues (IFF_MULTI_QUEUE when > 1).
	// Default 1.
	Queues int
	// NumTx is the number of transmit queues: one per worker plus one for
	// the control plane. Default 1.
	NumTx int
	// NoVnetHdr opens the TAP without the virtio-net header: plain frames,
	// no offloads.
	NoVnetHdr bool
	// MTU, if not 0, is set on the interface.
	MTU int
	// HardwareAddr, if not zero, is what HardwareAddr reports instead of
	// the TAP interface's MAC.
	HardwareAddr [6]byte
	// CountCPUs attaches a filter (TUNSETFILTEREBPF) counting the frames
	// sent into the TAP on each CPU (sys.CPUCounter), for workers that
	// follow their senders. The filter is the device's: with several
	// queues, every queue sees the device's counts.
	CountCPUs bool
	// Ppoll makes an idle Receive wait in ppoll(2), blocking its thread,
	// instead of parking in the Go runtime's poller (port.RxWaiter, the
	// default, which holds no thread while idle).
	Ppoll bool
}

// offloadsFull are the TUNSETOFFLOAD bits tried first; offloadsNoUSO is the
// fallback for kernels without UDP segmentation offload (before 6.2).
const (
	offloadsFull  = sys.TunFCsum | sys.TunFTSO4 | sys.TunFTSO6 | sys.TunFTSOECN | sys.TunFUSO4 | sys.TunFUSO6
	offloadsNoUSO = sys.TunFCsum | sys.TunFTSO4 | sys.TunFTSO6 | sys.TunFTSOECN
)

// Port is a TAP port.
type Port struct {
	name     string
	mac      [6]byte
	mtu      int
	vnet     bool
	offloads uint
	tunnel   bool // writes may carry UDP-tunnel GSO (hdrLen is VnetTunnelHdrLen)
	hdrLen   int  // virtio-net header length, 0 without one

	fds    []int
	cpus   *sys.CPUCounter // Config.CountCPUs; readable after Close
	rx     []*rxQueue
	tx     []*txQueue
	wakeFd int
	gate   sys.Gate
	mu     sync.Mutex // Close vs Close, and the kernel drop counts

	// The kernel end's tx_dropped when the port opened (a persistent
	// TAP may come with drops of its own) and since then: frames the
	// kernel could not queue to us. Read on Stats and at Close (under
	// mu); kernelDropsOK is false while no read has worked.
	kernelDropBase, kernelDrops uint64
	kernelDropBaseOK            bool
}

type rxQueue struct {
	p    *Port
	fd   int
	slot *sys.Slot
	pfd  [2]sys.PollFd
	hdr  [pkt.VnetTunnelHdrLen]byte
	iov  [2]sys.Iovec
	// waiter parks an idle Receive in the runtime poller (default);
	// nil with Config.Ppoll.
	waiter *port.RxWaiter

	packets, bytes, dropped atomic.Uint64
}

type txQueue struct {
	p    *Port
	fd   int
	slot *sys.Slot
	hdr  [pkt.VnetTunnelHdrLen]byte
	iov  [2]sys.Iovec

	packets, bytes, dropped atomic.Uint64
}

// Open creates the TAP ifname (or attaches to an existing persistent one)
// in the calling thread's network namespace, enables the offloads and
// brings it up. ifname may be a pattern like "tap%d"; Name reports the
// result.
func Open(ifname string, cfg Config) (*Port, error) {
	if cfg.Queues < 1 {
		cfg.Queues = 1
	}
	if cfg.NumTx < 1 {
		cfg.NumTx = 1
	}
	if cfg.Queues > 256 || cfg.MTU < 0 {
		return nil, fmt.Errorf("tap %s: config %+v: %w", ifname, cfg, errs.ErrInvalid)
	}
	p := &Port{name: ifname, vnet: !cfg.NoVnetHdr, wakeFd: -1}
	fail := func(err error) (*Port, error) {
		p.release()
		return nil, fmt.Errorf("tap %s: %w", ifname, err)
	}
	flags := uint16(sys.IffTap | sys.IffNoPI)
	if p.vnet {
		flags |= sys.IffVnetHdr
	}
	if cfg.Queues > 1 {
		flags |= sys.IffMultiQueue
	}
	for i := 0; i < cfg.Queues; i++ {
		fd, name, err := sys.OpenTap(p.name, flags)
		if err != nil {
			return fail(err)
		}
		p.fds = append(p.fds, fd)
		p.name = name // a pattern resolves on the first open
	}
	if p.vnet {
		p.offloads = offloadsFull
		err := sys.SetTapOffload(p.fds[0], p.offloads)
		if errors.Is(err, errs.ErrInvalid) {
			p.offloads = offloadsNoUSO
			err = sys.SetTapOffload(p.fds[0], p.offloads)
		}
		if err != nil {
			return fail(err)
		}
		// A kernel that knows UDP-tunnel GSO accepts its TUNSETOFFLOAD
		// bits (older ones refuse unknown bits with EINVAL): writes take
		// it (the header is long enough for the tunnel offsets), and
		// reads give the kernel's VXLAN/Geneve super-frames whole.
		if tun := p.offloads | sys.TunFUDPTunnelGSO | sys.TunFUDPTunnelGSOCsum; sys.SetTapOffload(p.fds[0], tun) == nil {
			p.offloads, p.tunnel = tun, true
		}
		p.hdrLen = pkt.VnetHdrLen
		if p.tunnel {
			p.hdrLen = pkt.VnetTunnelHdrLen
		}
		for _, fd := range p.fds {
			if err := sys.SetTapVnetHdrSize(fd, p.hdrLen); err != nil {
				return fail(err)
			}
		}
	}
	var err error
	if cfg.CountCPUs {
		if p.cpus, err = sys.NewCPUCounter(); err != nil {
			return fail(err)
		}
		// One filter per device, whichever queue sets it.
		if err := p.cpus.AttachTun(p.fds[0]); err != nil {
			return fail(err)
		}
	}
	if p.wakeFd, err = sys.Eventfd(); err != nil {
		return fail(err)
	}
	if cfg.MTU > 0 {
		if err := sys.SetInterfaceMTU(p.name, cfg.MTU); err != nil {
			return fail(err)
		}
	}
	if p.mac, err = sys.InterfaceMAC(p.name); err != nil {
		return fail(err)
	}
	if cfg.HardwareAddr != ([6]byte{}) {
		p.mac = cfg.HardwareAddr
	}
	if p.mtu, err = sys.InterfaceMTU(p.name); err != nil {
		return fail(err)
	}
	if err := sys.SetLinkUp(p.name); err != nil {
		return fail(err)
	}
	p.kernelDropBase, err = sys.TapKernelTxDropped(p.fds[0])
	p.kernelDropBaseOK = err == nil
	for _, fd := range p.fds {
		q := &rxQueue{p: p, fd: fd, slot: p.gate.NewSlot()}
		q.pfd[0] = sys.PollFd{Fd: int32(fd), Events: sys.POLLIN}
		q.pfd[1] = sys.PollFd{Fd: int32(p.wakeFd), Events: sys.POLLIN}
		sys.SetIovec(&q.iov[0], q.hdr[:p.hdrLen])
		p.rx = append(p.rx, q)
		if !cfg.Ppoll {
			if q.waiter, err = port.NewRxWaiter(fd, q.drain, p.gate.Closed); err != nil {
				return fail(err)
			}
		}
	}
	for i := 0; i < cfg.NumTx; i++ {
		q := &txQueue{p: p, fd: p.fds[i%len(p.fds)], slot: p.gate.NewSlot()}
		sys.SetIovec(&q.iov[0], q.hdr[:p.hdrLen])
		p.tx = append(p.tx, q)
	}
	return p, nil
}

// closeWaiters closes the queues' poller waiters, waking a Receive
// parked in one.
func (p *Port) closeWaiters() {
	for _, q := range p.rx {
		q.waiter.Close()
	}
}

func (p *Port) release() {
	p.closeWaiters() // again after Close: harmless
	if p.cpus != nil {
		if len(p.fds) > 0 {
			// A persistent TAP outlives us: take the filter off.
			_ = sys.DetachTunFilter(p.fds[0])
		}
		_ = p.cpus.Close()
	}
	for _, fd := range p.fds {
		sys.Close(fd)
	}
	p.fds = nil
	if p.wakeFd >= 0 {
		sys.Close(p.wakeFd)
		p.wakeFd = -1
	}
}

// ArrivalCPUs implements port.ArrivalCounter: nil unless the port counts.
func (q *rxQueue) ArrivalCPUs() port.CPUCounts {
	if q.p.cpus == nil {
		return nil
	}
	return q.p.cpus
}

// Kind implements port.Port.
func (p *Port) Kind() string { return "tap" }

// Name is the TAP interface's name.
func (p *Port) Name() string { return p.name }

// HardwareAddr implements port.Port (see the package comment).
func (p *Port) HardwareAddr() [6]byte { return p.mac }

// MTU implements port.Port.
func (p *Port) MTU() int { return p.mtu }

// Offloads implements port.Port: GSO both ways with the virtio-net header,
// USO and UDP-tunnel GSO on transmit where the kernel takes them.
func (p *Port) Offloads() port.Offloads {
	return port.Offloads{RxGSO: p.vnet, TxGSO: p.vnet, TxUSO: p.vnet && p.offloads&sys.TunFUSO4 != 0,
		TxUDPTunnelGSO: p.tunnel}
}

// KernelOffloads reports the TUNSETOFFLOAD bits the kernel accepted.
func (p *Port) KernelOffloads() uint { return p.offloads }

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

// Stats implements port.Port. RxDropped includes the frames the kernel end
// dropped since Open because no queue could take them (the TAP device's
// tx_dropped, read wherever its namespace is now: sys.TapKernelTxDropped).
func (p *Port) Stats() port.Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.gate.Closed() {
		p.pollKernelDrops()
	}
	s := port.Stats{RxDropped: p.kernelDrops}
	for _, q := range p.rx {
		s.RxPackets += q.packets.Load()
		s.RxBytes += q.bytes.Load()
		s.RxDropped += q.dropped.Load()
	}
	for _, q := range p.tx {
		s.TxPackets += q.packets.Load()
		s.TxBytes += q.bytes.Load()
		s.TxDropped += q.dropped.Load()
	}
	return s
}

// pollKernelDrops reads the kernel end's tx_dropped into kernelDrops
// (frames since Open). A failed read keeps the last count: the device may
// be between namespaces, or this process may lack the right to enter the
// one it is in. Caller holds mu; the descriptors are open.
func (p *Port) pollKernelDrops() {
	v, err := sys.TapKernelTxDropped(p.fds[0])
	if err != nil {
		return
	}
	if !p.kernelDropBaseOK {
		// The first read that works is the baseline.
		p.kernelDropBase, p.kernelDropBaseOK = v, true
	}
	if v >= p.kernelDropBase {
		p.kernelDrops = v - p.kernelDropBase
	}
}

// Close implements port.Port: it wakes blocked receivers, waits until no
// queue is in use and closes the descriptors (which removes a TAP that is
// not persistent).
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
		return fmt.Errorf("tap %s: close: %w", p.name, err)
	}
	return nil
}

// Receive implements port.RxQueue.
func (q *rxQueue) Receive(pool *pkt.Pool, pkts []*pkt.Packet, timeout time.Duration) int {
	if len(pkts) == 0 || !q.slot.Enter() {
		return 0
	}
	n, starved := q.drain(pool, pkts)
	if n == 0 && timeout > 0 {
		deadline := time.Now().Add(timeout)
		polled := false
		if q.waiter != nil && !starved {
			// A TAP reports no socket errors; unpollable is not expected,
			// and the ppoll loop below covers it if it happens.
			n, starved, polled = q.waiter.Wait(pool, pkts, deadline)
		}
		for !starved && !polled {
			left := time.Until(deadline)
			if left <= 0 {
				break
			}
			q.pfd[0].Revents = 0
			sys.Ppoll(q.pfd[:], left)
			if q.p.gate.Closed() {
				break
			}
			if n, starved = q.drain(pool, pkts); n > 0 {
				break
			}
			if q.pfd[0].Revents&(sys.POLLERR|sys.POLLHUP|sys.POLLNVAL) != 0 {
				starved = true // the TAP is gone: poll would return at once
			}
		}
		if starved && n == 0 {
			// Nothing can change before the timeout (an empty pool only
			// refills on its owner's goroutine, a dead TAP stays dead):
			// sleep, but let Close wake us.
			if left := time.Until(deadline); left > 0 {
				sys.Ppoll(q.pfd[1:], left)
			}
		}
	}
	q.slot.Exit()
	return n
}

// drain reads frames until pkts is full, the TAP has none left or the pool
// is empty (starved).
func (q *rxQueue) drain(pool *pkt.Pool, pkts []*pkt.Packet) (n int, starved bool) {
	bytes, dropped := 0, 0
	var p *pkt.Packet
	for n < len(pkts) {
		if p == nil {
			if p = pool.Get(); p == nil {
				starved = true
				break
			}
		}
		buf := p.RecvBuf()
		var k int
		var e syscall.Errno
		hl := 0
		if q.p.vnet {
			sys.SetIovec(&q.iov[1], buf)
			k, e = sys.Readv(q.fd, q.iov[:])
			hl = q.p.hdrLen
		} else {
			k, e = sys.Read(q.fd, buf)
		}
		if e == sys.EINTR {
			continue
		}
		if e != 0 {
			break // EAGAIN: empty; EIO/EBADFD: device gone, poll will say
		}
		k -= hl
		if k < 14 || !p.SetFrame(k) {
			dropped++
			continue
		}
		p.GSO = pkt.GSO{}
		switch {
		case !q.p.vnet:
		case q.p.tunnel && !p.GSO.DecodeVnetTunnelHdr(q.hdr[:]), !q.p.tunnel && !p.GSO.DecodeVnetHdr(q.hdr[:]):
			dropped++
			continue
		}
		pkts[n] = p
		p = nil
		n++
		bytes += k
	}
	if p != nil {
		p.Free()
	}
	if n > 0 {
		q.packets.Add(uint64(n))
		q.bytes.Add(uint64(bytes))
	}
	if dropped > 0 {
		q.dropped.Add(uint64(dropped))
	}
	return n, starved
}

// Transmit implements port.TxQueue: one writev per frame.
func (q *txQueue) Transmit(pkts []*pkt.Packet) int {
	if len(pkts) == 0 {
		return 0
	}
	if !q.slot.Enter() {
		q.dropped.Add(uint64(len(pkts)))
		return 0
	}
	sent, bytes := 0, 0
	for _, p := range pkts {
		b := p.Bytes()
		if len(b) < 14 {
			continue
		}
		if !q.p.vnet && (p.GSO.IsGSO() || p.GSO.NeedsCsum) || p.GSO.OuterL4 != 0 && !q.p.tunnel {
			continue // nothing could finish it
		}
		e := sys.EINTR
		for e == sys.EINTR {
			if q.p.vnet {
				if q.p.tunnel {
					p.GSO.EncodeVnetTunnelHdr(q.hdr[:])
				} else {
					p.GSO.EncodeVnetHdr(q.hdr[:])
				}
				sys.SetIovec(&q.iov[1], b)
				_, e = sys.Writev(q.fd, q.iov[:])
			} else {
				_, e = sys.Write(q.fd, b)
			}
		}
		if e == 0 {
			sent++
			bytes += len(b)
		}
	}
	// Drop the references to the caller's buffers.
	sys.SetIovec(&q.iov[1], nil)
	q.slot.Exit()
	q.packets.Add(uint64(sent))
	q.bytes.Add(uint64(bytes))
	if d := len(pkts) - sent; d > 0 {
		q.dropped.Add(uint64(d))
	}
	return sent
}
