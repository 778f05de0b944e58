package neigh

import (
	"net/netip"
	"testing"
	"time"

	"flowpath/internal/pkt"
)

func fillTable(t testing.TB, tb *Table, n int) []netip.Addr {
	addrs := make([]netip.Addr, n)
	for i := range addrs {
		addrs[i] = addrN(i%2 == 1, i)
		if err := tb.Add(Entry{Dev: 1, Addr: addrs[i], MAC: macFor(addrs[i]), State: Reachable}, CmdAdd); err != nil {
			t.Fatal(err)
		}
	}
	return addrs
}

func TestAllocsPacketPath(t *testing.T) {
	h := newHarness(t, nil)
	tb := h.tbl
	addrs := fillTable(t, tb, 500)
	other := make([]netip.Addr, 64)
	for i := range other {
		other[i] = addrN(i%2 == 1, 1000+i)
	}
	i := 0
	check := func(name string, fn func()) {
		t.Helper()
		if n := testing.AllocsPerRun(2000, fn); n != 0 {
			t.Errorf("%s: %v allocs/op", name, n)
		}
	}
	check("Lookup hit", func() { i++; tb.Lookup(1, addrs[i%len(addrs)]) })
	check("Lookup miss", func() { i++; tb.Lookup(1, other[i%len(other)]) })
	check("Miss", func() { i++; tb.Miss(i%2, 1, other[i%len(other)]) })           // fills the ring, then drops
	check("UsedStale", func() { i++; tb.UsedStale(i%2, 1, addrs[i%len(addrs)]) }) // not stale: filtered
	check("Confirm", func() { i++; tb.Confirm(i%2, 1, addrs[i%len(addrs)], macA, Solicited) })
	h.at(0) // drain
	for _, a := range addrs[:8] {
		tb.Add(Entry{Dev: 1, Addr: a, MAC: macFor(a), State: Stale}, CmdReplace)
	}
	check("UsedStale stale", func() { i++; tb.UsedStale(i%2, 1, addrs[i%8]) })
	check("Miss zoned", func() { tb.Miss(0, 1, netip.MustParseAddr("fe80::1%eth0")) })
}

func TestAllocsPending(t *testing.T) {
	h := newHarness(t, nil)
	tb := h.tbl
	addrs := fillTable(t, tb, 16)
	unresolved := make([]netip.Addr, 8)
	for i := range unresolved {
		unresolved[i] = addrN(i%2 == 0, 500+i)
	}
	pool := pkt.NewPool("a", 256)
	q := NewPending(128, 6)
	var readyN, failedN int
	ready := func(p *pkt.Packet, mac [6]byte) { readyN++; p.Free() }
	failed := func(p *pkt.Packet) { failedN++; p.Free() }
	now := tb.Now()
	i := 0
	fn := func() {
		// 7 packets for one of 8 unresolved neighbours (one evicts), 4 for
		// resolved ones (handed to ready), a second passing so that the
		// unresolved ones time out, and an idle Resolve.
		u := unresolved[i%len(unresolved)]
		for j := 0; j < 7; j++ {
			if ev := q.Push(1, u, pool.Get()); ev != nil {
				ev.Free()
			}
		}
		for j := 0; j < 4; j++ {
			q.Push(1, addrs[(i+j)%len(addrs)], pool.Get())
		}
		i++
		now += int64(time.Second)
		q.Resolve(tb, now, ready, failed)
		q.Resolve(tb, now, ready, failed)
	}
	if n := testing.AllocsPerRun(500, fn); n != 0 {
		t.Errorf("Pending Push/Resolve: %v allocs/op", n)
	}
	if readyN == 0 || failedN == 0 || q.Discards() == 0 {
		t.Fatalf("paths not exercised: ready %d failed %d discards %d", readyN, failedN, q.Discards())
	}
	q.Drain(func(p *pkt.Packet) { p.Free() })
	if pool.Available() != 256 {
		t.Fatalf("pool %d/256", pool.Available())
	}
}

func macFor(a netip.Addr) [6]byte {
	b := a.As16()
	return [6]byte{0x02, b[11], b[12], b[13], b[14], b[15]}
}
