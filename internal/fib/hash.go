package fib

import "encoding/binary"

// FlowHash is the multipath hash of a flow: over source and destination
// addresses (l4 false: the kernel's fib_multipath_hash_policy 0), plus the
// protocol and ports (l4 true: policy 1). The kernel keys its hash with a
// per-boot secret; this one is fixed, so a flow takes the same path across
// restarts. Lookup uses hash>>1, like the kernel's 31-bit hash threshold.
// No allocation.
func FlowHash(fl *Flow, l4 bool) uint32 {
	s, d := fl.Src.As16(), fl.Dst.As16()
	h := mix(binary.LittleEndian.Uint64(s[:8]) ^ 0x243f6a8885a308d3)
	h = mix(h ^ binary.LittleEndian.Uint64(s[8:]))
	h = mix(h ^ binary.LittleEndian.Uint64(d[:8]))
	h = mix(h ^ binary.LittleEndian.Uint64(d[8:]))
	if l4 {
		h = mix(h ^ (uint64(fl.Proto)<<32 | uint64(fl.SrcPort)<<16 | uint64(fl.DstPort)))
	}
	return uint32(h ^ h>>32)
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
