package storage_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/ganglion/ganglion/storage"
	"github.com/ganglion/ganglion/storage/storagetest"
)

func testPusher(localpart, device, appID, pushKey string) storage.Pusher {
	return storage.Pusher{
		UserID: "@" + localpart + ":test.local", Localpart: localpart, DeviceID: device, AppID: appID, PushKey: pushKey,
		Kind: "http", AppDisplayName: "App", DeviceDisplayName: "Phone", Lang: "en",
		Data: json.RawMessage(`{"url":"https://gw.example/_matrix/push/v1/notify"}`),
	}
}

func mustSetPusher(t *testing.T, db *storage.DB, p storage.Pusher, keepOthers bool) {
	t.Helper()
	mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error { return tx.SetPusher(ctx, p, keepOthers) })
}

// pusherNames lists pushers as localpart/device/app/key.
func pusherNames(ps []storage.Pusher) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Localpart+"/"+p.DeviceID+"/"+p.AppID+"/"+p.PushKey)
	}
	slices.Sort(out)
	return out
}

func wantPushers(t *testing.T, db *storage.DB, want ...string) {
	t.Helper()
	all, err := db.PushersOfKind(t.Context(), "http", 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := pusherNames(all); !slices.Equal(got, want) {
		t.Fatalf("pushers: got %q, want %q", got, want)
	}
}

func TestTx_SetPusher(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error { return tx.SetPushPos(ctx, 7) })
		mustSetPusher(t, db, testPusher("alice", "D1", "app", "k"), false)
		t.Run("OK", func(t *testing.T) {
			p, err := db.Pusher(t.Context(), "@alice:test.local", "app", "k")
			if err != nil {
				t.Fatal(err)
			}
			if p.DeliveredPos != 7 || p.PushKeyTS == 0 || string(p.Data) != `{"url":"https://gw.example/_matrix/push/v1/notify"}` {
				t.Fatalf("new pusher: got %+v, want position 7 (the evaluator's), a timestamp and the data", p)
			}
		})
		t.Run("UpdateKeepsPosition", func(t *testing.T) {
			mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
				return tx.SetPusherDelivered(ctx, "@alice:test.local", "app", "k", 9)
			})
			mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error { // never backwards
				return tx.SetPusherDelivered(ctx, "@alice:test.local", "app", "k", 8)
			})
			update := testPusher("alice", "D2", "app", "k")
			update.Lang = "de"
			mustSetPusher(t, db, update, false)
			p, err := db.Pusher(t.Context(), "@alice:test.local", "app", "k")
			if err != nil {
				t.Fatal(err)
			}
			if p.DeliveredPos != 9 || p.Lang != "de" || p.DeviceID != "D2" {
				t.Fatalf("updated pusher: got %+v, want position 9, lang de, device D2", p)
			}
		})
		t.Run("Append", func(t *testing.T) {
			mustSetPusher(t, db, testPusher("bob", "B1", "app", "k"), true)
			wantPushers(t, db, "alice/D2/app/k", "bob/B1/app/k")
			mustSetPusher(t, db, testPusher("bob", "B1", "app", "k"), false)
			wantPushers(t, db, "bob/B1/app/k")
		})
		t.Run("ErrNotFound", func(t *testing.T) {
			_, err := db.Pusher(t.Context(), "@alice:test.local", "app", "k")
			if !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("got %v, want ErrNotFound", err)
			}
			err = inTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
				return tx.DeletePusher(ctx, "@alice:test.local", "app", "k")
			})
			if !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("delete: got %v, want ErrNotFound", err)
			}
		})
	})
}

func TestTx_DeletePushersWithDevices(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		for _, u := range []string{"alice", "bob"} {
			mustAccount(t, db, u)
			mustDevice(t, db, u, "D1")
			mustDevice(t, db, u, "D2")
			mustSetPusher(t, db, testPusher(u, "D1", "app", u+"1"), false)
			mustSetPusher(t, db, testPusher(u, "D2", "app", u+"2"), false)
		}
		mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
			return tx.DeleteDevices(ctx, "alice", []string{"D1"})
		})
		wantPushers(t, db, "alice/D2/app/alice2", "bob/D1/app/bob1", "bob/D2/app/bob2")
		mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
			return tx.DeactivateAccount(ctx, "bob", false)
		})
		wantPushers(t, db, "alice/D2/app/alice2")
	})
}

func TestDB_PushersOfKind(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		mustSetPusher(t, db, testPusher("alice", "D1", "app", "a"), false)
		mustSetPusher(t, db, testPusher("bob", "D1", "app", "b"), false)
		mustAddNotifications(t, db, note("@alice:test.local", 3, "!r", storage.MainThread, false),
			note("@bob:test.local", 5, "!r", storage.MainThread, true))
		for after, want := range map[int64][]string{0: {"alice/D1/app/a", "bob/D1/app/b"}, 3: {"bob/D1/app/b"}, 5: nil} {
			got, err := db.PushersOfKind(t.Context(), "http", after)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(pusherNames(got), want) {
				t.Errorf("notified after %d: got %q, want %q", after, pusherNames(got), want)
			}
		}
		notes, next, err := db.NotificationsAfter(t.Context(), "@bob:test.local", 4, 10)
		if err != nil || len(notes) != 1 || notes[0].StreamPos != 5 || !notes[0].Highlight || next != 0 {
			t.Fatalf("bob's notifications after 4: got %+v, next %d, %v, want the one at 5", notes, next, err)
		}
		mustAddNotifications(t, db, note("@bob:test.local", 6, "!s", storage.MainThread, false))
		if n, err := db.UnreadNotifications(t.Context(), "@bob:test.local"); err != nil || n != 2 {
			t.Fatalf("bob's unread: got %d, %v, want 2", n, err)
		}
		if n, err := db.UnreadNotifications(t.Context(), "@carol:test.local"); err != nil || n != 0 {
			t.Fatalf("carol's unread: got %d, %v, want 0", n, err)
		}
	})
}
