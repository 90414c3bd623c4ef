package storage_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/ganglion/ganglion/storage"
	"github.com/ganglion/ganglion/storage/storagetest"
)

// mustRoomRow stores a room without events and returns its NID.
func mustRoomRow(t *testing.T, db *storage.DB, roomID string) storage.RoomNID {
	t.Helper()
	var nid storage.RoomNID
	mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
		var err error
		nid, err = tx.InsertRoom(ctx, roomID, "10")
		return err
	})
	return nid
}

// mustMember sets a user's membership of a room, pointing at event.
func mustMember(t *testing.T, db *storage.DB, room storage.RoomNID, userID, membership string, event storage.EventNID) {
	t.Helper()
	mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
		return tx.SetMembership(ctx, storage.Membership{
			Room: room, UserID: userID, Membership: membership, Event: event, StreamPos: int64(event),
		})
	})
}

// mustStateEvent stores a state event with the empty state key as the
// room's current state for its type, and returns its NID.
func mustStateEvent(t *testing.T, db *storage.DB, room storage.RoomNID, eventID, typ, json string) storage.EventNID {
	t.Helper()
	types, err := db.TypeNIDs(t.Context(), []string{typ})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := db.StateKeyNIDs(t.Context(), []string{""})
	if err != nil {
		t.Fatal(err)
	}
	var nid storage.EventNID
	mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
		var err error
		nid, err = tx.InsertEvent(ctx, storage.Event{
			Room: room, ID: eventID, Type: types[typ], StateKey: keys[""], Sender: "@a:example.org",
			Depth: 1, JSON: []byte(json),
		})
		if err != nil {
			return err
		}
		return tx.SetCurrentState(ctx, room, []storage.StateEntry{{Type: types[typ], Key: keys[""], Event: nid}})
	})
	return nid
}

func TestTx_InsertRoomAlias(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := t.Context()
		mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
			return tx.InsertRoomAlias(ctx, "#a:example.org", "!r:example.org", "@alice:example.org")
		})
		t.Run("OK", func(t *testing.T) {
			got, err := db.RoomAlias(ctx, "#a:example.org")
			want := storage.RoomAlias{Alias: "#a:example.org", RoomID: "!r:example.org", Creator: "@alice:example.org"}
			if err != nil || got != want {
				t.Errorf("got %+v, %v, want %+v, nil", got, err, want)
			}
		})
		t.Run("ErrExists", func(t *testing.T) {
			for _, room := range []string{"!other:example.org", ""} {
				err := inTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
					return tx.InsertRoomAlias(ctx, "#a:example.org", room, "@bob:example.org")
				})
				if !errors.Is(err, storage.ErrExists) {
					t.Errorf("room %q: got %v, want ErrExists", room, err)
				}
			}
			if got, _ := db.RoomAlias(ctx, "#a:example.org"); got.Creator != "@alice:example.org" {
				t.Errorf("creator after failed inserts: got %s, want @alice:example.org", got.Creator)
			}
		})
		t.Run("ErrExistsConcurrent", func(t *testing.T) {
			errs := concurrentTxs(t, db, 8, func(ctx context.Context, tx *storage.Tx, i int) error {
				return tx.InsertRoomAlias(ctx, "#race:example.org", "", fmt.Sprintf("@u%d:example.org", i))
			})
			if won := countNil(t, errs, storage.ErrExists); won != 1 {
				t.Errorf("reservations that succeeded: got %d, want 1", won)
			}
		})
	})
}

func TestTx_BindRoomAlias(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := t.Context()
		mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
			return tx.InsertRoomAlias(ctx, "#new:example.org", "", "@alice:example.org")
		})
		t.Run("OK", func(t *testing.T) {
			if got, _ := db.RoomAliases(ctx, ""); len(got) != 0 {
				t.Errorf("aliases of room \"\": got %q, want none", got)
			}
			mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
				return tx.BindRoomAlias(ctx, "#new:example.org", "!r:example.org")
			})
			got, err := db.RoomAlias(ctx, "#new:example.org")
			if err != nil || got.RoomID != "!r:example.org" || got.Creator != "@alice:example.org" {
				t.Errorf("got %+v, %v, want bound to !r:example.org by alice", got, err)
			}
		})
		t.Run("ErrNotFound", func(t *testing.T) {
			for _, alias := range []string{"#new:example.org", "#unknown:example.org"} {
				err := inTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
					return tx.BindRoomAlias(ctx, alias, "!other:example.org")
				})
				if !errors.Is(err, storage.ErrNotFound) {
					t.Errorf("%s: got %v, want ErrNotFound", alias, err)
				}
			}
			if got, _ := db.RoomAlias(ctx, "#new:example.org"); got.RoomID != "!r:example.org" {
				t.Errorf("a bound alias was rebound: got %s, want !r:example.org", got.RoomID)
			}
		})
	})
}

func TestTx_DeleteRoomAlias(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := t.Context()
		mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
			return errors.Join(
				tx.InsertRoomAlias(ctx, "#a:example.org", "!r:example.org", "@alice:example.org"),
				tx.InsertRoomAlias(ctx, "#b:example.org", "!r:example.org", "@alice:example.org"),
			)
		})
		t.Run("OK", func(t *testing.T) {
			mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
				return tx.DeleteRoomAlias(ctx, "#a:example.org")
			})
			if _, err := db.RoomAlias(ctx, "#a:example.org"); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("deleted alias: got %v, want ErrNotFound", err)
			}
			if got, err := db.RoomAliases(ctx, "!r:example.org"); err != nil || !slices.Equal(got, []string{"#b:example.org"}) {
				t.Errorf("aliases left: got %q, %v, want [#b:example.org]", got, err)
			}
		})
		t.Run("ErrNotFound", func(t *testing.T) {
			err := inTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
				return tx.DeleteRoomAlias(ctx, "#a:example.org")
			})
			if !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("got %v, want ErrNotFound", err)
			}
		})
	})
}

func TestDB_RoomAliases(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
			return errors.Join(
				tx.InsertRoomAlias(ctx, "#b:example.org", "!r:example.org", "@alice:example.org"),
				tx.InsertRoomAlias(ctx, "#Z:example.org", "!r:example.org", "@alice:example.org"),
				tx.InsertRoomAlias(ctx, "#a:example.org", "!r:example.org", "@bob:example.org"),
				tx.InsertRoomAlias(ctx, "#x:example.org", "!other:example.org", "@bob:example.org"),
			)
		})
		got, err := db.RoomAliases(t.Context(), "!r:example.org")
		if want := []string{"#Z:example.org", "#a:example.org", "#b:example.org"}; err != nil || !slices.Equal(got, want) {
			t.Errorf("got %q, %v, want %q in byte order", got, err, want)
		}
		if got, err := db.RoomAliases(t.Context(), "!none:example.org"); err != nil || len(got) != 0 {
			t.Errorf("room without aliases: got %q, %v, want none", got, err)
		}
	})
}

func TestTx_SetRoomPublished(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := t.Context()
		set := func(room string, published bool) {
			t.Helper()
			mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error { return tx.SetRoomPublished(ctx, room, published) })
		}
		want := func(room string, published bool) {
			t.Helper()
			if got, err := db.RoomPublished(ctx, room); err != nil || got != published {
				t.Errorf("%s published: got %v, %v, want %v", room, got, err, published)
			}
		}
		want("!r:example.org", false)
		set("!r:example.org", true)
		set("!r:example.org", true) // idempotent
		want("!r:example.org", true)
		want("!other:example.org", false)
		set("!r:example.org", false)
		set("!r:example.org", false)
		want("!r:example.org", false)
	})
}

func TestDB_PublishedRooms(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := t.Context()
		big, small, tie := mustRoomRow(t, db, "!big:example.org"), mustRoomRow(t, db, "!small:example.org"), mustRoomRow(t, db, "!A:example.org")
		mustRoomRow(t, db, "!unpublished:example.org")
		mustRoomRow(t, db, "!empty:example.org")
		for i, u := range []string{"@a:x", "@b:x", "@c:x"} {
			mustMember(t, db, big, u, "join", storage.EventNID(10+i))
		}
		mustMember(t, db, big, "@left:x", "leave", 20)
		mustMember(t, db, big, "@inv:x", "invite", 21)
		mustMember(t, db, small, "@a:x", "join", 30)
		mustMember(t, db, tie, "@b:x", "join", 31)
		mustMember(t, db, tie, "@c:x", "ban", 32)
		mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
			return errors.Join(
				tx.SetRoomPublished(ctx, "!small:example.org", true),
				tx.SetRoomPublished(ctx, "!big:example.org", true),
				tx.SetRoomPublished(ctx, "!A:example.org", true),
				tx.SetRoomPublished(ctx, "!empty:example.org", true),
				tx.SetRoomPublished(ctx, "!gone:example.org", true), // a room the server does not know
			)
		})
		got, err := db.PublishedRooms(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := []storage.PublishedRoom{
			{RoomID: "!big:example.org", JoinedMembers: 3},
			{RoomID: "!A:example.org", JoinedMembers: 1},
			{RoomID: "!small:example.org", JoinedMembers: 1},
			{RoomID: "!empty:example.org", JoinedMembers: 0},
		}
		if !slices.Equal(got, want) {
			t.Errorf("got %+v, want %+v", got, want)
		}
	})
}

func TestDB_RoomsStateJSON(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := t.Context()
		t.Run("OKEmptyDatabase", func(t *testing.T) {
			got, err := db.RoomsStateJSON(ctx, []string{"!a:example.org"}, []string{"m.room.name"})
			if err != nil || len(got) != 0 {
				t.Errorf("got %v, %v, want nothing", got, err)
			}
		})
		a, b := mustRoomRow(t, db, "!a:example.org"), mustRoomRow(t, db, "!b:example.org")
		nameA := `{"type":"m.room.name","content":{"name":"A"}}`
		mustStateEvent(t, db, a, "$1", "m.room.name", `{"type":"m.room.name","content":{"name":"old"}}`)
		mustStateEvent(t, db, a, "$2", "m.room.name", nameA) // replaces $1 in the current state
		mustStateEvent(t, db, a, "$3", "m.room.topic", `{"type":"m.room.topic"}`)
		mustStateEvent(t, db, a, "$4", "m.room.power_levels", `{"type":"m.room.power_levels"}`)
		mustStateEvent(t, db, b, "$5", "m.room.topic", `{"type":"m.room.topic","content":{"topic":"B"}}`)
		t.Run("OK", func(t *testing.T) {
			got, err := db.RoomsStateJSON(ctx, []string{"!a:example.org", "!b:example.org", "!c:example.org"},
				[]string{"m.room.name", "m.room.topic", "m.room.never_stored"})
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]map[string]string{
				"!a:example.org": {"m.room.name": nameA, "m.room.topic": `{"type":"m.room.topic"}`},
				"!b:example.org": {"m.room.topic": `{"type":"m.room.topic","content":{"topic":"B"}}`},
			}
			if len(got) != len(want) {
				t.Fatalf("got rooms %v, want %v", got, want)
			}
			for room, types := range want {
				if len(got[room]) != len(types) {
					t.Errorf("%s: got %d types, want %d", room, len(got[room]), len(types))
				}
				for typ, js := range types {
					if string(got[room][typ]) != js {
						t.Errorf("%s %s: got %s, want %s", room, typ, got[room][typ], js)
					}
				}
			}
		})
		t.Run("OKManyRooms", func(t *testing.T) {
			// More rooms than one query takes.
			ids := []string{"!a:example.org"}
			for i := range 1200 {
				ids = append(ids, fmt.Sprintf("!n%d:example.org", i))
			}
			ids = append(ids, "!b:example.org")
			got, err := db.RoomsStateJSON(ctx, ids, []string{"m.room.topic"})
			if err != nil || len(got) != 2 || got["!b:example.org"]["m.room.topic"] == nil {
				t.Errorf("got %v, %v, want the topics of !a and !b", got, err)
			}
			var parsed map[string]any
			if err := json.Unmarshal(got["!b:example.org"]["m.room.topic"], &parsed); err != nil {
				t.Errorf("stored JSON: %v", err)
			}
		})
	})
}
