package clientapi_test

import (
	"encoding/json"
	"net/url"
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
