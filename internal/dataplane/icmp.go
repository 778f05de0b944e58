package dataplane

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
