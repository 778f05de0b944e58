package fdb

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"flowpath/internal/errs"
)

// clock is an injected table clock (ns).
type clock struct{ now int64 }

func (c *clock) Now() int64              { return c.now }
func (c *clock) advance(d time.Duration) { c.now += int64(d) }

// newTestTable makes a table on an injected clock that starts at 1000 s.
func newTestTable(cfg Config, workers int) (*Table, *clock) {
	c := &clock{now: int64(1000 * time.Second)}
	cfg.Now = c.Now
	return New(cfg, workers), c
}

// classicCfg is V9's device: id 100, remote 192.0.2.2, dstport 4789, learning.
func classicCfg() Config {
	return Config{Learning: true, Family: 4, VNI: 100, Port: 4789}
}

var (
	zeroMAC  = [6]byte{}
	bcastMAC = [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	mcastMAC = [6]byte{0x01, 0x00, 0x5e, 0x00, 0x00, 0x01}
	macM     = [6]byte{0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0x01}
	macN     = [6]byte{0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0x02}
)

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

func dst(s string) Remote { return Remote{IP: ip(s)} }

func entry(mac [6]byte, st State, rs ...Remote) Entry {
	return Entry{MAC: mac, State: st, Remotes: rs}
}

// wantErr checks that err wraps the sentinel want (nil: no error).
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("%s: unexpected error %v", what, err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Fatalf("%s: error %v, want %s", what, err, errs.Code(want))
	}
}

// ips returns the addresses of a Lookup result.
func ips(rs []Remote) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.IP.String()
	}
	return out
}

func dump(tb *Table) []Entry {
	var out []Entry
	tb.Dump(func(e Entry) bool { out = append(out, e); return true })
	return out
}

// pcg is a small deterministic generator for the randomised tests.
type pcg struct{ s uint64 }

func (g *pcg) next() uint64 {
	g.s = g.s*6364136223846793005 + 1442695040888963407
	x := g.s
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 29
	return x
}

func (g *pcg) n(k int) int { return int(g.next() % uint64(k)) }
