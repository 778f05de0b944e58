package sys

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"flowpath/internal/errs"

	"golang.org/x/sys/unix"
)

// maxCPUs is the number of CPUs a unix.CPUSet holds (CPU_SETSIZE).
var maxCPUs = len(unix.CPUSet{}) * 64

// ParseCPUList reads a CPU list in the kernel's format ("0", "0-3",
// "0,2,4-5"), as taskset -c and /sys/devices/system/cpu/online write it.
func ParseCPUList(s string) (unix.CPUSet, error) {
	var set unix.CPUSet
	bad := func() (unix.CPUSet, error) {
		return unix.CPUSet{}, fmt.Errorf("cpu list %q: %w", s, errs.ErrInvalid)
	}
	if strings.TrimSpace(s) == "" {
		return bad()
	}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return bad()
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return bad()
			}
		}
		if b >= maxCPUs {
			return bad()
		}
		for c := a; c <= b; c++ {
			set.Set(c)
		}
	}
	return set, nil
}

// PinProcess binds every thread of the process to the CPUs of set it may
// run on, and reports how many those are; threads created later inherit
// the binding from their creator. If set has no such CPU it fails before
// binding anything.
func PinProcess(set unix.CPUSet) (int, error) {
	var allowed, usable unix.CPUSet
	if err := unix.SchedGetaffinity(0, &allowed); err != nil {
		return 0, wrap("sched_getaffinity", err)
	}
	for c := 0; c < maxCPUs; c++ {
		if set.IsSet(c) && allowed.IsSet(c) {
			usable.Set(c)
		}
	}
	if usable.Count() == 0 {
		return 0, fmt.Errorf("no CPU of the set is online and allowed: %w", errs.ErrInvalid)
	}
	set = usable
	// A thread started during a pass by one not yet bound inherits the
	// old set: pass again until a pass finds no thread it had not seen.
	seen := map[int]bool{}
	for pass := 0; pass < 10; pass++ {
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return 0, fmt.Errorf("threads: %w", err)
		}
		fresh := 0
		for _, t := range tasks {
			tid, err := strconv.Atoi(t.Name())
			if err != nil || seen[tid] {
				continue
			}
			fresh++
			seen[tid] = true
			if err := unix.SchedSetaffinity(tid, &set); err != nil && err != unix.ESRCH {
				return 0, wrap("sched_setaffinity", err)
			}
		}
		if fresh == 0 {
			processCPUs = set // what a thread that stops following goes back to
			return set.Count(), nil
		}
	}
	return 0, fmt.Errorf("threads: still starting after 10 passes: %w", errs.ErrBusy)
}
