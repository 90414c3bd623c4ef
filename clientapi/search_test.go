package clientapi_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/ganglion/ganglion/clientapi/search"
)

// searchIndex brings the search index up to date, as the server's indexer
// does in the background.
func (s *testServer) searchIndex(t *testing.T) {
	t.Helper()
	log := logrus.New()
	log.SetOutput(io.Discard)
	log.AddHook(testLogHook{t})
	ix, err := search.New(search.Deps{DB: s.DB, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ix.CatchUp(t.Context()); err != nil {
		t.Fatalf("index: %v", err)
	}
}

var searchTxn atomic.Int64

// searchSend sends an event to a room and returns its id.
func (s *testServer) searchSend(t *testing.T, u user, roomID, typ string, content any) string {
	t.Helper()
	path := fmt.Sprintf("%s/rooms/%s/send/%s/t%d", v3, url.PathEscape(roomID), typ, searchTxn.Add(1))
	r := s.do(t, "PUT", path, u.Token, content)
	wantOK(t, r)
	return r.str("event_id")
}

func (s *testServer) searchSay(t *testing.T, u user, roomID, body string) string {
	t.Helper()
	return s.searchSend(t, u, roomID, "m.room.message", map[string]string{"msgtype": "m.text", "body": body})
}

func (s *testServer) searchState(t *testing.T, u user, roomID, typ string, content any) {
	t.Helper()
	wantOK(t, s.do(t, "PUT", v3+"/rooms/"+url.PathEscape(roomID)+"/state/"+typ, u.Token, content))
}

// searchResults is the room_events part of a search answer.
type searchResults struct {
	Count      int      `json:"count"`
	Highlights []string `json:"highlights"`
	NextBatch  string   `json:"next_batch"`
	Results    []struct {
		Rank   float64 `json:"rank"`
		Result struct {
			EventID string          `json:"event_id"`
			RoomID  string          `json:"room_id"`
			Sender  string          `json:"sender"`
			Content json.RawMessage `json:"content"`
		} `json:"result"`
		Context *struct {
			Before      []searchEvent            `json:"events_before"`
			After       []searchEvent            `json:"events_after"`
			Start       string                   `json:"start"`
			End         string                   `json:"end"`
			ProfileInfo map[string]searchProfile `json:"profile_info"`
		} `json:"context"`
	} `json:"results"`
	Groups map[string]map[string]struct {
		Order     int      `json:"order"`
		Results   []string `json:"results"`
		NextBatch string   `json:"next_batch"`
	} `json:"groups"`
	State map[string][]searchEvent `json:"state"`
}

type searchEvent struct {
	EventID string `json:"event_id"`
	Type    string `json:"type"`
}

type searchProfile struct {
	DisplayName string `json:"displayname"`
}

func (r searchResults) ids() []string {
	out := make([]string, len(r.Results))
	for i, res := range r.Results {
		out[i] = res.Result.EventID
	}
	return out
}

// searchAsk sends a room_events search with criteria (search_term added)
// from the next_batch token (none if "") and returns the answer.
func (s *testServer) searchAsk(t *testing.T, u user, term string, criteria map[string]any, next string) searchResults {
	t.Helper()
	body := map[string]any{"search_term": term}
	for k, v := range criteria {
		body[k] = v
	}
	path := v3 + "/search"
	if next != "" {
		path += "?next_batch=" + url.QueryEscape(next)
	}
	r := s.do(t, "POST", path, u.Token, map[string]any{"search_categories": map[string]any{"room_events": body}})
	wantOK(t, r)
	var out struct {
		Categories struct {
			RoomEvents searchResults `json:"room_events"`
		} `json:"search_categories"`
	}
	if err := json.Unmarshal(r.Raw, &out); err != nil {
		t.Fatalf("%s: %v: %s", r.Req, err, r.Raw)
	}
	return out.Categories.RoomEvents
}

func wantSearch(t *testing.T, s *testServer, u user, term string, criteria map[string]any, want ...string) searchResults {
	t.Helper()
	got := s.searchAsk(t, u, term, criteria, "")
	if !slices.Equal(got.ids(), want) {
		t.Errorf("%s searches %q %v: got %v, want %v", u.Localpart, term, criteria, got.ids(), want)
	}
	return got
}

func TestAPI_Search(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice password")
		bob := s.mustRegister(t, "bob", "bob password")
		carol := s.mustRegister(t, "carol", "carol password")
		wantOK(t, s.do(t, "PUT", v3+"/profile/"+alice.ID+"/displayname", alice.Token, map[string]string{"displayname": "Alice A."}))
		site := s.dirRoom(t, alice, map[string]any{"name": "Site 7", "topic": "Roofing", "invite": []string{bob.ID}})
		s.dirJoin(t, bob, site)
		office := s.dirRoom(t, alice, map[string]any{"name": "Office"})
		carols := s.dirRoom(t, carol, map[string]any{})

		t1 := s.searchSay(t, alice, site, "The tiles arrive on Monday")
		hi := s.searchSay(t, bob, site, "hi")
		t2 := s.searchSay(t, bob, site, "Crane booked for the roof tiles")
		t3 := s.searchSay(t, alice, office, "Invoice for tiles, tiles and tiles")
		s.searchSay(t, carol, carols, "Carol's private tiles")
		s.searchIndex(t)

		t.Run("Words", func(t *testing.T) {
			got := wantSearch(t, s, alice, "TILES", map[string]any{"order_by": "recent"}, t3, t2, t1)
			if got.Count != 3 || !slices.Contains(got.Highlights, "tiles") || got.NextBatch != "" {
				t.Errorf("count, highlights, next_batch: got %d, %q, %q, want 3, tiles among them, none",
					got.Count, got.Highlights, got.NextBatch)
			}
			if got.Results[0].Result.RoomID != office || got.Results[0].Result.Sender != alice.ID {
				t.Errorf("first result: got room %s sender %s, want %s %s",
					got.Results[0].Result.RoomID, got.Results[0].Result.Sender, office, alice.ID)
			}
			wantSearch(t, s, alice, "crane roof", nil, t2)
			wantSearch(t, s, alice, "til monday", nil, t1)
			wantSearch(t, s, alice, "bricks", nil)
			got = s.searchAsk(t, alice, "roofing", nil, "") // topics are searched...
			if len(got.Results) != 1 {
				t.Errorf("topic search: got %v, want the topic event", got.ids())
			}
			wantSearch(t, s, alice, "roofing", map[string]any{"keys": []string{"content.body"}}) // ...unless not asked
		})
		t.Run("OnlyOwnRooms", func(t *testing.T) {
			wantSearch(t, s, bob, "tiles", map[string]any{"order_by": "recent"}, t2, t1)
			got := s.searchAsk(t, carol, "tiles", nil, "")
			if len(got.Results) != 1 || got.Results[0].Result.RoomID != carols {
				t.Errorf("carol's search: got %v, want her own message only", got.ids())
			}
		})
		t.Run("Rank", func(t *testing.T) {
			got := wantSearch(t, s, alice, "tiles", nil, t3, t1, t2)
			if !(got.Results[0].Rank > got.Results[2].Rank) {
				t.Errorf("ranks: got %v then %v, want decreasing", got.Results[0].Rank, got.Results[2].Rank)
			}
		})
		t.Run("Filter", func(t *testing.T) {
			recent := map[string]any{"order_by": "recent"}
			filter := func(f map[string]any) map[string]any { return map[string]any{"order_by": "recent", "filter": f} }
			wantSearch(t, s, alice, "tiles", filter(map[string]any{"rooms": []string{site, carols}}), t2, t1)
			wantSearch(t, s, alice, "tiles", filter(map[string]any{"not_rooms": []string{site}}), t3)
			wantSearch(t, s, alice, "tiles", filter(map[string]any{"senders": []string{bob.ID}}), t2)
			wantSearch(t, s, alice, "tiles", filter(map[string]any{"not_senders": []string{bob.ID}}), t3, t1)
			wantSearch(t, s, alice, "tiles", filter(map[string]any{"types": []string{"m.room.name"}}))
			wantSearch(t, s, alice, "tiles", filter(map[string]any{"not_types": []string{"m.room.*"}}))
			wantSearch(t, s, alice, "tiles", recent, t3, t2, t1)
			wantSearch(t, s, alice, "hi", filter(map[string]any{"contains_url": true}))
			wantSearch(t, s, alice, "hi", filter(map[string]any{"contains_url": false}), hi)
		})
		t.Run("Context", func(t *testing.T) {
			got := wantSearch(t, s, alice, "crane", map[string]any{
				"event_context": map[string]any{"before_limit": 1, "after_limit": 3, "include_profile": true},
			}, t2)
			c := got.Results[0].Context
			if c == nil || len(c.Before) != 1 || c.Before[0].EventID != hi || len(c.After) != 0 || c.Start == "" || c.End == "" {
				t.Fatalf("context: got %+v, want %s before, nothing after, and tokens", c, hi)
			}
			if name := c.ProfileInfo[alice.ID].DisplayName; name != "" {
				t.Errorf("profile of alice, who sent no context event: got %q", name)
			}
			if _, ok := c.ProfileInfo[bob.ID]; !ok {
				t.Errorf("profile_info: got %v, want bob's", c.ProfileInfo)
			}
			got = wantSearch(t, s, alice, "monday", map[string]any{
				"event_context": map[string]any{"before_limit": 0, "after_limit": 1, "include_profile": true},
			}, t1)
			c = got.Results[0].Context
			if len(c.Before) != 0 || len(c.After) != 1 || c.After[0].EventID != hi || c.ProfileInfo[alice.ID].DisplayName != "Alice A." {
				t.Errorf("context: got %+v, want %s after and alice's display name", c, hi)
			}
		})
		t.Run("GroupsAndState", func(t *testing.T) {
			got := wantSearch(t, s, alice, "tiles", map[string]any{
				"order_by":      "recent",
				"include_state": true,
				"groupings":     map[string]any{"group_by": []map[string]string{{"key": "room_id"}, {"key": "sender"}}},
			}, t3, t2, t1)
			rooms, senders := got.Groups["room_id"], got.Groups["sender"]
			if g := rooms[site]; g.Order != 2 || !slices.Equal(g.Results, []string{t2, t1}) || rooms[office].Order != 1 {
				t.Errorf("room groups: got %+v, want office first, then site with %s, %s", rooms, t2, t1)
			}
			if g := senders[alice.ID]; g.Order != 1 || !slices.Equal(g.Results, []string{t3, t1}) || len(senders) != 2 {
				t.Errorf("sender groups: got %+v, want alice first with %s, %s", senders, t3, t1)
			}
			if len(got.State) != 2 || !slices.ContainsFunc(got.State[site], func(e searchEvent) bool { return e.Type == "m.room.create" }) {
				t.Errorf("state: got %d rooms, site's %+v, want 2 rooms with their create events", len(got.State), got.State[site])
			}
		})
		t.Run("Redaction", func(t *testing.T) {
			path := fmt.Sprintf("%s/rooms/%s/redact/%s/r1", v3, url.PathEscape(office), url.PathEscape(t3))
			wantOK(t, s.do(t, "PUT", path, alice.Token, map[string]any{}))
			wantSearch(t, s, alice, "invoice", nil) // hidden before the index catches up
			s.searchIndex(t)
			wantSearch(t, s, alice, "tiles", map[string]any{"order_by": "recent"}, t2, t1)
		})
	})
}

func TestAPI_SearchVisibility(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice password")
		bob := s.mustRegister(t, "bob", "bob password")
		dave := s.mustRegister(t, "dave", "dave password")
		room := s.dirRoom(t, alice, map[string]any{"preset": "public_chat"})
		s.searchState(t, alice, room, "m.room.history_visibility", map[string]string{"history_visibility": "joined"})
		early := s.searchSay(t, alice, room, "budget draft one")
		s.dirJoin(t, dave, room)
		s.dirJoin(t, bob, room)
		during := s.searchSay(t, alice, room, "budget draft two")
		wantOK(t, s.do(t, "POST", v3+"/rooms/"+url.PathEscape(room)+"/leave", bob.Token, map[string]any{}))
		late := s.searchSay(t, alice, room, "budget draft three")
		s.searchIndex(t)

		recent := map[string]any{"order_by": "recent"}
		wantSearch(t, s, alice, "budget", recent, late, during, early)
		wantSearch(t, s, dave, "budget", recent, late, during) // joined after the first
		wantSearch(t, s, bob, "budget", recent, during)        // left before the last

		// Forgetting the room ends its search.
		wantOK(t, s.do(t, "POST", v3+"/rooms/"+url.PathEscape(room)+"/forget", bob.Token, map[string]any{}))
		wantSearch(t, s, bob, "budget", recent)

		// Messages of ignored users are not found.
		s.ignore(t, dave, alice.ID)
		wantSearch(t, s, dave, "budget", recent)
	})
}

func TestAPI_SearchPages(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice password")
		bob := s.mustRegister(t, "bob", "bob password")
		one := s.dirRoom(t, alice, map[string]any{})
		two := s.dirRoom(t, alice, map[string]any{"invite": []string{bob.ID}})
		s.dirJoin(t, bob, two)
		var want []string
		for i := range 7 {
			room, u := one, alice
			if i%2 == 1 {
				room, u = two, bob
			}
			want = append(want, s.searchSay(t, u, room, fmt.Sprintf("report number %d", i)))
		}
		slices.Reverse(want)
		s.searchIndex(t)

		for _, order := range []string{"recent", "rank"} {
			t.Run(order, func(t *testing.T) {
				criteria := map[string]any{"order_by": order, "filter": map[string]any{"limit": 3}}
				var got []string
				next := ""
				for range 5 {
					page := s.searchAsk(t, alice, "report", criteria, next)
					if page.Count != 7 || len(page.Results) > 3 {
						t.Fatalf("page: got count %d and %d results, want 7 and at most 3", page.Count, len(page.Results))
					}
					got = append(got, page.ids()...)
					if next = page.NextBatch; next == "" {
						break
					}
				}
				if order == "recent" && !slices.Equal(got, want) {
					t.Errorf("pages: got %v, want %v", got, want)
				}
				slices.Sort(got)
				sorted := slices.Sorted(slices.Values(want))
				if !slices.Equal(got, sorted) {
					t.Errorf("pages: got %v, want each of %v once", got, sorted)
				}
			})
		}
		t.Run("FullLastPage", func(t *testing.T) {
			// A full page has a next_batch even when it holds the last
			// result; that token's page is empty and ends the results.
			criteria := map[string]any{"order_by": "recent", "filter": map[string]any{"limit": 7}}
			page := s.searchAsk(t, alice, "report", criteria, "")
			if len(page.Results) != 7 || page.NextBatch == "" {
				t.Fatalf("full page: got %d results and next_batch %q, want 7 and a token", len(page.Results), page.NextBatch)
			}
			end := s.searchAsk(t, alice, "report", criteria, page.NextBatch)
			if len(end.Results) != 0 || end.NextBatch != "" || end.Count != 7 {
				t.Fatalf("after the last: got %d results, count %d, next_batch %q; want none, 7, none",
					len(end.Results), end.Count, end.NextBatch)
			}
		})
		t.Run("Group", func(t *testing.T) {
			criteria := map[string]any{
				"order_by": "recent", "filter": map[string]any{"limit": 2},
				"groupings": map[string]any{"group_by": []map[string]string{{"key": "sender"}}},
			}
			page := s.searchAsk(t, alice, "report", criteria, "")
			g := page.Groups["sender"][bob.ID]
			if g.NextBatch == "" {
				t.Fatalf("bob's group: got %+v, want a next_batch", g)
			}
			var rest []string
			for next := g.NextBatch; next != ""; {
				p := s.searchAsk(t, alice, "report", criteria, next)
				rest = append(rest, p.ids()...)
				next = p.NextBatch
			}
			// want[1], want[3], want[5] are bob's (newest first); the first
			// page held want[0] (alice's) and want[1].
			if !slices.Equal(rest, []string{want[3], want[5]}) {
				t.Errorf("rest of bob's group: got %v, want %v", rest, []string{want[3], want[5]})
			}
		})
	})
}

func TestAPI_SearchBadInput(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *testServer) {
		alice := s.mustRegister(t, "alice", "alice password")
		room := s.dirRoom(t, alice, map[string]any{})
		s.searchSay(t, alice, room, "hello")
		s.searchIndex(t)
		post := func(body any, query string) response {
			return s.do(t, "POST", v3+"/search"+query, alice.Token, body)
		}
		events := func(c map[string]any) map[string]any {
			return map[string]any{"search_categories": map[string]any{"room_events": c}}
		}
		for _, tc := range []struct {
			name    string
			body    any
			query   string
			errcode string
		}{
			{"NoCategories", map[string]any{}, "", "M_BAD_JSON"},
			{"NoSearchTerm", events(map[string]any{"keys": []string{"content.body"}}), "", "M_MISSING_PARAM"},
			{"SearchTermNotString", events(map[string]any{"search_term": 5}), "", "M_BAD_JSON"},
			{"CategoryNotObject", map[string]any{"search_categories": map[string]any{"room_events": "x"}}, "", "M_BAD_JSON"},
			{"UnknownCategory", map[string]any{"search_categories": map[string]any{"files": map[string]any{}}}, "", "M_INVALID_PARAM"},
			{"UnknownKey", events(map[string]any{"search_term": "x", "keys": []string{"content.url"}}), "", "M_INVALID_PARAM"},
			{"UnknownOrder", events(map[string]any{"search_term": "x", "order_by": "oldest"}), "", "M_INVALID_PARAM"},
			{"UnknownGroup", events(map[string]any{"search_term": "x", "groupings": map[string]any{
				"group_by": []map[string]string{{"key": "type"}}}}), "", "M_INVALID_PARAM"},
			{"BadFilter", events(map[string]any{"search_term": "x", "filter": map[string]any{"limit": -1}}), "", "M_BAD_JSON"},
			{"BadContext", events(map[string]any{"search_term": "x", "event_context": map[string]any{"before_limit": -1}}), "", "M_INVALID_PARAM"},
			{"BadNextBatch", events(map[string]any{"search_term": "x"}), "?next_batch=garbage", "M_INVALID_PARAM"},
			{"OtherOrderNextBatch", events(map[string]any{"search_term": "x"}), "?next_batch=eyJvIjoicmVjZW50IiwicCI6NX0", "M_INVALID_PARAM"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantErr(t, post(tc.body, tc.query), http.StatusBadRequest, tc.errcode)
			})
		}
		t.Run("NoToken", func(t *testing.T) {
			wantErr(t, s.do(t, "POST", v3+"/search", "", events(map[string]any{"search_term": "x"})), http.StatusUnauthorized, "M_MISSING_TOKEN")
		})
		t.Run("NoRoomEvents", func(t *testing.T) {
			r := post(map[string]any{"search_categories": map[string]any{}}, "")
			wantOK(t, r)
			if string(r.Raw) != `{"search_categories":{}}` {
				t.Errorf("got %s, want no categories", r.Raw)
			}
		})
		t.Run("NothingToMatch", func(t *testing.T) {
			got := wantSearch(t, s, alice, `-hello "" !!`, nil)
			if got.Count != 0 || got.Highlights == nil {
				t.Errorf("got count %d, highlights %v, want 0 and []", got.Count, got.Highlights)
			}
		})
	})
}
