package storage_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ganglion/ganglion/storage"
	"github.com/ganglion/ganglion/storage/storagetest"
)

// TestDB_WithTxConcurrent: transactions queued together (under SQLite
// committed as one group) each keep their own outcome: a failing one
// leaves nothing behind and fails alone, a panicking one panics in its
// caller, the others commit.
func TestDB_WithTxConcurrent(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		errOdd := errors.New("odd transactions fail")
		release := make(chan struct{})
		blocker := make(chan error, 1)
		go func() { // holds the writer so that the others queue up behind it
			blocker <- db.WithTx(t.Context(), func(ctx context.Context, tx *storage.Tx) error {
				<-release
				_, err := tx.PutAccountData(ctx, "blocker", "", "m.test", json.RawMessage(`{}`))
				return err
			})
		}()
		const n = 20
		errs := make([]error, n)
		panics := make([]any, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { panics[i] = recover() }()
				errs[i] = db.WithTx(t.Context(), func(ctx context.Context, tx *storage.Tx) error {
					if _, err := tx.PutAccountData(ctx, fmt.Sprintf("u%d", i), "", "m.test", json.RawMessage(`{}`)); err != nil {
						return err
					}
					switch {
					case i == 7:
						panic("transaction 7 panics")
					case i%2 == 1:
						return errOdd
					}
					return nil
				})
			}()
		}
		time.Sleep(50 * time.Millisecond) // let them queue; the outcome must not depend on it
		close(release)
		wg.Wait()
		if err := <-blocker; err != nil {
			t.Fatalf("blocking transaction: %v", err)
		}
		for i := range n {
			_, err := db.AccountData(t.Context(), fmt.Sprintf("u%d", i), "", "m.test")
			switch {
			case i == 7:
				if panics[i] != "transaction 7 panics" || !errors.Is(err, storage.ErrNotFound) {
					t.Errorf("transaction 7: panic %v, its write: %v; want its panic and no write", panics[i], err)
				}
			case i%2 == 1:
				if !errors.Is(errs[i], errOdd) || !errors.Is(err, storage.ErrNotFound) {
					t.Errorf("transaction %d: %v, its write: %v; want its own error and no write", i, errs[i], err)
				}
			default:
				if errs[i] != nil || panics[i] != nil || err != nil {
					t.Errorf("transaction %d: %v (panic %v), its write: %v; want it committed", i, errs[i], panics[i], err)
				}
			}
		}
	})
}
