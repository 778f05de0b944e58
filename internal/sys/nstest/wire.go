package nstest

import (
	"sync"
	"sync/atomic"
	"time"

	"flowpath/internal/pkt"
	"flowpath/internal/port"
)

// Wire forwards every frame between port queues unchanged, one goroutine
// per direction (a cable through userspace), and records what crossed it.
type Wire struct {
	Frames, GSO, BigGSO, MaxLen atomic.Int64
	stop                        atomic.Bool
	wg                          sync.WaitGroup
}

// Run starts forwarding from → to. A GSO frame longer than mtu + 14 counts
// in BigGSO.
func (w *Wire) Run(from port.RxQueue, to port.TxQueue, mtu int) {
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		pool := pkt.NewPool("wire", 256)
		got := make([]*pkt.Packet, 64)
		for !w.stop.Load() {
			n := from.Receive(pool, got, 20*time.Millisecond)
			for _, p := range got[:n] {
				w.Frames.Add(1)
				if p.GSO.IsGSO() {
					w.GSO.Add(1)
					if p.Len() > mtu+14 {
						w.BigGSO.Add(1)
					}
				}
				if int64(p.Len()) > w.MaxLen.Load() {
					w.MaxLen.Store(int64(p.Len()))
				}
			}
			to.Transmit(got[:n])
			pool.PutBatch(got[:n])
		}
	}()
}

// Close stops every direction and waits for them.
func (w *Wire) Close() { w.stop.Store(true); w.wg.Wait() }
