package dataplane

import (
	"encoding/binary"
	"net/netip"
)

// addrSet4 is the set of the devices' IPv4 addresses, for the check the
// kernel's fib_validate_source makes of every packet it forwards or
// delivers: a source that is one of this host's interface addresses is a
// martian (inet_lookup_ifaddr_rcu). Open addressing with linear probing,
// at most half full; built by Publish, read-only after.
type addrSet4 struct {
	keys []uint32 // 0 is empty: 0.0.0.0 is never an interface address
	mask uint32
	// filter has a bit set for every key's hash (its low bits): most
	// sources are not ours and most are turned away by one bit test,
	// which a branch predictor learns, instead of a probe whose outcome
	// depends on the address.
	filter [filterWords]uint64
}

const filterWords = 16 // 1024 bits

func newAddrSet4(addrs []netip.Addr) addrSet4 {
	n := 8
	for n < 2*len(addrs) {
		n *= 2
	}
	s := addrSet4{keys: make([]uint32, n), mask: uint32(n - 1)}
	for _, a := range addrs {
		k := key4(a)
		if k == 0 {
			continue
		}
		i := hash4(k) & s.mask
		for s.keys[i] != 0 && s.keys[i] != k {
			i = (i + 1) & s.mask
		}
		s.keys[i] = k
		h := hash4(k) % (filterWords * 64)
		s.filter[h/64] |= 1 << (h % 64)
	}
	return s
}

func key4(a netip.Addr) uint32 {
	b := a.As4()
	return binary.BigEndian.Uint32(b[:])
}

// hash4 is Fibonacci hashing: the high bits of the product are the
// well-mixed ones.
func hash4(k uint32) uint32 { return (k * 0x9e3779b1) >> 16 }

// has32 reports whether the IPv4 address k (a big-endian word) is in
// the set.
func (s *addrSet4) has32(k uint32) bool {
	h := hash4(k)
	if s.filter[h/64%filterWords]&(1<<(h%64)) == 0 || k == 0 { // 0 marks an empty slot
		return false
	}
	for i := h & s.mask; ; i = (i + 1) & s.mask {
		switch s.keys[i] {
		case k:
			return true
		case 0:
			return false
		}
	}
}

// buildLocal4 gathers the IPv4 addresses of every device.
func (s *Snapshot) buildLocal4() {
	var addrs []netip.Addr
	for _, d := range s.Devices {
		if d == nil {
			continue
		}
		for _, p := range d.Addr4 {
			addrs = append(addrs, p.Addr())
		}
	}
	s.local4 = newAddrSet4(addrs)
}
