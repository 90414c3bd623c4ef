package storage_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ganglion/ganglion/storage"
	"github.com/ganglion/ganglion/storage/storagetest"
)

// TestDB_EventPositionsInOrder (PostgreSQL, where transactions take events
// positions side by side): a transaction that commits before one holding
// a lower position is not published, and does not return, until that one
// ends, committed or rolled back.
func TestDB_EventPositionsInOrder(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		if db.Dialect() != "postgres" {
			t.Skip("SQLite's one writer commits in position order")
		}
		ctx := t.Context()
		events := func() int64 {
			pos, err := db.StreamPos(ctx, storage.EventsStream)
			if err != nil {
				t.Fatal(err)
			}
			return pos
		}
		for _, outcome := range []error{nil, errors.New("rolled back")} {
			start := events()
			took, release, firstDone := make(chan int64), make(chan struct{}), make(chan error)
			go func() {
				firstDone <- db.WithTx(context.Background(), func(ctx context.Context, tx *storage.Tx) error {
					pos, err := tx.NextStreamPos(ctx, storage.EventsStream)
					if err != nil {
						return err
					}
					took <- pos
					<-release
					return outcome
				})
			}()
			low := <-took
			var high int64
			secondDone := make(chan error, 1)
			go func() {
				secondDone <- db.WithTx(context.Background(), func(ctx context.Context, tx *storage.Tx) error {
					var err error
					high, err = tx.NextStreamPos(ctx, storage.EventsStream)
					if err != nil {
						return err
					}
					return tx.AddNotifications(ctx, []storage.Notification{note("@later:x", high, "!r", storage.MainThread, false)})
				})
			}()
			// Wait until the second transaction's write is committed.
			for committed := false; !committed; time.Sleep(time.Millisecond) {
				ns, _, err := db.Notifications(ctx, "@later:x", 0, 10, false)
				if err != nil {
					t.Error(err)
					break
				}
				committed = len(ns) > 0 && ns[0].StreamPos == high
			}
			if got := events(); got >= low {
				t.Errorf("events position %d while %d is in flight: want below it", got, low)
			}
			select {
			case err := <-secondDone:
				t.Errorf("the later transaction returned (%v) before the earlier one ended", err)
				secondDone <- err
			default:
			}
			close(release)
			if err := <-firstDone; !errors.Is(err, outcome) {
				t.Fatalf("first transaction: got %v, want %v", err, outcome)
			}
			if err := <-secondDone; err != nil {
				t.Fatal(err)
			}
			if got := events(); got < high || low <= start {
				t.Errorf("events position after both ended: got %d, want at least %d", got, high)
			}
		}
	})
}
