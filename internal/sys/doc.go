// Package sys is flowpath's only door to golang.org/x/sys/unix: thin,
// allocation-aware wrappers for the system calls the concrete ports need.
//
//	port/afpacket ─┐                       ┌─ AF_PACKET sockets, TPACKET_V3 rings, fanout
//	port/tap ──────┼──► sys ──► x/sys/unix ┼─ /dev/net/tun, TUNSETIFF, TUNSETOFFLOAD
//	tests ─────────┘                       └─ ppoll, eventfd, sendmmsg, readv/writev, ifreq ioctls
//
// Keeping every unix import here means the rest of the tree stays portable
// Go, one file shows which kernel interfaces flowpath depends on, and the
// packet-path calls can be audited in one place for allocations.
//
// Two kinds of calls live here:
//
//   - Control-plane calls (open, bind, setsockopt, ioctl, mmap) return an
//     error that wraps both the raw errno and the matching sentinel of
//     flowpath/internal/errs, so errors.Is(err, errs.ErrNoDevice) and
//     errors.Is(err, syscall.ENODEV) both hold. Callers add their context
//     ("afpacket veth0: bind: no such device").
//   - Packet-path calls (Ppoll, Sendmmsg, Readv, Writev, Read) return a
//     plain syscall.Errno (0 on success): no interface conversion, no
//     allocation, nothing to wrap. Their argument arrays are owned and
//     preallocated by the caller.
package sys
