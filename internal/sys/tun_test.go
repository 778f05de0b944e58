package sys

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"flowpath/internal/errs"
)

// devSample is /proc/net/dev as this kernel prints it.
const devSample = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0
  eth0:    1354      16    0    0    0     0          0         0 42304569  399103    0 273720    0     0       0          0
eth0.100: 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20
`

func TestDevTxDropped(t *testing.T) {
	for _, c := range []struct {
		name string
		want uint64
	}{{"lo", 0}, {"eth0", 273720}, {"eth0.100", 16}} {
		got, err := devTxDropped([]byte(devSample), c.name)
		if err != nil || got != c.want {
			t.Errorf("%s: %d, %v; want %d", c.name, got, err, c.want)
		}
	}
	for _, c := range []struct{ dev, name string }{
		{devSample, "eth"},                            // a prefix is not the name
		{devSample, "face"},                           // the header
		{"  eth0: 1 2 3 4 5 6 7 8 9 10 11\n", "eth0"}, // too few columns
		{"  eth0: 1 2 3 4 5 6 7 8 9 10 11 x 13\n", "eth0"},
		{"", "eth0"},
	} {
		if v, err := devTxDropped([]byte(c.dev), c.name); !errors.Is(err, errs.ErrNoDevice) {
			t.Errorf("%q in %q: %d, %v; want ErrNoDevice", c.name, c.dev, v, err)
		}
	}
}

// FuzzDevTxDropped: any text and name give a count or ErrNoDevice, never a
// panic; a count comes from a line that names the interface.
func FuzzDevTxDropped(f *testing.F) {
	f.Add([]byte(devSample), "eth0")
	f.Add([]byte("a:1 2 3 4 5 6 7 8 9 10 11 12\n"), "a")
	f.Fuzz(func(t *testing.T, dev []byte, name string) {
		v, err := devTxDropped(dev, name)
		if err != nil {
			if !errors.Is(err, errs.ErrNoDevice) {
				t.Fatalf("error %v", err)
			}
			return
		}
		// The count is the twelfth number of a line whose text before
		// its first colon is the name, spaces aside.
		for line := range strings.SplitSeq(string(dev), "\n") {
			before, after, ok := strings.Cut(line, ":")
			f := strings.Fields(after)
			if !ok || strings.TrimSpace(before) != name || len(f) < 12 {
				continue
			}
			if n, err := strconv.ParseUint(f[11], 10, 64); err == nil && n == v {
				return
			}
		}
		t.Fatalf("%d for %q from %q: no such line", v, name, dev)
	})
}
