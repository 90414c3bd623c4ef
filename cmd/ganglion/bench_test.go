package main

import (
	"context"
	"fmt"
	"net/http"
	"runtime"
	"sync/atomic"
	"testing"

	"maunium.net/go/mautrix"

	"github.com/ganglion/ganglion/config"
	"github.com/ganglion/ganglion/storage/storagetest"
)

// The benchmarks run the whole server in-process on 127.0.0.1 and talk to it
// over real HTTP. BENCHMARKS.md records their results and commands.

// benchServer starts a server on the dialect with the production password
// parameters (login and registration cost is the hash's cost).
func benchServer(b *testing.B, dialect string, production bool) *testServer {
	b.Helper()
	cfg := config.Default()
	cfg.ServerName = "bench.local"
	cfg.DataDir = b.TempDir()
	cfg.Listeners.Client.Address = "127.0.0.1:0"
	cfg.Database.URL = config.Secret(storagetest.URL(b, dialect))
	cfg.Registration.Mode = config.RegistrationOpen
	cfg.RateLimit.Enabled = false
	if !production {
		cfg.Passwords.MemoryKiB, cfg.Passwords.Iterations = 64, 1
	}
	if err := cfg.Resolve(); err != nil {
		b.Fatal(err)
	}
	srv, _ := startServer(b, cfg)
	return srv
}

func eachBenchDialect(b *testing.B, fn func(b *testing.B, dialect string)) {
	for _, d := range storagetest.Dialects() {
		b.Run(d, func(b *testing.B) { fn(b, d) })
	}
}

// BenchmarkWhoami is an authenticated GET /account/whoami from 32
// concurrent clients: the cost of routing and token authentication.
func BenchmarkWhoami(b *testing.B) {
	eachBenchDialect(b, func(b *testing.B, dialect string) {
		srv := benchServer(b, dialect, false)
		cli := mustRegister(b, srv.URL, "bench", "bench password")
		url := srv.URL + "/_matrix/client/v3/account/whoami"
		transport := &http.Transport{MaxIdleConnsPerHost: 64}
		httpc := &http.Client{Transport: transport}
		b.SetParallelism(32 / max(1, runtime.GOMAXPROCS(0)))
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				req, _ := http.NewRequest(http.MethodGet, url, nil)
				req.Header.Set("Authorization", "Bearer "+cli.AccessToken)
				resp, err := httpc.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Errorf("got status %d, want 200", resp.StatusCode)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	})
}

// BenchmarkRegister registers accounts (dummy auth, two requests each) with
// the production password hash parameters, 8 clients at once.
func BenchmarkRegister(b *testing.B) {
	eachBenchDialect(b, func(b *testing.B, dialect string) {
		srv := benchServer(b, dialect, true)
		var n atomic.Int64
		b.SetParallelism(8 / max(1, runtime.GOMAXPROCS(0)))
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			cli, _ := mautrix.NewClient(srv.URL, "", "")
			for pb.Next() {
				name := fmt.Sprintf("user%d", n.Add(1))
				if _, err := cli.RegisterDummy(context.Background(), &mautrix.ReqRegister[any]{
					Username: name, Password: "bench password",
				}); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "registrations/s")
	})
}

// BenchmarkLogin logs in with a password (production hash parameters),
// 8 clients at once; each login creates a device and a token.
func BenchmarkLogin(b *testing.B) {
	eachBenchDialect(b, func(b *testing.B, dialect string) {
		srv := benchServer(b, dialect, true)
		mustRegister(b, srv.URL, "bench", "bench password")
		b.SetParallelism(8 / max(1, runtime.GOMAXPROCS(0)))
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			cli, _ := mautrix.NewClient(srv.URL, "", "")
			for pb.Next() {
				if _, err := cli.Login(context.Background(), &mautrix.ReqLogin{
					Type:       mautrix.AuthTypePassword,
					Identifier: mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: "bench"},
					Password:   "bench password",
				}); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "logins/s")
	})
}
