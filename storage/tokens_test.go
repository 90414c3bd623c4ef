package storage_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ganglion/ganglion/storage"
	"github.com/ganglion/ganglion/storage/storagetest"
)

func TestDB_SessionByToken(t *testing.T) {
	expires := storagetest.Epoch.Add(time.Hour)
	type txFunc = func(ctx context.Context, tx *storage.Tx) error
	for _, tc := range []struct {
		name    string
		account storage.Account
		expires time.Time
		before  txFunc // before the device and token are stored
		after   txFunc // after the token is stored
		want    storage.Session
	}{
		{
			name:    "OK",
			account: storage.Account{Localpart: "alice"},
			want:    storage.Session{Localpart: "alice", DeviceID: "DEV"},
		},
		{
			name:    "OKExpires",
			account: storage.Account{Localpart: "alice"},
			expires: expires,
			want:    storage.Session{Localpart: "alice", DeviceID: "DEV", ExpiresAt: expires},
		},
		{
			name:    "OKGuest",
			account: storage.Account{Localpart: "guest", IsGuest: true},
			want:    storage.Session{Localpart: "guest", DeviceID: "DEV", IsGuest: true},
		},
		{
			name:    "OKAdmin",
			account: storage.Account{Localpart: "admin", IsAdmin: true},
			want:    storage.Session{Localpart: "admin", DeviceID: "DEV", IsAdmin: true},
		},
		{
			// The flags are the account's current ones, not those at login.
			name:    "OKAdminGrantedLater",
			account: storage.Account{Localpart: "alice"},
			after: func(ctx context.Context, tx *storage.Tx) error {
				return tx.SetAdmin(ctx, "alice", true)
			},
			want: storage.Session{Localpart: "alice", DeviceID: "DEV", IsAdmin: true},
		},
		{
			// Deactivation deletes every token; the flag guards a token
			// that a racing login stored after it.
			name:    "OKDeactivated",
			account: storage.Account{Localpart: "alice"},
			before: func(ctx context.Context, tx *storage.Tx) error {
				return tx.DeactivateAccount(ctx, "alice", false)
			},
			want: storage.Session{Localpart: "alice", DeviceID: "DEV", Deactivated: true},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			storagetest.Each(t, func(t *testing.T, db *storage.DB) {
				mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
					return tx.InsertAccount(ctx, tc.account)
				})
				if tc.before != nil {
					mustTx(t, db, tc.before)
				}
				mustDevice(t, db, tc.account.Localpart, "DEV")
				mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
					return tx.InsertAccessToken(ctx, storage.AccessToken{
						Hash: "token", Localpart: tc.account.Localpart, DeviceID: "DEV", ExpiresAt: tc.expires,
					})
				})
				if tc.after != nil {
					mustTx(t, db, tc.after)
				}
				got := mustSession(t, db, "token")
				if got.ExpiresAt.IsZero() != tc.want.ExpiresAt.IsZero() || !got.ExpiresAt.Equal(tc.want.ExpiresAt) {
					t.Errorf("ExpiresAt: got %v, want %v", got.ExpiresAt, tc.want.ExpiresAt)
				}
				got.ExpiresAt = tc.want.ExpiresAt
				if got != tc.want {
					t.Errorf("got %+v, want %+v", got, tc.want)
				}
			})
		})
	}
	t.Run("ErrNotFound", func(t *testing.T) {
		storagetest.Each(t, func(t *testing.T, db *storage.DB) {
			mustAccount(t, db, "alice")
			mustDevice(t, db, "alice", "DEV")
			mustAccessToken(t, db, "alice", "DEV", "token", "")
			for _, hash := range []string{"unknown", "TOKEN", ""} {
				wantNoSession(t, db, hash)
			}
		})
	})
}

func TestTx_InsertAccessToken(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		mustAccount(t, db, "alice")
		mustDevice(t, db, "alice", "DEV")
		t.Run("OK", func(t *testing.T) {
			mustAccessToken(t, db, "alice", "DEV", "first", "")
			mustAccessToken(t, db, "alice", "DEV", "second", "")
			mustSession(t, db, "first")
			mustSession(t, db, "second")
		})
		for _, tc := range []struct {
			name string
			tok  storage.AccessToken
		}{
			{"ErrDuplicateHash", storage.AccessToken{Hash: "first", Localpart: "alice", DeviceID: "DEV"}},
			{"ErrUnknownDevice", storage.AccessToken{Hash: "other", Localpart: "alice", DeviceID: "NODEV"}},
			{"ErrUnknownAccount", storage.AccessToken{Hash: "other", Localpart: "nobody", DeviceID: "DEV"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				err := inTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
					return tx.InsertAccessToken(ctx, tc.tok)
				})
				if err == nil {
					t.Fatalf("InsertAccessToken(%+v): got nil, want an error", tc.tok)
				}
			})
		}
	})
}

func TestTx_DeleteAccessToken(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		mustAccount(t, db, "alice")
		mustDevice(t, db, "alice", "DEV")
		mustLogin(t, db, "alice", "DEV", "access-1", "refresh-1")
		mustLogin(t, db, "alice", "DEV", "access-2", "refresh-2")
		mustAccessToken(t, db, "alice", "DEV", "plain", "")
		del := txOp(db, (*storage.Tx).DeleteAccessToken)
		t.Run("OK", func(t *testing.T) {
			if err := del(t, "access-1"); err != nil {
				t.Fatalf("got %v, want nil", err)
			}
			wantNoSession(t, db, "access-1")
			wantNoRefresh(t, db, "refresh-1")
			mustSession(t, db, "access-2")
			mustSession(t, db, "plain")
			if _, err := db.Device(t.Context(), "alice", "DEV"); err != nil {
				t.Errorf("Device after logout of one token: got %v, want nil", err)
			}
		})
		t.Run("OKWithoutRefresh", func(t *testing.T) {
			if err := del(t, "plain"); err != nil {
				t.Fatalf("got %v, want nil", err)
			}
			wantNoSession(t, db, "plain")
			mustSession(t, db, "access-2")
		})
		t.Run("ErrNotFound", func(t *testing.T) {
			for _, hash := range []string{"access-1", "unknown", "refresh-2"} {
				if err := del(t, hash); !errors.Is(err, storage.ErrNotFound) {
					t.Errorf("DeleteAccessToken(%s): got %v, want ErrNotFound", hash, err)
				}
			}
			mustSession(t, db, "access-2")
		})
	})
}

func TestTx_UseRefreshToken(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		mustAccount(t, db, "alice")
		mustDevice(t, db, "alice", "DEV")
		t.Run("OKRotate", func(t *testing.T) {
			mustLogin(t, db, "alice", "DEV", "A1", "R1")

			used := mustRefresh(t, db, "R1", "A2", "R2")
			if want := (storage.RefreshToken{Hash: "R1", Localpart: "alice", DeviceID: "DEV"}); used != want {
				t.Errorf("UseRefreshToken(R1): got %+v, want %+v", used, want)
			}
			wantNoSession(t, db, "A1")
			mustSession(t, db, "A2")

			used = mustRefresh(t, db, "R2", "A3", "R3")
			if want := (storage.RefreshToken{Hash: "R2", Localpart: "alice", DeviceID: "DEV", PrevHash: "R1"}); used != want {
				t.Errorf("UseRefreshToken(R2): got %+v, want %+v", used, want)
			}
			wantNoRefresh(t, db, "R1")
			wantNoSession(t, db, "A2")
			mustSession(t, db, "A3")
		})
		t.Run("OKRetry", func(t *testing.T) {
			mustLogin(t, db, "alice", "DEV", "B1", "S1")
			mustRefresh(t, db, "S1", "B2", "S2")
			// The client never got the answer and refreshes with S1 again.
			used := mustRefresh(t, db, "S1", "B2b", "S2b")
			if used.Hash != "S1" || used.PrevHash != "" {
				t.Errorf("UseRefreshToken(S1) again: got %+v, want S1 without a predecessor", used)
			}
			wantNoSession(t, db, "B2")
			wantNoRefresh(t, db, "S2")
			mustSession(t, db, "B2b")

			mustRefresh(t, db, "S2b", "B3", "S3")
			wantNoRefresh(t, db, "S1")
			wantNoSession(t, db, "B2b")
			mustSession(t, db, "B3")
		})
		t.Run("OKOtherChainsUntouched", func(t *testing.T) {
			mustDevice(t, db, "alice", "OTHER")
			mustLogin(t, db, "alice", "DEV", "C1", "T1")
			mustLogin(t, db, "alice", "OTHER", "D1", "U1")
			mustRefresh(t, db, "T1", "C2", "T2")
			mustRefresh(t, db, "T2", "C3", "T3")
			mustSession(t, db, "D1")
			if _, err := useRefresh(t, db, "U1"); err != nil {
				t.Errorf("UseRefreshToken(U1): got %v, want nil", err)
			}
		})
		t.Run("ErrNotFound", func(t *testing.T) {
			for _, hash := range []string{"unknown", "", "A3"} {
				if _, err := useRefresh(t, db, hash); !errors.Is(err, storage.ErrNotFound) {
					t.Errorf("UseRefreshToken(%q): got %v, want ErrNotFound", hash, err)
				}
			}
		})
	})
}

func TestTx_UseLoginToken(t *testing.T) {
	storagetest.EachClock(t, func(t *testing.T, db *storage.DB, clock *storagetest.Clock) {
		mustAccount(t, db, "alice")
		insert := func(t *testing.T, hash string, ttl time.Duration) {
			t.Helper()
			mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
				return tx.InsertLoginToken(ctx, hash, "alice", tx.Now.Add(ttl))
			})
		}
		use := func(t *testing.T, hash string) (string, error) {
			t.Helper()
			var localpart string
			err := inTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
				var err error
				localpart, err = tx.UseLoginToken(ctx, hash)
				return err
			})
			return localpart, err
		}
		t.Run("OK", func(t *testing.T) {
			insert(t, "login", 2*time.Minute)
			clock.Advance(time.Minute)
			got, err := use(t, "login")
			if err != nil || got != "alice" {
				t.Fatalf("got %q, %v, want alice, nil", got, err)
			}
		})
		t.Run("ErrUsed", func(t *testing.T) {
			insert(t, "once", time.Minute)
			if _, err := use(t, "once"); err != nil {
				t.Fatalf("first use: got %v, want nil", err)
			}
			if _, err := use(t, "once"); !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("second use: got %v, want ErrNotFound", err)
			}
		})
		t.Run("ErrExpired", func(t *testing.T) {
			for _, tc := range []struct {
				name    string
				ttl     time.Duration
				advance time.Duration
			}{
				{"Past", time.Minute, 2 * time.Minute},
				{"AtExpiry", time.Minute, time.Minute},
				{"AlreadyExpired", -time.Second, 0},
			} {
				t.Run(tc.name, func(t *testing.T) {
					insert(t, "expiring-"+tc.name, tc.ttl)
					clock.Advance(tc.advance)
					if _, err := use(t, "expiring-"+tc.name); !errors.Is(err, storage.ErrNotFound) {
						t.Fatalf("got %v, want ErrNotFound", err)
					}
				})
			}
		})
		t.Run("ErrUnknown", func(t *testing.T) {
			if _, err := use(t, "unknown"); !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("got %v, want ErrNotFound", err)
			}
		})
	})
}
