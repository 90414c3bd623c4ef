package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"

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
// writer.
func openSQLite(path string, opts Options) (*DB, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create database directory: %w", err)
		}
	}
	const common = "_journal_mode=WAL&_busy_timeout=10000&_foreign_keys=on&_synchronous=NORMAL"
	write, err := sql.Open("sqlite3", "file:"+path+"?"+common+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	// Create the file and switch it to WAL before any reader opens it.
	if err := write.Ping(); err != nil {
		write.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	read, err := sql.Open("sqlite3", "file:"+path+"?"+common+"&_query_only=true")
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	read.SetMaxOpenConns(opts.MaxOpenConns)
	read.SetMaxIdleConns(opts.MaxOpenConns)
	return &DB{write: write, read: read, dialect: sqliteDialect{}}, nil
}
