package fib

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"testing"
)

// TestCacheKeepsUntouchedTables: a commit that changes only table 100
// leaves main's version, so main's entries keep hitting; the changed
// table's entries miss once and then answer for the new version.
func TestCacheKeepsUntouchedTables(t *testing.T) {
	tx := Empty().Begin()
	mustAdd(t, tx, uni("10.0.0.0/8", 0, 1, "10.0.0.1"), FlagsAdd)
	r := uni("10.0.0.0/8", 0, 2, "10.0.0.2")
	r.Table = 100
	mustAdd(t, tx, r, FlagsAdd)
	f1 := tx.Commit()
	c := new(Cache)
	var res Result
	dst := addr("10.1.2.3")
	for _, f := range []*FIB{f1, f1} {
		if !f.LookupTableCached(c, TableMain, dst, 0, &res) || !f.LookupTableCached(c, 100, dst, 0, &res) {
			t.Fatal("no route")
		}
	}
	if c.hits != 2 || c.misses != 2 {
		t.Fatalf("hits %d misses %d, want 2 and 2", c.hits, c.misses)
	}
	tx = f1.Begin()
	r2 := uni("10.1.0.0/16", 0, 3, "10.0.0.3")
	r2.Table = 100
	mustAdd(t, tx, r2, FlagsAdd)
	f2 := tx.Commit()
	if !f2.LookupTableCached(c, TableMain, dst, 0, &res) || res.Nexthop.Dev != 1 {
		t.Fatalf("main: %+v", res)
	}
	if c.hits != 3 || c.misses != 2 {
		t.Fatalf("main after an unrelated commit: hits %d misses %d, want 3 and 2", c.hits, c.misses)
	}
	if !f2.LookupTableCached(c, 100, dst, 0, &res) || res.Nexthop.Dev != 3 {
		t.Fatalf("table 100 after its change: %+v", res)
	}
	if c.misses != 3 {
		t.Fatalf("table 100 after its change: misses %d, want 3", c.misses)
	}
	// The old snapshot still answers as it did, through the same cache.
	if !f1.LookupTableCached(c, 100, dst, 0, &res) || res.Nexthop.Dev != 2 {
		t.Fatalf("table 100 of the old snapshot: %+v", res)
	}
}

// TestCacheStepsAside: lookups of ever new addresses make the cache step
// aside (answers stay right); a working set that fits brings it back.
func TestCacheStepsAside(t *testing.T) {
	tx := Empty().Begin()
	mustAdd(t, tx, uni("10.0.0.0/8", 0, 1, "10.0.0.1"), FlagsAdd)
	mustAdd(t, tx, uni("2001:db8::/32", 0, 2, "2001:db8::1"), FlagsAdd)
	f := tx.Commit()
	c := new(Cache)
	r := rand.New(rand.NewPCG(3, 4))
	check := func(fl *Flow) {
		t.Helper()
		var want, got Result
		okWant := f.Lookup(fl, 0, &want)
		okGot := f.LookupCached(c, fl, 0, &got)
		if okWant != okGot || want != got {
			t.Fatalf("%s: cached %v %+v, uncached %v %+v", fl.Dst, okGot, got, okWant, want)
		}
	}
	for i := 0; i < 5000; i++ {
		var fl Flow
		if i%2 == 0 {
			var b [4]byte
			binary.BigEndian.PutUint32(b[:], 10<<24|r.Uint32()>>8)
			fl.Dst = netip.AddrFrom4(b)
		} else {
			var b [16]byte
			binary.BigEndian.PutUint64(b[:], 0x20010db8<<32|r.Uint64()>>32)
			binary.BigEndian.PutUint64(b[8:], r.Uint64())
			fl.Dst = netip.AddrFrom16(b)
		}
		check(&fl)
	}
	if !c.Bypassed() {
		t.Fatalf("not bypassed after 5000 new addresses (hits %d misses %d)", c.hits, c.misses)
	}
	few := []Flow{{Dst: addr("10.9.9.9")}, {Dst: addr("2001:db8::9")}, {Dst: addr("11.1.1.1")}}
	for i := 0; i < cacheBypassLookups+100; i++ {
		check(&few[i%len(few)])
	}
	if c.Bypassed() || c.hits == 0 {
		t.Fatalf("still bypassed (hits %d misses %d)", c.hits, c.misses)
	}
}
