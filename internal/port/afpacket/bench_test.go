package afpacket

import (
	"fmt"
	"testing"
	"time"

	"flowpath/internal/pkt"
	"flowpath/internal/sys/nstest"
)

// BenchmarkTCPWire measures one TCP stream through two afpacket ports and
// a userspace wire (the topology of TestTCPThroughPorts) for several ring
// block sizes; one op is 1 MiB delivered and checked. The Go endpoints run
// in this process, so the figure is a lower bound for the ports.
func BenchmarkTCPWire(b *testing.B) {
	for _, bs := range []int{256 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("block=%dK", bs>>10), func(b *testing.B) {
			h1, r, h2 := nstest.New(b, "portbh1"), nstest.New(b, "portbr"), nstest.New(b, "portbh2")
			nstest.Veth(b, h1, "eth0", r, "ra")
			nstest.Veth(b, r, "rb", h2, "eth0")
			h1.IP(b, "addr", "add", "10.9.0.1/24", "dev", "eth0")
			h2.IP(b, "addr", "add", "10.9.0.2/24", "dev", "eth0")
			cfg := Config{BlockSize: bs, NumBlocks: (32 << 20) / bs}
			var a, c *Port
			if err := r.Do(func() (err error) {
				if a, err = Open("ra", cfg); err != nil {
					return err
				}
				c, err = Open("rb", cfg)
				return err
			}); err != nil {
				b.Fatal(err)
			}
			defer a.Close()
			defer c.Close()
			var w nstest.Wire
			w.Run(a.RxQueues()[0], c.TxQueue(0), a.MTU())
			w.Run(c.RxQueues()[0], a.TxQueue(0), c.MTU())
			defer w.Close()
			b.SetBytes(1 << 20)
			b.ResetTimer()
			d := nstest.Transfer(b, h1, h2, "10.9.0.2:5201", b.N<<20, time.Minute)
			b.ReportMetric(float64(b.N<<20)*8/d.Seconds()/1e9, "Gbit/s")
		})
	}
}

// BenchmarkRxTx measures the per-frame cost of Transmit on one port and
// Receive on the other end of a veth, with 64-byte frames in batches of
// 64 (a pps figure for small packets).
func BenchmarkRxTx(b *testing.B) {
	ns := nstest.New(b, "portbpps")
	nstest.Veth(b, ns, "pa", ns, "pb")
	var a, c *Port
	if err := ns.Do(func() (err error) {
		if a, err = Open("pa", Config{}); err != nil {
			return err
		}
		c, err = Open("pb", Config{})
		return err
	}); err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	defer c.Close()
	txPool, rxPool := pkt.NewPool("tx", 64), pkt.NewPool("rx", 256)
	batch := make([]*pkt.Packet, 64)
	for i := range batch {
		batch[i] = txPool.Get()
		batch[i].SetBytes(testFrame(c.HardwareAddr(), a.HardwareAddr(), 64, uint32(i)))
	}
	got := make([]*pkt.Packet, 256)
	tx, rx := a.TxQueue(0), c.RxQueues()[0]
	b.ResetTimer()
	received := 0
	for sent := 0; sent < b.N; sent += len(batch) {
		tx.Transmit(batch)
		for received < sent-1024 { // keep at most ~1k frames in flight
			n := rx.Receive(rxPool, got, 10*time.Millisecond)
			if n == 0 {
				break
			}
			received += n
			rxPool.PutBatch(got[:n])
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(c.Stats().RxDropped), "rxdrops")
}
