package clientapi_test

import (
	"net/url"
	"testing"
)

// TestAPI_SyncEventsWithoutRoomID: /sync serves the events of a room's
// timeline and state without room_id (ClientEventWithoutRoomID: the room
// is the key they are under), joined and left rooms alike; /messages
// serves them with it.
func TestAPI_SyncEventsWithoutRoomID(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice password")
		bob := s.mustRegister(t, "bob", "bob password")
		room := s.dirRoom(t, alice, map[string]any{"preset": "public_chat"})
		s.dirJoin(t, bob, room)
		s.pushSend(t, alice, room, map[string]any{"body": "one"})
		s.pushSend(t, alice, room, map[string]any{"body": "two"})
		type event map[string]any
		type section struct {
			Events []event `json:"events"`
		}
		type roomBody struct {
			State    section `json:"state"`
			Timeline section `json:"timeline"`
		}
		var body struct {
			NextBatch string `json:"next_batch"`
			Rooms     struct {
				Join  map[string]roomBody `json:"join"`
				Leave map[string]roomBody `json:"leave"`
			} `json:"rooms"`
		}
		wantNoRoomID := func(where string, rb roomBody) {
			t.Helper()
			if len(rb.State.Events) == 0 || len(rb.Timeline.Events) == 0 {
				t.Fatalf("%s: got %d state and %d timeline events, want some of each", where, len(rb.State.Events),
					len(rb.Timeline.Events))
			}
			for _, ev := range append(rb.State.Events, rb.Timeline.Events...) {
				if ev["event_id"] == nil || ev["type"] == nil || ev["sender"] == nil {
					t.Errorf("%s: got event %v, want event_id, type and sender", where, ev)
				}
				if id, ok := ev["room_id"]; ok {
					t.Errorf("%s: %s event has room_id %v, want none", where, ev["type"], id)
				}
			}
		}
		filter := url.QueryEscape(`{"room":{"timeline":{"limit":1}}}`)
		s.getJSON(t, "GET", v3+"/sync?timeout=0&filter="+filter, bob, nil, &body)
		wantNoRoomID("initial sync", body.Rooms.Join[room])

		// A state change before a limited timeline makes the left room's state.
		wantOK(t, s.do(t, "PUT", v3+"/rooms/"+url.PathEscape(room)+"/state/m.room.topic/", alice.Token,
			map[string]any{"topic": "new"}))
		s.pushSend(t, alice, room, map[string]any{"body": "three"})
		wantOK(t, s.do(t, "POST", v3+"/rooms/"+url.PathEscape(room)+"/leave", bob.Token, map[string]any{}))
		since := body.NextBatch
		body.Rooms.Join, body.Rooms.Leave = nil, nil
		s.getJSON(t, "GET", v3+"/sync?timeout=0&filter="+filter+"&since="+url.QueryEscape(since), bob, nil, &body)
		wantNoRoomID("incremental sync, left room", body.Rooms.Leave[room])

		var page struct {
			Chunk []event `json:"chunk"`
		}
		s.getJSON(t, "GET", v3+"/rooms/"+url.PathEscape(room)+"/messages?dir=b&limit=5", alice, nil, &page)
		for _, ev := range page.Chunk {
			if ev["room_id"] != room {
				t.Errorf("/messages: %s event has room_id %v, want %s", ev["type"], ev["room_id"], room)
			}
		}
	})
}
