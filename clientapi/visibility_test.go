package clientapi_test

import (
	"net/http"
	"net/url"
	"slices"
	"testing"
)

// TestAPI_HistoryVisibility: for each history visibility, bob, who was
// invited, joined and left, sees through /messages, /event and /context
// exactly the messages the spec's rules give him; a member's initial
// /sync shows a newcomer only what he may see.
func TestAPI_HistoryVisibility(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice password")
		bob := s.mustRegister(t, "bob", "bob password")
		carol := s.mustRegister(t, "carol", "carol password")
		for _, c := range []struct {
			visibility string
			want       []string // of before, invited, joined, left
		}{
			{"world_readable", []string{"before", "invited", "joined", "left"}},
			{"shared", []string{"before", "invited", "joined"}},
			{"invited", []string{"invited", "joined"}},
			{"joined", []string{"joined"}},
		} {
			t.Run(c.visibility, func(t *testing.T) {
				room := s.dirRoom(t, alice, map[string]any{"preset": "private_chat", "initial_state": []any{map[string]any{
					"type": "m.room.history_visibility", "content": map[string]any{"history_visibility": c.visibility}}}})
				path := v3 + "/rooms/" + url.PathEscape(room)
				ids := map[string]string{}
				say := func(body string) {
					r := s.do(t, "PUT", path+"/send/m.room.message/"+c.visibility+body, alice.Token,
						map[string]string{"msgtype": "m.text", "body": body})
					wantOK(t, r)
					ids[body] = r.str("event_id")
				}
				say("before")
				wantOK(t, s.do(t, "POST", path+"/invite", alice.Token, map[string]string{"user_id": bob.ID}))
				say("invited")
				wantOK(t, s.do(t, "POST", path+"/join", bob.Token, map[string]any{}))
				say("joined")
				wantOK(t, s.do(t, "POST", path+"/leave", bob.Token, map[string]any{}))
				say("left")

				var page struct {
					Chunk []eventSummary `json:"chunk"`
				}
				s.getJSON(t, "GET", path+"/messages?dir=b&limit=100", bob, nil, &page)
				var got []string
				for _, ev := range page.Chunk {
					if ev.Type == "m.room.message" {
						got = append(got, ev.Content.Body)
					}
				}
				slices.Reverse(got)
				if !slices.Equal(got, c.want) {
					t.Errorf("/messages: got %v, want %v", got, c.want)
				}
				for _, body := range []string{"before", "invited", "joined", "left"} {
					status := http.StatusOK
					if !slices.Contains(c.want, body) {
						status = http.StatusNotFound
					}
					for _, p := range []string{"/event/", "/context/"} {
						if r := s.do(t, "GET", path+p+url.PathEscape(ids[body]), bob.Token, nil); r.Status != status {
							t.Errorf("%s of %q: got %d %s, want %d", p, body, r.Status, r.Raw, status)
						}
					}
				}

				// carol joins now: her initial sync shows the messages she
				// may see, with the same rules (she was never invited).
				s.dirJoinInvited(t, alice, carol, room)
				var body struct {
					Rooms struct {
						Join map[string]struct {
							Timeline struct {
								Events []eventSummary `json:"events"`
							} `json:"timeline"`
						} `json:"join"`
					} `json:"rooms"`
				}
				s.getJSON(t, "GET", v3+"/sync?timeout=0&filter="+url.QueryEscape(`{"room":{"timeline":{"limit":100}}}`), carol, nil, &body)
				var synced []string
				for _, ev := range body.Rooms.Join[room].Timeline.Events {
					if ev.Type == "m.room.message" {
						synced = append(synced, ev.Content.Body)
					}
				}
				var want []string
				if c.visibility == "world_readable" || c.visibility == "shared" {
					want = []string{"before", "invited", "joined", "left"}
				}
				if !slices.Equal(synced, want) {
					t.Errorf("carol's initial sync after joining: got %v, want %v", synced, want)
				}
			})
		}
	})
}

// dirJoinInvited has inviter invite u to a room and u join it.
func (s *testServer) dirJoinInvited(t *testing.T, inviter, u user, roomID string) {
	t.Helper()
	wantOK(t, s.do(t, "POST", v3+"/rooms/"+url.PathEscape(roomID)+"/invite", inviter.Token, map[string]string{"user_id": u.ID}))
	wantOK(t, s.do(t, "POST", v3+"/rooms/"+url.PathEscape(roomID)+"/join", u.Token, map[string]any{}))
}
