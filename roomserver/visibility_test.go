package roomserver_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/ganglion/ganglion/roomserver"
	"github.com/ganglion/ganglion/storage"
	"github.com/ganglion/ganglion/storage/storagetest"
)

// TestRoomserver_Visible: in a room whose history is made visible to
// joined members only, bob sees his own membership events and what was
// sent from his join until his leave, and, having joined after them, the
// events sent while the history was still shared (up to the change itself,
// which the shared visibility before it lets him see); each event he sees
// carries his membership in the state after it.
func TestRoomserver_Visible(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		rs, _ := newRoomserver(t, db, "11")
		roomID, err := rs.CreateRoom(ctx, roomserver.CreateRequest{Creator: alice, Preset: roomserver.PresetPrivate})
		if err != nil {
			t.Fatal(err)
		}
		joinedOnly, _ := json.Marshal(map[string]string{"history_visibility": "joined"})
		empty := ""
		change := mustSend(t, rs, roomserver.Proto{RoomID: roomID, Sender: alice, Type: spec.MRoomHistoryVisibility, StateKey: &empty, Content: joinedOnly})
		mustSend(t, rs, message(roomID, alice, "before the invite"))
		invite := mustSend(t, rs, member(roomID, alice, bob, spec.Invite))
		mustSend(t, rs, message(roomID, alice, "while invited"))
		join := mustSend(t, rs, member(roomID, bob, bob, spec.Join))
		hello := mustSend(t, rs, message(roomID, alice, "hello bob"))
		leave := mustSend(t, rs, member(roomID, bob, bob, spec.Leave))
		mustSend(t, rs, message(roomID, alice, "after bob left"))

		all, err := rs.Timeline(ctx, roomID, 0, 0, 100, false)
		if err != nil {
			t.Fatal(err)
		}
		visible, err := rs.Visible(ctx, bob, all)
		if err != nil {
			t.Fatal(err)
		}
		var got [][2]string
		for _, ev := range visible {
			got = append(got, [2]string{ev.EventID(), ev.UserMembership})
		}
		var want [][2]string
		for _, ev := range all {
			want = append(want, [2]string{ev.EventID(), spec.Leave})
			if ev.EventID() == change.EventID {
				break
			}
		}
		want = append(want, [][2]string{
			{invite.EventID, spec.Invite}, {join.EventID, spec.Join}, {hello.EventID, spec.Join}, {leave.EventID, spec.Leave},
		}...)
		if len(got) != len(want) {
			t.Fatalf("bob sees %d events %v, want %v", len(got), got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("event %d: got %v, want %v", i, got[i], want[i])
			}
		}

		visible, err = rs.Visible(ctx, alice, all)
		if err != nil {
			t.Fatal(err)
		}
		if len(visible) != len(all) {
			t.Fatalf("alice sees %d of %d events", len(visible), len(all))
		}
		if first := visible[0]; first.Type() != spec.MRoomCreate || first.UserMembership != spec.Leave {
			t.Errorf("alice's first event: got %s with %q, want m.room.create with leave", first.Type(), first.UserMembership)
		}
		for _, ev := range visible[1:] {
			if ev.UserMembership != spec.Join {
				t.Errorf("alice's %s event: got %q, want join", ev.Type(), ev.UserMembership)
			}
		}
	})
}
