package storage_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/ganglion/ganglion/storage"
	"github.com/ganglion/ganglion/storage/storagetest"
)

func TestTx_InsertFilter(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := t.Context()
		t.Run("OK", func(t *testing.T) {
			ids := map[string]string{} // id -> filter
			for _, tc := range []struct{ localpart, filter string }{
				{"alice", `{"room":{"timeline":{"limit":10}}}`},
				{"alice", `{"room":{"timeline":{"limit":10}}}`},
				{"bob", `{"presence":{"not_types":["*"]}}`},
			} {
				id := mustFilter(t, db, tc.localpart, tc.filter)
				if _, dup := ids[id]; dup {
					t.Errorf("id %s handed out twice", id)
				}
				ids[id] = tc.filter
				got, err := db.Filter(ctx, tc.localpart, id)
				if err != nil {
					t.Fatalf("Filter(%s, %s): got %v, want nil", tc.localpart, id, err)
				}
				if string(got) != tc.filter {
					t.Errorf("Filter(%s, %s): got %s, want %s", tc.localpart, id, got, tc.filter)
				}
			}
		})
		t.Run("OKConcurrent", func(t *testing.T) {
			const n = 8
			ids := make([]string, n)
			errs := concurrentTxs(t, db, n, func(ctx context.Context, tx *storage.Tx, i int) error {
				var err error
				ids[i], err = tx.InsertFilter(ctx, "carol", json.RawMessage(`{}`))
				return err
			})
			seen := map[string]bool{}
			for i, err := range errs {
				if err != nil {
					t.Fatalf("goroutine %d: got %v, want nil", i, err)
				}
				if seen[ids[i]] {
					t.Errorf("id %s handed out twice", ids[i])
				}
				seen[ids[i]] = true
			}
		})
	})
}

func TestDB_Filter(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		id := mustFilter(t, db, "alice", `{}`)
		t.Run("OK", func(t *testing.T) {
			if _, err := db.Filter(t.Context(), "alice", id); err != nil {
				t.Fatalf("got %v, want nil", err)
			}
		})
		t.Run("ErrNotFound", func(t *testing.T) {
			for _, tc := range []struct{ name, localpart, id string }{
				{"Unknown", "alice", "999999"},
				{"OtherUser", "bob", id},
				{"NonNumeric", "alice", "abc"},
				{"Empty", "alice", ""},
				{"Fraction", "alice", id + ".0"},
				{"Overflow", "alice", "99999999999999999999999"},
				{"Negative", "alice", "-1"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					if _, err := db.Filter(t.Context(), tc.localpart, tc.id); !errors.Is(err, storage.ErrNotFound) {
						t.Errorf("Filter(%s, %q): got %v, want ErrNotFound", tc.localpart, tc.id, err)
					}
				})
			}
		})
	})
}
