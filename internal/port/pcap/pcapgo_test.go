package pcap

import (
	"bytes"
	"io"
	"os"
	"testing"
	"time"

	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

func checkWithGopacket(t *testing.T, path string, frames [][]byte, before time.Time) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	if r.LinkType() != layers.LinkTypeEthernet {
		t.Fatal("link type")
	}
	n := 0
	for ; ; n++ {
		data, ci, err := r.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if n >= len(frames) || !bytes.Equal(data, frames[n]) || ci.Length != len(data) ||
			ci.Timestamp.After(before) || ci.Timestamp.Before(before.Add(-time.Minute)) {
			t.Fatalf("gopacket record %d: %d bytes at %v", n, len(data), ci.Timestamp)
		}
	}
	if n != len(frames) {
		t.Fatalf("gopacket read %d records, want %d", n, len(frames))
	}
}
