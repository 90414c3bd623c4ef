package storage_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"

	"github.com/ganglion/ganglion/storage"
)

// inTx runs fn in one write transaction and returns its error.
func inTx(t *testing.T, db *storage.DB, fn func(ctx context.Context, tx *storage.Tx) error) error {
	t.Helper()
	return db.WithTx(t.Context(), fn)
}

// txOp returns a function that calls op, a Tx method taking one string
// such as (*storage.Tx).DeleteAccessToken, in a write transaction of its
// own and returns its error.
func txOp(db *storage.DB, op func(*storage.Tx, context.Context, string) error) func(t *testing.T, arg string) error {
	return func(t *testing.T, arg string) error {
		t.Helper()
		return inTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
			return op(tx, ctx, arg)
		})
	}
}

// wantNotFound checks that each key is ErrNotFound both to get, on the read
// pool, and to txGet (a method expression such as (*storage.Tx).Account)
// inside a transaction.
func wantNotFound[T any](t *testing.T, db *storage.DB, keys []string,
	get func(context.Context, string) (T, error), txGet func(*storage.Tx, context.Context, string) (T, error)) {
	t.Helper()
	for _, key := range keys {
		if _, err := get(t.Context(), key); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("%q: got %v, want ErrNotFound", key, err)
		}
	}
	mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
		for _, key := range keys {
			if _, err := txGet(tx, ctx, key); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("%q in a transaction: got %v, want ErrNotFound", key, err)
			}
		}
		return nil
	})
}

// mustTx runs fn in one write transaction and fails the test on error.
func mustTx(t *testing.T, db *storage.DB, fn func(ctx context.Context, tx *storage.Tx) error) {
	t.Helper()
	if err := inTx(t, db, fn); err != nil {
		t.Fatalf("transaction: %v", err)
	}
}

// mustAccount creates an account with the localpart.
func mustAccount(t *testing.T, db *storage.DB, localpart string) {
	t.Helper()
	mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
		return tx.InsertAccount(ctx, storage.Account{Localpart: localpart, PasswordHash: "hash-" + localpart})
	})
}

// mustDevice creates (or logs in again) a device without a display name.
func mustDevice(t *testing.T, db *storage.DB, localpart, deviceID string) {
	t.Helper()
	mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
		return tx.UpsertDevice(ctx, localpart, deviceID, nil, "192.0.2.1", "test-agent")
	})
}

// mustAccessToken stores an access token that never expires.
func mustAccessToken(t *testing.T, db *storage.DB, localpart, deviceID, hash, refreshHash string) {
	t.Helper()
	mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
		return tx.InsertAccessToken(ctx, storage.AccessToken{
			Hash: hash, Localpart: localpart, DeviceID: deviceID, RefreshHash: refreshHash,
		})
	})
}

// mustLogin stores an access token and the refresh token issued with it.
func mustLogin(t *testing.T, db *storage.DB, localpart, deviceID, access, refresh string) {
	t.Helper()
	mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
		if err := tx.InsertRefreshToken(ctx, storage.RefreshToken{
			Hash: refresh, Localpart: localpart, DeviceID: deviceID,
		}); err != nil {
			return err
		}
		return tx.InsertAccessToken(ctx, storage.AccessToken{
			Hash: access, Localpart: localpart, DeviceID: deviceID, RefreshHash: refresh,
		})
	})
}

// mustRefresh rotates refresh token old into the pair (access, refresh) the
// way the refresh endpoint does, in one transaction, and returns what
// UseRefreshToken returned.
func mustRefresh(t *testing.T, db *storage.DB, old, access, refresh string) storage.RefreshToken {
	t.Helper()
	var used storage.RefreshToken
	mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
		var err error
		if used, err = tx.UseRefreshToken(ctx, old); err != nil {
			return err
		}
		if err := tx.InsertRefreshToken(ctx, storage.RefreshToken{
			Hash: refresh, Localpart: used.Localpart, DeviceID: used.DeviceID, PrevHash: old,
		}); err != nil {
			return err
		}
		return tx.InsertAccessToken(ctx, storage.AccessToken{
			Hash: access, Localpart: used.Localpart, DeviceID: used.DeviceID, RefreshHash: refresh,
		})
	})
	return used
}

// useRefresh calls UseRefreshToken in a transaction of its own.
func useRefresh(t *testing.T, db *storage.DB, hash string) (storage.RefreshToken, error) {
	t.Helper()
	var used storage.RefreshToken
	err := inTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
		var err error
		used, err = tx.UseRefreshToken(ctx, hash)
		return err
	})
	return used, err
}

// mustSession returns the session of an access token.
func mustSession(t *testing.T, db *storage.DB, hash string) storage.Session {
	t.Helper()
	s, err := db.SessionByToken(t.Context(), hash)
	if err != nil {
		t.Fatalf("SessionByToken(%q): got %v, want nil", hash, err)
	}
	return s
}

// wantNoSession checks that the access token is gone.
func wantNoSession(t *testing.T, db *storage.DB, hash string) {
	t.Helper()
	if _, err := db.SessionByToken(t.Context(), hash); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("SessionByToken(%q): got %v, want ErrNotFound", hash, err)
	}
}

// wantNoRefresh checks that the refresh token is gone. It rolls back, so
// that the check changes nothing.
func wantNoRefresh(t *testing.T, db *storage.DB, hash string) {
	t.Helper()
	errRollback := errors.New("rollback")
	err := inTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
		if _, err := tx.UseRefreshToken(ctx, hash); err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("UseRefreshToken(%q): got %v, want ErrNotFound", hash, err)
	}
}

// mustAccountData stores one piece of account data and returns its
// stream position.
func mustAccountData(t *testing.T, db *storage.DB, localpart, roomID, typ, content string) int64 {
	t.Helper()
	var pos int64
	mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
		var err error
		pos, err = tx.PutAccountData(ctx, localpart, roomID, typ, json.RawMessage(content))
		return err
	})
	return pos
}

// mustFilter stores a filter and returns its id.
func mustFilter(t *testing.T, db *storage.DB, localpart, filter string) string {
	t.Helper()
	var id string
	mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
		var err error
		id, err = tx.InsertFilter(ctx, localpart, json.RawMessage(filter))
		return err
	})
	return id
}

// concurrentTxs runs fn n times at once, each in its own write transaction
// and goroutine, released together, and returns the errors in goroutine
// order.
func concurrentTxs(t *testing.T, db *storage.DB, n int, fn func(ctx context.Context, tx *storage.Tx, i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = db.WithTx(t.Context(), func(ctx context.Context, tx *storage.Tx) error {
				return fn(ctx, tx, i)
			})
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

// countNil returns how many of errs are nil, and fails the test for any
// that is neither nil nor lost (errors.Is).
func countNil(t *testing.T, errs []error, lost error) int {
	t.Helper()
	n := 0
	for i, err := range errs {
		switch {
		case err == nil:
			n++
		case !errors.Is(err, lost):
			t.Errorf("goroutine %d: got %v, want nil or %v", i, err, lost)
		}
	}
	return n
}

// ptr returns a pointer to v.
func ptr[T any](v T) *T { return &v }

// str renders an optional string for failure messages.
func str(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return `"` + *p + `"`
}
