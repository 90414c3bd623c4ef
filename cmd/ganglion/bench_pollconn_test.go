package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// pollServer is a test server for pollConn: handle answers each request
// that has the path, token and query of a long-poll, and the server
// counts the connections it accepted and keeps what it wrote to them.
type pollServer struct {
	*httptest.Server
	conns atomic.Int64
	mu    sync.Mutex
	wrote strings.Builder
}

// tapListener is the listener of a pollServer.
type tapListener struct {
	net.Listener
	s *pollServer
}

func (l tapListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.s.conns.Add(1)
		c = tapConn{c, l.s}
	}
	return c, err
}

type tapConn struct {
	net.Conn
	s *pollServer
}

func (c tapConn) Write(p []byte) (int, error) {
	c.s.mu.Lock()
	c.s.wrote.Write(p)
	c.s.mu.Unlock()
	return c.Conn.Write(p)
}

// written is what the server wrote to its connections (in the clear when
// not over TLS).
func (s *pollServer) written() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.wrote.String()
}

func mustPollServer(t *testing.T, tls bool, handle func(w http.ResponseWriter, r *http.Request)) *pollServer {
	t.Helper()
	s := &pollServer{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if r.Method != http.MethodGet || r.URL.Path != "/base"+clientV3+"/sync" ||
			r.Header.Get("Authorization") != "Bearer tok" || q.Get("timeout") != "30000" || q.Get("filter") != benchPollFilter {
			t.Errorf("got %s %s with %q, want a long-poll", r.Method, r.URL, r.Header.Get("Authorization"))
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		handle(w, r)
	}))
	s.Listener = tapListener{s.Listener, s}
	if tls {
		s.StartTLS()
	} else {
		s.Start()
	}
	t.Cleanup(s.Close)
	return s
}

// mustPollConn returns a pollConn to s, each exchange bounded by timeout.
func mustPollConn(t *testing.T, s *pollServer, timeout time.Duration) *pollConn {
	t.Helper()
	pc, err := newPollConn(s.URL+"/base/", "tok", benchPollTimeout, benchPollFilter, timeout)
	if err != nil {
		t.Fatal(err)
	}
	if pc.tls != nil {
		pc.tls.RootCAs = x509.NewCertPool()
		pc.tls.RootCAs.AddCert(s.Certificate())
	}
	t.Cleanup(pc.close)
	return pc
}

// syncBody is a sync answer with next_batch after since and a message
// whose body has pad bytes.
func syncBody(since string, pad int) string {
	n, _ := strconv.Atoi(since)
	return fmt.Sprintf(`{"next_batch":"%d","rooms":{"join":{"!r":{"timeline":{"events":[`+
		`{"type":"m.room.message","sender":"@a","content":{"body":"%s"}}]}}}}}`, n+1, strings.Repeat("x", pad))
}

// mustPolls makes n polls from since "1", each from the next_batch of the
// one before, and checks their answers.
func mustPolls(t *testing.T, pc *pollConn, n, pad int) {
	t.Helper()
	since := "1"
	for i := range n {
		a, took, err := pc.sync(context.Background(), since)
		if err != nil {
			t.Fatalf("poll %d: %v", i, err)
		}
		want, _ := strconv.Atoi(since)
		if a.NextBatch != strconv.Itoa(want+1) || took <= 0 {
			t.Fatalf("poll %d: got next_batch %q, took %v; want %d and a time", i, a.NextBatch, took, want+1)
		}
		ev := a.Rooms.Join["!r"].Timeline.Events
		if len(ev) != 1 || ev[0].Sender != "@a" || len(ev[0].Content.Body) != pad {
			t.Fatalf("poll %d: got %d events, want one of @a with a body of %d bytes", i, len(ev), pad)
		}
		since = a.NextBatch
	}
}

// wantKeptAlive fails the test unless the server saw one connection.
func wantKeptAlive(t *testing.T, s *pollServer) {
	t.Helper()
	if got := s.conns.Load(); got != 1 {
		t.Errorf("got %d connections, want 1 kept alive", got)
	}
}

func TestPollConn_Sync(t *testing.T) {
	lengths := func(pad int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			body := syncBody(r.URL.Query().Get("since"), pad)
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			fmt.Fprint(w, body)
		}
	}
	t.Run("OK/ContentLength", func(t *testing.T) {
		s := mustPollServer(t, false, lengths(10000))
		mustPolls(t, mustPollConn(t, s, time.Minute), 5, 10000)
		wantKeptAlive(t, s)
	})
	t.Run("OK/Chunked", func(t *testing.T) {
		s := mustPollServer(t, false, func(w http.ResponseWriter, r *http.Request) {
			body := syncBody(r.URL.Query().Get("since"), 10000)
			w.Header().Set("Trailer", "X-Bench")
			fmt.Fprint(w, body[:20])
			w.(http.Flusher).Flush() // headers out without a length: the body is chunked
			fmt.Fprint(w, body[20:5000])
			w.(http.Flusher).Flush()
			fmt.Fprint(w, body[5000:])
			w.Header().Set("X-Bench", "trailer")
		})
		mustPolls(t, mustPollConn(t, s, time.Minute), 5, 10000)
		wantKeptAlive(t, s)
		wire := s.written()
		if n := strings.Count(wire, "Transfer-Encoding: chunked\r\n"); n != 5 || strings.Count(wire, "\r\nX-Bench: trailer\r\n\r\n") != 5 {
			t.Errorf("got %d chunked answers with trailers, want 5:\n%.300s", n, wire)
		}
	})
	t.Run("OK/TLS", func(t *testing.T) {
		s := mustPollServer(t, true, lengths(100))
		mustPolls(t, mustPollConn(t, s, time.Minute), 3, 100)
		wantKeptAlive(t, s)
	})
	t.Run("OK/ConnectionClose", func(t *testing.T) {
		s := mustPollServer(t, false, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Connection", "close")
			lengths(10000)(w, r)
		})
		pc := mustPollConn(t, s, time.Minute)
		for range 4 {
			mustPolls(t, pc, 1, 10000)
			if pc.conn != nil {
				t.Fatal("got the connection kept after Connection: close, want it closed")
			}
		}
		if got := s.conns.Load(); got != 4 {
			t.Errorf("got %d connections, want 4: one per answer closing its connection", got)
		}
	})
	t.Run("OK/ClosedWhileIdle", func(t *testing.T) {
		s := mustPollServer(t, false, lengths(10))
		pc := mustPollConn(t, s, time.Minute)
		mustPolls(t, pc, 1, 10)
		s.CloseClientConnections() // without telling: the next write or read fails
		mustPolls(t, pc, 1, 10)
		if got := s.conns.Load(); got != 2 {
			t.Errorf("got %d connections, want 2", got)
		}
	})
}

func TestPollConn_SyncErrors(t *testing.T) {
	t.Run("ErrStatus", func(t *testing.T) {
		s := mustPollServer(t, false, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `{"errcode":"M_FORBIDDEN","error":"not yours"}`)
		})
		pc := mustPollConn(t, s, time.Minute)
		for i := range 2 {
			_, _, err := pc.sync(context.Background(), "s1")
			var mx *matrixError
			if !errors.As(err, &mx) || mx.Status != http.StatusForbidden || mx.Code != "M_FORBIDDEN" ||
				mx.Path != "/base"+clientV3+"/sync" || string(mx.body) != `{"errcode":"M_FORBIDDEN","error":"not yours"}` {
				t.Fatalf("poll %d: got %#v, want a 403 M_FORBIDDEN *matrixError", i, err)
			}
		}
		if got := s.conns.Load(); got != 1 {
			t.Errorf("got %d connections, want 1 kept alive after error answers", got)
		}
	})
	t.Run("ErrCanceled", func(t *testing.T) {
		release := make(chan struct{})
		s := mustPollServer(t, false, func(w http.ResponseWriter, r *http.Request) {
			select { // the long-poll waits until the client leaves
			case <-r.Context().Done():
			case <-release:
			}
		})
		defer close(release)
		pc := mustPollConn(t, s, time.Minute)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			_, _, err := pc.sync(ctx, "s1")
			done <- err
		}()
		time.Sleep(50 * time.Millisecond) // the poll is waiting on the server
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("got %v, want context.Canceled", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the poll did not end within 5s of its context")
		}
		if pc.conn != nil {
			t.Error("got the connection kept, want it closed")
		}
	})
	t.Run("ErrTooLarge", func(t *testing.T) {
		for _, chunked := range []bool{false, true} {
			s := mustPollServer(t, false, func(w http.ResponseWriter, r *http.Request) {
				body := syncBody("1", 2000)
				if !chunked {
					w.Header().Set("Content-Length", strconv.Itoa(len(body)))
				}
				fmt.Fprint(w, body[:100])
				w.(http.Flusher).Flush()
				fmt.Fprint(w, body[100:])
			})
			pc := mustPollConn(t, s, time.Minute)
			pc.limit = 2000
			if _, _, err := pc.sync(context.Background(), "1"); err == nil || !strings.Contains(err.Error(), "answer over 2000 bytes") {
				t.Errorf("chunked %v: got %v, want answer over 2000 bytes", chunked, err)
			}
			pc.limit = 3000
			mustPolls(t, pc, 1, 2000)
		}
	})
	t.Run("ErrTimeout", func(t *testing.T) {
		release := make(chan struct{})
		s := mustPollServer(t, false, func(w http.ResponseWriter, r *http.Request) { <-release })
		defer close(release)
		pc := mustPollConn(t, s, 100*time.Millisecond)
		start := time.Now()
		_, _, err := pc.sync(context.Background(), "s1")
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("got %v, want a timeout", err)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("got the poll ending after %v, want about 100ms", took)
		}
	})
}
