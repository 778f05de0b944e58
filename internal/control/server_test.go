package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"flowpath/api"
)

// startServer serves h on a socket in a temp dir; the server stops at
// the end of the test and Serve's result is checked.
func startServer(t *testing.T, h Handler, tune func(*Server)) (*Server, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "run", "flowpathd.sock")
	s := NewServer(h)
	s.Logf = t.Logf
	if tune != nil {
		tune(s)
	}
	if err := s.Listen(path); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("Serve did not return after cancel")
		}
	})
	return s, path
}

// rawConn sends raw lines and reads raw answers.
type rawConn struct {
	t  *testing.T
	c  net.Conn
	rd *bufio.Reader
}

func dialRaw(t *testing.T, path string) *rawConn {
	t.Helper()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return &rawConn{t: t, c: c, rd: bufio.NewReader(c)}
}

func (r *rawConn) send(line string) {
	r.t.Helper()
	if _, err := r.c.Write([]byte(line)); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rawConn) recv() *api.Response {
	r.t.Helper()
	line, err := r.rd.ReadBytes('\n')
	if err != nil {
		r.t.Fatalf("read answer: %v", err)
	}
	var resp api.Response
	if err := json.Unmarshal(line, &resp); err != nil {
		r.t.Fatalf("answer %q: %v", line, err)
	}
	return &resp
}

// recording is a handler that records the ops it saw and answers each
// with the op in Error (Code "") so the test can match answers to requests.
type recording struct {
	mu  sync.Mutex
	ops []string
}

func (h *recording) handle(req *api.Request) *api.Response {
	h.mu.Lock()
	h.ops = append(h.ops, req.Op)
	h.mu.Unlock()
	if req.Op == api.OpStats {
		return nil
	}
	return &api.Response{Routes: []api.Route{{Dst: req.Op}}}
}

func (h *recording) seen() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.ops...)
}

func TestServerRoundTrip(t *testing.T) {
	h := &recording{}
	_, path := startServer(t, h.handle, nil)
	c, err := api.Dial(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ops := []string{api.OpRouteAdd, api.OpLinkShow, api.OpRouteDel}
	for _, op := range ops {
		resp, err := c.Do(&api.Request{Op: op})
		if err != nil {
			t.Fatal(err)
		}
		if resp.Error != "" || len(resp.Routes) != 1 || resp.Routes[0].Dst != op {
			t.Fatalf("answer to %s: %+v", op, resp)
		}
	}
	// A nil answer from the handler is a plain success.
	resp, err := c.Do(&api.Request{Op: api.OpStats})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Err() != nil || resp.Stats != nil {
		t.Fatalf("nil handler answer became %+v", resp)
	}
	if got := strings.Join(h.seen(), " "); got != strings.Join(append(ops, api.OpStats), " ") {
		t.Fatalf("handler saw %q", got)
	}
}

func TestServerRejectsBadRequests(t *testing.T) {
	h := &recording{}
	_, path := startServer(t, h.handle, nil)
	r := dialRaw(t, path)
	cases := []struct {
		line, code, text string
	}{
		{"{not json\n", "EINVAL", "malformed request"},
		{`{"version":1,"op":"route.add","route":{"dst":7}}` + "\n", "EINVAL", "malformed request"},
		{`{"op":"route.add"}` + "\n", "EINVAL", "protocol version 0 not supported"},
		{`{"version":2,"op":"route.add"}` + "\n", "EINVAL", "protocol version 2 not supported (want 1): invalid argument"},
		{`{"version":1,"op":"route.frobnicate"}` + "\n", "EOPNOTSUPP", `op "route.frobnicate": operation not supported`},
		{`{"version":1}` + "\n", "EOPNOTSUPP", "operation not supported"},
		{"[1,2,3]\n", "EINVAL", "malformed request"},
	}
	for _, c := range cases {
		r.send(c.line)
		resp := r.recv()
		if resp.Code != c.code || !strings.Contains(resp.Error, c.text) {
			t.Errorf("%q: answer %+v, want code %s and %q", c.line, resp, c.code, c.text)
		}
	}
	// Blank lines are skipped, and the connection still works after
	// all those errors.
	r.send("\n  \r\n" + `{"version":1,"op":"route.show"}` + "\n")
	if resp := r.recv(); resp.Error != "" || len(resp.Routes) != 1 {
		t.Fatalf("valid request after errors: %+v", resp)
	}
	if got := h.seen(); len(got) != 1 || got[0] != api.OpRouteShow {
		t.Fatalf("handler saw %v; bad requests must not reach it", got)
	}
}

func TestServerLastLineWithoutNewline(t *testing.T) {
	h := &recording{}
	_, path := startServer(t, h.handle, nil)
	r := dialRaw(t, path)
	r.send(`{"version":1,"op":"rule.show"}`)
	r.c.(*net.UnixConn).CloseWrite()
	if resp := r.recv(); resp.Error != "" || resp.Routes[0].Dst != api.OpRuleShow {
		t.Fatalf("answer %+v", resp)
	}
}

func TestServerLineTooLong(t *testing.T) {
	h := &recording{}
	_, path := startServer(t, h.handle, func(s *Server) { s.MaxLine = 1000 })
	r := dialRaw(t, path)
	// Exactly the limit is fine.
	pad := strings.Repeat(" ", 1000-len(`{"version":1,"op":"route.show"}`))
	r.send(`{"version":1,"op":"route.show"}` + pad + "\n")
	if resp := r.recv(); resp.Error != "" {
		t.Fatalf("request of exactly MaxLine bytes: %+v", resp)
	}
	r.send(`{"version":1,"op":"route.show"}` + pad + " \n")
	resp := r.recv()
	if resp.Code != "EINVAL" || !strings.Contains(resp.Error, "longer than 1000") {
		t.Fatalf("answer to a long line: %+v", resp)
	}
	// The server hung up.
	if _, err := r.rd.ReadByte(); err == nil {
		t.Fatal("connection still open after an over-long line")
	}
	if n := len(h.seen()); n != 1 {
		t.Fatalf("handler called %d times, want 1", n)
	}
}

func TestServerDefaultMaxLine(t *testing.T) {
	_, path := startServer(t, func(*api.Request) *api.Response { return nil }, nil)
	r := dialRaw(t, path)
	// The server hangs up part-way through: the write may fail, and
	// must not block the test.
	go r.c.Write([]byte(strings.Repeat("x", DefaultMaxLine+100000) + "\n"))
	if resp := r.recv(); resp.Code != "EINVAL" || !strings.Contains(resp.Error, "longer than") {
		t.Fatalf("answer %+v", resp)
	}
}

func TestServerRecoversHandlerPanic(t *testing.T) {
	var logged atomic.Value
	h := func(req *api.Request) *api.Response {
		if req.Op == api.OpRouteAdd {
			panic("boom in " + req.Route.Dst)
		}
		return &api.Response{}
	}
	_, path := startServer(t, h, func(s *Server) {
		s.Logf = func(format string, args ...any) { logged.Store(fmt.Sprintf(format, args...)) }
	})
	c, err := api.Dial(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	resp, err := c.Do(&api.Request{Op: api.OpRouteAdd, Route: &api.Route{Dst: "10.0.0.0/8"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(resp.Error, "internal error: boom in 10.0.0.0/8") {
		t.Fatalf("answer %+v", resp)
	}
	msg, _ := logged.Load().(string)
	if !strings.Contains(msg, "boom in 10.0.0.0/8") || !strings.Contains(msg, "goroutine") {
		t.Fatalf("panic not logged with its stack: %q", msg)
	}
	// The lock was released and the connection lives on.
	resp, err = c.Do(&api.Request{Op: api.OpRouteShow})
	if err != nil || resp.Err() != nil {
		t.Fatalf("after panic: %v %+v", err, resp)
	}
}

func TestServerSerialisesHandler(t *testing.T) {
	var inside, maxInside, calls atomic.Int32
	h := func(*api.Request) *api.Response {
		n := inside.Add(1)
		for {
			m := maxInside.Load()
			if n <= m || maxInside.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(200 * time.Microsecond)
		calls.Add(1)
		inside.Add(-1)
		return nil
	}
	_, path := startServer(t, h, nil)
	var wg sync.WaitGroup
	errc := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := api.Dial(path)
			if err != nil {
				errc <- err
				return
			}
			defer c.Close()
			for i := 0; i < 25; i++ {
				if _, err := c.Do(&api.Request{Op: api.OpRouteAdd}); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	if calls.Load() != 200 {
		t.Fatalf("%d handler calls, want 200", calls.Load())
	}
	if maxInside.Load() != 1 {
		t.Fatalf("%d handler calls ran at once", maxInside.Load())
	}
}

func TestListenCreatesDirAndSetsMode(t *testing.T) {
	_, path := startServer(t, func(*api.Request) *api.Response { return nil }, nil)
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %v, want a 0600 socket", fi.Mode())
	}
	di, err := os.Stat(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if di.Mode().Perm() != 0o755 {
		t.Fatalf("parent dir mode %v, want 0755", di.Mode().Perm())
	}
}

func TestListenRemovesStaleSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stale.sock")
	// A daemon that died leaves its socket file behind.
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("stale socket not left behind: %v", err)
	}
	s := NewServer(func(*api.Request) *api.Response { return nil })
	if err := s.Listen(path); err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	s.Close()
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket file left after Close: %v", err)
	}
}

func TestListenRefusesLiveSocket(t *testing.T) {
	_, path := startServer(t, func(*api.Request) *api.Response { return nil }, nil)
	s := NewServer(func(*api.Request) *api.Response { return nil })
	err := s.Listen(path)
	if err == nil {
		s.Close()
		t.Fatal("second Listen on a live socket succeeded")
	}
	if want := "another flowpathd is running on " + path; !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not say %q", err, want)
	}
	// The first daemon still answers.
	c, err := api.Dial(path)
	if err != nil {
		t.Fatalf("first daemon unreachable: %v", err)
	}
	c.Close()
}

func TestListenRefusesNonSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(path, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := NewServer(func(*api.Request) *api.Response { return nil })
	if err := s.Listen(path); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Fatalf("Listen over a regular file: %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "keep me" {
		t.Fatal("regular file was touched")
	}
}

func TestServeStopsOnCancelAndClosesConnections(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.sock")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, path, func(*api.Request) *api.Response { return nil }) }()
	var c *api.Client
	var err error
	for i := 0; i < 200; i++ {
		if c, err = api.Dial(path); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Do(&api.Request{Op: api.OpStats}); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
	}
	if _, err := c.Do(&api.Request{Op: api.OpStats}); err == nil {
		t.Fatal("connection still served after shutdown")
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket left after shutdown: %v", err)
	}
}

func TestServerMisuse(t *testing.T) {
	s := NewServer(func(*api.Request) *api.Response { return nil })
	if err := s.Serve(context.Background()); err == nil {
		t.Fatal("Serve before Listen succeeded")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := s.Listen(filepath.Join(t.TempDir(), "x.sock")); err == nil {
		t.Fatal("Listen after Close succeeded")
	}
}

func TestDefaultOpsCoverAPI(t *testing.T) {
	// Every Op* constant of package api must be served.
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "../../api/types.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	ops := DefaultOps()
	n := 0
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				if !strings.HasPrefix(name.Name, "Op") || i >= len(vs.Values) {
					continue
				}
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok {
					continue
				}
				op, _ := strconv.Unquote(lit.Value)
				n++
				if !ops[op] {
					t.Errorf("api.%s (%q) missing from DefaultOps", name.Name, op)
				}
			}
		}
	}
	if n != len(ops) {
		t.Errorf("DefaultOps has %d ops, api declares %d", len(ops), n)
	}
}

// FuzzServerDispatch: any line gets an answer, never a panic; only a
// well-formed request of a known op reaches the handler.
func FuzzServerDispatch(f *testing.F) {
	for _, seed := range []string{
		`{"version":1,"op":"route.add","route":{"dst":"10.0.0.0/8","dev":"eth0"}}`,
		`{"version":1,"op":"stats"}`,
		`{"version":2,"op":"stats"}`,
		`{"version":1,"op":"nope"}`,
		`{"version":1,"op":"link.set","link":{"name":"x","up":true,"mtu":-1}}`,
		`{`, `null`, `[]`, `"x"`, ``, `{"version":1e400}`,
	} {
		f.Add([]byte(seed))
	}
	s := NewServer(func(req *api.Request) *api.Response {
		if req.Version != api.Version || !DefaultOps()[req.Op] {
			panic("bad request reached the handler")
		}
		return &api.Response{}
	})
	f.Fuzz(func(t *testing.T, line []byte) {
		resp := s.dispatch(line)
		if resp == nil {
			t.Fatal("nil answer")
		}
		if resp.Error != "" && resp.Code != "EINVAL" && resp.Code != "EOPNOTSUPP" {
			t.Fatalf("answer %+v", resp)
		}
		if strings.Contains(resp.Error, "internal error") {
			t.Fatalf("handler reached with a bad request: %q", line)
		}
	})
}
