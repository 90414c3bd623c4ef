package clientapi_test

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// TestRoomBadInput: each bad room request gets the spec's error and changes
// nothing.
func TestRoomBadInput(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice password")
		bob := s.mustRegister(t, "bob", "bob password")
		r := s.do(t, "POST", v3+"/createRoom", alice.Token, map[string]any{"name": "Tools", "preset": "private_chat"})
		wantOK(t, r)
		room := url.PathEscape(r.str("room_id"))
		send := func(tok, typ, txn string, content any) response {
			return s.do(t, "PUT", v3+"/rooms/"+room+"/send/"+typ+"/"+txn, tok, content)
		}

		t.Run("ErrTooLarge", func(t *testing.T) {
			big := map[string]string{"msgtype": "m.text", "body": strings.Repeat("x", 70000)}
			wantErr(t, send(alice.Token, "m.room.message", "big", big), http.StatusRequestEntityTooLarge, "M_TOO_LARGE")
		})
		t.Run("ErrNotInRoom", func(t *testing.T) {
			wantErr(t, send(bob.Token, "m.room.message", "t1", map[string]string{"body": "hi"}), http.StatusForbidden, "M_FORBIDDEN")
		})
		t.Run("ErrUnknownRoom", func(t *testing.T) {
			r := s.do(t, "PUT", v3+"/rooms/"+url.PathEscape("!nope:test.local")+"/send/m.room.message/t", alice.Token, map[string]string{"body": "x"})
			wantErr(t, r, http.StatusForbidden, "M_FORBIDDEN")
		})
		t.Run("ErrNotObject", func(t *testing.T) {
			wantErr(t, send(alice.Token, "m.room.message", "t2", []int{1}), http.StatusBadRequest, "M_BAD_JSON")
		})
		t.Run("ErrStateKeyOfOtherUser", func(t *testing.T) {
			r := s.do(t, "PUT", v3+"/rooms/"+room+"/state/org.example.pref/"+url.PathEscape(bob.ID), alice.Token, map[string]string{"a": "b"})
			wantErr(t, r, http.StatusForbidden, "M_FORBIDDEN")
		})
		t.Run("ErrLongStateKey", func(t *testing.T) {
			r := s.do(t, "PUT", v3+"/rooms/"+room+"/state/org.example.pref/"+strings.Repeat("k", 300), alice.Token, map[string]string{"a": "b"})
			wantErr(t, r, http.StatusBadRequest, "M_INVALID_PARAM")
		})
		t.Run("ErrLongType", func(t *testing.T) {
			long := "org.example." + strings.Repeat("t", 250)
			wantErr(t, send(alice.Token, long, "long", map[string]string{"a": "b"}), http.StatusBadRequest, "M_INVALID_PARAM")
			r := s.do(t, "PUT", v3+"/rooms/"+room+"/state/"+long+"/", alice.Token, map[string]string{"a": "b"})
			wantErr(t, r, http.StatusBadRequest, "M_INVALID_PARAM")
		})
		t.Run("ErrPowerLevel", func(t *testing.T) {
			wantOK(t, s.do(t, "POST", v3+"/rooms/"+room+"/invite", alice.Token, map[string]string{"user_id": bob.ID}))
			wantOK(t, s.do(t, "POST", v3+"/rooms/"+room+"/join", bob.Token, map[string]any{}))
			r := s.do(t, "PUT", v3+"/rooms/"+room+"/state/m.room.name", bob.Token, map[string]string{"name": "mine"})
			wantErr(t, r, http.StatusForbidden, "M_FORBIDDEN")
			name := s.do(t, "GET", v3+"/rooms/"+room+"/state/m.room.name", alice.Token, nil)
			if name.str("name") != "Tools" {
				t.Errorf("name after the refused change: got %q, want Tools", name.str("name"))
			}
		})
		t.Run("ErrUnsupportedVersion", func(t *testing.T) {
			r := s.do(t, "POST", v3+"/createRoom", alice.Token, map[string]any{"room_version": "999"})
			wantErr(t, r, http.StatusBadRequest, "M_UNSUPPORTED_ROOM_VERSION")
		})
		t.Run("ErrRoomInUse", func(t *testing.T) {
			wantOK(t, s.do(t, "POST", v3+"/createRoom", alice.Token, map[string]any{"room_alias_name": "tools"}))
			r := s.do(t, "POST", v3+"/createRoom", alice.Token, map[string]any{"room_alias_name": "tools"})
			wantErr(t, r, http.StatusConflict, "M_ROOM_IN_USE")
		})
		t.Run("ErrBadAlias", func(t *testing.T) {
			r := s.do(t, "POST", v3+"/createRoom", alice.Token, map[string]any{"room_alias_name": "bad alias:x"})
			wantErr(t, r, http.StatusBadRequest, "M_INVALID_PARAM")
		})
		t.Run("CanonicalAlias", func(t *testing.T) {
			put := func(content any) response {
				return s.do(t, "PUT", v3+"/rooms/"+room+"/state/m.room.canonical_alias", alice.Token, content)
			}
			wantErr(t, put(map[string]string{"alias": "no-hash"}), http.StatusBadRequest, "M_INVALID_PARAM")
			wantErr(t, put(map[string]string{"alias": "#unknown:" + serverName}), http.StatusBadRequest, "M_BAD_ALIAS")
			wantOK(t, s.do(t, "PUT", v3+"/directory/room/"+url.PathEscape("#tools-room:"+serverName), alice.Token,
				map[string]string{"room_id": r.str("room_id")}))
			wantOK(t, put(map[string]any{"alias": "#tools-room:" + serverName}))
			wantErr(t, put(map[string]any{"alt_aliases": []string{"#tools:" + serverName}}), http.StatusBadRequest, "M_BAD_ALIAS")
		})
		t.Run("ErrRedactUnknown", func(t *testing.T) {
			r := s.do(t, "PUT", v3+"/rooms/"+room+"/redact/"+url.PathEscape("$unknown")+"/r1", alice.Token, map[string]any{})
			wantErr(t, r, http.StatusNotFound, "M_NOT_FOUND")
		})
		// Two members (two clients) change the same state at once: both are
		// accepted in some order, and every reader sees the same current
		// state.
		t.Run("ConcurrentStateChange", func(t *testing.T) {
			pl := s.do(t, "GET", v3+"/rooms/"+room+"/state/m.room.power_levels/", alice.Token, nil)
			wantOK(t, pl)
			pl.Body["users"].(map[string]any)[bob.ID] = 50
			wantOK(t, s.do(t, "PUT", v3+"/rooms/"+room+"/state/m.room.power_levels/", alice.Token, pl.Body))
			var wg sync.WaitGroup
			results := make([]response, 2)
			for i, who := range []string{alice.Token, bob.Token} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					results[i], _ = s.send(t.Context(), "PUT", v3+"/rooms/"+room+"/state/m.room.topic", who,
						map[string]string{"topic": []string{"first", "second"}[i]}, nil)
				}()
			}
			wg.Wait()
			for _, r := range results {
				wantOK(t, r)
			}
			a := s.do(t, "GET", v3+"/rooms/"+room+"/state/m.room.topic", alice.Token, nil)
			b := s.do(t, "GET", v3+"/rooms/"+room+"/state/m.room.topic", bob.Token, nil)
			if a.str("topic") == "" || a.str("topic") != b.str("topic") {
				t.Errorf("topic after concurrent changes: alice sees %q, bob %q; want the same", a.str("topic"), b.str("topic"))
			}
		})
	})
}

// TestMembersAt: /members?at= gives the members as they were at a token.
func TestMembersAt(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice password")
		bob := s.mustRegister(t, "bob", "bob password")
		r := s.do(t, "POST", v3+"/createRoom", alice.Token, map[string]any{"preset": "public_chat"})
		wantOK(t, r)
		room := url.PathEscape(r.str("room_id"))
		before := s.do(t, "GET", v3+"/sync", alice.Token, nil)
		wantOK(t, before)
		wantOK(t, s.do(t, "POST", v3+"/rooms/"+room+"/join", bob.Token, map[string]any{}))
		count := func(query string) int {
			m := s.do(t, "GET", v3+"/rooms/"+room+"/members"+query, alice.Token, nil)
			wantOK(t, m)
			chunk, _ := m.Body["chunk"].([]any)
			return len(chunk)
		}
		if n := count("?at=" + url.QueryEscape(before.str("next_batch"))); n != 1 {
			t.Errorf("members at the token before bob joined: got %d, want 1", n)
		}
		if n := count(""); n != 2 {
			t.Errorf("members now: got %d, want 2", n)
		}
		wantErr(t, s.do(t, "GET", v3+"/rooms/"+room+"/members?at=garbage", alice.Token, nil), http.StatusBadRequest, "M_INVALID_PARAM")
	})
}
