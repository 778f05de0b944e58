package mem

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"flowpath/internal/pkt"
	"flowpath/internal/port"
)

var _ port.Port = (*Port)(nil)

// frame builds a deterministic Ethernet frame of n bytes tagged with seq.
func frame(n int, seq uint32) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + int(seq))
	}
	if n >= 14 {
		binary.BigEndian.PutUint16(b[12:], 0x88b5) // local experimental ethertype
	}
	if n >= 18 {
		binary.BigEndian.PutUint32(b[14:], seq)
	}
	return b
}

func seqOf(b []byte) uint32 { return binary.BigEndian.Uint32(b[14:]) }

func fill(t testing.TB, pool *pkt.Pool, frames ...[]byte) []*pkt.Packet {
	t.Helper()
	out := make([]*pkt.Packet, len(frames))
	for i, f := range frames {
		p := pool.Get()
		if p == nil || !p.SetBytes(f) {
			t.Fatal("pool")
		}
		out[i] = p
	}
	return out
}

func TestPairRoundTrip(t *testing.T) {
	a := New("a", [6]byte{2, 0, 0, 0, 0, 1}, 1500, 2)
	b := New("b", [6]byte{2, 0, 0, 0, 0, 2}, 1500, 2)
	Pair(a, b)
	if a.Kind() != "mem" || a.MTU() != 1500 || a.HardwareAddr() != [6]byte{2, 0, 0, 0, 0, 1} || a.NumTx() != 2 || len(a.RxQueues()) != 1 {
		t.Fatal("port identity")
	}
	pool := pkt.NewPool("t", 64)
	want := [][]byte{frame(60, 1), frame(1514, 2), frame(1518, 3)}
	pk := fill(t, pool, want...)
	if n := a.TxQueue(1).Transmit(pk); n != 3 {
		t.Fatalf("sent %d", n)
	}
	// Ownership: the caller keeps the packets; scribbling on them after
	// Transmit must not change what the peer receives.
	for _, p := range pk {
		for i := range p.Bytes() {
			p.Bytes()[i] = 0xee
		}
		p.Free()
	}
	got := make([]*pkt.Packet, 8)
	n := b.RxQueues()[0].Receive(pool, got, time.Second)
	if n != 3 {
		t.Fatalf("received %d", n)
	}
	for i := 0; i < n; i++ {
		if !bytes.Equal(got[i].Bytes(), want[i]) {
			t.Errorf("frame %d differs", i)
		}
		if got[i].Headroom() != pkt.DefaultHeadroom || got[i].InPort != 0 || got[i].GSO != (pkt.GSO{}) {
			t.Errorf("frame %d: headroom %d inport %d gso %+v", i, got[i].Headroom(), got[i].InPort, got[i].GSO)
		}
		got[i].Free()
	}
	if pool.Stats().InUse != 0 {
		t.Fatal("leak")
	}
	// And back the other way.
	pk = fill(t, pool, frame(100, 9))
	if b.TxQueue(0).Transmit(pk) != 1 {
		t.Fatal("b tx")
	}
	pk[0].Free()
	if n := a.RxQueues()[0].Receive(pool, got, time.Second); n != 1 || seqOf(got[0].Bytes()) != 9 {
		t.Fatalf("reverse: %d", n)
	}
	got[0].Free()
	sa, sb := a.Stats(), b.Stats()
	if sa.TxPackets != 3 || sa.TxBytes != 60+1514+1518 || sb.RxPackets != 3 || sb.RxBytes != sa.TxBytes ||
		sb.TxPackets != 1 || sa.RxPackets != 1 || sa.TxDropped+sa.RxDropped+sb.TxDropped+sb.RxDropped != 0 {
		t.Fatalf("stats a %+v b %+v", sa, sb)
	}
}

func TestMediumChecks(t *testing.T) {
	a := New("a", [6]byte{}, 1500, 1)
	b := New("b", [6]byte{}, 1500, 1)
	Pair(a, b)
	pool := pkt.NewPool("t", 64)
	gso := pkt.GSO{Type: pkt.GSOTCPv4, NeedsCsum: true, Size: 1448, HdrLen: 66, CsumStart: 34, CsumOffset: 16}
	pk := fill(t, pool, frame(13, 0), frame(1519, 1), frame(9000, 2), frame(200, 3))
	pk[2].GSO = gso
	binary.BigEndian.PutUint16(pk[2].Bytes()[12:], 0x0800) // TCPv4 GSO needs IPv4 under it
	pk[3].GSO = pkt.GSO{NeedsCsum: true, CsumStart: 34, CsumOffset: 6}
	// No TxGSO: runt, oversize, super-frame and partial checksum all drop.
	if n := a.TxQueue(0).Transmit(pk); n != 0 {
		t.Fatalf("sent %d", n)
	}
	if s := a.Stats(); s.TxDropped != 4 || s.TxPackets != 0 {
		t.Fatalf("stats %+v", s)
	}
	a.SetOffloads(port.Offloads{TxGSO: true})
	if n := a.TxQueue(0).Transmit(pk); n != 2 {
		t.Fatalf("with TxGSO sent %d, want the super-frame and the partial csum", n)
	}
	// b lacks RxGSO: the medium cannot deliver offload state to it.
	got := make([]*pkt.Packet, 8)
	if n := b.RxQueues()[0].Receive(pool, got, 10*time.Millisecond); n != 0 {
		t.Fatalf("b received %d", n)
	}
	if s := b.Stats(); s.RxDropped != 2 {
		t.Fatalf("b stats %+v", s)
	}
	b.SetOffloads(port.Offloads{RxGSO: true})
	if n := a.TxQueue(0).Transmit(pk[2:]); n != 2 {
		t.Fatal("resend")
	}
	if n := b.RxQueues()[0].Receive(pool, got, time.Second); n != 2 {
		t.Fatalf("b received %d", n)
	}
	want := frame(9000, 2)
	binary.BigEndian.PutUint16(want[12:], 0x0800)
	if got[0].GSO != gso || !bytes.Equal(got[0].Bytes(), want) || !got[1].GSO.NeedsCsum {
		t.Fatalf("gso %+v", got[0].GSO)
	}
	pool.PutBatch(got[:2])
	// A super-frame under another ethertype than its GSO type segments
	// (TCPv4 under an MPLS label, TCPv6 under IPv4) is refused, as the
	// kernel refuses such a virtio-net header.
	for _, c := range []struct {
		typ pkt.GSOType
		et  uint16
	}{{pkt.GSOTCPv4, 0x8847}, {pkt.GSOTCPv6, 0x0800}, {pkt.GSOTCPv4, 0x8100}} {
		binary.BigEndian.PutUint16(pk[2].Bytes()[12:], c.et)
		pk[2].GSO.Type = c.typ
		before := a.Stats().TxDropped
		if n := a.TxQueue(0).Transmit(pk[2:3]); n != 0 || a.Stats().TxDropped != before+1 {
			t.Fatalf("GSO type %d under ethertype %#x: sent %d", c.typ, c.et, n)
		}
	}
	pool.PutBatch(pk)
	// Inject refuses offload state without RxGSO.
	if a.InjectGSO(frame(100, 0), gso) {
		t.Fatal("inject gso without RxGSO")
	}
	if !b.InjectGSO(frame(100, 0), gso) {
		t.Fatal("inject gso with RxGSO")
	}
	if b.Inject(make([]byte, pkt.MaxFrame+1)) {
		t.Fatal("inject oversize")
	}
}

func TestRingFullAndPoolEmpty(t *testing.T) {
	a := New("a", [6]byte{}, 1500, 1)
	b := New("b", [6]byte{}, 1500, 1)
	a.SetRingSize(4)
	Pair(a, b)
	pool := pkt.NewPool("t", 8)
	pk := fill(t, pool, frame(60, 0), frame(60, 1), frame(60, 2), frame(60, 3), frame(60, 4), frame(60, 5))
	if n := a.TxQueue(0).Transmit(pk); n != 4 {
		t.Fatalf("sent %d into a ring of 4", n)
	}
	if s := a.Stats(); s.TxDropped != 2 {
		t.Fatalf("stats %+v", s)
	}
	if b.Pending() != 4 {
		t.Fatalf("pending %d", b.Pending())
	}
	pool.PutBatch(pk)
	// A pool with 2 free packets takes 2; the rest stay queued.
	hold := make([]*pkt.Packet, 6)
	if pool.GetBatch(hold) != 6 {
		t.Fatal("hold")
	}
	got := make([]*pkt.Packet, 8)
	if n := b.RxQueues()[0].Receive(pool, got, 0); n != 2 {
		t.Fatalf("received %d with 2 free", n)
	}
	if seqOf(got[0].Bytes()) != 0 || seqOf(got[1].Bytes()) != 1 {
		t.Fatal("order")
	}
	pool.PutBatch(got[:2])
	pool.PutBatch(hold)
	if n := b.RxQueues()[0].Receive(pool, got, 0); n != 2 || seqOf(got[0].Bytes()) != 2 || seqOf(got[1].Bytes()) != 3 {
		t.Fatalf("rest: %d", n)
	}
	pool.PutBatch(got[:2])
	if b.Stats().RxDropped != 0 {
		t.Fatal("pool exhaustion must not drop")
	}
}

func TestTimeoutAndClose(t *testing.T) {
	a := New("a", [6]byte{}, 1500, 1)
	pool := pkt.NewPool("t", 8)
	got := make([]*pkt.Packet, 8)
	t0 := time.Now()
	if n := a.RxQueues()[0].Receive(pool, got, 20*time.Millisecond); n != 0 {
		t.Fatal("received from nothing")
	}
	if d := time.Since(t0); d < 20*time.Millisecond || d > 500*time.Millisecond {
		t.Fatalf("timeout took %v", d)
	}
	done := make(chan int)
	go func() { done <- a.RxQueues()[0].Receive(pool, got, time.Minute) }()
	time.Sleep(10 * time.Millisecond)
	a.Close()
	select {
	case n := <-done:
		if n != 0 {
			t.Fatal("receive after close")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not unblock Receive")
	}
	if a.Inject(frame(60, 0)) {
		t.Fatal("inject after close")
	}
	pk := fill(t, pool, frame(60, 0))
	if a.TxQueue(0).Transmit(pk) != 0 || a.Stats().TxDropped != 1 {
		t.Fatal("transmit after close")
	}
	pk[0].Free()
}

func TestInjectAndTakeSent(t *testing.T) {
	a := New("a", [6]byte{}, 1500, 3)
	pool := pkt.NewPool("t", 8)
	if !a.Inject(frame(64, 5)) {
		t.Fatal("inject")
	}
	got := make([]*pkt.Packet, 8)
	if n := a.RxQueues()[0].Receive(pool, got, time.Second); n != 1 || !bytes.Equal(got[0].Bytes(), frame(64, 5)) {
		t.Fatal("injected frame")
	}
	got[0].Free()
	pk := fill(t, pool, frame(64, 1), frame(64, 2))
	a.TxQueue(2).Transmit(pk[:1])
	a.TxQueue(0).Transmit(pk[1:])
	pool.PutBatch(pk)
	f := a.WaitSent(2, time.Second)
	if len(f) != 2 || seqOf(f[0].Data) != 2 || seqOf(f[1].Data) != 1 {
		t.Fatalf("sent %d", len(f))
	}
	if f := a.WaitSent(1, 5*time.Millisecond); len(f) != 0 {
		t.Fatal("phantom frame")
	}
	b := New("b", [6]byte{}, 1500, 1)
	Pair(a, b)
	if a.TakeSent(0) != nil {
		t.Fatal("TakeSent on a paired port")
	}
	defer func() {
		if recover() == nil {
			t.Fatal("double Pair did not panic")
		}
	}()
	Pair(a, New("c", [6]byte{}, 0, 1))
}

// TestMultiQueue checks the queue mapping: the peer's transmit queue i
// feeds receive queue i % n, and frames of one queue keep their order.
func TestMultiQueue(t *testing.T) {
	a := New("a", [6]byte{}, 1500, 5)
	b := New("b", [6]byte{}, 1500, 1)
	b.SetRxQueues(2)
	Pair(a, b)
	pool := pkt.NewPool("t", 64)
	for i := 0; i < 5; i++ {
		pk := fill(t, pool, frame(60, uint32(i*10)), frame(60, uint32(i*10+1)))
		if a.TxQueue(i).Transmit(pk) != 2 {
			t.Fatal("tx")
		}
		pool.PutBatch(pk)
	}
	got := make([]*pkt.Packet, 64)
	for q, rq := range b.RxQueues() {
		n := rq.Receive(pool, got, time.Second)
		seen := map[uint32]bool{}
		for _, p := range got[:n] {
			s := seqOf(p.Bytes())
			if int(s/10)%2 != q {
				t.Errorf("queue %d got a frame of tx queue %d", q, s/10)
			}
			if s%10 == 1 && !seen[s-1] {
				t.Errorf("queue %d: %d before %d", q, s, s-1)
			}
			seen[s] = true
		}
		if want := []int{6, 4}[q]; n != want {
			t.Errorf("queue %d received %d, want %d", q, n, want)
		}
		pool.PutBatch(got[:n])
	}
}

// TestConcurrent runs several transmitting goroutines against one
// receiver (under -race this checks the ring's memory ordering) and checks
// every frame arrives once, in order per queue, byte-exact.
func TestConcurrent(t *testing.T) {
	const nTx, per = 3, 3000
	a := New("a", [6]byte{}, 9000, nTx)
	b := New("b", [6]byte{}, 9000, 1)
	a.SetRingSize(64)
	Pair(a, b)
	var wg sync.WaitGroup
	for q := 0; q < nTx; q++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pool := pkt.NewPool("tx", 8)
			for i := 0; i < per; {
				p := pool.Get()
				p.SetBytes(frame(60+(i*131)%8000, uint32(q<<24|i)))
				if a.TxQueue(q).Transmit([]*pkt.Packet{p}) == 1 {
					i++
				} else {
					time.Sleep(time.Microsecond)
				}
				p.Free()
			}
		}()
	}
	pool := pkt.NewPool("rx", 64)
	next := make([]int, nTx)
	got := make([]*pkt.Packet, 32)
	deadline := time.Now().Add(20 * time.Second)
	for total := 0; total < nTx*per; {
		if time.Now().After(deadline) {
			t.Fatalf("only %d frames", total)
		}
		n := b.RxQueues()[0].Receive(pool, got, 10*time.Millisecond)
		for _, p := range got[:n] {
			s := seqOf(p.Bytes())
			q, i := int(s>>24), int(s&0xffffff)
			if q >= nTx || i != next[q] {
				t.Fatalf("queue %d: got %d want %d", q, i, next[q])
			}
			if !bytes.Equal(p.Bytes(), frame(60+(i*131)%8000, s)) {
				t.Fatalf("frame %x corrupted", s)
			}
			next[q]++
		}
		total += n
		pool.PutBatch(got[:n])
	}
	wg.Wait()
}

// TestRingModel compares the ring with a slice FIFO on random operations.
func TestRingModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 50; round++ {
		size := 1 << rng.IntN(5)
		r := newRing(size, 32)
		var model [][]byte
		for op := 0; op < 2000; op++ {
			if rng.IntN(2) == 0 {
				b := make([]byte, rng.IntN(100))
				for i := range b {
					b[i] = byte(rng.Uint32())
				}
				g := pkt.GSO{Size: uint16(len(b))}
				ok := r.push(b, &g)
				if ok != (len(model) < size) {
					t.Fatalf("push ok=%v with %d/%d", ok, len(model), size)
				}
				if ok {
					model = append(model, b)
				}
			} else {
				s := r.peek()
				if (s == nil) != (len(model) == 0) {
					t.Fatalf("peek nil=%v with %d queued", s == nil, len(model))
				}
				if s != nil {
					if !bytes.Equal(s.buf, model[0]) || s.gso.Size != uint16(len(model[0])) {
						t.Fatal("wrong frame")
					}
					r.pop()
					model = model[1:]
				}
			}
			if r.len() != len(model) {
				t.Fatalf("len %d model %d", r.len(), len(model))
			}
		}
	}
}

func TestNoAllocs(t *testing.T) {
	a := New("a", [6]byte{}, 1500, 1)
	b := New("b", [6]byte{}, 1500, 1)
	a.SetOffloads(port.Offloads{TxGSO: true, RxGSO: true})
	b.SetOffloads(port.Offloads{TxGSO: true, RxGSO: true})
	a.SetRingSize(64)
	Pair(a, b)
	txPool, rxPool := pkt.NewPool("tx", 64), pkt.NewPool("rx", 64)
	batch := make([]*pkt.Packet, 32)
	for i := range batch {
		batch[i] = txPool.Get()
		n := 1514
		if i%4 == 0 {
			n = 60000
			batch[i].GSO = pkt.GSO{Type: pkt.GSOTCPv4, Size: 1448, NeedsCsum: true}
		}
		batch[i].SetBytes(frame(n, uint32(i)))
		if n > 1514 {
			binary.BigEndian.PutUint16(batch[i].Bytes()[12:], 0x0800)
		}
	}
	got := make([]*pkt.Packet, 32)
	tx, rx := a.TxQueue(0), b.RxQueues()[0]
	run := func() {
		if tx.Transmit(batch) != len(batch) {
			t.Fatal("tx")
		}
		n := rx.Receive(rxPool, got, time.Second)
		if n != len(batch) {
			t.Fatalf("rx %d", n)
		}
		rxPool.PutBatch(got[:n])
	}
	// Warm up every slot with a super-frame (the one-time growth).
	for i := 0; i < 4; i++ {
		run()
	}
	if allocs := testing.AllocsPerRun(100, run); allocs != 0 {
		t.Fatalf("%v allocations per Transmit+Receive", allocs)
	}
}

func BenchmarkPair(b *testing.B) {
	a, c := New("a", [6]byte{}, 1500, 1), New("c", [6]byte{}, 1500, 1)
	Pair(a, c)
	txPool, rxPool := pkt.NewPool("tx", 64), pkt.NewPool("rx", 64)
	batch := make([]*pkt.Packet, 32)
	for i := range batch {
		batch[i] = txPool.Get()
		batch[i].SetBytes(frame(64, uint32(i)))
	}
	got := make([]*pkt.Packet, 32)
	tx, rx := a.TxQueue(0), c.RxQueues()[0]
	b.ResetTimer()
	for i := 0; i < b.N; i += len(batch) {
		tx.Transmit(batch)
		n := rx.Receive(rxPool, got, 0)
		rxPool.PutBatch(got[:n])
	}
}
