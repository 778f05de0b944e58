//go:build !pcapgo

package pcap

import (
	"testing"
	"time"
)

// checkWithGopacket is a no-op without the pcapgo tag (see pcapgo_test.go).
func checkWithGopacket(t *testing.T, path string, frames [][]byte, before time.Time) {
	t.Log("built without -tags pcapgo: gopacket check skipped")
}
