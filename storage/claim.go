package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
)

// ErrClaimed: another server process uses the database.
var ErrClaimed = errors.New("another ganglion serve process is using this database")

// Claim marks the database as served by this process until Close, and
// fails with ErrClaimed if another process holds it. A server keeps
// caches of what it writes and wakes its clients from its own commits: a
// second server on the same database would answer from stale memory.
// Short-lived commands (user, token, media) do not claim it.
//
// Under PostgreSQL it is a session advisory lock keyed by the schema, on a
// connection of its own; under SQLite an exclusive flock on a file beside
// the database (none for an in-memory database).
func (db *DB) Claim(ctx context.Context) error {
	if db.claim != nil {
		return nil
	}
	switch db.dialect.name() {
	case "postgres":
		conn, err := db.write.Conn(ctx)
		if err != nil {
			return fmt.Errorf("claim the database: %w", err)
		}
		var ok bool
		if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock("+claimKey+")").Scan(&ok); err != nil {
			conn.Close()
			return fmt.Errorf("claim the database: %w", err)
		}
		if !ok {
			conn.Close()
			return ErrClaimed
		}
		db.claim = pgClaim{conn}
	case "sqlite":
		if db.path == "" || strings.Contains(db.path, ":memory:") {
			return nil
		}
		f, err := os.OpenFile(db.path+".serve-lock", os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			return fmt.Errorf("claim the database: %w", err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return ErrClaimed
			}
			return fmt.Errorf("claim the database: %w", err)
		}
		db.claim = f
	}
	return nil
}

// claimKey is the advisory lock's key: one per schema, so that databases
// in separate schemas of one PostgreSQL database are claimed apart.
const claimKey = "hashtext('ganglion serve ' || current_schema())"

// pgClaim releases the advisory lock before its connection goes back to
// the pool.
type pgClaim struct{ conn *sql.Conn }

func (c pgClaim) Close() error {
	_, err := c.conn.ExecContext(context.Background(), "SELECT pg_advisory_unlock("+claimKey+")")
	return errors.Join(err, c.conn.Close())
}
