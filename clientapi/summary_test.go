package clientapi_test

import (
	"net/http"
	"net/url"
	"testing"
)

// TestRoomSummary: public rooms are summarised for anyone, private ones
// only for their members.
func TestRoomSummary(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice password")
		bob := s.mustRegister(t, "bob", "bob password")
		pub := s.do(t, "POST", v3+"/createRoom", alice.Token, map[string]any{"preset": "public_chat", "name": "Lobby", "room_version": "11"})
		wantOK(t, pub)
		priv := s.do(t, "POST", v3+"/createRoom", alice.Token, map[string]any{"preset": "private_chat", "name": "Board"})
		wantOK(t, priv)
		summary := func(roomID, token string) response {
			return s.do(t, "GET", "/_matrix/client/v1/room_summary/"+url.PathEscape(roomID), token, nil)
		}
		r := summary(pub.str("room_id"), "")
		wantOK(t, r)
		if r.str("name") != "Lobby" || r.str("join_rule") != "public" || r.str("room_version") != "11" ||
			r.Body["num_joined_members"] != float64(1) || r.Body["membership"] != nil {
			t.Errorf("public summary without a token: got %s", r.Raw)
		}
		if r := summary(pub.str("room_id"), alice.Token); r.str("membership") != "join" {
			t.Errorf("alice's summary: got membership %q, want join", r.str("membership"))
		}
		wantErr(t, summary(priv.str("room_id"), bob.Token), http.StatusNotFound, "M_NOT_FOUND")
		wantErr(t, summary(priv.str("room_id"), ""), http.StatusNotFound, "M_NOT_FOUND")
		if r := summary(priv.str("room_id"), alice.Token); r.str("name") != "Board" {
			t.Errorf("private summary for its member: got %s", r.Raw)
		}
		wantErr(t, summary("!unknown:test.local", ""), http.StatusNotFound, "M_NOT_FOUND")
	})
}
