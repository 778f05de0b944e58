package nstest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netns"
)

// NS is a named network namespace made for one test.
type NS struct {
	Name string
}

// NeedRoot skips the test unless it runs as root.
func NeedRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (network namespaces)")
	}
	if err := NetlinkUsable(); err != nil {
		t.Skip(err)
	}
}

var (
	probeOnce sync.Once
	probeErr  error
)

// probeWait is how long the probe gives `ip netns add` to finish.
const probeWait = 5 * time.Second

// NetlinkUsable checks once per process that the kernel still performs
// netlink changes: it creates and deletes a namespace. When a task died
// holding the kernel's RTNL lock (a kernel BUG in a netlink handler does
// that), every such change blocks forever in uninterruptible sleep, and
// tests that create namespaces would hang until their timeout. The probe
// runs the command in the background and gives up after probeWait; the
// stuck process cannot be killed and is left behind.
func NetlinkUsable() error {
	probeOnce.Do(func() {
		name := fmt.Sprintf("fpt-probe-%d", os.Getpid())
		done := make(chan error, 1)
		go func() { done <- exec.Command("ip", "netns", "add", name).Run() }()
		select {
		case err := <-done:
			if err != nil {
				probeErr = fmt.Errorf("ip netns add: %v", err)
				return
			}
			go func() { _ = exec.Command("ip", "netns", "del", name).Run() }()
		case <-time.After(probeWait):
			probeErr = fmt.Errorf("netlink is wedged on this machine: `ip netns add` did not finish in %v "+
				"(a kernel task holds the RTNL lock, see dmesg; only a reboot frees it): namespace tests skipped", probeWait)
		}
	})
	return probeErr
}

// New creates namespace fpt-<role>-<pid> with lo up and deletes it when
// the test ends.
func New(t testing.TB, role string) *NS {
	t.Helper()
	NeedRoot(t)
	n := &NS{Name: fmt.Sprintf("fpt-%s-%d", role, os.Getpid())}
	exec.Command("ip", "netns", "del", n.Name).Run() // leftover of a killed run
	Run(t, "ip", "netns", "add", n.Name)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", n.Name).Run() })
	n.IP(t, "link", "set", "lo", "up")
	return n
}

// Run runs a command and fails the test if it fails.
func Run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// IP runs "ip -n <ns> args...".
func (n *NS) IP(t testing.TB, args ...string) string {
	t.Helper()
	return Run(t, "ip", append([]string{"-n", n.Name}, args...)...)
}

// Exec runs a command inside the namespace.
func (n *NS) Exec(t testing.TB, name string, args ...string) string {
	t.Helper()
	return Run(t, "ip", append([]string{"netns", "exec", n.Name, name}, args...)...)
}

// Do runs fn on a locked OS thread switched into the namespace. Sockets
// and file descriptors fn opens stay in the namespace afterwards.
func (n *NS) Do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		target, err := netns.GetFromName(n.Name)
		if err != nil {
			errc <- err
			return
		}
		defer target.Close()
		if err := netns.Set(target); err != nil {
			errc <- err
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err != nil {
			// The thread is stuck in the namespace: leave it locked so it
			// dies with this goroutine instead of running other code.
			errc <- fmt.Errorf("restore namespace: %w", err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// Veth creates a veth pair an (in a) ↔ bn (in b), both up. Deleting either
// namespace removes the pair.
func Veth(t testing.TB, a *NS, an string, b *NS, bn string) {
	t.Helper()
	a.IP(t, "link", "add", an, "type", "veth", "peer", "name", bn, "netns", b.Name)
	a.IP(t, "link", "set", an, "up")
	b.IP(t, "link", "set", bn, "up")
}

// Transfer sends size bytes over one TCP connection from client to a
// listener on addr ("10.x.y.z:port") in server and checks the server got
// exactly those bytes, in order. The data is a 1 MiB seeded pseudo-random
// block repeated with a running counter stamped into every 4 KiB, so
// reordering, loss, duplication and corruption are all caught while the
// check costs little more than a memcmp. It returns the time the transfer
// took.
func Transfer(t testing.TB, client, server *NS, addr string, size int, timeout time.Duration) time.Duration {
	t.Helper()
	var ln net.Listener
	if err := server.Do(func() (err error) {
		ln, err = net.Listen("tcp4", addr)
		return err
	}); err != nil {
		t.Fatalf("listen %s: %v", addr, err)
	}
	defer ln.Close()
	deadline := time.Now().Add(timeout)
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		c.SetDeadline(deadline)
		buf := make([]byte, 256<<10)
		exp := make([]byte, len(buf))
		off := 0
		for {
			n, err := c.Read(buf)
			if n > 0 {
				if off+n > size {
					done <- fmt.Errorf("received more than %d bytes", size)
					return
				}
				pattern(exp[:n], off)
				if !bytes.Equal(buf[:n], exp[:n]) {
					done <- fmt.Errorf("data differs in bytes %d..%d", off, off+n)
					return
				}
				off += n
			}
			if err == io.EOF {
				if off != size {
					err = fmt.Errorf("received %d of %d bytes", off, size)
				} else {
					err = nil
				}
				done <- err
				return
			}
			if err != nil {
				done <- fmt.Errorf("after %d bytes: %w", off, err)
				return
			}
		}
	}()
	var conn net.Conn
	if err := client.Do(func() (err error) {
		d := net.Dialer{Deadline: deadline}
		conn, err = d.Dial("tcp4", addr)
		return err
	}); err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	start := time.Now()
	conn.SetDeadline(deadline)
	buf := make([]byte, 256<<10)
	for off := 0; off < size; {
		b := buf[:min(size-off, len(buf))]
		pattern(b, off)
		if _, err := conn.Write(b); err != nil {
			conn.Close()
			t.Fatalf("write after %d bytes: %v", off, err)
		}
		off += len(b)
	}
	conn.Close()
	err := <-done
	elapsed := time.Since(start)
	if err != nil {
		t.Fatalf("receive: %v", err)
	}
	return elapsed
}

var block = func() []byte {
	b := make([]byte, 1<<20)
	rand.NewChaCha8([32]byte{1, 2, 3}).Read(b)
	return b
}()

// pattern fills b with the stream bytes at offset off.
func pattern(b []byte, off int) {
	for i := 0; i < len(b); {
		o := off + i
		n := copy(b[i:], block[o%len(block):])
		i += n
	}
	// Stamp the 4 KiB page index over the first 8 bytes of every page so
	// repeated 1 MiB blocks differ. b may start or end inside a stamp.
	end := off + len(b)
	for p := off &^ 4095; p < end; p += 4096 {
		var s [8]byte
		binary.LittleEndian.PutUint64(s[:], uint64(p>>12)+1)
		for q := max(p, off); q < min(p+8, end); q++ {
			b[q-off] = s[q-p]
		}
	}
}
