package clientapi_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"testing"
)

func visibilityPath(roomID string) string {
	return v3 + "/directory/list/room/" + url.PathEscape(roomID)
}

// wantVisibility checks a room's directory visibility, read without a token.
func wantVisibility(t *testing.T, s *testServer, roomID, want string) {
	t.Helper()
	r := s.do(t, "GET", visibilityPath(roomID), "", nil)
	wantOK(t, r)
	if got := r.str("visibility"); got != want {
		t.Fatalf("visibility of %s: got %q, want %q", roomID, got, want)
	}
}

func TestAPI_DirectoryVisibility(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice password")
		bob := s.mustRegister(t, "bob", "bob password")
		listed := s.dirRoom(t, alice, map[string]any{"visibility": "public"})
		unlisted := s.dirRoom(t, alice, map[string]any{"preset": "public_chat"})
		s.dirJoin(t, bob, unlisted)
		t.Run("OKCreateRoom", func(t *testing.T) {
			wantVisibility(t, s, listed, "public")
			wantVisibility(t, s, unlisted, "private")
		})
		t.Run("OKPut", func(t *testing.T) {
			wantOK(t, s.do(t, "PUT", visibilityPath(unlisted), alice.Token, map[string]any{"visibility": "public"}))
			wantVisibility(t, s, unlisted, "public")
			wantOK(t, s.do(t, "PUT", visibilityPath(unlisted), alice.Token, map[string]any{"visibility": "private"}))
			wantVisibility(t, s, unlisted, "private")
			wantOK(t, s.do(t, "PUT", visibilityPath(unlisted), alice.Token, map[string]any{})) // public by default
			wantVisibility(t, s, unlisted, "public")
			wantOK(t, s.do(t, "PUT", visibilityPath(unlisted), alice.Token, map[string]any{"visibility": "private"}))
		})
		t.Run("ErrForbidden", func(t *testing.T) {
			// bob is joined with power level 0.
			r := s.do(t, "PUT", visibilityPath(unlisted), bob.Token, map[string]any{"visibility": "public"})
			wantErr(t, r, http.StatusForbidden, "M_FORBIDDEN")
			wantVisibility(t, s, unlisted, "private")
			r = s.do(t, "PUT", visibilityPath(listed), bob.Token, map[string]any{"visibility": "private"})
			wantErr(t, r, http.StatusForbidden, "M_FORBIDDEN")
			wantVisibility(t, s, listed, "public")
		})
		t.Run("ErrNotFound", func(t *testing.T) {
			unknown := visibilityPath("!unknown:" + serverName)
			wantErr(t, s.do(t, "GET", unknown, "", nil), http.StatusNotFound, "M_NOT_FOUND")
			wantErr(t, s.do(t, "PUT", unknown, alice.Token, map[string]any{"visibility": "public"}), http.StatusNotFound, "M_NOT_FOUND")
		})
		t.Run("ErrInvalidParam", func(t *testing.T) {
			r := s.do(t, "PUT", visibilityPath(listed), alice.Token, map[string]any{"visibility": "hidden"})
			wantErr(t, r, http.StatusBadRequest, "M_INVALID_PARAM")
			wantErr(t, s.do(t, "GET", visibilityPath("no-sigil"), "", nil), http.StatusBadRequest, "M_INVALID_PARAM")
			wantVisibility(t, s, listed, "public")
		})
		t.Run("ErrMissingToken", func(t *testing.T) {
			r := s.do(t, "PUT", visibilityPath(listed), "", map[string]any{"visibility": "private"})
			wantErr(t, r, http.StatusUnauthorized, "M_MISSING_TOKEN")
		})
	})
}

// publicRoomsPage is a decoded /publicRooms answer.
type publicRoomsPage struct {
	Chunk     []map[string]any `json:"chunk"`
	NextBatch *string          `json:"next_batch"`
	PrevBatch *string          `json:"prev_batch"`
	Total     int              `json:"total_room_count_estimate"`
}

func decodePage(t *testing.T, r response) publicRoomsPage {
	t.Helper()
	wantOK(t, r)
	var p publicRoomsPage
	if err := json.Unmarshal(r.Raw, &p); err != nil {
		t.Fatalf("%s: %v", r.Req, err)
	}
	return p
}

func (p publicRoomsPage) ids() []string {
	var out []string
	for _, room := range p.Chunk {
		out = append(out, room["room_id"].(string))
	}
	return out
}

func TestAPI_PublicRooms(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice password")
		bob := s.mustRegister(t, "bob", "bob password")
		carol := s.mustRegister(t, "carol", "carol password")
		roofing := s.dirRoom(t, alice, map[string]any{
			"visibility": "public", "name": "Roofing", "topic": "Tiles and DEADLINES", "room_alias_name": "roof",
		})
		space := s.dirRoom(t, alice, map[string]any{
			"visibility": "public", "name": "Site 7", "creation_content": map[string]any{"type": "m.space"},
		})
		open := s.dirRoom(t, alice, map[string]any{"visibility": "public", "preset": "public_chat", "initial_state": []any{
			map[string]any{"type": "m.room.history_visibility", "content": map[string]any{"history_visibility": "world_readable"}},
			map[string]any{"type": "m.room.guest_access", "content": map[string]any{"guest_access": "can_join"}},
			map[string]any{"type": "m.room.avatar", "content": map[string]any{"url": "mxc://test.local/abc"}},
		}})
		// Visibility public without a preset makes public_chat rooms.
		s.dirRoom(t, alice, map[string]any{"name": "Roof secrets", "preset": "public_chat"}) // not published
		for _, u := range []user{bob, carol} {
			s.dirJoin(t, u, open)
		}
		s.dirJoin(t, bob, roofing)

		t.Run("OK", func(t *testing.T) {
			p := decodePage(t, s.do(t, "GET", v3+"/publicRooms", "", nil))
			// 3 members, then 2, then 1.
			if want := []string{open, roofing, space}; !slices.Equal(p.ids(), want) {
				t.Fatalf("order: got %q, want %q", p.ids(), want)
			}
			if p.Total != 3 || p.NextBatch != nil || p.PrevBatch != nil {
				t.Errorf("got total %d, next %v, prev %v, want 3 and no tokens", p.Total, p.NextBatch, p.PrevBatch)
			}
			for i, want := range []map[string]any{
				{"room_id": open, "num_joined_members": 3.0, "world_readable": true, "guest_can_join": true,
					"join_rule": "public", "avatar_url": "mxc://test.local/abc"},
				{"room_id": roofing, "num_joined_members": 2.0, "world_readable": false, "guest_can_join": false,
					"join_rule": "public", "name": "Roofing", "topic": "Tiles and DEADLINES", "canonical_alias": "#roof:test.local"},
				{"room_id": space, "num_joined_members": 1.0, "world_readable": false, "guest_can_join": false,
					"join_rule": "public", "name": "Site 7", "room_type": "m.space"},
			} {
				if got := jsonString(t, p.Chunk[i]); got != jsonString(t, want) {
					t.Errorf("entry %d: got %s, want %s", i, got, jsonString(t, want))
				}
			}
		})
		t.Run("OKPaging", func(t *testing.T) {
			var seen []string
			since, pages := "", 0
			for {
				path := v3 + "/publicRooms?limit=2"
				if since != "" {
					path += "&since=" + url.QueryEscape(since)
				}
				p := decodePage(t, s.do(t, "GET", path, "", nil))
				pages++
				if len(p.Chunk) > 2 || (pages == 1) != (p.PrevBatch == nil) {
					t.Fatalf("page %d: got %d rooms, prev %v", pages, len(p.Chunk), p.PrevBatch)
				}
				seen = append(seen, p.ids()...)
				if p.NextBatch == nil {
					if pages > 1 {
						back := decodePage(t, s.do(t, "GET", v3+"/publicRooms?limit=2&since="+url.QueryEscape(*p.PrevBatch), "", nil))
						if want := []string{open, roofing}; !slices.Equal(back.ids(), want) {
							t.Errorf("prev_batch: got %q, want %q", back.ids(), want)
						}
					}
					break
				}
				since = *p.NextBatch
			}
			if want := []string{open, roofing, space}; pages != 2 || !slices.Equal(seen, want) {
				t.Errorf("got %d pages with %q, want 2 pages with %q", pages, seen, want)
			}
		})
		t.Run("OKFilter", func(t *testing.T) {
			for _, tc := range []struct {
				name   string
				filter map[string]any
				want   []string
			}{
				{"NameAnyCase", map[string]any{"generic_search_term": "rOOFing"}, []string{roofing}},
				{"Topic", map[string]any{"generic_search_term": "deadlines"}, []string{roofing}},
				{"Alias", map[string]any{"generic_search_term": "#roof:"}, []string{roofing}},
				{"Nothing", map[string]any{"generic_search_term": "plumbing"}, nil},
				{"Space", map[string]any{"room_types": []any{"m.space"}}, []string{space}},
				{"NoType", map[string]any{"room_types": []any{nil}}, []string{open, roofing}},
				{"Both", map[string]any{"room_types": []any{nil, "m.space"}, "generic_search_term": "site"}, []string{space}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					p := decodePage(t, s.do(t, "POST", v3+"/publicRooms", bob.Token, map[string]any{"filter": tc.filter}))
					if !slices.Equal(p.ids(), tc.want) || p.Total != len(tc.want) {
						t.Errorf("got %q (total %d), want %q", p.ids(), p.Total, tc.want)
					}
				})
			}
			p := decodePage(t, s.do(t, "POST", v3+"/publicRooms", bob.Token, map[string]any{
				"limit": 1, "filter": map[string]any{"room_types": []any{nil}},
			}))
			if !slices.Equal(p.ids(), []string{open}) || p.NextBatch == nil {
				t.Fatalf("filtered first page: got %q, next %v", p.ids(), p.NextBatch)
			}
			p = decodePage(t, s.do(t, "POST", v3+"/publicRooms", bob.Token, map[string]any{
				"limit": 1, "since": *p.NextBatch, "filter": map[string]any{"room_types": []any{nil}},
			}))
			if !slices.Equal(p.ids(), []string{roofing}) || p.NextBatch != nil {
				t.Errorf("filtered second page: got %q, next %v, want [%s] and no next", p.ids(), p.NextBatch, roofing)
			}
		})
		t.Run("OKThirdPartyNetwork", func(t *testing.T) {
			p := decodePage(t, s.do(t, "POST", v3+"/publicRooms", bob.Token, map[string]any{"third_party_instance_id": "irc"}))
			if len(p.Chunk) != 0 || p.Chunk == nil {
				t.Errorf("got %q, want an empty chunk", p.ids())
			}
		})
		t.Run("ErrMissingToken", func(t *testing.T) {
			wantErr(t, s.do(t, "POST", v3+"/publicRooms", "", map[string]any{}), http.StatusUnauthorized, "M_MISSING_TOKEN")
		})
		t.Run("ErrInvalidParam", func(t *testing.T) {
			for _, query := range []string{"?since=garbage", "?since=d-1", "?limit=many", "?limit=-1"} {
				wantErr(t, s.do(t, "GET", v3+"/publicRooms"+query, "", nil), http.StatusBadRequest, "M_INVALID_PARAM")
			}
		})
		t.Run("ErrBadJSON", func(t *testing.T) {
			r := s.do(t, "POST", v3+"/publicRooms", bob.Token, map[string]any{"filter": map[string]any{"room_types": "m.space"}})
			wantErr(t, r, http.StatusBadRequest, "M_BAD_JSON")
		})
		t.Run("ErrOtherServer", func(t *testing.T) {
			wantErr(t, s.do(t, "GET", v3+"/publicRooms?server=other.example", "", nil), http.StatusNotFound, "M_NOT_FOUND")
		})
	})
}
