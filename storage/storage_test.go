package storage_test

import (
	"context"
	"errors"
	"testing"

	"github.com/ganglion/ganglion/storage"
	"github.com/ganglion/ganglion/storage/storagetest"
)

func TestDB_WithTx(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		t.Run("ErrNestedTx", func(t *testing.T) {
			err := db.WithTx(ctx, func(ctx context.Context, tx *storage.Tx) error {
				return db.WithTx(ctx, func(context.Context, *storage.Tx) error { return nil })
			})
			if !errors.Is(err, storage.ErrNestedTx) {
				t.Fatalf("got %v, want ErrNestedTx", err)
			}
		})
		t.Run("RollbackOnError", func(t *testing.T) {
			boom := errors.New("boom")
			err := db.WithTx(ctx, func(ctx context.Context, tx *storage.Tx) error {
				if err := tx.InsertAccount(ctx, storage.Account{Localpart: "rolled"}); err != nil {
					return err
				}
				return boom
			})
			if !errors.Is(err, boom) {
				t.Fatalf("got %v, want boom", err)
			}
			if _, err := db.Account(ctx, "rolled"); !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("account after rollback: got %v, want ErrNotFound", err)
			}
		})
	})
}

func TestOpen_Migrations(t *testing.T) {
	for _, dialect := range storagetest.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			url := storagetest.URL(t, dialect)
			db := storagetest.Open(t, url)
			ctx := context.Background()
			if err := db.WithTx(ctx, func(ctx context.Context, tx *storage.Tx) error {
				return tx.InsertAccount(ctx, storage.Account{Localpart: "kept"})
			}); err != nil {
				t.Fatal(err)
			}
			db.Close()

			t.Run("ReopenKeepsData", func(t *testing.T) {
				again := storagetest.Open(t, url)
				if _, err := again.Account(ctx, "kept"); err != nil {
					t.Fatalf("account after reopen: %v", err)
				}
			})
			t.Run("ErrNewerSchema", func(t *testing.T) {
				again := storagetest.Open(t, url)
				if err := storage.ForceSchemaVersion(ctx, again, storage.SchemaVersion()+1); err != nil {
					t.Fatal(err)
				}
				again.Close()
				_, err := storage.Open(ctx, url, storage.Options{})
				if err == nil {
					t.Fatal("got nil error opening a database newer than the binary")
				}
			})
		})
	}
}

// TestDB_StreamPositions: positions taken by a committed transaction are
// current at once, a rolled-back one's are given back or skipped, a new DB
// on the same database starts where this one stands, and no position is
// taken twice.
func TestDB_StreamPositions(t *testing.T) {
	for _, dialect := range storagetest.Dialects() {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			url := storagetest.URL(t, dialect)
			db := storagetest.Open(t, url)
			before, err := db.StreamPositions(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var took int64
			err = db.WithTx(ctx, func(ctx context.Context, tx *storage.Tx) error {
				took, err = tx.NextStreamPos(ctx, "receipts")
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if took != before["receipts"]+1 {
				t.Fatalf("took %d, want %d", took, before["receipts"]+1)
			}
			boom := errors.New("boom")
			_ = db.WithTx(ctx, func(ctx context.Context, tx *storage.Tx) error {
				if _, err := tx.NextStreamPos(ctx, "receipts"); err != nil {
					return err
				}
				return boom
			})
			// The rolled back position is either given back (SQLite) or
			// left as a gap the position moves over (PostgreSQL's sequences).
			after, _ := db.StreamPositions(ctx)
			if got := after["receipts"]; got < took || got > took+1 || after["events"] != before["events"] {
				t.Errorf("after a commit and a rollback: got %v, want receipts %d or %d and the rest unchanged (%v)",
					after, took, took+1, before)
			}
			want := after["receipts"]
			// A map once returned never changes: later commits publish new ones.
			err = db.WithTx(ctx, func(ctx context.Context, tx *storage.Tx) error {
				_, err := tx.NextStreamPos(ctx, "receipts")
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if after["receipts"] != want {
				t.Errorf("positions taken before a commit: got receipts %d, want %d", after["receipts"], want)
			}
			want++
			reopened := storagetest.Open(t, url)
			for _, d := range []*storage.DB{db, reopened} {
				if got, _ := d.StreamPositions(ctx); got["receipts"] != want {
					t.Errorf("receipts position: got %d, want %d", got["receipts"], want)
				}
			}
			var next int64
			mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
				next, err = tx.NextStreamPos(ctx, "receipts")
				return err
			})
			if next != want+1 {
				t.Errorf("next receipts position: got %d, want %d", next, want+1)
			}
		})
	}
}
