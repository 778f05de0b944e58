package dataplane

import (
	"net/netip"

	"flowpath/internal/fib"
	"flowpath/internal/hdr"
	"flowpath/internal/pkt"
)

// errorStart does what every ICMP error has to do before it is built:
// take a token from the rate limiter, find the route back to the offending
// packet's source dst, choose the error's source address (the route's
// preferred source, else an address of the output device, else of the
// input device), and take a packet from the pool. q is nil when the error
// is not to be sent.
func (w *worker) errorStart(in *Device, dst netip.Addr, mark uint32) (out *Device, saddr, gw netip.Addr, q *pkt.Packet) {
	if !w.icmp.allow(w.now) {
		w.c.icmpRateLimited.Add(1)
		return nil, saddr, gw, nil
	}
	proto := uint8(hdr.IPProtoICMP)
	if dst.Is6() {
		proto = hdr.IPProtoICMPv6
	}
	s := w.snap
	fl := fib.Flow{Dst: dst, Mark: mark, Proto: proto}
	var res fib.Result
	if !s.FIB.LookupCached(w.routes, &fl, fib.FlowHash(&fl, false), &res) || res.Type != fib.RouteUnicast {
		return nil, saddr, gw, nil
	}
	if out = s.Device(res.Nexthop.Dev); out == nil {
		return nil, saddr, gw, nil
	}
	saddr = res.Route.PrefSrc
	if !saddr.IsValid() {
		saddr = out.PrimaryAddr(dst)
	}
	if !saddr.IsValid() {
		saddr = in.PrimaryAddr(dst)
	}
	if !saddr.IsValid() {
		return nil, saddr, gw, nil
	}
	if q = w.pool.Get(); q == nil {
		w.c.drops[DropPoolEmpty].Add(1)
		return nil, saddr, gw, nil
	}
	return out, saddr, nexthopOr(res.Nexthop.Gateway, dst), q
}

// tokenBucket rate-limits ICMP errors per worker (the kernel's
// icmp_msgs_per_sec / icmp_msgs_burst). Tokens are kept in units of
// 1e-9 message so integer arithmetic stays exact.
type tokenBucket struct {
	rate, burst int64 // messages per second, bucket depth
	tokens      int64 // in nano-messages
	last        int64 // ns
}

const nano = int64(1e9)

func (b *tokenBucket) init(rate, burst int) {
	b.rate, b.burst = int64(rate), int64(burst)
	b.tokens = b.burst * nano
}

// allow takes one token if there is one.
func (b *tokenBucket) allow(now int64) bool {
	if b.rate <= 0 {
		return false
	}
	elapsed := now - b.last
	b.last = now
	if elapsed > 0 {
		max := b.burst * nano
		if elapsed > max/b.rate+1 {
			b.tokens = max
		} else if b.tokens += elapsed * b.rate; b.tokens > max {
			b.tokens = max
		}
	}
	if b.tokens >= nano {
		b.tokens -= nano
		return true
	}
	return false
}
