package clientapi_test

import (
	"encoding/json"
	"net/url"
	"slices"
	"testing"
)

// TestAPI_SyncEventShape: a filter's event_fields reduce every event to
// the named fields (with "\." for a literal dot) and event_format
// "federation" serves room events as the stored PDUs.
func TestAPI_SyncEventShape(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice password")
		room := s.dirRoom(t, alice, map[string]any{"preset": "private_chat"})
		wantOK(t, s.do(t, "PUT", v3+"/rooms/"+url.PathEscape(room)+"/send/m.room.message/t1", alice.Token,
			map[string]any{"msgtype": "m.text", "body": "hello", "org.example.key": "dotted", "nested": map[string]any{"x": 1}}))

		timeline := func(filter string) []map[string]any {
			t.Helper()
			r := s.do(t, "GET", v3+"/sync?timeout=0&filter="+url.QueryEscape(filter), alice.Token, nil)
			wantOK(t, r)
			var body struct {
				Rooms struct {
					Join map[string]struct {
						Timeline struct {
							Events []map[string]any `json:"events"`
						} `json:"timeline"`
					} `json:"join"`
				} `json:"rooms"`
			}
			if err := json.Unmarshal(r.Raw, &body); err != nil {
				t.Fatal(err)
			}
			events := body.Rooms.Join[room].Timeline.Events
			if len(events) == 0 {
				t.Fatalf("no timeline for %s in %s", room, r.Raw)
			}
			return events
		}

		fields := `{"event_fields":["type","content.body","content.org\\.example\\.key","content.nested.x","content.missing"]}`
		events := timeline(fields)
		last, _ := json.Marshal(events[len(events)-1])
		want := `{"content":{"body":"hello","nested":{"x":1},"org.example.key":"dotted"},"type":"m.room.message"}`
		if string(last) != want {
			t.Errorf("event_fields: got %s, want %s", last, want)
		}
		for _, ev := range events[:len(events)-1] {
			if _, ok := ev["event_id"]; ok || ev["type"] == nil {
				t.Errorf("event_fields: state event %v keeps more or less than its type", ev)
			}
		}

		for _, ev := range timeline(`{"event_format":"federation"}`) {
			if _, ok := ev["auth_events"]; !ok {
				t.Errorf("federation format: event %v has no auth_events", ev)
			}
			if _, ok := ev["hashes"]; !ok {
				t.Errorf("federation format: event %v has no hashes", ev)
			}
		}
		plain := timeline(`{}`)
		if _, ok := plain[0]["auth_events"]; ok {
			t.Error("client format: event has auth_events")
		}
	})
}

// nameUnsigned is the unsigned part of an m.room.name event.
type nameUnsigned struct {
	PrevContent *struct{ Name string } `json:"prev_content"`
}

// TestAPI_SyncPrevContent: a state event in a timeline carries the content
// of the state it replaced as unsigned.prev_content; a first one carries
// none.
func TestAPI_SyncPrevContent(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice password")
		room := s.dirRoom(t, alice, map[string]any{"preset": "private_chat"})
		var second string
		for _, name := range []string{"First", "Second"} {
			r := s.do(t, "PUT", v3+"/rooms/"+url.PathEscape(room)+"/state/m.room.name/", alice.Token,
				map[string]any{"name": name})
			wantOK(t, r)
			second = r.str("event_id")
		}
		r := s.do(t, "GET", v3+"/sync?timeout=0", alice.Token, nil)
		wantOK(t, r)
		var body struct {
			Rooms struct {
				Join map[string]struct {
					Timeline struct {
						Events []struct {
							Type     string `json:"type"`
							Content  struct{ Name string }
							Unsigned nameUnsigned
						} `json:"events"`
					} `json:"timeline"`
				} `json:"join"`
			} `json:"rooms"`
		}
		if err := json.Unmarshal(r.Raw, &body); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, ev := range body.Rooms.Join[room].Timeline.Events {
			if ev.Type != "m.room.name" {
				continue
			}
			prev := "none"
			if ev.Unsigned.PrevContent != nil {
				prev = ev.Unsigned.PrevContent.Name
			}
			got = append(got, ev.Content.Name+"<-"+prev)
		}
		if want := []string{"First<-none", "Second<-First"}; !slices.Equal(got, want) {
			t.Errorf("m.room.name events in /sync: got %v, want %v", got, want)
		}

		r = s.do(t, "GET", v3+"/rooms/"+url.PathEscape(room)+"/messages?dir=b&limit=2", alice.Token, nil)
		wantOK(t, r)
		var page struct {
			Chunk []struct {
				Content  struct{ Name string }
				Unsigned nameUnsigned
			} `json:"chunk"`
		}
		if err := json.Unmarshal(r.Raw, &page); err != nil {
			t.Fatal(err)
		}
		if len(page.Chunk) != 2 || page.Chunk[0].Unsigned.PrevContent == nil ||
			page.Chunk[0].Unsigned.PrevContent.Name != "First" || page.Chunk[1].Unsigned.PrevContent != nil {
			t.Errorf("/messages: got %s, want the second name with prev_content First, the first without", r.Raw)
		}

		r = s.do(t, "GET", v3+"/rooms/"+url.PathEscape(room)+"/context/"+url.PathEscape(second)+"?limit=2", alice.Token, nil)
		wantOK(t, r)
		var around struct {
			Event struct {
				Unsigned nameUnsigned
			} `json:"event"`
		}
		if err := json.Unmarshal(r.Raw, &around); err != nil {
			t.Fatal(err)
		}
		if p := around.Event.Unsigned.PrevContent; p == nil || p.Name != "First" {
			t.Errorf("/context: got %s, want the event with prev_content First", r.Raw)
		}

		r = s.do(t, "GET", v3+"/rooms/"+url.PathEscape(room)+"/event/"+url.PathEscape(second), alice.Token, nil)
		wantOK(t, r)
		var single struct {
			Unsigned nameUnsigned
		}
		if err := json.Unmarshal(r.Raw, &single); err != nil {
			t.Fatal(err)
		}
		if p := single.Unsigned.PrevContent; p == nil || p.Name != "First" {
			t.Errorf("/event: got %s, want the event with prev_content First", r.Raw)
		}
	})
}
