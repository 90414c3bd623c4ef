package clientapi_test

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/ganglion/ganglion/storage"
)

// dirRoom creates a room with the createRoom body and returns its id.
func (s *testServer) dirRoom(t *testing.T, u user, body map[string]any) string {
	t.Helper()
	r := s.do(t, "POST", v3+"/createRoom", u.Token, body)
	wantOK(t, r)
	return r.str("room_id")
}

// dirJoin joins a user to a room by id or alias and returns the room id.
func (s *testServer) dirJoin(t *testing.T, u user, target string) string {
	t.Helper()
	r := s.do(t, "POST", v3+"/join/"+url.PathEscape(target), u.Token, map[string]any{})
	wantOK(t, r)
	return r.str("room_id")
}

func aliasPath(alias string) string { return v3 + "/directory/room/" + url.PathEscape(alias) }

// wantAliasRoom checks the room an alias has in the database ("" for none).
func wantAliasRoom(t *testing.T, db *storage.DB, alias, roomID string) {
	t.Helper()
	got, err := db.RoomAlias(t.Context(), alias)
	if roomID == "" {
		if !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("alias %s: got %+v, %v, want ErrNotFound", alias, got, err)
		}
		return
	}
	if err != nil || got.RoomID != roomID {
		t.Fatalf("alias %s: got room %q, %v, want %s", alias, got.RoomID, err, roomID)
	}
}

func TestAPI_PutRoomAlias(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice password")
		bob := s.mustRegister(t, "bob", "bob password")
		room := s.dirRoom(t, alice, map[string]any{"preset": "public_chat"})
		t.Run("OK", func(t *testing.T) {
			wantOK(t, s.do(t, "PUT", aliasPath("#office:"+serverName), alice.Token, map[string]any{"room_id": room}))
			got, err := s.DB.RoomAlias(t.Context(), "#office:"+serverName)
			if err != nil || got.RoomID != room || got.Creator != alice.ID {
				t.Fatalf("stored alias: got %+v, %v, want room %s by %s", got, err, room, alice.ID)
			}
			r := s.do(t, "GET", aliasPath("#office:"+serverName), "", nil)
			wantOK(t, r)
			servers, _ := r.Body["servers"].([]any)
			if r.str("room_id") != room || len(servers) != 1 || servers[0] != serverName {
				t.Errorf("resolve: got %s, want room %s on [%s]", r.Raw, room, serverName)
			}
		})
		t.Run("OKUnicodeLocalpart", func(t *testing.T) {
			wantOK(t, s.do(t, "PUT", aliasPath("#büro/2!:"+serverName), alice.Token, map[string]any{"room_id": room}))
			wantAliasRoom(t, s.DB, "#büro/2!:"+serverName, room)
		})
		t.Run("ErrInvalidParam", func(t *testing.T) {
			for _, alias := range []string{
				"office:" + serverName,    // no sigil
				"#:" + serverName,         // empty localpart
				"#office",                 // no server
				"#office:",                // empty server
				"#off ice:" + serverName,  // white space
				"#off\tice:" + serverName, // white space
				"#office:other.example",   // another server
				"#office:bad_server!",     // invalid server name
				"#" + strings.Repeat("a", 256-len(":"+serverName)) + ":" + serverName, // 256 bytes
			} {
				r := s.do(t, "PUT", aliasPath(alias), alice.Token, map[string]any{"room_id": room})
				wantErr(t, r, http.StatusBadRequest, "M_INVALID_PARAM")
				wantAliasRoom(t, s.DB, alias, "")
			}
			longest := "#" + strings.Repeat("a", 255-len("#:"+serverName)) + ":" + serverName
			wantOK(t, s.do(t, "PUT", aliasPath(longest), alice.Token, map[string]any{"room_id": room}))
		})
		t.Run("ErrBadJSON", func(t *testing.T) {
			for _, body := range []any{map[string]any{}, map[string]any{"room_id": 7}, rawBody(`[]`)} {
				wantErr(t, s.do(t, "PUT", aliasPath("#json:"+serverName), alice.Token, body), http.StatusBadRequest, "M_BAD_JSON")
			}
			wantAliasRoom(t, s.DB, "#json:"+serverName, "")
		})
		t.Run("ErrForbidden", func(t *testing.T) {
			for _, roomID := range []string{room, "!unknown:" + serverName} {
				r := s.do(t, "PUT", aliasPath("#bobs:"+serverName), bob.Token, map[string]any{"room_id": roomID})
				wantErr(t, r, http.StatusForbidden, "M_FORBIDDEN")
			}
			wantAliasRoom(t, s.DB, "#bobs:"+serverName, "")
		})
		t.Run("ErrRoomInUse", func(t *testing.T) {
			other := s.dirRoom(t, alice, map[string]any{})
			r := s.do(t, "PUT", aliasPath("#office:"+serverName), alice.Token, map[string]any{"room_id": other})
			wantErr(t, r, http.StatusConflict, "M_ROOM_IN_USE")
			wantAliasRoom(t, s.DB, "#office:"+serverName, room)
		})
		t.Run("ErrMissingToken", func(t *testing.T) {
			r := s.do(t, "PUT", aliasPath("#anon:"+serverName), "", map[string]any{"room_id": room})
			wantErr(t, r, http.StatusUnauthorized, "M_MISSING_TOKEN")
		})
	})
}

func TestAPI_GetRoomAlias(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		t.Run("ErrNotFound", func(t *testing.T) {
			for _, alias := range []string{"#nowhere:" + serverName, "#remote:other.example"} {
				wantErr(t, s.do(t, "GET", aliasPath(alias), "", nil), http.StatusNotFound, "M_NOT_FOUND")
			}
		})
		t.Run("ErrInvalidParam", func(t *testing.T) {
			wantErr(t, s.do(t, "GET", aliasPath("#bad alias:"+serverName), "", nil), http.StatusBadRequest, "M_INVALID_PARAM")
		})
	})
}

func TestAPI_DeleteRoomAlias(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice password")
		bob := s.mustRegister(t, "bob", "bob password")
		carol := s.mustRegister(t, "carol", "carol password")
		room := s.dirRoom(t, alice, map[string]any{"preset": "public_chat"})
		s.dirJoin(t, bob, room)
		s.dirJoin(t, carol, room)
		put := func(u user, alias string) {
			t.Helper()
			wantOK(t, s.do(t, "PUT", aliasPath(alias), u.Token, map[string]any{"room_id": room}))
		}
		put(alice, "#alices:"+serverName)
		put(bob, "#bobs:"+serverName)
		put(carol, "#carols:"+serverName)
		t.Run("ErrForbidden", func(t *testing.T) {
			// bob has power level 0; m.room.canonical_alias needs 50.
			wantErr(t, s.do(t, "DELETE", aliasPath("#alices:"+serverName), bob.Token, nil), http.StatusForbidden, "M_FORBIDDEN")
			wantAliasRoom(t, s.DB, "#alices:"+serverName, room)
		})
		t.Run("OKCreator", func(t *testing.T) {
			wantOK(t, s.do(t, "DELETE", aliasPath("#bobs:"+serverName), bob.Token, nil))
			wantAliasRoom(t, s.DB, "#bobs:"+serverName, "")
			wantErr(t, s.do(t, "GET", aliasPath("#bobs:"+serverName), "", nil), http.StatusNotFound, "M_NOT_FOUND")
		})
		t.Run("OKPowerLevel", func(t *testing.T) {
			wantOK(t, s.do(t, "DELETE", aliasPath("#carols:"+serverName), alice.Token, nil))
			wantAliasRoom(t, s.DB, "#carols:"+serverName, "")
		})
		t.Run("ErrForbiddenAfterLeaving", func(t *testing.T) {
			// Power in the room counts only for members.
			put(bob, "#again:"+serverName)
			wantOK(t, s.do(t, "POST", v3+"/rooms/"+url.PathEscape(room)+"/leave", alice.Token, map[string]any{}))
			wantErr(t, s.do(t, "DELETE", aliasPath("#again:"+serverName), alice.Token, nil), http.StatusForbidden, "M_FORBIDDEN")
			wantAliasRoom(t, s.DB, "#again:"+serverName, room)
		})
		t.Run("ErrNotFound", func(t *testing.T) {
			wantErr(t, s.do(t, "DELETE", aliasPath("#bobs:"+serverName), bob.Token, nil), http.StatusNotFound, "M_NOT_FOUND")
		})
		t.Run("ErrInvalidParam", func(t *testing.T) {
			wantErr(t, s.do(t, "DELETE", aliasPath("#alices:other.example"), alice.Token, nil), http.StatusBadRequest, "M_INVALID_PARAM")
		})
	})
}

func TestAPI_GetRoomAliases(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice password")
		bob := s.mustRegister(t, "bob", "bob password")
		room := s.dirRoom(t, alice, map[string]any{"room_alias_name": "zeta"})
		wantOK(t, s.do(t, "PUT", aliasPath("#alpha:"+serverName), alice.Token, map[string]any{"room_id": room}))
		aliasesOf := func(u user, roomID string) response {
			return s.do(t, "GET", v3+"/rooms/"+url.PathEscape(roomID)+"/aliases", u.Token, nil)
		}
		t.Run("OK", func(t *testing.T) {
			r := aliasesOf(alice, room)
			wantOK(t, r)
			if got, want := jsonString(t, r.Body["aliases"]), `["#alpha:test.local","#zeta:test.local"]`; got != want {
				t.Errorf("got %s, want %s", got, want)
			}
			empty := s.dirRoom(t, alice, map[string]any{})
			if r := aliasesOf(alice, empty); r.Status != http.StatusOK || string(r.Raw) != `{"aliases":[]}` {
				t.Errorf("room without aliases: got %d %s, want 200 {\"aliases\":[]}", r.Status, r.Raw)
			}
		})
		t.Run("ErrForbidden", func(t *testing.T) {
			wantErr(t, aliasesOf(bob, room), http.StatusForbidden, "M_FORBIDDEN")
			wantErr(t, aliasesOf(bob, "!unknown:"+serverName), http.StatusForbidden, "M_FORBIDDEN")
		})
		t.Run("OKWorldReadable", func(t *testing.T) {
			open := s.dirRoom(t, alice, map[string]any{"room_alias_name": "open", "initial_state": []any{
				map[string]any{"type": "m.room.history_visibility", "content": map[string]any{"history_visibility": "world_readable"}},
			}})
			r := aliasesOf(bob, open)
			wantOK(t, r)
			if got := jsonString(t, r.Body["aliases"]); got != `["#open:test.local"]` {
				t.Errorf("got %s, want [#open:test.local]", got)
			}
		})
	})
}

func TestAPI_CreateRoomAlias(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice password")
		bob := s.mustRegister(t, "bob", "bob password")
		t.Run("OK", func(t *testing.T) {
			room := s.dirRoom(t, alice, map[string]any{"room_alias_name": "team"})
			wantAliasRoom(t, s.DB, "#team:"+serverName, room)
			r := s.do(t, "GET", v3+"/rooms/"+url.PathEscape(room)+"/state/m.room.canonical_alias", alice.Token, nil)
			wantOK(t, r)
			if r.str("alias") != "#team:"+serverName {
				t.Errorf("canonical alias: got %s, want #team:%s", r.Raw, serverName)
			}
		})
		t.Run("ErrRoomInUse", func(t *testing.T) {
			r := s.do(t, "POST", v3+"/createRoom", bob.Token, map[string]any{"room_alias_name": "team"})
			wantErr(t, r, http.StatusConflict, "M_ROOM_IN_USE")
			wantJoinedRooms(t, s, bob)
		})
		t.Run("ErrInvalidParam", func(t *testing.T) {
			for _, name := range []string{"two words", "with:colon", strings.Repeat("x", 255)} {
				r := s.do(t, "POST", v3+"/createRoom", bob.Token, map[string]any{"room_alias_name": name})
				wantErr(t, r, http.StatusBadRequest, "M_INVALID_PARAM")
			}
			wantJoinedRooms(t, s, bob)
		})
		t.Run("ErrCreationFailsReleasesAlias", func(t *testing.T) {
			// Without power, the creator cannot send the canonical alias
			// event: the room is not created and the alias stays free.
			r := s.do(t, "POST", v3+"/createRoom", bob.Token, map[string]any{
				"room_alias_name": "doomed", "power_level_content_override": map[string]any{"users": map[string]any{}},
			})
			wantErr(t, r, http.StatusForbidden, "M_FORBIDDEN")
			wantAliasRoom(t, s.DB, "#doomed:"+serverName, "")
			room := s.dirRoom(t, bob, map[string]any{"room_alias_name": "doomed"})
			wantAliasRoom(t, s.DB, "#doomed:"+serverName, room)
		})
	})
}

// wantJoinedRooms checks the rooms a user is joined to.
func wantJoinedRooms(t *testing.T, s *testServer, u user, want ...string) {
	t.Helper()
	r := s.do(t, "GET", v3+"/joined_rooms", u.Token, nil)
	wantOK(t, r)
	var got []string
	for _, id := range r.Body["joined_rooms"].([]any) {
		got = append(got, id.(string))
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("joined rooms of %s: got %q, want %q", u.ID, got, want)
	}
}

func TestAPI_JoinRoomAlias(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice password")
		bob := s.mustRegister(t, "bob", "bob password")
		room := s.dirRoom(t, alice, map[string]any{"preset": "public_chat", "room_alias_name": "lobby"})
		t.Run("OK", func(t *testing.T) {
			if got := s.dirJoin(t, bob, "#lobby:"+serverName); got != room {
				t.Errorf("joined room: got %s, want %s", got, room)
			}
			wantJoinedRooms(t, s, bob, room)
		})
		t.Run("ErrNotFound", func(t *testing.T) {
			for _, alias := range []string{"#nowhere:" + serverName, "#lobby:other.example"} {
				r := s.do(t, "POST", v3+"/join/"+url.PathEscape(alias), bob.Token, map[string]any{})
				wantErr(t, r, http.StatusNotFound, "M_NOT_FOUND")
			}
		})
		t.Run("ErrInvalidParam", func(t *testing.T) {
			r := s.do(t, "POST", v3+"/join/"+url.PathEscape("#bad alias:"+serverName), bob.Token, map[string]any{})
			wantErr(t, r, http.StatusBadRequest, "M_INVALID_PARAM")
		})
	})
}
