package api

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// DefaultTimeout bounds how long a client waits for the daemon: to connect,
// to send a request, and between any two pieces of an answer. A daemon
// that says nothing for this long is treated as gone.
const DefaultTimeout = 10 * time.Second

// MaxResponse bounds one response line. A route dump of a full Internet
// table is well under this; anything larger is a broken peer.
const MaxResponse = 256 << 20

// Client is one connection to flowpathd. Requests on a connection are
// answered in order, so Do sends one request and waits for its answer;
// concurrent calls are serialised.
type Client struct {
	// Timeout replaces DefaultTimeout for Do when non-zero.
	Timeout time.Duration
	// MaxResponse replaces the package's MaxResponse when non-zero.
	MaxResponse int

	mu     sync.Mutex
	conn   net.Conn
	rd     *bufio.Reader
	broken error // set after a transport error: the stream is out of step
}

// Dial connects to the daemon's unix socket at path.
func Dial(path string) (*Client, error) {
	conn, err := net.DialTimeout("unix", path, DefaultTimeout)
	if err != nil {
		return nil, err
	}
	return NewClient(conn), nil
}

// NewClient speaks the protocol over an established connection (a test
// may hand it one end of net.Pipe). The Client owns conn from now on.
func NewClient(conn net.Conn) *Client {
	c := &Client{conn: conn}
	c.rd = bufio.NewReaderSize(&deadlineReader{c: c}, 64<<10)
	return c
}

// deadlineReader pushes the read deadline forward before every read, so a
// large answer that keeps arriving is never cut off, while a daemon that
// goes silent for Timeout is.
type deadlineReader struct{ c *Client }

func (d *deadlineReader) Read(p []byte) (int, error) {
	if err := d.c.conn.SetReadDeadline(time.Now().Add(d.c.timeout())); err != nil {
		return 0, err
	}
	return d.c.conn.Read(p)
}

func (c *Client) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultTimeout
}

// Do sends req (with Version set to this package's Version) and returns
// the daemon's answer. A returned error means the exchange itself failed
// (connection, timeout, garbage on the wire); the connection is then
// unusable. An error the daemon reports is in Response.Error and
// Response.Code, with a nil error (Response.Err turns it into one).
func (c *Client) Do(req *Request) (*Response, error) {
	if req == nil {
		return nil, errors.New("api: nil request")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == nil {
		return nil, errors.New("api: client is closed")
	}
	if c.broken != nil {
		return nil, fmt.Errorf("api: connection unusable after earlier error: %w", c.broken)
	}
	r := *req // the caller's request is not modified
	r.Version = Version
	line, err := json.Marshal(&r)
	if err != nil {
		return nil, fmt.Errorf("api: encode request: %w", err)
	}
	line = append(line, '\n')
	if err := c.conn.SetWriteDeadline(time.Now().Add(c.timeout())); err != nil {
		return nil, c.fail(fmt.Errorf("api: %w", err))
	}
	if _, err := c.conn.Write(line); err != nil {
		return nil, c.fail(fmt.Errorf("api: send %s: %w", r.Op, err))
	}
	max := c.MaxResponse
	if max <= 0 {
		max = MaxResponse
	}
	answer, err := readLine(c.rd, max)
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, c.fail(fmt.Errorf("api: read answer to %s: %w", r.Op, err))
	}
	var resp Response
	if err := json.Unmarshal(answer, &resp); err != nil {
		return nil, c.fail(fmt.Errorf("api: decode answer to %s: %w", r.Op, err))
	}
	return &resp, nil
}

func (c *Client) fail(err error) error {
	c.broken = err
	return err
}

// readLine returns the next line without its '\n'; a line longer than max
// is an error (and the stream is left mid-line).
func readLine(rd *bufio.Reader, max int) ([]byte, error) {
	var line []byte
	for {
		chunk, err := rd.ReadSlice('\n')
		if len(line)+len(chunk) > max+1 {
			return nil, fmt.Errorf("line longer than %d bytes", max)
		}
		line = append(line, chunk...)
		switch {
		case err == nil:
			return line[:len(line)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(line) > 0:
			return nil, io.ErrUnexpectedEOF
		default:
			return nil, err
		}
	}
}

// Close closes the connection. Further Do calls fail.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == nil {
		return nil
	}
	err := c.conn.Close()
	c.conn = nil
	return err
}

// Error is a failure the daemon reported: Code is the errno name of the
// kernel's equivalent ("EEXIST"), Message the daemon's text.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string {
	if e.Code == "" {
		return e.Message
	}
	return e.Message + " (" + e.Code + ")"
}

// Err returns the daemon's error as an *Error, or nil on success.
func (r *Response) Err() error {
	if r == nil || (r.Error == "" && r.Code == "") {
		return nil
	}
	return &Error{Code: r.Code, Message: r.Error}
}
