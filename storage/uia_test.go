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

// mustUIASession starts a session.
func mustUIASession(t *testing.T, db *storage.DB, id, endpoint string) {
	t.Helper()
	mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
		return tx.InsertUIASession(ctx, id, endpoint)
	})
}

// getUIASession reads a session in a transaction of its own.
func getUIASession(t *testing.T, db *storage.DB, id string) (storage.UIASession, error) {
	t.Helper()
	var s storage.UIASession
	err := inTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
		var err error
		s, err = tx.UIASession(ctx, id)
		return err
	})
	return s, err
}

// checkUIASession compares two sessions field by field.
func checkUIASession(t *testing.T, got, want storage.UIASession) {
	t.Helper()
	if got.ID != want.ID || got.Endpoint != want.Endpoint || got.Localpart != want.Localpart ||
		got.RegToken != want.RegToken || got.Consumed != want.Consumed {
		t.Errorf("session: got %+v, want %+v", got, want)
	}
	if !slices.Equal(got.Completed, want.Completed) {
		t.Errorf("Completed: got %q, want %q", got.Completed, want.Completed)
	}
	if !got.CreatedAt.Equal(want.CreatedAt) {
		t.Errorf("CreatedAt: got %v, want %v", got.CreatedAt, want.CreatedAt)
	}
}

func TestTx_InsertUIASession(t *testing.T) {
	storagetest.EachClock(t, func(t *testing.T, db *storage.DB, clock *storagetest.Clock) {
		t.Run("OK", func(t *testing.T) {
			mustUIASession(t, db, "sess", "POST /_matrix/client/v3/register")
			got, err := getUIASession(t, db, "sess")
			if err != nil {
				t.Fatalf("UIASession: got %v, want nil", err)
			}
			checkUIASession(t, got, storage.UIASession{
				ID: "sess", Endpoint: "POST /_matrix/client/v3/register",
				Completed: []string{}, CreatedAt: storagetest.Epoch,
			})
		})
		t.Run("ErrDuplicate", func(t *testing.T) {
			err := inTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
				return tx.InsertUIASession(ctx, "sess", "POST /other")
			})
			if err == nil {
				t.Fatal("got nil, want an error for a duplicate session id")
			}
		})
	})
}

func TestTx_UIASession(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		t.Run("ErrNotFound", func(t *testing.T) {
			if _, err := getUIASession(t, db, "unknown"); !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("got %v, want ErrNotFound", err)
			}
		})
	})
}

func TestTx_UpdateUIASession(t *testing.T) {
	storagetest.EachClock(t, func(t *testing.T, db *storage.DB, clock *storagetest.Clock) {
		mustUIASession(t, db, "sess", "POST /register")
		mustUIASession(t, db, "other", "POST /register")
		update := func(t *testing.T, s storage.UIASession) error {
			t.Helper()
			return inTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
				return tx.UpdateUIASession(ctx, s)
			})
		}
		t.Run("OK", func(t *testing.T) {
			want := storage.UIASession{
				ID: "sess", Endpoint: "POST /register", Localpart: "alice",
				Completed: []string{"m.login.registration_token", "m.login.dummy"},
				RegToken:  "tok", CreatedAt: storagetest.Epoch,
			}
			clock.Advance(time.Minute)
			// Endpoint and CreatedAt are fixed at creation and ignored here.
			in := want
			in.Endpoint, in.CreatedAt = "DELETE /elsewhere", clock.Now()
			if err := update(t, in); err != nil {
				t.Fatalf("got %v, want nil", err)
			}
			got, err := getUIASession(t, db, "sess")
			if err != nil {
				t.Fatal(err)
			}
			checkUIASession(t, got, want)
			other, err := getUIASession(t, db, "other")
			if err != nil {
				t.Fatal(err)
			}
			if other.Localpart != "" || len(other.Completed) != 0 {
				t.Errorf("other session: got %+v, want it untouched", other)
			}
		})
		t.Run("OKNilCompletedStaysAList", func(t *testing.T) {
			if err := update(t, storage.UIASession{ID: "other"}); err != nil {
				t.Fatalf("got %v, want nil", err)
			}
			var raw string
			if err := storage.ReadPool(db).QueryRowContext(t.Context(),
				"SELECT completed FROM uia_sessions WHERE session_id = 'other'").Scan(&raw); err != nil {
				t.Fatal(err)
			}
			if raw != "[]" {
				t.Errorf("stored completed: got %s, want []", raw)
			}
		})
		t.Run("OKKeepsConsumed", func(t *testing.T) {
			mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
				return tx.ConsumeUIASession(ctx, "sess")
			})
			if err := update(t, storage.UIASession{ID: "sess", Completed: []string{"m.login.dummy"}}); err != nil {
				t.Fatalf("got %v, want nil", err)
			}
			got, err := getUIASession(t, db, "sess")
			if err != nil {
				t.Fatal(err)
			}
			if !got.Consumed {
				t.Errorf("Consumed after update: got false, want true")
			}
		})
		t.Run("ErrNotFound", func(t *testing.T) {
			if err := update(t, storage.UIASession{ID: "unknown"}); !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("got %v, want ErrNotFound", err)
			}
		})
	})
}

func TestTx_ConsumeUIASession(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		consume := txOp(db, (*storage.Tx).ConsumeUIASession)
		t.Run("OK", func(t *testing.T) {
			mustUIASession(t, db, "sess", "POST /register")
			if err := consume(t, "sess"); err != nil {
				t.Fatalf("got %v, want nil", err)
			}
			got, err := getUIASession(t, db, "sess")
			if err != nil {
				t.Fatal(err)
			}
			if !got.Consumed {
				t.Errorf("Consumed: got false, want true")
			}
		})
		t.Run("ErrNotFound", func(t *testing.T) {
			for _, id := range []string{"sess", "unknown"} {
				if err := consume(t, id); !errors.Is(err, storage.ErrNotFound) {
					t.Errorf("ConsumeUIASession(%s): got %v, want ErrNotFound", id, err)
				}
			}
		})
		t.Run("ConcurrentOnlyOne", func(t *testing.T) {
			mustUIASession(t, db, "race", "POST /register")
			const n = 8
			errs := concurrentTxs(t, db, n, func(ctx context.Context, tx *storage.Tx, _ int) error {
				return tx.ConsumeUIASession(ctx, "race")
			})
			if ok := countNil(t, errs, storage.ErrNotFound); ok != 1 {
				t.Errorf("successful consumes: got %d, want 1", ok)
			}
		})
	})
}

func TestTx_ExpireUIASessions(t *testing.T) {
	storagetest.EachClock(t, func(t *testing.T, db *storage.DB, clock *storagetest.Clock) {
		for _, id := range []string{"old", "boundary", "new"} {
			mustUIASession(t, db, id, "POST /register")
			clock.Advance(time.Minute)
		}
		t.Run("OK", func(t *testing.T) {
			mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
				return tx.ExpireUIASessions(ctx, storagetest.Epoch.Add(time.Minute))
			})
			for _, tc := range []struct {
				id   string
				want error
			}{
				{"old", storage.ErrNotFound},
				{"boundary", nil},
				{"new", nil},
			} {
				if _, err := getUIASession(t, db, tc.id); !errors.Is(err, tc.want) {
					t.Errorf("UIASession(%s): got %v, want %v", tc.id, err, tc.want)
				}
			}
		})
	})
	t.Run("OKReleasesReservedTokens", func(t *testing.T) {
		storagetest.EachClock(t, func(t *testing.T, db *storage.DB, clock *storagetest.Clock) {
			mustRegistrationToken(t, db, storage.RegistrationToken{Token: "tok", UsesAllowed: ptr[int64](5)})
			mustRegistrationToken(t, db, storage.RegistrationToken{Token: "idle"})
			// startWithToken starts a session that reserved "tok", the way
			// the m.login.registration_token stage does.
			startWithToken := func(id string) {
				mustUIASession(t, db, id, "POST /register")
				mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
					if err := tx.ReserveRegistrationToken(ctx, "tok"); err != nil {
						return err
					}
					return tx.UpdateUIASession(ctx, storage.UIASession{
						ID: id, Completed: []string{"m.login.registration_token"}, RegToken: "tok",
					})
				})
			}
			startWithToken("abandoned-1")
			startWithToken("abandoned-2")
			startWithToken("finished")
			mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
				if err := tx.ConsumeUIASession(ctx, "finished"); err != nil {
					return err
				}
				return tx.CompleteRegistrationToken(ctx, "tok")
			})
			mustUIASession(t, db, "without-token", "POST /register")
			clock.Advance(time.Hour)
			startWithToken("recent")
			wantCounts(t, db, "tok", 3, 1)

			mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
				return tx.ExpireUIASessions(ctx, tx.Now.Add(-time.Minute))
			})

			wantCounts(t, db, "tok", 1, 1)
			wantCounts(t, db, "idle", 0, 0)
			for _, id := range []string{"abandoned-1", "abandoned-2", "finished", "without-token"} {
				if _, err := getUIASession(t, db, id); !errors.Is(err, storage.ErrNotFound) {
					t.Errorf("UIASession(%s): got %v, want ErrNotFound", id, err)
				}
			}
			if _, err := getUIASession(t, db, "recent"); err != nil {
				t.Errorf("UIASession(recent): got %v, want nil", err)
			}
		})
	})
}
