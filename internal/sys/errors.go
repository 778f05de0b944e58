package sys

import (
	"errors"
	"syscall"

	"flowpath/internal/errs"
	"golang.org/x/sys/unix"
)

// Error is a failed control-plane system call: the operation, the errno
// and the errs sentinel the errno corresponds to (nil if none).
type Error struct {
	Op       string
	Errno    syscall.Errno
	Sentinel error
}

func (e *Error) Error() string { return e.Op + ": " + e.Errno.Error() }

// Unwrap exposes both the errno and the sentinel to errors.Is.
func (e *Error) Unwrap() []error {
	if e.Sentinel == nil {
		return []error{e.Errno}
	}
	return []error{e.Errno, e.Sentinel}
}

// sentinels maps the errnos the control plane reports to the sentinels of
// package errs (which carry the same errno names to the CLI).
var sentinels = map[syscall.Errno]error{
	unix.EEXIST:        errs.ErrExists,
	unix.ESRCH:         errs.ErrNotFound,
	unix.ENOENT:        errs.ErrNoEntry,
	unix.ENODEV:        errs.ErrNoDevice,
	unix.ENXIO:         errs.ErrNoDevice,
	unix.EINVAL:        errs.ErrInvalid,
	unix.EOPNOTSUPP:    errs.ErrNotSupported,
	unix.ENOPROTOOPT:   errs.ErrNotSupported,
	unix.ERANGE:        errs.ErrRange,
	unix.ENETUNREACH:   errs.ErrNetUnreach,
	unix.EHOSTUNREACH:  errs.ErrHostUnreach,
	unix.EBUSY:         errs.ErrBusy,
	unix.ENOSPC:        errs.ErrNoSpace,
	unix.EADDRINUSE:    errs.ErrAddrInUse,
	unix.EAFNOSUPPORT:  errs.ErrAFNoSupport,
	unix.EPERM:         errs.ErrPermission,
	unix.EACCES:        errs.ErrPermission,
	unix.ENETDOWN:      errs.ErrNetDown,
	unix.EADDRNOTAVAIL: errs.ErrAddrNotAvail,
}

// wrap turns a unix error into an *Error naming op. Non-errno errors are
// wrapped with the op as plain context.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var en syscall.Errno
	if errors.As(err, &en) {
		return &Error{Op: op, Errno: en, Sentinel: sentinels[en]}
	}
	return &opError{op: op, err: err}
}

type opError struct {
	op  string
	err error
}

func (e *opError) Error() string { return e.op + ": " + e.err.Error() }
func (e *opError) Unwrap() error { return e.err }

// Packet-path errnos the ports test for.
const (
	EAGAIN   = unix.EAGAIN
	EINTR    = unix.EINTR
	ENOBUFS  = unix.ENOBUFS
	EMSGSIZE = unix.EMSGSIZE
	EBADF    = unix.EBADF
	EIO      = unix.EIO
	ENETDOWN = unix.ENETDOWN
	ENXIO    = unix.ENXIO
)

// Temporary reports whether a packet-path errno means "try again later"
// (queue full, would block, interrupted) rather than "this frame is bad".
func Temporary(e syscall.Errno) bool {
	return e == unix.EAGAIN || e == unix.EINTR || e == unix.ENOBUFS
}
