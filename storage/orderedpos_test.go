package storage_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ganglion/ganglion/storage"
	"github.com/ganglion/ganglion/storage/storagetest"
)

// TestDB_PositionsInOrder (PostgreSQL, where transactions take positions
// of the streams /sync reads side by side): a transaction that commits
// before one holding a lower position of its stream is not published, and
// does not return, until that one ends, committed or rolled back.
func TestDB_PositionsInOrder(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		if db.Dialect() != "postgres" {
			t.Skip("SQLite's one writer commits in position order")
		}
		ctx := t.Context()
		for i, tc := range []struct {
			stream  string
			outcome error
		}{{storage.EventsStream, nil}, {storage.EventsStream, errors.New("rolled back")}, {"receipts", nil}} {
			stream, outcome := tc.stream, tc.outcome
			// The second transaction writes a notification row, keyed by
			// position: apart for each case, whatever its stream.
			key := func(pos int64) int64 { return int64(i+1)*1_000_000 + pos }
			events := func() int64 {
				pos, err := db.StreamPos(ctx, stream)
				if err != nil {
					t.Fatal(err)
				}
				return pos
			}
			start := events()
			took, release, firstDone := make(chan int64), make(chan struct{}), make(chan error)
			go func() {
				firstDone <- db.WithTx(context.Background(), func(ctx context.Context, tx *storage.Tx) error {
					pos, err := tx.NextStreamPos(ctx, stream)
					if err != nil {
						return err
					}
					took <- pos
					<-release
					return outcome
				})
			}()
			var low int64
			select {
			case low = <-took:
			case err := <-firstDone:
				t.Fatalf("first transaction: %v", err)
			}
			tookHigh, secondDone := make(chan int64, 1), make(chan error, 1)
			go func() {
				secondDone <- db.WithTx(context.Background(), func(ctx context.Context, tx *storage.Tx) error {
					high, err := tx.NextStreamPos(ctx, stream)
					if err != nil {
						return err
					}
					tookHigh <- high
					return tx.AddNotifications(ctx, []storage.Notification{note("@later:x", key(high), "!r", storage.MainThread, false)})
				})
			}()
			var high int64
			select {
			case high = <-tookHigh:
			case err := <-secondDone:
				close(release)
				t.Fatalf("second transaction: %v", err)
			}
			// Wait until the second transaction's write is committed.
			for committed := false; !committed; time.Sleep(time.Millisecond) {
				ns, _, err := db.Notifications(ctx, "@later:x", 0, 10, false)
				if err != nil {
					t.Error(err)
					break
				}
				committed = len(ns) > 0 && ns[0].StreamPos == key(high)
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
