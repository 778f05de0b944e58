package sys

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// TUN/TAP flags and offload bits (linux/if_tun.h).
const (
	IffTap        = unix.IFF_TAP
	IffNoPI       = unix.IFF_NO_PI
	IffVnetHdr    = unix.IFF_VNET_HDR
	IffMultiQueue = unix.IFF_MULTI_QUEUE

	TunFCsum   = unix.TUN_F_CSUM
	TunFTSO4   = unix.TUN_F_TSO4
	TunFTSO6   = unix.TUN_F_TSO6
	TunFTSOECN = unix.TUN_F_TSO_ECN
	TunFUSO4   = unix.TUN_F_USO4
	TunFUSO6   = unix.TUN_F_USO6

	// UDP-tunnel GSO (Linux 6.17, include/uapi/linux/if_tun.h; not yet in
	// x/sys): TSO/USO inside UDP tunnels, and with outer checksums.
	TunFUDPTunnelGSO     = 0x080
	TunFUDPTunnelGSOCsum = 0x100
)

// OpenTap opens /dev/net/tun non-blocking and attaches it to the TAP
// called name with flags (IffTap|IffNoPI|...), creating the device if it
// does not exist. name may hold a pattern ("tap%d"); the name the kernel
// chose is returned.
func OpenTap(name string, flags uint16) (int, string, error) {
	r, err := newIfreq(name)
	if err != nil {
		return -1, "", err
	}
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return -1, "", wrap("open /dev/net/tun", err)
	}
	*(*uint16)(unsafe.Pointer(&r.data[0])) = flags
	if err := ioctl(fd, unix.TUNSETIFF, unsafe.Pointer(r)); err != nil {
		unix.Close(fd)
		return -1, "", wrap("TUNSETIFF", err)
	}
	return fd, r.getName(), nil
}

// SetTapVnetHdrSize sets the size of the virtio-net header TAP reads and
// writes (10 for struct virtio_net_hdr).
func SetTapVnetHdrSize(fd, size int) error {
	v := int32(size)
	return wrap("TUNSETVNETHDRSZ", ioctl(fd, unix.TUNSETVNETHDRSZ, unsafe.Pointer(&v)))
}

// SetTapOffload tells the TAP which offloads the reader handles (TunF*
// bits): the kernel then hands it super-frames and partial checksums.
func SetTapOffload(fd int, flags uint) error {
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(unix.TUNSETOFFLOAD), uintptr(flags))
	if e != 0 {
		return wrap("TUNSETOFFLOAD", e)
	}
	return nil
}

// SetTapPersist makes the TAP outlive its file descriptors (or not).
func SetTapPersist(fd int, on bool) error {
	v := uintptr(0)
	if on {
		v = 1
	}
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(unix.TUNSETPERSIST), v)
	if e != 0 {
		return wrap("TUNSETPERSIST", e)
	}
	return nil
}

// TapFlags returns the IFF_* flags the TAP behind fd was set up with
// (TUNGETIFF), to detect an existing device's mode.
func TapFlags(fd int) (uint16, error) {
	var r ifreq
	if err := ioctl(fd, unix.TUNGETIFF, unsafe.Pointer(&r)); err != nil {
		return 0, wrap("TUNGETIFF", err)
	}
	return *(*uint16)(unsafe.Pointer(&r.data[0])), nil
}
