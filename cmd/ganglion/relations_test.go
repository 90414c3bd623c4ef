package main

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/ganglion/ganglion/config"
)

func mustSendJSON(t *testing.T, cli *mautrix.Client, roomID id.RoomID, typ event.Type, content map[string]any) id.EventID {
	t.Helper()
	resp, err := cli.SendMessageEvent(context.Background(), roomID, typ, content)
	if err != nil {
		t.Fatalf("send %s: %v", typ, err)
	}
	return resp.EventID
}

func relatesTo(relType string, parent id.EventID) map[string]any {
	return map[string]any{"rel_type": relType, "event_id": parent}
}

// TestThreadsAndRelations: replies in a thread, an edit and a reaction,
// read back through /relations, /threads, bundled aggregations, /context
// and /timestamp_to_event.
func TestThreadsAndRelations(t *testing.T) {
	eachDialect(t, func(t *testing.T, cfg *config.Config) {
		srv, _ := startServer(t, cfg)
		ctx := context.Background()
		users := mustRegisterAll(t, srv.URL, "alice", "bob")
		alice, bob := users[0], users[1]
		room := mustPublicRoom(t, alice, bob)
		root := mustSendJSON(t, alice, room, event.EventMessage, map[string]any{"msgtype": "m.text", "body": "delivery plan?"})
		var replies []id.EventID
		for i, cli := range []*mautrix.Client{bob, alice, bob} {
			replies = append(replies, mustSendJSON(t, cli, room, event.EventMessage, map[string]any{
				"msgtype": "m.text", "body": "reply " + string(rune('a'+i)), "m.relates_to": relatesTo("m.thread", root),
			}))
		}
		edit := mustSendJSON(t, alice, room, event.EventMessage, map[string]any{
			"msgtype": "m.text", "body": "* delivery plan for Monday?",
			"m.new_content": map[string]any{"msgtype": "m.text", "body": "delivery plan for Monday?"},
			"m.relates_to":  relatesTo("m.replace", root),
		})
		reaction := mustSendJSON(t, bob, room, event.EventReaction, map[string]any{
			"m.relates_to": map[string]any{"rel_type": "m.annotation", "event_id": root, "key": "👍"},
		})

		rels, err := bob.GetRelations(ctx, room, root, &mautrix.ReqGetRelations{RelationType: "m.thread", Dir: mautrix.DirectionBackward, Limit: 2})
		if err != nil {
			t.Fatalf("relations: %v", err)
		}
		if len(rels.Chunk) != 2 || rels.Chunk[0].ID != replies[2] || rels.NextBatch == "" {
			t.Fatalf("thread relations page: got %d events, next %q; want the 2 newest replies and a next page", len(rels.Chunk), rels.NextBatch)
		}
		more, err := bob.GetRelations(ctx, room, root, &mautrix.ReqGetRelations{RelationType: "m.thread", Dir: mautrix.DirectionBackward, From: rels.NextBatch})
		if err != nil || len(more.Chunk) != 1 || more.Chunk[0].ID != replies[0] || more.NextBatch != "" {
			t.Errorf("second page: got %v (%v), want the first reply and no next page", ids(more.Chunk), err)
		}
		all, err := bob.GetRelations(ctx, room, root, &mautrix.ReqGetRelations{})
		if err != nil || len(all.Chunk) != 5 {
			t.Errorf("all relations: got %d (%v), want 5 (3 replies, an edit, a reaction)", len(all.Chunk), err)
		}

		var got struct {
			Unsigned json.RawMessage `json:"unsigned"`
		}
		if _, err := bob.MakeRequest(ctx, "GET", bob.BuildClientURL("v3", "rooms", room, "event", root), nil, &got); err != nil {
			t.Fatal(err)
		}
		var unsigned struct {
			Relations struct {
				Thread struct {
					Count       int          `json:"count"`
					Latest      *event.Event `json:"latest_event"`
					Participate bool         `json:"current_user_participated"`
				} `json:"m.thread"`
				Replace *event.Event `json:"m.replace"`
			} `json:"m.relations"`
		}
		if err := json.Unmarshal(got.Unsigned, &unsigned); err != nil {
			t.Fatal(err)
		}
		th := unsigned.Relations.Thread
		if th.Count != 3 || th.Latest == nil || th.Latest.ID != replies[2] || !th.Participate {
			t.Errorf("bundled thread: got %+v, want count 3, latest the last reply, participated", th)
		}
		if unsigned.Relations.Replace == nil || unsigned.Relations.Replace.ID != edit {
			t.Errorf("bundled edit: got %v, want %s", unsigned.Relations.Replace, edit)
		}

		var threads struct {
			Chunk []*event.Event `json:"chunk"`
		}
		if _, err := bob.MakeRequest(ctx, "GET", bob.BuildClientURL("v1", "rooms", room, "threads"), nil, &threads); err != nil {
			t.Fatal(err)
		}
		if len(threads.Chunk) != 1 || threads.Chunk[0].ID != root {
			t.Errorf("threads: got %v, want the root", ids(threads.Chunk))
		}

		c, err := bob.Context(ctx, room, replies[1], nil, 2)
		if err != nil {
			t.Fatalf("context: %v", err)
		}
		if c.Event.ID != replies[1] || len(c.EventsBefore) != 1 || c.EventsBefore[0].ID != replies[0] ||
			len(c.EventsAfter) != 1 || c.EventsAfter[0].ID != replies[2] || len(c.State) == 0 {
			t.Errorf("context: got event %s, before %v, after %v, %d state events", c.Event.ID, ids(c.EventsBefore), ids(c.EventsAfter), len(c.State))
		}

		rootEvent, err := bob.GetEvent(ctx, room, root)
		if err != nil {
			t.Fatal(err)
		}
		rootTS := time.UnixMilli(rootEvent.Timestamp)
		at, err := bob.TimestampToEvent(ctx, room, rootTS, mautrix.DirectionForward)
		if err != nil || !at.Timestamp.Equal(rootTS) {
			t.Errorf("timestamp_to_event forwards from the root's time: got %v (%v), want an event of that time", at, err)
		}
		last, err := bob.TimestampToEvent(ctx, room, time.Now().Add(time.Hour), mautrix.DirectionBackward)
		if err != nil || last.EventID != reaction {
			t.Errorf("timestamp_to_event backwards from the future: got %v (%v), want the newest event", last, err)
		}
		if _, err := bob.TimestampToEvent(ctx, room, rootTS.Add(-time.Hour), mautrix.DirectionBackward); err == nil {
			t.Error("timestamp_to_event backwards from before the room: got an event, want M_NOT_FOUND")
		}
	})
}
