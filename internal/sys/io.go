package sys

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Iovec is struct iovec; Msghdr and Mmsghdr are struct msghdr and
// struct mmsghdr. Callers keep arrays of them preallocated and point them
// at packet buffers per call.
type (
	Iovec   = unix.Iovec
	Msghdr  = unix.Msghdr
	Mmsghdr = unix.Mmsghdr
)

// MsgDontwait is MSG_DONTWAIT.
const MsgDontwait = unix.MSG_DONTWAIT

// MsgTrunc is MSG_TRUNC: in a received message's flags, the datagram was
// longer than the buffer.
const MsgTrunc = unix.MSG_TRUNC

// SetIovec points iov at b. An empty b leaves a zero-length iovec.
func SetIovec(iov *Iovec, b []byte) {
	if len(b) == 0 {
		iov.Base, iov.Len = nil, 0
		return
	}
	iov.Base = &b[0]
	iov.SetLen(len(b))
}

// SetMsgIov points a msghdr at iovs.
func SetMsgIov(m *Msghdr, iovs []Iovec) {
	if len(iovs) == 0 {
		m.Iov = nil
		m.SetIovlen(0)
		return
	}
	m.Iov = &iovs[0]
	m.SetIovlen(len(iovs))
}

// Sendmmsg sends msgs in one system call and returns how many were sent.
// A failure on the first message returns its errno; a failure later stops
// the batch early and is reported as a short count (the kernel drops that
// errno), so callers retry from the returned index.
func Sendmmsg(fd int, msgs []Mmsghdr, flags int) (int, syscall.Errno) {
	if len(msgs) == 0 {
		return 0, 0
	}
	r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&msgs[0])), uintptr(len(msgs)), uintptr(flags), 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(r), 0
}

// Recvmmsg receives up to len(msgs) datagrams into msgs' iovecs; each
// message's Len is set to the bytes received. With MsgDontwait it returns
// EAGAIN when nothing is queued.
func Recvmmsg(fd int, msgs []Mmsghdr, flags int) (int, syscall.Errno) {
	if len(msgs) == 0 {
		return 0, 0
	}
	r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(fd), uintptr(unsafe.Pointer(&msgs[0])), uintptr(len(msgs)), uintptr(flags), 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(r), 0
}

// Readv reads into iovs (one frame from a TAP: header and frame in one call).
func Readv(fd int, iovs []Iovec) (int, syscall.Errno) {
	r, _, e := unix.Syscall(unix.SYS_READV, uintptr(fd), uintptr(unsafe.Pointer(&iovs[0])), uintptr(len(iovs)))
	if e != 0 {
		return 0, e
	}
	return int(r), 0
}

// Writev writes iovs (one frame to a TAP).
func Writev(fd int, iovs []Iovec) (int, syscall.Errno) {
	r, _, e := unix.Syscall(unix.SYS_WRITEV, uintptr(fd), uintptr(unsafe.Pointer(&iovs[0])), uintptr(len(iovs)))
	if e != 0 {
		return 0, e
	}
	return int(r), 0
}

// Read reads into b.
func Read(fd int, b []byte) (int, syscall.Errno) {
	if len(b) == 0 {
		return 0, 0
	}
	r, _, e := unix.Syscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	if e != 0 {
		return 0, e
	}
	return int(r), 0
}

// Write writes b.
func Write(fd int, b []byte) (int, syscall.Errno) {
	if len(b) == 0 {
		return 0, 0
	}
	r, _, e := unix.Syscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	if e != 0 {
		return 0, e
	}
	return int(r), 0
}

// Send sends b on a socket (a raw frame on a packet socket, in tests).
func Send(fd int, b []byte, flags int) (int, syscall.Errno) {
	if len(b) == 0 {
		return 0, 0
	}
	r, _, e := unix.Syscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), uintptr(flags), 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(r), 0
}
