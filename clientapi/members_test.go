package clientapi_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"testing"
)

// TestMembersAt_TimelineStart: /members?at= with the prev_batch of a sync
// timeline gives the members at the start of that timeline. When the
// timeline starts at the room's m.room.create, before anyone joined, the
// answer is the members the room was created with (its creator), not the
// current ones: bob, who joined later, is not in it.
func TestMembersAt_TimelineStart(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice password")
		bob := s.mustRegister(t, "bob", "bob password")
		room := s.dirRoom(t, alice, map[string]any{"preset": "public_chat"})
		s.say(t, alice, room, "m1", "hello world")
		prevBatch := func(limit int) string {
			t.Helper()
			filter := url.QueryEscape(fmt.Sprintf(`{"room":{"timeline":{"limit":%d}}}`, limit))
			var body struct {
				Rooms struct {
					Join map[string]struct {
						Timeline struct {
							Events    []eventSummary `json:"events"`
							PrevBatch string         `json:"prev_batch"`
						} `json:"timeline"`
					} `json:"join"`
				} `json:"rooms"`
			}
			s.getJSON(t, "GET", v3+"/sync?timeout=0&filter="+filter, alice, nil, &body)
			tl := body.Rooms.Join[room].Timeline
			if len(tl.Events) == 0 || tl.PrevBatch == "" {
				t.Fatalf("sync with timeline limit %d: got %+v, want events and a prev_batch", limit, tl)
			}
			return tl.PrevBatch
		}
		fromCreate, fromMessage := prevBatch(100), prevBatch(1)
		s.dirJoin(t, bob, room)
		s.say(t, bob, room, "m2", "hello back")
		now := s.mustSync(t, alice, "").NextBatch

		for _, c := range []struct {
			name, at string
			want     []string
		}{
			{"TimelineFromCreate", fromCreate, []string{alice.ID}},
			{"TimelineFromMessage", fromMessage, []string{alice.ID}},
			{"NextBatch", now, []string{alice.ID, bob.ID}},
			{"Start", "m0", []string{alice.ID}},
		} {
			if got := s.members(t, alice, room, "?at="+url.QueryEscape(c.at)); !slices.Equal(got, c.want) {
				t.Errorf("%s: members at %s: got %v, want %v", c.name, c.at, got, c.want)
			}
		}
	})
}

// TestAPI_MembersFilter: /members with membership and not_membership, one
// member in each membership, the two filters combined as the spec's "or".
func TestAPI_MembersFilter(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice password")
		bob := s.mustRegister(t, "bob", "bob password")
		carol := s.mustRegister(t, "carol", "carol password")
		dave := s.mustRegister(t, "dave", "dave password")
		room := s.dirRoom(t, alice, map[string]any{"preset": "public_chat"})
		path := v3 + "/rooms/" + url.PathEscape(room)
		wantOK(t, s.do(t, "POST", path+"/invite", alice.Token, map[string]string{"user_id": bob.ID}))
		s.dirJoin(t, carol, room)
		wantOK(t, s.do(t, "POST", path+"/leave", carol.Token, map[string]any{}))
		s.dirJoin(t, dave, room)
		wantOK(t, s.do(t, "POST", path+"/ban", alice.Token, map[string]string{"user_id": dave.ID}))
		for _, c := range []struct {
			query string
			want  []string
		}{
			{"", []string{alice.ID, bob.ID, carol.ID, dave.ID}},
			{"?membership=join", []string{alice.ID}},
			{"?membership=invite", []string{bob.ID}},
			{"?membership=leave", []string{carol.ID}},
			{"?membership=ban", []string{dave.ID}},
			{"?not_membership=leave", []string{alice.ID, bob.ID, dave.ID}},
			{"?membership=join&not_membership=join", []string{alice.ID, bob.ID, carol.ID, dave.ID}},
			{"?membership=ban&not_membership=join", []string{bob.ID, carol.ID, dave.ID}},
			{"?membership=invite&not_membership=invite", []string{alice.ID, bob.ID, carol.ID, dave.ID}},
		} {
			if got := s.members(t, alice, room, c.query); !slices.Equal(got, c.want) {
				t.Errorf("members%s: got %v, want %v", c.query, got, c.want)
			}
		}
		t.Run("ErrUnknownMembership", func(t *testing.T) {
			for _, q := range []string{"?membership=joined", "?not_membership=x"} {
				wantErr(t, s.do(t, "GET", path+"/members"+q, alice.Token, nil), http.StatusBadRequest, "M_INVALID_PARAM")
			}
		})
		wantOK(t, s.do(t, "POST", path+"/unban", alice.Token, map[string]string{"user_id": dave.ID}))
		if got := s.members(t, alice, room, "?membership=leave"); !slices.Equal(got, []string{carol.ID, dave.ID}) {
			t.Errorf("members?membership=leave after the unban: got %v, want carol and dave", got)
		}
	})
}

// members returns the sorted user ids of GET /rooms/{room}/members with
// the query ("" or "?..."), as u sees them.
func (s *testServer) members(t *testing.T, u user, room, query string) []string {
	t.Helper()
	var body struct {
		Chunk []eventSummary `json:"chunk"`
	}
	s.getJSON(t, "GET", v3+"/rooms/"+url.PathEscape(room)+"/members"+query, u, nil, &body)
	var out []string
	for _, ev := range body.Chunk {
		out = append(out, *ev.StateKey)
	}
	slices.Sort(out)
	return out
}
