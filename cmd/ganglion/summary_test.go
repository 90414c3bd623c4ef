package main

import (
	"context"
	"slices"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/id"

	"github.com/ganglion/ganglion/config"
)

// TestSync_Summary: a room without a name gets a summary with member
// counts and heroes in the order the members came (not by user id); with
// lazy loading the heroes' member events come in state although they sent
// nothing in the timeline; when everyone else has gone, the heroes are
// those who left.
func TestSync_Summary(t *testing.T) {
	eachDialect(t, func(t *testing.T, cfg *config.Config) {
		srv, _ := startServer(t, cfg)
		ctx := context.Background()
		users := mustRegisterAll(t, srv.URL, "alice", "bob", "carol", "dave")
		alice, bob, carol, dave := users[0], users[1], users[2], users[3]
		room := mustPublicRoom(t, alice, dave)
		if _, err := dave.LeaveRoom(ctx, room); err != nil {
			t.Fatal(err)
		}
		if _, err := alice.InviteUser(ctx, room, &mautrix.ReqInviteUser{UserID: carol.UserID}); err != nil {
			t.Fatal(err)
		}
		if _, err := bob.JoinRoomByID(ctx, room); err != nil {
			t.Fatal(err)
		}
		mustText(t, alice, room, "who is here?")

		lazy := `{"room":{"timeline":{"limit":1},"state":{"lazy_load_members":true}}}`
		resp := mustSync(t, alice, "", 0, lazy)
		sum := resp.Rooms.Join[room].Summary
		if want := []id.UserID{carol.UserID, bob.UserID}; !slices.Equal(sum.Heroes, want) {
			t.Errorf("heroes: got %v, want %v (invited carol before bob joined; dave left)", sum.Heroes, want)
		}
		if sum.JoinedMemberCount == nil || *sum.JoinedMemberCount != 2 || sum.InvitedMemberCount == nil || *sum.InvitedMemberCount != 1 {
			t.Errorf("member counts: got %v joined, %v invited; want 2 and 1", sum.JoinedMemberCount, sum.InvitedMemberCount)
		}
		if got, want := stateMembers(t, resp, room), []string{"alice", "bob", "carol"}; !slices.Equal(got, want) {
			t.Errorf("lazy-loaded state members: got %v, want %v (the sender and the heroes)", got, want)
		}

		if _, err := carol.LeaveRoom(ctx, room); err != nil {
			t.Fatal(err)
		}
		if _, err := bob.LeaveRoom(ctx, room); err != nil {
			t.Fatal(err)
		}
		alone := mustSync(t, alice, resp.NextBatch, 0, "")
		sum = alone.Rooms.Join[room].Summary
		if want := []id.UserID{dave.UserID, carol.UserID, bob.UserID}; !slices.Equal(sum.Heroes, want) {
			t.Errorf("heroes with nobody else joined or invited: got %v, want those who left, %v", sum.Heroes, want)
		}
		if sum.JoinedMemberCount == nil || *sum.JoinedMemberCount != 1 || sum.InvitedMemberCount == nil || *sum.InvitedMemberCount != 0 {
			t.Errorf("member counts when alone: got %v joined, %v invited; want 1 and 0", sum.JoinedMemberCount, sum.InvitedMemberCount)
		}
	})
}
