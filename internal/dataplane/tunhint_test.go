package dataplane

import (
	"math/rand/v2"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"flowpath/internal/pkt"
)

// hintModel is the slow reference for tunnelHints: a map of the latest
// info per neighbour, and per slot the neighbour written last, since a
// colliding write takes the slot over.
type hintModel struct {
	info map[hintModelKey]pkt.TunnelInfo
	last map[*hintSlot]hintModelKey
}

type hintModelKey struct {
	dev  uint32
	addr netip.Addr
}

func randHintInfo(r *rand.Rand) pkt.TunnelInfo {
	var ti pkt.TunnelInfo
	ti.Key.ID = r.Uint64N(1 << 24)
	ti.Key.Dst[0], ti.Key.Dst[3] = 10, byte(r.IntN(256))
	ti.Key.TTL = uint8(r.IntN(256))
	ti.Key.Flags = pkt.TunnelFlagKey
	ti.Mode = pkt.TunnelModeTX
	if r.IntN(2) == 0 {
		opts := make([]byte, 4*r.IntN(64))
		for i := range opts {
			opts[i] = byte(r.IntN(256))
		}
		ti.SetOptions(opts, pkt.TunnelGeneveOpt)
	}
	return ti
}

func TestTunnelHintsAgainstModel(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 9))
	h := newTunnelHints()
	m := hintModel{info: map[hintModelKey]pkt.TunnelInfo{}, last: map[*hintSlot]hintModelKey{}}
	// Few devices, many addresses, both families: plenty of collisions
	// in 256 slots.
	randKey := func() hintModelKey {
		dev := uint32(1 + r.IntN(4))
		if r.IntN(3) == 0 {
			var a [16]byte
			a[0], a[1], a[15] = 0xfd, 0, byte(r.IntN(256))
			return hintModelKey{dev, netip.AddrFrom16(a)}
		}
		return hintModelKey{dev, netip.AddrFrom4([4]byte{10, 0, byte(r.IntN(4)), byte(r.IntN(256))})}
	}
	for i := 0; i < 20000; i++ {
		k := randKey()
		hk := hintKey(k.dev, k.addr)
		s := h.slot(&hk)
		if r.IntN(2) == 0 {
			ti := randHintInfo(r)
			h.put(k.dev, k.addr, &ti)
			m.info[k], m.last[s] = ti, k
			continue
		}
		var got pkt.TunnelInfo
		ok := h.get(k.dev, k.addr, &got)
		want, wok := m.info[k]
		wok = wok && m.last[s] == k
		if ok != wok || (ok && !got.Equal(&want)) {
			t.Fatalf("op %d get(%d, %s) = %v %+v, model %v %+v", i, k.dev, k.addr, ok, got.Key, wok, want.Key)
		}
	}
	// 4 in 4 and 10.0.0.4 in fd00::4 style aliasing: an IPv4 address and
	// the IPv6 address with the same 16 bytes are different neighbours.
	v4 := netip.MustParseAddr("10.0.0.1")
	ti := randHintInfo(r)
	h.put(9, v4, &ti)
	var got pkt.TunnelInfo
	if h.get(9, netip.AddrFrom16(v4.As16()), &got) {
		t.Fatal("the v4-mapped IPv6 address found the IPv4 neighbour's hint")
	}
	if h.get(10, v4, &got) {
		t.Fatal("another device found the hint")
	}
}

// Workers write while the manager reads: a reader sees a whole info
// written by one writer, never a mix (run with -race too).
func TestTunnelHintsConcurrent(t *testing.T) {
	h := newTunnelHints()
	addr := netip.MustParseAddr("10.99.0.2")
	var stop atomic.Bool
	var wg sync.WaitGroup
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			var ti pkt.TunnelInfo
			for i := 0; !stop.Load(); i++ {
				// Every field derives from one value v, so a torn read
				// shows as fields that disagree.
				v := byte(w*64 + i%64)
				ti.Key.ID = uint64(v)
				ti.Key.Dst[15], ti.Key.TTL, ti.Mode = v, v, pkt.TunnelModeTX
				ti.OptLen = v
				for j := range ti.Opts {
					ti.Opts[j] = v
				}
				h.put(3, addr, &ti)
				runtime.Gosched() // writes come with packets, not back to back
			}
		}(w)
	}
	// A read fails while a write is under way; under -race, with three
	// writers on two busy CPUs, CI once saw only 498 reads succeed in 2 s
	// (1000 take milliseconds when the machine is quiet), so the bound is
	// generous: it only has to tell a reader locked out from a slow one.
	reads := 0
	for deadline := time.Now().Add(20 * time.Second); reads < 1000 && time.Now().Before(deadline); {
		var got pkt.TunnelInfo
		if !h.get(3, addr, &got) {
			continue
		}
		reads++
		v := byte(got.Key.ID)
		if got.Key.Dst[15] != v || got.Key.TTL != v || got.OptLen != v {
			t.Fatalf("torn read: %+v", got.Key)
		}
		for _, b := range got.Options() {
			if b != v {
				t.Fatalf("torn options: id %d, option byte %d", v, b)
			}
		}
	}
	stop.Store(true)
	wg.Wait()
	if reads < 1000 {
		t.Fatalf("only %d reads succeeded in 20 s while writers ran", reads)
	}
}

func TestTunnelHintsNoAllocs(t *testing.T) {
	h := newTunnelHints()
	r := rand.New(rand.NewPCG(1, 1))
	ti := randHintInfo(r)
	addr := netip.MustParseAddr("10.99.0.2")
	var got pkt.TunnelInfo
	if n := testing.AllocsPerRun(1000, func() {
		h.put(2, addr, &ti)
		h.get(2, addr, &got)
	}); n != 0 {
		t.Fatalf("%v allocations per put+get", n)
	}
}
