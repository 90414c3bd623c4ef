package clientapi_test

import (
	"net/http"
	"net/url"
	"testing"
)

// TestAPI_KnockRestricted: in a room whose join rule is knock_restricted,
// a member of the allowed room joins directly (authorised by a local
// member), anyone else may knock but not join.
func TestAPI_KnockRestricted(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice password")
		bob := s.mustRegister(t, "bob", "bob password")
		carol := s.mustRegister(t, "carol", "carol password")
		space := s.dirRoom(t, alice, map[string]any{"preset": "public_chat", "creation_content": map[string]any{"type": "m.space"}})
		room := s.dirRoom(t, alice, map[string]any{"room_version": "10", "initial_state": []any{map[string]any{
			"type": "m.room.join_rules", "content": map[string]any{"join_rule": "knock_restricted",
				"allow": []any{map[string]any{"type": "m.room_membership", "room_id": space}}},
		}}})
		s.dirJoin(t, bob, space)
		path := v3 + "/rooms/" + url.PathEscape(room)

		t.Run("ErrJoinOutsideTheSpace", func(t *testing.T) {
			wantErr(t, s.do(t, "POST", path+"/join", carol.Token, map[string]any{}), http.StatusForbidden, "M_FORBIDDEN")
		})
		t.Run("OKKnock", func(t *testing.T) {
			wantOK(t, s.do(t, "POST", v3+"/knock/"+url.PathEscape(room), carol.Token, map[string]any{"reason": "let me in"}))
			var member map[string]any
			s.getJSON(t, "GET", path+"/state/m.room.member/"+url.PathEscape(carol.ID), alice, nil, &member)
			if member["membership"] != "knock" || member["reason"] != "let me in" {
				t.Errorf("carol's membership: got %v, want a knock with her reason", member)
			}
		})
		t.Run("OKJoinThroughTheSpace", func(t *testing.T) {
			wantOK(t, s.do(t, "POST", path+"/join", bob.Token, map[string]any{}))
			var member map[string]any
			s.getJSON(t, "GET", path+"/state/m.room.member/"+url.PathEscape(bob.ID), alice, nil, &member)
			if member["membership"] != "join" || member["join_authorised_via_users_server"] != alice.ID {
				t.Errorf("bob's join: got %v, want a join authorised by alice", member)
			}
		})
	})
}
