package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/ganglion/ganglion/config"
)

func mustSync(t *testing.T, cli *mautrix.Client, since string, timeout int, filter string) *mautrix.RespSync {
	t.Helper()
	resp, err := cli.FullSyncRequest(context.Background(), mautrix.ReqSync{Since: since, Timeout: timeout, FilterID: filter})
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	return resp
}

func timelineBodies(room *mautrix.SyncJoinedRoom) []string {
	var out []string
	for _, ev := range room.Timeline.Events {
		if ev.Type == event.EventMessage {
			out = append(out, fmt.Sprint(ev.Content.Raw["body"]))
		}
	}
	return out
}

// TestSync drives /sync as Element would: an invite arrives, the join and
// messages follow, a long-poll wakes on a new message, a gap gives a
// limited timeline with the state that changed, account data and a leave
// come through.
func TestSync(t *testing.T) {
	eachDialect(t, func(t *testing.T, cfg *config.Config) {
		srv, _ := startServer(t, cfg)
		ctx := context.Background()
		users := mustRegisterAll(t, srv.URL, "alice", "bob")
		alice, bob := users[0], users[1]

		first := mustSync(t, bob, "", 0, "")
		if first.NextBatch == "" {
			t.Fatal("initial sync without next_batch")
		}
		room, err := alice.CreateRoom(ctx, &mautrix.ReqCreateRoom{Name: "Orders", Preset: "private_chat", Invite: []id.UserID{bob.UserID}})
		if err != nil {
			t.Fatal(err)
		}
		invited := mustSync(t, bob, first.NextBatch, 0, "")
		inv, ok := invited.Rooms.Invite[room.RoomID]
		if !ok || len(inv.State.Events) == 0 {
			t.Fatalf("bob's sync after the invite: got %+v, want the room under invite with stripped state", invited.Rooms.Invite)
		}
		if _, err := bob.JoinRoomByID(ctx, room.RoomID); err != nil {
			t.Fatal(err)
		}
		if _, err := alice.SendText(ctx, room.RoomID, "welcome"); err != nil {
			t.Fatal(err)
		}
		joined := mustSync(t, bob, invited.NextBatch, 0, "")
		jr, ok := joined.Rooms.Join[room.RoomID]
		if !ok {
			t.Fatalf("bob's sync after joining: room missing from join (%+v)", joined.Rooms)
		}
		if bodies := timelineBodies(jr); len(bodies) != 1 || bodies[0] != "welcome" {
			t.Errorf("timeline after join: got %v, want [welcome]", bodies)
		}
		var sawName bool
		for _, ev := range append(jr.State.Events, jr.Timeline.Events...) {
			sawName = sawName || ev.Type == event.StateRoomName
		}
		if !sawName {
			t.Error("newly joined room came without its name in state or timeline")
		}

		// A long-poll wakes when alice sends.
		type result struct {
			resp *mautrix.RespSync
			err  error
			took time.Duration
		}
		done := make(chan result, 1)
		go func() {
			start := time.Now()
			resp, err := bob.FullSyncRequest(ctx, mautrix.ReqSync{Since: joined.NextBatch, Timeout: 20000})
			done <- result{resp, err, time.Since(start)}
		}()
		waitForWaiter(t, srv, bob.UserID)
		if _, err := alice.SendText(ctx, room.RoomID, "are you there?"); err != nil {
			t.Fatal(err)
		}
		woken := <-done
		if woken.err != nil {
			t.Fatal(woken.err)
		}
		if bodies := timelineBodies(woken.resp.Rooms.Join[room.RoomID]); len(bodies) != 1 || bodies[0] != "are you there?" {
			t.Errorf("woken long-poll: got %v, want the new message", bodies)
		}
		if woken.took > 10*time.Second {
			t.Errorf("long-poll returned after %v: it was not woken by the message", woken.took)
		}

		// A gap larger than the timeline limit gives a limited timeline and
		// the state that changed in the gap.
		if _, err := alice.SendStateEvent(ctx, room.RoomID, event.StateTopic, "", map[string]string{"topic": "monday orders"}); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 15; i++ {
			if _, err := alice.SendText(ctx, room.RoomID, fmt.Sprintf("line %d", i)); err != nil {
				t.Fatal(err)
			}
		}
		gap := mustSync(t, bob, woken.resp.NextBatch, 0, "")
		gr := gap.Rooms.Join[room.RoomID]
		if gr == nil || !gr.Timeline.Limited || len(gr.Timeline.Events) != 10 || gr.Timeline.PrevBatch == "" {
			t.Fatalf("sync over a gap: got %+v, want a limited timeline of 10 with prev_batch", gr)
		}
		var topic bool
		for _, ev := range gr.State.Events {
			topic = topic || ev.Type == event.StateTopic
		}
		if !topic {
			t.Error("limited sync: the topic set in the gap is missing from state")
		}
		older, err := bob.Messages(ctx, room.RoomID, gr.Timeline.PrevBatch, "", mautrix.DirectionBackward, nil, 5)
		if err != nil || len(older.Chunk) != 5 || older.Chunk[0].Content.Raw["body"] != "line 4" {
			t.Errorf("paginating back from prev_batch: got %d events (%v), want lines 4 to 0", len(older.Chunk), err)
		}

		// Account data and leaving.
		if err := bob.SetAccountData(ctx, "org.example.prefs", map[string]string{"theme": "dark"}); err != nil {
			t.Fatal(err)
		}
		if _, err := bob.LeaveRoom(ctx, room.RoomID); err != nil {
			t.Fatal(err)
		}
		last := mustSync(t, bob, gap.NextBatch, 0, "")
		var prefs bool
		for _, ev := range last.AccountData.Events {
			prefs = prefs || ev.Type.Type == "org.example.prefs"
		}
		if !prefs {
			t.Error("account data missing from sync")
		}
		if _, ok := last.Rooms.Leave[room.RoomID]; !ok {
			t.Error("left room missing from rooms.leave")
		}
		if _, ok := last.Rooms.Join[room.RoomID]; ok {
			t.Error("left room still under rooms.join")
		}
		quiet := mustSync(t, bob, last.NextBatch, 0, "")
		if len(quiet.Rooms.Join)+len(quiet.Rooms.Leave)+len(quiet.Rooms.Invite) != 0 {
			t.Errorf("sync with nothing new: got rooms %+v, want none", quiet.Rooms)
		}

		// A left room shows with include_leave until it is forgotten.
		includeLeave := `{"room":{"include_leave":true}}`
		if _, ok := mustSync(t, bob, "", 0, includeLeave).Rooms.Leave[room.RoomID]; !ok {
			t.Error("initial sync with include_leave: left room missing")
		}
		// With an empty timeline the state shows the leave itself, on an
		// initial and on an incremental sync.
		noTimeline := `{"room":{"include_leave":true,"timeline":{"limit":0}}}`
		for name, since := range map[string]string{"initial": "", "incremental": gap.NextBatch} {
			lr, ok := mustSync(t, bob, since, 0, noTimeline).Rooms.Leave[room.RoomID]
			if !ok {
				t.Errorf("%s sync without timeline: left room missing", name)
				continue
			}
			left := false
			for _, ev := range lr.State.Events {
				left = left || (ev.Type == event.StateMember && ev.GetStateKey() == bob.UserID.String() &&
					ev.Content.Raw["membership"] == "leave")
			}
			if len(lr.Timeline.Events) != 0 || !left {
				t.Errorf("%s sync without timeline: got %d timeline events and leave in state %v, want none and true",
					name, len(lr.Timeline.Events), left)
			}
		}
		if _, err := bob.ForgetRoom(ctx, room.RoomID); err != nil {
			t.Fatal(err)
		}
		if _, ok := mustSync(t, bob, "", 0, includeLeave).Rooms.Leave[room.RoomID]; ok {
			t.Error("initial sync with include_leave: forgotten room still listed")
		}
	})
}
