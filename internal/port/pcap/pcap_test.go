package pcap

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"flowpath/internal/errs"
	"flowpath/internal/pkt"
	"flowpath/internal/port"
)

var _ port.Port = (*Port)(nil)

func frame(n int, seq uint32) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*3 + int(seq))
	}
	binary.BigEndian.PutUint16(b[12:], 0x88b5)
	binary.BigEndian.PutUint32(b[14:], seq)
	return b
}

// record is one capture record for building test files.
type record struct {
	incl, orig uint32
	data       []byte
}

// buildFile writes a capture in the given byte order and resolution.
func buildFile(order binary.AppendByteOrder, nano bool, linkType uint32, recs []record) []byte {
	magic := uint32(magicMicro)
	if nano {
		magic = magicNano
	}
	b := order.AppendUint32(nil, magic)
	b = order.AppendUint16(b, 2)
	b = order.AppendUint16(b, 4)
	b = order.AppendUint32(b, 0)
	b = order.AppendUint32(b, 0)
	b = order.AppendUint32(b, 65535)
	b = order.AppendUint32(b, linkType)
	for i, r := range recs {
		b = order.AppendUint32(b, uint32(1700000000+i))
		b = order.AppendUint32(b, uint32(i))
		b = order.AppendUint32(b, r.incl)
		b = order.AppendUint32(b, r.orig)
		b = append(b, r.data...)
	}
	return b
}

func rec(f []byte) record { return record{uint32(len(f)), uint32(len(f)), f} }

// readAll receives until Done, returning copies of the frames.
func readAll(t testing.TB, p *Port, pool *pkt.Pool, batch int) [][]byte {
	t.Helper()
	var out [][]byte
	got := make([]*pkt.Packet, batch)
	for i := 0; i < 1e6; i++ {
		n := p.RxQueues()[0].Receive(pool, got, 0)
		for _, pk := range got[:n] {
			if pk.Headroom() != pkt.DefaultHeadroom || pk.GSO != (pkt.GSO{}) {
				t.Fatal("packet layout")
			}
			out = append(out, append([]byte(nil), pk.Bytes()...))
			pk.Free()
		}
		if n == 0 && p.Done() {
			return out
		}
	}
	t.Fatal("reader never finished")
	return nil
}

func TestReaderFormats(t *testing.T) {
	frames := [][]byte{frame(60, 1), frame(1514, 2), frame(9000, 3)}
	var recs []record
	for _, f := range frames {
		recs = append(recs, rec(f))
	}
	for _, order := range []binary.AppendByteOrder{binary.LittleEndian, binary.BigEndian} {
		for _, nano := range []bool{false, true} {
			p, err := New(bytes.NewReader(buildFile(order, nano, 1, recs)), nil)
			if err != nil {
				t.Fatalf("%v nano=%v: %v", order, nano, err)
			}
			if p.Nanosecond() != nano {
				t.Fatal("resolution")
			}
			got := readAll(t, p, pkt.NewPool("t", 8), 2)
			if len(got) != len(frames) {
				t.Fatalf("%v nano=%v: %d frames", order, nano, len(got))
			}
			for i := range frames {
				if !bytes.Equal(got[i], frames[i]) {
					t.Fatalf("frame %d differs", i)
				}
			}
			if s := p.Stats(); s.RxPackets != 3 || s.RxBytes != 60+1514+9000 || s.RxDropped != 0 {
				t.Fatalf("stats %+v", s)
			}
		}
	}
}

func TestReaderBadHeaders(t *testing.T) {
	cases := []struct {
		data []byte
		want error
	}{
		{nil, errs.ErrInvalid},
		{[]byte{0xd4, 0xc3, 0xb2}, errs.ErrInvalid},
		{append([]byte{1, 2, 3, 4}, make([]byte, 20)...), errs.ErrInvalid},
		{append([]byte{0x0a, 0x0d, 0x0d, 0x0a}, make([]byte, 40)...), errs.ErrNotSupported},
		{buildFile(binary.LittleEndian, false, 113, nil), errs.ErrNotSupported}, // Linux cooked
	}
	for i, c := range cases {
		if _, err := New(bytes.NewReader(c.data), nil); !errors.Is(err, c.want) {
			t.Errorf("case %d: %v, want %v", i, err, c.want)
		}
	}
}

// TestReaderBadRecords: cut, oversize and runt records are skipped and
// counted, the frames around them still arrive, and a record cut off by
// the end of the file is a counted drop.
func TestReaderBadRecords(t *testing.T) {
	good := []record{rec(frame(100, 1)), rec(frame(100, 2)), rec(frame(100, 3))}
	big := make([]byte, pkt.MaxFrame+1)
	recs := []record{
		good[0],
		{60, 1514, frame(60, 9)}, // snapped capture
		{uint32(len(big)), uint32(len(big)), big}, // too long for a packet
		{10, 10, make([]byte, 10)},                // runt
		good[1],
		good[2],
		{100, 100, frame(100, 4)[:50]}, // cut off by end of file
	}
	p, err := New(bytes.NewReader(buildFile(binary.LittleEndian, false, 1, recs)), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := readAll(t, p, pkt.NewPool("t", 4), 4)
	if len(got) != 3 {
		t.Fatalf("%d frames", len(got))
	}
	for i := range got {
		if !bytes.Equal(got[i], good[i].data) {
			t.Fatalf("frame %d", i)
		}
	}
	if s := p.Stats(); s.RxDropped != 4 || s.RxPackets != 3 {
		t.Fatalf("stats %+v", s)
	}
	// A header cut off by the end of the file.
	data := buildFile(binary.LittleEndian, false, 1, good)
	p, _ = New(bytes.NewReader(data[:len(data)-100-8]), nil)
	if got := readAll(t, p, pkt.NewPool("t", 4), 4); len(got) != 2 || p.Stats().RxDropped != 1 {
		t.Fatalf("%d frames, stats %+v", len(got), p.Stats())
	}
}

// TestPoolEmpty: an exhausted pool leaves records in the file.
func TestPoolEmpty(t *testing.T) {
	recs := []record{rec(frame(100, 1)), rec(frame(100, 2)), rec(frame(100, 3))}
	p, _ := New(bytes.NewReader(buildFile(binary.LittleEndian, false, 1, recs)), nil)
	pool := pkt.NewPool("t", 2)
	got := make([]*pkt.Packet, 8)
	if n := p.RxQueues()[0].Receive(pool, got, 0); n != 2 {
		t.Fatalf("%d with a pool of 2", n)
	}
	if n := p.RxQueues()[0].Receive(pool, got[2:], 0); n != 0 || p.Done() {
		t.Fatal("empty pool")
	}
	pool.PutBatch(got[:2])
	if n := p.RxQueues()[0].Receive(pool, got, 0); n != 1 || binary.BigEndian.Uint32(got[0].Bytes()[14:]) != 3 {
		t.Fatalf("third frame: %d", n)
	}
	got[0].Free()
	if p.Stats().RxDropped != 0 {
		t.Fatal("drops")
	}
}

func TestEOFWaitsAndClose(t *testing.T) {
	p, _ := New(bytes.NewReader(buildFile(binary.LittleEndian, false, 1, nil)), nil)
	pool := pkt.NewPool("t", 2)
	got := make([]*pkt.Packet, 2)
	t0 := time.Now()
	if p.RxQueues()[0].Receive(pool, got, 30*time.Millisecond) != 0 || !p.Done() {
		t.Fatal("empty file")
	}
	if d := time.Since(t0); d < 30*time.Millisecond {
		t.Fatalf("returned after %v: a worker would spin", d)
	}
	done := make(chan struct{})
	go func() { p.RxQueues()[0].Receive(pool, got, time.Hour); close(done) }()
	time.Sleep(10 * time.Millisecond)
	p.Close()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Fatal("Close did not end Receive")
	}
}

// TestWriteReadBack writes from several transmit queues at once through
// small rings (back-pressure), then reads the file with this package and
// with gopacket's pcapgo.
func TestWriteReadBack(t *testing.T) {
	for _, nano := range []bool{false, true} {
		path := filepath.Join(t.TempDir(), "out.pcap")
		opts := []Option{WithNumTx(3), WithRingSize(4)}
		if nano {
			opts = append(opts, WithNanoseconds())
		}
		p, err := Open("", path, opts...)
		if err != nil {
			t.Fatal(err)
		}
		if p.Kind() != "pcap" || p.NumTx() != 3 || !p.Done() {
			t.Fatal("identity")
		}
		const per = 300
		var wg sync.WaitGroup
		for q := 0; q < 3; q++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				pool := pkt.NewPool("tx", 4)
				for i := 0; i < per; i++ {
					pk := pool.Get()
					pk.SetBytes(frame(60+(i*97)%3000, uint32(q<<16|i)))
					if p.TxQueue(q).Transmit([]*pkt.Packet{pk}) != 1 {
						t.Error("transmit")
					}
					pk.Free()
				}
			}()
		}
		wg.Wait()
		before := time.Now()
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
		if s := p.Stats(); s.TxPackets != 3*per || s.TxDropped != 0 {
			t.Fatalf("stats %+v", s)
		}
		// Read back with our reader: every frame once, in order per queue.
		r, err := Open(path, "")
		if err != nil {
			t.Fatal(err)
		}
		got := readAll(t, r, pkt.NewPool("rx", 8), 8)
		r.Close()
		if len(got) != 3*per || r.Nanosecond() != nano {
			t.Fatalf("%d frames read back", len(got))
		}
		next := make([]int, 3)
		for _, f := range got {
			s := binary.BigEndian.Uint32(f[14:])
			q, i := int(s>>16), int(s&0xffff)
			if i != next[q] || !bytes.Equal(f, frame(60+(i*97)%3000, s)) {
				t.Fatalf("queue %d frame %d (want %d)", q, i, next[q])
			}
			next[q]++
		}
		// And with the tools people will use on it.
		checkWithTshark(t, path, got, before)
		checkWithGopacket(t, path, got, before)
	}
}

func TestTransmitRules(t *testing.T) {
	var buf bytes.Buffer
	p, _ := New(nil, &buf)
	pool := pkt.NewPool("t", 4)
	pk := []*pkt.Packet{pool.Get(), pool.Get(), pool.Get()}
	pk[0].SetBytes(frame(60000, 1))
	pk[0].GSO = pkt.GSO{Type: pkt.GSOTCPv4, Size: 1448, NeedsCsum: true}
	pk[1].SetBytes(make([]byte, 5))
	pk[2].SetBytes(frame(64, 2))
	if n := p.TxQueue(0).Transmit(pk); n != 1 {
		t.Fatalf("sent %d", n)
	}
	p.Close()
	if s := p.Stats(); s.TxDropped != 2 || s.TxPackets != 1 {
		t.Fatalf("stats %+v", s)
	}
	if p.TxQueue(0).Transmit(pk[2:]) != 0 {
		t.Fatal("transmit after close")
	}
	if buf.Len() != fileHdrLen+recHdrLen+64 {
		t.Fatalf("file is %d bytes", buf.Len())
	}
	// With TxGSO the super-frame is written as is.
	buf.Reset()
	p, _ = New(nil, &buf, WithOffloads(port.Offloads{TxGSO: true}))
	if p.TxQueue(0).Transmit(pk[:1]) != 1 {
		t.Fatal("TxGSO")
	}
	p.Close()
	if buf.Len() != fileHdrLen+recHdrLen+60000 {
		t.Fatalf("file is %d bytes", buf.Len())
	}
	// Sink: counted as sent, nothing written anywhere.
	s, _ := New(nil, nil, WithNumTx(2))
	if s.TxQueue(1).Transmit(pk[2:]) != 1 || s.Stats().TxPackets != 1 {
		t.Fatal("sink")
	}
	s.Close()
	pool.PutBatch(pk)
}

type failWriter struct{ n int }

func (w *failWriter) Write(b []byte) (int, error) {
	if w.n += len(b); w.n > fileHdrLen {
		return 0, errors.New("disk full")
	}
	return len(b), nil
}

func TestWriteError(t *testing.T) {
	p, err := New(nil, &failWriter{}, WithRingSize(2))
	if err != nil {
		t.Fatal(err)
	}
	pool := pkt.NewPool("t", 4)
	pk := pool.Get()
	pk.SetBytes(frame(64, 0))
	for i := 0; i < 10; i++ {
		p.TxQueue(0).Transmit([]*pkt.Packet{pk})
	}
	time.Sleep(20 * time.Millisecond) // the idle writer flushes and fails
	for i := 0; i < 10; i++ {
		p.TxQueue(0).Transmit([]*pkt.Packet{pk})
	}
	if err := p.Close(); err == nil {
		t.Fatal("no error from Close")
	}
	if s := p.Stats(); s.TxDropped == 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestNoAllocs(t *testing.T) {
	// Receive from an in-memory file of 32-frame batches.
	var recs []record
	for i := 0; i < 32*120; i++ {
		recs = append(recs, rec(frame(1000, uint32(i))))
	}
	r, _ := New(bytes.NewReader(buildFile(binary.LittleEndian, false, 1, recs)), nil)
	pool := pkt.NewPool("t", 64)
	got := make([]*pkt.Packet, 32)
	rx := r.RxQueues()[0]
	if allocs := testing.AllocsPerRun(100, func() {
		n := rx.Receive(pool, got, 0)
		if n != 32 {
			t.Fatalf("received %d", n)
		}
		pool.PutBatch(got[:n])
	}); allocs != 0 {
		t.Fatalf("Receive: %v allocations", allocs)
	}
	// Transmit into a discarding writer.
	w, _ := New(nil, io.Discard, WithRingSize(64))
	defer w.Close()
	batch := make([]*pkt.Packet, 16)
	for i := range batch {
		batch[i] = pool.Get()
		batch[i].SetBytes(frame(1514, uint32(i)))
	}
	tx := w.TxQueue(0)
	if allocs := testing.AllocsPerRun(100, func() {
		if tx.Transmit(batch) != len(batch) {
			t.Fatal("transmit")
		}
	}); allocs != 0 {
		t.Fatalf("Transmit: %v allocations", allocs)
	}
}

// checkWithTshark reads the file with tshark, if installed, and compares
// frame count, lengths, Ethernet type and timestamps.
func checkWithTshark(t *testing.T, path string, frames [][]byte, before time.Time) {
	t.Helper()
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Log("tshark not installed: skipping its check")
		return
	}
	out, err := exec.Command("tshark", "-n", "-r", path, "-T", "fields",
		"-e", "frame.len", "-e", "eth.type", "-e", "frame.time_epoch").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(frames) {
		t.Fatalf("tshark read %d frames, want %d:\n%s\n%s", len(lines), len(frames), lines[0], lines[len(lines)-1])
	}
	for i, l := range lines {
		f := strings.Split(l, "\t")
		ts, _ := strconv.ParseFloat(f[len(f)-1], 64)
		if len(f) != 3 || f[0] != strconv.Itoa(len(frames[i])) || f[1] != "0x88b5" ||
			ts > float64(before.Unix()+1) || ts < float64(before.Unix()-60) {
			t.Fatalf("tshark frame %d: %q", i, l)
		}
	}
}
