package afpacket

import (
	"bytes"
	"encoding/binary"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"flowpath/internal/errs"
	"flowpath/internal/pkt"
	"flowpath/internal/port"
	"flowpath/internal/sys"
	"flowpath/internal/sys/nstest"
)

var _ port.Port = (*Port)(nil)

// rxModes are the receive paths, recvmmsg with both waits; the tests that
// move frames run in each.
var rxModes = []rxMode{{"ring", true, false}, {"recvmmsg", false, true}, {"recvmmsg-ppoll", true, true}}

// rxMode is a receive path and a way of waiting for it (the ring always
// waits in ppoll).
type rxMode struct {
	name        string
	ppoll, recv bool
}

// forModes runs test in every receive mode.
func forModes(t *testing.T, test func(*testing.T, rxMode)) {
	for _, mode := range rxModes {
		t.Run(mode.name, func(t *testing.T) { test(t, mode) })
	}
}

// vethPorts opens ports pa and pb, in mode, on the two ends of a veth in a
// new namespace.
func vethPorts(t *testing.T, nsName string, mode rxMode) (ns *nstest.NS, a, b *Port) {
	ns = nstest.New(t, nsName)
	nstest.Veth(t, ns, "pa", ns, "pb")
	return ns, open(t, ns, "pa", mode.cfg(Config{})), open(t, ns, "pb", mode.cfg(Config{}))
}

// cfg is c with the mode's receive path and wait.
func (m rxMode) cfg(c Config) Config {
	c.Recvmmsg, c.Ppoll = m.recv, m.ppoll
	return c
}

const testEtherType = 0x88b5 // IEEE local experimental: the kernel ignores it

// testFrame builds an Ethernet frame of n bytes with a sequence number.
func testFrame(dst, src [6]byte, n int, seq uint32) []byte {
	b := make([]byte, n)
	copy(b, dst[:])
	copy(b[6:], src[:])
	binary.BigEndian.PutUint16(b[12:], testEtherType)
	binary.BigEndian.PutUint32(b[14:], seq)
	for i := 18; i < n; i++ {
		b[i] = byte(i + int(seq))
	}
	return b
}

func open(t *testing.T, ns *nstest.NS, ifname string, cfg Config) *Port {
	t.Helper()
	var p *Port
	if err := ns.Do(func() (err error) {
		p, err = Open(ifname, cfg)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// collect receives until it has n frames of the test ethertype or the
// timeout passes; other frames (the kernel's IPv6 chatter) are ignored.
func collect(t *testing.T, q port.RxQueue, pool *pkt.Pool, n int, timeout time.Duration) [][]byte {
	t.Helper()
	var out [][]byte
	got := make([]*pkt.Packet, 32)
	deadline := time.Now().Add(timeout)
	for len(out) < n && time.Now().Before(deadline) {
		k := q.Receive(pool, got, 50*time.Millisecond)
		for _, p := range got[:k] {
			b := p.Bytes()
			if binary.BigEndian.Uint16(b[12:]) == testEtherType ||
				(binary.BigEndian.Uint16(b[12:]) == 0x8100 && binary.BigEndian.Uint16(b[16:]) == testEtherType) {
				out = append(out, append([]byte(nil), b...))
			}
			p.Free()
		}
	}
	return out
}

func send(t *testing.T, q port.TxQueue, pool *pkt.Pool, frames ...[]byte) int {
	t.Helper()
	pk := make([]*pkt.Packet, len(frames))
	for i, f := range frames {
		pk[i] = pool.Get()
		pk[i].SetBytes(f)
	}
	n := q.Transmit(pk)
	pool.PutBatch(pk)
	return n
}

func TestOpenErrors(t *testing.T) {
	ns := nstest.New(t, "porterr")
	err := ns.Do(func() error {
		_, err := Open("nosuchdev0", Config{})
		return err
	})
	if !errors.Is(err, errs.ErrNoDevice) {
		t.Fatalf("missing device: %v", err)
	}
	nstest.Veth(t, ns, "e0", ns, "e1")
	err = ns.Do(func() error {
		_, err := Open("e0", Config{BlockSize: 4096})
		return err
	})
	if !errors.Is(err, errs.ErrInvalid) {
		t.Fatalf("tiny block: %v", err)
	}
}

// TestFrames sends frames through one port and receives them on the other
// end of a veth: byte-identical, VLAN tag restored, own frames not seen.
func TestFrames(t *testing.T) { forModes(t, testFrames) }

func testFrames(t *testing.T, mode rxMode) {
	ns := nstest.New(t, "port")
	nstest.Veth(t, ns, "pa", ns, "pb")
	a := open(t, ns, "pa", mode.cfg(Config{NumTx: 2}))
	b := open(t, ns, "pb", mode.cfg(Config{}))
	if a.Kind() != "afpacket" || a.MTU() != 1500 || a.HardwareAddr() == ([6]byte{}) || a.NumTx() != 2 ||
		!a.Offloads().RxGSO || !a.Offloads().TxGSO {
		t.Fatalf("port identity: %v %v %v", a.MTU(), a.HardwareAddr(), a.Offloads())
	}
	pool := pkt.NewPool("t", 256)
	dst, src := b.HardwareAddr(), a.HardwareAddr()
	want := [][]byte{testFrame(dst, src, 60, 1), testFrame(dst, src, 1514, 2), testFrame(dst, src, 200, 3)}
	tagged := testFrame(dst, src, 300, 4)
	// 802.1Q tag, VID 7, PCP 5: the receiving kernel strips it into
	// metadata; the port must put it back.
	tagged = append(tagged[:12], append([]byte{0x81, 0x00, 0xa0, 0x07}, tagged[12:]...)...)
	want = append(want, tagged)
	if n := send(t, a.TxQueue(1), pool, want...); n != len(want) {
		t.Fatalf("sent %d", n)
	}
	got := collect(t, b.RxQueues()[0], pool, len(want), 2*time.Second)
	if len(got) != len(want) {
		t.Fatalf("received %d of %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Errorf("frame %d differs:\n got %x\nwant %x", i, got[i][:min(40, len(got[i]))], want[i][:min(40, len(want[i]))])
		}
	}
	// a must not see its own transmissions.
	if own := collect(t, a.RxQueues()[0], pool, 1, 50*time.Millisecond); len(own) != 0 {
		t.Fatalf("port received %d of its own frames", len(own))
	}
	// Oversize without GSO: the kernel refuses it, counted.
	if n := send(t, a.TxQueue(0), pool, testFrame(dst, src, 1600, 9), testFrame(dst, src, 64, 10)); n != 1 {
		t.Fatalf("oversize: sent %d, want 1", n)
	}
	if got := collect(t, b.RxQueues()[0], pool, 1, 2*time.Second); len(got) != 1 || binary.BigEndian.Uint32(got[0][14:]) != 10 {
		t.Fatal("frame after the oversize one")
	}
	sa, sb := a.Stats(), b.Stats()
	if sa.TxPackets != 5 || sa.TxDropped != 1 || sb.RxPackets < 5 || sa.TxBytes != 60+1514+200+304+64 {
		t.Fatalf("stats a %+v b %+v", sa, sb)
	}
	if pool.Stats().InUse != 0 {
		t.Fatal("leak")
	}
}

func TestCloseUnblocks(t *testing.T) { forModes(t, testCloseUnblocks) }

func testCloseUnblocks(t *testing.T, mode rxMode) {
	ns := nstest.New(t, "portcl")
	nstest.Veth(t, ns, "pa", ns, "pb")
	a := open(t, ns, "pa", mode.cfg(Config{Queues: 2}))
	pool := pkt.NewPool("t", 8)
	var wg sync.WaitGroup
	var after atomic.Int32
	for _, q := range a.RxQueues() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got := make([]*pkt.Packet, 8)
			for {
				if n := q.Receive(pkt.NewPool("r", 8), got, time.Hour); n == 0 {
					after.Add(1)
					return
				}
			}
		}()
	}
	time.Sleep(20 * time.Millisecond)
	done := make(chan struct{})
	go func() { a.Close(); wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Fatal("Close did not unblock Receive")
	}
	got := make([]*pkt.Packet, 8)
	if a.RxQueues()[0].Receive(pool, got, time.Second) != 0 || send(t, a.TxQueue(0), pool, make([]byte, 60)) != 0 {
		t.Fatal("use after close")
	}
	if a.Close() != nil {
		t.Fatal("second close")
	}
}

// TestFanout spreads flows over two receive queues: every frame arrives
// exactly once, and both queues get some.
func TestFanout(t *testing.T) { forModes(t, testFanout) }

func testFanout(t *testing.T, mode rxMode) {
	ns := nstest.New(t, "portfo")
	nstest.Veth(t, ns, "pa", ns, "pb")
	a := open(t, ns, "pa", mode.cfg(Config{}))
	b := open(t, ns, "pb", mode.cfg(Config{Queues: 2}))
	pool := pkt.NewPool("t", 512)
	const n = 200
	frames := make([][]byte, n)
	for i := range frames {
		f := make([]byte, 60)
		copy(f, []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00})
		ip := f[14:34]
		ip[0], ip[8], ip[9] = 0x45, 64, 17
		binary.BigEndian.PutUint16(ip[2:], 46)
		copy(ip[12:], []byte{10, 1, 0, 1})
		copy(ip[16:], []byte{10, 1, 0, 2})
		binary.BigEndian.PutUint16(f[34:], uint16(1000+i)) // a flow per frame
		binary.BigEndian.PutUint16(f[36:], 9)
		binary.BigEndian.PutUint16(f[38:], 26)
		binary.BigEndian.PutUint32(f[42:], uint32(i))
		frames[i] = f
	}
	if send(t, a.TxQueue(0), pool, frames...) != n {
		t.Fatal("send")
	}
	seen := make([]int, n)
	perQ := make([]int, 2)
	got := make([]*pkt.Packet, 64)
	deadline := time.Now().Add(3 * time.Second)
	for total := 0; total < n && time.Now().Before(deadline); {
		for qi, q := range b.RxQueues() {
			k := q.Receive(pool, got, 5*time.Millisecond)
			for _, p := range got[:k] {
				f := p.Bytes()
				if len(f) >= 46 && f[23] == 17 && binary.BigEndian.Uint16(f[36:]) == 9 {
					i := binary.BigEndian.Uint32(f[42:])
					if int(i) < n {
						seen[i]++
						perQ[qi]++
						total++
					}
				}
				p.Free()
			}
		}
	}
	for i, c := range seen {
		if c != 1 {
			t.Fatalf("frame %d seen %d times", i, c)
		}
	}
	if perQ[0] == 0 || perQ[1] == 0 {
		t.Fatalf("fanout did not spread: %v", perQ)
	}
	t.Logf("queues got %v", perQ)
}

func TestNoAllocs(t *testing.T) { forModes(t, testNoAllocs) }

func testNoAllocs(t *testing.T, mode rxMode) {
	_, a, b := vethPorts(t, "portal", mode)
	txPool, rxPool := pkt.NewPool("tx", 64), pkt.NewPool("rx", 64)
	batch := make([]*pkt.Packet, 32)
	for i := range batch {
		batch[i] = txPool.Get()
		batch[i].SetBytes(testFrame(b.HardwareAddr(), a.HardwareAddr(), 1000, uint32(i)))
	}
	got := make([]*pkt.Packet, 64)
	tx, rx := a.TxQueue(0), b.RxQueues()[0]
	run := func() {
		if tx.Transmit(batch) != len(batch) {
			t.Fatal("tx")
		}
		for n := 0; n < len(batch); {
			k := rx.Receive(rxPool, got, 100*time.Millisecond)
			if k == 0 {
				t.Fatal("rx timeout")
			}
			for _, p := range got[:k] {
				if binary.BigEndian.Uint16(p.Bytes()[12:]) == testEtherType {
					n++
				}
			}
			rxPool.PutBatch(got[:k])
		}
	}
	run()
	if allocs := testing.AllocsPerRun(50, run); allocs != 0 {
		t.Fatalf("%v allocations per Transmit+Receive", allocs)
	}
}

// threadCPU is the CPU time the calling thread has used.
func threadCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestPoolEmpty: with frames waiting and an empty pool, Receive sleeps out
// its timeout without spinning, and the frames are still there after.
func TestPoolEmpty(t *testing.T) { forModes(t, testPoolEmpty) }

func testPoolEmpty(t *testing.T, mode rxMode) {
	_, a, b := vethPorts(t, "portpe", mode)
	pool := pkt.NewPool("t", 64)
	dst, src := b.HardwareAddr(), a.HardwareAddr()
	if send(t, a.TxQueue(0), pool, testFrame(dst, src, 100, 1), testFrame(dst, src, 100, 2)) != 2 {
		t.Fatal("send")
	}
	time.Sleep(20 * time.Millisecond) // let the block retire
	hold := make([]*pkt.Packet, 64)
	pool.GetBatch(hold)
	got := make([]*pkt.Packet, 8)
	runtime.LockOSThread()
	t0, c0 := time.Now(), threadCPU()
	n := b.RxQueues()[0].Receive(pool, got, 100*time.Millisecond)
	d, c := time.Since(t0), threadCPU()-c0
	runtime.UnlockOSThread()
	if n != 0 || d < 100*time.Millisecond {
		t.Fatalf("starved Receive: %d frames after %v", n, d)
	}
	if c > 30*time.Millisecond {
		t.Fatalf("starved Receive burned %v of CPU in %v", c, d)
	}
	pool.PutBatch(hold)
	if f := collect(t, b.RxQueues()[0], pool, 2, time.Second); len(f) != 2 {
		t.Fatalf("%d frames after the pool refilled", len(f))
	}
}

// TestArrivalCPUs: with CountCPUs the port counts each frame on the CPU
// whose softirq received it, which on a veth is the sending thread's CPU,
// and the counting filter keeps frames whole; without it there are no
// counts.
func TestArrivalCPUs(t *testing.T) { forModes(t, testArrivalCPUs) }

func testArrivalCPUs(t *testing.T, mode rxMode) {
	ns := nstest.New(t, "portcpu")
	// The kernel's own IPv6 frames (router solicitations, MLD) would be
	// counted too.
	ns.Exec(t, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
	nstest.Veth(t, ns, "pa", ns, "pb")
	a := open(t, ns, "pa", mode.cfg(Config{}))
	b := open(t, ns, "pb", mode.cfg(Config{CountCPUs: true}))
	if a.RxQueues()[0].(port.ArrivalCounter).ArrivalCPUs() != nil {
		t.Fatal("a port without CountCPUs has counts")
	}
	// In a fanout group each queue counts its own arrivals.
	m := open(t, ns, "pa", mode.cfg(Config{Queues: 2, CountCPUs: true}))
	c0, c1 := m.RxQueues()[0].(port.ArrivalCounter).ArrivalCPUs(), m.RxQueues()[1].(port.ArrivalCounter).ArrivalCPUs()
	if c0 == nil || c1 == nil || c0 == c1 {
		t.Fatal("the queues of a fanout group share their counts")
	}
	counts := b.RxQueues()[0].(port.ArrivalCounter).ArrivalCPUs()
	if counts == nil || counts.NumCPU() < runtime.NumCPU() {
		t.Fatalf("counts %v", counts)
	}
	pool := pkt.NewPool("t", 256)
	dst, src := b.HardwareAddr(), a.HardwareAddr()
	for cpu := 0; cpu < runtime.NumCPU(); cpu++ {
		before := make([]uint64, counts.NumCPU())
		for i := range before {
			before[i] = counts.Count(i)
		}
		frames := [][]byte{testFrame(dst, src, 60, 1), testFrame(dst, src, 1514, 2), testFrame(dst, src, 200, 3)}
		pk := make([]*pkt.Packet, len(frames))
		for i, f := range frames {
			pk[i] = pool.Get()
			pk[i].SetBytes(f)
		}
		sent := make(chan int)
		go func() {
			// Never unlocked: the thread ends with the goroutine, binding
			// and all.
			runtime.LockOSThread()
			if sys.SetThreadCPU(cpu) != nil {
				sent <- -1
				return
			}
			sent <- a.TxQueue(0).Transmit(pk)
		}()
		n := <-sent
		pool.PutBatch(pk)
		if n != len(frames) {
			t.Fatalf("cpu %d: sent %d", cpu, n)
		}
		got := collect(t, b.RxQueues()[0], pool, len(frames), 2*time.Second)
		if len(got) != len(frames) {
			t.Fatalf("cpu %d: received %d of %d", cpu, len(got), len(frames))
		}
		for i := range frames {
			if !bytes.Equal(got[i], frames[i]) {
				t.Fatalf("cpu %d: frame %d changed by the filter: %d bytes, want %d", cpu, i, len(got[i]), len(frames[i]))
			}
		}
		for i := range before {
			want := uint64(0)
			if i == cpu {
				want = uint64(len(frames))
			}
			if d := counts.Count(i) - before[i]; d != want {
				t.Fatalf("sent on cpu %d: cpu %d counted %d, want %d", cpu, i, d, want)
			}
		}
	}
}

// TestLinkDownWaits: after the link goes down the socket holds an error
// (ENETDOWN) that keeps poll, and the runtime poller, returning at once; an
// idle Receive must still sleep out its timeout instead of spinning, and
// frames flow again once the link is back up.
func TestLinkDownWaits(t *testing.T) { forModes(t, testLinkDownWaits) }

func testLinkDownWaits(t *testing.T, mode rxMode) {
	ns, a, b := vethPorts(t, "portld", mode)
	pool := pkt.NewPool("t", 64)
	got := make([]*pkt.Packet, 8)
	ns.IP(t, "link", "set", "pb", "down")
	time.Sleep(20 * time.Millisecond)
	var rs0, rs1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &rs0)
	t0, calls := time.Now(), 0
	for time.Since(t0) < 300*time.Millisecond {
		n := b.RxQueues()[0].Receive(pool, got, 50*time.Millisecond)
		pool.PutBatch(got[:n])
		calls++
	}
	syscall.Getrusage(syscall.RUSAGE_SELF, &rs1)
	cpu := time.Duration(rs1.Utime.Nano()+rs1.Stime.Nano()) - time.Duration(rs0.Utime.Nano()+rs0.Stime.Nano())
	if calls > 20 || cpu > 100*time.Millisecond {
		t.Fatalf("link down: %d Receive calls and %v of CPU in 300 ms", calls, cpu)
	}
	ns.IP(t, "link", "set", "pb", "up")
	time.Sleep(50 * time.Millisecond) // the veth carrier
	if send(t, a.TxQueue(0), pool, testFrame(b.HardwareAddr(), a.HardwareAddr(), 100, 1)) != 1 {
		t.Fatal("send after up")
	}
	if f := collect(t, b.RxQueues()[0], pool, 1, 2*time.Second); len(f) != 1 {
		t.Fatal("no frame after the link came back")
	}
}
