package fdb

import (
	"testing"
)

// The packet path (Lookup, Learn) never allocates, in any branch.
func TestAllocsPacketPath(t *testing.T) {
	cfg := classicCfg()
	cfg.RingSize = 8
	tb, c := newTestTable(cfg, 2)
	tb.Add(entry(zeroMAC, Permanent|Reachable, dst("192.0.2.2")), OpAdd)
	tb.Add(entry(zeroMAC, Permanent, dst("192.0.2.3")), OpAppend)
	tb.Add(entry(macN, Permanent, dst("192.0.2.3")), OpAdd)
	known := make([][6]byte, 500)
	for i := range known {
		known[i] = [6]byte{2, 9, 0, 0, byte(i >> 8), byte(i)}
		tb.Add(entry(known[i], Reachable, dst("192.0.2.4")), OpAdd)
	}
	fresh := make([][6]byte, 64)
	for i := range fresh {
		fresh[i] = [6]byte{2, 8, 0, 0, 0, byte(i)}
	}
	i := 0
	check := func(name string, fn func()) {
		t.Helper()
		if n := testing.AllocsPerRun(2000, fn); n != 0 {
			t.Errorf("%s: %v allocs/op", name, n)
		}
	}
	src := dst("192.0.2.4")
	check("Lookup hit", func() { i++; tb.Lookup(known[i%len(known)], 0) })
	check("Lookup flood", func() { tb.Lookup(zeroMAC, 0) })
	check("Lookup miss", func() { i++; tb.Lookup(fresh[i%len(fresh)], 0) })
	check("Lookup used refresh", func() { c.advance(2e9); tb.Poll(); i++; tb.Lookup(known[i%len(known)], 0) })
	check("Learn known", func() { i++; tb.Learn(0, known[i%len(known)], 0, src) })
	check("Learn new (ring fills, then drops)", func() { i++; tb.Learn(1, fresh[i%len(fresh)], 0, src) })
	check("Learn migrate", func() { i++; tb.Learn(0, known[i%len(known)], 0, dst("192.0.2.9")) })
	check("Learn static drop", func() { tb.Learn(0, macN, 0, src) })
	check("Learn invalid source", func() { tb.Learn(0, mcastMAC, 0, src) })
	zoned := Remote{IP: ip("fe80::1%eth0"), Ifindex: 3}
	check("Learn zoned link-local", func() { i++; tb.Learn(0, fresh[i%len(fresh)], 0, zoned) })
	tb.SetLearning(false)
	check("Learn off", func() { tb.Learn(0, macM, 0, src) })
}
