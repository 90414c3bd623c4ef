package storage_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/ganglion/ganglion/storage"
	"github.com/ganglion/ganglion/storage/storagetest"
)

// positions lists the stream positions of ns.
func positions(ns []storage.Notification) []int64 {
	var out []int64
	for _, n := range ns {
		out = append(out, n.StreamPos)
	}
	return out
}

// TestDB_NotificationsOfLookalikes: an event's row lists every notified
// user; a user is told apart from ids that contain, extend or differ only
// in case from its own, and keeps its own actions.
func TestDB_NotificationsOfLookalikes(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		const room, main = "!r", storage.MainThread
		sound := json.RawMessage(`[ "notify",
			{"set_tweak": "sound", "value": "default"} ]`)
		users := []string{"@a_b:x", "@axb:x", "@A_b:x", "@a_b:x.y", "@ca_b:x"}
		var ns []storage.Notification
		for i, u := range users {
			n := note(u, 1, room, main, i == 0)
			if i == 0 {
				n.Actions = sound
			}
			ns = append(ns, n)
		}
		ns = append(ns, note("@axb:x", 2, room, main, false), note("@a_b:x.y", 3, room, main, true))
		mustAddNotifications(t, db, ns...)

		got, next, err := db.Notifications(t.Context(), "@a_b:x", 0, 10, false)
		if err != nil || next != 0 || !slices.Equal(positions(got), []int64{1}) {
			t.Fatalf("@a_b:x: got %v, next %d, %v, want only 1", positions(got), next, err)
		}
		if !got[0].Highlight || string(got[0].Actions) != `["notify",{"set_tweak":"sound","value":"default"}]` {
			t.Errorf("@a_b:x: got highlight %v actions %s, want its own, compacted", got[0].Highlight, got[0].Actions)
		}
		for user, want := range map[string][]int64{"@axb:x": {2, 1}, "@A_b:x": {1}, "@a_b:x.y": {3, 1}, "@b:x": nil} {
			got, _, err := db.Notifications(t.Context(), user, 0, 10, false)
			if err != nil || !slices.Equal(positions(got), want) {
				t.Errorf("%s: got %v, %v, want %v", user, positions(got), err, want)
			}
			for _, n := range got {
				if n.StreamPos == 1 && (n.Highlight || string(n.Actions) != `["notify"]`) {
					t.Errorf("%s at 1: got highlight %v actions %s, want the row's", user, n.Highlight, n.Actions)
				}
			}
		}
		// An older receipt counts what stays unread from the rows alone.
		if n := mustMarkRead(t, db, "@a_b:x.y", room, main, 1); n != 1 {
			t.Errorf("@a_b:x.y read up to 1: marked %d, want 1", n)
		}
		wantNotificationCounts(t, db, "@a_b:x.y", room, map[string][2]int64{main: {1, 1}})
		if n := mustMarkRead(t, db, "@axb:x", room, main, 1); n != 1 {
			t.Errorf("@axb:x read up to 1: marked %d, want 1", n)
		}
		wantNotificationCounts(t, db, "@axb:x", room, map[string][2]int64{main: {1, 0}})
	})
}

// TestDB_NotificationsScanBound: a listing reads a bounded number of event
// rows; when they hold none of the user's, it says where to go on, and
// going on finds the user's notifications in order.
func TestDB_NotificationsScanBound(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		const room, main = "!r", storage.MainThread
		others := storage.NotificationScan + 10
		ns := []storage.Notification{note("@me:x", 1, room, main, false)}
		for pos := int64(2); pos < int64(2+others); pos++ {
			ns = append(ns, note("@other:x", pos, room, main, false))
		}
		last := int64(2 + others)
		ns = append(ns, note("@me:x", last, room, main, true))
		mustAddNotifications(t, db, ns...)

		page, next, err := db.Notifications(t.Context(), "@me:x", 0, 5, false)
		if err != nil || !slices.Equal(positions(page), []int64{last}) || next <= 1 || next >= last {
			t.Fatalf("first page: got %v, next %d, %v; want %d and a next between", positions(page), next, err, last)
		}
		page, next, err = db.Notifications(t.Context(), "@me:x", next, 5, false)
		if err != nil || !slices.Equal(positions(page), []int64{1}) || next != 0 {
			t.Fatalf("second page: got %v, next %d, %v; want 1 and no next", positions(page), next, err)
		}

		after, next, err := db.NotificationsAfter(t.Context(), "@me:x", 1, 5)
		if err != nil || len(after) != 0 || next != int64(1+storage.NotificationScan) {
			t.Fatalf("after 1: got %v, next %d, %v; want none and next %d", positions(after), next, err,
				1+storage.NotificationScan)
		}
		after, next, err = db.NotificationsAfter(t.Context(), "@me:x", next, 5)
		if err != nil || !slices.Equal(positions(after), []int64{last}) || next != 0 {
			t.Fatalf("going on: got %v, next %d, %v; want %d and no next", positions(after), next, err, last)
		}
	})
}

// TestMigration_EventNotifications: migration 0020 turns the per-user
// notification rows of schema 19 into per-event rows without losing a
// user, a highlight or an action.
func TestMigration_EventNotifications(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := t.Context()
		w := storage.WritePool(db)
		for _, q := range []string{
			"DROP TABLE event_notifications",
			`CREATE TABLE notifications (user_id TEXT NOT NULL, stream_pos BIGINT NOT NULL, room_id TEXT NOT NULL,
				event_id TEXT NOT NULL, thread_id TEXT NOT NULL, highlight BOOLEAN NOT NULL, actions TEXT NOT NULL,
				ts BIGINT NOT NULL, PRIMARY KEY (user_id, stream_pos))`,
		} {
			if _, err := w.ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		rows := []struct {
			user      string
			pos       int64
			highlight bool
			actions   string
		}{
			{"@a:x", 1, false, `["notify"]`},
			{"@b:x", 1, true, "[\"notify\",\n{\"set_tweak\":\"highlight\"}]"},
			{"@c:x", 1, false, `["notify"]`},
			{"@a:x", 2, false, `["notify"]`},
		}
		for _, r := range rows {
			if _, err := w.ExecContext(ctx, `INSERT INTO notifications VALUES ($1, $2, '!r', $3, 'main', $4, $5, 7)`,
				r.user, r.pos, fmt.Sprintf("$e%d", r.pos), r.highlight, r.actions); err != nil {
				t.Fatal(err)
			}
		}
		if err := storage.ForceSchemaVersion(ctx, db, 19); err != nil {
			t.Fatal(err)
		}
		if err := storage.MigrateNext(ctx, db); err != nil {
			t.Fatal(err)
		}
		if err := storage.ForceSchemaVersion(ctx, db, storage.SchemaVersion()); err != nil {
			t.Fatal(err)
		}
		want := map[string][]string{
			"@a:x": {`2 $e2 false ["notify"]`, `1 $e1 false ["notify"]`},
			"@b:x": {`1 $e1 true ["notify",{"set_tweak":"highlight"}]`},
			"@c:x": {`1 $e1 false ["notify"]`},
		}
		for user, want := range want {
			ns, _, err := db.Notifications(ctx, user, 0, 10, false)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, n := range ns {
				if n.RoomID != "!r" || n.ThreadID != "main" || n.TS != 7 {
					t.Errorf("%s: got %+v", user, n)
				}
				got = append(got, fmt.Sprintf("%d %s %v %s", n.StreamPos, n.EventID, n.Highlight, n.Actions))
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s: got %q, want %q", user, got, want)
			}
		}
		if _, err := w.ExecContext(ctx, "SELECT 1 FROM notifications"); err == nil {
			t.Error("the old notifications table is still there")
		}
	})
}
