package doorbell

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"time"
)

// Doorbell is one consumer's bell. Ring may be called from any goroutine;
// Sleep from the consumer only; Close once, by the consumer.
type Doorbell struct {
	asleep   atomic.Bool
	closed   atomic.Bool
	inFlight atomic.Int32 // Rings between their CAS and their write
	fd       int          // the eventfd; f owns it
	f        *os.File     // for waits in the Go runtime's poller
	one      [8]byte      // the counter increment Ring writes (1)
}

// efdNonblock and efdCloexec are EFD_NONBLOCK and EFD_CLOEXEC (the values
// of O_NONBLOCK and O_CLOEXEC), which package syscall does not name.
const (
	efdNonblock = syscall.O_NONBLOCK
	efdCloexec  = syscall.O_CLOEXEC
)

// New makes a bell on a fresh eventfd.
func New() (*Doorbell, error) {
	fd, _, e := syscall.Syscall(syscall.SYS_EVENTFD2, 0, efdNonblock|efdCloexec, 0)
	if e != 0 {
		return nil, fmt.Errorf("doorbell: eventfd: %w", e)
	}
	d := &Doorbell{fd: int(fd), f: os.NewFile(fd, "doorbell")}
	d.one[0] = 1 // little-endian 1: the machines flowpath runs on
	return d, nil
}

// Ring wakes the consumer if it is asleep (or about to wait). It never
// blocks, locks or allocates. A nil bell (no consumer running) does
// nothing, so producers can ring whatever bell they load.
func (d *Doorbell) Ring() {
	if d == nil || !d.asleep.Load() || !d.asleep.CompareAndSwap(true, false) {
		return
	}
	// Close waits for writes in flight before it closes the descriptor,
	// and a write that starts after Close began is skipped: the number
	// is never written to after it may have been reused.
	d.inFlight.Add(1)
	if !d.closed.Load() {
		syscall.Write(d.fd, d.one[:])
	}
	d.inFlight.Add(-1)
}

// Sleep marks the consumer asleep, then calls ready, which must report
// whether work is waiting (posted before a producer could see the mark);
// if none is, it waits until a Ring or until timeout passes. It reports
// whether it was woken by work (ready or a Ring) rather than the timeout.
func (d *Doorbell) Sleep(timeout time.Duration, ready func() bool) bool {
	d.asleep.Store(true)
	if ready() {
		d.asleep.Store(false)
		return true
	}
	var b [8]byte
	woken := false
	if err := d.f.SetReadDeadline(time.Now().Add(timeout)); err == nil {
		_, err = d.f.Read(b[:]) // resets the counter
		woken = err == nil
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			// An eventfd read fails only on misuse; do not spin on it.
			time.Sleep(timeout)
		}
	} else {
		time.Sleep(timeout)
	}
	d.asleep.Store(false)
	return woken
}

// Close releases the eventfd once no Ring is writing to it. Rings after
// Close do nothing.
func (d *Doorbell) Close() error {
	if d.closed.Swap(true) {
		return nil
	}
	d.asleep.Store(false)
	for d.inFlight.Load() != 0 {
		time.Sleep(10 * time.Microsecond)
	}
	return d.f.Close()
}

// A manager that has seen no work for IdleAfter polls every IdlePoll.
const (
	IdleAfter = 50 * time.Millisecond
	IdlePoll  = 10 * time.Millisecond
)

// Manage is a manager loop for lock-free producers: poll (which reports
// whether it found work) runs every busy interval while work comes, and
// after IdleAfter without any only every IdlePoll, the manager sleeping on
// a doorbell in between. The last look before a sleep is a poll itself,
// so work posted before the producers could see the mark is handled then.
// due (nil: none) is how long until the manager's own next deadline (a
// timer), which an idle sleep does not overrun. publish is given the bell
// at the start, for the producers to Ring, and nil before Manage closes
// it. Without an eventfd it polls every busy interval throughout. It
// returns when ctx is done.
func Manage(ctx context.Context, busy time.Duration, poll func() bool, due func() time.Duration, publish func(*Doorbell)) {
	bell, err := New()
	if err == nil {
		publish(bell)
		defer func() {
			publish(nil)
			bell.Close()
		}()
	}
	tk := time.NewTicker(busy)
	defer tk.Stop()
	lastWork := time.Now()
	pollNoting := func() bool {
		if poll() {
			lastWork = time.Now()
			return true
		}
		return false
	}
	for {
		if bell != nil && time.Since(lastWork) > IdleAfter {
			sleep := IdlePoll
			if due != nil {
				sleep = max(min(sleep, due()), 0)
			}
			bell.Sleep(sleep, pollNoting)
			if ctx.Err() != nil {
				return
			}
		} else {
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
			}
		}
		pollNoting()
	}
}
