package clientapi

import (
	"encoding/json"
	"net/http"
	"strconv"

	gmsl "github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/ganglion/ganglion/internal/mxerr"
	"github.com/ganglion/ganglion/roomserver"
	"github.com/ganglion/ganglion/syncapi"
)

const (
	defaultMessagesLimit = 10
	maxMessagesLimit     = 1000
)

// messagesQuery is the parsed query of /messages.
type messagesQuery struct {
	backwards bool
	from, to  int64 // 0: open
	limit     int
	filter    *syncapi.RoomEventFilter
	ignored   syncapi.Ignored // senders whose events are left out
}

func parseMessagesQuery(r *http.Request) (messagesQuery, error) {
	q := r.URL.Query()
	var m messagesQuery
	switch q.Get("dir") {
	case "b":
		m.backwards = true
	case "f":
	default:
		return m, mxerr.InvalidParam("dir must be b or f")
	}
	for name, dst := range map[string]*int64{"from": &m.from, "to": &m.to} {
		if v := q.Get(name); v != "" {
			pos, ok := syncapi.ParsePaginationToken(v)
			if !ok {
				return m, mxerr.InvalidParam("malformed %s token", name)
			}
			*dst = pos
		}
	}
	m.limit = defaultMessagesLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return m, mxerr.InvalidParam("limit must be a non-negative integer")
		}
		m.limit = min(n, maxMessagesLimit)
	}
	if v := q.Get("filter"); v != "" {
		m.filter = &syncapi.RoomEventFilter{}
		if err := json.Unmarshal([]byte(v), m.filter); err != nil {
			return m, mxerr.BadJSON("filter is not a valid room event filter")
		}
		if m.filter.Limit != nil {
			m.limit = min(*m.filter.Limit, maxMessagesLimit)
		}
	}
	return m, nil
}

// messages is GET /_matrix/client/v3/rooms/{roomId}/messages: a page of the
// room's timeline that the user may see, filtered, with the members of the
// page's senders when the filter asks for lazy loading.
func (a *API) messages(w http.ResponseWriter, r *http.Request, s *Session) error {
	q, err := parseMessagesQuery(r)
	if err != nil {
		return err
	}
	if q.ignored, err = a.syncer.IgnoredUsers(r.Context(), s.UserID); err != nil {
		return err
	}
	roomID := r.PathValue("roomId")
	membership, err := a.rooms.Membership(r.Context(), roomID, s.UserID)
	if err != nil {
		return roomError(err)
	}
	if membership == spec.Leave && !a.everMember(r, roomID, s.UserID) && !a.worldReadable(r, roomID) {
		return mxerr.Forbidden("you are not in this room")
	}
	start := q.from
	if start == 0 && q.backwards {
		// No from: the page starts at the room's end, read before the page
		// so that no event falls between the two.
		if start, err = a.roomEnd(r, roomID); err != nil {
			return err
		}
	}
	chunk, next, err := a.page(r, s, roomID, q)
	if err != nil {
		return err
	}
	events, err := a.clientEvents(r.Context(), s.UserID, chunk)
	if err != nil {
		return err
	}
	resp := map[string]any{"chunk": events, "start": syncapi.PaginationToken(start)}
	if next != 0 {
		resp["end"] = syncapi.PaginationToken(next)
	}
	if q.filter != nil && q.filter.LazyLoadMembers {
		state, err := a.senderMembers(r, roomID, pdusOf(chunk))
		if err != nil {
			return err
		}
		resp["state"] = syncapi.ToClientEvents(state, a.db.Now())
	}
	return ok(w, resp)
}

// roomEnd is the pagination position just after the room's newest event.
func (a *API) roomEnd(r *http.Request, roomID string) (int64, error) {
	newest, err := a.rooms.Timeline(r.Context(), roomID, 0, 0, 1, true)
	if err != nil || len(newest) == 0 {
		return 0, err
	}
	return newest[0].StreamPos + 1, nil
}

// page collects up to q.limit visible, filtered events and returns the
// token position to continue from (0 when the timeline has no more).
func (a *API) page(r *http.Request, s *Session, roomID string, q messagesQuery) ([]roomserver.Event, int64, error) {
	var out []roomserver.Event
	cursor := q.from
	if q.limit == 0 {
		return nil, cursor, nil
	}
	for {
		// Timeline takes positions strictly between after and before; a
		// token's position is that of the event just after it, which a
		// backwards page down to the token includes.
		after, before := max(q.to-1, 0), cursor
		if !q.backwards {
			after, before = max(cursor-1, 0), q.to
		}
		want := q.limit*2 + 1
		batch, err := a.rooms.Timeline(r.Context(), roomID, after, before, want, q.backwards)
		if err != nil {
			return nil, 0, roomError(err)
		}
		visible, err := a.rooms.Visible(r.Context(), s.UserID, batch)
		if err != nil {
			return nil, 0, err
		}
		next := 0
		for _, ev := range batch {
			cursor = nextCursor(ev, q.backwards)
			if next < len(visible) && visible[next].EventID() == ev.EventID() {
				if q.filter.AllowsEvent(ev.Type(), string(ev.SenderID()), hasURL(ev.Content())) && !q.ignored.Hides(ev.PDU) {
					out = append(out, visible[next]) // with the user's membership at it
				}
				next++
			}
			if len(out) == q.limit {
				return out, cursor, nil
			}
		}
		if len(batch) < want {
			return out, 0, nil
		}
	}
}

// nextCursor is the token position just past ev in the paging direction.
func nextCursor(ev roomserver.Event, backwards bool) int64 {
	if backwards {
		return ev.StreamPos
	}
	return ev.StreamPos + 1
}

func hasURL(content []byte) bool {
	var c struct {
		URL *string `json:"url"`
	}
	return json.Unmarshal(content, &c) == nil && c.URL != nil
}

// everMember reports whether the user ever had a membership event in the
// room (history visibility then decides what it sees).
func (a *API) everMember(r *http.Request, roomID, userID string) bool {
	_, err := a.rooms.StateEvent(r.Context(), roomID, spec.MRoomMember, userID)
	return err == nil
}

// senderMembers returns the current membership events of the senders of
// events, for lazy-loading clients.
func (a *API) senderMembers(r *http.Request, roomID string, events []gmsl.PDU) ([]gmsl.PDU, error) {
	seen := map[string]bool{}
	var out []gmsl.PDU
	for _, ev := range events {
		sender := string(ev.SenderID())
		if seen[sender] {
			continue
		}
		seen[sender] = true
		m, err := a.rooms.StateEvent(r.Context(), roomID, spec.MRoomMember, sender)
		if err == nil {
			out = append(out, m)
		}
	}
	return out, nil
}
