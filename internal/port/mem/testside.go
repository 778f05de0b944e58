package mem

import (
	"time"

	"flowpath/internal/pkt"
)

// The test-side API below may allocate and is meant to be driven by one
// test goroutine at a time (each inject ring and each unpaired transmit
// ring has that goroutine as its single producer or consumer).

// Inject makes frame appear on receive queue 0 as if the medium had
// delivered it. It reports false if the frame is too long or the ring is
// full. The frame is copied.
func (p *Port) Inject(frame []byte) bool { return p.InjectQueue(0, frame, pkt.GSO{}) }

// InjectGSO is Inject with offload state. The frame is refused if the port
// does not have Offloads.RxGSO and g carries offload state.
func (p *Port) InjectGSO(frame []byte, g pkt.GSO) bool { return p.InjectQueue(0, frame, g) }

// InjectQueue injects on receive queue q.
func (p *Port) InjectQueue(q int, frame []byte, g pkt.GSO) bool {
	if q < 0 || q >= len(p.rx) || len(frame) > pkt.MaxFrame || p.closed.Load() {
		return false
	}
	if (g.IsGSO() || g.NeedsCsum) && !p.offloads.RxGSO {
		return false
	}
	return p.rx[q].inject.push(frame, &g)
}

// TakeSent removes and returns up to max frames the port transmitted
// (max <= 0: all queued), reading its transmit queues in index order. It
// returns nil for a paired port: its frames belong to the peer.
func (p *Port) TakeSent(max int) []Frame {
	if p.peer.Load() != nil {
		return nil
	}
	var out []Frame
	for _, q := range p.tx {
		for max <= 0 || len(out) < max {
			s := q.ring.peek()
			if s == nil {
				break
			}
			out = append(out, Frame{Data: append([]byte(nil), s.buf...), GSO: s.gso})
			q.ring.pop()
		}
	}
	return out
}

// WaitSent collects frames the port transmitted until it has n or the
// timeout passes, and returns what it collected.
func (p *Port) WaitSent(n int, timeout time.Duration) []Frame {
	deadline := time.Now().Add(timeout)
	var out []Frame
	for {
		out = append(out, p.TakeSent(n-len(out))...)
		if len(out) >= n || !time.Now().Before(deadline) || p.peer.Load() != nil {
			return out
		}
		time.Sleep(200 * time.Microsecond)
	}
}

// Pending is the number of frames waiting in the port's inject rings and
// in the rings of the peer's transmit queues it reads (its receive
// backlog).
func (p *Port) Pending() int {
	n := 0
	for _, q := range p.rx {
		n += q.inject.len()
	}
	if peer := p.peer.Load(); peer != nil {
		for _, q := range peer.tx {
			n += q.ring.len()
		}
	}
	return n
}
