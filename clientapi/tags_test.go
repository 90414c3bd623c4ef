package clientapi_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestAPI_Tags(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice password")
		bob := s.mustRegister(t, "bob", "bob password")
		room := "!any:" + serverName // tags need no room the server knows
		tags := v3 + "/user/" + url.PathEscape(alice.ID) + "/rooms/" + url.PathEscape(room) + "/tags"
		// stored is the m.tag account data as sync delivers it.
		stored := func() string {
			t.Helper()
			data, err := s.DB.AccountDataSince(t.Context(), alice.Localpart, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range data {
				if d.RoomID == room && d.Type == "m.tag" {
					return string(d.Content)
				}
			}
			return ""
		}
		wantTags := func(want string) {
			t.Helper()
			r := s.do(t, "GET", tags, alice.Token, nil)
			wantOK(t, r)
			if string(r.Raw) != want {
				t.Fatalf("tags: got %s, want %s", r.Raw, want)
			}
		}
		t.Run("OKNone", func(t *testing.T) {
			wantTags(`{"tags":{}}`)
		})
		t.Run("OK", func(t *testing.T) {
			wantOK(t, s.do(t, "PUT", tags+"/u.work", alice.Token, map[string]any{"order": 0.25}))
			wantOK(t, s.do(t, "PUT", tags+"/m.favourite", alice.Token, map[string]any{}))
			wantOK(t, s.do(t, "PUT", tags+"/"+url.PathEscape("u.Kunden ✓"), alice.Token, map[string]any{"order": 1}))
			want := `{"tags":{"m.favourite":{},"u.Kunden ✓":{"order":1},"u.work":{"order":0.25}}}`
			wantTags(want)
			if got := stored(); got != want {
				t.Errorf("account data m.tag: got %s, want %s", got, want)
			}
			wantOK(t, s.do(t, "PUT", tags+"/u.work", alice.Token, map[string]any{"order": 0.75}))
			wantOK(t, s.do(t, "DELETE", tags+"/m.favourite", alice.Token, nil))
			wantTags(`{"tags":{"u.Kunden ✓":{"order":1},"u.work":{"order":0.75}}}`)
		})
		t.Run("OKDeleteMissingChangesNothing", func(t *testing.T) {
			before, err := s.DB.AccountDataSince(t.Context(), alice.Localpart, 0)
			if err != nil {
				t.Fatal(err)
			}
			wantOK(t, s.do(t, "DELETE", tags+"/u.never", alice.Token, nil))
			after, err := s.DB.AccountDataSince(t.Context(), alice.Localpart, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(after) != len(before) || after[len(after)-1].StreamPos != before[len(before)-1].StreamPos {
				t.Errorf("account data changed: got %+v, want %+v", after, before)
			}
		})
		t.Run("OKKeepsOtherKeys", func(t *testing.T) {
			other := "!other:" + serverName
			path := v3 + "/user/" + url.PathEscape(alice.ID) + "/rooms/" + url.PathEscape(other)
			wantOK(t, s.do(t, "PUT", path+"/account_data/m.tag", alice.Token, map[string]any{"tags": map[string]any{"a": map[string]any{}}, "x": 1}))
			wantOK(t, s.do(t, "PUT", path+"/tags/b", alice.Token, map[string]any{}))
			r := s.do(t, "GET", path+"/account_data/m.tag", alice.Token, nil)
			if want := `{"tags":{"a":{},"b":{}},"x":1}`; string(r.Raw) != want {
				t.Errorf("got %s, want %s", r.Raw, want)
			}
		})
		t.Run("ErrForbidden", func(t *testing.T) {
			wantErr(t, s.do(t, "GET", tags, bob.Token, nil), http.StatusForbidden, "M_FORBIDDEN")
			wantErr(t, s.do(t, "PUT", tags+"/u.bob", bob.Token, map[string]any{}), http.StatusForbidden, "M_FORBIDDEN")
			wantErr(t, s.do(t, "DELETE", tags+"/u.work", bob.Token, nil), http.StatusForbidden, "M_FORBIDDEN")
			wantTags(`{"tags":{"u.Kunden ✓":{"order":1},"u.work":{"order":0.75}}}`)
		})
		t.Run("ErrBadJSON", func(t *testing.T) {
			for _, body := range []any{map[string]any{"order": "first"}, rawBody(`[1]`), rawBody(`"x"`)} {
				wantErr(t, s.do(t, "PUT", tags+"/u.bad", alice.Token, body), http.StatusBadRequest, "M_BAD_JSON")
			}
			wantTags(`{"tags":{"u.Kunden ✓":{"order":1},"u.work":{"order":0.75}}}`)
		})
		t.Run("ErrInvalidParam", func(t *testing.T) {
			r := s.do(t, "PUT", tags+"/"+strings.Repeat("t", 256), alice.Token, map[string]any{})
			wantErr(t, r, http.StatusBadRequest, "M_INVALID_PARAM")
			bad := v3 + "/user/" + url.PathEscape(alice.ID) + "/rooms/no-sigil/tags"
			wantErr(t, s.do(t, "GET", bad, alice.Token, nil), http.StatusBadRequest, "M_INVALID_PARAM")
		})
		t.Run("ErrMissingToken", func(t *testing.T) {
			wantErr(t, s.do(t, "GET", tags, "", nil), http.StatusUnauthorized, "M_MISSING_TOKEN")
		})
	})
}
