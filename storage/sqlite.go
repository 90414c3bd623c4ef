package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/mattn/go-sqlite3"
)

type sqliteDialect struct{}

func (sqliteDialect) name() string { return "sqlite" }

func (sqliteDialect) isUniqueViolation(err error) bool {
	var e sqlite3.Error
	return errors.As(err, &e) && (e.ExtendedCode == sqlite3.ErrConstraintUnique ||
		e.ExtendedCode == sqlite3.ErrConstraintPrimaryKey)
}

// lockMigrations needs nothing: BEGIN IMMEDIATE on the single writer already
// excludes every other writer.
func (sqliteDialect) lockMigrations(context.Context, *sql.Tx) error { return nil }

// openSQLite opens one writer connection (transactions start with BEGIN
// IMMEDIATE, so a writer never fails half-way on a lock upgrade) and a pool
// of query-only readers, all in WAL mode so that readers never block the
// writer. Both take PostgreSQL-style placeholders (see sqliteConnector).
func openSQLite(path string, opts Options) (*DB, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create database directory: %w", err)
		}
	}
	// The database holds password hashes and tokens: only the server's user
	// may read it. SQLite would create it world-readable.
	if f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o600); err == nil {
		f.Close()
	}
	// synchronous=FULL: a commit is on disk before anyone is told, so that a
	// power loss or an operating system crash loses nothing acknowledged
	// (NORMAL would keep the database consistent but may lose the last
	// commits). With commits grouped it costs one fsync per group.
	const common = "_journal_mode=WAL&_busy_timeout=10000&_foreign_keys=on&_synchronous=FULL"
	// Temporary files in memory: every write transaction runs in a
	// savepoint (groupcommit.go), whose journal of changed pages would
	// otherwise go to a temporary file, page by page.
	drv := &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
		_, err := c.Exec("PRAGMA temp_store = MEMORY", nil)
		return err
	}}
	// The writer's page cache holds a whole group of transactions' changed
	// pages (64 MiB; readers keep SQLite's default of 2 MiB each).
	writeDrv := &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
		_, err := c.Exec("PRAGMA temp_store = MEMORY; PRAGMA cache_size = -65536", nil)
		return err
	}}
	// In a file: URI, "?" starts the parameters and "#" a fragment: a path
	// holding them would silently name another file.
	uri := "file:" + strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	write := sql.OpenDB(sqliteConnector{dsn: uri + "?" + common + "&_txlock=immediate", driver: writeDrv})
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	// Create the file and switch it to WAL before any reader opens it.
	if err := write.Ping(); err != nil {
		write.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	read := sql.OpenDB(sqliteConnector{dsn: uri + "?" + common + "&_query_only=true", driver: drv})
	read.SetMaxOpenConns(opts.MaxOpenConns)
	read.SetMaxIdleConns(opts.MaxOpenConns)
	return &DB{write: write, read: &readPool{DB: read}, dialect: sqliteDialect{}, path: path}, nil
}
