package sys

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ifreq is struct ifreq: the interface name and a 24-byte union.
type ifreq struct {
	name [unix.IFNAMSIZ]byte
	data [24]byte
}

func newIfreq(name string) (*ifreq, error) {
	if len(name) == 0 || len(name) >= unix.IFNAMSIZ {
		return nil, &Error{Op: fmt.Sprintf("interface name %q", name), Errno: unix.EINVAL, Sentinel: sentinels[unix.EINVAL]}
	}
	r := &ifreq{}
	copy(r.name[:], name)
	return r, nil
}

func (r *ifreq) getName() string {
	for i, c := range r.name {
		if c == 0 {
			return string(r.name[:i])
		}
	}
	return string(r.name[:])
}

func ioctl(fd int, req uint, arg unsafe.Pointer) error {
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(arg))
	if e != 0 {
		return e
	}
	return nil
}

// ifIoctl runs an interface ioctl on a throwaway AF_INET socket, which
// lives in the calling thread's network namespace.
func ifIoctl(op string, name string, req uint, fill func(*ifreq)) (*ifreq, error) {
	r, err := newIfreq(name)
	if err != nil {
		return nil, err
	}
	if fill != nil {
		fill(r)
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, wrap("socket", err)
	}
	defer unix.Close(fd)
	if err := ioctl(fd, req, unsafe.Pointer(r)); err != nil {
		return nil, wrap(op, err)
	}
	return r, nil
}

// InterfaceIndex returns the ifindex of name in the calling thread's
// network namespace.
func InterfaceIndex(name string) (int, error) {
	r, err := ifIoctl("SIOCGIFINDEX", name, unix.SIOCGIFINDEX, nil)
	if err != nil {
		return 0, err
	}
	return int(*(*int32)(unsafe.Pointer(&r.data[0]))), nil
}

// InterfaceMAC returns the hardware address of an Ethernet interface.
func InterfaceMAC(name string) ([6]byte, error) {
	var mac [6]byte
	r, err := ifIoctl("SIOCGIFHWADDR", name, unix.SIOCGIFHWADDR, nil)
	if err != nil {
		return mac, err
	}
	// data is a struct sockaddr: sa_family (2 bytes), then the address.
	copy(mac[:], r.data[2:8])
	return mac, nil
}

// InterfaceMTU returns the MTU of name.
func InterfaceMTU(name string) (int, error) {
	r, err := ifIoctl("SIOCGIFMTU", name, unix.SIOCGIFMTU, nil)
	if err != nil {
		return 0, err
	}
	return int(*(*int32)(unsafe.Pointer(&r.data[0]))), nil
}

// SetInterfaceMTU sets the MTU of name.
func SetInterfaceMTU(name string, mtu int) error {
	_, err := ifIoctl("SIOCSIFMTU", name, unix.SIOCSIFMTU, func(r *ifreq) {
		*(*int32)(unsafe.Pointer(&r.data[0])) = int32(mtu)
	})
	return err
}

// SetInterfaceMAC sets the hardware address of an Ethernet interface.
func SetInterfaceMAC(name string, mac [6]byte) error {
	_, err := ifIoctl("SIOCSIFHWADDR", name, unix.SIOCSIFHWADDR, func(r *ifreq) {
		*(*uint16)(unsafe.Pointer(&r.data[0])) = unix.ARPHRD_ETHER
		copy(r.data[2:], mac[:])
	})
	return err
}

// InterfaceFlags returns the IFF_* flags of name.
func InterfaceFlags(name string) (uint16, error) {
	r, err := ifIoctl("SIOCGIFFLAGS", name, unix.SIOCGIFFLAGS, nil)
	if err != nil {
		return 0, err
	}
	return *(*uint16)(unsafe.Pointer(&r.data[0])), nil
}

// IffUp is IFF_UP.
const IffUp = unix.IFF_UP

// SetLinkUp sets IFF_UP on name (no-op if already up).
func SetLinkUp(name string) error {
	flags, err := InterfaceFlags(name)
	if err != nil {
		return err
	}
	if flags&unix.IFF_UP != 0 {
		return nil
	}
	_, err = ifIoctl("SIOCSIFFLAGS", name, unix.SIOCSIFFLAGS, func(r *ifreq) {
		*(*uint16)(unsafe.Pointer(&r.data[0])) = flags | unix.IFF_UP
	})
	return err
}
