package main

import (
	"context"
	"slices"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
	"maunium.net/go/mautrix/pushrules"

	"github.com/ganglion/ganglion/config"
)

// longPoll starts a /sync long-poll of cli and returns its result channel
// once the server holds it.
func longPoll(t *testing.T, srv *testServer, cli *mautrix.Client, since string) <-chan *mautrix.RespSync {
	t.Helper()
	out := make(chan *mautrix.RespSync, 1)
	go func() {
		resp, err := cli.FullSyncRequest(context.Background(), mautrix.ReqSync{Since: since, Timeout: 10000})
		if err != nil {
			t.Errorf("long-poll: %v", err)
		}
		out <- resp
	}()
	waitForWaiter(t, srv, cli.UserID)
	return out
}

func unreadOf(t *testing.T, resp *mautrix.RespSync, roomID id.RoomID) mautrix.UnreadNotificationCounts {
	t.Helper()
	jr := resp.Rooms.Join[roomID]
	if jr == nil || jr.UnreadNotifications == nil {
		t.Fatalf("sync without the room's unread_notifications")
	}
	return *jr.UnreadNotifications
}

func mustSend(t *testing.T, cli *mautrix.Client, roomID id.RoomID, content map[string]any) id.EventID {
	t.Helper()
	resp, err := cli.SendMessageEvent(context.Background(), roomID, event.EventMessage, content)
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	return resp.EventID
}

// TestPushCounts drives notification counts as a client sees them: a
// mention arrives with its count in the same long-poll response, a private
// read receipt clears it, and the counts survive a restart.
func TestPushCounts(t *testing.T) {
	eachDialect(t, func(t *testing.T, cfg *config.Config) {
		srv, stop := startServer(t, cfg)
		ctx := context.Background()
		users := mustRegisterAll(t, srv.URL, "alice", "bob")
		alice, bob := users[0], users[1]
		room := mustPublicRoom(t, alice, bob)
		base := mustSync(t, bob, "", 0, "")

		poll := longPoll(t, srv, bob, base.NextBatch)
		mention := mustSend(t, alice, room, map[string]any{"msgtype": "m.text", "body": "bob, look",
			"m.mentions": map[string]any{"user_ids": []string{bob.UserID.String()}}})
		woken := <-poll
		var inTimeline bool
		for _, ev := range woken.Rooms.Join[room].Timeline.Events {
			inTimeline = inTimeline || ev.ID == mention
		}
		if got := unreadOf(t, woken, room); !inTimeline || got.NotificationCount != 1 || got.HighlightCount != 1 {
			t.Fatalf("long-poll after the mention: timeline has it %v, counts %+v, want both with 1/1", inTimeline, got)
		}

		if err := bob.SetReadMarkers(ctx, room, &mautrix.ReqSetReadMarkers{ReadPrivate: mention}); err != nil {
			t.Fatal(err)
		}
		read := mustSync(t, bob, woken.NextBatch, 0, "")
		if got := unreadOf(t, read, room); got.NotificationCount != 0 || got.HighlightCount != 0 {
			t.Fatalf("after the private receipt: got %+v, want 0/0", got)
		}

		mustSend(t, alice, room, map[string]any{"msgtype": "m.text", "body": "before the restart"})
		if got := unreadOf(t, mustSync(t, bob, "", 0, ""), room); got.NotificationCount != 1 {
			t.Fatalf("before the restart: got %+v, want 1 notification", got)
		}
		stop()
		again, _ := startServer(t, cfg)
		alice.HomeserverURL.Host = again.URL[len("http://"):]
		bob.HomeserverURL.Host = again.URL[len("http://"):]
		mustSend(t, alice, room, map[string]any{"msgtype": "m.text", "body": "after the restart"})
		if got := unreadOf(t, mustSync(t, bob, "", 0, ""), room); got.NotificationCount != 2 || got.HighlightCount != 0 {
			t.Fatalf("after the restart: got %+v, want 2/0", got)
		}
		// An incremental sync from a token of before the restart finds the
		// room's new events in storage (the new process was not told of them).
		if got := unreadOf(t, mustSync(t, bob, read.NextBatch, 0, ""), room); got.NotificationCount != 2 {
			t.Fatalf("incremental sync across the restart: got %+v, want 2 notifications", got)
		}
	})
}

// TestPushRules edits push rules through mautrix-go and checks their
// effect: a muted room counts nothing, a disabled mute counts again, and a
// change wakes the user's long-poll with the new m.push_rules.
func TestPushRules(t *testing.T) {
	eachDialect(t, func(t *testing.T, cfg *config.Config) {
		srv, _ := startServer(t, cfg)
		ctx := context.Background()
		users := mustRegisterAll(t, srv.URL, "alice", "bob")
		alice, bob := users[0], users[1]
		room := mustPublicRoom(t, alice, bob)
		rules, err := bob.GetPushRules(ctx)
		if err != nil {
			t.Fatalf("get push rules: %v", err)
		}
		if rules.Override[0].RuleID != ".m.rule.master" || rules.Content[0].Pattern != "bob" || len(rules.Underride) != 5 {
			t.Fatalf("default rules: got %+v", rules)
		}

		base := mustSync(t, bob, "", 0, "")
		poll := longPoll(t, srv, bob, base.NextBatch)
		mute := &mautrix.ReqPutPushRule{Actions: []*pushrules.PushAction{}}
		if err := bob.PutPushRule(ctx, "global", pushrules.RoomRule, string(room), mute); err != nil {
			t.Fatalf("mute the room: %v", err)
		}
		woken := <-poll
		var sawRules bool
		for _, ev := range woken.AccountData.Events {
			if ev.Type == event.AccountDataPushRules {
				rs, err := pushrules.EventToPushRules(ev)
				sawRules = err == nil && rs != nil && rs.Room.Map[string(room)] != nil
			}
		}
		if !sawRules {
			t.Fatal("the long-poll woken by the change has no m.push_rules with the room rule")
		}

		mustSend(t, alice, room, map[string]any{"msgtype": "m.text", "body": "muted"})
		if got := unreadOf(t, mustSync(t, bob, "", 0, ""), room); got.NotificationCount != 0 {
			t.Fatalf("muted room: got %+v, want no notification", got)
		}
		if err := bob.SetPushRuleEnabled(ctx, "global", pushrules.RoomRule, string(room), false); err != nil {
			t.Fatal(err)
		}
		mustSend(t, alice, room, map[string]any{"msgtype": "m.text", "body": "loud again"})
		if got := unreadOf(t, mustSync(t, bob, "", 0, ""), room); got.NotificationCount != 1 {
			t.Fatalf("mute disabled: got %+v, want 1 notification", got)
		}
		if err := bob.DeletePushRule(ctx, "global", pushrules.RoomRule, string(room)); err != nil {
			t.Fatal(err)
		}

		highlight := []*pushrules.PushAction{{Action: pushrules.ActionNotify},
			{Action: pushrules.ActionSetTweak, Tweak: pushrules.TweakHighlight}}
		for _, put := range []struct{ id, before string }{{"tea", ""}, {"time", "tea"}} {
			if err := bob.PutPushRule(ctx, "global", pushrules.ContentRule, put.id,
				&mautrix.ReqPutPushRule{Pattern: put.id, Actions: highlight, Before: put.before}); err != nil {
				t.Fatalf("put %s: %v", put.id, err)
			}
		}
		rules, err = bob.GetPushRules(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var order []string
		for _, r := range rules.Content {
			order = append(order, r.RuleID)
		}
		if !slices.Equal(order, []string{"time", "tea", ".m.rule.contains_user_name"}) {
			t.Fatalf("content rules: got %v", order)
		}
		mustSend(t, alice, room, map[string]any{"msgtype": "m.text", "body": "It's time for tea",
			"m.mentions": map[string]any{}})
		if got := unreadOf(t, mustSync(t, bob, "", 0, ""), room); got.NotificationCount != 2 || got.HighlightCount != 1 {
			t.Fatalf("content rule with a highlight: got %+v, want 2/1", got)
		}
		if _, err := bob.GetPushRule(ctx, "global", pushrules.RoomRule, string(room)); err == nil {
			t.Error("deleted room rule: got nil error")
		}
	})
}
