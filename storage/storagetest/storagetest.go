// Package storagetest runs storage tests against every database dialect:
// SQLite always, PostgreSQL when GANGLION_TEST_POSTGRES holds a connection
// URL (CI always sets it).
package storagetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ganglion/ganglion/storage"
)

// EnvPostgres names the variable holding the PostgreSQL URL for tests.
const EnvPostgres = "GANGLION_TEST_POSTGRES"

// Each runs fn once per available dialect, as subtests named "sqlite" and
// "postgres", each with a fresh, migrated, empty database.
func Each(t *testing.T, fn func(t *testing.T, db *storage.DB)) {
	t.Helper()
	for _, dialect := range Dialects() {
		t.Run(dialect, func(t *testing.T) {
			fn(t, Open(t, URL(t, dialect)))
		})
	}
}

// EachClock is Each with a database whose clock is a fresh Clock standing at
// Epoch, so that tests control every timestamp the database writes.
func EachClock(t *testing.T, fn func(t *testing.T, db *storage.DB, clock *Clock)) {
	t.Helper()
	for _, dialect := range Dialects() {
		t.Run(dialect, func(t *testing.T) {
			clock := NewClock(Epoch)
			fn(t, OpenWithClock(t, URL(t, dialect), clock.Now), clock)
		})
	}
}

// Dialects lists the dialects available to this test run.
func Dialects() []string {
	if os.Getenv(EnvPostgres) != "" {
		return []string{"sqlite", "postgres"}
	}
	return []string{"sqlite"}
}

// URL returns a database URL for a new, empty database of the dialect that
// lives until the test ends: a file in a temporary directory for SQLite, a
// fresh schema for PostgreSQL.
func URL(t testing.TB, dialect string) string {
	t.Helper()
	if dialect == "sqlite" {
		return "sqlite:" + filepath.Join(t.TempDir(), "test.db")
	}
	base := os.Getenv(EnvPostgres)
	if base == "" {
		t.Fatalf("%s is not set", EnvPostgres)
	}
	schema := "t_" + randomHex(t, 8)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	defer admin.Close()
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		cleanup, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer cleanup.Close()
		_, _ = cleanup.Exec("DROP SCHEMA " + schema + " CASCADE")
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", EnvPostgres, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Open opens the database at url for the rest of the test.
func Open(t testing.TB, url string) *storage.DB {
	t.Helper()
	return OpenWithClock(t, url, nil)
}

// OpenWithClock is Open with the database clock set to clock (nil: the real
// time).
func OpenWithClock(t testing.TB, url string, clock func() time.Time) *storage.DB {
	t.Helper()
	db, err := storage.Open(context.Background(), url, storage.Options{MaxOpenConns: 4, Clock: clock})
	if err != nil {
		t.Fatalf("open database: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func randomHex(t testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// Epoch is where a Clock from EachClock starts: a fixed instant on a whole
// second, so that millisecond timestamps round-trip exactly.
var Epoch = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// Clock is a fake clock: it stands still until Advance or Set moves it. It
// is safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a Clock standing at start.
func NewClock(start time.Time) *Clock { return &Clock{now: start} }

// Now returns the clock's time; pass it as storage.Options.Clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}
