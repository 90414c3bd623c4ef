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

// TestSpacesKnockRestrictedUpgrade: a space with a restricted room that
// space members may join, knocking on a knock room, the space hierarchy,
// and upgrading a room to a new version.
func TestSpacesKnockRestrictedUpgrade(t *testing.T) {
	eachDialect(t, func(t *testing.T, cfg *config.Config) {
		srv, _ := startServer(t, cfg)
		ctx := context.Background()
		users := mustRegisterAll(t, srv.URL, "alice", "bob", "carol")
		alice, bob, carol := users[0], users[1], users[2]

		space, err := alice.CreateRoom(ctx, &mautrix.ReqCreateRoom{Name: "Town hall", Preset: "public_chat",
			CreationContent: map[string]any{"type": "m.space"}})
		if err != nil {
			t.Fatal(err)
		}
		restricted, err := alice.CreateRoom(ctx, &mautrix.ReqCreateRoom{Name: "Staff only", RoomVersion: "10",
			InitialState: []*event.Event{{Type: event.StateJoinRules, Content: event.Content{Raw: map[string]any{
				"join_rule": "restricted",
				"allow":     []any{map[string]any{"type": "m.room_membership", "room_id": space.RoomID}},
			}}}}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := alice.SendStateEvent(ctx, space.RoomID, event.StateSpaceChild, string(restricted.RoomID),
			map[string]any{"via": []string{"test.local"}}); err != nil {
			t.Fatal(err)
		}

		if _, err := bob.JoinRoomByID(ctx, restricted.RoomID); !errors.Is(err, mautrix.MForbidden) {
			t.Errorf("bob joining the restricted room outside the space: got %v, want M_FORBIDDEN", err)
		}
		if _, err := bob.JoinRoomByID(ctx, space.RoomID); err != nil {
			t.Fatal(err)
		}
		if _, err := bob.JoinRoomByID(ctx, restricted.RoomID); err != nil {
			t.Errorf("bob joining the restricted room as a space member: %v", err)
		}

		var hier struct {
			Rooms []struct {
				RoomID        id.RoomID        `json:"room_id"`
				Name          string           `json:"name"`
				RoomType      string           `json:"room_type"`
				ChildrenState []map[string]any `json:"children_state"`
			} `json:"rooms"`
		}
		if _, err := bob.MakeRequest(ctx, "GET", bob.BuildClientURL("v1", "rooms", space.RoomID, "hierarchy"), nil, &hier); err != nil {
			t.Fatal(err)
		}
		if len(hier.Rooms) != 2 || hier.Rooms[0].RoomType != "m.space" || len(hier.Rooms[0].ChildrenState) != 1 ||
			hier.Rooms[1].RoomID != restricted.RoomID {
			t.Errorf("hierarchy: got %+v, want the space with one child, then the child", hier.Rooms)
		}

		knock, err := alice.CreateRoom(ctx, &mautrix.ReqCreateRoom{Name: "Ask first", RoomVersion: "10",
			InitialState: []*event.Event{{Type: event.StateJoinRules, Content: event.Content{Raw: map[string]any{"join_rule": "knock"}}}}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := carol.KnockRoom(ctx, knock.RoomID.String(), &mautrix.ReqKnockRoom{Reason: "I'm the plumber"}); err != nil {
			t.Fatalf("knock: %v", err)
		}
		carolSync := mustSync(t, carol, "", 0, "")
		if _, ok := carolSync.Rooms.Knock[knock.RoomID]; !ok {
			t.Errorf("carol's sync: knocked room missing under rooms.knock")
		}
		if _, err := alice.InviteUser(ctx, knock.RoomID, &mautrix.ReqInviteUser{UserID: carol.UserID}); err != nil {
			t.Fatalf("accepting the knock with an invite: %v", err)
		}
		if _, err := carol.JoinRoomByID(ctx, knock.RoomID); err != nil {
			t.Fatal(err)
		}

		old := restricted.RoomID
		var upgraded struct {
			ReplacementRoom id.RoomID `json:"replacement_room"`
		}
		if _, err := bob.MakeRequest(ctx, "POST", bob.BuildClientURL("v3", "rooms", old, "upgrade"),
			map[string]string{"new_version": "11"}, nil); !errors.Is(err, mautrix.MForbidden) {
			t.Errorf("bob upgrading without power: got %v, want M_FORBIDDEN", err)
		}
		if _, err := alice.MakeRequest(ctx, "POST", alice.BuildClientURL("v3", "rooms", old, "upgrade"),
			map[string]string{"new_version": "11"}, &upgraded); err != nil {
			t.Fatalf("upgrade: %v", err)
		}
		var tomb struct {
			ReplacementRoom id.RoomID `json:"replacement_room"`
		}
		if err := alice.StateEvent(ctx, old, event.StateTombstone, "", &tomb); err != nil || tomb.ReplacementRoom != upgraded.ReplacementRoom {
			t.Errorf("tombstone: got %+v (%v), want it to point at %s", tomb, err, upgraded.ReplacementRoom)
		}
		var create struct {
			RoomVersion string `json:"room_version"`
			Predecessor struct {
				RoomID id.RoomID `json:"room_id"`
			} `json:"predecessor"`
		}
		if err := alice.StateEvent(ctx, upgraded.ReplacementRoom, event.StateCreate, "", &create); err != nil ||
			create.RoomVersion != "11" || create.Predecessor.RoomID != old {
			t.Errorf("new room's create: got %+v (%v)", create, err)
		}
		var name event.RoomNameEventContent
		if err := alice.StateEvent(ctx, upgraded.ReplacementRoom, event.StateRoomName, "", &name); err != nil || name.Name != "Staff only" {
			t.Errorf("copied name: got %q (%v)", name.Name, err)
		}
		if _, err := bob.SendText(ctx, old, "still talking"); !errors.Is(err, mautrix.MForbidden) {
			t.Errorf("bob talking in the old room: got %v, want M_FORBIDDEN", err)
		}
	})
}
