package storage

import "context"

// ForceSchemaVersion overwrites the recorded schema version, to test how
// Open treats a database written by a newer binary.
func ForceSchemaVersion(ctx context.Context, db *DB, v int) error {
	_, err := db.write.ExecContext(ctx, "UPDATE schema_version SET version = $1", v)
	return err
}
