package afpacket

import (
	"testing"
	"time"

	"flowpath/internal/sys/nstest"
)

// TestTCPThroughPorts runs a TCP stream h1 → h2 across two veths joined by
// two afpacket ports and a userspace wire:
//
//	h1 [eth0 10.9.0.1] ── [ra] r [rb] ── [eth0 10.9.0.2] h2
//	                      port A ⇄ wire ⇄ port B
//
// The sending kernel uses TSO on its veth, so port A must see GSO
// super-frames larger than the MTU, and transmitting them on port B with
// their virtio-net header must deliver the exact bytes to h2.
func TestTCPThroughPorts(t *testing.T) { forModes(t, testTCPThroughPorts) }

func testTCPThroughPorts(t *testing.T, mode rxMode) {
	h1, r, h2 := nstest.New(t, "porth1"), nstest.New(t, "portr"), nstest.New(t, "porth2")
	nstest.Veth(t, h1, "eth0", r, "ra")
	nstest.Veth(t, r, "rb", h2, "eth0")
	h1.IP(t, "addr", "add", "10.9.0.1/24", "dev", "eth0")
	h2.IP(t, "addr", "add", "10.9.0.2/24", "dev", "eth0")
	a := open(t, r, "ra", mode.cfg(Config{}))
	b := open(t, r, "rb", mode.cfg(Config{}))
	var w nstest.Wire
	w.Run(a.RxQueues()[0], b.TxQueue(0), a.MTU())
	w.Run(b.RxQueues()[0], a.TxQueue(0), b.MTU())
	defer w.Close()

	const size = 256 << 20
	d := nstest.Transfer(t, h1, h2, "10.9.0.2:5201", size, 30*time.Second)
	w.Close()
	t.Logf("%d MiB in %v: %.2f Gbit/s; %d frames, %d GSO (%d > MTU), largest %d B",
		size>>20, d.Round(time.Millisecond), float64(size)*8/d.Seconds()/1e9,
		w.Frames.Load(), w.GSO.Load(), w.BigGSO.Load(), w.MaxLen.Load())
	if w.BigGSO.Load() == 0 || w.MaxLen.Load() <= int64(a.MTU()+14) {
		t.Fatal("no GSO super-frame crossed the port")
	}
	sa, sb := a.Stats(), b.Stats()
	t.Logf("A %+v", sa)
	t.Logf("B %+v", sb)
	if sa.TxDropped+sb.TxDropped != 0 {
		t.Errorf("transmit drops: %d %d", sa.TxDropped, sb.TxDropped)
	}
}
