package clientapi_test

import (
	"encoding/json"
	"net/url"
	"slices"
	"testing"
)

// syncBody is the part of a /sync response the ignore tests read.
type syncBody struct {
	NextBatch string `json:"next_batch"`
	Rooms     struct {
		Join map[string]struct {
			Timeline struct {
				Events []json.RawMessage `json:"events"`
			} `json:"timeline"`
		} `json:"join"`
		Invite map[string]json.RawMessage `json:"invite"`
	} `json:"rooms"`
}

type eventSummary struct {
	EventID  string  `json:"event_id"`
	Type     string  `json:"type"`
	Sender   string  `json:"sender"`
	StateKey *string `json:"state_key"`
	Content  struct {
		Body string `json:"body"`
	} `json:"content"`
}

// syncPath is the path of a /sync that does not wait, from since ("" for
// an initial sync).
func syncPath(since string) string {
	path := v3 + "/sync?timeout=0"
	if since != "" {
		path += "&since=" + url.QueryEscape(since)
	}
	return path
}

func (s *testServer) mustSync(t *testing.T, u user, since string) syncBody {
	t.Helper()
	var body syncBody
	s.getJSON(t, "GET", syncPath(since), u, nil, &body)
	return body
}

// bodies returns the message bodies and the senders of state events.
func bodies(t *testing.T, events []json.RawMessage) (messages, stateSenders []string) {
	t.Helper()
	for _, raw := range events {
		var ev eventSummary
		if err := json.Unmarshal(raw, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.StateKey != nil {
			stateSenders = append(stateSenders, ev.Sender)
		} else if ev.Type == "m.room.message" {
			messages = append(messages, ev.Content.Body)
		}
	}
	return messages, stateSenders
}

func (s *testServer) say(t *testing.T, u user, roomID, txn, body string) {
	t.Helper()
	wantOK(t, s.do(t, "PUT", v3+"/rooms/"+url.PathEscape(roomID)+"/send/m.room.message/"+txn, u.Token,
		map[string]any{"msgtype": "m.text", "body": body}))
}

func (s *testServer) ignore(t *testing.T, u user, ignored ...string) {
	t.Helper()
	list := map[string]any{}
	for _, id := range ignored {
		list[id] = map[string]any{}
	}
	wantOK(t, s.do(t, "PUT", v3+"/user/"+url.PathEscape(u.ID)+"/account_data/m.ignored_user_list", u.Token,
		map[string]any{"ignored_users": list}))
}

// ignoringRoom registers alice, bob and carol, who share a public room;
// alice ignores bob.
func (s *testServer) ignoringRoom(t *testing.T) (alice, bob, carol user, room string) {
	t.Helper()
	alice = s.mustRegister(t, "alice", "alice password")
	bob = s.mustRegister(t, "bob", "bob password")
	carol = s.mustRegister(t, "carol", "carol password")
	room = s.dirRoom(t, alice, map[string]any{"preset": "public_chat"})
	s.dirJoin(t, bob, room)
	s.dirJoin(t, carol, room)
	s.ignore(t, alice, bob.ID)
	return alice, bob, carol, room
}

// TestAPI_IgnoredUsers: messages of ignored users are left out of /sync and
// /messages, their state events are not, their invites are not shown.
func TestAPI_IgnoredUsers(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice, bob, carol, room := s.ignoringRoom(t)
		s.say(t, bob, room, "b1", "from bob")
		s.say(t, carol, room, "c1", "from carol")
		bobsRoom := s.dirRoom(t, bob, map[string]any{"invite": []string{alice.ID}})
		carolsRoom := s.dirRoom(t, carol, map[string]any{"invite": []string{alice.ID}})

		first := s.mustSync(t, alice, "")
		msgs, state := bodies(t, first.Rooms.Join[room].Timeline.Events)
		if !slices.Equal(msgs, []string{"from carol"}) {
			t.Errorf("alice's timeline: got messages %q, want only carol's", msgs)
		}
		if !slices.Contains(state, bob.ID) {
			t.Errorf("alice's timeline: got state from %v, want bob's join (state events stay)", state)
		}
		if _, ok := first.Rooms.Invite[bobsRoom]; ok {
			t.Error("alice sees bob's invite")
		}
		if _, ok := first.Rooms.Invite[carolsRoom]; !ok {
			t.Error("alice does not see carol's invite")
		}

		r := s.do(t, "GET", v3+"/rooms/"+url.PathEscape(room)+"/messages?dir=b&limit=50", alice.Token, nil)
		wantOK(t, r)
		var page struct {
			Chunk []json.RawMessage `json:"chunk"`
		}
		if err := json.Unmarshal(r.Raw, &page); err != nil {
			t.Fatal(err)
		}
		if msgs, _ := bodies(t, page.Chunk); !slices.Equal(msgs, []string{"from carol"}) {
			t.Errorf("/messages: got %q, want only carol's message", msgs)
		}
		var carols eventSummary
		if err := json.Unmarshal(page.Chunk[0], &carols); err != nil || carols.Content.Body != "from carol" {
			t.Fatalf("/messages: newest event %s is not carol's message", page.Chunk[0])
		}
		r = s.do(t, "GET", v3+"/rooms/"+url.PathEscape(room)+"/context/"+url.PathEscape(carols.EventID)+"?limit=20", alice.Token, nil)
		wantOK(t, r)
		var around struct {
			Before []json.RawMessage `json:"events_before"`
			After  []json.RawMessage `json:"events_after"`
		}
		if err := json.Unmarshal(r.Raw, &around); err != nil {
			t.Fatal(err)
		}
		if msgs, state := bodies(t, append(around.Before, around.After...)); len(msgs) != 0 || !slices.Contains(state, bob.ID) {
			t.Errorf("/context: got messages %q and state from %v, want no messages and bob's join", msgs, state)
		}
		if bobSees := s.mustSync(t, bob, ""); len(bobSees.Rooms.Join[room].Timeline.Events) == 0 {
			t.Error("bob's own sync lost his room")
		}

		s.ignore(t, alice)
		s.say(t, bob, room, "b2", "bob again")
		next := s.mustSync(t, alice, first.NextBatch)
		if msgs, _ := bodies(t, next.Rooms.Join[room].Timeline.Events); !slices.Equal(msgs, []string{"bob again"}) {
			t.Errorf("after un-ignoring: got %q, want bob's new message", msgs)
		}
	})
}

// TestAPI_IgnoredUsersRelations: /relations and /threads leave out the
// events of ignored users.
func TestAPI_IgnoredUsersRelations(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice, bob, carol, room := s.ignoringRoom(t)
		inThread := func(root string) map[string]any {
			return map[string]any{"rel_type": "m.thread", "event_id": root}
		}
		carolsRoot := s.pushSend(t, carol, room, map[string]any{"body": "carol's thread"})
		s.pushSend(t, bob, room, map[string]any{"body": "bob replies", "m.relates_to": inThread(carolsRoot)})
		s.pushSend(t, carol, room, map[string]any{"body": "carol replies", "m.relates_to": inThread(carolsRoot)})
		bobsRoot := s.pushSend(t, bob, room, map[string]any{"body": "bob's thread"})
		s.pushSend(t, carol, room, map[string]any{"body": "carol in bob's", "m.relates_to": inThread(bobsRoot)})

		chunk := func(path string) []string {
			t.Helper()
			r := s.do(t, "GET", v1+"/rooms/"+url.PathEscape(room)+path, alice.Token, nil)
			wantOK(t, r)
			var page struct {
				Chunk []json.RawMessage `json:"chunk"`
			}
			if err := json.Unmarshal(r.Raw, &page); err != nil {
				t.Fatal(err)
			}
			msgs, _ := bodies(t, page.Chunk)
			return msgs
		}
		if got := chunk("/relations/" + url.PathEscape(carolsRoot)); !slices.Equal(got, []string{"carol replies"}) {
			t.Errorf("/relations: got %q, want only carol's reply", got)
		}
		if got := chunk("/threads"); !slices.Equal(got, []string{"carol's thread"}) {
			t.Errorf("/threads: got %q, want only carol's thread", got)
		}
	})
}
