package storage_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/ganglion/ganglion/storage"
	"github.com/ganglion/ganglion/storage/storagetest"
)

func mustPresence(t *testing.T, db *storage.DB, p storage.Presence) int64 {
	t.Helper()
	var pos int64
	mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
		var err error
		pos, err = tx.PutPresence(ctx, p)
		return err
	})
	return pos
}

func mustJoin(t *testing.T, db *storage.DB, room storage.RoomNID, membership string, users ...string) {
	t.Helper()
	mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
		for _, u := range users {
			if err := tx.SetMembership(ctx, storage.Membership{Room: room, UserID: u, Membership: membership, Event: 1, StreamPos: 1}); err != nil {
				return err
			}
		}
		return nil
	})
}

func presenceUsers(ps []storage.Presence) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.UserID)
	}
	slices.Sort(out)
	return out
}

func TestTx_PutPresence(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := t.Context()
		t.Run("ErrNotFound", func(t *testing.T) {
			if _, err := db.Presence(ctx, "@nobody:x"); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("got %v, want ErrNotFound", err)
			}
			err := inTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
				return tx.TouchPresence(ctx, "@nobody:x", 5)
			})
			if !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("touch: got %v, want ErrNotFound", err)
			}
		})
		t.Run("OK", func(t *testing.T) {
			first := mustPresence(t, db, storage.Presence{UserID: "@alice:x", Presence: "online", LastActiveTS: 100})
			msg := "in a meeting"
			second := mustPresence(t, db, storage.Presence{UserID: "@alice:x", Presence: "unavailable", StatusMsg: &msg, LastActiveTS: 200})
			if second <= first {
				t.Errorf("second position: got %d, want > %d", second, first)
			}
			mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
				return tx.TouchPresence(ctx, "@alice:x", 300)
			})
			got, err := db.Presence(ctx, "@alice:x")
			if err != nil || got.Presence != "unavailable" || got.StatusMsg == nil || *got.StatusMsg != msg || got.LastActiveTS != 300 || got.StreamPos != second {
				t.Errorf("got %+v, %v; want unavailable, %q, active at 300, position %d", got, err, msg, second)
			}
		})
	})
}

func TestDB_PresenceChanges(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := t.Context()
		mustJoin(t, db, 1, "join", "@alice:x", "@bob:x")
		mustJoin(t, db, 2, "join", "@carol:x")
		mustJoin(t, db, 2, "invite", "@alice:x")
		before, err := db.StreamPos(ctx, "presence")
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range []string{"@alice:x", "@bob:x", "@carol:x", "@dave:x"} {
			mustPresence(t, db, storage.Presence{UserID: u, Presence: "online", LastActiveTS: 10})
		}
		to, err := db.StreamPos(ctx, "presence")
		if err != nil {
			t.Fatal(err)
		}
		got, err := db.PresenceChanges(ctx, "@alice:x", before, to)
		if want := []string{"@alice:x", "@bob:x"}; err != nil || !slices.Equal(presenceUsers(got), want) {
			t.Errorf("alice's view: got %v, %v; want %v", presenceUsers(got), err, want)
		}
		if got, err := db.PresenceChanges(ctx, "@alice:x", to, to); err != nil || len(got) != 0 {
			t.Errorf("nothing new: got %v, %v", presenceUsers(got), err)
		}
		if shares, err := db.SharesRoom(ctx, "@alice:x", "@bob:x"); err != nil || !shares {
			t.Errorf("alice and bob share a room: got %v, %v", shares, err)
		}
		if shares, err := db.SharesRoom(ctx, "@alice:x", "@carol:x"); err != nil || shares {
			t.Errorf("alice (invited) and carol share a room: got %v, %v; want false", shares, err)
		}
		some, err := db.PresenceOfUsers(ctx, []string{"@carol:x", "@dave:x", "@nobody:x"}, to)
		if want := []string{"@carol:x", "@dave:x"}; err != nil || !slices.Equal(presenceUsers(some), want) {
			t.Errorf("presence of users: got %v, %v; want %v", presenceUsers(some), err, want)
		}
		stale, err := db.StalePresence(ctx, "online", 11)
		if err != nil || len(stale) != 4 {
			t.Errorf("stale: got %v, %v; want all four", presenceUsers(stale), err)
		}
		if stale, err := db.StalePresence(ctx, "online", 10); err != nil || len(stale) != 0 {
			t.Errorf("stale before 10: got %v, %v; want none", presenceUsers(stale), err)
		}
	})
}
