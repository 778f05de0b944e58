package sys

import (
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ReadWaiter parks a goroutine in the Go runtime's network poller until a
// descriptor is readable, instead of blocking its thread in ppoll.
//
// Why: a worker blocked in a system call holds a thread the scheduler must
// replace (the P is handed to another thread, which is woken or created),
// and on wake-up the worker has to win a P back; with several workers per
// process on few CPUs most of a wake-up is that hand-over. A goroutine
// parked in the poller costs no thread: the thread that finds the
// readiness in epoll runs the worker at once.
//
// The waiter polls a duplicate of the descriptor, so the owner keeps its
// descriptor, closes it as before and reads it with its own calls; both
// name the same open file, so readiness is shared. Close wakes a waiting
// goroutine at once.
type ReadWaiter struct {
	f  *os.File
	rc syscall.RawConn
	fn func(uintptr) bool
	// try is the owner's non-blocking read attempt: true when it got
	// something (or must stop waiting for another reason).
	try func() bool
}

// NewReadWaiter makes a waiter for fd that calls try until it reports
// true. fd is switched to non-blocking mode (the flag belongs to the open
// file, which the duplicate shares); the owner's reads must not block.
func NewReadWaiter(fd int, try func() bool) (*ReadWaiter, error) {
	dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, wrap("dup", err)
	}
	if err := unix.SetNonblock(dup, true); err != nil {
		unix.Close(dup)
		return nil, wrap("set non-blocking", err)
	}
	w := &ReadWaiter{f: os.NewFile(uintptr(dup), "poll"), try: try}
	if w.rc, err = w.f.SyscallConn(); err != nil {
		w.f.Close()
		return nil, wrap("poller", err)
	}
	w.fn = func(uintptr) bool { return w.try() }
	return w, nil
}

// Wait calls try, and while it reports false parks until the descriptor
// is readable and calls it again, until deadline or Close. It returns nil
// when try succeeded, os.ErrDeadlineExceeded at the deadline, and another
// error after Close or when the poller cannot wait on the descriptor (a
// pending socket error). It does not allocate.
func (w *ReadWaiter) Wait(deadline time.Time) error {
	if err := w.f.SetReadDeadline(deadline); err != nil {
		return err
	}
	return w.rc.Read(w.fn)
}

// Close wakes a goroutine in Wait (which returns false) and closes the
// duplicate descriptor; later Waits return false at once.
func (w *ReadWaiter) Close() error { return w.f.Close() }
