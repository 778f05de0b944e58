package dataplane

import (
	"errors"
	"testing"
)

type fakeCounts []uint64

func (c fakeCounts) NumCPU() int          { return len(c) }
func (c fakeCounts) Count(cpu int) uint64 { return c[cpu] }

func TestCPUFollower(t *testing.T) {
	counts := make(fakeCounts, 4)
	counts[2] = 1000 // before init: not counted
	var bound []int
	fail := false
	var f cpuFollower
	f.init(counts, func(cpu int) error {
		if fail {
			return errors.New("sched_setaffinity: invalid argument")
		}
		bound = append(bound, cpu)
		return nil
	})
	now := int64(0)
	step := func(add ...uint64) bool {
		for i, a := range add {
			counts[i] += a
		}
		now += followEvery
		return f.check(now)
	}
	for _, c := range []struct {
		add   []uint64
		moved bool
		cpu   int
	}{
		{[]uint64{0, 0, 0, 0}, false, -1},    // nothing arrived
		{[]uint64{0, 15, 0, 0}, false, -1},   // a trickle
		{[]uint64{0, 100, 10, 0}, true, 1},   // the sender is on CPU 1
		{[]uint64{0, 100, 150, 0}, false, 1}, // not twice as many elsewhere
		{[]uint64{0, 50, 100, 0}, true, 2},   // twice as many on CPU 2
		{[]uint64{300, 0, 0, 0}, true, 0},    // moved at once
		{[]uint64{300, 0, 0, 1000}, true, 3}, // the last CPU counts too
		{[]uint64{10, 0, 0, 0}, false, 3},    // the sender stopped
	} {
		if got := step(c.add...); got != c.moved || f.cpu != c.cpu {
			t.Fatalf("after %v: moved %v cpu %d, want %v %d", c.add, got, f.cpu, c.moved, c.cpu)
		}
	}
	if len(bound) != 4 || f.moves != 4 {
		t.Fatalf("bound %v moves %d", bound, f.moves)
	}
	// Not time to look yet: nothing happens, the counts wait.
	counts[1] += 1000
	if f.check(now + followEvery/2) {
		t.Fatal("looked before followEvery")
	}
	// A failed bind leaves the worker where it was.
	fail = true
	if step() || f.cpu != 3 {
		t.Fatalf("moved on a failed bind: cpu %d", f.cpu)
	}
	fail = false
	if n := testing.AllocsPerRun(100, func() {
		counts[0] += 100
		counts[1] += 100
		now += followEvery
		f.check(now)
	}); n != 0 {
		t.Fatalf("%v allocations per check", n)
	}
}
