package sys

import (
	"encoding/binary"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// CPUCounter counts, per CPU, the frames a packet socket received in the
// softirq of that CPU (or a TAP was sent on that CPU): a socket filter
// (eBPF, attached with SO_ATTACH_BPF or TUNSETFILTEREBPF) adds one to the
// CPU's slot of an array map that is mapped into this process, so reading
// the counts is plain memory loads. The CPU a frame
// arrives on is the CPU its sender ran on (veth and TAP deliver in the
// sender's context), which is what a worker needs to know to run beside
// its sender.
//
//	sender on CPU k ── veth ── packet socket ── filter: count[k]++ ── ring
//	                                               │ (mmap)
//	worker ── Count(k) ◄────────────────────────────┘
//
// The filter keeps every frame whole (it returns the largest length).
type CPUCounter struct {
	mapFd, progFd int
	mem           []byte // the map's values, one uint64 per CPU
	ncpu          int
}

// BPF constants this file needs (linux/bpf.h).
const (
	bpfMapCreate         = 0
	bpfProgLoad          = 5
	bpfMapTypeArray      = 2
	bpfProgTypeSockFiltr = 1
	bpfFMmapable         = 1 << 10
	bpfFuncMapLookupElem = 1
	bpfFuncGetSMPProcID  = 8
	bpfPseudoMapFd       = 1
)

// bpfInsn is struct bpf_insn.
type bpfInsn struct {
	code uint8
	regs uint8 // dst in the low nibble, src in the high one
	off  int16
	imm  int32
}

func insn(code uint8, dst, src uint8, off int16, imm int32) bpfInsn {
	return bpfInsn{code: code, regs: dst | src<<4, off: off, imm: imm}
}

// NewCPUCounter makes the map and loads the filter.
func NewCPUCounter() (*CPUCounter, error) {
	c := &CPUCounter{mapFd: -1, progFd: -1, ncpu: possibleCPUs()}
	// BPF_MAP_CREATE: map_type, key_size, value_size, max_entries,
	// map_flags (the first five u32 of union bpf_attr).
	var mattr [64]byte
	le := binary.LittleEndian
	le.PutUint32(mattr[0:], bpfMapTypeArray)
	le.PutUint32(mattr[4:], 4)
	le.PutUint32(mattr[8:], 8)
	le.PutUint32(mattr[12:], uint32(c.ncpu))
	le.PutUint32(mattr[16:], bpfFMmapable)
	fd, _, e := unix.Syscall(unix.SYS_BPF, bpfMapCreate, uintptr(unsafe.Pointer(&mattr[0])), uintptr(len(mattr)))
	if e != 0 {
		return nil, wrap("bpf map create", e)
	}
	c.mapFd = int(fd)
	prog := []bpfInsn{
		insn(0x85, 0, 0, 0, bpfFuncGetSMPProcID),    // r0 = cpu
		insn(0x63, 10, 0, -4, 0),                    // *(u32 *)(r10-4) = r0
		insn(0x18, 1, bpfPseudoMapFd, 0, int32(fd)), // r1 = map (ld_imm64, 2 slots)
		insn(0, 0, 0, 0, 0),                         //
		insn(0xbf, 2, 10, 0, 0),                     // r2 = r10
		insn(0x07, 2, 0, 0, -4),                     // r2 += -4
		insn(0x85, 0, 0, 0, bpfFuncMapLookupElem),   // r0 = &count[cpu]
		insn(0x15, 0, 0, 2, 0),                      // if r0 == 0 goto +2
		insn(0xb7, 1, 0, 0, 1),                      // r1 = 1
		insn(0xdb, 0, 1, 0, 0),                      // lock *(u64 *)(r0+0) += r1
		insn(0xb7, 0, 0, 0, -1),                     // r0 = -1: keep the whole frame
		insn(0x95, 0, 0, 0, 0),                      // exit
	}
	fd2, err := loadSocketFilter(prog)
	if err != nil {
		_ = c.Close()
		return nil, err
	}
	c.progFd = fd2
	size := (c.ncpu*8 + unix.Getpagesize() - 1) / unix.Getpagesize() * unix.Getpagesize()
	mem, err := unix.Mmap(c.mapFd, 0, size, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		_ = c.Close()
		return nil, wrap("mmap bpf map", err)
	}
	c.mem = mem
	// The counts stay readable after Close (a worker may still look at
	// them while its port goes away); the mapping goes with the counter.
	runtime.AddCleanup(c, func(m []byte) { _ = unix.Munmap(m) }, mem)
	return c, nil
}

// possibleCPUs is the number of CPU ids the kernel may report: one more
// than the highest in /sys/devices/system/cpu/possible ("0-3", "0,2-5").
// runtime.NumCPU counts only the CPUs this process may run on.
func possibleCPUs() int {
	n := runtime.NumCPU()
	b, err := os.ReadFile("/sys/devices/system/cpu/possible")
	if err != nil {
		return n
	}
	s := strings.TrimSpace(string(b))
	if i := strings.LastIndexAny(s, ",-"); i >= 0 {
		s = s[i+1:]
	}
	if v, err := strconv.Atoi(s); err == nil && v+1 > n && v < 1<<16 {
		n = v + 1
	}
	return n
}

// progLoadAttr is the head of union bpf_attr for BPF_PROG_LOAD. The
// pointers are Go pointers, so that the runtime keeps what they point to
// where they say while the kernel reads it (a uintptr in a byte array
// would not be updated if the stack moved).
type progLoadAttr struct {
	progType uint32
	insnCnt  uint32
	insns    unsafe.Pointer
	license  unsafe.Pointer
	logLevel uint32
	logSize  uint32
	logBuf   unsafe.Pointer
	_        [128 - 40]byte // the rest of the union, zero
}

// loadSocketFilter loads prog as a BPF_PROG_TYPE_SOCKET_FILTER program,
// without a verifier log; if the kernel refuses it, once more with a log
// for the error message.
func loadSocketFilter(prog []bpfInsn) (int, error) {
	license := []byte("GPL\x00")
	attr := progLoadAttr{progType: bpfProgTypeSockFiltr, insnCnt: uint32(len(prog)),
		insns: unsafe.Pointer(&prog[0]), license: unsafe.Pointer(&license[0])}
	fd, e := progLoad(&attr)
	if e == 0 {
		return fd, nil
	}
	log := make([]byte, 64<<10)
	attr.logLevel, attr.logSize, attr.logBuf = 1, uint32(len(log)), unsafe.Pointer(&log[0])
	fd, e2 := progLoad(&attr)
	if e2 == 0 { // a load that works only with a log: keep it
		return fd, nil
	}
	return -1, fmt.Errorf("bpf prog load: %w (%s)", wrap("", e), unix.ByteSliceToString(log))
}

// progLoad is BPF_PROG_LOAD, again while it fails with EAGAIN: the
// verifier gives up with EAGAIN when a signal is pending, and the Go
// runtime signals its threads (SIGURG) to preempt goroutines; a CI run
// saw both loads of one filter fail so. 20 tries, as cilium/ebpf does
// for the same reason; a verdict of the verifier comes back at once.
func progLoad(attr *progLoadAttr) (int, unix.Errno) {
	var (
		fd uintptr
		e  unix.Errno
	)
	for range 20 {
		fd, _, e = unix.Syscall(unix.SYS_BPF, bpfProgLoad, uintptr(unsafe.Pointer(attr)), unsafe.Sizeof(*attr))
		if e != unix.EAGAIN {
			break
		}
	}
	return int(fd), e
}

// Attach sets the counting filter on the packet socket fd.
func (c *CPUCounter) Attach(fd int) error {
	return wrap("SO_ATTACH_BPF", unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ATTACH_BPF, c.progFd))
}

// AttachTun sets the counting filter on a TAP (TUNSETFILTEREBPF, the
// device's transmit path, which runs on the sender's CPU).
func (c *CPUCounter) AttachTun(fd int) error { return setTunFilter(fd, c.progFd) }

// DetachTunFilter takes a TUNSETFILTEREBPF filter off a TAP.
func DetachTunFilter(fd int) error { return setTunFilter(fd, -1) }

func setTunFilter(fd, prog int) error {
	v := int32(prog)
	return wrap("TUNSETFILTEREBPF", ioctl(fd, unix.TUNSETFILTEREBPF, unsafe.Pointer(&v)))
}

// NumCPU is the number of counts.
func (c *CPUCounter) NumCPU() int { return c.ncpu }

// Count is the number of frames received on cpu so far. No allocation,
// no system call.
func (c *CPUCounter) Count(cpu int) uint64 {
	return atomic.LoadUint64((*uint64)(unsafe.Pointer(&c.mem[cpu*8])))
}

// Close releases the map's and the program's descriptors (a socket
// holding the filter keeps its own reference). Counts stay readable until
// c is garbage.
func (c *CPUCounter) Close() error {
	for _, fd := range []*int{&c.progFd, &c.mapFd} {
		if *fd >= 0 {
			_ = unix.Close(*fd)
			*fd = -1
		}
	}
	return nil
}

// SetThreadCPU binds the calling thread to one CPU, or with cpu -1 lets
// it run on any CPU the process may use (the goroutine must be locked to
// its thread: runtime.LockOSThread). A worker calls it from its loop: it
// allocates only to report an error.
func SetThreadCPU(cpu int) error {
	set := processCPUs
	if cpu >= 0 {
		set = unix.CPUSet{}
		set.Set(cpu)
	}
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		return wrap("sched_setaffinity cpu "+strconv.Itoa(cpu), err)
	}
	return nil
}

// processCPUs is the process's CPU set at start, before any thread was
// bound.
var processCPUs = func() unix.CPUSet {
	var set unix.CPUSet
	if unix.SchedGetaffinity(0, &set) != nil || set.Count() == 0 {
		for i := 0; i < possibleCPUs(); i++ {
			set.Set(i)
		}
	}
	return set
}()
