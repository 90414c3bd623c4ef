package storage_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/ganglion/ganglion/storage"
	"github.com/ganglion/ganglion/storage/storagetest"
)

// directoryRoom stores a room whose current state is the given state
// events (type -> content, empty state key) and whose joined members are
// the users, each with a membership event carrying its display name.
func directoryRoom(t *testing.T, db *storage.DB, roomID string, state map[string]string, members map[string]string) {
	t.Helper()
	var types, keys []string
	for typ := range state {
		types = append(types, typ)
	}
	types = append(types, "m.room.member")
	keys = append(keys, "")
	for id := range members {
		keys = append(keys, id)
	}
	typeNIDs, err := db.TypeNIDs(t.Context(), types)
	if err != nil {
		t.Fatal(err)
	}
	keyNIDs, err := db.StateKeyNIDs(t.Context(), keys)
	if err != nil {
		t.Fatal(err)
	}
	mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
		room, err := tx.InsertRoom(ctx, roomID, "10")
		if err != nil {
			return err
		}
		insert := func(typ, key, content string) (storage.EventNID, error) {
			nid, err := tx.InsertEvent(ctx, storage.Event{
				Room: room, ID: fmt.Sprintf("$%s-%s-%s", roomID, typ, key), Type: typeNIDs[typ], StateKey: keyNIDs[key],
				Sender: "@x:test.local", JSON: []byte(fmt.Sprintf(`{"type":%q,"state_key":%q,"content":%s}`, typ, key, content)),
			})
			if err != nil {
				return 0, err
			}
			return nid, tx.SetCurrentState(ctx, room, []storage.StateEntry{{Type: typeNIDs[typ], Key: keyNIDs[key], Event: nid}})
		}
		for typ, content := range state {
			if _, err := insert(typ, "", content); err != nil {
				return err
			}
		}
		for id, name := range members {
			nid, err := insert("m.room.member", id, fmt.Sprintf(`{"membership":"join","displayname":%q}`, name))
			if err != nil {
				return err
			}
			if err := tx.SetMembership(ctx, storage.Membership{Room: room, UserID: id, Membership: "join", Event: nid}); err != nil {
				return err
			}
		}
		return nil
	})
}

func TestDB_DirectoryCandidates(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		for _, lp := range []string{"alice", "bob", "carol", "dave", "erin", "guest"} {
			mustAccount(t, db, lp)
		}
		mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
			if err := tx.SetDisplayName(ctx, "bob", ptr("Bob Global")); err != nil {
				return err
			}
			if err := tx.SetGuest(ctx, "guest", true); err != nil {
				return err
			}
			return tx.DeactivateAccount(ctx, "erin", false)
		})
		directoryRoom(t, db, "!private:test.local", map[string]string{"m.room.join_rules": `{"join_rule":"invite"}`},
			map[string]string{"@alice:test.local": "A", "@bob:test.local": "Bob in room", "@erin:test.local": "E",
				"@rita:remote.example": "Rita Remote"})
		directoryRoom(t, db, "!public:test.local", map[string]string{"m.room.join_rules": `{"join_rule":"public"}`},
			map[string]string{"@carol:test.local": "C", "@rita:remote.example": "Rita Newer"})
		directoryRoom(t, db, "!readable:test.local", map[string]string{
			"m.room.join_rules": `{"join_rule":"invite"}`, "m.room.history_visibility": `{"history_visibility":"world_readable"}`,
		}, map[string]string{"@sam:remote.example": "Sam"})
		directoryRoom(t, db, "!closed:test.local", map[string]string{"m.room.join_rules": `{"join_rule":"invite"}`},
			map[string]string{"@dave:test.local": "D", "@tom:remote.example": "Tom"})

		render := func(us []storage.DirectoryUser) []string {
			var out []string
			for _, u := range us {
				out = append(out, fmt.Sprintf("%s %q %v", u.UserID, u.DisplayName, u.SharesRoom))
			}
			slices.Sort(out)
			return out
		}
		for _, tc := range []struct {
			name     string
			userID   string
			allLocal bool
			want     []string
		}{
			{"Alice", "@alice:test.local", false, []string{
				`@bob:test.local "Bob Global" true`, // the global profile of local users
				`@carol:test.local "" false`,
				`@rita:remote.example "Rita Newer" true`, // the newest membership event of remote ones
				`@sam:remote.example "Sam" false`,
			}},
			{"AliceAllLocal", "@alice:test.local", true, []string{
				`@bob:test.local "Bob Global" true`,
				`@carol:test.local "" false`,
				`@dave:test.local "" false`,
				`@rita:remote.example "Rita Newer" true`,
				`@sam:remote.example "Sam" false`,
			}},
			{"Stranger", "@nobody:test.local", false, []string{
				`@carol:test.local "" false`,
				`@rita:remote.example "Rita Newer" false`,
				`@sam:remote.example "Sam" false`,
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, err := db.DirectoryCandidates(t.Context(), tc.userID, "test.local", tc.allLocal)
				if err != nil {
					t.Fatal(err)
				}
				if g := render(got); !slices.Equal(g, tc.want) {
					t.Errorf("got\n%s\nwant\n%s", strings.Join(g, "\n"), strings.Join(tc.want, "\n"))
				}
			})
		}
	})
}
