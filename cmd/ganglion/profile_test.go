package main

import (
	"context"
	"errors"
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

// TestProfile_PutField follows the spec's request rules for PUT
// /profile/{userId}/{keyName}: displayname takes any string, avatar_url
// an MXC URI (mxc://<server-name>/<media-id>); an accepted value reaches
// the user's membership event in /sync, as Complement's
// TestDisplayNameUpdate and TestAvatarUrlUpdate check.
func TestProfile_PutField(t *testing.T) {
	eachDialect(t, func(t *testing.T, cfg *config.Config) {
		srv, _ := startServer(t, cfg)
		ctx := context.Background()
		alice := mustRegister(t, srv.URL, "alice", "alice password")
		room := mustPublicRoom(t, alice)
		tests := []struct {
			name, field string
			value       any
			err         error // nil: accepted
		}{
			{"OKDisplayName", "displayname", "LemurLover", nil},
			{"OKAvatarURL", "avatar_url", "mxc://example.com/LemurLover", nil},
			{"OKAvatarURLWithPort", "avatar_url", "mxc://example.com:8448/a-b_C9", nil},
			{"ErrAvatarURLPlainText", "avatar_url", "LemurLover", mautrix.MInvalidParam},
			{"ErrAvatarURLHTTPS", "avatar_url", "https://example.com/lemur.png", mautrix.MInvalidParam},
			{"ErrAvatarURLNoMediaID", "avatar_url", "mxc://example.com/", mautrix.MInvalidParam},
			{"ErrAvatarURLTraversal", "avatar_url", "mxc://example.com/../lemur", mautrix.MInvalidParam},
			{"ErrDisplayNameNumber", "displayname", 42, mautrix.MBadJSON},
		}
		since := mustSync(t, alice, "", 0, "").NextBatch
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				url := alice.BuildClientURL("v3", "profile", alice.UserID, tt.field)
				_, err := alice.MakeRequest(ctx, "PUT", url, map[string]any{tt.field: tt.value}, nil)
				if tt.err != nil {
					if !errors.Is(err, tt.err) {
						t.Fatalf("PUT %s %v: got %v, want %v", tt.field, tt.value, err, tt.err)
					}
					return
				}
				if err != nil {
					t.Fatalf("PUT %s %v: %v", tt.field, tt.value, err)
				}
				resp := mustSync(t, alice, since, 0, "")
				since = resp.NextBatch
				var got any
				if jr := resp.Rooms.Join[room]; jr != nil {
					for _, ev := range jr.Timeline.Events {
						if ev.Type == event.StateMember && ev.GetStateKey() == alice.UserID.String() {
							got = ev.Content.Raw[tt.field]
						}
					}
				}
				if got != tt.value {
					t.Errorf("membership in /sync after PUT %s: got %s %v, want %v", tt.field, tt.field, got, tt.value)
				}
			})
		}
	})
}
