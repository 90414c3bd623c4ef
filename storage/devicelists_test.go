package storage_test

import (
	"context"
	"slices"
	"testing"

	"github.com/ganglion/ganglion/storage"
	"github.com/ganglion/ganglion/storage/storagetest"
)

// TestDB_RoommatesOfMoves: the members of the rooms alice joined or left
// in the range, by which; rooms she moved in before it, and members who
// are not joined, do not count.
func TestDB_RoommatesOfMoves(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		const alice = "@alice:test.local"
		pos := int64(0)
		set := func(room storage.RoomNID, user, membership string) {
			pos++
			mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
				return tx.SetMembership(ctx, storage.Membership{Room: room, UserID: user, Membership: membership, Event: storage.EventNID(pos), StreamPos: pos})
			})
		}
		set(1, "@old:test.local", "join")
		set(1, alice, "join") // before the range
		from := pos
		set(2, "@bob:test.local", "join")
		set(2, "@invited:test.local", "invite")
		set(2, alice, "join")
		set(3, "@carol:test.local", "join")
		set(3, alice, "join")
		set(3, alice, "leave")
		set(4, "@dan:test.local", "join")
		set(4, alice, "invite") // not a move that shares or ends sharing a room

		joined, left, err := db.RoommatesOfMoves(t.Context(), alice, from, pos)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(joined)
		if !slices.Equal(joined, []string{"@bob:test.local"}) || !slices.Equal(left, []string{"@carol:test.local"}) {
			t.Errorf("got joined %q left %q, want joined [bob] left [carol]", joined, left)
		}
		if joined, left, err := db.RoommatesOfMoves(t.Context(), alice, pos, pos); err != nil || len(joined)+len(left) != 0 {
			t.Errorf("empty range: got joined %q left %q (%v), want none", joined, left, err)
		}
	})
}
