package sys

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"testing"

	"flowpath/internal/errs"

	"golang.org/x/sys/unix"
)

func TestParseCPUList(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []int
	}{
		{"0", []int{0}}, {"0-3", []int{0, 1, 2, 3}}, {"0,2,4-5", []int{0, 2, 4, 5}}, {" 1 , 3", []int{1, 3}},
		{"7-7", []int{7}},
	} {
		set, err := ParseCPUList(c.in)
		if err != nil {
			t.Fatalf("%q: %v", c.in, err)
		}
		if set.Count() != len(c.want) {
			t.Fatalf("%q: %d CPUs, want %v", c.in, set.Count(), c.want)
		}
		for _, cpu := range c.want {
			if !set.IsSet(cpu) {
				t.Fatalf("%q: CPU %d not set", c.in, cpu)
			}
		}
	}
	for _, bad := range []string{"", "x", "-1", "3-1", "1-", "0,,1", "1-2-3", "99999"} {
		if _, err := ParseCPUList(bad); !errors.Is(err, errs.ErrInvalid) {
			t.Errorf("%q: %v, want EINVAL", bad, err)
		}
	}
}

// TestPinProcess binds every thread of the test process to one CPU (and
// back): each thread's mask is the set, and a set of CPUs the process may
// not use is refused with nothing changed.
func TestPinProcess(t *testing.T) {
	var orig unix.CPUSet
	if err := unix.SchedGetaffinity(0, &orig); err != nil {
		t.Fatal(err)
	}
	first := -1
	for c := 0; c < maxCPUs && first < 0; c++ {
		if orig.IsSet(c) {
			first = c
		}
	}
	var one unix.CPUSet
	one.Set(first)
	// CPUs the process may not use are left out, and counted out.
	wide := one
	wide.Set(maxCPUs - 1)
	if n, err := PinProcess(wide); err != nil || n != 1 {
		t.Fatalf("pin: %d CPUs, %v", n, err)
	}
	defer func() {
		if _, err := PinProcess(orig); err != nil {
			t.Fatal(err)
		}
	}()
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		tid, _ := strconv.Atoi(task.Name())
		var got unix.CPUSet
		if err := unix.SchedGetaffinity(tid, &got); err != nil {
			continue // the thread ended
		}
		if got != one {
			t.Fatalf("thread %d not bound to CPU %d", tid, first)
		}
	}
	// A worker that followed its sender elsewhere and is let go returns to
	// the pinned set (--cpus with --follow-senders), not to every CPU.
	if other := lastCPU(orig); other != first {
		done := make(chan error)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread ends with it
			if err := SetThreadCPU(other); err != nil {
				done <- err
				return
			}
			if err := SetThreadCPU(-1); err != nil {
				done <- err
				return
			}
			var got unix.CPUSet
			if err := unix.SchedGetaffinity(0, &got); err != nil {
				done <- err
				return
			}
			if got != one {
				done <- fmt.Errorf("let go to %v, want the pinned CPU %d", got, first)
				return
			}
			done <- nil
		}()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	var none unix.CPUSet
	none.Set(maxCPUs - 1)
	if _, err := PinProcess(none); !errors.Is(err, errs.ErrInvalid) {
		t.Fatalf("pin to CPU %d: %v, want EINVAL", maxCPUs-1, err)
	}
	var cur unix.CPUSet
	unix.SchedGetaffinity(0, &cur)
	if cur != one {
		t.Fatal("a refused pin changed the mask")
	}
}

func lastCPU(set unix.CPUSet) int {
	last := -1
	for c := 0; c < maxCPUs; c++ {
		if set.IsSet(c) {
			last = c
		}
	}
	return last
}
