package clientapi_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/ganglion/ganglion/config"
)

func presencePath(userID string) string {
	return v3 + "/presence/" + url.PathEscape(userID) + "/status"
}

// syncPresence returns the m.presence contents of a sync response by
// sender.
func (s *testServer) syncPresence(t *testing.T, u user, query string) (map[string]map[string]any, string) {
	t.Helper()
	r := s.do(t, "GET", v3+"/sync?timeout=0"+query, u.Token, nil)
	wantOK(t, r)
	var body struct {
		NextBatch string `json:"next_batch"`
		Presence  struct {
			Events []struct {
				Type    string         `json:"type"`
				Sender  string         `json:"sender"`
				Content map[string]any `json:"content"`
			} `json:"events"`
		} `json:"presence"`
	}
	if err := json.Unmarshal(r.Raw, &body); err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]any{}
	for _, ev := range body.Presence.Events {
		if ev.Type != "m.presence" {
			t.Errorf("presence event of type %q", ev.Type)
		}
		out[ev.Sender] = ev.Content
	}
	return out, body.NextBatch
}

func TestAPI_Presence(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice password")
		bob := s.mustRegister(t, "bob", "bob password")
		carol := s.mustRegister(t, "carol", "carol password")
		room := s.dirRoom(t, alice, map[string]any{"preset": "public_chat"})
		s.dirJoin(t, bob, room)
		t.Run("ErrPut", func(t *testing.T) {
			wantErr(t, s.do(t, "PUT", presencePath(bob.ID), alice.Token, map[string]any{"presence": "online"}),
				http.StatusForbidden, "M_FORBIDDEN")
			wantErr(t, s.do(t, "PUT", presencePath(alice.ID), alice.Token, map[string]any{"presence": "away"}),
				http.StatusBadRequest, "M_INVALID_PARAM")
			wantErr(t, s.do(t, "PUT", presencePath(alice.ID), alice.Token, map[string]any{"status_msg": "x"}),
				http.StatusBadRequest, "M_MISSING_PARAM")
			wantErr(t, s.do(t, "GET", v3+"/sync?set_presence=busy", alice.Token, nil), http.StatusBadRequest, "M_INVALID_PARAM")
		})
		t.Run("OKPutAndGet", func(t *testing.T) {
			wantOK(t, s.do(t, "PUT", presencePath(alice.ID), alice.Token, map[string]any{"presence": "unavailable", "status_msg": "on a call"}))
			r := s.do(t, "GET", presencePath(alice.ID), bob.Token, nil)
			wantOK(t, r)
			if r.str("presence") != "unavailable" || r.str("status_msg") != "on a call" || r.Body["last_active_ago"] == nil {
				t.Errorf("bob gets %s, want unavailable with the status message and last_active_ago", r.Raw)
			}
		})
		t.Run("ErrForbiddenNoSharedRoom", func(t *testing.T) {
			wantErr(t, s.do(t, "GET", presencePath(alice.ID), carol.Token, nil), http.StatusForbidden, "M_FORBIDDEN")
			wantErr(t, s.do(t, "GET", presencePath("not-a-user"), carol.Token, nil), http.StatusBadRequest, "M_INVALID_PARAM")
		})
		t.Run("OKSync", func(t *testing.T) {
			seen, next := s.syncPresence(t, bob, "&set_presence=offline")
			if seen[alice.ID]["presence"] != "unavailable" || seen[alice.ID]["status_msg"] != "on a call" {
				t.Errorf("bob's initial sync: got %v, want alice unavailable", seen[alice.ID])
			}
			if _, ok := seen[bob.ID]; ok {
				t.Errorf("bob synced with set_presence=offline but has presence %v", seen[bob.ID])
			}
			if seen, _ := s.syncPresence(t, carol, ""); seen[alice.ID] != nil {
				t.Errorf("carol, who shares no room with alice, sees %v", seen[alice.ID])
			}
			s.syncPresence(t, alice, "") // a sync marks alice online
			seen, _ = s.syncPresence(t, bob, "&set_presence=offline&since="+url.QueryEscape(next))
			if seen[alice.ID]["presence"] != "online" || seen[alice.ID]["currently_active"] != true {
				t.Errorf("after alice synced: bob gets %v, want online and currently active", seen[alice.ID])
			}
		})
		t.Run("OKNewRoommate", func(t *testing.T) {
			_, next := s.syncPresence(t, alice, "")
			s.dirJoin(t, carol, room) // carol went online (her sync) before alice's token
			seen, _ := s.syncPresence(t, alice, "&since="+url.QueryEscape(next))
			if seen[carol.ID]["presence"] != "online" {
				t.Errorf("alice after carol joined: got %v, want carol online", seen[carol.ID])
			}
		})
	})
}

func TestAPI_PresenceDisabled(t *testing.T) {
	eachServer(t, func(cfg *config.Config) { cfg.Presence.Enabled = false }, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice password")
		bob := s.mustRegister(t, "bob", "bob password")
		room := s.dirRoom(t, alice, map[string]any{"preset": "public_chat"})
		s.dirJoin(t, bob, room)
		wantOK(t, s.do(t, "PUT", presencePath(alice.ID), alice.Token, map[string]any{"presence": "online", "status_msg": "hi"}))
		r := s.do(t, "GET", presencePath(alice.ID), bob.Token, nil)
		wantOK(t, r)
		if string(r.Raw) != `{"presence":"offline"}` {
			t.Errorf("got %s, want {\"presence\":\"offline\"}", r.Raw)
		}
		if seen, _ := s.syncPresence(t, bob, ""); len(seen) != 0 {
			t.Errorf("bob's sync has presence %v, want none", seen)
		}
		if pos, err := s.DB.StreamPos(t.Context(), "presence"); err != nil || pos != 0 {
			t.Errorf("presence stream: got %d, %v; want nothing stored", pos, err)
		}
	})
}
