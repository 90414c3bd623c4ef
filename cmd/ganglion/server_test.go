package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ganglion/ganglion/config"
	"github.com/ganglion/ganglion/storage"
	"github.com/ganglion/ganglion/storage/storagetest"
)

// testServer is a whole homeserver running in-process on 127.0.0.1.
type testServer struct {
	URL string
	cfg *config.Config
	srv *server
}

// testConfig returns a config for a test server on the dialect: a random
// port, a database of its own, open registration, cheap password hashes and
// no rate limits unless the test changes them.
func testConfig(t *testing.T, dialect string) *config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.ServerName = "test.local"
	cfg.DataDir = t.TempDir()
	cfg.Listeners.Client.Address = "127.0.0.1:0"
	cfg.Database.URL = config.Secret(storagetest.URL(t, dialect))
	cfg.Registration.Mode = config.RegistrationOpen
	cfg.Registration.SharedSecret = "test-secret"
	cfg.Passwords.MemoryKiB, cfg.Passwords.Iterations = 64, 1
	cfg.RateLimit.Enabled = false
	cfg.SigningKeyPath = filepath.Join(cfg.DataDir, "signing.key")
	if err := cfg.Resolve(); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// startServer runs a server with cfg until the test ends (or stop is
// called) and returns its base URL.
func startServer(t testing.TB, cfg *config.Config) (srv *testServer, stop func()) {
	t.Helper()
	log := logrus.New()
	log.SetOutput(io.Discard)
	if testing.Verbose() {
		log.SetOutput(testLogWriter{t})
		log.SetLevel(logrus.DebugLevel)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s, err := newServer(ctx, cfg, log)
	if err != nil {
		cancel()
		t.Fatalf("start server: %v", err)
	}
	ln, err := net.Listen("tcp", cfg.Listeners.Client.Address)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.run(ctx, ln) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("server stopped with %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("server did not stop within 15s")
		}
		s.close()
	}
	t.Cleanup(stop)
	return &testServer{URL: "http://" + ln.Addr().String(), cfg: cfg, srv: s}, stop
}

// eachDialect runs fn with a fresh server config per database dialect.
func eachDialect(t *testing.T, fn func(t *testing.T, cfg *config.Config)) {
	for _, dialect := range storagetest.Dialects() {
		t.Run(dialect, func(t *testing.T) { fn(t, testConfig(t, dialect)) })
	}
}

type testLogWriter struct{ t testing.TB }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// waitForWaiter waits until a /sync long-poll of the user is waiting.
func waitForWaiter(t *testing.T, ts *testServer, userID fmt.Stringer) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ts.srv.notifier.Waiting(userID.String()) {
		if time.Now().After(deadline) {
			t.Fatalf("no long-poll of %s is waiting", userID)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestServe_OneProcessPerDatabase: a second server on a database that a
// running server uses refuses to start and names why; once the first
// stops, it starts.
func TestServe_OneProcessPerDatabase(t *testing.T) {
	eachDialect(t, func(t *testing.T, cfg *config.Config) {
		_, stop := startServer(t, cfg)
		log := logrus.New()
		log.SetOutput(io.Discard)
		second, err := newServer(t.Context(), cfg, log)
		if !errors.Is(err, storage.ErrClaimed) {
			if second != nil {
				second.db.Close()
			}
			t.Fatalf("second server on the same database: got %v, want ErrClaimed", err)
		}
		stop()
		again, _ := startServer(t, cfg)
		if again == nil {
			t.Fatal("no server after the first stopped")
		}
	})
}
