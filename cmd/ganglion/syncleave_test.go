package main

import (
	"context"
	"fmt"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/ganglion/ganglion/config"
)

// lastMember returns the newest m.room.member event of user in a left
// room's timeline, or nil.
func lastMember(lr *mautrix.SyncLeftRoom, user id.UserID) *event.Event {
	var out *event.Event
	for _, ev := range lr.Timeline.Events {
		if ev.Type == event.StateMember && ev.GetStateKey() == user.String() {
			out = ev
		}
	}
	return out
}

// TestSync_KickAndBan: a kicked and a banned member find the room under
// rooms.leave with the kick or ban that removed them, and stop seeing the
// room at that event.
func TestSync_KickAndBan(t *testing.T) {
	eachDialect(t, func(t *testing.T, cfg *config.Config) {
		srv, _ := startServer(t, cfg)
		ctx := context.Background()
		users := mustRegisterAll(t, srv.URL, "alice", "bob", "carol")
		alice, bob, carol := users[0], users[1], users[2]
		room := mustPublicRoom(t, alice, bob, carol)
		bobBase, carolBase := mustSync(t, bob, "", 0, ""), mustSync(t, carol, "", 0, "")

		if _, err := alice.KickUser(ctx, room, &mautrix.ReqKickUser{UserID: bob.UserID, Reason: "off topic"}); err != nil {
			t.Fatal(err)
		}
		if _, err := alice.BanUser(ctx, room, &mautrix.ReqBanUser{UserID: carol.UserID, Reason: "spam"}); err != nil {
			t.Fatal(err)
		}
		mustText(t, alice, room, "after they went")

		for _, c := range []struct {
			cli        *mautrix.Client
			since      string
			membership string
		}{{bob, bobBase.NextBatch, "leave"}, {carol, carolBase.NextBatch, "ban"}} {
			resp := mustSync(t, c.cli, c.since, 0, "")
			if _, ok := resp.Rooms.Join[room]; ok {
				t.Errorf("%s: room still under rooms.join", c.cli.UserID)
			}
			lr, ok := resp.Rooms.Leave[room]
			if !ok {
				t.Errorf("%s: room missing from rooms.leave", c.cli.UserID)
				continue
			}
			ev := lastMember(lr, c.cli.UserID)
			if ev == nil || ev.Content.Raw["membership"] != c.membership || ev.Sender != alice.UserID {
				t.Errorf("%s: got own member event %v in the leave timeline, want %s by alice", c.cli.UserID, ev, c.membership)
			} else if last := lr.Timeline.Events[len(lr.Timeline.Events)-1]; last.ID != ev.ID {
				t.Errorf("%s: leave timeline goes on after the %s to %s", c.cli.UserID, c.membership, last.Type.Type)
			}
			if again := mustSync(t, c.cli, resp.NextBatch, 0, ""); len(again.Rooms.Leave)+len(again.Rooms.Join) != 0 {
				t.Errorf("%s: next sync still has the room", c.cli.UserID)
			}
		}
	})
}

// TestSync_StateDelta: a limited timeline's state carries the state that
// changed between since and the timeline's start, not what the timeline
// itself holds; full_state sends the whole state of a room in which
// nothing happened.
func TestSync_StateDelta(t *testing.T) {
	eachDialect(t, func(t *testing.T, cfg *config.Config) {
		srv, _ := startServer(t, cfg)
		ctx := context.Background()
		users := mustRegisterAll(t, srv.URL, "alice", "bob")
		alice, bob := users[0], users[1]
		room := mustPublicRoom(t, alice, bob)
		quiet := mustPublicRoom(t, alice, bob)
		base := mustSync(t, bob, "", 0, "")

		if _, err := alice.SendStateEvent(ctx, room, event.StateRoomName, "", map[string]string{"name": "in the gap"}); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 12; i++ {
			mustText(t, alice, room, fmt.Sprintf("line %d", i))
		}
		topic, err := alice.SendStateEvent(ctx, room, event.StateTopic, "", map[string]string{"topic": "in the timeline"})
		if err != nil {
			t.Fatal(err)
		}
		mustText(t, alice, room, "last")

		resp := mustSync(t, bob, base.NextBatch, 0, "")
		jr := resp.Rooms.Join[room]
		if jr == nil || !jr.Timeline.Limited {
			t.Fatalf("sync over the gap: got %+v, want a limited timeline", jr)
		}
		inTimeline := false
		for _, ev := range jr.Timeline.Events {
			inTimeline = inTimeline || ev.ID == topic.EventID
		}
		var name, topicInState bool
		for _, ev := range jr.State.Events {
			name = name || ev.Type == event.StateRoomName
			topicInState = topicInState || ev.Type == event.StateTopic
		}
		if !inTimeline || !name || topicInState {
			t.Errorf("limited sync: topic in timeline %v, name in state %v, topic in state %v; want true, true, false",
				inTimeline, name, topicInState)
		}
		if _, ok := resp.Rooms.Join[quiet]; ok {
			t.Error("incremental sync: a room where nothing happened is listed")
		}

		full, err := bob.FullSyncRequest(ctx, mautrix.ReqSync{Since: resp.NextBatch, FullState: true})
		if err != nil {
			t.Fatal(err)
		}
		qr := full.Rooms.Join[quiet]
		if qr == nil {
			t.Fatal("full_state sync: the quiet room is missing")
		}
		types := map[event.Type]bool{}
		for _, ev := range append(qr.State.Events, qr.Timeline.Events...) {
			types[ev.Type] = true
		}
		for _, want := range []event.Type{event.StateCreate, event.StatePowerLevels, event.StateJoinRules, event.StateMember} {
			if !types[want] {
				t.Errorf("full_state sync of the quiet room: %s missing", want.Type)
			}
		}
	})
}

// TestSync_DeviceLists: device_lists.changed names a user who newly shares
// a room, device_lists.left one who no longer shares any room.
func TestSync_DeviceLists(t *testing.T) {
	eachDialect(t, func(t *testing.T, cfg *config.Config) {
		srv, _ := startServer(t, cfg)
		ctx := context.Background()
		users := mustRegisterAll(t, srv.URL, "alice", "bob")
		alice, bob := users[0], users[1]
		room := mustPublicRoom(t, alice)
		has := func(list []id.UserID, u id.UserID) bool {
			for _, x := range list {
				if x == u {
					return true
				}
			}
			return false
		}

		base := mustSync(t, alice, "", 0, "")
		if _, err := bob.JoinRoomByID(ctx, room); err != nil {
			t.Fatal(err)
		}
		joined := mustSync(t, alice, base.NextBatch, 0, "")
		if !has(joined.DeviceLists.Changed, bob.UserID) || has(joined.DeviceLists.Left, bob.UserID) {
			t.Errorf("after bob joined: got changed %v, left %v; want bob changed", joined.DeviceLists.Changed, joined.DeviceLists.Left)
		}

		if _, err := bob.LeaveRoom(ctx, room); err != nil {
			t.Fatal(err)
		}
		left := mustSync(t, alice, joined.NextBatch, 0, "")
		if !has(left.DeviceLists.Left, bob.UserID) || has(left.DeviceLists.Changed, bob.UserID) {
			t.Errorf("after bob left: got changed %v, left %v; want bob left", left.DeviceLists.Changed, left.DeviceLists.Left)
		}
		if quiet := mustSync(t, alice, left.NextBatch, 0, ""); has(quiet.DeviceLists.Left, bob.UserID) {
			t.Errorf("the sync after: bob still in left %v", quiet.DeviceLists.Left)
		}
	})
}
