package errs

import "errors"

// Sentinels, each with the errno the kernel returns for the same case.
var (
	ErrExists         = errors.New("file exists")                              // EEXIST
	ErrNotFound       = errors.New("no such process")                          // ESRCH (routes, rules)
	ErrNoEntry        = errors.New("no such file or directory")                // ENOENT
	ErrNoDevice       = errors.New("no such device")                           // ENODEV
	ErrInvalid        = errors.New("invalid argument")                         // EINVAL
	ErrNotSupported   = errors.New("operation not supported")                  // EOPNOTSUPP
	ErrRange          = errors.New("numerical result out of range")            // ERANGE
	ErrNetUnreach     = errors.New("network is unreachable")                   // ENETUNREACH
	ErrHostUnreach    = errors.New("no route to host")                         // EHOSTUNREACH
	ErrBusy           = errors.New("device or resource busy")                  // EBUSY
	ErrNoSpace        = errors.New("no space left on device")                  // ENOSPC
	ErrAddrInUse      = errors.New("address already in use")                   // EADDRINUSE
	ErrAFNoSupport    = errors.New("address family not supported by protocol") // EAFNOSUPPORT
	ErrPermission     = errors.New("operation not permitted")                  // EPERM
	ErrNetDown        = errors.New("network is down")                          // ENETDOWN
	ErrAddrNotAvail   = errors.New("cannot assign requested address")          // EADDRNOTAVAIL
	ErrProtoNoSupport = errors.New("protocol not supported")                   // EPROTONOSUPPORT
)

var codes = []struct {
	err  error
	code string
}{
	{ErrExists, "EEXIST"}, {ErrNotFound, "ESRCH"}, {ErrNoEntry, "ENOENT"},
	{ErrNoDevice, "ENODEV"}, {ErrInvalid, "EINVAL"}, {ErrNotSupported, "EOPNOTSUPP"},
	{ErrRange, "ERANGE"}, {ErrNetUnreach, "ENETUNREACH"}, {ErrHostUnreach, "EHOSTUNREACH"},
	{ErrBusy, "EBUSY"}, {ErrNoSpace, "ENOSPC"}, {ErrAddrInUse, "EADDRINUSE"},
	{ErrAFNoSupport, "EAFNOSUPPORT"}, {ErrPermission, "EPERM"},
	{ErrNetDown, "ENETDOWN"}, {ErrAddrNotAvail, "EADDRNOTAVAIL"},
	{ErrProtoNoSupport, "EPROTONOSUPPORT"},
}

// Code returns the errno name of the first sentinel err wraps ("EEXIST"),
// or "" if it wraps none.
func Code(err error) string {
	for _, c := range codes {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	return ""
}

// FromCode returns the sentinel for an errno name, or nil.
func FromCode(code string) error {
	for _, c := range codes {
		if c.code == code {
			return c.err
		}
	}
	return nil
}
