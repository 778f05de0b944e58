package sys

import (
	"errors"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"flowpath/internal/errs"
	"golang.org/x/sys/unix"
)

func TestErrorWrap(t *testing.T) {
	err := wrap("bind", unix.ENODEV)
	if !errors.Is(err, errs.ErrNoDevice) || !errors.Is(err, syscall.ENODEV) || err.Error() != "bind: no such device" {
		t.Fatalf("%v", err)
	}
	if errs.Code(err) != "ENODEV" {
		t.Fatalf("code %q", errs.Code(err))
	}
	if err := wrap("x", unix.EIO); errors.Is(err, errs.ErrInvalid) || !errors.Is(err, syscall.EIO) {
		t.Fatalf("%v", err)
	}
	if wrap("x", nil) != nil {
		t.Fatal("nil")
	}
}

func TestInterfaceLookups(t *testing.T) {
	idx, err := InterfaceIndex("lo")
	if err != nil || idx <= 0 {
		t.Fatalf("lo: %d %v", idx, err)
	}
	if mtu, err := InterfaceMTU("lo"); err != nil || mtu < 1500 {
		t.Fatalf("lo mtu %d %v", mtu, err)
	}
	if mac, err := InterfaceMAC("lo"); err != nil || mac != ([6]byte{}) {
		t.Fatalf("lo mac %v %v", mac, err)
	}
	if _, err := InterfaceIndex("nosuchdev9"); !errors.Is(err, errs.ErrNoDevice) {
		t.Fatalf("missing: %v", err)
	}
	if _, err := InterfaceIndex("a-name-longer-than-ifnamsiz"); !errors.Is(err, errs.ErrInvalid) {
		t.Fatalf("long name: %v", err)
	}
}

func TestPpollEventfd(t *testing.T) {
	efd, err := Eventfd()
	if err != nil {
		t.Fatal(err)
	}
	defer Close(efd)
	fds := []PollFd{{Fd: int32(efd), Events: POLLIN}}
	// A signal (the Go runtime's preemption, SIGURG) may interrupt a
	// poll; the ports poll again, and so does the test.
	poll := func(d time.Duration) (int, syscall.Errno) {
		for {
			if n, e := Ppoll(fds, d); e != EINTR {
				return n, e
			}
		}
	}
	t0 := time.Now()
	if n, e := poll(20 * time.Millisecond); n != 0 || e != 0 {
		t.Fatalf("idle poll: %d %v", n, e)
	}
	if d := time.Since(t0); d < 20*time.Millisecond {
		t.Fatalf("timeout after %v", d)
	}
	go func() {
		time.Sleep(10 * time.Millisecond)
		EventfdSignal(efd)
	}()
	t0 = time.Now()
	if n, e := poll(10 * time.Second); n != 1 || e != 0 || fds[0].Revents&POLLIN == 0 {
		t.Fatalf("woken poll: %d %v", n, e)
	}
	if d := time.Since(t0); d > 5*time.Second {
		t.Fatal("not woken")
	}
	// Stays readable for every later poller.
	if allocs := testing.AllocsPerRun(100, func() {
		if n, _ := Ppoll(fds, time.Millisecond); n != 1 {
			t.Fatal("not readable")
		}
	}); allocs != 0 {
		t.Fatalf("Ppoll allocates %v", allocs)
	}
}

func TestReadvWritevNoAllocs(t *testing.T) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	hdr, body := []byte("0123456789"), make([]byte, 1000)
	in := make([]Iovec, 2)
	SetIovec(&in[0], hdr)
	SetIovec(&in[1], body)
	rh, rb := make([]byte, 10), make([]byte, 2000)
	out := make([]Iovec, 2)
	SetIovec(&out[0], rh)
	SetIovec(&out[1], rb)
	allocs := testing.AllocsPerRun(100, func() {
		if n, e := Writev(p[1], in); n != 1010 || e != 0 {
			t.Fatalf("writev %d %v", n, e)
		}
		if n, e := Readv(p[0], out); n != 1010 || e != 0 {
			t.Fatalf("readv %d %v", n, e)
		}
	})
	if allocs != 0 || string(rh) != "0123456789" {
		t.Fatalf("allocs %v", allocs)
	}
}

func TestSendmmsgNoAllocs(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	msgs := make([]Mmsghdr, 4)
	iovs := make([][2]Iovec, 4)
	a, b := []byte("head"), []byte("body")
	for i := range msgs {
		SetIovec(&iovs[i][0], a)
		SetIovec(&iovs[i][1], b)
		SetMsgIov(&msgs[i].Hdr, iovs[i][:])
	}
	buf := make([]byte, 64)
	allocs := testing.AllocsPerRun(100, func() {
		if n, e := Sendmmsg(fds[0], msgs, MsgDontwait); n != 4 || e != 0 {
			t.Fatalf("sendmmsg %d %v", n, e)
		}
		for i := 0; i < 4; i++ {
			if n, e := Read(fds[1], buf); n != 8 || e != 0 || string(buf[:8]) != "headbody" {
				t.Fatalf("read %d %v", n, e)
			}
		}
	})
	if allocs != 0 {
		t.Fatalf("allocs %v", allocs)
	}
}

// TestGate hammers Enter/Exit from several goroutines while Close and
// Wait run: once Wait returns no slot may be in use, and no Enter may
// succeed afterwards.
func TestGate(t *testing.T) {
	for round := 0; round < 50; round++ {
		var g Gate
		var inside [4]int32
		slots := make([]*Slot, 4)
		for i := range slots {
			slots[i] = g.NewSlot()
		}
		var closedWait sync.WaitGroup
		var mu sync.Mutex // protects inside and violation (test bookkeeping only)
		released := false
		violation := false
		var wg sync.WaitGroup
		for i, s := range slots {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := 0; k < 2000; k++ {
					if !s.Enter() {
						return
					}
					mu.Lock()
					if released {
						violation = true
					}
					inside[i]++
					mu.Unlock()
					s.Exit()
				}
			}()
		}
		closedWait.Add(1)
		go func() {
			defer closedWait.Done()
			time.Sleep(time.Duration(round%5) * 100 * time.Microsecond)
			if !g.Close() {
				t.Error("first close")
			}
			g.Wait()
			mu.Lock()
			released = true
			mu.Unlock()
		}()
		closedWait.Wait()
		wg.Wait()
		if violation {
			t.Fatal("a slot was entered after Wait returned")
		}
		if g.Close() || slots[0].Enter() {
			t.Fatal("gate reopened")
		}
	}
}

func TestReleaseAtLeast(t *testing.T) {
	for _, c := range []struct {
		rel  string
		want bool
	}{
		{"6.18.44-fc-v1272", true}, {"6.2.0", true}, {"6.2", true}, {"6.1.0-18-amd64", false},
		{"5.19.17", false}, {"7.0-rc1", true}, {"6.10", true}, {"garbage", false}, {"", false}, {"6.x", false},
	} {
		if got := releaseAtLeast(c.rel, 6, 2); got != c.want {
			t.Errorf("releaseAtLeast(%q, 6, 2) = %v, want %v", c.rel, got, c.want)
		}
	}
	if !KernelAtLeast(2, 6) {
		t.Error("the running kernel is older than 2.6?")
	}
}

// TestSetThreadCPUNoAllocs: a following worker binds and unbinds its
// thread from its loop, which allocates nothing.
func TestSetThreadCPUNoAllocs(t *testing.T) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the bound thread ends with the goroutine
		if n := testing.AllocsPerRun(50, func() {
			if err := SetThreadCPU(0); err != nil {
				t.Error(err)
			}
			if err := SetThreadCPU(-1); err != nil {
				t.Error(err)
			}
		}); n != 0 {
			t.Errorf("%v allocations per bind and unbind", n)
		}
	}()
	<-done
}
