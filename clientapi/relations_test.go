package clientapi_test

import (
	"encoding/json"
	"net/url"
	"slices"
	"testing"
)

// TestAPI_RelationsVisibility: /relations judges each relating event by
// the state when it was sent: bob, who has left, still sees the reply sent
// while he was joined (with his membership then, "join"), and not the one
// sent after he left.
func TestAPI_RelationsVisibility(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice password")
		bob := s.mustRegister(t, "bob", "bob password")
		room := s.dirRoom(t, alice, map[string]any{"preset": "public_chat"})
		roomPath := "/rooms/" + url.PathEscape(room)
		s.dirJoin(t, bob, room)
		root := s.pushSend(t, alice, room, map[string]any{"body": "root"})
		reference := map[string]any{"rel_type": "m.reference", "event_id": root}
		seen := s.pushSend(t, alice, room, map[string]any{"body": "while bob is here", "m.relates_to": reference})
		wantOK(t, s.do(t, "POST", v3+roomPath+"/leave", bob.Token, map[string]any{}))
		s.pushSend(t, alice, room, map[string]any{"body": "after bob left", "m.relates_to": reference})

		var page struct {
			Chunk []unsignedEvent `json:"chunk"`
		}
		r := s.do(t, "GET", v1+roomPath+"/relations/"+url.PathEscape(root), bob.Token, nil)
		wantOK(t, r)
		if err := json.Unmarshal(r.Raw, &page); err != nil {
			t.Fatal(err)
		}
		if len(page.Chunk) != 1 || page.Chunk[0].EventID != seen {
			t.Fatalf("bob's /relations: got %s, want only the reply sent while he was joined", r.Raw)
		}
		if got := page.Chunk[0].membership(); got != "join" {
			t.Errorf("bob's /relations: got unsigned.membership %s, want join", got)
		}
	})
}

// TestAPI_RelationsRecurse: /relations gives direct relations only, unless
// recurse=true asks for relations of relations too, with recursion_depth
// present exactly then; the rel_type filter holds at every level.
func TestAPI_RelationsRecurse(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice password")
		room := s.dirRoom(t, alice, map[string]any{"preset": "public_chat"})
		rel := func(typ, to string) map[string]any { return map[string]any{"rel_type": typ, "event_id": to} }
		root := s.pushSend(t, alice, room, map[string]any{"body": "root"})
		reply := s.pushSend(t, alice, room, map[string]any{"body": "reply", "m.relates_to": rel("m.reference", root)})
		middle := s.mustSync(t, alice, "").NextBatch
		nested := s.pushSend(t, alice, room, map[string]any{"body": "nested", "m.relates_to": rel("m.reference", reply)})
		edit := s.pushSend(t, alice, room, map[string]any{"body": "* nested", "m.new_content": map[string]any{"body": "nested"},
			"m.relates_to": rel("m.replace", nested)})

		get := func(path string) (ids []string, depth any) {
			t.Helper()
			var page struct {
				Chunk []struct {
					EventID string `json:"event_id"`
				} `json:"chunk"`
				Depth *int `json:"recursion_depth"`
			}
			s.getJSON(t, "GET", v1+"/rooms/"+url.PathEscape(room)+"/relations/"+url.PathEscape(root)+path, alice, nil, &page)
			for _, ev := range page.Chunk {
				ids = append(ids, ev.EventID)
			}
			if page.Depth != nil {
				return ids, *page.Depth
			}
			return ids, nil
		}
		for _, c := range []struct {
			path      string
			want      []string
			wantDepth bool
		}{
			{"", []string{reply}, false},
			{"?recurse=false", []string{reply}, false},
			{"?recurse=true", []string{edit, nested, reply}, true},
			{"/m.reference?recurse=true", []string{nested, reply}, true},
			{"?recurse=true&to=" + url.QueryEscape(middle), []string{edit, nested}, true},
			{"?recurse=true&dir=f&to=" + url.QueryEscape(middle), []string{reply}, true},
		} {
			ids, depth := get(c.path)
			if !slices.Equal(ids, c.want) || (depth != nil) != c.wantDepth {
				t.Errorf("relations%s: got %v with recursion_depth %v, want %v (depth given: %v)", c.path, ids, depth, c.want, c.wantDepth)
			}
		}
	})
}
