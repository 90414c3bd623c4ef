package clientapi_test

import (
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"
)

// TestAPI_Hierarchy: /hierarchy walks a space depth first, each room's
// children in the spec's order (order keys first, then by the child
// event's timestamp), shows a user only rooms it may see or join, and
// honours max_depth, suggested_only, limit and from.
func TestAPI_Hierarchy(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice password")
		bob := s.mustRegister(t, "bob", "bob password")
		public := func(typ string) string {
			body := map[string]any{"preset": "public_chat"}
			if typ != "" {
				body["creation_content"] = map[string]any{"type": typ}
			}
			return s.dirRoom(t, alice, body)
		}
		space := public("m.space")
		a, b, c, sub, e := public(""), public(""), public(""), public("m.space"), public("")
		private := s.dirRoom(t, alice, map[string]any{"preset": "private_chat"})
		knock := s.dirRoom(t, alice, map[string]any{"room_version": "10", "initial_state": []any{map[string]any{
			"type": "m.room.join_rules", "content": map[string]any{"join_rule": "knock"}}}})
		addChild := func(parent, child string, content map[string]any) {
			t.Helper()
			s.Clock.Advance(time.Second) // children without order go by their event's time
			content["via"] = []string{serverName}
			wantOK(t, s.do(t, "PUT", v3+"/rooms/"+url.PathEscape(parent)+"/state/m.space.child/"+url.PathEscape(child),
				alice.Token, content))
		}
		addChild(space, a, map[string]any{"order": "b"})
		addChild(space, b, map[string]any{"order": "a"})
		addChild(space, c, map[string]any{"suggested": true})
		addChild(space, sub, map[string]any{})
		addChild(space, private, map[string]any{})
		addChild(space, knock, map[string]any{"order": "\x01bad"}) // an invalid order counts as none
		addChild(sub, e, map[string]any{})
		names := map[string]string{space: "space", a: "a", b: "b", c: "c", sub: "sub", e: "e", private: "private", knock: "knock"}

		walk := func(u user, query string) (got []string, next string) {
			t.Helper()
			var body struct {
				Rooms []struct {
					RoomID        string `json:"room_id"`
					ChildrenState []struct {
						StateKey string `json:"state_key"`
						TS       int64  `json:"origin_server_ts"`
					} `json:"children_state"`
				} `json:"rooms"`
				NextBatch string `json:"next_batch"`
			}
			s.getJSON(t, "GET", v1+"/rooms/"+url.PathEscape(space)+"/hierarchy"+query, u, nil, &body)
			for _, r := range body.Rooms {
				got = append(got, names[r.RoomID])
				for _, cs := range r.ChildrenState {
					if cs.TS == 0 {
						t.Errorf("children_state of %s: %s without origin_server_ts", names[r.RoomID], names[cs.StateKey])
					}
				}
			}
			return got, body.NextBatch
		}
		for _, c := range []struct {
			who   user
			query string
			want  []string
		}{
			{alice, "", []string{"space", "b", "a", "c", "sub", "e", "private", "knock"}},
			{bob, "", []string{"space", "b", "a", "c", "sub", "e", "knock"}},
			{bob, "?max_depth=1", []string{"space", "b", "a", "c", "sub", "knock"}},
			{bob, "?max_depth=0", []string{"space"}},
			{bob, "?suggested_only=true", []string{"space", "c"}},
		} {
			if got, _ := walk(c.who, c.query); !slices.Equal(got, c.want) {
				t.Errorf("hierarchy%s for %s: got %v, want %v", c.query, c.who.ID, got, c.want)
			}
		}

		var paged []string
		next := ""
		for range 10 {
			query := "?limit=3&max_depth=5"
			if next != "" {
				query += "&from=" + url.QueryEscape(next)
			}
			page, n := walk(bob, query)
			paged = append(paged, page...)
			if next = n; next == "" {
				break
			}
		}
		if want := []string{"space", "b", "a", "c", "sub", "e", "knock"}; !slices.Equal(paged, want) {
			t.Errorf("hierarchy in pages of 3: got %v, want %v", paged, want)
		}

		t.Run("ErrFrom", func(t *testing.T) {
			_, next := walk(bob, "?limit=2")
			path := v1 + "/rooms/" + url.PathEscape(space) + "/hierarchy?limit=2&from="
			wantErr(t, s.do(t, "GET", path+url.QueryEscape(next)+"&max_depth=1", bob.Token, nil), http.StatusBadRequest, "M_INVALID_PARAM")
			wantErr(t, s.do(t, "GET", path+url.QueryEscape(next)+"&suggested_only=true", bob.Token, nil), http.StatusBadRequest, "M_INVALID_PARAM")
			for _, bad := range []string{"garbage", "h1", "h-1_-1_false", "h2_-1_false_x"} {
				wantErr(t, s.do(t, "GET", path+url.QueryEscape(bad), bob.Token, nil), http.StatusBadRequest, "M_INVALID_PARAM")
			}
		})
		t.Run("ErrPrivateSpace", func(t *testing.T) {
			wantErr(t, s.do(t, "GET", v1+"/rooms/"+url.PathEscape(private)+"/hierarchy", bob.Token, nil), http.StatusForbidden, "M_FORBIDDEN")
		})
	})
}
