package clientapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sync/atomic"
	"testing"
)

var pushTxn atomic.Int64

// pushSend sends a message with the content and returns its event id.
func (s *testServer) pushSend(t *testing.T, u user, roomID string, content map[string]any) string {
	t.Helper()
	if content["msgtype"] == nil {
		content["msgtype"] = "m.text"
	}
	path := fmt.Sprintf("%s/rooms/%s/send/m.room.message/push%d", v3, url.PathEscape(roomID), pushTxn.Add(1))
	r := s.do(t, "PUT", path, u.Token, content)
	wantOK(t, r)
	return r.str("event_id")
}

// unread is a joined room's counts in a /sync response.
type unread struct {
	Present bool // the room is in the response
	Room    counts
	Threads map[string]counts
}

type counts struct {
	Highlight    int `json:"highlight_count"`
	Notification int `json:"notification_count"`
}

// syncUnread syncs (since "" for an initial sync, filter "" for none) and
// returns the room's counts and the next batch token.
func (s *testServer) syncUnread(t *testing.T, u user, roomID, since, filter string) (unread, string) {
	t.Helper()
	q := url.Values{}
	if since != "" {
		q.Set("since", since)
	}
	if filter != "" {
		q.Set("filter", filter)
	}
	r := s.do(t, "GET", v3+"/sync?"+q.Encode(), u.Token, nil)
	wantOK(t, r)
	var body struct {
		NextBatch string `json:"next_batch"`
		Rooms     struct {
			Join map[string]struct {
				Unread  *counts           `json:"unread_notifications"`
				Threads map[string]counts `json:"unread_thread_notifications"`
			} `json:"join"`
		} `json:"rooms"`
	}
	if err := json.Unmarshal(r.Raw, &body); err != nil {
		t.Fatal(err)
	}
	jr, ok := body.Rooms.Join[roomID]
	if ok && jr.Unread == nil {
		t.Fatalf("joined room without unread_notifications: %s", r.Raw)
	}
	out := unread{Present: ok, Threads: jr.Threads}
	if ok {
		out.Room = *jr.Unread
	}
	return out, body.NextBatch
}

func wantUnread(t *testing.T, got unread, notifications, highlights int) {
	t.Helper()
	if !got.Present {
		t.Fatal("room missing from the sync")
	}
	if got.Room.Notification != notifications || got.Room.Highlight != highlights {
		t.Fatalf("unread_notifications: got %+v, want %d/%d", got.Room, notifications, highlights)
	}
}

func (s *testServer) receipt(t *testing.T, u user, roomID, typ, eventID string, body map[string]any) {
	t.Helper()
	path := fmt.Sprintf("%s/rooms/%s/receipt/%s/%s", v3, url.PathEscape(roomID), typ, url.PathEscape(eventID))
	if body == nil {
		body = map[string]any{}
	}
	wantOK(t, s.do(t, "POST", path, u.Token, body))
}

// TestAPI_NotificationCounts: counts rise with messages, per thread when
// the filter asks, and drop with read receipts of either kind, each such
// change bringing the room into the next incremental sync.
func TestAPI_NotificationCounts(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice password")
		bob := s.mustRegister(t, "bob", "bob password")
		carol := s.mustRegister(t, "carol", "carol password")
		roomID := s.dirRoom(t, alice, map[string]any{"preset": "public_chat"})
		s.dirJoin(t, bob, roomID)
		s.dirJoin(t, carol, roomID)

		first := s.pushSend(t, alice, roomID, map[string]any{"body": "hello"})
		s.pushSend(t, alice, roomID, map[string]any{"body": "bob?", "m.mentions": map[string]any{"user_ids": []string{bob.ID}}})
		last := s.pushSend(t, alice, roomID, map[string]any{"body": "anyone"})
		got, since := s.syncUnread(t, bob, roomID, "", "")
		wantUnread(t, got, 3, 1)

		t.Run("PrivateReceipt", func(t *testing.T) {
			s.receipt(t, bob, roomID, "m.read.private", first, nil)
			got, next := s.syncUnread(t, bob, roomID, since, "")
			wantUnread(t, got, 2, 1)
			since = next
		})
		t.Run("PublicReceipt", func(t *testing.T) {
			s.receipt(t, bob, roomID, "m.read", last, nil)
			got, next := s.syncUnread(t, bob, roomID, since, "")
			wantUnread(t, got, 0, 0)
			since = next
		})
		t.Run("OlderReceiptReadsNothing", func(t *testing.T) {
			s.pushSend(t, alice, roomID, map[string]any{"body": "more"})
			s.receipt(t, bob, roomID, "m.read.private", first, nil)
			got, _ := s.syncUnread(t, bob, roomID, since, "")
			wantUnread(t, got, 1, 0)
		})
		t.Run("Threads", func(t *testing.T) {
			root := s.pushSend(t, alice, roomID, map[string]any{"body": "root"})
			reply := s.pushSend(t, alice, roomID, map[string]any{"body": "in thread",
				"m.relates_to": map[string]any{"rel_type": "m.thread", "event_id": root}})
			filter := `{"room":{"timeline":{"unread_thread_notifications":true}}}`
			got, _ := s.syncUnread(t, carol, roomID, "", filter)
			wantUnread(t, got, 5, 0) // hello, bob?, anyone, more, root
			if fmt.Sprint(got.Threads) != fmt.Sprint(map[string]counts{root: {Notification: 1}}) {
				t.Fatalf("unread_thread_notifications: got %v", got.Threads)
			}
			s.receipt(t, carol, roomID, "m.read", reply, map[string]any{"thread_id": root})
			got, _ = s.syncUnread(t, carol, roomID, "", filter)
			wantUnread(t, got, 5, 0)
			if len(got.Threads) != 0 {
				t.Fatalf("after the thread's receipt: got %v", got.Threads)
			}
			got, _ = s.syncUnread(t, carol, roomID, "", "")
			wantUnread(t, got, 5, 0) // without the filter threads count with the room
			s.receipt(t, carol, roomID, "m.read", root, map[string]any{"thread_id": "main"})
			got, _ = s.syncUnread(t, carol, roomID, "", "")
			wantUnread(t, got, 0, 0)
		})
		t.Run("SenderReads", func(t *testing.T) {
			// Sending in the main timeline reads it, not the thread.
			s.pushSend(t, bob, roomID, map[string]any{"body": "I read the room"})
			got, _ := s.syncUnread(t, bob, roomID, "", `{"room":{"timeline":{"unread_thread_notifications":true}}}`)
			wantUnread(t, got, 0, 0)
			if len(got.Threads) != 1 {
				t.Fatalf("thread counts: got %v, want the thread's reply", got.Threads)
			}
		})
	})
}

// TestAPI_Notifications lists what the push rules notified a user of.
func TestAPI_Notifications(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice password")
		bob := s.mustRegister(t, "bob", "bob password")
		roomID := s.dirRoom(t, alice, map[string]any{"preset": "public_chat"})
		s.dirJoin(t, bob, roomID)
		first := s.pushSend(t, alice, roomID, map[string]any{"body": "one"})
		mention := s.pushSend(t, alice, roomID, map[string]any{"body": "two",
			"m.mentions": map[string]any{"user_ids": []string{bob.ID}}})
		s.pushSend(t, alice, roomID, map[string]any{"msgtype": "m.notice", "body": "a notice notifies nobody"})
		third := s.pushSend(t, alice, roomID, map[string]any{"body": "three"})
		s.syncUnread(t, bob, roomID, "", "") // counted once /sync shows them
		s.receipt(t, bob, roomID, "m.read", first, nil)

		list := func(query string) (ids []string, read []bool, next string) {
			t.Helper()
			r := s.do(t, "GET", v3+"/notifications"+query, bob.Token, nil)
			wantOK(t, r)
			var body struct {
				NextToken     string `json:"next_token"`
				Notifications []struct {
					Actions []any          `json:"actions"`
					Event   map[string]any `json:"event"`
					Read    bool           `json:"read"`
					RoomID  string         `json:"room_id"`
					TS      int64          `json:"ts"`
				} `json:"notifications"`
			}
			if err := json.Unmarshal(r.Raw, &body); err != nil {
				t.Fatal(err)
			}
			for _, n := range body.Notifications {
				if n.RoomID != roomID || len(n.Actions) == 0 || n.TS == 0 || n.Event["room_id"] != nil {
					t.Errorf("notification: got %+v", n)
				}
				id, _ := n.Event["event_id"].(string)
				ids = append(ids, id)
				read = append(read, n.Read)
			}
			return ids, read, body.NextToken
		}
		t.Run("OK", func(t *testing.T) {
			ids, read, next := list("")
			if fmt.Sprint(ids) != fmt.Sprint([]string{third, mention, first}) || fmt.Sprint(read) != "[false false true]" {
				t.Fatalf("got %v read %v, want [third mention first] read [false false true]", ids, read)
			}
			if next != "" {
				t.Errorf("got next_token %q on the last page", next)
			}
		})
		t.Run("OKPages", func(t *testing.T) {
			var all []string
			from := ""
			for page := 0; page < 5; page++ {
				query := "?limit=2"
				if from != "" {
					query += "&from=" + from
				}
				ids, _, next := list(query)
				all = append(all, ids...)
				if next == "" {
					break
				}
				from = next
			}
			if fmt.Sprint(all) != fmt.Sprint([]string{third, mention, first}) {
				t.Fatalf("pages: got %v", all)
			}
		})
		t.Run("OKOnlyHighlight", func(t *testing.T) {
			if ids, _, _ := list("?only=highlight"); fmt.Sprint(ids) != fmt.Sprint([]string{mention}) {
				t.Fatalf("highlights: got %v, want the mention", ids)
			}
		})
		t.Run("ErrInvalidParam", func(t *testing.T) {
			wantErr(t, s.do(t, "GET", v3+"/notifications?from=x", bob.Token, nil), http.StatusBadRequest, "M_INVALID_PARAM")
			wantErr(t, s.do(t, "GET", v3+"/notifications?limit=0", bob.Token, nil), http.StatusBadRequest, "M_INVALID_PARAM")
		})
		t.Run("OKOthersSeeNothing", func(t *testing.T) {
			r := s.do(t, "GET", v3+"/notifications", alice.Token, nil)
			wantOK(t, r)
			if string(r.Raw) != `{"notifications":[]}` {
				t.Errorf("alice's notifications: got %s", r.Raw)
			}
		})
	})
}
