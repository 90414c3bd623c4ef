package clientapi_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestAccountData checks global and per-room account data and the
// refusals around them.
func TestAccountData(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice-password")
		bob := s.mustRegister(t, "bob", "bob-password")
		const room = "!room:test.local"
		global := func(u user, typ string) string { return v3 + "/user/" + u.ID + "/account_data/" + typ }
		perRoom := func(u user, roomID, typ string) string {
			return v3 + "/user/" + u.ID + "/rooms/" + url.PathEscape(roomID) + "/account_data/" + typ
		}
		wantContent := func(t *testing.T, path, token, want string) {
			t.Helper()
			r := s.do(t, "GET", path, token, nil)
			wantOK(t, r)
			if got := jsonString(t, r.Body); got != want {
				t.Fatalf("%s: got %s, want %s", r.Req, got, want)
			}
		}
		t.Run("RoundTrip", func(t *testing.T) {
			wantOK(t, s.do(t, "PUT", global(alice, "org.example.settings"), alice.Token, map[string]any{"theme": "dark"}))
			wantOK(t, s.do(t, "PUT", perRoom(alice, room, "org.example.settings"), alice.Token, map[string]any{"theme": "light"}))
			wantContent(t, global(alice, "org.example.settings"), alice.Token, `{"theme":"dark"}`)
			wantContent(t, perRoom(alice, room, "org.example.settings"), alice.Token, `{"theme":"light"}`)
			// Replacing is whole: no merge.
			wantOK(t, s.do(t, "PUT", global(alice, "org.example.settings"), alice.Token, map[string]any{"font": "large"}))
			wantContent(t, global(alice, "org.example.settings"), alice.Token, `{"font":"large"}`)
			wantContent(t, perRoom(alice, room, "org.example.settings"), alice.Token, `{"theme":"light"}`)
			// m.fully_read is only server-controlled per room, and
			// m.push_rules only globally.
			wantOK(t, s.do(t, "PUT", global(alice, "m.fully_read"), alice.Token, map[string]any{"x": 1}))
			wantOK(t, s.do(t, "PUT", perRoom(alice, room, "m.push_rules"), alice.Token, map[string]any{"x": 1}))
		})
		t.Run("Missing", func(t *testing.T) {
			for _, path := range []string{
				global(alice, "org.example.none"),
				perRoom(alice, room, "org.example.none"),
				perRoom(alice, "!other:test.local", "org.example.settings"),
				global(bob, "org.example.settings"),
			} {
				token := alice.Token
				if strings.Contains(path, bob.ID) {
					token = bob.Token
				}
				wantErr(t, s.do(t, "GET", path, token, nil), http.StatusNotFound, "M_NOT_FOUND")
			}
		})
		t.Run("OtherUser", func(t *testing.T) {
			for _, path := range []string{global(alice, "org.example.settings"), perRoom(alice, room, "org.example.settings")} {
				wantErr(t, s.do(t, "GET", path, bob.Token, nil), http.StatusForbidden, "M_FORBIDDEN")
				wantErr(t, s.do(t, "PUT", path, bob.Token, map[string]any{"evil": true}), http.StatusForbidden, "M_FORBIDDEN")
			}
			wantContent(t, global(alice, "org.example.settings"), alice.Token, `{"font":"large"}`)
			wantContent(t, perRoom(alice, room, "org.example.settings"), alice.Token, `{"theme":"light"}`)
			wantErr(t, s.do(t, "GET", global(bob, "org.example.settings"), bob.Token, nil), http.StatusNotFound, "M_NOT_FOUND")
		})
		t.Run("ServerControlled", func(t *testing.T) {
			for _, path := range []string{perRoom(alice, room, "m.fully_read"), global(alice, "m.push_rules")} {
				r := s.do(t, "PUT", path, alice.Token, map[string]any{"event_id": "$x"})
				wantErr(t, r, http.StatusMethodNotAllowed, "M_BAD_JSON")
				wantErr(t, s.do(t, "GET", path, alice.Token, nil), http.StatusNotFound, "M_NOT_FOUND")
			}
		})
		t.Run("NotAnObject", func(t *testing.T) {
			for _, body := range []string{`[]`, `["a"]`, `"text"`, `5`, `true`, `null`} {
				for _, path := range []string{global(alice, "org.example.settings"), perRoom(alice, room, "org.example.settings")} {
					wantErr(t, s.do(t, "PUT", path, alice.Token, rawBody(body)), http.StatusBadRequest, "M_BAD_JSON")
				}
			}
			wantContent(t, global(alice, "org.example.settings"), alice.Token, `{"font":"large"}`)
			wantContent(t, perRoom(alice, room, "org.example.settings"), alice.Token, `{"theme":"light"}`)
		})
		t.Run("InvalidRoomID", func(t *testing.T) {
			for _, roomID := range []string{"room:test.local", "#alias:test.local", "@alice:test.local", "!" + strings.Repeat("r", 255)} {
				path := perRoom(alice, roomID, "org.example.settings")
				wantErr(t, s.do(t, "PUT", path, alice.Token, map[string]any{"a": 1}), http.StatusBadRequest, "M_INVALID_PARAM")
				wantErr(t, s.do(t, "GET", path, alice.Token, nil), http.StatusBadRequest, "M_INVALID_PARAM")
			}
		})
		t.Run("InvalidType", func(t *testing.T) {
			path := global(alice, strings.Repeat("t", 256))
			wantErr(t, s.do(t, "PUT", path, alice.Token, map[string]any{"a": 1}), http.StatusBadRequest, "M_INVALID_PARAM")
		})
	})
}
