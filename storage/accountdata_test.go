package storage_test

import (
	"errors"
	"testing"

	"github.com/ganglion/ganglion/storage"
	"github.com/ganglion/ganglion/storage/storagetest"
)

func TestTx_PutAccountData(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := t.Context()
		t.Run("OK", func(t *testing.T) {
			last := int64(0)
			for _, tc := range []struct{ room, typ string }{
				{"", "m.push_rules"},
				{"", "m.direct"},
				{"!a:example.org", "m.tag"},
				{"!b:example.org", "m.tag"},
			} {
				pos := mustAccountData(t, db, "alice", tc.room, tc.typ, `{"n":1}`)
				if pos <= last {
					t.Errorf("position of %s/%s: got %d, want > %d", tc.room, tc.typ, pos, last)
				}
				last = pos
			}
			if pos := mustAccountData(t, db, "bob", "", "m.direct", `{}`); pos <= last {
				t.Errorf("position for another user: got %d, want > %d", pos, last)
			}
		})
		t.Run("OKReplaceKeepsOneRow", func(t *testing.T) {
			first := mustAccountData(t, db, "carol", "", "m.ignored_user_list", `{"ignored_users":{}}`)
			second := mustAccountData(t, db, "carol", "", "m.ignored_user_list", `{"ignored_users":{"@x:y":{}}}`)
			if second <= first {
				t.Errorf("position of the replacement: got %d, want > %d", second, first)
			}
			all, err := db.AccountDataSince(ctx, "carol", 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(all) != 1 {
				t.Fatalf("rows: got %d, want 1", len(all))
			}
			if got := string(all[0].Content); got != `{"ignored_users":{"@x:y":{}}}` || all[0].StreamPos != second {
				t.Errorf("row: got %s at %d, want the replacement at %d", got, all[0].StreamPos, second)
			}
		})
	})
}

func TestDB_AccountData(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		content := `{"tags":{"u.work":{"order":0.5}},"emoji":"\u00e9✓"}`
		mustAccountData(t, db, "alice", "!room:example.org", "m.tag", content)
		mustAccountData(t, db, "alice", "", "m.tag", `{"global":true}`)
		t.Run("OK", func(t *testing.T) {
			got, err := db.AccountData(t.Context(), "alice", "!room:example.org", "m.tag")
			if err != nil {
				t.Fatalf("got %v, want nil", err)
			}
			if string(got) != content {
				t.Errorf("got %s, want %s", got, content)
			}
			got, err = db.AccountData(t.Context(), "alice", "", "m.tag")
			if err != nil || string(got) != `{"global":true}` {
				t.Errorf("global: got %s, %v, want {\"global\":true}, nil", got, err)
			}
		})
		t.Run("ErrNotFound", func(t *testing.T) {
			for _, tc := range []struct{ localpart, room, typ string }{
				{"alice", "!other:example.org", "m.tag"},
				{"alice", "", "m.direct"},
				{"bob", "!room:example.org", "m.tag"},
			} {
				if _, err := db.AccountData(t.Context(), tc.localpart, tc.room, tc.typ); !errors.Is(err, storage.ErrNotFound) {
					t.Errorf("AccountData(%s, %q, %s): got %v, want ErrNotFound", tc.localpart, tc.room, tc.typ, err)
				}
			}
		})
	})
}

func TestDB_AccountDataSince(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		p1 := mustAccountData(t, db, "alice", "", "a", `{"v":1}`)
		mustAccountData(t, db, "bob", "", "a", `{}`)
		p2 := mustAccountData(t, db, "alice", "!r:example.org", "b", `{"v":2}`)
		p3 := mustAccountData(t, db, "alice", "", "c", `{"v":3}`)
		// Replacing "a" moves it to the end of the stream.
		p4 := mustAccountData(t, db, "alice", "", "a", `{"v":4}`)
		for _, tc := range []struct {
			name  string
			since int64
			want  []storage.AccountData
		}{
			{"All", 0, []storage.AccountData{
				{RoomID: "!r:example.org", Type: "b", Content: []byte(`{"v":2}`), StreamPos: p2},
				{RoomID: "", Type: "c", Content: []byte(`{"v":3}`), StreamPos: p3},
				{RoomID: "", Type: "a", Content: []byte(`{"v":4}`), StreamPos: p4},
			}},
			{"SinceFirst", p1, []storage.AccountData{
				{RoomID: "!r:example.org", Type: "b", Content: []byte(`{"v":2}`), StreamPos: p2},
				{RoomID: "", Type: "c", Content: []byte(`{"v":3}`), StreamPos: p3},
				{RoomID: "", Type: "a", Content: []byte(`{"v":4}`), StreamPos: p4},
			}},
			{"SinceMiddle", p2, []storage.AccountData{
				{RoomID: "", Type: "c", Content: []byte(`{"v":3}`), StreamPos: p3},
				{RoomID: "", Type: "a", Content: []byte(`{"v":4}`), StreamPos: p4},
			}},
			{"SinceLast", p4, nil},
			{"SinceFuture", p4 + 100, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, err := db.AccountDataSince(t.Context(), "alice", tc.since)
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				if len(got) != len(tc.want) {
					t.Fatalf("got %d entries %+v, want %d", len(got), got, len(tc.want))
				}
				for i := range got {
					g, w := got[i], tc.want[i]
					if g.RoomID != w.RoomID || g.Type != w.Type || string(g.Content) != string(w.Content) || g.StreamPos != w.StreamPos {
						t.Errorf("entry %d: got %q %q %s @%d, want %q %q %s @%d",
							i, g.RoomID, g.Type, g.Content, g.StreamPos, w.RoomID, w.Type, w.Content, w.StreamPos)
					}
				}
			})
		}
		t.Run("OKUnknownUser", func(t *testing.T) {
			got, err := db.AccountDataSince(t.Context(), "nobody", 0)
			if err != nil || len(got) != 0 {
				t.Fatalf("got %d entries, %v, want 0, nil", len(got), err)
			}
		})
	})
}
