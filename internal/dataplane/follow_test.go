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
	const m = followMinFrames
	for _, c := range []struct {
		add     []uint64
		changed bool
		cpu     int
	}{
		{[]uint64{0, 0, 0, 0}, false, -1},         // nothing arrived
		{[]uint64{0, m - 1, 0, 0}, false, -1},     // a bulk transfer's super-frames
		{[]uint64{0, 3 * m, m, 0}, true, 1},       // a flood from CPU 1
		{[]uint64{0, 3 * m, 5 * m, 0}, false, 1},  // not twice as many elsewhere
		{[]uint64{0, 2 * m, 4 * m, 0}, true, 2},   // twice as many on CPU 2
		{[]uint64{10 * m, 0, 0, 0}, true, 0},      // moved at once
		{[]uint64{10 * m, 0, 0, 30 * m}, true, 3}, // the last CPU counts too
		{[]uint64{m / 2, 0, 0, 0}, false, 3},      // quiet: stays for a while
	} {
		if got := step(c.add...); got != c.changed || f.cpu != c.cpu {
			t.Fatalf("after %v: changed %v cpu %d, want %v %d", c.add, got, f.cpu, c.changed, c.cpu)
		}
	}
	if len(bound) != 4 || f.moves != 4 {
		t.Fatalf("bound %v moves %d", bound, f.moves)
	}
	// A flood again before followIdleLooks quiet looks: the count starts over.
	for i := 1; i < followIdleLooks-1; i++ {
		if step(m - 1) {
			t.Fatalf("quiet look %d changed the binding", i)
		}
	}
	if step(0, 0, 0, m) || f.cpu != 3 {
		t.Fatal("flood on the bound CPU")
	}
	for i := 1; i < followIdleLooks; i++ {
		if step() || f.cpu != 3 {
			t.Fatalf("let go after %d quiet looks", i)
		}
	}
	if !step() || f.cpu != -1 || bound[len(bound)-1] != -1 || f.moves != 4 {
		t.Fatalf("not let go after %d quiet looks: cpu %d bound %v", followIdleLooks, f.cpu, bound)
	}
	// Not time to look yet: nothing happens, the counts wait.
	counts[1] += 10 * m
	if f.check(now + followEvery/2) {
		t.Fatal("looked before followEvery")
	}
	// A failed bind leaves the worker where it was.
	fail = true
	if step() || f.cpu != -1 {
		t.Fatalf("moved on a failed bind: cpu %d", f.cpu)
	}
	fail = false
	if n := testing.AllocsPerRun(100, func() {
		counts[0] += 3 * m
		counts[1] += 3 * m
		now += followEvery
		f.check(now)
	}); n != 0 {
		t.Fatalf("%v allocations per check", n)
	}
}
