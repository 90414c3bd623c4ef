package storage_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ganglion/ganglion/storage"
	"github.com/ganglion/ganglion/storage/storagetest"
)

func TestTx_InsertAccount(t *testing.T) {
	storagetest.EachClock(t, func(t *testing.T, db *storage.DB, clock *storagetest.Clock) {
		ctx := t.Context()
		t.Run("OK", func(t *testing.T) {
			want := storage.Account{Localpart: "alice", PasswordHash: "$2a$hash", IsAdmin: true, IsGuest: true}
			mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error { return tx.InsertAccount(ctx, want) })
			got, err := db.Account(ctx, "alice")
			if err != nil {
				t.Fatalf("Account: got %v, want nil", err)
			}
			want.CreatedAt = storagetest.Epoch
			if !got.CreatedAt.Equal(want.CreatedAt) {
				t.Errorf("CreatedAt: got %v, want %v", got.CreatedAt, want.CreatedAt)
			}
			got.CreatedAt = want.CreatedAt
			if got != want {
				t.Errorf("Account: got %+v, want %+v", got, want)
			}
			p, err := db.Profile(ctx, "alice")
			if err != nil {
				t.Fatalf("Profile: got %v, want nil", err)
			}
			if p.DisplayName != nil || p.AvatarURL != nil {
				t.Errorf("Profile: got %s %s, want an empty profile", str(p.DisplayName), str(p.AvatarURL))
			}
		})
		t.Run("ErrExists", func(t *testing.T) {
			for _, tc := range []struct {
				name        string
				deactivated bool
			}{
				{"Active", false},
				{"Deactivated", true},
			} {
				t.Run(tc.name, func(t *testing.T) {
					localpart := "taken-" + tc.name
					mustAccount(t, db, localpart)
					if tc.deactivated {
						mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
							return tx.DeactivateAccount(ctx, localpart, true)
						})
					}
					clock.Advance(time.Minute)
					err := inTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
						return tx.InsertAccount(ctx, storage.Account{Localpart: localpart, PasswordHash: "other"})
					})
					if !errors.Is(err, storage.ErrExists) {
						t.Fatalf("InsertAccount: got %v, want ErrExists", err)
					}
					got, err := db.Account(ctx, localpart)
					if err != nil {
						t.Fatalf("Account: got %v, want nil", err)
					}
					if got.Deactivated != tc.deactivated || got.PasswordHash == "other" {
						t.Errorf("Account after refused insert: got %+v, want the original row", got)
					}
				})
			}
		})
		t.Run("ConcurrentSameLocalpart", func(t *testing.T) {
			const n = 8
			errs := concurrentTxs(t, db, n, func(ctx context.Context, tx *storage.Tx, _ int) error {
				return tx.InsertAccount(ctx, storage.Account{Localpart: "racer"})
			})
			if ok := countNil(t, errs, storage.ErrExists); ok != 1 {
				t.Errorf("results: got %d nil and the rest ErrExists, want 1 and %d", ok, n-1)
			}
			if _, err := db.Profile(ctx, "racer"); err != nil {
				t.Errorf("Profile of the winner: got %v, want nil", err)
			}
		})
	})
}

func TestDB_Account(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := t.Context()
		mustAccount(t, db, "alice")
		t.Run("OK", func(t *testing.T) {
			got, err := db.Account(ctx, "alice")
			if err != nil {
				t.Fatalf("got %v, want nil", err)
			}
			if got.Localpart != "alice" || got.PasswordHash != "hash-alice" {
				t.Errorf("got %+v, want alice with hash-alice", got)
			}
		})
		t.Run("OKInTx", func(t *testing.T) {
			mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
				if err := tx.InsertAccount(ctx, storage.Account{Localpart: "fresh"}); err != nil {
					return err
				}
				got, err := tx.Account(ctx, "fresh")
				if err != nil {
					t.Errorf("Tx.Account of an uncommitted account: got %v, want nil", err)
				} else if got.Localpart != "fresh" {
					t.Errorf("Tx.Account: got %q, want fresh", got.Localpart)
				}
				return nil
			})
		})
		t.Run("ErrNotFound", func(t *testing.T) {
			wantNotFound(t, db, []string{"nobody", "ALICE", ""}, db.Account, (*storage.Tx).Account)
		})
	})
}

func TestDB_AccountExists(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		mustAccount(t, db, "active")
		mustAccount(t, db, "gone")
		mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
			return tx.DeactivateAccount(ctx, "gone", true)
		})
		for _, tc := range []struct {
			localpart string
			want      bool
		}{
			{"active", true},
			{"gone", true},
			{"unknown", false},
		} {
			t.Run(tc.localpart, func(t *testing.T) {
				got, err := db.AccountExists(t.Context(), tc.localpart)
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				if got != tc.want {
					t.Errorf("got %v, want %v", got, tc.want)
				}
			})
		}
	})
}

func TestTx_SetPasswordHash(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := t.Context()
		mustAccount(t, db, "alice")
		mustAccount(t, db, "gone")
		mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
			return tx.DeactivateAccount(ctx, "gone", false)
		})
		t.Run("OK", func(t *testing.T) {
			mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
				return tx.SetPasswordHash(ctx, "alice", "new-hash")
			})
			got, err := db.Account(ctx, "alice")
			if err != nil {
				t.Fatal(err)
			}
			if got.PasswordHash != "new-hash" {
				t.Errorf("PasswordHash: got %q, want new-hash", got.PasswordHash)
			}
		})
		t.Run("ErrNotFound", func(t *testing.T) {
			for _, localpart := range []string{"unknown", "gone"} {
				t.Run(localpart, func(t *testing.T) {
					err := inTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
						return tx.SetPasswordHash(ctx, localpart, "new-hash")
					})
					if !errors.Is(err, storage.ErrNotFound) {
						t.Fatalf("got %v, want ErrNotFound", err)
					}
				})
			}
			got, err := db.Account(ctx, "gone")
			if err != nil {
				t.Fatal(err)
			}
			if got.PasswordHash != "" {
				t.Errorf("PasswordHash of deactivated account: got %q, want empty", got.PasswordHash)
			}
		})
	})
}

func TestTx_SetAdmin(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := t.Context()
		mustAccount(t, db, "alice")
		t.Run("OK", func(t *testing.T) {
			for _, admin := range []bool{true, false, true} {
				mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
					return tx.SetAdmin(ctx, "alice", admin)
				})
				got, err := db.Account(ctx, "alice")
				if err != nil {
					t.Fatal(err)
				}
				if got.IsAdmin != admin {
					t.Errorf("IsAdmin after SetAdmin(%v): got %v, want %v", admin, got.IsAdmin, admin)
				}
			}
		})
		t.Run("ErrNotFound", func(t *testing.T) {
			err := inTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
				return tx.SetAdmin(ctx, "unknown", true)
			})
			if !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("got %v, want ErrNotFound", err)
			}
		})
	})
}

func TestTx_SetGuest(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := t.Context()
		mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
			return tx.InsertAccount(ctx, storage.Account{Localpart: "guest", IsGuest: true})
		})
		t.Run("OK", func(t *testing.T) {
			mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
				return tx.SetGuest(ctx, "guest", false)
			})
			got, err := db.Account(ctx, "guest")
			if err != nil {
				t.Fatal(err)
			}
			if got.IsGuest {
				t.Errorf("IsGuest: got true, want false")
			}
		})
		t.Run("ErrNotFound", func(t *testing.T) {
			err := inTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
				return tx.SetGuest(ctx, "unknown", false)
			})
			if !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("got %v, want ErrNotFound", err)
			}
		})
	})
}

// mustFullAccount creates an account with two devices, each logged in with
// an access and a refresh token, a login token, a profile, account data and
// a filter. Tokens are named localpart+"-access-1" and so on.
func mustFullAccount(t *testing.T, db *storage.DB, localpart string) (filterID string) {
	t.Helper()
	mustAccount(t, db, localpart)
	for _, dev := range []string{"1", "2"} {
		mustDevice(t, db, localpart, "DEV"+dev)
		mustLogin(t, db, localpart, "DEV"+dev, localpart+"-access-"+dev, localpart+"-refresh-"+dev)
	}
	mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
		if err := tx.InsertLoginToken(ctx, localpart+"-login", localpart, tx.Now.Add(time.Hour)); err != nil {
			return err
		}
		if err := tx.SetDisplayName(ctx, localpart, ptr("Name of "+localpart)); err != nil {
			return err
		}
		return tx.SetAvatarURL(ctx, localpart, ptr("mxc://example.org/"+localpart))
	})
	mustAccountData(t, db, localpart, "", "m.push_rules", `{"global":{}}`)
	mustAccountData(t, db, localpart, "!room:example.org", "m.tag", `{"tags":{}}`)
	return mustFilter(t, db, localpart, `{"room":{}}`)
}

func TestTx_DeactivateAccount(t *testing.T) {
	for _, tc := range []struct {
		name  string
		erase bool
	}{
		{"OKKeep", false},
		{"OKErase", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			storagetest.Each(t, func(t *testing.T, db *storage.DB) {
				ctx := t.Context()
				aliceFilter := mustFullAccount(t, db, "alice")
				bobFilter := mustFullAccount(t, db, "bob")

				mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
					return tx.DeactivateAccount(ctx, "alice", tc.erase)
				})

				acc, err := db.Account(ctx, "alice")
				if err != nil {
					t.Fatalf("Account: got %v, want nil", err)
				}
				if !acc.Deactivated || acc.PasswordHash != "" {
					t.Errorf("Account: got deactivated=%v hash=%q, want true and empty", acc.Deactivated, acc.PasswordHash)
				}
				devs, err := db.Devices(ctx, "alice")
				if err != nil {
					t.Fatal(err)
				}
				if len(devs) != 0 {
					t.Errorf("Devices: got %d, want 0", len(devs))
				}
				for _, n := range []string{"1", "2"} {
					wantNoSession(t, db, "alice-access-"+n)
					wantNoRefresh(t, db, "alice-refresh-"+n)
				}
				err = inTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
					_, err := tx.UseLoginToken(ctx, "alice-login")
					return err
				})
				if !errors.Is(err, storage.ErrNotFound) {
					t.Errorf("UseLoginToken: got %v, want ErrNotFound", err)
				}

				p, err := db.Profile(ctx, "alice")
				if err != nil {
					t.Fatalf("Profile: got %v, want nil", err)
				}
				wantName, wantAvatar := ptr("Name of alice"), ptr("mxc://example.org/alice")
				if tc.erase {
					wantName, wantAvatar = nil, nil
				}
				if str(p.DisplayName) != str(wantName) || str(p.AvatarURL) != str(wantAvatar) {
					t.Errorf("Profile: got %s %s, want %s %s",
						str(p.DisplayName), str(p.AvatarURL), str(wantName), str(wantAvatar))
				}
				data, err := db.AccountDataSince(ctx, "alice", 0)
				if err != nil {
					t.Fatal(err)
				}
				if wantN := map[bool]int{false: 2, true: 0}[tc.erase]; len(data) != wantN {
					t.Errorf("AccountDataSince: got %d entries, want %d", len(data), wantN)
				}
				_, err = db.Filter(ctx, "alice", aliceFilter)
				if wantErr := map[bool]error{false: nil, true: storage.ErrNotFound}[tc.erase]; !errors.Is(err, wantErr) {
					t.Errorf("Filter: got %v, want %v", err, wantErr)
				}

				// bob is untouched.
				mustSession(t, db, "bob-access-1")
				if devs, err := db.Devices(ctx, "bob"); err != nil || len(devs) != 2 {
					t.Errorf("bob's devices: got %d, %v, want 2, nil", len(devs), err)
				}
				if data, err := db.AccountDataSince(ctx, "bob", 0); err != nil || len(data) != 2 {
					t.Errorf("bob's account data: got %d, %v, want 2, nil", len(data), err)
				}
				if _, err := db.Filter(ctx, "bob", bobFilter); err != nil {
					t.Errorf("bob's filter: got %v, want nil", err)
				}
				if p, err := db.Profile(ctx, "bob"); err != nil || p.DisplayName == nil {
					t.Errorf("bob's profile: got %s, %v, want a display name", str(p.DisplayName), err)
				}
			})
		})
	}
	t.Run("ErrNotFound", func(t *testing.T) {
		storagetest.Each(t, func(t *testing.T, db *storage.DB) {
			err := inTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
				return tx.DeactivateAccount(ctx, "unknown", true)
			})
			if !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("got %v, want ErrNotFound", err)
			}
		})
	})
}

func TestTx_NextStreamPos(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		next := func(t *testing.T, stream string) int64 {
			t.Helper()
			var pos int64
			mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
				var err error
				pos, err = tx.NextStreamPos(ctx, stream)
				return err
			})
			return pos
		}
		t.Run("OK", func(t *testing.T) {
			last := next(t, "guest")
			for range 5 {
				pos := next(t, "guest")
				if pos != last+1 {
					t.Errorf("position: got %d, want %d", pos, last+1)
				}
				last = pos
			}
		})
		t.Run("OKSameTx", func(t *testing.T) {
			mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
				a, err := tx.NextStreamPos(ctx, "guest")
				if err != nil {
					return err
				}
				b, err := tx.NextStreamPos(ctx, "guest")
				if err != nil {
					return err
				}
				if b <= a {
					t.Errorf("second position in one tx: got %d, want > %d", b, a)
				}
				return nil
			})
		})
		t.Run("OKStreamsIndependent", func(t *testing.T) {
			guest := next(t, "guest")
			filter := next(t, "filter")
			next(t, "filter")
			if got := next(t, "guest"); got != guest+1 {
				t.Errorf("guest after filter positions: got %d, want %d", got, guest+1)
			}
			if got := next(t, "filter"); got != filter+2 {
				t.Errorf("filter: got %d, want %d", got, filter+2)
			}
		})
		t.Run("OKConcurrent", func(t *testing.T) {
			const n = 8
			got := make([]int64, n)
			errs := concurrentTxs(t, db, n, func(ctx context.Context, tx *storage.Tx, i int) error {
				var err error
				got[i], err = tx.NextStreamPos(ctx, "account_data")
				return err
			})
			seen := map[int64]bool{}
			for i, err := range errs {
				if err != nil {
					t.Fatalf("goroutine %d: got %v, want nil", i, err)
				}
				if seen[got[i]] {
					t.Errorf("position %d handed out twice", got[i])
				}
				seen[got[i]] = true
			}
		})
		t.Run("ErrNotFound", func(t *testing.T) {
			err := inTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
				_, err := tx.NextStreamPos(ctx, "no_such_stream")
				return err
			})
			if !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("got %v, want ErrNotFound", err)
			}
		})
	})
}
