//go:build netns

package tests

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fpd is one flowpathd running in a namespace, with its own socket and
// log file; topo has one, tunNet one per flowpath VTEP.
type fpd struct {
	t      *testing.T
	ns     string
	sock   string
	logf   string
	cmd    *exec.Cmd
	exited chan struct{} // closed when flowpathd has exited (and been waited for)
}

// startFpd runs flowpathd in ns, with socket and log file named after ns
// in dir and the extra flags given. The caller records it, so that its
// close stops it before deleting ns even when the start fails, and then
// waits for it with waitAnswering.
func startFpd(t *testing.T, dir, ns string, flags ...string) *fpd {
	t.Helper()
	d := &fpd{t: t, ns: ns, sock: filepath.Join(dir, ns+".sock"), logf: filepath.Join(dir, ns+".log")}
	logFile, err := os.Create(d.logf)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close() // the child has its own descriptor
	// ip netns exec execs flowpathd in place: the PID is the daemon's.
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns, flowpathd, "--socket", d.sock}, flags...)...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("start flowpathd: %v", err)
	}
	d.cmd, d.exited = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); close(d.exited) }()
	return d
}

// waitAnswering waits until flowpathd answers on its socket.
func (d *fpd) waitAnswering() {
	d.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, _, code := d.fpctl("link", "show"); code == 0 {
			return
		}
		if d.hasExited() {
			d.t.Fatalf("flowpathd in %s exited at start (%v):\n%s", d.ns, d.cmd.ProcessState, d.log())
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("flowpathd in %s does not answer on %s:\n%s", d.ns, d.sock, d.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (d *fpd) log() string {
	b, _ := os.ReadFile(d.logf)
	return string(b)
}

// hasExited reports whether flowpathd has already exited.
func (d *fpd) hasExited() bool {
	select {
	case <-d.exited:
		return true
	default:
		return false
	}
}

// stop ends the daemon with SIGTERM (SIGKILL after 5 s) and reports its
// exit status: -1 if it had to be killed.
func (d *fpd) stop() int {
	if d.hasExited() {
		return d.cmd.ProcessState.ExitCode()
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
		return d.cmd.ProcessState.ExitCode()
	case <-time.After(5 * time.Second):
		d.t.Errorf("flowpathd in %s (pid %d) ignored SIGTERM for 5 s; killing it", d.ns, d.cmd.Process.Pid)
		_ = d.cmd.Process.Kill()
		<-d.exited
		return -1
	}
}

// fpctl runs fpctl against this daemon. fpctl reaches the daemon through
// the socket's path, so it runs in our own namespace.
func (d *fpd) fpctl(args ...string) (stdout, stderr string, code int) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, fpctlBin, append([]string{"--socket", d.sock}, args...)...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Run(); err != nil {
		code = -1
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		}
	}
	return o.String(), e.String(), code
}

// ctl runs fpctl and fails the test unless it succeeds.
func (d *fpd) ctl(args ...string) string {
	d.t.Helper()
	out, errOut, code := d.fpctl(args...)
	if code != 0 {
		d.t.Fatalf("fpctl (%s) %s: exit %d\n%s%s", d.ns, strings.Join(args, " "), code, out, errOut)
	}
	return out
}
