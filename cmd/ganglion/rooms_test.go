package main

import (
	"context"
	"errors"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/ganglion/ganglion/config"
)

// TestRooms walks what two colleagues do in a topic room through
// mautrix-go: create it, invite, join, talk, page back through history,
// read state and members, redact, leave; then a restart keeps it all.
func TestRooms(t *testing.T) {
	eachDialect(t, func(t *testing.T, cfg *config.Config) {
		srv, stop := startServer(t, cfg)
		ctx := context.Background()
		users := mustRegisterAll(t, srv.URL, "alice", "bob")
		alice, bob := users[0], users[1]
		if err := bob.SetDisplayName(ctx, "Bob Builder"); err != nil {
			t.Fatal(err)
		}

		created, err := alice.CreateRoom(ctx, &mautrix.ReqCreateRoom{
			Name: "Site 7: roofing", Topic: "Tiles and deadlines", Preset: "private_chat",
			Invite: []id.UserID{bob.UserID},
		})
		if err != nil {
			t.Fatalf("create room: %v", err)
		}
		roomID := created.RoomID
		if _, err := bob.SendText(ctx, roomID, "before joining"); err == nil {
			t.Error("bob sent before joining: got nil error, want M_FORBIDDEN")
		}
		if _, err := bob.JoinRoomByID(ctx, roomID); err != nil {
			t.Fatalf("bob joins: %v", err)
		}

		var sent []id.EventID
		for i, text := range []string{"tiles arrive monday", "ok", "crane booked", "thanks"} {
			cli := alice
			if i%2 == 1 {
				cli = bob
			}
			resp, err := cli.SendText(ctx, roomID, text)
			if err != nil {
				t.Fatalf("send %q: %v", text, err)
			}
			sent = append(sent, resp.EventID)
		}
		// The same transaction id gives the same event.
		again, err := alice.SendMessageEvent(ctx, roomID, event.EventMessage,
			map[string]string{"msgtype": "m.text", "body": "once"}, mautrix.ReqSendEvent{TransactionID: "txn-1"})
		if err != nil {
			t.Fatal(err)
		}
		twice, err := alice.SendMessageEvent(ctx, roomID, event.EventMessage,
			map[string]string{"msgtype": "m.text", "body": "once"}, mautrix.ReqSendEvent{TransactionID: "txn-1"})
		if err != nil || twice.EventID != again.EventID {
			t.Errorf("repeated txn id: got %s (%v), want %s", twice.EventID, err, again.EventID)
		}

		page, err := bob.Messages(ctx, roomID, "", "", mautrix.DirectionBackward, nil, 3)
		if err != nil {
			t.Fatalf("messages: %v", err)
		}
		if len(page.Chunk) != 3 || page.Chunk[0].ID != again.EventID || page.Chunk[1].ID != sent[3] {
			t.Fatalf("first page: got %d events starting %v, want 3 starting with the newest", len(page.Chunk), ids(page.Chunk))
		}
		rest, err := bob.Messages(ctx, roomID, page.End, "", mautrix.DirectionBackward, nil, 100)
		if err != nil {
			t.Fatal(err)
		}
		last := rest.Chunk[len(rest.Chunk)-1]
		if last.Type != event.StateCreate || rest.End != "" {
			t.Errorf("paging to the start: got last %s and end %q, want m.room.create and no end", last.Type, rest.End)
		}

		var name event.RoomNameEventContent
		if err := bob.StateEvent(ctx, roomID, event.StateRoomName, "", &name); err != nil || name.Name != "Site 7: roofing" {
			t.Errorf("room name: got %q (%v)", name.Name, err)
		}
		members, err := alice.JoinedMembers(ctx, roomID)
		if err != nil {
			t.Fatal(err)
		}
		if len(members.Joined) != 2 || members.Joined[bob.UserID].DisplayName != "Bob Builder" {
			t.Errorf("joined members: got %+v, want alice and Bob Builder", members.Joined)
		}
		rooms, err := bob.JoinedRooms(ctx)
		if err != nil || len(rooms.JoinedRooms) != 1 || rooms.JoinedRooms[0] != roomID {
			t.Errorf("bob's joined rooms: got %v (%v)", rooms, err)
		}

		if _, err := bob.RedactEvent(ctx, roomID, sent[0]); !errors.Is(err, mautrix.MForbidden) {
			t.Errorf("bob redacting alice's message: got %v, want M_FORBIDDEN", err)
		}
		if _, err := bob.RedactEvent(ctx, roomID, sent[1]); err != nil {
			t.Fatalf("bob redacting his own message: %v", err)
		}
		redacted, err := alice.GetEvent(ctx, roomID, sent[1])
		if err != nil {
			t.Fatal(err)
		}
		if len(redacted.Content.VeryRaw) > 2 {
			t.Errorf("redacted event content: got %s, want {}", redacted.Content.VeryRaw)
		}

		if _, err := bob.LeaveRoom(ctx, roomID); err != nil {
			t.Fatal(err)
		}
		if _, err := alice.SendText(ctx, roomID, "after bob left"); err != nil {
			t.Fatal(err)
		}
		after, err := bob.Messages(ctx, roomID, "", "", mautrix.DirectionBackward, nil, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(after.Chunk) != 1 || after.Chunk[0].Type != event.StateMember {
			t.Errorf("bob after leaving: newest visible is %v, want his own leave", ids(after.Chunk))
		}

		stop()
		again2, _ := startServer(t, cfg)
		alice.HomeserverURL.Host = again2.URL[len("http://"):]
		whole, err := alice.Messages(ctx, roomID, "", "", mautrix.DirectionBackward, nil, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(whole.Chunk) < 12 {
			t.Errorf("history after restart: got %d events, want the whole room", len(whole.Chunk))
		}
		if _, err := alice.SendText(ctx, roomID, "after restart"); err != nil {
			t.Errorf("send after restart: %v", err)
		}
	})
}

func ids(events []*event.Event) []id.EventID {
	out := make([]id.EventID, len(events))
	for i, e := range events {
		out[i] = e.ID
	}
	return out
}
