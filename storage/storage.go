// Package storage is the server's only access to its database: SQLite by
// default, PostgreSQL for larger installations, behind one set of queries.
//
// Reads go through methods on *DB (the read pool); every write goes through
// WithTx, whose *Tx carries the methods that change data. A transaction is
// never nested: under SQLite the single writer connection would wait on
// itself forever, so WithTx refuses a context that is already inside one.
package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ganglion/ganglion/internal/gencache"
)

// Sentinel errors returned by storage methods; test them with errors.Is.
var (
	// ErrNotFound: the row asked for does not exist.
	ErrNotFound = errors.New("not found")
	// ErrExists: a row with the same key already exists.
	ErrExists = errors.New("already exists")
	// ErrNestedTx: WithTx was called inside another WithTx.
	ErrNestedTx = errors.New("nested write transaction")
)

// Options tune Open.
type Options struct {
	// MaxOpenConns bounds the PostgreSQL pool and the SQLite read pool.
	MaxOpenConns int
	// Clock returns the current time; nil means time.Now. Tests inject a
	// fake clock here.
	Clock func() time.Time
}

// DB is an open database with its schema migrated to the newest version.
type DB struct {
	write   *sql.DB   // SQLite: a single connection; PostgreSQL: the pool
	read    *readPool // SQLite: read-only pool; PostgreSQL: the same pool as write
	dialect dialect
	clock   func() time.Time

	types     *nameCache[TypeNID]
	stateKeys *nameCache[StateKeyNID]
	blocks    *immutableCache[BlockNID, []StateEntry]
	snapshots *immutableCache[SnapshotNID, []BlockNID]

	// positions are the streams' positions as of the last commit made
	// through this DB, read once at Open: every /sync reads them, and a
	// process sees its own commits. Commits of another process (the CLI)
	// show once this process advances the same stream. A commit stores a
	// new map (under posMu), so that readers share one without a lock.
	posMu     sync.Mutex
	positions atomic.Pointer[map[string]int64]

	keyGens   gencache.Generations[[2]string] // user, device: changes of its keys
	keyCounts gencache.Cache[[2]string, KeyCounts]

	unreadGens gencache.Generations[[2]string] // user, room: changes of its notification counts
	unread     gencache.Cache[[2]string, []ThreadCounts]

	group *groupCommitter // SQLite: runs every write transaction; nil under PostgreSQL
	// ordered are the streams whose positions PostgreSQL takes from
	// sequences, by name (orderedpos.go); nil under SQLite.
	ordered map[string]*orderedPositions

	path  string    // SQLite: the database file
	claim io.Closer // what Claim holds until Close
}

// Open connects to the database named by url ("sqlite:PATH", a path ending
// in ".db", or a postgres:// URL) and migrates its schema.
func Open(ctx context.Context, url string, opts Options) (*DB, error) {
	if opts.MaxOpenConns <= 0 {
		opts.MaxOpenConns = 10
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	var (
		db  *DB
		err error
	)
	switch {
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		db, err = openPostgres(url, opts)
	case strings.HasPrefix(url, "sqlite:"):
		db, err = openSQLite(strings.TrimPrefix(url, "sqlite:"), opts)
	case strings.HasSuffix(url, ".db"):
		db, err = openSQLite(url, opts)
	default:
		return nil, fmt.Errorf("database url %q: want sqlite:PATH or postgres://", url)
	}
	if err != nil {
		return nil, err
	}
	db.clock = opts.Clock
	db.types, db.stateKeys = newNameCache[TypeNID](), newNameCache[StateKeyNID]()
	db.blocks = newImmutableCache[BlockNID, []StateEntry](blockCacheSize)
	db.snapshots = newImmutableCache[SnapshotNID, []BlockNID](blockCacheSize)
	db.keyCounts.Max = maxCachedKeyCounts
	db.unread.Max = maxCachedUnread
	if err := db.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := db.loadStreamPositions(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if db.dialect.name() == "sqlite" {
		db.group = newGroupCommitter(db)
	} else if err := db.loadOrderedPositions(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// Close closes every connection.
func (db *DB) Close() error {
	var err error
	if db.claim != nil {
		err = db.claim.Close()
		db.claim = nil
	}
	if db.group != nil {
		db.group.close()
	}
	err = errors.Join(err, db.read.Close())
	if db.read.DB != db.write {
		err = errors.Join(err, db.write.Close())
	}
	return err
}

// Dialect names the database engine: "sqlite" or "postgres".
func (db *DB) Dialect() string { return db.dialect.name() }

// Now returns the database clock's current time.
func (db *DB) Now() time.Time { return db.clock() }

// Tx is a write transaction. Its methods change data; they all see the
// transaction's own writes.
type Tx struct {
	db      *DB
	tx      *sql.Tx
	dialect dialect
	// Now is the time of the transaction, from the database clock: every
	// timestamp the transaction writes uses it.
	Now time.Time
	// committed run after the commit, in order.
	committed []func()
	// taken are the positions of ordered streams it took (PostgreSQL; see
	// orderedpos.go).
	taken []takenPos
	// unreadKeys are the (user, room) pairs whose notification counts it changes.
	unreadKeys map[[2]string]bool
}

// afterCommit runs fn once the transaction committed (never if it rolls
// back): for caches that must not see uncommitted changes. fn may run on
// the group committer's goroutine: it must not block.
func (tx *Tx) afterCommit(fn func()) { tx.committed = append(tx.committed, fn) }

type inTxKey struct{}

// settlePositions ends the hold of a finished transaction's positions on
// their streams' frontiers (orderedpos.go).
func (db *DB) settlePositions(tx *Tx) {
	for _, t := range tx.taken {
		t.stream.end(t.pos)
	}
}

// WithTx runs fn in one write transaction and commits it if fn returns nil,
// rolling back otherwise. fn gets a context marked as inside a transaction:
// calling WithTx with it again returns ErrNestedTx. Under SQLite the
// transactions queued at one time commit together (groupcommit.go); each
// still commits or rolls back whole, and fn runs to its end even if ctx
// ends while it runs.
func (db *DB) WithTx(ctx context.Context, fn func(ctx context.Context, tx *Tx) error) error {
	if ctx.Value(inTxKey{}) != nil {
		return ErrNestedTx
	}
	if db.group != nil {
		return db.group.do(ctx, fn)
	}
	sqlTx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	tx := &Tx{db: db, tx: sqlTx, dialect: db.dialect, Now: db.clock()}
	defer func() {
		if p := recover(); p != nil { // never leave a transaction holding its locks
			_ = sqlTx.Rollback()
			db.settlePositions(tx)
			panic(p)
		}
	}()
	if err := fn(context.WithValue(ctx, inTxKey{}, true), tx); err != nil {
		_ = sqlTx.Rollback()
		db.settlePositions(tx)
		return err
	}
	err = sqlTx.Commit()
	db.settlePositions(tx)
	if err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	for _, t := range tx.taken { // readers see the changes, and hooks run, in position order
		t.stream.wait(t.pos)
	}
	for _, fn := range tx.committed {
		fn()
	}
	return nil
}

// querier is what both *sql.DB and *sql.Tx offer; read helpers take it so
// that the same query runs on the read pool or inside a transaction.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// queryAll runs a query and returns its rows, each read by scan.
func queryAll[T any](ctx context.Context, q querier, scan func(interface{ Scan(...any) error }) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// notFound maps sql.ErrNoRows to ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	return err
}

// millis converts a time to the milliseconds stored in *_ts columns.
func millis(t time.Time) int64 { return t.UnixMilli() }

// oneRow returns ErrNotFound if an UPDATE or DELETE touched no row.
func oneRow(res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}
