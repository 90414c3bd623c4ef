package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
)

const benchUsage = `usage: ganglion bench -scenario NAME [flags]

Drives a running homeserver over the client-server API as real clients do
and reports request rates and latencies. Each run registers new users (with
a random name prefix, so runs can repeat against the same server) and
creates rooms: point it at a test server with rate limits off
(GANGLION_RATE_LIMIT=off) and open or shared-secret registration.
Registration and room set-up are timed apart from the measured phases.
GANGLION_PPROF_LISTEN serves the load client's own profiles, as it does the
server's.

scenarios:
  rooms     -users in -rooms of 10 members (private_chat, invited, joined);
            every user sends -messages messages round its rooms
  oneroom   -users in one public room, every user sending -messages messages
  join      one public room grown to -users members in steps (10, 100, 1000,
            ...); -requests joins (POST /join) timed at each size, then
            GET /members at the largest
  messages  a room with -messages messages, then -requests pages of
            GET /messages?dir=b&limit=50 read backwards by -concurrency readers
  longpoll  -users members of one public room, each holding a /sync long-poll
            (timeout 30 s): idle for -duration (default 10s; the server's CPU
            is the figure), then -messages messages sent one every 200 ms (or
            at -rate per second), each timed from its send to its arrival in
            every member's sync; the errors of send-to-delivery are the
            deliveries missing
  initialsync  one user in -rooms rooms of -messages messages each:
            -requests initial syncs (timeline limit 10, inline filter), then
            10 times as many incremental syncs with nothing new (timeout 0)
  sliding   the same user: -requests simplified sliding sync requests, each
            a new connection, for a list of the 20 most recent rooms
            (timeline_limit 1, name and avatar)

flags:
`

// benchOptions are the flags of "ganglion bench"; zero sizes take the
// scenario's defaults (benchDefaults).
type benchOptions struct {
	URL          string
	Scenario     string
	Users        int
	Rooms        int
	Messages     int
	Requests     int
	Concurrency  int
	Duration     time.Duration
	Rate         float64
	PID          int
	SharedSecret string
	Timeout      time.Duration
	JSON         bool
}

// Fixed shapes of the scenarios.
const (
	benchRoomSize     = 10                    // members of each room in the rooms scenario
	benchPageSize     = 50                    // events per /messages page
	benchSetupWorkers = 16                    // parallel requests in setup phases
	benchMaxErrors    = 5                     // distinct errors kept in the report
	benchSetupRetries = 3                     // retries of a setup step the server failed (5xx)
	benchRetryDelay   = 50 * time.Millisecond // before the first retry, doubling
)

// benchDefaults are the sizes of each scenario when the flags leave them
// zero: users, rooms, messages, requests, concurrency (0: one per user).
var benchDefaults = map[string]benchOptions{
	"rooms":       {Users: 100, Rooms: 100, Messages: 20},
	"oneroom":     {Users: 50, Messages: 20},
	"join":        {Users: 1000, Requests: 50, Concurrency: 1},
	"messages":    {Users: 10, Messages: 2000, Requests: 1000, Concurrency: 4},
	"longpoll":    {Users: 1000, Messages: 50},
	"initialsync": {Users: 1, Rooms: 500, Messages: 20, Requests: 20},
	"sliding":     {Users: 1, Rooms: 500, Messages: 20, Requests: 200},
}

// benchCommand is "ganglion bench".
func benchCommand(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), benchUsage)
		fs.PrintDefaults()
	}
	var o benchOptions
	fs.StringVar(&o.URL, "url", "http://127.0.0.1:8008", "base URL of the homeserver")
	fs.StringVar(&o.Scenario, "scenario", "", "rooms, oneroom, join, messages, longpoll, initialsync or sliding")
	fs.IntVar(&o.Users, "users", 0, "users (join: members the room grows to) (default per scenario)")
	fs.IntVar(&o.Rooms, "rooms", 0, "rooms, initialsync, sliding: number of rooms (default per scenario)")
	fs.IntVar(&o.Messages, "messages", 0, "rooms, oneroom: messages each user sends; messages: messages in the room; longpoll: messages timed; initialsync, sliding: messages per room (default per scenario)")
	fs.IntVar(&o.Requests, "requests", 0, "join: joins timed at each size; messages: pages read; initialsync, sliding: syncs timed (default per scenario)")
	fs.IntVar(&o.Concurrency, "concurrency", 0, "clients sending at once in the measured phase (default: one per user; join 1, messages 4)")
	fs.DurationVar(&o.Duration, "duration", 0, "rooms, oneroom, messages: measure for this long instead of by counts; longpoll: the idle phase (default 10s)")
	fs.Float64Var(&o.Rate, "rate", 0, "rooms, oneroom, messages: pace the clients to this many requests/s in all (longpoll: messages/s, default 5); "+
		"latency then counts from when a request was due (default: each client sends on its last answer)")
	fs.IntVar(&o.PID, "pid", 0, "pid of the server process, to report its CPU time and memory (same machine)")
	fs.StringVar(&o.SharedSecret, "shared-secret", "", "registration shared secret (default: open registration with m.login.dummy)")
	fs.DurationVar(&o.Timeout, "timeout", 30*time.Second, "timeout of each request")
	fs.BoolVar(&o.JSON, "json", false, "print the report as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("bench: unexpected argument %q", fs.Arg(0))
	}
	startPprof(logrus.StandardLogger()) // to profile the load itself
	report, err := runBench(ctx, o, os.Stderr)
	if report != nil {
		var werr error
		if o.JSON {
			werr = report.writeJSON(os.Stdout)
		} else {
			werr = report.writeTable(os.Stdout)
		}
		err = errors.Join(err, werr)
	}
	return err
}

// resolve checks the options and fills in the scenario's defaults.
func (o *benchOptions) resolve() error {
	d, ok := benchDefaults[o.Scenario]
	if !ok {
		return fmt.Errorf("bench: -scenario must be rooms, oneroom, join, messages, longpoll, initialsync or sliding, not %q", o.Scenario)
	}
	u, err := url.Parse(o.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("bench: -url %q is not an http(s) URL", o.URL)
	}
	for _, f := range []struct {
		v   *int
		def int
	}{{&o.Users, d.Users}, {&o.Rooms, d.Rooms}, {&o.Messages, d.Messages}, {&o.Requests, d.Requests}, {&o.Concurrency, d.Concurrency}} {
		if *f.v < 0 {
			return errors.New("bench: sizes must not be negative")
		}
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	if o.Concurrency == 0 {
		o.Concurrency = o.Users
	}
	if o.Users < 1 || o.Timeout <= 0 || o.Duration < 0 || o.Rate < 0 {
		return errors.New("bench: -users and -timeout must be positive, -duration and -rate not negative")
	}
	return nil
}

// bench is one run: the client, the run's user name prefix and the report
// being filled in.
type bench struct {
	opts     benchOptions
	client   *benchClient
	prefix   string
	progress io.Writer // setup progress for people; io.Discard for none

	mu     sync.Mutex
	report *benchReport
	seen   map[string]bool // errors already in the report
}

// runBench runs the scenario of o against the server and returns its
// report. Setup failures end the run with an error; failed requests of the
// measured phases are counted in the report.
func runBench(ctx context.Context, o benchOptions, progress io.Writer) (*benchReport, error) {
	if err := o.resolve(); err != nil {
		return nil, err
	}
	if o.PID > 0 {
		if _, err := processCPU(o.PID); err != nil {
			return nil, fmt.Errorf("bench: -pid: %w", err)
		}
	}
	var r [4]byte
	if _, err := rand.Read(r[:]); err != nil {
		return nil, err
	}
	b := &bench{
		opts:     o,
		client:   newBenchClient(o.URL, max(o.Concurrency, benchSetupWorkers)+4, o.Timeout),
		prefix:   "bench" + hex.EncodeToString(r[:]),
		progress: progress,
		report:   &benchReport{Scenario: o.Scenario, URL: o.URL},
		seen:     map[string]bool{},
	}
	defer b.client.http.CloseIdleConnections()
	scenarios := map[string]func(context.Context) error{
		"rooms": b.rooms, "oneroom": b.oneRoom, "join": b.join, "messages": b.messagesScenario,
		"longpoll": b.longpoll, "initialsync": b.initialSync, "sliding": b.sliding,
	}
	err := scenarios[o.Scenario](ctx)
	if o.PID > 0 {
		mem, merr := readProcessMemory(o.PID)
		err = errors.Join(err, merr)
		b.report.Server = mem
	}
	return b.report, err
}

// setup runs fn(ctx, i) for i in [0, n) on up to benchSetupWorkers
// goroutines and records the phase. A step the server fails with a 5xx is
// retried (benchSetupRetries times, backing off), counted and its error
// reported; any other error stops the phase and is returned.
func (b *bench) setup(ctx context.Context, name string, n int, fn func(ctx context.Context, i int) error) error {
	fmt.Fprintf(b.progress, "bench: %s (%d)...\n", name, n)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	start := time.Now()
	var next, retries atomic.Int64
	var wg sync.WaitGroup
	for range min(n, benchSetupWorkers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < n && ctx.Err() == nil; i = int(next.Add(1)) - 1 {
				err := fn(ctx, i)
				for try := 0; try < benchSetupRetries && serverFailed(err) && ctx.Err() == nil; try++ {
					retries.Add(1)
					b.recordError(fmt.Errorf("%s, retried: %w", name, err))
					sleepUntil(ctx, time.Now().Add(benchRetryDelay<<try))
					err = fn(ctx, i)
				}
				if err != nil {
					cancel(fmt.Errorf("%s: %w", name, err))
				}
			}
		}()
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return err
	}
	took := time.Since(start)
	b.report.Setup = append(b.report.Setup, benchPhase{
		Name: name, Count: n, Seconds: roundSeconds(took), PerSecond: perSecond(n, took), Retries: int(retries.Load()),
	})
	return nil
}

// serverFailed reports whether err is a 5xx answer.
func serverFailed(err error) bool {
	var mx *matrixError
	return errors.As(err, &mx) && mx.Status >= 500
}

func roundSeconds(d time.Duration) float64 { return float64(d.Round(time.Millisecond)) / 1e9 }

// registerUsers registers n users named prefix.1 ... prefix.n.
func (b *bench) registerUsers(ctx context.Context, n int) ([]*benchUser, error) {
	users := make([]*benchUser, n)
	err := b.setup(ctx, "register users", n, func(ctx context.Context, i int) error {
		localpart := fmt.Sprintf("%s.%d", b.prefix, i+1)
		var err error
		if b.opts.SharedSecret != "" {
			users[i], err = b.client.registerShared(ctx, b.opts.SharedSecret, localpart, "bench-"+b.prefix)
		} else {
			users[i], err = b.client.registerOpen(ctx, localpart)
		}
		return err
	})
	return users, err
}

// recordError keeps the first few distinct errors for the report.
func (b *bench) recordError(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	msg := err.Error()
	if len(b.report.Errors) < benchMaxErrors && !b.seen[msg] {
		b.seen[msg] = true
		b.report.Errors = append(b.report.Errors, msg)
	}
}
