package storage_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/ganglion/ganglion/storage"
)

// TestOpen_SQLitePathSpecialCharacters opens databases whose paths hold
// the characters a file: URI gives meaning to: each must be its own file,
// exactly at its path.
func TestOpen_SQLitePathSpecialCharacters(t *testing.T) {
	for _, dir := range []string{"a#b", "a?b", "a%23b", "a%b"} {
		t.Run(dir, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), dir, "test.db")
			db, err := storage.Open(context.Background(), "sqlite:"+path, storage.Options{})
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			defer db.Close()
			err = db.WithTx(t.Context(), func(ctx context.Context, tx *storage.Tx) error {
				return tx.InsertAccount(ctx, storage.Account{Localpart: "alice"})
			})
			if err != nil {
				t.Fatalf("insert account: %v", err)
			}
			if _, err := os.Stat(path); err != nil {
				t.Fatalf("database file: %v", err)
			}
			entries, err := os.ReadDir(filepath.Dir(filepath.Dir(path)))
			if err != nil || len(entries) != 1 || entries[0].Name() != dir {
				t.Fatalf("got %v, %v next to the database directory, want only %s", entries, err, dir)
			}
		})
	}
}
