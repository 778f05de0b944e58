package sys

import (
	"errors"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestReadWaiter: Wait returns when try succeeds after the descriptor
// becomes readable, at its deadline, and at once after Close (also for a
// goroutine already parked); the owner's descriptor stays open; waiting
// allocates nothing.
func TestReadWaiter(t *testing.T) {
	efd, err := Eventfd()
	if err != nil {
		t.Fatal(err)
	}
	defer Close(efd)
	tries, got := 0, 0
	var buf [8]byte
	w, err := NewReadWaiter(efd, func() bool {
		tries++
		if n, _ := unix.Read(efd, buf[:]); n == 8 {
			got++
			return true
		}
		return false
	})
	if err != nil {
		t.Fatal(err)
	}

	t0 := time.Now()
	if err := w.Wait(t0.Add(20 * time.Millisecond)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("idle wait: %v", err)
	}
	if d := time.Since(t0); d < 20*time.Millisecond {
		t.Fatalf("deadline after %v", d)
	}
	go func() {
		time.Sleep(10 * time.Millisecond)
		EventfdSignal(efd)
	}()
	before := tries
	if err := w.Wait(time.Now().Add(10 * time.Second)); err != nil || got != 1 {
		t.Fatalf("woken wait: %v, got %d", err, got)
	}
	if tries-before < 2 {
		t.Fatalf("%d tries: the wait returned without parking", tries-before)
	}

	// Nothing allocates: a wait that succeeds at once and one that parks
	// until its deadline.
	if allocs := testing.AllocsPerRun(50, func() {
		EventfdSignal(efd)
		if w.Wait(time.Now().Add(time.Second)) != nil {
			t.Fatal("ready wait")
		}
		if w.Wait(time.Now().Add(100*time.Microsecond)) == nil {
			t.Fatal("wait with nothing to read succeeded")
		}
	}); allocs != 0 {
		t.Fatalf("Wait allocates %v", allocs)
	}

	// Close wakes a parked goroutine.
	done := make(chan error)
	go func() { done <- w.Wait(time.Now().Add(time.Hour)) }()
	time.Sleep(20 * time.Millisecond)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("wait after close succeeded")
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Close did not wake the waiter")
	}
	if w.Wait(time.Now().Add(time.Hour)) == nil {
		t.Fatal("wait on a closed waiter")
	}
	// The owner's descriptor is still its own.
	if err := EventfdSignal(efd); err != nil {
		t.Fatalf("owner's descriptor after Close: %v", err)
	}
}
