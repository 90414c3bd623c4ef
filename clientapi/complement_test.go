package clientapi_test

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"testing"

	"github.com/ganglion/ganglion/config"
)

// Behaviours the Complement suite checks (tests/csapi) that the other tests
// do not cover.

func TestAPI_RegisterLowercase(t *testing.T) {
	eachServer(t, func(cfg *config.Config) { cfg.Registration.SharedSecret = "complement" }, func(t *testing.T, s *testServer) {
		t.Run("OK", func(t *testing.T) {
			r := s.register(t, "user-UPPER", "sUp3rs3kr1t")
			wantOK(t, r)
			if got, want := r.str("user_id"), userID("user-upper"); got != want {
				t.Errorf("got user_id %q, want %q", got, want)
			}
		})
		t.Run("SharedSecret", func(t *testing.T) {
			nonce := s.do(t, "GET", "/_synapse/admin/v1/register", "", nil)
			wantOK(t, nonce)
			mac := hmac.New(sha1.New, []byte("complement"))
			mac.Write([]byte(nonce.str("nonce") + "\x00Shared-UPPER\x00sUp3rs3kr1t\x00notadmin"))
			r := s.do(t, "POST", "/_synapse/admin/v1/register", "", map[string]any{
				"nonce": nonce.str("nonce"), "username": "Shared-UPPER", "password": "sUp3rs3kr1t",
				"mac": hex.EncodeToString(mac.Sum(nil)),
			})
			wantOK(t, r)
			if got, want := r.str("user_id"), userID("shared-upper"); got != want {
				t.Errorf("got user_id %q, want %q", got, want)
			}
		})
	})
}

func TestAPI_CapabilitiesRoomVersions(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		u := s.mustRegister(t, "alice", "sUp3rs3kr1t")
		r := s.do(t, "GET", v3+"/capabilities", u.Token, nil)
		wantOK(t, r)
		caps, _ := r.Body["capabilities"].(map[string]any)
		versions, _ := caps["m.room_versions"].(map[string]any)
		available, _ := versions["available"].(map[string]any)
		if versions["default"] != "10" || available["10"] != "stable" {
			t.Errorf("got m.room_versions %v, want default 10 and 10 stable", versions)
		}
	})
}

func TestAPI_FilterInvalidIDs(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		u := s.mustRegister(t, "alice", "sUp3rs3kr1t")
		for _, f := range []map[string]any{
			{"room": map[string]any{"timeline": map[string]any{"rooms": []string{"not_a_room_id"}}}},
			{"room": map[string]any{"timeline": map[string]any{"senders": []string{"not_a_sender_id"}}}},
		} {
			r := s.do(t, "POST", v3+"/user/"+u.ID+"/filter", u.Token, f)
			wantErr(t, r, 400, "M_BAD_JSON")
		}
	})
}
