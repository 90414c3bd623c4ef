package clientapi_test

import (
	"encoding/json"
	"net/url"
	"slices"
	"testing"
)

// roomEvent is an event as /messages serves it.
type roomEvent struct {
	EventID  string         `json:"event_id"`
	Type     string         `json:"type"`
	StateKey *string        `json:"state_key"`
	Content  map[string]any `json:"content"`
}

// history returns a room's events, oldest first.
func (s *testServer) history(t *testing.T, u user, roomID string) []roomEvent {
	t.Helper()
	var page struct {
		Chunk []roomEvent `json:"chunk"`
	}
	s.getJSON(t, "GET", v3+"/rooms/"+url.PathEscape(roomID)+"/messages?dir=b&limit=100", u, nil, &page)
	slices.Reverse(page.Chunk)
	return page.Chunk
}

// stateContent returns the content of a state event of the room.
func (s *testServer) stateContent(t *testing.T, u user, roomID, typ string) map[string]any {
	t.Helper()
	var content map[string]any
	s.getJSON(t, "GET", v3+"/rooms/"+url.PathEscape(roomID)+"/state/"+typ+"/", u, nil, &content)
	return content
}

// TestAPI_CreateRoom: createRoom sends the events its parameters imply, in
// the spec's order, each overriding the earlier as the spec says.
func TestAPI_CreateRoom(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice password")
		bob := s.mustRegister(t, "bob", "bob password")

		t.Run("OrderAndOverrides", func(t *testing.T) {
			room := s.dirRoom(t, alice, map[string]any{
				"preset": "private_chat", "room_alias_name": "ordered", "name": "From name", "topic": "From topic",
				"invite": []string{bob.ID}, "is_direct": true,
				"creation_content":             map[string]any{"m.federate": false},
				"power_level_content_override": map[string]any{"events_default": 10, "users": map[string]any{alice.ID: 100, bob.ID: 20}},
				"initial_state": []any{
					map[string]any{"type": "m.room.join_rules", "content": map[string]any{"join_rule": "public"}},
					map[string]any{"type": "org.example.first", "state_key": "k", "content": map[string]any{"n": 1}},
					map[string]any{"type": "m.room.name", "content": map[string]any{"name": "From initial_state"}},
				},
			})
			var got []string
			for _, ev := range s.history(t, alice, room) {
				got = append(got, ev.Type)
			}
			want := []string{"m.room.create", "m.room.member", "m.room.power_levels", "m.room.canonical_alias",
				"m.room.join_rules", "m.room.history_visibility", "m.room.guest_access",
				"m.room.join_rules", "org.example.first", "m.room.name", "m.room.name", "m.room.topic", "m.room.member"}
			if !slices.Equal(got, want) {
				t.Errorf("event order:\ngot  %v\nwant %v", got, want)
			}
			if c := s.stateContent(t, alice, room, "m.room.name"); c["name"] != "From name" {
				t.Errorf("name: got %v, want the name parameter over initial_state", c["name"])
			}
			if c := s.stateContent(t, alice, room, "m.room.join_rules"); c["join_rule"] != "public" {
				t.Errorf("join rule: got %v, want initial_state's over the preset's", c["join_rule"])
			}
			if c := s.stateContent(t, alice, room, "m.room.create"); c["m.federate"] != false {
				t.Errorf("create content: got %v, want creation_content in it", c)
			}
			pl := s.stateContent(t, alice, room, "m.room.power_levels")
			users, _ := pl["users"].(map[string]any)
			if pl["events_default"] != float64(10) || users[bob.ID] != float64(20) || pl["state_default"] != float64(50) {
				t.Errorf("power levels: got %v, want the override on top of the defaults", pl)
			}
			var invite map[string]any
			s.getJSON(t, "GET", v3+"/rooms/"+url.PathEscape(room)+"/state/m.room.member/"+url.PathEscape(bob.ID), alice, nil, &invite)
			if invite["membership"] != "invite" || invite["is_direct"] != true {
				t.Errorf("bob's invite: got %v, want membership invite with is_direct", invite)
			}
		})
		t.Run("TrustedPrivate", func(t *testing.T) {
			for _, c := range []struct {
				version        string
				bobInUsers     bool
				bobIsCoCreator bool
			}{{"10", true, false}, {"11", true, false}, {"12", false, true}} {
				room := s.dirRoom(t, alice, map[string]any{"preset": "trusted_private_chat", "room_version": c.version,
					"invite": []string{bob.ID}})
				create := s.stateContent(t, alice, room, "m.room.create")
				extra, _ := json.Marshal(create["additional_creators"])
				if coCreator := string(extra) == `["`+bob.ID+`"]`; coCreator != c.bobIsCoCreator {
					t.Errorf("v%s: additional_creators %s, want bob in it: %v", c.version, extra, c.bobIsCoCreator)
				}
				users, _ := s.stateContent(t, alice, room, "m.room.power_levels")["users"].(map[string]any)
				if inUsers := users[bob.ID] == float64(100); inUsers != c.bobInUsers {
					t.Errorf("v%s: power level users %v, want bob at 100: %v", c.version, users, c.bobInUsers)
				}
				// Either way bob, once joined, may do what the creator may.
				s.dirJoin(t, bob, room)
				wantOK(t, s.do(t, "PUT", v3+"/rooms/"+url.PathEscape(room)+"/state/m.room.history_visibility/", bob.Token,
					map[string]string{"history_visibility": "joined"}))
			}
		})
	})
}
