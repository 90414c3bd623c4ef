package storage

import (
	"context"
	"database/sql"
)

// ForceSchemaVersion overwrites the recorded schema version, to test how
// Open treats a database written by a newer binary.
func ForceSchemaVersion(ctx context.Context, db *DB, v int) error {
	_, err := db.write.ExecContext(ctx, "UPDATE schema_version SET version = $1", v)
	return err
}

// ReadPool returns the pool that serves reads, for tests that inspect the
// schema or the SQL engine directly.
func ReadPool(db *DB) *sql.DB { return db.read.DB }

// WritePool returns the handle writes go through (under SQLite its single
// connection), for tests that set up what no method can. Do not use it
// while a WithTx is running on another goroutine.
func WritePool(db *DB) *sql.DB { return db.write }

// SQLitePlaceholders is sqlitePlaceholders, for its table test.
var SQLitePlaceholders = sqlitePlaceholders

// MigrateNext runs the next pending migration alone, for tests that rewind
// the schema version to check how a migration converts data.
func MigrateNext(ctx context.Context, db *DB) error {
	ms, err := migrations(db.dialect.name())
	if err != nil {
		return err
	}
	_, err = db.migrateOne(ctx, ms)
	return err
}
