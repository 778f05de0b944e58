package pcap

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"flowpath/internal/errs"
	"flowpath/internal/pkt"
	"flowpath/internal/port"
	"flowpath/internal/sys"
)

// Option configures a port.
type Option func(*options)

type options struct {
	numTx    int
	offloads port.Offloads
	mac      [6]byte
	mtu      int
	nano     bool
	ringSize int
}

// WithNumTx sets the number of transmit queues (default 1).
func WithNumTx(n int) Option { return func(o *options) { o.numTx = n } }

// WithOffloads lets Transmit accept super-frames and partial checksums
// (TxGSO) and write them as they are. RxGSO is ignored: a capture carries
// no offload state.
func WithOffloads(off port.Offloads) Option {
	return func(o *options) { o.offloads = port.Offloads{TxGSO: off.TxGSO} }
}

// WithMAC sets what HardwareAddr reports (default zero: a file has none).
func WithMAC(mac [6]byte) Option { return func(o *options) { o.mac = mac } }

// WithMTU sets what MTU reports (default 0: a file has none).
func WithMTU(mtu int) Option { return func(o *options) { o.mtu = mtu } }

// WithNanoseconds writes nanosecond timestamps (magic 0xa1b23c4d).
func WithNanoseconds() Option { return func(o *options) { o.nano = true } }

// WithRingSize sets the number of frames each transmit ring holds
// (default 1024).
func WithRingSize(n int) Option { return func(o *options) { o.ringSize = n } }

// Port is a capture-file port.
type Port struct {
	opts options
	name string

	// Receive side (rd nil: nothing to read).
	rd     *bufio.Reader
	hdr    fileHeader
	done   atomic.Bool
	rxq    *rxQueue
	rclose io.Closer

	// Transmit side (w nil: sink).
	w       *bufio.Writer
	wclose  io.Closer
	tx      []*txQueue
	gate    sys.Gate
	stopW   atomic.Bool
	wdone   chan struct{}
	werr    error // first write error, set by the writer goroutine
	wdrops  atomic.Uint64
	closing sync.Mutex
	closed  atomic.Bool
}

type rxQueue struct {
	p   *Port
	rec [recHdrLen]byte

	packets, bytes, dropped atomic.Uint64
}

type txQueue struct {
	p    *Port
	ring *ring
	slot *sys.Slot

	packets, bytes, dropped atomic.Uint64
}

// Open reads frames from rxPath and writes transmitted frames to txPath,
// which is created or truncated. Either path may be "" (nothing to
// receive; transmit into a sink).
func Open(rxPath, txPath string, opts ...Option) (*Port, error) {
	var r io.ReadCloser
	var w io.WriteCloser
	if rxPath != "" {
		f, err := os.Open(rxPath)
		if err != nil {
			return nil, fmt.Errorf("pcap: %w", err)
		}
		r = f
	}
	if txPath != "" {
		f, err := os.Create(txPath)
		if err != nil {
			if r != nil {
				r.Close()
			}
			return nil, fmt.Errorf("pcap: %w", err)
		}
		w = f
	}
	p, err := newPort(rxPath+","+txPath, r, w, opts)
	if err != nil {
		if r != nil {
			r.Close()
		}
		if w != nil {
			w.Close()
		}
		return nil, err
	}
	if r != nil {
		p.rclose = r
	}
	if w != nil {
		p.wclose = w
	}
	return p, nil
}

// New is Open on a reader and a writer (either may be nil). The port does
// not close them.
func New(r io.Reader, w io.Writer, opts ...Option) (*Port, error) {
	return newPort("stream", r, w, opts)
}

func newPort(name string, r io.Reader, w io.Writer, opts []Option) (*Port, error) {
	o := options{numTx: 1, ringSize: 1024}
	for _, opt := range opts {
		opt(&o)
	}
	if o.numTx < 1 || o.ringSize < 1 || o.mtu < 0 {
		return nil, fmt.Errorf("pcap %s: options: %w", name, errs.ErrInvalid)
	}
	p := &Port{opts: o, name: name}
	p.rxq = &rxQueue{p: p}
	if r == nil {
		p.done.Store(true)
	} else {
		p.rd = bufio.NewReaderSize(r, 256<<10)
		var b [fileHdrLen]byte
		if _, err := io.ReadFull(p.rd, b[:]); err != nil {
			return nil, fmt.Errorf("pcap %s: file header: %w", name, errs.ErrInvalid)
		}
		h, magic, ok := parseFileHeader(b[:])
		switch {
		case !ok && magic == magicNG:
			return nil, fmt.Errorf("pcap %s: pcapng: %w", name, errs.ErrNotSupported)
		case !ok:
			return nil, fmt.Errorf("pcap %s: magic %#08x: %w", name, magic, errs.ErrInvalid)
		case h.linkType != linkTypeEthernet:
			return nil, fmt.Errorf("pcap %s: link type %d: %w", name, h.linkType, errs.ErrNotSupported)
		}
		p.hdr = h
	}
	p.tx = make([]*txQueue, o.numTx)
	for i := range p.tx {
		p.tx[i] = &txQueue{p: p, slot: p.gate.NewSlot()}
	}
	if w != nil {
		p.w = bufio.NewWriterSize(w, 256<<10)
		if _, err := p.w.Write(appendFileHeader(nil, o.nano)); err != nil {
			return nil, fmt.Errorf("pcap %s: %w", name, err)
		}
		if err := p.w.Flush(); err != nil {
			return nil, fmt.Errorf("pcap %s: %w", name, err)
		}
		for _, q := range p.tx {
			q.ring = newRing(o.ringSize)
		}
		p.wdone = make(chan struct{})
		go p.writer()
	}
	return p, nil
}

// Kind implements port.Port.
func (p *Port) Kind() string { return "pcap" }

// HardwareAddr implements port.Port (WithMAC, else zero).
func (p *Port) HardwareAddr() [6]byte { return p.opts.mac }

// MTU implements port.Port (WithMTU, else 0).
func (p *Port) MTU() int { return p.opts.mtu }

// Offloads implements port.Port.
func (p *Port) Offloads() port.Offloads { return p.opts.offloads }

// RxQueues implements port.Port: one queue, the file.
func (p *Port) RxQueues() []port.RxQueue { return []port.RxQueue{p.rxq} }

// TxQueue implements port.Port.
func (p *Port) TxQueue(i int) port.TxQueue { return p.tx[i] }

// NumTx implements port.Port.
func (p *Port) NumTx() int { return len(p.tx) }

// Done reports whether the receive file has been read to its end (always
// true without one).
func (p *Port) Done() bool { return p.done.Load() }

// Nanosecond reports whether the receive file has nanosecond timestamps.
func (p *Port) Nanosecond() bool { return p.hdr.nano }

// Stats implements port.Port.
func (p *Port) Stats() port.Stats {
	s := port.Stats{
		RxPackets: p.rxq.packets.Load(),
		RxBytes:   p.rxq.bytes.Load(),
		RxDropped: p.rxq.dropped.Load(),
		TxDropped: p.wdrops.Load(),
	}
	for _, q := range p.tx {
		s.TxPackets += q.packets.Load()
		s.TxBytes += q.bytes.Load()
		s.TxDropped += q.dropped.Load()
	}
	return s
}

// Close implements port.Port: waits for running Transmits, writes out
// every queued frame, flushes, and closes the files Open opened. It
// returns the first write error, if any.
func (p *Port) Close() error {
	p.closing.Lock()
	defer p.closing.Unlock()
	if p.closed.Swap(true) {
		return nil
	}
	p.gate.Close()
	p.gate.Wait()
	var err error
	if p.w != nil {
		p.stopW.Store(true)
		<-p.wdone
		err = p.werr
		if ferr := p.w.Flush(); err == nil && ferr != nil {
			err = ferr
		}
	}
	if p.wclose != nil {
		if cerr := p.wclose.Close(); err == nil {
			err = cerr
		}
	}
	if p.rclose != nil {
		// Receive may be running: closing the file makes its next read
		// fail, which it treats as the end of the file.
		p.rclose.Close()
	}
	if err != nil {
		return fmt.Errorf("pcap %s: %w", p.name, err)
	}
	return nil
}

// Receive implements port.RxQueue.
func (q *rxQueue) Receive(pool *pkt.Pool, pkts []*pkt.Packet, timeout time.Duration) int {
	p := q.p
	n, bytes, dropped := 0, 0, 0
	starved := false
	var pk *pkt.Packet // taken before a record is read, so an empty pool loses nothing
	for n < len(pkts) && !p.done.Load() && !p.closed.Load() {
		if pk == nil {
			if pk = pool.Get(); pk == nil {
				starved = true
				break
			}
		}
		if _, err := io.ReadFull(p.rd, q.rec[:]); err != nil {
			if err == io.ErrUnexpectedEOF {
				dropped++ // a record header cut off by the end of the file
			}
			p.done.Store(true)
			break
		}
		incl := int64(p.hdr.order.Uint32(q.rec[8:]))
		orig := int64(p.hdr.order.Uint32(q.rec[12:]))
		if incl < minFrame || incl > pkt.MaxFrame || incl < orig {
			dropped++
			if d, err := p.rd.Discard(int(min(incl, 1<<31-1))); int64(d) < incl || err != nil {
				p.done.Store(true)
			}
			continue
		}
		if _, err := io.ReadFull(p.rd, pk.RecvBuf()[:incl]); err != nil {
			dropped++ // cut off by the end of the file
			p.done.Store(true)
			break
		}
		pk.SetFrame(int(incl))
		pkts[n] = pk
		pk = nil
		n++
		bytes += int(incl)
	}
	if pk != nil {
		pk.Free()
	}
	if n > 0 {
		q.packets.Add(uint64(n))
		q.bytes.Add(uint64(bytes))
	}
	if dropped > 0 {
		q.dropped.Add(uint64(dropped))
	}
	if n == 0 && timeout > 0 && (starved || p.done.Load() || p.closed.Load()) {
		// Nothing to give before the timeout: wait it out rather than
		// let the worker spin.
		idle(timeout, &p.closed)
	}
	return n
}

// idle sleeps for timeout in small steps, returning early once *stop is set.
func idle(timeout time.Duration, stop *atomic.Bool) {
	deadline := time.Now().Add(timeout)
	for step := 50 * time.Microsecond; !stop.Load(); step = min(2*step, time.Millisecond) {
		left := time.Until(deadline)
		if left <= 0 {
			return
		}
		time.Sleep(min(step, left))
	}
}

// Transmit implements port.TxQueue: frames are copied into the queue's
// ring for the writer goroutine; a full ring is waited out.
func (q *txQueue) Transmit(pkts []*pkt.Packet) int {
	if len(pkts) == 0 {
		return 0
	}
	if !q.slot.Enter() {
		q.dropped.Add(uint64(len(pkts)))
		return 0
	}
	p := q.p
	sent, bytes := 0, 0
	now := time.Now().UnixNano()
	for _, pk := range pkts {
		b := pk.Bytes()
		if len(b) < minFrame || ((pk.GSO.IsGSO() || pk.GSO.NeedsCsum) && !p.opts.offloads.TxGSO) {
			continue
		}
		if q.ring != nil {
			for spin := 0; !q.ring.push(b, now); spin++ {
				if spin < 16 {
					runtime.Gosched()
				} else {
					time.Sleep(50 * time.Microsecond)
				}
			}
		}
		sent++
		bytes += len(b)
	}
	q.slot.Exit()
	q.packets.Add(uint64(sent))
	q.bytes.Add(uint64(bytes))
	if d := len(pkts) - sent; d > 0 {
		q.dropped.Add(uint64(d))
	}
	return sent
}

// writer drains the rings into the file until stopW is set and the rings
// are empty. After a write error it keeps draining and counts every frame
// it could not write as dropped, so Transmit never waits on a dead file.
func (p *Port) writer() {
	defer close(p.wdone)
	var rec [recHdrLen]byte
	dirty, stopping := false, false
	step, idleRounds := 20*time.Microsecond, 0
	for {
		moved := 0
		for _, q := range p.tx {
			for k := 0; k < 64; k++ {
				s := q.ring.peek()
				if s == nil {
					break
				}
				if p.werr == nil {
					putRecHeader(rec[:], s.ts, len(s.buf), p.opts.nano)
					if _, err := p.w.Write(rec[:]); err != nil {
						p.werr = err
					} else if _, err := p.w.Write(s.buf); err != nil {
						p.werr = err
					}
				}
				if p.werr != nil {
					p.wdrops.Add(1)
				}
				q.ring.pop()
				moved++
				dirty = true
			}
		}
		if moved > 0 {
			step, idleRounds = 20*time.Microsecond, 0
			continue
		}
		if stopping {
			return // Close flushes
		}
		if p.stopW.Load() {
			// Every Transmit finished before stopW was set, but this
			// round's scan may have run before their last push: scan
			// once more before leaving.
			stopping = true
			continue
		}
		if dirty && p.werr == nil {
			if err := p.w.Flush(); err != nil {
				p.werr = err
			}
			dirty = false
		}
		// Idle: yield a few rounds (a producer may be waiting on a full
		// ring), then sleep in growing steps up to 1 ms.
		if idleRounds++; idleRounds < 16 {
			runtime.Gosched()
			continue
		}
		time.Sleep(step)
		step = min(2*step, time.Millisecond)
	}
}
