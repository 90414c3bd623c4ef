package clientapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"time"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/ganglion/ganglion/clientapi/search"
	"github.com/ganglion/ganglion/internal/mxerr"
	"github.com/ganglion/ganglion/storage"
	"github.com/ganglion/ganglion/syncapi"
)

// Limits of POST /search.
const (
	defaultSearchLimit  = 10
	maxSearchLimit      = 100
	defaultContextLimit = 5
	maxContextLimit     = 20
)

// Search orders and group keys.
const (
	orderRank   = "rank"
	orderRecent = "recent"
	groupRoom   = "room_id"
	groupSender = "sender"
)

// roomEventsCriteria is the room_events category of a search request.
type roomEventsCriteria struct {
	SearchTerm   *string                  `json:"search_term"`
	Keys         []string                 `json:"keys"`
	Filter       *syncapi.RoomEventFilter `json:"filter"`
	OrderBy      string                   `json:"order_by"`
	EventContext *searchEventContext      `json:"event_context"`
	IncludeState bool                     `json:"include_state"`
	Groupings    struct {
		GroupBy []struct {
			Key string `json:"key"`
		} `json:"group_by"`
	} `json:"groupings"`
}

type searchEventContext struct {
	BeforeLimit    *int `json:"before_limit"`
	AfterLimit     *int `json:"after_limit"`
	IncludeProfile bool `json:"include_profile"`
}

// searchToken is what a next_batch token holds: the place of the last
// result given, in the order of the request, and for a group's token the
// group it continues.
type searchToken struct {
	Order string  `json:"o"`
	Rank  float64 `json:"r,omitempty"`
	Pos   int64   `json:"p"`
	Group string  `json:"g,omitempty"`
	Value string  `json:"v,omitempty"`
}

func (t searchToken) String() string {
	data, _ := json.Marshal(t) // plain fields: cannot fail
	return base64.RawURLEncoding.EncodeToString(data)
}

// parseSearchToken reads a next_batch token of a request in the order.
func parseSearchToken(s, order string) (searchToken, error) {
	var t searchToken
	data, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(data, &t) != nil || t.Order != order || t.Pos <= 0 ||
		(t.Group != "" && t.Group != groupRoom && t.Group != groupSender) || (t.Group == "") != (t.Value == "") {
		return t, mxerr.InvalidParam("next_batch is not a token of this search")
	}
	return t, nil
}

// searchRequest is a parsed, checked room_events search.
type searchRequest struct {
	roomEventsCriteria
	terms  storage.SearchTerms
	filter *syncapi.RoomEventFilter // never nil
	limit  int
	types  []string
	groups []string
	from   *searchToken
}

// search is POST /_matrix/client/v3/search (spec: Server Side Search): the
// room_events category, over the rooms the user is in or was in (up to
// when it left), filtered by history visibility.
func (a *API) search(w http.ResponseWriter, r *http.Request, s *Session) error {
	req, err := a.parseSearch(r)
	if err != nil {
		return err
	}
	if req == nil {
		return ok(w, map[string]any{"search_categories": map[string]any{}})
	}
	if err := a.waitForIndex(r.Context()); err != nil {
		return err
	}
	q, err := a.searchQuery(r, s, req)
	if err != nil {
		return err
	}
	page, err := a.searchPage(r, s, req, q)
	if err != nil {
		return err
	}
	count, err := a.db.SearchCount(r.Context(), q)
	if err != nil {
		return err
	}
	body, err := a.searchResponse(r, s, req, page)
	if err != nil {
		return err
	}
	body["count"] = count
	return ok(w, map[string]any{"search_categories": map[string]any{"room_events": body}})
}

// maxIndexWait bounds how long a search waits for the index: past it, a
// search answers from what is indexed.
const maxIndexWait = 2 * time.Second

// waitForIndex waits, up to maxIndexWait, until the search index holds
// every event committed before the search began: a message just sent is
// found.
func (a *API) waitForIndex(ctx context.Context) error {
	if a.index == nil {
		return nil
	}
	pos, err := a.db.StreamPos(ctx, "events")
	if err != nil {
		return err
	}
	wait, cancel := context.WithTimeout(ctx, maxIndexWait)
	defer cancel()
	if err := a.index.WaitFor(wait, pos); err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return nil
}

// parseSearch reads and checks a search request; nil means it asks for no
// category.
func (a *API) parseSearch(r *http.Request) (*searchRequest, error) {
	var body struct {
		Categories map[string]json.RawMessage `json:"search_categories"`
	}
	if err := a.decode(r, &body); err != nil {
		return nil, err
	}
	if body.Categories == nil {
		return nil, mxerr.BadJSON("search_categories is required")
	}
	for name := range body.Categories {
		if name != "room_events" {
			return nil, mxerr.InvalidParam("unknown search category %q", name)
		}
	}
	raw, found := body.Categories["room_events"]
	if !found {
		return nil, nil
	}
	req := &searchRequest{}
	if err := jsonObject(raw, &req.roomEventsCriteria); err != nil {
		return nil, err
	}
	if err := req.check(); err != nil {
		return nil, err
	}
	if v := r.URL.Query().Get("next_batch"); v != "" {
		t, err := parseSearchToken(v, req.OrderBy)
		if err != nil {
			return nil, err
		}
		req.from = &t
	}
	return req, nil
}

// jsonObject decodes a JSON object inside an already checked body.
func jsonObject(raw json.RawMessage, v any) error {
	if len(raw) == 0 || raw[0] != '{' {
		return mxerr.BadJSON("search_categories.room_events must be an object")
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return mxerr.BadJSON("search_categories.room_events does not match the expected shape")
	}
	return nil
}

// check validates the criteria and fills in the defaults.
func (req *searchRequest) check() error {
	if req.SearchTerm == nil {
		return mxerr.MissingParam("search_term is required")
	}
	req.terms = storage.ParseSearchTerms(*req.SearchTerm)
	switch req.OrderBy {
	case "":
		req.OrderBy = orderRank
	case orderRank, orderRecent:
	default:
		return mxerr.InvalidParam("order_by must be rank or recent")
	}
	types, known := search.Types(req.Keys)
	if !known {
		return mxerr.InvalidParam("keys may hold only content.body, content.name and content.topic")
	}
	req.filter = req.Filter
	if req.filter == nil {
		req.filter = &syncapi.RoomEventFilter{}
	}
	if err := (&syncapi.Filter{Room: &syncapi.RoomFilter{Timeline: req.filter}}).Validate(); err != nil {
		return mxerr.BadJSON("invalid filter: %v", err)
	}
	types = slices.DeleteFunc(types, func(t string) bool {
		byType := req.filter.EventFilter
		byType.Senders, byType.NotSenders = nil, nil
		return !byType.Allows(t, "")
	})
	req.types = append([]string{}, types...) // never nil: empty means no type
	req.limit = defaultSearchLimit
	if req.filter.Limit != nil {
		req.limit = min(*req.filter.Limit, maxSearchLimit)
	}
	for _, g := range req.Groupings.GroupBy {
		if g.Key != groupRoom && g.Key != groupSender {
			return mxerr.InvalidParam("group_by keys must be room_id or sender")
		}
		if !slices.Contains(req.groups, g.Key) {
			req.groups = append(req.groups, g.Key)
		}
	}
	if c := req.EventContext; c != nil {
		for _, n := range []*int{c.BeforeLimit, c.AfterLimit} {
			if n != nil && *n < 0 {
				return mxerr.InvalidParam("event_context limits must not be negative")
			}
		}
	}
	return nil
}

// searchQuery turns a request into the storage query: the rooms the user
// may search (joined, or left or banned up to that event, and not
// forgotten) that the filter and a group token allow.
func (a *API) searchQuery(r *http.Request, s *Session, req *searchRequest) (storage.SearchQuery, error) {
	ctx := r.Context()
	q := storage.SearchQuery{
		Terms: req.terms, Types: req.types, NotSenders: req.filter.NotSenders,
		ByRank: req.OrderBy == orderRank, Limit: req.limit,
	}
	if req.filter.Senders != nil {
		q.Senders = *req.filter.Senders
	}
	memberships, err := a.db.UserMemberships(ctx, s.UserID)
	if err != nil {
		return q, err
	}
	forgotten, err := a.db.ForgottenRooms(ctx, s.UserID)
	if err != nil {
		return q, err
	}
	f, from := req.filter, req.from
	for _, m := range memberships {
		if slices.Contains(forgotten, m.RoomID) || slices.Contains(f.NotRooms, m.RoomID) ||
			(f.Rooms != nil && !slices.Contains(*f.Rooms, m.RoomID)) ||
			(from != nil && from.Group == groupRoom && from.Value != m.RoomID) {
			continue
		}
		switch m.Membership.Membership {
		case spec.Join:
			q.Rooms = append(q.Rooms, storage.SearchRoom{NID: m.Room})
		case spec.Leave, spec.Ban:
			q.Rooms = append(q.Rooms, storage.SearchRoom{NID: m.Room, Until: m.StreamPos})
		}
	}
	if from != nil && from.Group == groupSender {
		if q.Senders == nil || slices.Contains(q.Senders, from.Value) {
			q.Senders = []string{from.Value}
		} else {
			q.Senders = []string{}
		}
	}
	return q, nil
}
