package clientapi_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ganglion/ganglion/syncapi"
)

// TestAPI_SyncBadInput: each bad /sync request gets a clear 4xx, never a
// 500, and a long-poll timeout out of range is clamped, not refused.
func TestAPI_SyncBadInput(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice password")
		room := s.dirRoom(t, alice, map[string]any{"preset": "public_chat"})
		s.say(t, alice, room, "m1", "hello")
		current := s.mustSync(t, alice, "").NextBatch
		sync := func(query string) response {
			return s.do(t, "GET", v3+"/sync?timeout=0&"+query, alice.Token, nil)
		}

		t.Run("ErrMalformedSince", func(t *testing.T) {
			for _, since := range []string{"garbage", "s", "s1_x", "s-1", "m5", "s" + strings.Repeat("1_", 20) + "1"} {
				wantErr(t, sync("since="+url.QueryEscape(since)), http.StatusBadRequest, "M_INVALID_PARAM")
			}
		})
		t.Run("ErrForeignSince", func(t *testing.T) {
			cur, ok := syncapi.ParseStreamToken(current)
			if !ok {
				t.Fatalf("next_batch %q does not parse", current)
			}
			for name, bump := range map[string]func(*syncapi.StreamToken){
				"Events":      func(t *syncapi.StreamToken) { t.Events += 1000 },
				"AccountData": func(t *syncapi.StreamToken) { t.AccountData += 1000 },
				"ToDevice":    func(t *syncapi.StreamToken) { t.ToDevice += 1000 },
			} {
				foreign := cur
				bump(&foreign)
				r := sync("since=" + url.QueryEscape(foreign.String()))
				if r.Status != http.StatusBadRequest || r.str("errcode") != "M_INVALID_PARAM" {
					t.Errorf("since past the current %s position: got %d %s, want 400 M_INVALID_PARAM", name, r.Status, r.Raw)
				}
			}
		})
		t.Run("OKTypingPastCurrent", func(t *testing.T) {
			// Typing positions start over with the server: a token from
			// before a restart is still good.
			cur, _ := syncapi.ParseStreamToken(current)
			cur.Typing += 1000
			wantOK(t, sync("since="+url.QueryEscape(cur.String())))
		})
		t.Run("ErrUnknownFilter", func(t *testing.T) {
			wantErr(t, sync("filter=424242"), http.StatusNotFound, "M_NOT_FOUND")
		})
		t.Run("ErrMalformedFilter", func(t *testing.T) {
			for _, f := range []string{`{"room":{"timeline":{"limit":"ten"}}}`, `{"room":{"timeline":{"limit":-1}}}`,
				`{"event_format":"xml"}`, `{"room":{"rooms":["not-a-room"]}}`, `{not json`} {
				wantErr(t, sync("filter="+url.QueryEscape(f)), http.StatusBadRequest, "M_BAD_JSON")
			}
		})
		t.Run("ErrTimeoutNotANumber", func(t *testing.T) {
			wantErr(t, s.do(t, "GET", v3+"/sync?timeout=soon", alice.Token, nil), http.StatusBadRequest, "M_INVALID_PARAM")
		})
		t.Run("NegativeTimeoutReturnsAtOnce", func(t *testing.T) {
			r := s.do(t, "GET", v3+"/sync?timeout=-5000&since="+url.QueryEscape(current), alice.Token, nil)
			wantOK(t, r)
		})
		// A huge timeout is clamped to the longest long-poll: the request
		// waits and is woken by a new event.
		t.Run("HugeTimeoutWaits", func(t *testing.T) {
			done := make(chan response, 1)
			go func() {
				r, _ := s.send(t.Context(), "GET", v3+"/sync?timeout=9223372036854775807&since="+url.QueryEscape(current),
					alice.Token, nil, nil)
				done <- r
			}()
			waitForWaiter(t, s, alice.ID)
			s.say(t, alice, room, "m2", "wake up")
			select {
			case r := <-done:
				wantOK(t, r)
				if !strings.Contains(string(r.Raw), "wake up") {
					t.Errorf("woken long-poll: got %s, want the new message", r.Raw)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("long-poll not woken by the new message")
			}
		})
	})
}

// waitForWaiter waits until a /sync long-poll of the user is waiting.
func waitForWaiter(t *testing.T, s *testServer, userID string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !s.Notifier.Waiting(userID) {
		if time.Now().After(deadline) {
			t.Fatalf("no long-poll of %s is waiting", userID)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestAPI_ReceiptBadInput: receipts, read markers and typing for a room
// the user is not in are M_FORBIDDEN; malformed ones are refused with the
// spec's errors and store nothing.
func TestAPI_ReceiptBadInput(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice password")
		bob := s.mustRegister(t, "bob", "bob password")
		room := s.dirRoom(t, alice, map[string]any{"preset": "public_chat"})
		s.say(t, alice, room, "m1", "read me")
		event := s.lastEventID(t, alice, room)
		path := v3 + "/rooms/" + url.PathEscape(room)
		receipt := func(u user, typ, eventID string, body any) response {
			return s.do(t, "POST", path+"/receipt/"+typ+"/"+url.PathEscape(eventID), u.Token, body)
		}

		t.Run("ErrNotInRoom", func(t *testing.T) {
			wantErr(t, receipt(bob, "m.read", event, map[string]any{}), http.StatusForbidden, "M_FORBIDDEN")
			wantErr(t, s.do(t, "POST", path+"/read_markers", bob.Token, map[string]string{"m.fully_read": event}),
				http.StatusForbidden, "M_FORBIDDEN")
			wantErr(t, s.do(t, "PUT", path+"/typing/"+url.PathEscape(bob.ID), bob.Token, map[string]any{"typing": true, "timeout": 1000}),
				http.StatusForbidden, "M_FORBIDDEN")
		})
		t.Run("ErrMalformed", func(t *testing.T) {
			wantErr(t, receipt(alice, "m.seen", event, map[string]any{}), http.StatusBadRequest, "M_INVALID_PARAM")
			wantErr(t, receipt(alice, "m.read", event, map[string]any{"thread_id": ""}), http.StatusBadRequest, "M_INVALID_PARAM")
			wantErr(t, receipt(alice, "m.fully_read", event, map[string]any{"thread_id": "main"}), http.StatusBadRequest, "M_INVALID_PARAM")
			wantErr(t, receipt(alice, "m.read", "$unknown", map[string]any{}), http.StatusNotFound, "M_NOT_FOUND")
			wantErr(t, s.do(t, "PUT", path+"/typing/"+url.PathEscape(bob.ID), alice.Token, map[string]any{"typing": true}),
				http.StatusForbidden, "M_FORBIDDEN")
		})
		// Nothing of the refused requests reached alice's sync.
		var body struct {
			Rooms struct {
				Join map[string]struct {
					Ephemeral struct {
						Events []eventSummary `json:"events"`
					} `json:"ephemeral"`
				} `json:"join"`
			} `json:"rooms"`
		}
		s.getJSON(t, "GET", v3+"/sync?timeout=0", alice, nil, &body)
		if evs := body.Rooms.Join[room].Ephemeral.Events; len(evs) != 0 {
			t.Errorf("alice's ephemeral events after refused requests: got %+v, want none", evs)
		}
	})
}

// TestAPI_SlidingSyncBadInput: sliding sync answers an unknown or foreign
// pos with M_UNKNOWN_POS, malformed requests with 400s, and clamps a
// negative timeout.
func TestAPI_SlidingSyncBadInput(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice password")
		bob := s.mustRegister(t, "bob", "bob password")
		const path = "/_matrix/client/unstable/org.matrix.simplified_msc3575/sync"
		list := map[string]any{"lists": map[string]any{"all": map[string]any{"ranges": [][2]int{{0, 5}}, "timeline_limit": 1}}}
		first := s.do(t, "POST", path, alice.Token, list)
		wantOK(t, first)
		pos := first.str("pos")

		for _, p := range []string{"garbage", "99_s1", "-1_s1", pos + "x"} {
			wantErr(t, s.do(t, "POST", path+"?pos="+url.QueryEscape(p), alice.Token, list), http.StatusBadRequest, "M_UNKNOWN_POS")
		}
		wantErr(t, s.do(t, "POST", path+"?pos="+url.QueryEscape(pos), bob.Token, list), http.StatusBadRequest, "M_UNKNOWN_POS")
		wantErr(t, s.do(t, "POST", path+"?timeout=soon", alice.Token, list), http.StatusBadRequest, "M_INVALID_PARAM")
		wantErr(t, s.do(t, "POST", path, alice.Token, map[string]any{"lists": 5}), http.StatusBadRequest, "M_BAD_JSON")
		wantErr(t, s.do(t, "POST", path, alice.Token, map[string]any{"lists": map[string]any{"all": map[string]any{"ranges": [][2]int{{5, 1}}}}}),
			http.StatusBadRequest, "M_BAD_JSON")
		r := s.do(t, "POST", path+"?timeout=-5000&pos="+url.QueryEscape(pos), alice.Token, list)
		wantOK(t, r)
	})
}
