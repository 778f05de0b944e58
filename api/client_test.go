package api

import (
	"bufio"
	"encoding/json"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeDaemon listens on a unix socket in a temp dir and answers each
// request line with whatever answer returns (nil: say nothing).
func fakeDaemon(t *testing.T, answer func(line []byte) []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "d.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				sc := bufio.NewScanner(c)
				sc.Buffer(nil, 1<<20)
				for sc.Scan() {
					out := answer(sc.Bytes())
					if out == nil {
						continue
					}
					if _, err := c.Write(out); err != nil {
						return
					}
				}
			}()
		}
	}()
	return path
}

// echoOp answers with a Response whose Error is "op=<op> version=<v>",
// so the test sees what arrived.
func echoOp(line []byte) []byte {
	var req Request
	if err := json.Unmarshal(line, &req); err != nil {
		return []byte(`{"error":"bad json","code":"EINVAL"}` + "\n")
	}
	resp := Response{Error: "op=" + req.Op + " version=" + itoa(req.Version), Code: "EEXIST"}
	b, _ := json.Marshal(&resp)
	return append(b, '\n')
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

func TestDoRoundTripsAndSetsVersion(t *testing.T) {
	path := fakeDaemon(t, echoOp)
	c, err := Dial(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i, op := range []string{OpRouteAdd, OpLinkShow, OpStats} {
		req := &Request{Op: op, Version: 99}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if want := "op=" + op + " version=1"; resp.Error != want {
			t.Fatalf("request %d: daemon saw %q, want %q", i, resp.Error, want)
		}
		if req.Version != 99 {
			t.Fatalf("Do modified the caller's request")
		}
		var apiErr *Error
		if !errors.As(resp.Err(), &apiErr) || apiErr.Code != "EEXIST" {
			t.Fatalf("Err() = %v, want an *Error with EEXIST", resp.Err())
		}
	}
}

func TestResponseErrNilOnSuccess(t *testing.T) {
	if err := (&Response{}).Err(); err != nil {
		t.Fatalf("Err() on success = %v", err)
	}
	var r *Response
	if err := r.Err(); err != nil {
		t.Fatalf("Err() on nil = %v", err)
	}
}

func TestDoLargeAnswer(t *testing.T) {
	var routes []Route
	for i := 0; i < 20000; i++ {
		routes = append(routes, Route{Dst: "10.0.0.0/8", Dev: strings.Repeat("x", 40)})
	}
	big, _ := json.Marshal(&Response{Routes: routes})
	big = append(big, '\n')
	if len(big) < 1<<20 {
		t.Fatalf("test answer only %d bytes", len(big))
	}
	path := fakeDaemon(t, func([]byte) []byte { return big })
	c, err := Dial(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := 0; i < 2; i++ {
		resp, err := c.Do(&Request{Op: OpRouteShow})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Routes) != len(routes) {
			t.Fatalf("got %d routes, want %d", len(resp.Routes), len(routes))
		}
	}
}

func TestDoTimesOutOnSilentDaemon(t *testing.T) {
	path := fakeDaemon(t, func([]byte) []byte { return nil })
	c, err := Dial(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Timeout = 150 * time.Millisecond
	start := time.Now()
	_, err = c.Do(&Request{Op: OpStats})
	if err == nil {
		t.Fatal("Do on a silent daemon succeeded")
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("error %v is not a timeout", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("timeout took %v", d)
	}
	// The stream is now out of step: the next answer could belong to
	// the request that timed out, so the client refuses to go on.
	if _, err := c.Do(&Request{Op: OpStats}); err == nil {
		t.Fatal("Do after a timeout succeeded")
	}
}

func TestDoGarbageAndEOF(t *testing.T) {
	for name, answer := range map[string][]byte{
		"garbage":   []byte("this is not json\n"),
		"truncated": []byte(`{"error":"x"`), // then the connection closes
	} {
		t.Run(name, func(t *testing.T) {
			path := fakeDaemon(t, func([]byte) []byte { return answer })
			conn, err := net.Dial("unix", path)
			if err != nil {
				t.Fatal(err)
			}
			c := NewClient(conn)
			defer c.Close()
			c.Timeout = time.Second
			if name == "truncated" {
				// Half-close our side: the fake daemon sees EOF and hangs
				// up, leaving the client with half an answer.
				go func() {
					time.Sleep(50 * time.Millisecond)
					conn.(*net.UnixConn).CloseWrite()
				}()
			}
			if _, err := c.Do(&Request{Op: OpStats}); err == nil {
				t.Fatal("Do succeeded on a bad answer")
			}
		})
	}
}

func TestDoAnswerTooLong(t *testing.T) {
	// A peer that sends an endless line is cut off rather than buffered.
	server, client := net.Pipe()
	defer server.Close()
	go func() {
		rd := bufio.NewReader(server)
		rd.ReadBytes('\n')
		chunk := []byte(strings.Repeat("x", 1<<16))
		for {
			if _, err := server.Write(chunk); err != nil {
				return
			}
		}
	}()
	c := NewClient(client)
	defer c.Close()
	c.MaxResponse = 1 << 20
	_, err := c.Do(&Request{Op: OpStats})
	if err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Fatalf("err = %v, want a line-too-long error", err)
	}
}

func TestDialNoDaemon(t *testing.T) {
	if _, err := Dial(filepath.Join(t.TempDir(), "none.sock")); err == nil {
		t.Fatal("Dial to a missing socket succeeded")
	}
}

func TestClosedClient(t *testing.T) {
	path := fakeDaemon(t, echoOp)
	c, err := Dial(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := c.Do(&Request{Op: OpStats}); err == nil {
		t.Fatal("Do on a closed client succeeded")
	}
	if _, err := c.Do(nil); err == nil {
		t.Fatal("Do(nil) succeeded")
	}
}

func TestConcurrentDoKeepsAnswersInStep(t *testing.T) {
	path := fakeDaemon(t, echoOp)
	c, err := Dial(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ops := []string{OpRouteAdd, OpRouteDel, OpLinkShow, OpNeighAdd, OpRuleShow}
	var wg sync.WaitGroup
	errc := make(chan error, 100)
	for g := 0; g < 10; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				op := ops[(g+i)%len(ops)]
				resp, err := c.Do(&Request{Op: op})
				if err != nil {
					errc <- err
					return
				}
				if !strings.HasPrefix(resp.Error, "op="+op+" ") {
					errc <- errors.New("answer " + resp.Error + " for " + op)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
}
