package clientapi_test

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// filteredSync is what a filtered /sync returns for the test's rooms.
type filteredSync struct {
	Rooms struct {
		Join map[string]struct {
			Timeline struct {
				Events []eventSummary `json:"events"`
			} `json:"timeline"`
			Ephemeral struct {
				Events []eventSummary `json:"events"`
			} `json:"ephemeral"`
			AccountData struct {
				Events []eventSummary `json:"events"`
			} `json:"account_data"`
		} `json:"join"`
	} `json:"rooms"`
}

// TestAPI_SyncFilters: each part of a /sync filter the spec defines
// selects what it says: types and not_types with "*" anywhere, senders and
// not_senders, contains_url, rooms and not_rooms at the room and the event
// level, and the ephemeral and room account data filters.
func TestAPI_SyncFilters(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice password")
		bob := s.mustRegister(t, "bob", "bob password")
		roomA := s.dirRoom(t, alice, map[string]any{"preset": "public_chat"})
		roomB := s.dirRoom(t, alice, map[string]any{"preset": "public_chat"})
		s.dirJoin(t, bob, roomA)
		s.dirJoin(t, bob, roomB)
		s.say(t, alice, roomA, "a1", "from alice")
		s.say(t, bob, roomA, "b1", "from bob")
		wantOK(t, s.do(t, "PUT", v3+"/rooms/"+url.PathEscape(roomA)+"/send/m.room.message/img", alice.Token,
			map[string]any{"msgtype": "m.image", "body": "picture", "url": "mxc://test.local/abc"}))
		wantOK(t, s.do(t, "PUT", v3+"/rooms/"+url.PathEscape(roomA)+"/send/org.example.thing/x1", alice.Token,
			map[string]any{"body": "thing"}))
		s.say(t, alice, roomB, "a2", "in room b")
		r := s.do(t, "POST", v3+"/rooms/"+url.PathEscape(roomA)+"/receipt/m.read/"+url.PathEscape(s.lastEventID(t, alice, roomA)),
			bob.Token, map[string]any{})
		wantOK(t, r)
		for _, room := range []string{roomA, roomB} {
			wantOK(t, s.do(t, "PUT", v3+"/user/"+url.PathEscape(alice.ID)+"/rooms/"+url.PathEscape(room)+"/account_data/org.example.note",
				alice.Token, map[string]string{"note": "x"}))
		}

		sync := func(filter string) filteredSync {
			t.Helper()
			var body filteredSync
			s.getJSON(t, "GET", v3+"/sync?timeout=0&filter="+url.QueryEscape(filter), alice, nil, &body)
			return body
		}
		// bodies lists the timeline of room A as type:body, messages only
		// by body.
		bodies := func(b filteredSync, room string) []string {
			var out []string
			for _, ev := range b.Rooms.Join[room].Timeline.Events {
				if ev.Content.Body != "" {
					out = append(out, ev.Content.Body)
				} else {
					out = append(out, ev.Type)
				}
			}
			return out
		}
		const all = `"limit":50`
		for _, c := range []struct {
			name, timeline string
			want           []string
		}{
			{"TypesPrefix", `{` + all + `,"types":["m.room.mess*"]}`, []string{"from alice", "from bob", "picture"}},
			{"TypesInfix", `{` + all + `,"types":["org.*.thing"]}`, []string{"thing"}},
			{"NotTypes", `{` + all + `,"not_types":["m.room.*"]}`, []string{"thing"}},
			{"Senders", `{` + all + `,"senders":["` + bob.ID + `"]}`, []string{"m.room.member", "from bob"}},
			{"NotSenders", `{` + all + `,"not_senders":["` + alice.ID + `"],"not_types":["m.room.member"]}`, []string{"from bob"}},
			{"ContainsURL", `{` + all + `,"contains_url":true}`, []string{"picture"}},
			{"NotContainsURL", `{` + all + `,"contains_url":false,"types":["m.room.message"]}`, []string{"from alice", "from bob"}},
			{"NotRoomsOfEvents", `{` + all + `,"not_rooms":["` + roomA + `"]}`, nil},
			{"Limit", `{"limit":2}`, []string{"picture", "thing"}},
		} {
			if got := bodies(sync(`{"room":{"timeline":`+c.timeline+`}}`), roomA); !slices.Equal(got, c.want) {
				t.Errorf("%s: room A's timeline: got %v, want %v", c.name, got, c.want)
			}
		}
		if got := bodies(sync(`{"room":{"timeline":{"rooms":["`+roomA+`"]}}}`), roomB); len(got) != 0 {
			t.Errorf("timeline rooms [A]: room B's timeline: got %v, want nothing", got)
		}

		if b := sync(`{"room":{"rooms":["` + roomB + `"]}}`); len(b.Rooms.Join) != 1 || strings.Join(bodies(b, roomB), ",") == "" {
			t.Errorf("room.rooms [B]: got rooms %v, want only B with its timeline", len(b.Rooms.Join))
		}
		if b := sync(`{"room":{"not_rooms":["` + roomA + `"]}}`); len(b.Rooms.Join) != 1 {
			t.Errorf("room.not_rooms [A]: got %d rooms, want only B", len(b.Rooms.Join))
		}

		types := func(evs []eventSummary) []string {
			var out []string
			for _, ev := range evs {
				out = append(out, ev.Type)
			}
			return out
		}
		for _, c := range []struct {
			name, filter    string
			ephemeral, data []string
		}{
			{"NoFilter", `{}`, []string{"m.receipt"}, []string{"org.example.note"}},
			{"EphemeralNotTypes", `{"room":{"ephemeral":{"not_types":["m.receipt"]}}}`, nil, []string{"org.example.note"}},
			{"AccountDataTypes", `{"room":{"account_data":{"types":["m.tag"]}}}`, []string{"m.receipt"}, nil},
			{"AccountDataNotRooms", `{"room":{"account_data":{"not_rooms":["` + roomA + `"]}}}`, []string{"m.receipt"}, nil},
		} {
			jr := sync(c.filter).Rooms.Join[roomA]
			if got := types(jr.Ephemeral.Events); !slices.Equal(got, c.ephemeral) {
				t.Errorf("%s: room A's ephemeral: got %v, want %v", c.name, got, c.ephemeral)
			}
			if got := types(jr.AccountData.Events); !slices.Equal(got, c.data) {
				t.Errorf("%s: room A's account data: got %v, want %v", c.name, got, c.data)
			}
		}
	})
}

// lastEventID returns the id of the newest event of a room the user sees.
func (s *testServer) lastEventID(t *testing.T, u user, roomID string) string {
	t.Helper()
	var page struct {
		Chunk []eventSummary `json:"chunk"`
	}
	s.getJSON(t, "GET", v3+"/rooms/"+url.PathEscape(roomID)+"/messages?dir=b&limit=1", u, nil, &page)
	if len(page.Chunk) != 1 {
		t.Fatalf("no events in %s", roomID)
	}
	return page.Chunk[0].EventID
}

// TestAPI_SyncFilterFillsLimit: a timeline filter that leaves most of a
// room's recent events out still fills its limit from older events, and
// says limited only while matching or unread history is left.
func TestAPI_SyncFilterFillsLimit(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice password")
		bob := s.mustRegister(t, "bob", "bob password")
		room := s.dirRoom(t, alice, map[string]any{"preset": "public_chat"})
		s.dirJoin(t, bob, room)
		for i := range 12 {
			s.say(t, alice, room, fmt.Sprintf("a%d", i), fmt.Sprintf("alice %d", i))
			for j := range 3 {
				s.say(t, bob, room, fmt.Sprintf("b%d-%d", i, j), "bob")
			}
		}
		type timeline struct {
			Rooms struct {
				Join map[string]struct {
					Timeline struct {
						Events  []eventSummary `json:"events"`
						Limited bool           `json:"limited"`
					} `json:"timeline"`
				} `json:"join"`
			} `json:"rooms"`
		}
		for _, tc := range []struct {
			limit       int
			wantFirst   string
			wantLimited bool
		}{
			{10, "alice 2", true}, // alice's newest ten, from under bob's thirty-six
			{12, "alice 0", true}, // all of alice's; older events (the room's creation) are left
		} {
			filter := fmt.Sprintf(`{"room":{"timeline":{"limit":%d,"senders":[%q]}}}`, tc.limit, alice.ID)
			var body timeline
			s.getJSON(t, "GET", v3+"/sync?timeout=0&filter="+url.QueryEscape(filter), bob, nil, &body)
			tl := body.Rooms.Join[room].Timeline
			var bodies []string
			for _, ev := range tl.Events {
				if ev.Type == "m.room.message" {
					bodies = append(bodies, ev.Content.Body)
				}
			}
			if len(bodies) != tc.limit || bodies[0] != tc.wantFirst || bodies[len(bodies)-1] != "alice 11" ||
				tl.Limited != tc.wantLimited {
				t.Errorf("limit %d: got %d messages %v, limited %v; want %d from %q to \"alice 11\", limited %v",
					tc.limit, len(bodies), bodies, tl.Limited, tc.limit, tc.wantFirst, tc.wantLimited)
			}
		}
	})
}
