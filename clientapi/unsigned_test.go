package clientapi_test

import (
	"encoding/json"
	"net/url"
	"testing"
)

// unsignedEvent is an event with the unsigned fields the server derives
// from the room.
type unsignedEvent struct {
	EventID  string  `json:"event_id"`
	Type     string  `json:"type"`
	StateKey *string `json:"state_key"`
	Content  struct {
		Membership string `json:"membership"`
		Body       string `json:"body"`
		Name       string `json:"name"`
	} `json:"content"`
	Unsigned struct {
		Membership  *string `json:"membership"`
		PrevContent *struct {
			Name string `json:"name"`
		} `json:"prev_content"`
	} `json:"unsigned"`
}

func (e unsignedEvent) membership() string {
	if e.Unsigned.Membership == nil {
		return "(none)"
	}
	return *e.Unsigned.Membership
}

// getJSON sends a request, wants 200 and decodes the answer into v.
func (s *testServer) getJSON(t *testing.T, method, path string, u user, body, v any) {
	t.Helper()
	r := s.do(t, method, path, u.Token, body)
	wantOK(t, r)
	if err := json.Unmarshal(r.Raw, v); err != nil {
		t.Fatalf("%s: %v: %s", r.Req, err, r.Raw)
	}
}

// membershipRoom: alice creates a public room (history shared) and sends
// a thread root and a reply in it; she invites bob, bob joins, alice sends
// "after". Returns the room and the ids of root, reply and after.
func (s *testServer) membershipRoom(t *testing.T, alice, bob user) (room, root, reply, after string) {
	t.Helper()
	room = s.dirRoom(t, alice, map[string]any{"preset": "public_chat"})
	root = s.pushSend(t, alice, room, map[string]any{"body": "root of a thread"})
	reply = s.pushSend(t, alice, room, map[string]any{"body": "reply in the thread",
		"m.relates_to": map[string]any{"rel_type": "m.thread", "event_id": root}})
	wantOK(t, s.do(t, "POST", v3+"/rooms/"+url.PathEscape(room)+"/invite", alice.Token, map[string]any{"user_id": bob.ID}))
	s.dirJoin(t, bob, room)
	after = s.pushSend(t, alice, room, map[string]any{"body": "after bob joined"})
	return room, root, reply, after
}

// wantMemberships checks unsigned.membership along a whole timeline,
// oldest first, as u sees it: "leave" until u's first membership event,
// then what each of u's membership events set, from that event on (the
// state after an event counts, the event itself included). Returns the
// memberships by event id.
func wantMemberships(t *testing.T, where string, u user, events []unsignedEvent) map[string]string {
	t.Helper()
	want, got := "leave", map[string]string{}
	for _, ev := range events {
		if ev.Type == "m.room.member" && ev.StateKey != nil && *ev.StateKey == u.ID {
			want = ev.Content.Membership
		}
		if ev.membership() != want {
			t.Errorf("%s: %s event %s: got unsigned.membership %s, want %s", where, ev.Type, ev.EventID, ev.membership(), want)
		}
		got[ev.EventID] = ev.membership()
	}
	return got
}

// wantMembership checks the unsigned.membership of single events.
func wantMembership(t *testing.T, where string, events []unsignedEvent, want map[string]string) {
	t.Helper()
	if len(events) == 0 {
		t.Errorf("%s: no events", where)
	}
	for _, ev := range events {
		if w, ok := want[ev.EventID]; !ok || ev.membership() != w {
			t.Errorf("%s: %s event %s: got unsigned.membership %s, want %s", where, ev.Type, ev.EventID, ev.membership(), w)
		}
	}
}

// TestAPI_UnsignedMembership: every room event served to a client carries
// the requester's membership in the state after the event as
// unsigned.membership ("leave" before it had any): bob sees "leave" on
// what was sent before alice invited him, "invite" on his invite, "join"
// from his join on; alice sees "leave" on the m.room.create event.
func TestAPI_UnsignedMembership(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice password")
		bob := s.mustRegister(t, "bob", "bob password")
		room, root, reply, after := s.membershipRoom(t, alice, bob)
		roomPath := "/rooms/" + url.PathEscape(room)

		var page struct {
			Chunk []unsignedEvent `json:"chunk"`
		}
		s.getJSON(t, "GET", v3+roomPath+"/messages?dir=f&limit=100", bob, nil, &page)
		want := wantMemberships(t, "bob's /messages", bob, page.Chunk)
		if len(want) < 8 || want[root] != "leave" || want[after] != "join" {
			t.Fatalf("bob's /messages: got %v, want the whole timeline with root left and after joined", want)
		}
		var alicePage struct {
			Chunk []unsignedEvent `json:"chunk"`
		}
		s.getJSON(t, "GET", v3+roomPath+"/messages?dir=f&limit=100", alice, nil, &alicePage)
		if first := alicePage.Chunk[0]; first.Type != "m.room.create" || first.membership() != "leave" {
			t.Errorf("alice's /messages: got first event %s with membership %s, want m.room.create with leave",
				first.Type, first.membership())
		}
		wantMemberships(t, "alice's /messages", alice, alicePage.Chunk)

		t.Run("Sync", func(t *testing.T) {
			filter := url.QueryEscape(`{"room":{"timeline":{"limit":100}}}`)
			var body struct {
				Rooms struct {
					Join map[string]struct {
						Timeline struct{ Events []unsignedEvent } `json:"timeline"`
					} `json:"join"`
				} `json:"rooms"`
			}
			s.getJSON(t, "GET", v3+"/sync?timeout=0&filter="+filter, bob, nil, &body)
			events := body.Rooms.Join[room].Timeline.Events
			if len(events) != len(page.Chunk) {
				t.Errorf("/sync: got %d timeline events, want %d", len(events), len(page.Chunk))
			}
			wantMemberships(t, "/sync", bob, events)
		})
		t.Run("SlidingSync", func(t *testing.T) {
			var body struct {
				Rooms map[string]struct {
					Timeline []unsignedEvent `json:"timeline"`
				} `json:"rooms"`
			}
			s.getJSON(t, "POST", "/_matrix/client/unstable/org.matrix.simplified_msc3575/sync", bob,
				map[string]any{"lists": map[string]any{"all": map[string]any{"ranges": [][2]int{{0, 10}}, "timeline_limit": 100}}}, &body)
			events := body.Rooms[room].Timeline
			if len(events) != len(page.Chunk) {
				t.Errorf("sliding sync: got %d timeline events, want %d", len(events), len(page.Chunk))
			}
			wantMemberships(t, "sliding sync", bob, events)
		})
		t.Run("Context", func(t *testing.T) {
			var body struct {
				Event  unsignedEvent   `json:"event"`
				Before []unsignedEvent `json:"events_before"`
				After  []unsignedEvent `json:"events_after"`
			}
			s.getJSON(t, "GET", v3+roomPath+"/context/"+url.PathEscape(root)+"?limit=20", bob, nil, &body)
			wantMembership(t, "/context", append(append([]unsignedEvent{body.Event}, body.Before...), body.After...), want)
		})
		t.Run("Event", func(t *testing.T) {
			for id := range want {
				var ev unsignedEvent
				s.getJSON(t, "GET", v3+roomPath+"/event/"+url.PathEscape(id), bob, nil, &ev)
				wantMembership(t, "/event", []unsignedEvent{ev}, want)
			}
		})
		t.Run("Relations", func(t *testing.T) {
			var body struct {
				Chunk []unsignedEvent `json:"chunk"`
			}
			s.getJSON(t, "GET", v1+roomPath+"/relations/"+url.PathEscape(root), bob, nil, &body)
			if len(body.Chunk) != 1 || body.Chunk[0].EventID != reply {
				t.Fatalf("/relations: got %+v, want the reply", body.Chunk)
			}
			wantMembership(t, "/relations", body.Chunk, want)
		})
		t.Run("Threads", func(t *testing.T) {
			var body struct {
				Chunk []unsignedEvent `json:"chunk"`
			}
			s.getJSON(t, "GET", v1+roomPath+"/threads", bob, nil, &body)
			if len(body.Chunk) != 1 || body.Chunk[0].EventID != root {
				t.Fatalf("/threads: got %+v, want the root", body.Chunk)
			}
			wantMembership(t, "/threads", body.Chunk, want)
		})
		t.Run("Search", func(t *testing.T) {
			s.searchIndex(t)
			results := s.searchResults(t, bob, map[string]any{
				"search_term": "thread", "event_context": map[string]any{"before_limit": 3, "after_limit": 3}})
			if len(results) != 2 {
				t.Fatalf("/search: got %d results, want root and reply", len(results))
			}
			for _, res := range results {
				wantMembership(t, "/search result", []unsignedEvent{res.Result}, want)
				wantMembership(t, "/search context", append(res.Context.Before, res.Context.After...), want)
			}
		})
		t.Run("Leave", func(t *testing.T) {
			wantOK(t, s.do(t, "POST", v3+roomPath+"/leave", bob.Token, map[string]any{}))
			var left struct {
				Chunk []unsignedEvent `json:"chunk"`
			}
			s.getJSON(t, "GET", v3+roomPath+"/messages?dir=f&limit=100", bob, nil, &left)
			got := wantMemberships(t, "/messages after leaving", bob, left.Chunk)
			last := left.Chunk[len(left.Chunk)-1]
			if last.Type != "m.room.member" || got[last.EventID] != "leave" || got[after] != "join" {
				t.Errorf("/messages after leaving: got last event %s %s, want bob's leave with leave", last.Type, got[last.EventID])
			}
		})
	})
}

// TestAPI_PrevContentRelationsThreadsSearch: a state event served by
// /relations, /threads and search (result and context) carries the content
// of the state it replaced as unsigned.prev_content, as on /sync and
// /messages; a first one carries none.
func TestAPI_PrevContentRelationsThreadsSearch(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice password")
		room := s.dirRoom(t, alice, map[string]any{"preset": "private_chat"})
		roomPath := "/rooms/" + url.PathEscape(room)
		root := s.pushSend(t, alice, room, map[string]any{"body": "plans"})
		wantOK(t, s.do(t, "PUT", v3+roomPath+"/state/m.room.name/", alice.Token, map[string]any{"name": "First garden"}))
		r := s.do(t, "PUT", v3+roomPath+"/state/m.room.name/", alice.Token, map[string]any{"name": "Second garden",
			"m.relates_to": map[string]any{"rel_type": "m.reference", "event_id": root}})
		wantOK(t, r)
		second := r.str("event_id")
		s.pushSend(t, alice, room, map[string]any{"body": "about the name",
			"m.relates_to": map[string]any{"rel_type": "m.thread", "event_id": second}})

		wantPrev := func(where string, ev unsignedEvent, want string) {
			t.Helper()
			got := "(none)"
			if p := ev.Unsigned.PrevContent; p != nil {
				got = p.Name
			}
			if got != want {
				t.Errorf("%s: %s event %q: got prev_content name %s, want %s", where, ev.Type, ev.Content.Name, got, want)
			}
		}
		var page struct {
			Chunk []unsignedEvent `json:"chunk"`
		}
		s.getJSON(t, "GET", v1+roomPath+"/relations/"+url.PathEscape(root), alice, nil, &page)
		if len(page.Chunk) != 1 || page.Chunk[0].EventID != second {
			t.Fatalf("/relations: got %+v, want the second name", page.Chunk)
		}
		wantPrev("/relations", page.Chunk[0], "First garden")

		s.getJSON(t, "GET", v1+roomPath+"/threads", alice, nil, &page)
		if len(page.Chunk) != 1 || page.Chunk[0].EventID != second {
			t.Fatalf("/threads: got %+v, want the second name", page.Chunk)
		}
		wantPrev("/threads", page.Chunk[0], "First garden")

		s.searchIndex(t)
		results := s.searchResults(t, alice, map[string]any{
			"search_term": "garden", "order_by": "recent", "event_context": map[string]any{"before_limit": 1, "after_limit": 1}})
		if len(results) != 2 || results[0].Result.EventID != second {
			t.Fatalf("/search: got %+v, want the second name, then the first", results)
		}
		wantPrev("/search result", results[0].Result, "First garden")
		wantPrev("/search result", results[1].Result, "(none)")
		if c := results[1].Context.After; len(c) != 1 || c[0].EventID != second {
			t.Fatalf("/search context after the first name: got %+v, want the second name", c)
		}
		wantPrev("/search context", results[1].Context.After[0], "First garden")
	})
}

// searchResult is a /search room event result as the unsigned tests read it.
type searchResult struct {
	Result  unsignedEvent `json:"result"`
	Context struct {
		Before []unsignedEvent `json:"events_before"`
		After  []unsignedEvent `json:"events_after"`
	} `json:"context"`
}

// searchResults runs a /search of room events with the criteria as u.
func (s *testServer) searchResults(t *testing.T, u user, criteria map[string]any) []searchResult {
	t.Helper()
	var body struct {
		Categories struct {
			RoomEvents struct {
				Results []searchResult `json:"results"`
			} `json:"room_events"`
		} `json:"search_categories"`
	}
	s.getJSON(t, "POST", v3+"/search", u, map[string]any{"search_categories": map[string]any{"room_events": criteria}}, &body)
	return body.Categories.RoomEvents.Results
}
