package clientapi_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"testing"
)

// Room behaviours the Complement suite checks (tests/csapi) that the other
// tests do not cover.

func roomPath(roomID string) string { return v3 + "/rooms/" + url.PathEscape(roomID) }

// TestAPI_Kick is Complement's TestCannotKickNonPresentUser and
// TestCannotKickLeftUser: only a user who is in the room (or invited or
// knocking) can be kicked.
func TestAPI_Kick(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice password")
		bob := s.mustRegister(t, "bob", "bob password")
		room := s.dirRoom(t, alice, map[string]any{"preset": "public_chat"})
		kick := func() response {
			return s.do(t, "POST", roomPath(room)+"/kick", alice.Token, map[string]any{"user_id": bob.ID, "reason": "testing"})
		}
		t.Run("ErrNeverJoined", func(t *testing.T) {
			wantErr(t, kick(), http.StatusForbidden, "M_FORBIDDEN")
		})
		t.Run("OK", func(t *testing.T) {
			s.dirJoin(t, bob, room)
			wantOK(t, kick())
		})
		t.Run("ErrLeft", func(t *testing.T) {
			wantErr(t, kick(), http.StatusForbidden, "M_FORBIDDEN")
			s.dirJoin(t, bob, room)
			wantOK(t, s.do(t, "POST", roomPath(room)+"/leave", bob.Token, map[string]any{}))
			wantErr(t, kick(), http.StatusForbidden, "M_FORBIDDEN")
		})
	})
}

// TestAPI_JoinCustomContent is Complement's "POST /join/:room_id can join a
// room with custom content": extra body keys land in the member event, but
// cannot change the membership.
func TestAPI_JoinCustomContent(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice password")
		bob := s.mustRegister(t, "bob", "bob password")
		room := s.dirRoom(t, alice, map[string]any{"preset": "public_chat"})
		wantOK(t, s.do(t, "POST", v3+"/join/"+url.PathEscape(room), bob.Token,
			map[string]any{"foo": "bar", "membership": "leave", "reason": "hello"}))
		r := s.do(t, "GET", roomPath(room)+"/state/m.room.member/"+url.PathEscape(bob.ID), bob.Token, nil)
		wantOK(t, r)
		for key, want := range map[string]string{"membership": "join", "foo": "bar", "reason": "hello"} {
			if got := r.str(key); got != want {
				t.Errorf("member content %s: got %q, want %q", key, got, want)
			}
		}
	})
}

// TestAPI_CreateRoomRichTopic is Complement's "POST /createRoom makes a room
// with a topic and writes rich topic representation".
func TestAPI_CreateRoomRichTopic(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice password")
		room := s.dirRoom(t, alice, map[string]any{"preset": "public_chat", "topic": "Test Room"})
		r := s.do(t, "GET", roomPath(room)+"/state/m.room.topic/", alice.Token, nil)
		wantOK(t, r)
		var c struct {
			Topic string `json:"topic"`
			Rich  struct {
				Text []struct {
					Body     string `json:"body"`
					MimeType string `json:"mimetype"`
				} `json:"m.text"`
			} `json:"m.topic"`
		}
		if err := json.Unmarshal(r.Raw, &c); err != nil {
			t.Fatal(err)
		}
		if c.Topic != "Test Room" || len(c.Rich.Text) != 1 || c.Rich.Text[0].Body != "Test Room" ||
			(c.Rich.Text[0].MimeType != "" && c.Rich.Text[0].MimeType != "text/plain") {
			t.Errorf("topic content: got %s, want the topic also as one text/plain m.topic entry", r.Raw)
		}
	})
}

// TestAPI_JoinedMembersNoProfile is Complement's "GET
// /rooms/:room_id/joined_members fetches my membership": a member without
// a display name or avatar has both keys, null.
func TestAPI_JoinedMembersNoProfile(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice password")
		room := s.dirRoom(t, alice, map[string]any{"preset": "public_chat"})
		r := s.do(t, "GET", roomPath(room)+"/joined_members", alice.Token, nil)
		wantOK(t, r)
		var body struct {
			Joined map[string]map[string]any `json:"joined"`
		}
		if err := json.Unmarshal(r.Raw, &body); err != nil {
			t.Fatal(err)
		}
		me, ok := body.Joined[alice.ID]
		if !ok {
			t.Fatalf("joined members: got %s, want %s", r.Raw, alice.ID)
		}
		for _, key := range []string{"display_name", "avatar_url"} {
			if v, set := me[key]; !set || v != nil {
				t.Errorf("joined member %s: got %v (set %v), want null", key, v, set)
			}
		}
	})
}

// TestAPI_MessagesFromSyncToken is Complement's TestSendAndFetchMessage and
// TestLeftRoomFixture: /messages and /relations take a /sync next_batch as
// from, meaning the position after what that sync returned.
func TestAPI_MessagesFromSyncToken(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice password")
		room := s.dirRoom(t, alice, map[string]any{"preset": "public_chat"})
		send := func(txn, body string) {
			wantOK(t, s.do(t, "PUT", roomPath(room)+"/send/m.room.message/"+txn, alice.Token,
				map[string]any{"msgtype": "m.text", "body": body}))
		}
		send("t1", "before")
		sync := s.do(t, "GET", v3+"/sync?timeout=0", alice.Token, nil)
		wantOK(t, sync)
		token := sync.str("next_batch")
		send("t2", "after")
		bodies := func(dir string) []string {
			r := s.do(t, "GET", roomPath(room)+"/messages?dir="+dir+"&from="+url.QueryEscape(token), alice.Token, nil)
			wantOK(t, r)
			var page struct {
				Chunk []struct {
					Type    string `json:"type"`
					Content struct {
						Body string `json:"body"`
					} `json:"content"`
				} `json:"chunk"`
			}
			if err := json.Unmarshal(r.Raw, &page); err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, ev := range page.Chunk {
				if ev.Type == "m.room.message" {
					out = append(out, ev.Content.Body)
				}
			}
			return out
		}
		if got := bodies("f"); len(got) != 1 || got[0] != "after" {
			t.Errorf("messages forwards from next_batch: got %v, want [after]", got)
		}
		if got := bodies("b"); len(got) != 1 || got[0] != "before" {
			t.Errorf("messages backwards from next_batch: got %v, want [before]", got)
		}
		t.Run("ErrMalformed", func(t *testing.T) {
			for _, from := range []string{"x1", "s", "s1_x", "m-1"} {
				r := s.do(t, "GET", roomPath(room)+"/messages?dir=b&from="+url.QueryEscape(from), alice.Token, nil)
				wantErr(t, r, http.StatusBadRequest, "M_INVALID_PARAM")
			}
		})
	})
}

// TestAPI_TxnIDs is Complement's TestTxnIdempotency, TestTxnInEvent and
// TestTxnScopeOnLocalEcho: transaction ids are scoped to the device and
// the room and endpoint, and the sending device sees its transaction id
// in unsigned.transaction_id of the event and in /sync.
func TestAPI_TxnIDs(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice password")
		phone := s.mustLogin(t, "alice", "alice password")
		room1 := s.dirRoom(t, alice, map[string]any{})
		room2 := s.dirRoom(t, alice, map[string]any{})
		send := func(room, body string) string {
			r := s.do(t, "PUT", roomPath(room)+"/send/m.room.message/abc", alice.Token, map[string]any{"msgtype": "m.text", "body": body})
			wantOK(t, r)
			return r.str("event_id")
		}
		first := send(room1, "first")
		if again := send(room1, "second"); again != first {
			t.Errorf("same txn id in the same room: got %s, want %s", again, first)
		}
		if other := send(room2, "first"); other == first {
			t.Errorf("same txn id in another room: got the first room's event %s, want a new one", other)
		}
		r := s.do(t, "PUT", roomPath(room1)+"/redact/"+url.PathEscape(first)+"/abc", alice.Token, map[string]any{})
		wantOK(t, r)
		if got := r.str("event_id"); got == first {
			t.Errorf("redaction with a send's txn id: got the sent event %s, want a redaction", got)
		}
		txnOf := func(u user, eventID string) any {
			r := s.do(t, "GET", roomPath(room1)+"/event/"+url.PathEscape(eventID), u.Token, nil)
			wantOK(t, r)
			unsigned, _ := r.Body["unsigned"].(map[string]any)
			return unsigned["transaction_id"]
		}
		if got := txnOf(alice, first); got != "abc" {
			t.Errorf("GET event by the sending device: got transaction_id %v, want abc", got)
		}
		if got := txnOf(phone, first); got != nil {
			t.Errorf("GET event by another device: got transaction_id %v, want none", got)
		}
		syncTxn := func(u user) any {
			r := s.do(t, "GET", v3+"/sync?timeout=0", u.Token, nil)
			wantOK(t, r)
			var body struct {
				Rooms struct {
					Join map[string]struct {
						Timeline struct {
							Events []struct {
								EventID  string         `json:"event_id"`
								Unsigned map[string]any `json:"unsigned"`
							} `json:"events"`
						} `json:"timeline"`
					} `json:"join"`
				} `json:"rooms"`
			}
			if err := json.Unmarshal(r.Raw, &body); err != nil {
				t.Fatal(err)
			}
			for _, ev := range body.Rooms.Join[room1].Timeline.Events {
				if ev.EventID == first {
					return ev.Unsigned["transaction_id"]
				}
			}
			t.Fatalf("sync: event %s missing from the timeline of %s", first, room1)
			return nil
		}
		if got := syncTxn(alice); got != "abc" {
			t.Errorf("sync of the sending device: got transaction_id %v, want abc", got)
		}
		if got := syncTxn(phone); got != nil {
			t.Errorf("sync of another device: got transaction_id %v, want none", got)
		}
	})
}

// TestAPI_MessagesTokens: /messages' start names where the page began (the
// room's end when dir=b has no from, so paging forwards from it gives only
// what came later), and to stops a page at a token from either direction.
func TestAPI_MessagesTokens(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice password")
		room := s.dirRoom(t, alice, map[string]any{"preset": "public_chat"})
		s.say(t, alice, room, "m1", "one")
		s.say(t, alice, room, "m2", "two")
		middle := s.mustSync(t, alice, "").NextBatch
		s.say(t, alice, room, "m3", "three")
		s.say(t, alice, room, "m4", "four")

		page := func(query string) (bodies []string, start string) {
			t.Helper()
			var p struct {
				Start string         `json:"start"`
				Chunk []eventSummary `json:"chunk"`
			}
			s.getJSON(t, "GET", roomPath(room)+"/messages?limit=50&"+query, alice, nil, &p)
			for _, ev := range p.Chunk {
				if ev.Type == "m.room.message" {
					bodies = append(bodies, ev.Content.Body)
				}
			}
			return bodies, p.Start
		}
		for _, c := range []struct {
			query string
			want  []string
		}{
			{"dir=b&to=" + url.QueryEscape(middle), []string{"four", "three"}},
			{"dir=f&to=" + url.QueryEscape(middle), []string{"one", "two"}},
			{"dir=b&from=" + url.QueryEscape(middle), []string{"two", "one"}},
			{"dir=f&from=" + url.QueryEscape(middle), []string{"three", "four"}},
		} {
			if got, _ := page(c.query); !slices.Equal(got, c.want) {
				t.Errorf("messages?%s: got %v, want %v", c.query, got, c.want)
			}
		}

		_, start := page("dir=b")
		s.say(t, alice, room, "m5", "five")
		if got, _ := page("dir=f&from=" + url.QueryEscape(start)); !slices.Equal(got, []string{"five"}) {
			t.Errorf("forwards from the start of a dir=b page without from (%s): got %v, want [five]", start, got)
		}
	})
}
