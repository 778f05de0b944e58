package nstest

import (
	"bytes"
	"testing"
)

// TestPatternChunking: the stream must not depend on how it is cut.
func TestPatternChunking(t *testing.T) {
	whole := make([]byte, 3<<20)
	pattern(whole, 0)
	for _, cut := range []int{1, 3, 4095, 4097, 7000, 65536, 100003} {
		for off := 0; off < len(whole); off += cut {
			b := make([]byte, min(cut, len(whole)-off))
			pattern(b, off)
			if !bytes.Equal(b, whole[off:off+len(b)]) {
				t.Fatalf("cut %d: chunk at %d differs", cut, off)
			}
		}
	}
	if bytes.Equal(whole[:1<<20], whole[1<<20:2<<20]) {
		t.Fatal("blocks repeat unstamped")
	}
}
