package clientapi_test

import (
	"net/http"
	"net/url"
	"testing"
)

// TestAPI_Upgrade: POST /upgrade per the spec's server behaviour: the new
// room names its predecessor and takes the old one's transferable state,
// power levels and bans but no members; local aliases move; the old room
// gets a tombstone and power levels that stop talking and inviting;
// additional_creators apply in versions that have them; members' tags
// follow them to the new room.
func TestAPI_Upgrade(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice password")
		bob := s.mustRegister(t, "bob", "bob password")
		carol := s.mustRegister(t, "carol", "carol password")
		newRoom := func(alias string) string {
			t.Helper()
			room := s.dirRoom(t, alice, map[string]any{"preset": "public_chat", "room_version": "10", "name": "Works council",
				"room_alias_name": alias, "power_level_content_override": map[string]any{"users": map[string]any{alice.ID: 100, bob.ID: 50}}})
			s.dirJoin(t, bob, room)
			s.dirJoin(t, carol, room)
			wantOK(t, s.do(t, "POST", v3+"/rooms/"+url.PathEscape(room)+"/ban", alice.Token, map[string]string{"user_id": carol.ID}))
			return room
		}
		upgrade := func(room string, body map[string]any) response {
			return s.do(t, "POST", v3+"/rooms/"+url.PathEscape(room)+"/upgrade", alice.Token, body)
		}

		t.Run("OK", func(t *testing.T) {
			old := newRoom("council")
			dave := s.mustRegister(t, "dave", "dave password")
			s.dirJoin(t, dave, old)
			r := upgrade(old, map[string]any{"new_version": "11"})
			wantOK(t, r)
			repl := r.str("replacement_room")
			create := s.stateContent(t, alice, repl, "m.room.create")
			pred, _ := create["predecessor"].(map[string]any)
			if create["room_version"] != "11" || pred["room_id"] != old {
				t.Errorf("new room's create: got %v, want version 11 naming %s", create, old)
			}
			if c := s.stateContent(t, alice, repl, "m.room.name"); c["name"] != "Works council" {
				t.Errorf("new room's name: got %v", c)
			}
			users, _ := s.stateContent(t, alice, repl, "m.room.power_levels")["users"].(map[string]any)
			if users[bob.ID] != float64(50) {
				t.Errorf("new room's power levels: got users %v, want bob's 50 kept", users)
			}
			var members struct {
				Chunk []eventSummary `json:"chunk"`
			}
			s.getJSON(t, "GET", v3+"/rooms/"+url.PathEscape(repl)+"/members", alice, nil, &members)
			memberships := map[string]string{}
			for _, ev := range members.Chunk {
				var c map[string]any
				s.getJSON(t, "GET", v3+"/rooms/"+url.PathEscape(repl)+"/state/m.room.member/"+url.PathEscape(*ev.StateKey), alice, nil, &c)
				memberships[*ev.StateKey], _ = c["membership"].(string)
			}
			if len(memberships) != 2 || memberships[alice.ID] != "join" || memberships[carol.ID] != "ban" {
				t.Errorf("new room's members: got %v, want alice joined and carol banned, no one else carried over", memberships)
			}
			var alias struct {
				RoomID string `json:"room_id"`
			}
			s.getJSON(t, "GET", aliasPath("#council:"+serverName), alice, nil, &alias)
			if alias.RoomID != repl {
				t.Errorf("alias after the upgrade: got %s, want the new room %s", alias.RoomID, repl)
			}
			if c := s.stateContent(t, alice, old, "m.room.tombstone"); c["replacement_room"] != repl {
				t.Errorf("old room's tombstone: got %v, want it to point at %s", c, repl)
			}
			pl := s.stateContent(t, alice, old, "m.room.power_levels")
			if pl["events_default"] != float64(50) || pl["invite"] != float64(50) {
				t.Errorf("old room's power levels: got %v, want events_default and invite at 50", pl)
			}
			wantErr(t, s.do(t, "PUT", v3+"/rooms/"+url.PathEscape(old)+"/send/m.room.message/late", dave.Token,
				map[string]string{"msgtype": "m.text", "body": "late"}), http.StatusForbidden, "M_FORBIDDEN")
		})
		t.Run("OKAdditionalCreators", func(t *testing.T) {
			old := newRoom("council12")
			r := upgrade(old, map[string]any{"new_version": "12", "additional_creators": []string{bob.ID}})
			wantOK(t, r)
			repl := r.str("replacement_room")
			create := s.stateContent(t, alice, repl, "m.room.create")
			if extra, _ := create["additional_creators"].([]any); len(extra) != 1 || extra[0] != bob.ID {
				t.Errorf("v12 create: got additional_creators %v, want [bob]", create["additional_creators"])
			}
			users, _ := s.stateContent(t, alice, repl, "m.room.power_levels")["users"].(map[string]any)
			if _, listed := users[bob.ID]; listed {
				t.Errorf("v12 power levels: got users %v, want no creator listed", users)
			}
			if _, listed := users[alice.ID]; listed {
				t.Errorf("v12 power levels: got users %v, want no creator listed", users)
			}
			// Ignored in a version without additional creators.
			other := newRoom("council11")
			r = upgrade(other, map[string]any{"new_version": "11", "additional_creators": []string{bob.ID}})
			wantOK(t, r)
			if c := s.stateContent(t, alice, r.str("replacement_room"), "m.room.create"); c["additional_creators"] != nil {
				t.Errorf("v11 create: got additional_creators %v, want none", c["additional_creators"])
			}
		})
		t.Run("OKTagsCarried", func(t *testing.T) {
			old := newRoom("council-tags")
			tag := func(u user, room, name string) {
				t.Helper()
				wantOK(t, s.do(t, "PUT", v3+"/user/"+url.PathEscape(u.ID)+"/rooms/"+url.PathEscape(room)+"/tags/"+name, u.Token,
					map[string]any{"order": 0.5}))
			}
			tags := func(u user, room string) map[string]any {
				t.Helper()
				var body struct {
					Tags map[string]any `json:"tags"`
				}
				s.getJSON(t, "GET", v3+"/user/"+url.PathEscape(u.ID)+"/rooms/"+url.PathEscape(room)+"/tags", u, nil, &body)
				return body.Tags
			}
			tag(alice, old, "m.favourite")
			tag(bob, old, "u.work")
			r := upgrade(old, map[string]any{"new_version": "11"})
			wantOK(t, r)
			repl := r.str("replacement_room")
			if got := tags(alice, repl); got["m.favourite"] == nil {
				t.Errorf("the upgrader's tags on the new room: got %v, want m.favourite", got)
			}
			s.dirJoin(t, bob, repl)
			if got := tags(bob, repl); len(got) != 1 || got["u.work"] == nil {
				t.Errorf("bob's tags on the new room after joining: got %v, want u.work", got)
			}
		})
		t.Run("ErrBadInput", func(t *testing.T) {
			room := newRoom("council-bad")
			wantErr(t, upgrade(room, map[string]any{}), http.StatusBadRequest, "M_MISSING_PARAM")
			wantErr(t, upgrade(room, map[string]any{"new_version": "999"}), http.StatusBadRequest, "M_UNSUPPORTED_ROOM_VERSION")
			wantErr(t, upgrade(room, map[string]any{"new_version": "12", "additional_creators": []string{"bob"}}),
				http.StatusBadRequest, "M_INVALID_PARAM")
			wantErr(t, s.do(t, "POST", v3+"/rooms/"+url.PathEscape(room)+"/upgrade", bob.Token, map[string]any{"new_version": "11"}),
				http.StatusForbidden, "M_FORBIDDEN")
		})
	})
}
