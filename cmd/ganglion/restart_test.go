package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/ganglion/ganglion/config"
)

// roomsView is what a user sees of all rooms: joined rooms, and per room
// the current state, the members and the whole history, as JSON.
type roomsView struct {
	Joined  []id.RoomID
	State   map[id.RoomID][]string
	Members map[id.RoomID][]string
	History map[id.RoomID][]string
}

func mustRoomsView(t *testing.T, cli *mautrix.Client, rooms []id.RoomID) roomsView {
	t.Helper()
	ctx := context.Background()
	joined, err := cli.JoinedRooms(ctx)
	if err != nil {
		t.Fatalf("joined rooms of %s: %v", cli.UserID, err)
	}
	v := roomsView{Joined: joined.JoinedRooms, State: map[id.RoomID][]string{}, Members: map[id.RoomID][]string{},
		History: map[id.RoomID][]string{}}
	slices.Sort(v.Joined)
	asJSON := func(evs []*event.Event) []string {
		var out []string
		for _, ev := range evs {
			data, err := json.Marshal(map[string]any{"id": ev.ID, "type": ev.Type.Type, "state_key": ev.StateKey,
				"sender": ev.Sender, "ts": ev.Timestamp, "content": ev.Content.Raw})
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, string(data))
		}
		return out
	}
	for _, room := range rooms {
		state, err := cli.StateAsArray(ctx, room)
		if err != nil {
			t.Fatalf("state of %s: %v", room, err)
		}
		v.State[room] = asJSON(state)
		slices.Sort(v.State[room])
		members, err := cli.Members(ctx, room)
		if err != nil {
			t.Fatalf("members of %s: %v", room, err)
		}
		v.Members[room] = asJSON(members.Chunk)
		slices.Sort(v.Members[room])
		from := ""
		for {
			page, err := cli.Messages(ctx, room, from, "", mautrix.DirectionBackward, nil, 7)
			if err != nil {
				t.Fatalf("messages of %s: %v", room, err)
			}
			v.History[room] = append(v.History[room], asJSON(page.Chunk)...)
			if page.End == "" {
				break
			}
			from = page.End
		}
	}
	return v
}

// diffLines returns the lines of a that b lacks.
func diffLines(a, b []string) []string {
	var out []string
	for _, l := range a {
		if !slices.Contains(b, l) {
			out = append(out, l)
		}
	}
	if len(out) == 0 && len(a) != len(b) {
		out = append(out, fmt.Sprintf("(%d lines, want %d)", len(a), len(b)))
	} else if len(out) == 0 {
		out = append(out, "(same lines, another order)")
	}
	return out
}

// TestRestart_Rooms: rooms, memberships, history (a redaction included)
// and current state are identical after a restart for every member, a sync token from before
// the restart still works, and the rooms take new events.
func TestRestart_Rooms(t *testing.T) {
	eachDialect(t, func(t *testing.T, cfg *config.Config) {
		srv, stop := startServer(t, cfg)
		ctx := context.Background()
		registered := mustRegisterAll(t, srv.URL, "alice", "bob", "carol")
		alice, bob, carol := registered[0], registered[1], registered[2]
		public := mustPublicRoom(t, alice, bob, carol)
		private, err := alice.CreateRoom(ctx, &mautrix.ReqCreateRoom{Name: "Board", Preset: "private_chat",
			Invite: []id.UserID{bob.UserID, carol.UserID}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bob.JoinRoomByID(ctx, private.RoomID); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 12; i++ {
			mustText(t, []*mautrix.Client{alice, bob}[i%2], public, fmt.Sprintf("public %d", i))
			mustText(t, []*mautrix.Client{alice, bob}[i%2], private.RoomID, fmt.Sprintf("private %d", i))
		}
		secret, err := bob.SendText(ctx, public, "wrong room, sorry")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bob.RedactEvent(ctx, public, secret.EventID); err != nil {
			t.Fatal(err)
		}
		if _, err := alice.SendStateEvent(ctx, public, event.StateTopic, "", map[string]string{"topic": "before"}); err != nil {
			t.Fatal(err)
		}
		if _, err := alice.BanUser(ctx, public, &mautrix.ReqBanUser{UserID: carol.UserID, Reason: "spam"}); err != nil {
			t.Fatal(err)
		}
		if _, err := bob.LeaveRoom(ctx, private.RoomID); err != nil {
			t.Fatal(err)
		}
		rooms := []id.RoomID{public, private.RoomID}
		users := []*mautrix.Client{alice, bob}
		before := map[id.UserID]roomsView{}
		for _, cli := range users {
			before[cli.UserID] = mustRoomsView(t, cli, rooms)
		}
		token := mustSync(t, alice, "", 0, "").NextBatch

		stop()
		again, _ := startServer(t, cfg)
		for _, cli := range append(users, carol) {
			cli.HomeserverURL.Host = again.URL[len("http://"):]
		}
		for _, cli := range users {
			after, want := mustRoomsView(t, cli, rooms), before[cli.UserID]
			if !slices.Equal(after.Joined, want.Joined) {
				t.Errorf("%s's joined rooms after the restart: got %v, want %v", cli.UserID, after.Joined, want.Joined)
			}
			for _, part := range []struct {
				name      string
				got, want map[id.RoomID][]string
			}{{"state", after.State, want.State}, {"members", after.Members, want.Members}, {"history", after.History, want.History}} {
				for _, room := range rooms {
					if got, want := part.got[room], part.want[room]; !slices.Equal(got, want) {
						t.Errorf("%s's %s of %s after the restart:\ngot  %v\nwant %v", cli.UserID, part.name, room,
							strings.Join(diffLines(got, want), "\n     "), strings.Join(diffLines(want, got), "\n     "))
					}
				}
			}
		}
		if _, err := carol.JoinRoomByID(ctx, public); err == nil {
			t.Error("carol joining after the restart: got nil error, want the ban to hold")
		}
		sent, err := bob.SendText(ctx, public, "after the restart")
		if err != nil {
			t.Fatal(err)
		}
		resp := mustSync(t, alice, token, 0, "")
		jr := resp.Rooms.Join[public]
		if jr == nil || len(jr.Timeline.Events) != 1 || jr.Timeline.Events[0].ID != sent.EventID || jr.Timeline.Limited {
			t.Errorf("sync from a token of before the restart: got %+v, want just the new message", jr)
		}
	})
}
