package storage_test

import (
	"context"
	"slices"
	"testing"

	"github.com/ganglion/ganglion/storage"
	"github.com/ganglion/ganglion/storage/storagetest"
)

func TestTx_ForgetRoom(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := t.Context()
		room := mustRoomRow(t, db, "!r:example.org")
		other := mustRoomRow(t, db, "!other:example.org")
		mustMember(t, db, room, "@alice:x", "leave", 10)
		mustMember(t, db, other, "@alice:x", "ban", 11)
		mustMember(t, db, room, "@bob:x", "leave", 12)
		forget := func(user, roomID string, event storage.EventNID) {
			t.Helper()
			mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
				return tx.ForgetRoom(ctx, user, roomID, event)
			})
		}
		want := func(user, roomID string, forgotten bool) {
			t.Helper()
			if got, err := db.Forgotten(ctx, user, roomID); err != nil || got != forgotten {
				t.Errorf("%s forgot %s: got %v, %v, want %v", user, roomID, got, err, forgotten)
			}
		}
		t.Run("OK", func(t *testing.T) {
			want("@alice:x", "!r:example.org", false)
			forget("@alice:x", "!r:example.org", 10)
			forget("@alice:x", "!other:example.org", 11)
			forget("@alice:x", "!r:example.org", 10) // again: no error
			want("@alice:x", "!r:example.org", true)
			want("@bob:x", "!r:example.org", false)
			got, err := db.ForgottenRooms(ctx, "@alice:x")
			if want := []string{"!other:example.org", "!r:example.org"}; err != nil || !slices.Equal(got, want) {
				t.Errorf("forgotten rooms: got %q, %v, want %q", got, err, want)
			}
		})
		t.Run("OKNewMembershipEndsIt", func(t *testing.T) {
			// An invite by someone else, stored by whichever code path.
			mustMember(t, db, room, "@alice:x", "invite", 20)
			want("@alice:x", "!r:example.org", false)
			mustMember(t, db, room, "@alice:x", "leave", 21)
			want("@alice:x", "!r:example.org", false) // leaving again does not bring it back
			got, err := db.ForgottenRooms(ctx, "@alice:x")
			if err != nil || !slices.Equal(got, []string{"!other:example.org"}) {
				t.Errorf("forgotten rooms: got %q, %v, want [!other:example.org]", got, err)
			}
			forget("@alice:x", "!r:example.org", 21)
			want("@alice:x", "!r:example.org", true)
		})
		t.Run("OKUnforget", func(t *testing.T) {
			for range 2 {
				mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
					return tx.UnforgetRoom(ctx, "@alice:x", "!other:example.org")
				})
			}
			want("@alice:x", "!other:example.org", false)
			want("@alice:x", "!r:example.org", true)
		})
		t.Run("OKUnknownRoom", func(t *testing.T) {
			forget("@alice:x", "!unknown:example.org", 99)
			want("@alice:x", "!unknown:example.org", false)
		})
	})
}
