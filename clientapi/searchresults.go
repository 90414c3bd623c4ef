package clientapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"

	gmsl "github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/ganglion/ganglion/clientapi/search"
	"github.com/ganglion/ganglion/roomserver"
	"github.com/ganglion/ganglion/storage"
	"github.com/ganglion/ganglion/syncapi"
)

// searchRounds bounds the index queries of one search request: when most
// hits are events the user may not see, it answers with fewer results and
// a next_batch token rather than scan on.
const searchRounds = 8

// searchResult is a hit the user may see, with its event.
type searchResult struct {
	hit storage.SearchHit
	ev  roomserver.Event
}

// searchPage is one page of results and where the next one starts (nil
// at the end).
type searchPage struct {
	results []searchResult
	next    *storage.SearchCursor
}

// searchPage collects up to req.limit hits that the user may see and that
// pass the filter, from the request's next_batch on.
func (a *API) searchPage(r *http.Request, s *Session, req *searchRequest, q storage.SearchQuery) (searchPage, error) {
	var page searchPage
	if req.from != nil {
		q.After = &storage.SearchCursor{Rank: req.from.Rank, StreamPos: req.from.Pos}
	}
	q.Limit = req.limit*2 + 1
	for range searchRounds {
		hits, err := a.db.Search(r.Context(), q)
		if err != nil {
			return page, err
		}
		visible, err := a.visibleHits(r, s, hits, req.filter)
		if err != nil {
			return page, err
		}
		for _, h := range hits {
			ev, ok := visible[h.EventID]
			if !ok {
				continue
			}
			page.results = append(page.results, searchResult{hit: h, ev: ev})
			if len(page.results) == req.limit {
				// A full page always has a next_batch, even when nothing
				// follows (its page is then empty): Complement's TestSearch
				// asks for that, and the spec only says that a missing
				// token means the end.
				page.next = &h.SearchCursor
				return page, nil
			}
		}
		if len(hits) < q.Limit {
			return page, nil
		}
		q.After = &hits[len(hits)-1].SearchCursor
	}
	page.next = q.After
	return page, nil
}

// visibleHits loads the events of hits and returns, by event id, those
// the user may see by history visibility, that no user it ignores sent and
// that pass the filter's contains_url.
func (a *API) visibleHits(r *http.Request, s *Session, hits []storage.SearchHit, f *syncapi.RoomEventFilter) (map[string]roomserver.Event, error) {
	ignored, err := a.syncer.IgnoredUsers(r.Context(), s.UserID)
	if err != nil {
		return nil, err
	}
	byRoom := map[string][]roomserver.Event{}
	for _, h := range hits {
		ev, err := a.rooms.Event(r.Context(), h.EventID)
		if errors.Is(err, roomserver.ErrEventNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if f.ContainsURL != nil && *f.ContainsURL != hasURL(ev.Content()) || ignored.Hides(ev.PDU) {
			continue
		}
		byRoom[h.RoomID] = append(byRoom[h.RoomID], ev)
	}
	out := map[string]roomserver.Event{}
	for _, events := range byRoom {
		visible, err := a.rooms.Visible(r.Context(), s.UserID, events)
		if err != nil {
			return nil, err
		}
		for _, ev := range visible {
			out[ev.EventID()] = ev
		}
	}
	return out, nil
}

// searchResponse is the room_events part of the answer (without count).
func (a *API) searchResponse(r *http.Request, s *Session, req *searchRequest, page searchPage) (map[string]any, error) {
	stored := make([]roomserver.Event, len(page.results))
	for i, res := range page.results {
		stored[i] = res.ev
	}
	pdus := pdusOf(stored)
	events, err := a.clientEvents(r.Context(), s.UserID, stored)
	if err != nil {
		return nil, err
	}
	results := make([]map[string]any, len(events))
	for i, ev := range events {
		results[i] = map[string]any{"rank": page.results[i].hit.Rank, "result": ev}
		if req.EventContext != nil {
			c, err := a.searchContext(r, s, page.results[i].ev, req.EventContext)
			if err != nil {
				return nil, err
			}
			results[i]["context"] = c
		}
	}
	body := map[string]any{"results": results, "highlights": highlights(req.terms, pdus)}
	if page.next != nil {
		body["next_batch"] = cursorToken(req, *page.next, "", "").String()
	}
	if len(req.groups) > 0 {
		body["groups"] = searchGroups(req, page)
	}
	if req.IncludeState {
		state := map[string][]syncapi.ClientEvent{}
		for _, res := range page.results {
			roomID := res.ev.RoomID().String()
			if _, done := state[roomID]; done {
				continue
			}
			view, err := a.roomView(r, s, roomID)
			if err != nil {
				return nil, err
			}
			state[roomID] = syncapi.ToClientEvents(view, a.db.Now())
		}
		body["state"] = state
	}
	return body, nil
}

// cursorToken is the next_batch token that continues after cursor, in a
// group if group is set.
func cursorToken(req *searchRequest, c storage.SearchCursor, group, value string) searchToken {
	t := searchToken{Order: req.OrderBy, Pos: c.StreamPos, Group: group, Value: value}
	if req.OrderBy == orderRank {
		t.Rank = c.Rank
	}
	if req.from != nil && req.from.Group != "" && group == "" {
		// A page of a group continues in that group.
		t.Group, t.Value = req.from.Group, req.from.Value
	}
	return t
}

// highlights are the search words and the words of the results they
// matched.
func highlights(terms storage.SearchTerms, pdus []gmsl.PDU) []string {
	out := terms.Words()
	for _, pdu := range pdus {
		for _, w := range terms.Highlights(search.Text(pdu.Type(), pdu.Content())) {
			if !slices.Contains(out, w) {
				out = append(out, w)
			}
		}
	}
	slices.Sort(out)
	if out == nil {
		out = []string{}
	}
	return out
}

// searchGroup is one group of results.
type searchGroup struct {
	Order     int      `json:"order"`
	Results   []string `json:"results"`
	NextBatch string   `json:"next_batch,omitempty"`
	last      storage.SearchCursor
}

// searchGroups partitions the page's results by each requested key,
// groups ordered by their first result. While the search has more
// results, each group gets a token that continues within it.
func searchGroups(req *searchRequest, page searchPage) map[string]map[string]*searchGroup {
	out := map[string]map[string]*searchGroup{}
	for _, key := range req.groups {
		groups := map[string]*searchGroup{}
		for _, res := range page.results {
			value := res.ev.RoomID().String()
			if key == groupSender {
				value = string(res.ev.SenderID())
			}
			g := groups[value]
			if g == nil {
				g = &searchGroup{Order: len(groups) + 1, Results: []string{}}
				groups[value] = g
			}
			g.Results = append(g.Results, res.ev.EventID())
			g.last = res.hit.SearchCursor
		}
		if page.next != nil {
			for value, g := range groups {
				g.NextBatch = cursorToken(req, g.last, key, value).String()
			}
		}
		out[key] = groups
	}
	return out
}

// searchContext is the context of a result: events before and after it
// that the user may see, with their senders' profiles if asked.
func (a *API) searchContext(r *http.Request, s *Session, ev roomserver.Event, c *searchEventContext) (map[string]any, error) {
	beforeLimit, afterLimit := defaultContextLimit, defaultContextLimit
	if c.BeforeLimit != nil {
		beforeLimit = min(*c.BeforeLimit, maxContextLimit)
	}
	if c.AfterLimit != nil {
		afterLimit = min(*c.AfterLimit, maxContextLimit)
	}
	roomID := ev.RoomID().String()
	before, start, err := a.page(r, s, roomID, messagesQuery{backwards: true, from: ev.StreamPos, limit: beforeLimit})
	if err != nil {
		return nil, err
	}
	after, end, err := a.page(r, s, roomID, messagesQuery{from: ev.StreamPos + 1, limit: afterLimit})
	if err != nil {
		return nil, err
	}
	if start == 0 {
		start = 1 // nothing is before position 1
	}
	if end == 0 {
		end = ev.StreamPos + 1
		if len(after) > 0 {
			end = after[len(after)-1].StreamPos + 1
		}
	}
	eventsBefore, err := a.clientEvents(r.Context(), s.UserID, before)
	if err != nil {
		return nil, err
	}
	eventsAfter, err := a.clientEvents(r.Context(), s.UserID, after)
	if err != nil {
		return nil, err
	}
	out := map[string]any{
		"events_before": eventsBefore, "events_after": eventsAfter,
		"start": syncapi.PaginationToken(start), "end": syncapi.PaginationToken(end),
	}
	if c.IncludeProfile {
		if out["profile_info"], err = a.senderProfiles(r, roomID, slices.Concat([]roomserver.Event{ev}, before, after)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// senderProfiles returns the display names and avatars of the senders of
// events from their current membership events in the room.
func (a *API) senderProfiles(r *http.Request, roomID string, events []roomserver.Event) (map[string]map[string]string, error) {
	out := map[string]map[string]string{}
	for _, ev := range events {
		sender := string(ev.SenderID())
		if _, done := out[sender]; done {
			continue
		}
		profile := map[string]string{}
		out[sender] = profile
		member, err := a.rooms.StateEvent(r.Context(), roomID, spec.MRoomMember, sender)
		if errors.Is(err, roomserver.ErrEventNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		var content struct {
			DisplayName string `json:"displayname"`
			AvatarURL   string `json:"avatar_url"`
		}
		_ = json.Unmarshal(member.Content(), &content) // a malformed profile is no profile
		if content.DisplayName != "" {
			profile["displayname"] = content.DisplayName
		}
		if content.AvatarURL != "" {
			profile["avatar_url"] = content.AvatarURL
		}
	}
	return out, nil
}
