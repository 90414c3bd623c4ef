package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// pollConn is the HTTP/1.1 client of one long-polling member of the
// longpoll scenario: one connection, kept alive from poll to poll and used
// by the member's poller goroutine alone. The load client shares the
// machine of the server it measures, and net/http's Transport spends tens
// of microseconds of CPU on each answer (two goroutines per connection
// besides the caller, channel handoffs, a request and header maps built
// per poll); pollConn writes a request built once per since token from a
// reused buffer and reads the answer into reused buffers on the caller's
// goroutine.
type pollConn struct {
	addr    string        // host:port to dial
	tls     *tls.Config   // nil: plain http
	timeout time.Duration // of each exchange, from its start to the last byte
	limit   int           // longest body read
	path    string        // the request's path, without the query, for errors
	head    string        // the request line up to the since token
	tail    string        // after the since token: the rest of the request
	since   string        // the since token of req
	req     []byte        // the request for since
	conn    net.Conn      // nil: dial on the next exchange
	r       *bufio.Reader // reads conn
	body    []byte        // the last answer's body
}

// newPollConn returns the client of the member with the access token for
// GET /sync long-polls with the wait and filter, on the homeserver at
// base; each exchange may take up to timeout. It does not dial yet.
func newPollConn(base, token string, wait time.Duration, filter string, timeout time.Duration) (*pollConn, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("long-poll: %q is not an http(s) URL", base)
	}
	pc := &pollConn{addr: u.Host, timeout: timeout, limit: maxBenchBody}
	port := "80"
	if u.Scheme == "https" {
		port = "443"
		pc.tls = &tls.Config{ServerName: u.Hostname(), NextProtos: []string{"http/1.1"}}
	}
	if u.Port() == "" {
		pc.addr = net.JoinHostPort(u.Hostname(), port)
	}
	pc.path = strings.TrimRight(u.EscapedPath(), "/") + clientV3 + "/sync"
	q := url.Values{"timeout": {strconv.FormatInt(wait.Milliseconds(), 10)}, "filter": {filter}}
	pc.head = "GET " + pc.path + "?" + q.Encode()
	pc.tail = " HTTP/1.1\r\nHost: " + u.Host + "\r\nAuthorization: Bearer " + token + "\r\n\r\n"
	return pc, nil
}

// sync is GET /sync from since ("": an initial sync), as benchClient.sync
// is with the wait and filter of newPollConn. It returns the answer and the
// time from the start of the exchange to the last byte of the answer,
// without decoding; a non-2xx answer is a *matrixError. A kept-alive
// connection the server closed is replaced by a new one once; ctx ending
// ends the exchange and its connection.
func (pc *pollConn) sync(ctx context.Context, since string) (syncAnswer, time.Duration, error) {
	if pc.req == nil || since != pc.since {
		pc.since = since
		pc.req = append(pc.req[:0], pc.head...)
		if since != "" {
			pc.req = append(append(pc.req, "&since="...), url.QueryEscape(since)...)
		}
		pc.req = append(pc.req, pc.tail...)
	}
	var a syncAnswer
	status, took, err := pc.exchange(ctx)
	if err != nil {
		return a, took, fmt.Errorf("GET %s: %w", pc.path, err)
	}
	return a, took, decodeBenchAnswer(http.MethodGet, pc.path, status, pc.body, &a)
}

// exchange sends pc.req and reads the answer's body into pc.body, on the
// kept-alive connection or a new one.
func (pc *pollConn) exchange(ctx context.Context) (int, time.Duration, error) {
	start := time.Now()
	for {
		reused := pc.conn != nil
		if !reused {
			if err := pc.dial(ctx); err != nil {
				return 0, time.Since(start), err
			}
		}
		status, keep, err := pc.roundTrip(ctx, start)
		took := time.Since(start)
		if err == nil {
			if !keep {
				pc.close()
			}
			return status, took, nil
		}
		pc.close()
		if ctx.Err() != nil {
			return 0, took, ctx.Err()
		}
		if !reused || !closedByServer(err) {
			return 0, took, err
		}
	}
}

// closedByServer reports whether err is what reading or writing a
// connection the server has closed gives (http.ReadResponse reports an end
// before the status line as io.ErrUnexpectedEOF).
func closedByServer(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE)
}

func (pc *pollConn) dial(ctx context.Context) error {
	d := &net.Dialer{Timeout: pc.timeout}
	var err error
	if pc.tls != nil {
		pc.conn, err = (&tls.Dialer{NetDialer: d, Config: pc.tls}).DialContext(ctx, "tcp", pc.addr)
	} else {
		pc.conn, err = d.DialContext(ctx, "tcp", pc.addr)
	}
	if err != nil {
		return err
	}
	if pc.r == nil {
		pc.r = bufio.NewReader(pc.conn)
	} else {
		pc.r.Reset(pc.conn)
	}
	return nil
}

// close closes the connection, if any; the next exchange dials anew.
func (pc *pollConn) close() {
	if pc.conn != nil {
		pc.conn.Close()
		pc.conn = nil
	}
}

// roundTrip writes pc.req and reads the answer, by the deadline of the
// exchange begun at start or until ctx ends. keep is false when the
// connection cannot carry another request.
func (pc *pollConn) roundTrip(ctx context.Context, start time.Time) (status int, keep bool, err error) {
	conn := pc.conn
	if err := conn.SetDeadline(start.Add(pc.timeout)); err != nil {
		return 0, false, err
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := conn.Write(pc.req); err != nil {
		return 0, false, err
	}
	resp, err := http.ReadResponse(pc.r, nil)
	for err == nil && resp.StatusCode < 200 { // informational answers come before the answer
		resp, err = http.ReadResponse(pc.r, nil)
	}
	if err != nil {
		return 0, false, err
	}
	defer resp.Body.Close()
	if err := pc.readBody(resp.Body); err != nil {
		return 0, false, err
	}
	return resp.StatusCode, !resp.Close, nil
}

// readBody reads a whole answer body into pc.body, reusing its storage.
func (pc *pollConn) readBody(body io.Reader) error {
	pc.body = pc.body[:0]
	for {
		if len(pc.body) == cap(pc.body) {
			pc.body = slices.Grow(pc.body, 4096)
		}
		n, err := body.Read(pc.body[len(pc.body):cap(pc.body)])
		pc.body = pc.body[:len(pc.body)+n]
		if len(pc.body) > pc.limit {
			return fmt.Errorf("answer over %d bytes", pc.limit)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
