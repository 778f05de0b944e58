package sys

import (
	"os"
	"runtime"
	"strconv"
	"strings"
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

// tunGetDevNetns is TUNGETDEVNETNS, _IO('T', 227) (Linux 5.2; not in
// x/sys): a new descriptor of the network namespace the TUN/TAP device is
// in now.
const tunGetDevNetns = 0x54e3

// TapKernelTxDropped returns the tx_dropped counter of the TAP device fd
// is a queue of. On a TAP these are the frames the kernel had for the
// reader and dropped because no queue could take them: the reader did not
// keep up. The device's kernel end may have been moved to another network
// namespace (a host's eth0); the counter is read where it is now, from
// that namespace's /proc/net/dev, on an OS thread of its own that is
// discarded afterwards. It needs CAP_NET_ADMIN over that namespace.
func TapKernelTxDropped(fd int) (uint64, error) {
	var r ifreq
	if err := ioctl(fd, unix.TUNGETIFF, unsafe.Pointer(&r)); err != nil {
		return 0, wrap("TUNGETIFF", err)
	}
	name := r.getName()
	ns, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), tunGetDevNetns, 0)
	if e != 0 {
		return 0, wrap("TUNGETDEVNETNS", e)
	}
	defer unix.Close(int(ns))
	var dev []byte
	err := inNetns(int(ns), func() error {
		var err error
		dev, err = os.ReadFile("/proc/thread-self/net/dev")
		return err
	})
	if err != nil {
		return 0, err
	}
	return devTxDropped(dev, name)
}

// inNetns runs fn in the network namespace ns refers to. When that is the
// calling thread's own, fn runs here; otherwise on a goroutine locked to an OS
// thread that enters ns and is never unlocked, so the runtime ends the
// thread with the goroutine and no other code ever runs in ns by accident.
func inNetns(ns int, fn func() error) error {
	var theirs, ours unix.Stat_t
	if err := unix.Fstat(ns, &theirs); err != nil {
		return wrap("fstat netns", err)
	}
	if err := unix.Stat("/proc/thread-self/ns/net", &ours); err != nil {
		return wrap("stat /proc/thread-self/ns/net", err)
	}
	if theirs.Dev == ours.Dev && theirs.Ino == ours.Ino {
		return fn()
	}
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := unix.Setns(ns, unix.CLONE_NEWNET); err != nil {
			done <- wrap("setns", err)
			return
		}
		done <- fn()
	}()
	return <-done
}

// devTxDropped finds interface name in the text of /proc/net/dev and
// returns its transmit "drop" column (the 12th number after "name:":
// eight receive counters, then bytes, packets, errs, drop).
func devTxDropped(dev []byte, name string) (uint64, error) {
	for line := range strings.SplitSeq(string(dev), "\n") {
		iface, counters, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(iface) != name {
			continue
		}
		f := strings.Fields(counters)
		if len(f) < 12 {
			break
		}
		v, err := strconv.ParseUint(f[11], 10, 64)
		if err != nil {
			break
		}
		return v, nil
	}
	return 0, &Error{Op: "/proc/net/dev: no counters for " + name, Errno: unix.ENODEV, Sentinel: sentinels[unix.ENODEV]}
}
