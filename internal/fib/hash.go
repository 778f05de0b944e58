package fib

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
)

// FlowHash is the multipath hash of a flow: over source and destination
// addresses (l4 false: the kernel's fib_multipath_hash_policy 0), plus the
// protocol and ports (l4 true: policy 1). The kernel keys its hash with a
// per-boot secret; this one is fixed, so a flow takes the same path across
// restarts. Lookup uses hash>>1, like the kernel's 31-bit hash threshold.
// No allocation.
func FlowHash(fl *Flow, l4 bool) uint32 {
	var h uint64
	if fl.Dst.Is4() && (fl.Src.Is4() || !fl.Src.IsValid()) {
		// The common case in one 64-bit word: src<<32 | dst.
		h = mix(uint64(v4bits(fl.Src))<<32 | uint64(v4bits(fl.Dst)) ^ 0x243f6a8885a308d3)
	} else {
		// Two independent chains (source, destination) so the CPU can
		// overlap them; the rotation keeps swapped flows apart.
		s, d := fl.Src.As16(), fl.Dst.As16()
		hs := mix(mix(binary.LittleEndian.Uint64(s[:8])^0x13198a2e03707344) ^ binary.LittleEndian.Uint64(s[8:]))
		hd := mix(mix(binary.LittleEndian.Uint64(d[:8])^0xa4093822299f31d0) ^ binary.LittleEndian.Uint64(d[8:]))
		h = mix(hs ^ bits.RotateLeft64(hd, 29))
	}
	if l4 {
		h = mix(h ^ (uint64(fl.Proto)<<32 | uint64(fl.SrcPort)<<16 | uint64(fl.DstPort)))
	}
	return uint32(h ^ h>>32)
}

// v4bits returns an IPv4 address as a number, 0 for an invalid one.
func v4bits(a netip.Addr) uint32 {
	if !a.Is4() {
		return 0
	}
	b := a.As4()
	return binary.BigEndian.Uint32(b[:])
}

// mix is the 64-bit finalizer of MurmurHash3: every input bit affects
// every output bit.
func mix(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}
