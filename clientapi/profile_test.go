package clientapi_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestProfile checks setting and reading display names and avatars, and
// the refusals around them.
func TestProfile(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice-password")
		bob := s.mustRegister(t, "bob", "bob-password")
		field := func(u user, name string) string { return v3 + "/profile/" + u.ID + "/" + name }
		wantProfile := func(t *testing.T, u user, want map[string]any) {
			t.Helper()
			r := s.do(t, "GET", v3+"/profile/"+u.ID, "", nil)
			wantOK(t, r)
			if len(r.Body) != len(want) {
				t.Fatalf("profile of %s: got %s, want %v", u.ID, r.Raw, want)
			}
			for k, v := range want {
				if r.Body[k] != v {
					t.Fatalf("profile of %s: got %s, want %v", u.ID, r.Raw, want)
				}
			}
		}
		t.Run("Empty", func(t *testing.T) {
			wantProfile(t, alice, map[string]any{})
			wantErr(t, s.do(t, "GET", field(alice, "displayname"), "", nil), http.StatusNotFound, "M_NOT_FOUND")
			wantErr(t, s.do(t, "GET", field(alice, "avatar_url"), "", nil), http.StatusNotFound, "M_NOT_FOUND")
		})
		t.Run("Set", func(t *testing.T) {
			wantOK(t, s.do(t, "PUT", field(alice, "displayname"), alice.Token, map[string]any{"displayname": "Alice 🐇"}))
			wantOK(t, s.do(t, "PUT", field(alice, "avatar_url"), alice.Token, map[string]any{"avatar_url": "mxc://test.local/abc"}))
			wantProfile(t, alice, map[string]any{"displayname": "Alice 🐇", "avatar_url": "mxc://test.local/abc"})
			r := s.do(t, "GET", field(alice, "displayname"), "", nil)
			wantOK(t, r)
			if len(r.Body) != 1 || r.Body["displayname"] != "Alice 🐇" {
				t.Fatalf("got %s, want only the display name", r.Raw)
			}
			r = s.do(t, "GET", field(alice, "avatar_url"), bob.Token, nil)
			wantOK(t, r)
			if len(r.Body) != 1 || r.Body["avatar_url"] != "mxc://test.local/abc" {
				t.Fatalf("got %s, want only the avatar", r.Raw)
			}
		})
		unchanged := map[string]any{"displayname": "Alice 🐇", "avatar_url": "mxc://test.local/abc"}
		t.Run("BadValues", func(t *testing.T) {
			for _, c := range []struct {
				field   string
				body    any
				errcode string
			}{
				{"avatar_url", map[string]any{"avatar_url": "https://example.org/a.png"}, "M_INVALID_PARAM"},
				{"avatar_url", map[string]any{"avatar_url": "javascript:alert(1)"}, "M_INVALID_PARAM"},
				{"avatar_url", map[string]any{"avatar_url": 5}, "M_BAD_JSON"},
				{"displayname", map[string]any{"displayname": true}, "M_BAD_JSON"},
				{"displayname", map[string]any{"displayname": []string{"Alice"}}, "M_BAD_JSON"},
				{"displayname", map[string]any{"displayname": strings.Repeat("a", 257)}, "M_INVALID_PARAM"},
				{"displayname", map[string]any{"avatar_url": "mxc://test.local/abc"}, "M_MISSING_PARAM"},
				{"displayname", map[string]any{}, "M_MISSING_PARAM"},
			} {
				wantErr(t, s.do(t, "PUT", field(alice, c.field), alice.Token, c.body), http.StatusBadRequest, c.errcode)
			}
			wantProfile(t, alice, unchanged)
		})
		t.Run("OtherUser", func(t *testing.T) {
			for _, f := range []string{"displayname", "avatar_url"} {
				value := map[string]any{"displayname": "Mallory", "avatar_url": "mxc://evil.example/x"}
				wantErr(t, s.do(t, "PUT", field(alice, f), bob.Token, value), http.StatusForbidden, "M_FORBIDDEN")
			}
			wantProfile(t, alice, unchanged)
			wantProfile(t, bob, map[string]any{})
		})
		t.Run("NeedsAuth", func(t *testing.T) {
			r := s.do(t, "PUT", field(alice, "displayname"), "", map[string]any{"displayname": "Mallory"})
			wantErr(t, r, http.StatusUnauthorized, "M_MISSING_TOKEN")
			r = s.do(t, "PUT", field(alice, "displayname"), "gla_unknown", map[string]any{"displayname": "Mallory"})
			wantSoftLogout(t, r, false)
			wantProfile(t, alice, unchanged)
		})
		t.Run("UnknownUser", func(t *testing.T) {
			for _, id := range []string{
				"@nobody:" + serverName, "@alice:elsewhere.example", "alice", "@:" + serverName,
			} {
				wantErr(t, s.do(t, "GET", v3+"/profile/"+id, "", nil), http.StatusNotFound, "M_NOT_FOUND")
				wantErr(t, s.do(t, "GET", v3+"/profile/"+id+"/displayname", "", nil), http.StatusNotFound, "M_NOT_FOUND")
			}
		})
	})
}
