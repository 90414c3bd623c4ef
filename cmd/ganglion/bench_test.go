package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"maunium.net/go/mautrix"

	"github.com/ganglion/ganglion/config"
	"github.com/ganglion/ganglion/storage/storagetest"
)

// The benchmarks run the whole server in-process on 127.0.0.1 and talk to it
// over real HTTP. BENCHMARKS.md records their results and commands.

// benchServer starts a server on the dialect with the production password
// parameters (login and registration cost is the hash's cost), its
// configuration adjusted by configure.
func benchServer(b *testing.B, dialect string, production bool, configure ...func(cfg *config.Config)) *testServer {
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
	for _, fn := range configure {
		fn(cfg)
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

// TestBench_Scenarios runs each scenario of "ganglion bench" with tiny
// sizes against an in-process server, twice for one of them (new user
// names each run), with shared-secret and with open registration.
func TestBench_Scenarios(t *testing.T) {
	type want struct {
		name     string
		roomSize int
		count    int // -1: some (timed runs)
	}
	cases := []struct {
		opts benchOptions
		want []want
	}{
		{benchOptions{Scenario: "rooms", Users: 12, Rooms: 3, Messages: 2}, []want{{"send message", 0, 24}}},
		{benchOptions{Scenario: "rooms", Users: 12, Rooms: 3, Messages: 2, Concurrency: 5}, []want{{"send message", 0, 24}}},
		{benchOptions{Scenario: "oneroom", Users: 3, Messages: 2}, []want{{"send message", 3, 6}}},
		{benchOptions{Scenario: "oneroom", Users: 3, Duration: 200 * time.Millisecond}, []want{{"send message", 3, -1}}},
		{benchOptions{Scenario: "oneroom", Users: 3, Duration: 300 * time.Millisecond, Rate: 50}, []want{{"send message", 3, -1}}},
		{benchOptions{Scenario: "join", Users: 25, Requests: 4}, []want{{"join", 10, 4}, {"join", 25, 4}, {"get members", 25, 4}}},
		{benchOptions{Scenario: "messages", Users: 2, Messages: 120, Requests: 10, Concurrency: 2},
			[]want{{"messages page of 50", 2, 10}}},
	}
	eachDialect(t, func(t *testing.T, cfg *config.Config) {
		srv, _ := startServer(t, cfg)
		for i, c := range cases {
			t.Run(fmt.Sprintf("OK/%s/%d", c.opts.Scenario, i), func(t *testing.T) {
				o := c.opts
				if i%2 == 0 {
					o.SharedSecret = string(cfg.Registration.SharedSecret)
				}
				rep := mustRunBench(t, srv.URL, o, len(c.want))
				if rep.Server == nil || rep.Server.RSSKiB <= 0 || rep.Server.PeakRSSKiB < rep.Server.RSSKiB {
					t.Errorf("got server memory %+v, want rss and a peak at least as large", rep.Server)
				}
				for j, w := range c.want {
					r := rep.Results[j]
					if w.count < 0 && r.Count > 0 {
						w.count = r.Count
					}
					if r.Name != w.name || r.RoomSize != w.roomSize || r.Count != w.count || r.Errors != 0 {
						t.Errorf("result %d: got %s size %d count %d errors %d, want %s size %d count %d errors 0",
							j, r.Name, r.RoomSize, r.Count, r.Errors, w.name, w.roomSize, w.count)
					}
					if r.ServerCPU == nil || r.P50 <= 0 || r.P50 > r.P99 || r.P99 > r.Max {
						t.Errorf("result %d: got cpu %v and latencies %v/%v/%v, want cpu and ordered latencies",
							j, r.ServerCPU, r.P50, r.P99, r.Max)
					}
				}
			})
		}
	})
	t.Run("ErrScenario", func(t *testing.T) {
		_, err := runBench(context.Background(), benchOptions{Scenario: "nope", URL: "http://127.0.0.1:1", Timeout: time.Second}, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "-scenario") {
			t.Errorf("got %v, want an error about -scenario", err)
		}
	})
}

// mustRunBench runs "ganglion bench" with o against the in-process server
// at url and returns its report, having checked that the run and the
// report's table and JSON succeed, that it reports no errors and that it
// has wantResults results. A run that does not stop by itself fails after
// a minute, not at the test binary's timeout.
func mustRunBench(t *testing.T, url string, o benchOptions, wantResults int) *benchReport {
	t.Helper()
	o.URL, o.PID, o.Timeout = url, os.Getpid(), 30*time.Second
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rep, err := runBench(ctx, o, io.Discard)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if len(rep.Errors) > 0 {
		t.Errorf("got errors %q, want none", rep.Errors)
	}
	if err := errors.Join(rep.writeTable(io.Discard), rep.writeJSON(io.Discard)); err != nil {
		t.Error(err)
	}
	if len(rep.Results) != wantResults {
		t.Fatalf("got %d results, want %d: %+v", len(rep.Results), wantResults, rep.Results)
	}
	return rep
}

// TestBench_SyncScenarios runs the sync scenarios of "ganglion bench" with
// tiny sizes against an in-process server: every member gets every message,
// idle long-polls answer nothing, and every timed sync succeeds.
func TestBench_SyncScenarios(t *testing.T) {
	type want struct {
		name  string
		count int
	}
	cases := []struct {
		opts benchOptions
		want []want
	}{
		{benchOptions{Scenario: "longpoll", Users: 3, Messages: 4, Rate: 20, Duration: 300 * time.Millisecond},
			[]want{{"idle long-polls (answers)", 0}, {"send message", 4}, {"send-to-delivery", 12}}},
		{benchOptions{Scenario: "initialsync", Rooms: 3, Messages: 2, Requests: 3},
			[]want{{"initial sync, timeline 10", 3}, {"incremental sync, nothing new", 30}}},
		{benchOptions{Scenario: "sliding", Rooms: 3, Messages: 1, Requests: 4}, []want{{"sliding sync list of 20", 4}}},
	}
	eachDialect(t, func(t *testing.T, cfg *config.Config) {
		srv, _ := startServer(t, cfg)
		for _, c := range cases {
			t.Run("OK/"+c.opts.Scenario, func(t *testing.T) {
				o := c.opts
				rep := mustRunBench(t, srv.URL, o, len(c.want))
				for j, w := range c.want {
					r := rep.Results[j]
					if r.Name != w.name || r.Count != w.count || r.Errors != 0 {
						t.Errorf("result %d: got %s count %d errors %d, want %s count %d errors 0",
							j, r.Name, r.Count, r.Errors, w.name, w.count)
					}
					if w.count > 0 && (r.P50 <= 0 || r.P50 > r.P99 || r.P99 > r.Max) {
						t.Errorf("result %d: got latencies %v/%v/%v, want ordered latencies", j, r.P50, r.P99, r.Max)
					}
				}
			})
		}
	})
}
