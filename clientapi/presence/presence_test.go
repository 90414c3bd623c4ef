package presence_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/ganglion/ganglion/clientapi/presence"
	"github.com/ganglion/ganglion/internal/mxerr"
	"github.com/ganglion/ganglion/storage"
	"github.com/ganglion/ganglion/storage/storagetest"
	"github.com/ganglion/ganglion/syncapi"
)

const (
	alice = "@alice:test.local"
	bob   = "@bob:test.local"
	carol = "@carol:test.local"
)

// newTracker returns an enabled tracker on db, with alice and bob joined
// to one room and carol alone in another.
func newTracker(t *testing.T, db *storage.DB, enabled bool) *presence.Tracker {
	t.Helper()
	err := db.WithTx(t.Context(), func(ctx context.Context, tx *storage.Tx) error {
		for _, m := range []storage.Membership{
			{Room: 1, UserID: alice, Membership: "join"},
			{Room: 1, UserID: bob, Membership: "join"},
			{Room: 2, UserID: carol, Membership: "join"},
		} {
			if err := tx.SetMembership(ctx, m); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	notifier, err := syncapi.NewNotifier(t.Context(), db, "test.local")
	if err != nil {
		t.Fatal(err)
	}
	return presence.New(db, notifier, enabled)
}

func mustStored(t *testing.T, db *storage.DB, user string) storage.Presence {
	t.Helper()
	p, err := db.Presence(t.Context(), user)
	if err != nil {
		t.Fatalf("presence of %s: %v", user, err)
	}
	return p
}

func mustGet(t *testing.T, tr *presence.Tracker, viewer, target string) syncapi.PresenceContent {
	t.Helper()
	c, err := tr.Get(t.Context(), viewer, target)
	if err != nil {
		t.Fatalf("get presence of %s as %s: %v", target, viewer, err)
	}
	return c
}

func TestTracker_Set(t *testing.T) {
	storagetest.EachClock(t, func(t *testing.T, db *storage.DB, clock *storagetest.Clock) {
		tr := newTracker(t, db, true)
		ctx := t.Context()
		t.Run("OKNoneIsOffline", func(t *testing.T) {
			if c := mustGet(t, tr, bob, alice); c.Presence != "offline" || c.LastActiveAgo != nil {
				t.Errorf("got %+v, want offline without last_active_ago", c)
			}
		})
		t.Run("OK", func(t *testing.T) {
			msg := "at lunch"
			if err := tr.Set(ctx, alice, "unavailable", &msg); err != nil {
				t.Fatal(err)
			}
			clock.Advance(3 * time.Second)
			c := mustGet(t, tr, bob, alice)
			if c.Presence != "unavailable" || c.StatusMsg == nil || *c.StatusMsg != msg || c.LastActiveAgo == nil ||
				*c.LastActiveAgo != 3000 || c.CurrentlyActive != nil {
				t.Errorf("bob sees %+v, want unavailable, %q, active 3000 ms ago", c, msg)
			}
			if own := mustGet(t, tr, alice, alice); own.Presence != "unavailable" {
				t.Errorf("alice sees herself %+v", own)
			}
		})
		t.Run("OKSameAgainTakesNoPosition", func(t *testing.T) {
			before := mustStored(t, db, alice)
			msg := "at lunch"
			if err := tr.Set(ctx, alice, "unavailable", &msg); err != nil {
				t.Fatal(err)
			}
			after := mustStored(t, db, alice)
			if after.StreamPos != before.StreamPos || after.LastActiveTS == before.LastActiveTS {
				t.Errorf("got %+v after %+v, want the same position and a new last active time", after, before)
			}
			if err := tr.Set(ctx, alice, "online", nil); err != nil {
				t.Fatal(err)
			}
			if online := mustStored(t, db, alice); online.StreamPos <= after.StreamPos || online.StatusMsg != nil {
				t.Errorf("after going online: got %+v, want a new position and no status message", online)
			}
		})
		t.Run("ErrForbiddenNoSharedRoom", func(t *testing.T) {
			_, err := tr.Get(ctx, carol, alice)
			var mx *mxerr.Error
			if !errors.As(err, &mx) || mx.Status != http.StatusForbidden {
				t.Errorf("got %v, want 403", err)
			}
		})
	})
}

func TestTracker_Synced(t *testing.T) {
	storagetest.EachClock(t, func(t *testing.T, db *storage.DB, clock *storagetest.Clock) {
		tr := newTracker(t, db, true)
		ctx := t.Context()
		mustSynced := func(state string) {
			t.Helper()
			if err := tr.Synced(ctx, alice, state); err != nil {
				t.Fatal(err)
			}
		}
		mustSynced("offline")
		if _, err := db.Presence(ctx, alice); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("after set_presence=offline: got %v, want nothing stored", err)
		}
		mustSynced("online")
		first := mustStored(t, db, alice)
		if first.Presence != "online" {
			t.Fatalf("after a sync: got %+v, want online", first)
		}
		clock.Advance(30 * time.Second)
		mustSynced("online")
		if again := mustStored(t, db, alice); again != first {
			t.Errorf("a sync within a minute: got %+v, want %+v unchanged", again, first)
		}
		clock.Advance(31 * time.Second)
		mustSynced("online")
		touched := mustStored(t, db, alice)
		if touched.LastActiveTS <= first.LastActiveTS || touched.StreamPos != first.StreamPos {
			t.Errorf("a sync after a minute: got %+v, want a new last active time at the same position", touched)
		}
		mustSynced("unavailable")
		if idle := mustStored(t, db, alice); idle.Presence != "unavailable" || idle.StreamPos <= first.StreamPos {
			t.Errorf("set_presence=unavailable: got %+v, want unavailable at a new position", idle)
		}
	})
}

func TestTracker_Sweep(t *testing.T) {
	storagetest.EachClock(t, func(t *testing.T, db *storage.DB, clock *storagetest.Clock) {
		tr := newTracker(t, db, true)
		ctx := t.Context()
		msg := "busy"
		if err := tr.Set(ctx, alice, "online", &msg); err != nil {
			t.Fatal(err)
		}
		if err := tr.Synced(ctx, bob, "online"); err != nil {
			t.Fatal(err)
		}
		active := mustStored(t, db, alice).LastActiveTS
		clock.Advance(6 * time.Minute)
		if err := tr.Synced(ctx, bob, "online"); err != nil { // bob keeps syncing
			t.Fatal(err)
		}
		clock.Advance(5 * time.Minute)
		if err := tr.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		idle := mustStored(t, db, alice)
		if idle.Presence != "unavailable" || idle.LastActiveTS != active || idle.StatusMsg == nil || *idle.StatusMsg != msg {
			t.Errorf("alice idle for 11 minutes: got %+v, want unavailable, still active at %d with her message", idle, active)
		}
		if b := mustStored(t, db, bob); b.Presence != "online" {
			t.Errorf("bob synced 5 minutes ago: got %+v, want online", b)
		}
		clock.Advance(20 * time.Minute)
		if err := tr.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		if gone := mustStored(t, db, alice); gone.Presence != "offline" || gone.StreamPos <= idle.StreamPos {
			t.Errorf("alice inactive for 31 minutes: got %+v, want offline at a new position", gone)
		}
		if err := tr.Synced(ctx, alice, "online"); err != nil {
			t.Fatal(err)
		}
		if back := mustStored(t, db, alice); back.Presence != "online" {
			t.Errorf("alice syncs again: got %+v, want online", back)
		}
	})
}

func TestTracker_Disabled(t *testing.T) {
	storagetest.EachClock(t, func(t *testing.T, db *storage.DB, clock *storagetest.Clock) {
		tr := newTracker(t, db, false)
		ctx := t.Context()
		if err := tr.Set(ctx, alice, "online", nil); err != nil {
			t.Fatal(err)
		}
		if err := tr.Synced(ctx, alice, "online"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Presence(ctx, alice); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("stored presence: got %v, want none", err)
		}
		if c := mustGet(t, tr, carol, alice); c.Presence != "offline" {
			t.Errorf("got %+v, want offline", c)
		}
	})
}
