package control

// The control socket: the transport of the API in flowpath/api.
//
//	client ──line──► conn goroutine ──decode/check──► handler (one at a time)
//	       ◄──line── (one per conn)  ◄──────answer─── (serialised by s.handle)
//
// Each connection has its own goroutine that reads one JSON request per
// line and answers it before reading the next. Handler calls are
// serialised across all connections: the control plane has a single
// writer, and a handler may assume nothing else runs beside it. Nothing on
// the packet path ever takes this lock.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"flowpath/api"
	"flowpath/internal/errs"
)

// Handler answers one request. It is never called concurrently with
// itself. A nil answer means success with nothing to report.
type Handler func(*api.Request) *api.Response

// DefaultMaxLine bounds one request line. Requests are small; a longer
// line is a broken or hostile client.
const DefaultMaxLine = 1 << 20

// answerWriteTimeout bounds how long an answer may wait for a client that does
// not read: such a client must not pin a goroutine and its buffers forever.
const answerWriteTimeout = 10 * time.Second

// Server serves the control API on a unix socket.
type Server struct {
	handler Handler
	// MaxLine replaces DefaultMaxLine when non-zero. Set before Serve.
	MaxLine int
	// Ops is the set of operations accepted; others are answered with
	// EOPNOTSUPP without reaching the handler. NewServer fills it with
	// every operation of package api; add to it before Serve.
	Ops map[string]bool
	// Logf reports handler panics and connection trouble (default log.Printf).
	Logf func(format string, args ...any)

	handle sync.Mutex // serialises handler calls

	mu     sync.Mutex
	ln     *net.UnixListener
	path   string
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// NewServer returns a server that answers with h.
func NewServer(h Handler) *Server {
	return &Server{handler: h, Ops: DefaultOps(), conns: map[net.Conn]struct{}{}}
}

// DefaultOps returns the set of every operation defined by package api.
func DefaultOps() map[string]bool {
	m := map[string]bool{}
	for _, op := range []string{
		api.OpLinkAdd, api.OpLinkSet, api.OpLinkDel, api.OpLinkShow,
		api.OpAddrAdd, api.OpAddrDel, api.OpAddrShow, api.OpAddrFlush,
		api.OpRouteAdd, api.OpRouteReplace, api.OpRouteAppend, api.OpRoutePrepend, api.OpRouteChange, api.OpRouteDel,
		api.OpRouteShow, api.OpRouteFlush, api.OpRouteGet,
		api.OpRuleAdd, api.OpRuleDel, api.OpRuleShow,
		api.OpNeighAdd, api.OpNeighReplace, api.OpNeighChange, api.OpNeighDel,
		api.OpNeighShow, api.OpNeighFlush,
		api.OpFDBAdd, api.OpFDBAppend, api.OpFDBReplace, api.OpFDBDel, api.OpFDBShow,
		api.OpStats, api.OpSysctlSet, api.OpSysctlShow,
	} {
		m[op] = true
	}
	return m
}

// Listen creates the socket at path: the parent directory is created
// (0755) if missing, a stale socket left by a dead daemon is removed, and
// the socket is made 0600 (only root talks to the daemon). If a daemon
// answers on path, Listen refuses.
func (s *Server) Listen(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	if err := removeStale(path); err != nil {
		return err
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	// Only the listener we created removes the file on Close.
	ln.SetUnlinkOnClose(true)
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return fmt.Errorf("control socket: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		ln.Close()
		return errors.New("control socket: server closed")
	}
	if s.ln != nil {
		ln.Close()
		return errors.New("control socket: already listening on " + s.path)
	}
	s.ln, s.path = ln, path
	return nil
}

// removeStale removes path if it is a socket nobody listens on. It
// refuses to touch anything that is not a socket, and a live socket.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return fmt.Errorf("control socket: %s exists and is not a socket", path)
	}
	conn, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		conn.Close()
		return fmt.Errorf("another flowpathd is running on %s: %w", path, errs.ErrAddrInUse)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) && !errors.Is(err, os.ErrNotExist) {
		// Something is there but we cannot tell whether it is alive
		// (EACCES, a timeout): leave it alone.
		return fmt.Errorf("control socket: cannot tell whether %s is in use: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("control socket: remove stale %s: %w", path, err)
	}
	return nil
}

// Serve accepts connections until ctx is done or Close is called, then
// closes every connection, waits for their goroutines and returns nil. A
// failure of the listener itself is returned.
func (s *Server) Serve(ctx context.Context) error {
	s.mu.Lock()
	ln := s.ln
	s.mu.Unlock()
	if ln == nil {
		return errors.New("control socket: Serve before Listen")
	}
	stop := context.AfterFunc(ctx, func() { s.Close() })
	defer stop()
	for {
		conn, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if !closed && transientAccept(err) {
				// Out of descriptors: connections will close and free
				// some; the control plane must not die meanwhile.
				s.logf("control: accept: %v", err)
				time.Sleep(100 * time.Millisecond)
				continue
			}
			s.Close()
			s.wg.Wait()
			if closed {
				return nil
			}
			return fmt.Errorf("control socket: %w", err)
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			conn.Close()
			continue
		}
		s.conns[conn] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serveConn(conn)
	}
}

func transientAccept(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.ENOBUFS) ||
		errors.Is(err, syscall.ENOMEM)
}

// Close stops the listener (removing the socket file) and closes every
// connection. Serve returns once their goroutines are done. Close is
// idempotent.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var err error
	if s.ln != nil {
		err = s.ln.Close()
	}
	for c := range s.conns {
		c.Close()
	}
	return err
}

// Serve is Listen and Serve in one call.
func Serve(ctx context.Context, path string, h Handler) error {
	s := NewServer(h)
	if err := s.Listen(path); err != nil {
		return err
	}
	return s.Serve(ctx)
}

func (s *Server) logf(format string, args ...any) {
	if s.Logf != nil {
		s.Logf(format, args...)
		return
	}
	log.Printf(format, args...)
}

func (s *Server) serveConn(conn net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, conn)
		s.mu.Unlock()
		conn.Close()
	}()
	max := s.MaxLine
	if max <= 0 {
		max = DefaultMaxLine
	}
	rd := bufio.NewReaderSize(conn, 64<<10)
	for {
		line, tooLong, err := readRequestLine(rd, max)
		if tooLong {
			// The rest of the line is still in the stream: answer, and
			// hang up rather than read on out of step.
			s.answer(conn, errorAnswer(errs.ErrInvalid, fmt.Sprintf("request longer than %d bytes", max)))
			return
		}
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				s.logf("control: %v", err)
			}
			return
		}
		if blankLine(line) {
			continue
		}
		if !s.answer(conn, s.dispatch(line)) {
			return
		}
	}
}

// readRequestLine returns the next line without '\n'. If the line is
// longer than max it reports tooLong. A final line without '\n' before
// EOF is still a request.
func readRequestLine(rd *bufio.Reader, max int) (line []byte, tooLong bool, err error) {
	for {
		chunk, err := rd.ReadSlice('\n')
		n := len(chunk)
		if err == nil {
			n-- // the '\n'
		}
		if len(line)+n > max {
			return nil, true, nil
		}
		line = append(line, chunk[:n]...)
		switch {
		case err == nil:
			return line, false, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(line) > 0:
			return line, false, nil
		default:
			return nil, false, err
		}
	}
}

func blankLine(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' {
			return false
		}
	}
	return true
}

// dispatch checks one request line and, if it is well formed, hands it
// to the handler.
func (s *Server) dispatch(line []byte) *api.Response {
	var req api.Request
	if err := json.Unmarshal(line, &req); err != nil {
		return errorAnswer(errs.ErrInvalid, "malformed request: "+err.Error())
	}
	if req.Version != api.Version {
		return errorAnswer(errs.ErrInvalid, fmt.Sprintf("protocol version %d not supported (want %d)", req.Version, api.Version))
	}
	if !s.Ops[req.Op] {
		return errorAnswer(errs.ErrNotSupported, fmt.Sprintf("op %q", req.Op))
	}
	return s.call(&req)
}

// call runs the handler under the control-plane lock. A panic is turned
// into an error answer and logged with its stack: a bad request must not
// take the daemon, and its packet path, down with it.
func (s *Server) call(req *api.Request) (resp *api.Response) {
	s.handle.Lock()
	defer s.handle.Unlock()
	defer func() {
		if p := recover(); p != nil {
			s.logf("control: panic in handler for %s: %v\n%s", req.Op, p, debug.Stack())
			resp = &api.Response{Error: fmt.Sprintf("%s: internal error: %v", req.Op, p)}
		}
	}()
	resp = s.handler(req)
	if resp == nil {
		resp = &api.Response{}
	}
	return resp
}

// answer writes one response line; false means the connection is dead.
func (s *Server) answer(conn net.Conn, resp *api.Response) bool {
	b, err := json.Marshal(resp)
	if err != nil {
		// Only a handler putting something unencodable in a Response
		// gets here (there is no such field today).
		b, _ = json.Marshal(errorAnswer(errs.ErrInvalid, "encode answer: "+err.Error()))
	}
	b = append(b, '\n')
	if err := conn.SetWriteDeadline(time.Now().Add(answerWriteTimeout)); err != nil {
		return false
	}
	if _, err := conn.Write(b); err != nil {
		if !errors.Is(err, net.ErrClosed) {
			s.logf("control: write answer: %v", err)
		}
		return false
	}
	return true
}

// errorAnswer is an error answer for a sentinel of internal/errs, in the form
// every other part of the control plane uses: "context: sentinel text".
func errorAnswer(sentinel error, context string) *api.Response {
	err := fmt.Errorf("%s: %w", context, sentinel)
	return &api.Response{Error: err.Error(), Code: errs.Code(err)}
}
