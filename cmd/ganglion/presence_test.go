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

// presenceOf returns the content of the user's m.presence event in a sync
// response, or nil.
func presenceOf(resp *mautrix.RespSync, user id.UserID) map[string]any {
	for _, ev := range resp.Presence.Events {
		if ev.Type == event.EphemeralEventPresence && ev.Sender == user {
			return ev.Content.Raw
		}
	}
	return nil
}

func syncPresence(t *testing.T, cli *mautrix.Client, since string, timeout int, presence event.Presence) *mautrix.RespSync {
	t.Helper()
	resp, err := cli.FullSyncRequest(context.Background(), mautrix.ReqSync{Since: since, Timeout: timeout, SetPresence: presence})
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	return resp
}

// TestPresence: presence set with PUT and by syncing reaches a room-mate's
// sync (waking its long-poll) and GET; a stranger may not look.
func TestPresence(t *testing.T) {
	eachDialect(t, func(t *testing.T, cfg *config.Config) {
		srv, _ := startServer(t, cfg)
		ctx := context.Background()
		users := mustRegisterAll(t, srv.URL, "alice", "bob", "carol")
		alice, bob, carol := users[0], users[1], users[2]
		mustPublicRoom(t, alice, bob)
		base := syncPresence(t, bob, "", 0, event.PresenceOffline)

		if err := alice.SetPresence(ctx, mautrix.ReqPresence{Presence: event.PresenceUnavailable, StatusMsg: "in the workshop"}); err != nil {
			t.Fatalf("set presence: %v", err)
		}
		put := syncPresence(t, bob, base.NextBatch, 0, event.PresenceOffline)
		if c := presenceOf(put, alice.UserID); c["presence"] != "unavailable" || c["status_msg"] != "in the workshop" {
			t.Fatalf("bob's sync after alice's PUT: got %v, want unavailable with her status", c)
		}
		got, err := bob.GetPresence(ctx, alice.UserID)
		if err != nil || got.Presence != event.PresenceUnavailable || got.StatusMsg != "in the workshop" {
			t.Errorf("bob gets alice's presence: got %+v, %v", got, err)
		}
		if _, err := carol.GetPresence(ctx, alice.UserID); !errors.Is(err, mautrix.MForbidden) {
			t.Errorf("carol, sharing no room: got %v, want M_FORBIDDEN", err)
		}

		// alice's client syncs (set_presence=online): bob's waiting
		// long-poll wakes with her new presence.
		woken := make(chan *mautrix.RespSync, 1)
		go func() {
			resp, _ := bob.FullSyncRequest(ctx, mautrix.ReqSync{Since: put.NextBatch, Timeout: 10000, SetPresence: event.PresenceOffline})
			woken <- resp
		}()
		waitForWaiter(t, srv, bob.UserID)
		syncPresence(t, alice, "", 0, event.PresenceOnline)
		resp := <-woken
		if resp == nil {
			t.Fatal("bob's long-poll failed")
		}
		if c := presenceOf(resp, alice.UserID); c["presence"] != "online" || c["currently_active"] != true ||
			c["status_msg"] != "in the workshop" {
			t.Errorf("bob's long-poll: got %v, want alice online, currently active, status kept", c)
		}
		if own, err := alice.GetOwnPresence(ctx); err != nil || own.Presence != event.PresenceOnline {
			t.Errorf("alice's own presence: got %+v, %v; want online", own, err)
		}
		if err := bob.SetPresence(ctx, mautrix.ReqPresence{Presence: "away"}); !errors.Is(err, mautrix.MInvalidParam) {
			t.Errorf("invalid presence: got %v, want M_INVALID_PARAM", err)
		}
	})
}

// TestPresenceDisabled: with presence off the endpoints answer, everyone
// is offline and syncs carry no presence.
func TestPresenceDisabled(t *testing.T) {
	eachDialect(t, func(t *testing.T, cfg *config.Config) {
		cfg.Presence.Enabled = false
		srv, _ := startServer(t, cfg)
		ctx := context.Background()
		users := mustRegisterAll(t, srv.URL, "alice", "bob")
		alice, bob := users[0], users[1]
		mustPublicRoom(t, alice, bob)
		if err := alice.SetPresence(ctx, mautrix.ReqPresence{Presence: event.PresenceOnline, StatusMsg: "here"}); err != nil {
			t.Fatalf("set presence: %v", err)
		}
		syncPresence(t, alice, "", 0, event.PresenceOnline)
		if got, err := bob.GetPresence(ctx, alice.UserID); err != nil || got.Presence != event.PresenceOffline || got.StatusMsg != "" {
			t.Errorf("bob gets alice's presence: got %+v, %v; want offline", got, err)
		}
		if resp := syncPresence(t, bob, "", 0, event.PresenceOnline); len(resp.Presence.Events) != 0 {
			t.Errorf("bob's sync: got %d presence events, want none", len(resp.Presence.Events))
		}
	})
}

// TestIgnoredUsers: once alice ignores bob, his messages are missing from
// her sync and /messages, and his invites are not shown.
func TestIgnoredUsers(t *testing.T) {
	eachDialect(t, func(t *testing.T, cfg *config.Config) {
		srv, _ := startServer(t, cfg)
		ctx := context.Background()
		users := mustRegisterAll(t, srv.URL, "alice", "bob")
		alice, bob := users[0], users[1]
		room := mustPublicRoom(t, alice, bob)
		base := mustSync(t, alice, "", 0, "")
		if err := alice.SetAccountData(ctx, "m.ignored_user_list", map[string]any{
			"ignored_users": map[string]any{string(bob.UserID): map[string]any{}},
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := bob.SendText(ctx, room, "you will not read this"); err != nil {
			t.Fatal(err)
		}
		if _, err := alice.SendText(ctx, room, "anyone there?"); err != nil {
			t.Fatal(err)
		}
		invite, err := bob.CreateRoom(ctx, &mautrix.ReqCreateRoom{Invite: []id.UserID{alice.UserID}})
		if err != nil {
			t.Fatal(err)
		}
		next := mustSync(t, alice, base.NextBatch, 0, "")
		if got := timelineBodies(next.Rooms.Join[room]); len(got) != 1 || got[0] != "anyone there?" {
			t.Errorf("alice's sync: got %q, want only her own message", got)
		}
		if _, ok := next.Rooms.Invite[invite.RoomID]; ok {
			t.Error("alice's sync shows bob's invite")
		}
		msgs, err := alice.Messages(ctx, room, "", "", mautrix.DirectionBackward, nil, 20)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range msgs.Chunk {
			if ev.Sender == bob.UserID && ev.StateKey == nil {
				t.Errorf("/messages has bob's %s event", ev.Type.Type)
			}
		}
		if bobs := mustSync(t, bob, "", 0, ""); len(timelineBodies(bobs.Rooms.Join[room])) != 2 {
			t.Errorf("bob's own sync: got %q, want both messages", timelineBodies(bobs.Rooms.Join[room]))
		}
	})
}
