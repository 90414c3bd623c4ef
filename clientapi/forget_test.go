package clientapi_test

import (
	"net/http"
	"net/url"
	"testing"
)

// forgetPaths are the reads a user loses by forgetting a room.
func forgetPaths(roomID string) []string {
	room := v3 + "/rooms/" + url.PathEscape(roomID)
	return []string{
		room + "/messages?dir=b",
		room + "/state",
		room + "/state/m.room.create",
		room + "/state/m.room.create/",
		room + "/members",
	}
}

// wantForgotten checks the stored record and what the user can still read.
func wantForgotten(t *testing.T, s *testServer, u user, roomID string, forgotten bool) {
	t.Helper()
	got, err := s.DB.Forgotten(t.Context(), u.ID, roomID)
	if err != nil || got != forgotten {
		t.Fatalf("%s forgot %s: got %v, %v, want %v", u.ID, roomID, got, err, forgotten)
	}
	for _, path := range forgetPaths(roomID) {
		r := s.do(t, "GET", path, u.Token, nil)
		if forgotten {
			wantErr(t, r, http.StatusForbidden, "M_FORBIDDEN")
		} else {
			wantOK(t, r)
		}
	}
}

func TestAPI_ForgetRoom(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice password")
		bob := s.mustRegister(t, "bob", "bob password")
		room := s.dirRoom(t, alice, map[string]any{"preset": "public_chat"})
		roomPath := v3 + "/rooms/" + url.PathEscape(room)
		forget := func(u user, roomID string) response {
			return s.do(t, "POST", v3+"/rooms/"+url.PathEscape(roomID)+"/forget", u.Token, map[string]any{})
		}
		s.dirJoin(t, bob, room)
		wantOK(t, s.do(t, "PUT", roomPath+"/send/m.room.message/t1", alice.Token, map[string]any{"msgtype": "m.text", "body": "hi"}))
		t.Run("ErrJoined", func(t *testing.T) {
			wantErr(t, forget(bob, room), http.StatusBadRequest, "M_UNKNOWN")
			wantForgotten(t, s, bob, room, false)
		})
		t.Run("OK", func(t *testing.T) {
			wantOK(t, s.do(t, "POST", roomPath+"/leave", bob.Token, map[string]any{}))
			wantForgotten(t, s, bob, room, false) // leaving alone keeps history readable
			wantOK(t, forget(bob, room))
			wantForgotten(t, s, bob, room, true)
			wantOK(t, forget(bob, room)) // again
			wantForgotten(t, s, bob, room, true)
		})
		t.Run("OKRejoinClears", func(t *testing.T) {
			s.dirJoin(t, bob, room)
			wantForgotten(t, s, bob, room, false)
			if rooms, err := s.DB.ForgottenRooms(t.Context(), bob.ID); err != nil || len(rooms) != 0 {
				t.Errorf("forgotten rooms after re-join: got %q, %v, want none", rooms, err)
			}
		})
		t.Run("OKInviteEnds", func(t *testing.T) {
			private := s.dirRoom(t, alice, map[string]any{"invite": []string{bob.ID}})
			privatePath := v3 + "/rooms/" + url.PathEscape(private)
			s.dirJoin(t, bob, private)
			wantOK(t, s.do(t, "POST", privatePath+"/leave", bob.Token, map[string]any{}))
			wantOK(t, forget(bob, private))
			wantForgotten(t, s, bob, private, true)
			wantOK(t, s.do(t, "POST", privatePath+"/invite", alice.Token, map[string]any{"user_id": bob.ID}))
			if got, err := s.DB.Forgotten(t.Context(), bob.ID, private); err != nil || got {
				t.Errorf("forgotten after a new invite: got %v, %v, want false", got, err)
			}
			t.Run("ErrInvited", func(t *testing.T) {
				wantErr(t, forget(bob, private), http.StatusBadRequest, "M_UNKNOWN")
			})
		})
		t.Run("OKBanned", func(t *testing.T) {
			wantOK(t, s.do(t, "POST", roomPath+"/ban", alice.Token, map[string]any{"user_id": bob.ID}))
			wantOK(t, forget(bob, room))
			wantForgotten(t, s, bob, room, true)
		})
		t.Run("OKWorldReadable", func(t *testing.T) {
			// A user who forgot a world-readable room reads it as anyone can.
			open := s.dirRoom(t, alice, map[string]any{"preset": "public_chat", "initial_state": []any{
				map[string]any{"type": "m.room.history_visibility", "content": map[string]any{"history_visibility": "world_readable"}},
			}})
			s.dirJoin(t, bob, open)
			wantOK(t, s.do(t, "POST", v3+"/rooms/"+url.PathEscape(open)+"/leave", bob.Token, map[string]any{}))
			wantOK(t, forget(bob, open))
			wantOK(t, s.do(t, "GET", v3+"/rooms/"+url.PathEscape(open)+"/messages?dir=b", bob.Token, nil))
		})
		t.Run("OKNeverMember", func(t *testing.T) {
			carol := s.mustRegister(t, "carol", "carol password")
			wantOK(t, forget(carol, room))
			wantOK(t, forget(carol, "!unknown:"+serverName))
			if rooms, err := s.DB.ForgottenRooms(t.Context(), carol.ID); err != nil || len(rooms) != 0 {
				t.Errorf("forgotten rooms: got %q, %v, want none", rooms, err)
			}
		})
		t.Run("ErrInvalidParam", func(t *testing.T) {
			wantErr(t, forget(alice, "no-sigil"), http.StatusBadRequest, "M_INVALID_PARAM")
		})
	})
}
