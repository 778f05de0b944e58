package sys

import (
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// PollFd is struct pollfd.
type PollFd = unix.PollFd

// Poll events.
const (
	POLLIN   = unix.POLLIN
	POLLOUT  = unix.POLLOUT
	POLLERR  = unix.POLLERR
	POLLHUP  = unix.POLLHUP
	POLLNVAL = unix.POLLNVAL
)

// Ppoll waits up to timeout (rounded to nanoseconds; <= 0 returns at once)
// for an event on fds. fds is the caller's preallocated set; the call does
// not allocate. It blocks the calling thread, which is what a worker that
// owns its queue wants: the Go scheduler hands the P to another thread.
// A signal (the runtime's preemption, SIGURG) may cut it short with EINTR;
// the ports' receive loops simply poll again.
func Ppoll(fds []PollFd, timeout time.Duration) (int, syscall.Errno) {
	if timeout < 0 {
		timeout = 0
	}
	ts := unix.NsecToTimespec(int64(timeout))
	var p unsafe.Pointer
	if len(fds) > 0 {
		p = unsafe.Pointer(&fds[0])
	}
	r, _, e := unix.Syscall6(unix.SYS_PPOLL, uintptr(p), uintptr(len(fds)), uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
	return int(r), e
}

// Eventfd creates a non-blocking eventfd, used to wake a thread blocked in
// Ppoll (Close of a port): once signalled it stays readable for every
// poller until read.
func Eventfd() (int, error) {
	fd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	return fd, wrap("eventfd", err)
}

// EventfdSignal adds 1 to an eventfd, making it readable.
func EventfdSignal(fd int) error {
	one := [8]byte{1}
	_, err := unix.Write(fd, one[:])
	return wrap("eventfd write", err)
}

// Close closes a file descriptor.
func Close(fd int) error { return wrap("close", unix.Close(fd)) }

// SetNonblock sets or clears O_NONBLOCK.
func SetNonblock(fd int, on bool) error { return wrap("fcntl", unix.SetNonblock(fd, on)) }
