package storage_test

import (
	"context"
	"errors"
	"slices"
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
		if err := db.Claim(ctx); err != nil { // the serving process: its transactions take positions side by side
			t.Fatal(err)
		}
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

// TestDB_PositionsOfAnotherProcess (PostgreSQL): a position the admin
// commands' process takes beside the serving one waits for the serving
// process's transactions in flight, and the serving process neither
// publishes past it nor takes another until it ends.
func TestDB_PositionsOfAnotherProcess(t *testing.T) {
	if !slices.Contains(storagetest.Dialects(), "postgres") {
		t.Skip("PostgreSQL only: SQLite has one writer")
	}
	ctx := t.Context()
	url := storagetest.URL(t, "postgres")
	server, admin := storagetest.Open(t, url), storagetest.Open(t, url)
	if err := server.Claim(ctx); err != nil {
		t.Fatal(err)
	}
	const stream = "device_lists"
	// release lets a held transaction commit; a failing test lets them all
	// end before the databases close.
	release := func(ch chan struct{}) {
		select {
		case <-ch:
		default:
			close(ch)
		}
	}
	// hold runs a transaction taking a position of stream on db; it sends
	// the position, then commits when its release channel closes.
	hold := func(db *storage.DB, ch chan struct{}) (<-chan int64, <-chan error) {
		t.Cleanup(func() { release(ch) })
		took, done := make(chan int64, 1), make(chan error, 1)
		go func() {
			done <- db.WithTx(context.Background(), func(ctx context.Context, tx *storage.Tx) error {
				pos, err := tx.NextStreamPos(ctx, stream)
				if err != nil {
					return err
				}
				took <- pos
				<-ch
				return nil
			})
		}()
		return took, done
	}
	taken := func(took <-chan int64, done <-chan error) int64 {
		select {
		case pos := <-took:
			return pos
		case err := <-done:
			t.Fatalf("transaction ended before taking a position: %v", err)
		}
		return 0
	}
	waiting := func(what string, took <-chan int64) {
		select {
		case pos := <-took:
			t.Fatalf("%s took position %d while the other transaction was in flight", what, pos)
		case <-time.After(200 * time.Millisecond):
		}
	}
	published := func() int64 {
		pos, err := server.StreamPos(ctx, stream)
		if err != nil {
			t.Fatal(err)
		}
		return pos
	}

	releaseServer := make(chan struct{})
	serverTook, serverDone := hold(server, releaseServer)
	first := taken(serverTook, serverDone)
	releaseAdmin := make(chan struct{})
	adminTook, adminDone := hold(admin, releaseAdmin)
	waiting("the admin process", adminTook)
	release(releaseServer)
	if err := <-serverDone; err != nil {
		t.Fatal(err)
	}
	adminPos := taken(adminTook, adminDone)
	if adminPos <= first {
		t.Fatalf("admin position %d, want above the server's %d", adminPos, first)
	}
	releaseLater := make(chan struct{})
	release(releaseLater)
	laterTook, laterDone := hold(server, releaseLater)
	waiting("the serving process", laterTook)
	if got := published(); got >= adminPos {
		t.Errorf("published %d while the admin process's %d is in flight", got, adminPos)
	}
	release(releaseAdmin)
	if err := <-adminDone; err != nil {
		t.Fatal(err)
	}
	later := taken(laterTook, laterDone)
	if err := <-laterDone; err != nil {
		t.Fatal(err)
	}
	if later <= adminPos || published() < later {
		t.Errorf("after the admin transaction: server took %d (want above %d), published %d", later, adminPos, published())
	}
}
