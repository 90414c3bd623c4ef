package main

import (
	"context"
	"encoding/json"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/ganglion/ganglion/config"
)

func ephemeralOf(t *testing.T, resp *mautrix.RespSync, roomID id.RoomID, typ string) map[string]any {
	t.Helper()
	jr := resp.Rooms.Join[roomID]
	if jr == nil {
		return nil
	}
	for _, ev := range jr.Ephemeral.Events {
		if ev.Type.Type == typ {
			return ev.Content.Raw
		}
	}
	return nil
}

// TestTypingAndReceipts: typing notifications and read receipts reach the
// other member through /sync; private receipts and the read marker stay
// with their owner.
func TestTypingAndReceipts(t *testing.T) {
	eachDialect(t, func(t *testing.T, cfg *config.Config) {
		srv, _ := startServer(t, cfg)
		ctx := context.Background()
		users := mustRegisterAll(t, srv.URL, "alice", "bob")
		alice, bob := users[0], users[1]
		room := mustPublicRoom(t, alice, bob)
		msg, err := alice.SendText(ctx, room, "read me")
		if err != nil {
			t.Fatal(err)
		}
		base := mustSync(t, alice, "", 0, "")

		if _, err := bob.UserTyping(ctx, room, true, 30000); err != nil {
			t.Fatalf("typing: %v", err)
		}
		typing := mustSync(t, alice, base.NextBatch, 0, "")
		content := ephemeralOf(t, typing, room, "m.typing")
		if ids, _ := content["user_ids"].([]any); len(ids) != 1 || ids[0] != string(bob.UserID) {
			t.Fatalf("alice sees typing: got %v, want [bob]", content)
		}
		if _, err := bob.UserTyping(ctx, room, false, 0); err != nil {
			t.Fatal(err)
		}
		stopped := mustSync(t, alice, typing.NextBatch, 0, "")
		if ids, _ := ephemeralOf(t, stopped, room, "m.typing")["user_ids"].([]any); len(ids) != 0 {
			t.Errorf("after bob stopped: got typing %v, want nobody", ids)
		}

		if err := bob.SendReceipt(ctx, room, msg.EventID, event.ReceiptTypeRead, nil); err != nil {
			t.Fatalf("receipt: %v", err)
		}
		read := mustSync(t, alice, stopped.NextBatch, 0, "")
		receipts, _ := json.Marshal(ephemeralOf(t, read, room, "m.receipt"))
		var parsed map[string]map[string]map[string]any
		if err := json.Unmarshal(receipts, &parsed); err != nil || parsed[string(msg.EventID)]["m.read"][string(bob.UserID)] == nil {
			t.Fatalf("alice sees bob's receipt: got %s", receipts)
		}

		if err := bob.SetReadMarkers(ctx, room, &mautrix.ReqSetReadMarkers{
			FullyRead: msg.EventID, ReadPrivate: msg.EventID,
		}); err != nil {
			t.Fatalf("read markers: %v", err)
		}
		quiet := mustSync(t, alice, read.NextBatch, 0, "")
		if c := ephemeralOf(t, quiet, room, "m.receipt"); c != nil {
			t.Errorf("alice sees bob's private receipt: %v", c)
		}
		own := mustSync(t, bob, "", 0, "")
		jr := own.Rooms.Join[room]
		var marker bool
		for _, ev := range jr.AccountData.Events {
			marker = marker || (ev.Type.Type == "m.fully_read" && ev.Content.Raw["event_id"] == string(msg.EventID))
		}
		if !marker {
			t.Error("bob's read marker missing from his room account data")
		}
		if _, err := mustClient(t, srv.URL).UserTyping(ctx, room, true, 1000); err == nil {
			t.Error("typing without a token: got nil error")
		}
	})
}
