package main

import (
	"context"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"

	"github.com/ganglion/ganglion/config"
)

// TestProfileReachesRooms: a new display name is announced in every room
// the user is in, as a membership event.
func TestProfileReachesRooms(t *testing.T) {
	eachDialect(t, func(t *testing.T, cfg *config.Config) {
		srv, _ := startServer(t, cfg)
		ctx := context.Background()
		alice := mustRegister(t, srv.URL, "alice", "alice password")
		room, err := alice.CreateRoom(ctx, &mautrix.ReqCreateRoom{Preset: "private_chat"})
		if err != nil {
			t.Fatal(err)
		}
		if err := alice.SetDisplayName(ctx, "Alice from Accounts"); err != nil {
			t.Fatal(err)
		}
		var member event.MemberEventContent
		if err := alice.StateEvent(ctx, room.RoomID, event.StateMember, string(alice.UserID), &member); err != nil {
			t.Fatal(err)
		}
		if member.Displayname != "Alice from Accounts" || member.Membership != event.MembershipJoin {
			t.Errorf("membership after the name change: got %+v, want join with the new name", member)
		}
	})
}
