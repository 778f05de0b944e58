package dataplane

import (
	"math/rand/v2"
	"net/netip"
	"testing"
)

// addrSet4 against a map: random sets of 0-300 addresses drawn from a
// small space (so lookups hit and miss), every address of the space asked.
func TestAddrSet4AgainstMap(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	addr := func(v uint32) netip.Addr {
		return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
	}
	for round := range 200 {
		n := r.IntN(301)
		ref := map[netip.Addr]bool{}
		var list []netip.Addr
		for range n {
			a := addr(0x0a000000 | r.Uint32N(1024)) // 10.0.0.0-10.0.3.255
			list = append(list, a)                  // duplicates included
			ref[a] = true
		}
		s := newAddrSet4(list)
		for v := uint32(0); v < 1024; v++ {
			a := addr(0x0a000000 | v)
			if s.has32(key4(a)) != ref[a] {
				t.Fatalf("round %d (%d addresses): has(%s) = %v", round, n, a, !ref[a])
			}
		}
		if s.has32(0) {
			t.Fatal("0.0.0.0 in the set")
		}
	}
	var empty addrSet4
	if empty.has32(0x0a000001) {
		t.Fatal("zero set has an address")
	}
}
