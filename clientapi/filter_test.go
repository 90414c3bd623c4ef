package clientapi_test

import (
	"encoding/json"
	"net/http"
	"testing"
)

// TestFilter checks uploading and reading filters.
func TestFilter(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice-password")
		bob := s.mustRegister(t, "bob", "bob-password")
		filters := func(u user) string { return v3 + "/user/" + u.ID + "/filter" }
		const filter = `{"event_fields":["type","content.body"],"event_format":"client",` +
			`"presence":{"types":["m.presence"],"limit":5},` +
			`"room":{"rooms":["!a:test.local"],"timeline":{"limit":10,"not_types":["m.room.member"]}}}`

		var id string
		t.Run("RoundTrip", func(t *testing.T) {
			r := s.do(t, "POST", filters(alice), alice.Token, rawBody(filter))
			wantOK(t, r)
			id = r.str("filter_id")
			if id == "" || id[0] == '{' {
				t.Fatalf("got %s, want a filter id", r.Raw)
			}
			r = s.do(t, "GET", filters(alice)+"/"+id, alice.Token, nil)
			wantOK(t, r)
			if got := jsonString(t, r.Body); got != jsonString(t, mustDecode(t, filter)) {
				t.Fatalf("got %s, want %s", got, filter)
			}
			r = s.do(t, "POST", filters(alice), alice.Token, map[string]any{})
			wantOK(t, r)
			if r.str("filter_id") == id {
				t.Fatalf("got filter id %s twice", id)
			}
		})
		t.Run("Invalid", func(t *testing.T) {
			for _, body := range []string{
				`{"room":{"timeline":{"limit":-1}}}`,
				`{"presence":{"limit":-1}}`,
				`{"event_format":"x"}`,
				`{"room":{"timeline":{"types":"m.room.message"}}}`,
				`{"room":{"rooms":"!a:test.local"}}`,
				`{"event_fields":"type"}`,
				`{"event_fields":[""]}`,
				`{"room":{"timeline":{"limit":"10"}}}`,
				`{"room":{"timeline":{"limit":1.5}}}`,
				`{"room":{"include_leave":"yes"}}`,
				`[]`,
			} {
				r := s.do(t, "POST", filters(alice), alice.Token, rawBody(body))
				wantErr(t, r, http.StatusBadRequest, "M_BAD_JSON")
			}
		})
		t.Run("Unknown", func(t *testing.T) {
			for _, fid := range []string{"999999", "abc", "-1", "1.0"} {
				wantErr(t, s.do(t, "GET", filters(alice)+"/"+fid, alice.Token, nil), http.StatusNotFound, "M_NOT_FOUND")
			}
		})
		t.Run("OtherUser", func(t *testing.T) {
			wantErr(t, s.do(t, "GET", filters(alice)+"/"+id, bob.Token, nil), http.StatusForbidden, "M_FORBIDDEN")
			wantErr(t, s.do(t, "GET", filters(bob)+"/"+id, bob.Token, nil), http.StatusNotFound, "M_NOT_FOUND")
			r := s.do(t, "POST", filters(alice), bob.Token, map[string]any{})
			wantErr(t, r, http.StatusForbidden, "M_FORBIDDEN")
		})
	})
}

// mustDecode parses a JSON object.
func mustDecode(t *testing.T, s string) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return v
}
