package storage_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ganglion/ganglion/storage"
	"github.com/ganglion/ganglion/storage/storagetest"
)

// TestSQLite_Checkpointer: commits reach the database file by themselves,
// long before the writer's own automatic checkpoint (at 1,000 pages) would
// copy them.
func TestSQLite_Checkpointer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "test.db")
	db := storagetest.Open(t, "sqlite:"+path)
	size := func() int64 {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return st.Size()
	}
	before := size()
	pos := int64(1)
	for range 4 { // about 400 KiB of rows, far below the writer's threshold
		var ns []storage.Notification
		for range 50 {
			for u := range 20 {
				ns = append(ns, note(fmt.Sprintf("@user%03d-with-a-longer-name:test.local", u), pos, "!r", storage.MainThread, false))
			}
			pos++
		}
		mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error { return tx.AddNotifications(ctx, ns) })
	}
	for deadline := time.Now().Add(10 * time.Second); size() < before+200<<10; {
		if time.Now().After(deadline) {
			t.Fatalf("database file at %d bytes (%d before): the log was not checkpointed", size(), before)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
