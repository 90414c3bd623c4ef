package storage_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ganglion/ganglion/storage"
	"github.com/ganglion/ganglion/storage/storagetest"
)

func TestRegistrationToken_Valid(t *testing.T) {
	now := storagetest.Epoch
	for _, tc := range []struct {
		name string
		tok  storage.RegistrationToken
		want bool
	}{
		{"Unlimited", storage.RegistrationToken{}, true},
		{"UnlimitedManyUses", storage.RegistrationToken{Pending: 50, Completed: 1000}, true},
		{"UsesLeft", storage.RegistrationToken{UsesAllowed: ptr[int64](3), Pending: 1, Completed: 1}, true},
		{"UsedUpByCompleted", storage.RegistrationToken{UsesAllowed: ptr[int64](2), Completed: 2}, false},
		{"UsedUpWithPending", storage.RegistrationToken{UsesAllowed: ptr[int64](2), Pending: 1, Completed: 1}, false},
		{"ZeroUses", storage.RegistrationToken{UsesAllowed: ptr[int64](0)}, false},
		{"NotYetExpired", storage.RegistrationToken{ExpiresAt: ptr(now.Add(time.Millisecond))}, true},
		{"ExpiresNow", storage.RegistrationToken{ExpiresAt: ptr(now)}, false},
		{"Expired", storage.RegistrationToken{ExpiresAt: ptr(now.Add(-time.Hour))}, false},
		{"ExpiredWithUsesLeft", storage.RegistrationToken{UsesAllowed: ptr[int64](5), ExpiresAt: ptr(now.Add(-time.Hour))}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.tok.Valid(now); got != tc.want {
				t.Errorf("Valid: got %v, want %v", got, tc.want)
			}
		})
	}
}

// mustRegistrationToken creates a registration token.
func mustRegistrationToken(t *testing.T, db *storage.DB, tok storage.RegistrationToken) {
	t.Helper()
	mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
		return tx.InsertRegistrationToken(ctx, tok)
	})
}

// checkRegistrationToken compares two tokens field by field.
func checkRegistrationToken(t *testing.T, got, want storage.RegistrationToken) {
	t.Helper()
	if got.Token != want.Token || got.Pending != want.Pending || got.Completed != want.Completed {
		t.Errorf("token: got %s pending=%d completed=%d, want %s pending=%d completed=%d",
			got.Token, got.Pending, got.Completed, want.Token, want.Pending, want.Completed)
	}
	if (got.UsesAllowed == nil) != (want.UsesAllowed == nil) ||
		got.UsesAllowed != nil && *got.UsesAllowed != *want.UsesAllowed {
		t.Errorf("UsesAllowed of %s: got %v, want %v", got.Token, got.UsesAllowed, want.UsesAllowed)
	}
	if (got.ExpiresAt == nil) != (want.ExpiresAt == nil) ||
		got.ExpiresAt != nil && !got.ExpiresAt.Equal(*want.ExpiresAt) {
		t.Errorf("ExpiresAt of %s: got %v, want %v", got.Token, got.ExpiresAt, want.ExpiresAt)
	}
}

func TestTx_InsertRegistrationToken(t *testing.T) {
	expiry := storagetest.Epoch.Add(24 * time.Hour)
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		for _, tc := range []struct {
			name string
			tok  storage.RegistrationToken
		}{
			{"OKUnlimited", storage.RegistrationToken{Token: "unlimited"}},
			{"OKLimited", storage.RegistrationToken{Token: "limited", UsesAllowed: ptr[int64](3)}},
			{"OKExpiring", storage.RegistrationToken{Token: "expiring", ExpiresAt: &expiry}},
			{"OKBoth", storage.RegistrationToken{Token: "both", UsesAllowed: ptr[int64](0), ExpiresAt: &expiry}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				// Counts given to Insert are not stored: a new token is unused.
				in := tc.tok
				in.Pending, in.Completed = 7, 7
				mustRegistrationToken(t, db, in)
				got, err := db.RegistrationToken(t.Context(), tc.tok.Token)
				if err != nil {
					t.Fatalf("RegistrationToken: got %v, want nil", err)
				}
				checkRegistrationToken(t, got, tc.tok)
			})
		}
		t.Run("ErrExists", func(t *testing.T) {
			err := inTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
				return tx.InsertRegistrationToken(ctx, storage.RegistrationToken{Token: "limited"})
			})
			if !errors.Is(err, storage.ErrExists) {
				t.Fatalf("got %v, want ErrExists", err)
			}
			got, err := db.RegistrationToken(t.Context(), "limited")
			if err != nil {
				t.Fatal(err)
			}
			if got.UsesAllowed == nil {
				t.Errorf("UsesAllowed after refused insert: got nil, want 3")
			}
		})
	})
}

func TestDB_RegistrationToken(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		mustRegistrationToken(t, db, storage.RegistrationToken{Token: "tok"})
		t.Run("OKInTx", func(t *testing.T) {
			mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
				got, err := tx.RegistrationToken(ctx, "tok")
				if err != nil || got.Token != "tok" {
					t.Errorf("Tx.RegistrationToken: got %+v, %v, want tok, nil", got, err)
				}
				return nil
			})
		})
		t.Run("ErrNotFound", func(t *testing.T) {
			wantNotFound(t, db, []string{"unknown", "TOK", ""}, db.RegistrationToken, (*storage.Tx).RegistrationToken)
		})
	})
}

func TestDB_RegistrationTokens(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		t.Run("OKEmpty", func(t *testing.T) {
			got, err := db.RegistrationTokens(t.Context())
			if err != nil || len(got) != 0 {
				t.Fatalf("got %d tokens, %v, want 0, nil", len(got), err)
			}
		})
		t.Run("OK", func(t *testing.T) {
			for _, tok := range []string{"b", "Zed", "abc", "A1"} {
				mustRegistrationToken(t, db, storage.RegistrationToken{Token: tok, UsesAllowed: ptr[int64](int64(len(tok)))})
			}
			got, err := db.RegistrationTokens(t.Context())
			if err != nil {
				t.Fatalf("got %v, want nil", err)
			}
			want := []string{"A1", "Zed", "abc", "b"}
			if len(got) != len(want) {
				t.Fatalf("got %d tokens, want %d", len(got), len(want))
			}
			for i, tok := range got {
				checkRegistrationToken(t, tok, storage.RegistrationToken{
					Token: want[i], UsesAllowed: ptr[int64](int64(len(want[i]))),
				})
			}
		})
	})
}

// wantCounts checks a token's pending and completed counts.
func wantCounts(t *testing.T, db *storage.DB, token string, pending, completed int64) {
	t.Helper()
	got, err := db.RegistrationToken(t.Context(), token)
	if err != nil {
		t.Fatalf("RegistrationToken(%s): got %v, want nil", token, err)
	}
	if got.Pending != pending || got.Completed != completed {
		t.Errorf("%s: got pending=%d completed=%d, want %d and %d", token, got.Pending, got.Completed, pending, completed)
	}
}

func TestTx_ReserveRegistrationToken(t *testing.T) {
	storagetest.EachClock(t, func(t *testing.T, db *storage.DB, clock *storagetest.Clock) {
		mustRegistrationToken(t, db, storage.RegistrationToken{Token: "two", UsesAllowed: ptr[int64](2)})
		mustRegistrationToken(t, db, storage.RegistrationToken{Token: "unlimited"})
		mustRegistrationToken(t, db, storage.RegistrationToken{
			Token: "expiring", ExpiresAt: ptr(storagetest.Epoch.Add(time.Hour)),
		})
		reserve := txOp(db, (*storage.Tx).ReserveRegistrationToken)
		t.Run("OK", func(t *testing.T) {
			for i := range 2 {
				if err := reserve(t, "two"); err != nil {
					t.Fatalf("reservation %d: got %v, want nil", i+1, err)
				}
			}
			wantCounts(t, db, "two", 2, 0)
			for range 5 {
				if err := reserve(t, "unlimited"); err != nil {
					t.Fatalf("unlimited: got %v, want nil", err)
				}
			}
			wantCounts(t, db, "unlimited", 5, 0)
			clock.Advance(time.Hour - time.Millisecond)
			if err := reserve(t, "expiring"); err != nil {
				t.Fatalf("expiring, a millisecond before expiry: got %v, want nil", err)
			}
		})
		t.Run("ErrNotFound", func(t *testing.T) {
			clock.Set(storagetest.Epoch.Add(time.Hour))
			for _, tc := range []struct{ name, token string }{
				{"UsedUp", "two"},
				{"Expired", "expiring"},
				{"Unknown", "unknown"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					if err := reserve(t, tc.token); !errors.Is(err, storage.ErrNotFound) {
						t.Fatalf("got %v, want ErrNotFound", err)
					}
				})
			}
			wantCounts(t, db, "two", 2, 0)
			wantCounts(t, db, "expiring", 1, 0)
		})
		t.Run("ConcurrentNeverOverdraws", func(t *testing.T) {
			mustRegistrationToken(t, db, storage.RegistrationToken{Token: "three", UsesAllowed: ptr[int64](3)})
			const n = 8
			errs := concurrentTxs(t, db, n, func(ctx context.Context, tx *storage.Tx, _ int) error {
				return tx.ReserveRegistrationToken(ctx, "three")
			})
			if ok := countNil(t, errs, storage.ErrNotFound); ok != 3 {
				t.Errorf("reservations: got %d, want 3", ok)
			}
			wantCounts(t, db, "three", 3, 0)
		})
	})
}

func TestTx_CompleteRegistrationToken(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		mustRegistrationToken(t, db, storage.RegistrationToken{Token: "two", UsesAllowed: ptr[int64](2)})
		mustRegistrationToken(t, db, storage.RegistrationToken{Token: "other"})
		reserve := txOp(db, (*storage.Tx).ReserveRegistrationToken)
		complete := txOp(db, (*storage.Tx).CompleteRegistrationToken)
		t.Run("OK", func(t *testing.T) {
			for _, step := range []struct {
				name                  string
				do                    func(t *testing.T, token string) error
				wantPending, wantDone int64
				wantValid             bool
			}{
				{"Reserve", reserve, 1, 0, true},
				{"Complete", complete, 0, 1, true},
				{"ReserveLast", reserve, 1, 1, false},
				{"CompleteLast", complete, 0, 2, false},
			} {
				if err := step.do(t, "two"); err != nil {
					t.Fatalf("%s: got %v, want nil", step.name, err)
				}
				got, err := db.RegistrationToken(t.Context(), "two")
				if err != nil {
					t.Fatal(err)
				}
				if got.Pending != step.wantPending || got.Completed != step.wantDone {
					t.Errorf("%s: got pending=%d completed=%d, want %d and %d",
						step.name, got.Pending, got.Completed, step.wantPending, step.wantDone)
				}
				if v := got.Valid(storagetest.Epoch); v != step.wantValid {
					t.Errorf("%s: Valid got %v, want %v", step.name, v, step.wantValid)
				}
			}
			wantCounts(t, db, "other", 0, 0)
		})
		t.Run("ErrNotFound", func(t *testing.T) {
			for _, tc := range []struct{ name, token string }{
				{"NotReserved", "other"},
				{"AllCompleted", "two"},
				{"Unknown", "unknown"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					if err := complete(t, tc.token); !errors.Is(err, storage.ErrNotFound) {
						t.Fatalf("got %v, want ErrNotFound", err)
					}
				})
			}
			wantCounts(t, db, "two", 0, 2)
			wantCounts(t, db, "other", 0, 0)
		})
	})
}

func TestTx_DeleteRegistrationToken(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		mustRegistrationToken(t, db, storage.RegistrationToken{Token: "tok"})
		mustRegistrationToken(t, db, storage.RegistrationToken{Token: "kept"})
		del := txOp(db, (*storage.Tx).DeleteRegistrationToken)
		t.Run("OK", func(t *testing.T) {
			if err := del(t, "tok"); err != nil {
				t.Fatalf("got %v, want nil", err)
			}
			if _, err := db.RegistrationToken(t.Context(), "tok"); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("RegistrationToken after delete: got %v, want ErrNotFound", err)
			}
			if _, err := db.RegistrationToken(t.Context(), "kept"); err != nil {
				t.Errorf("other token: got %v, want nil", err)
			}
		})
		t.Run("ErrNotFound", func(t *testing.T) {
			for _, token := range []string{"tok", "unknown"} {
				if err := del(t, token); !errors.Is(err, storage.ErrNotFound) {
					t.Errorf("DeleteRegistrationToken(%s): got %v, want ErrNotFound", token, err)
				}
			}
		})
	})
}
