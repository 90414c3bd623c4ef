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

func note(user string, pos int64, room, thread string, highlight bool) storage.Notification {
	return storage.Notification{
		UserID: user, StreamPos: pos, RoomID: room, EventID: "$e" + string(rune('a'+pos)), ThreadID: thread,
		Highlight: highlight, Actions: json.RawMessage(`["notify"]`),
	}
}

func mustAddNotifications(t *testing.T, db *storage.DB, ns ...storage.Notification) {
	t.Helper()
	mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error { return tx.AddNotifications(ctx, ns) })
}

func mustMarkRead(t *testing.T, db *storage.DB, user, room, thread string, upto int64) int {
	t.Helper()
	var n int
	mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
		var err error
		n, err = tx.MarkNotificationsRead(ctx, user, room, thread, upto)
		return err
	})
	return n
}

// wantNotificationCounts checks a user's counts in a room as thread:notify/highlights.
func wantNotificationCounts(t *testing.T, db *storage.DB, user, room string, want map[string][2]int64) {
	t.Helper()
	counts, err := db.NotificationCounts(t.Context(), user, room)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][2]int64{}
	for _, c := range counts {
		got[c.ThreadID] = [2]int64{c.Notify, c.Highlights}
	}
	if len(got) != len(want) {
		t.Fatalf("counts of %s in %s: got %v, want %v", user, room, got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("counts of %s in %s: got %v, want %v", user, room, got, want)
		}
	}
}

func TestTx_AddNotifications(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		const main, thread = storage.MainThread, "$root"
		mustAddNotifications(t, db,
			note("@a:x", 1, "!r", main, false),
			note("@b:x", 1, "!r", main, false),
			note("@a:x", 2, "!r", thread, true),
			note("@a:x", 3, "!r", main, true),
		)
		mustAddNotifications(t, db, note("@a:x", 4, "!r", main, false), note("@a:x", 5, "!other", main, false))
		wantNotificationCounts(t, db, "@a:x", "!r", map[string][2]int64{main: {3, 1}, thread: {1, 1}})
		wantNotificationCounts(t, db, "@b:x", "!r", map[string][2]int64{main: {1, 0}})

		t.Run("MarkThread", func(t *testing.T) {
			if n := mustMarkRead(t, db, "@a:x", "!r", thread, 10); n != 1 {
				t.Errorf("marked %d, want 1", n)
			}
			wantNotificationCounts(t, db, "@a:x", "!r", map[string][2]int64{main: {3, 1}})
		})
		t.Run("MarkUpTo", func(t *testing.T) {
			if n := mustMarkRead(t, db, "@a:x", "!r", "", 3); n != 2 {
				t.Errorf("marked %d, want 2", n)
			}
			wantNotificationCounts(t, db, "@a:x", "!r", map[string][2]int64{main: {1, 0}})
			if n := mustMarkRead(t, db, "@a:x", "!r", "", 2); n != 0 {
				t.Errorf("an older receipt marked %d, want 0", n)
			}
		})
		t.Run("MarkAll", func(t *testing.T) {
			mustMarkRead(t, db, "@a:x", "!r", "", 6)
			wantNotificationCounts(t, db, "@a:x", "!r", map[string][2]int64{})
			wantNotificationCounts(t, db, "@a:x", "!other", map[string][2]int64{main: {1, 0}})
			wantNotificationCounts(t, db, "@b:x", "!r", map[string][2]int64{main: {1, 0}})
		})
		t.Run("Notifications", func(t *testing.T) {
			all, next, err := db.Notifications(t.Context(), "@a:x", 0, 10, false)
			if err != nil || next != 0 {
				t.Fatalf("got next %d, %v, want 0 (no more)", next, err)
			}
			var pos []int64
			for _, n := range all {
				pos = append(pos, n.StreamPos)
			}
			if !slices.Equal(pos, []int64{5, 4, 3, 2, 1}) {
				t.Fatalf("got positions %v, want 5 4 3 2 1", pos)
			}
			if all[0].Read || !all[1].Read || string(all[0].Actions) != `["notify"]` || all[0].RoomID != "!other" {
				t.Errorf("got %+v %+v", all[0], all[1])
			}
			page, next, err := db.Notifications(t.Context(), "@a:x", 4, 2, false)
			if err != nil || len(page) != 2 || page[0].StreamPos != 3 || page[1].StreamPos != 2 || next != 2 {
				t.Fatalf("page before 4: got %+v, next %d, %v", page, next, err)
			}
			high, _, err := db.Notifications(t.Context(), "@a:x", 0, 10, true)
			if err != nil || len(high) != 2 || !high[0].Highlight || high[0].StreamPos != 3 {
				t.Fatalf("highlights: got %+v, %v", high, err)
			}
		})
		t.Run("AfterRead", func(t *testing.T) { // a read thread counts new notifications again
			mustAddNotifications(t, db, note("@a:x", 7, "!r", main, true), note("@a:x", 8, "!r", main, false))
			wantNotificationCounts(t, db, "@a:x", "!r", map[string][2]int64{main: {2, 1}})
			if n := mustMarkRead(t, db, "@a:x", "!r", main, 7); n != 1 {
				t.Errorf("marked %d, want 1", n)
			}
			wantNotificationCounts(t, db, "@a:x", "!r", map[string][2]int64{main: {1, 0}})
			after, _, err := db.NotificationsAfter(t.Context(), "@a:x", 6, 10)
			if err != nil || len(after) != 2 || !after[0].Read || after[1].Read {
				t.Fatalf("notifications after 6: got %+v, %v; want 7 read, 8 unread", after, err)
			}
		})
	})
}

func TestTx_SetPushPos(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		for _, pos := range []int64{5, 3} {
			mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error { return tx.SetPushPos(ctx, pos) })
		}
		if got, err := db.StreamPos(t.Context(), storage.PushStream); err != nil || got != 5 {
			t.Fatalf("got %d, %v, want 5: the position never moves back", got, err)
		}
	})
}

func TestDB_JoinedLocal(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		mustTx(t, db, func(ctx context.Context, tx *storage.Tx) error {
			room, err := tx.InsertRoom(ctx, "!r:x", "10")
			if err != nil {
				return err
			}
			for i, m := range []struct{ user, membership string }{
				{"@a:x", "join"}, {"@b:x", "join"}, {"@c:elsewhere", "join"}, {"@d:x", "invite"}, {"@e:xx", "join"},
			} {
				if err := tx.SetMembership(ctx, storage.Membership{
					Room: room, UserID: m.user, Membership: m.membership, Event: storage.EventNID(i + 1), StreamPos: int64(i + 1),
				}); err != nil {
					return err
				}
			}
			_, err = tx.InsertRoom(ctx, "!empty:x", "10")
			return err
		})
		total, local, err := db.JoinedLocal(t.Context(), "!r:x", "x")
		if err != nil {
			t.Fatal(err)
		}
		var users []string
		for _, m := range local {
			users = append(users, m.UserID)
		}
		slices.Sort(users)
		if total != 4 || !slices.Equal(users, []string{"@a:x", "@b:x"}) {
			t.Errorf("got %d %v, want 4 [@a:x @b:x]", total, users)
		}
		if total, local, err := db.JoinedLocal(t.Context(), "!empty:x", "x"); err != nil || total != 0 || len(local) != 0 {
			t.Errorf("empty room: got %d %v %v", total, local, err)
		}
		if _, _, err := db.JoinedLocal(t.Context(), "!unknown:x", "x"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("unknown room: got %v, want ErrNotFound", err)
		}
	})
}

func TestDB_GlobalAccountData(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		mustAccountData(t, db, "a", "", "m.push_rules", `{"global":{}}`)
		mustAccountData(t, db, "b", "!r:x", "m.push_rules", `{"room":true}`)
		mustAccountData(t, db, "c", "", "m.other", `{}`)
		got, err := db.GlobalAccountData(t.Context(), []string{"a", "b", "c", "d"}, "m.push_rules")
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || string(got["a"]) != `{"global":{}}` {
			t.Errorf("got %v, want only a's", got)
		}
	})
}

func TestDB_NotificationCountsIn(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		const main = storage.MainThread
		mustAddNotifications(t, db, note("@a:x", 1, "!r", main, true), note("@a:x", 2, "!r", "$t", false),
			note("@b:x", 2, "!r", main, false), note("@b:x", 3, "!other", main, false))
		before := db.UnreadGen("@b:x", "!r")
		mustMarkRead(t, db, "@b:x", "!r", "", 2)
		counts := map[string]map[string][2]int64{}
		gens := map[string]uint64{}
		users := []string{"@a:x", "@b:x", "@c:x"}
		for range 2 { // read, then from the cache
			clear(counts)
			var told []string
			if err := db.NotificationCountsIn(t.Context(), "!r", users, func(u string, cs []storage.ThreadCounts, gen uint64) {
				told = append(told, u)
				gens[u] = gen
				for _, c := range cs {
					if counts[u] == nil {
						counts[u] = map[string][2]int64{}
					}
					counts[u][c.ThreadID] = [2]int64{c.Notify, c.Highlights}
				}
			}); err != nil {
				t.Fatal(err)
			}
			if slices.Sort(told); !slices.Equal(told, users) {
				t.Errorf("told %v, want every user once", told)
			}
			if len(counts) != 1 || counts["@a:x"][main] != [2]int64{1, 1} || counts["@a:x"]["$t"] != [2]int64{1, 0} {
				t.Errorf("counts in !r: got %v, want only @a:x with main 1/1 and $t 1/0", counts)
			}
			if gens["@b:x"] != before+1 || gens["@b:x"] != db.UnreadGen("@b:x", "!r") {
				t.Errorf("@b:x's generation: got %d, want %d (one read since)", gens["@b:x"], before+1)
			}
		}

		// Counts read at a generation are served from memory until it
		// moves: a change behind storage's back stays unseen, a commit
		// through it shows.
		if _, err := storage.WritePool(db).ExecContext(t.Context(),
			"UPDATE notification_counts SET notification_count = 9 WHERE user_id = '@a:x' AND thread_id = 'main'"); err != nil {
			t.Fatal(err)
		}
		wantNotificationCounts(t, db, "@a:x", "!r", map[string][2]int64{main: {1, 1}, "$t": {1, 0}})
		mustAddNotifications(t, db, note("@a:x", 4, "!r", main, false))
		wantNotificationCounts(t, db, "@a:x", "!r", map[string][2]int64{main: {10, 1}, "$t": {1, 0}})
	})
}
