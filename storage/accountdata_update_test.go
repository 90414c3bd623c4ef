package storage_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/ganglion/ganglion/storage"
	"github.com/ganglion/ganglion/storage/storagetest"
)

// addKey is an UpdateAccountData function that adds key to a JSON object.
func addKey(key string) func(json.RawMessage) (json.RawMessage, error) {
	return func(old json.RawMessage) (json.RawMessage, error) {
		m := map[string]int{}
		if old != nil {
			if err := json.Unmarshal(old, &m); err != nil {
				return nil, err
			}
		}
		m[key] = len(m)
		return json.Marshal(m)
	}
}

func TestTx_UpdateAccountData(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := t.Context()
		update := func(fn func(json.RawMessage) (json.RawMessage, error)) (int64, error) {
			var pos int64
			err := db.WithTx(ctx, func(ctx context.Context, tx *storage.Tx) error {
				var err error
				pos, err = tx.UpdateAccountData(ctx, "alice", "!r:example.org", "m.tag", fn)
				return err
			})
			return pos, err
		}
		t.Run("OK", func(t *testing.T) {
			var seen []string
			p1, err := update(func(old json.RawMessage) (json.RawMessage, error) {
				seen = append(seen, fmt.Sprint(old))
				return addKey("a")(old)
			})
			if err != nil {
				t.Fatal(err)
			}
			p2, err := update(addKey("b"))
			if err != nil || p2 <= p1 {
				t.Fatalf("second update: got %d, %v, want a position after %d", p2, err, p1)
			}
			if seen[0] != "[]" {
				t.Errorf("first update saw %s, want nil", seen[0])
			}
			got, err := db.AccountData(ctx, "alice", "!r:example.org", "m.tag")
			if err != nil || string(got) != `{"a":0,"b":1}` {
				t.Errorf("got %s, %v, want {\"a\":0,\"b\":1}", got, err)
			}
		})
		t.Run("ErrFromFn", func(t *testing.T) {
			errStop := errors.New("stop")
			if _, err := update(func(json.RawMessage) (json.RawMessage, error) { return nil, errStop }); !errors.Is(err, errStop) {
				t.Fatalf("got %v, want errStop", err)
			}
			err := db.WithTx(ctx, func(ctx context.Context, tx *storage.Tx) error {
				_, err := tx.UpdateAccountData(ctx, "bob", "", "m.direct", func(json.RawMessage) (json.RawMessage, error) {
					return nil, errStop
				})
				return err
			})
			if !errors.Is(err, errStop) {
				t.Fatalf("got %v, want errStop", err)
			}
			if _, err := db.AccountData(ctx, "bob", "", "m.direct"); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("after a failed first update: got %v, want ErrNotFound (no placeholder left)", err)
			}
			if all, _ := db.AccountDataSince(ctx, "bob", 0); len(all) != 0 {
				t.Errorf("bob's account data: got %d rows, want 0", len(all))
			}
		})
		t.Run("OKConcurrent", func(t *testing.T) {
			const n = 8
			errs := concurrentTxs(t, db, n, func(ctx context.Context, tx *storage.Tx, i int) error {
				_, err := tx.UpdateAccountData(ctx, "carol", "!r:example.org", "m.tag", addKey(fmt.Sprint("k", i)))
				return err
			})
			for _, err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			got, err := db.AccountData(ctx, "carol", "!r:example.org", "m.tag")
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]int
			if err := json.Unmarshal(got, &m); err != nil || len(m) != n {
				t.Errorf("got %s, want %d keys: no update may be lost", got, n)
			}
		})
	})
}
