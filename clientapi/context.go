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

// eventContext is GET /_matrix/client/v3/rooms/{roomId}/context/{eventId}:
// the event with up to limit events around it, half before and half
// after, that the user may see (none from users it ignores), and the room
// state at the last one.
func (a *API) eventContext(w http.ResponseWriter, r *http.Request, s *Session) error {
	roomID := r.PathValue("roomId")
	ev, err := a.visibleEvent(r, s, roomID, r.PathValue("eventId"))
	if err != nil {
		return err
	}
	q := r.URL.Query()
	limit, err := queryLimit(q.Get("limit"), 10, 100)
	if err != nil {
		return err
	}
	var filter *syncapi.RoomEventFilter
	if v := q.Get("filter"); v != "" {
		filter = &syncapi.RoomEventFilter{}
		if err := json.Unmarshal([]byte(v), filter); err != nil {
			return mxerr.BadJSON("filter is not a valid room event filter")
		}
	}
	ignored, err := a.syncer.IgnoredUsers(r.Context(), s.UserID)
	if err != nil {
		return err
	}
	before, start, err := a.page(r, s, roomID, messagesQuery{backwards: true, from: ev.StreamPos, limit: limit / 2, filter: filter, ignored: ignored})
	if err != nil {
		return err
	}
	after, end, err := a.page(r, s, roomID, messagesQuery{from: ev.StreamPos + 1, limit: limit - limit/2, filter: filter, ignored: ignored})
	if err != nil {
		return err
	}
	last := ev.PDU
	if len(after) > 0 {
		last = after[len(after)-1].PDU
	}
	state, err := a.rooms.StateAt(r.Context(), last.EventID())
	if err != nil {
		return roomError(err)
	}
	all := append(append([]roomserver.Event{ev}, before...), after...)
	if filter != nil && filter.LazyLoadMembers {
		state = onlyMembersOf(state, pdusOf(all))
	}
	events, err := a.clientEvents(r.Context(), s.UserID, all)
	if err != nil {
		return err
	}
	if start == 0 {
		start = 1 // nothing is before position 1
	}
	if end == 0 {
		end = ev.StreamPos + 1 // forwards from just after the newest returned
		if len(after) > 0 {
			end = after[len(after)-1].StreamPos + 1
		}
	}
	resp := map[string]any{
		"event":         events[0],
		"events_before": events[1 : 1+len(before)],
		"events_after":  events[1+len(before):],
		"state":         syncapi.ToClientEvents(state, a.db.Now()),
		"start":         syncapi.PaginationToken(start),
		"end":           syncapi.PaginationToken(end),
	}
	return ok(w, resp)
}

// onlyMembersOf keeps, of state, everything but the membership events of
// users who sent none of the events (lazy loading).
func onlyMembersOf(state, events []gmsl.PDU) []gmsl.PDU {
	senders := map[string]bool{}
	for _, e := range events {
		senders[string(e.SenderID())] = true
	}
	out := state[:0:0]
	for _, ev := range state {
		if ev.Type() == spec.MRoomMember && !senders[*ev.StateKey()] {
			continue
		}
		out = append(out, ev)
	}
	return out
}

// timestampToEvent is GET /_matrix/client/v1/rooms/{roomId}/timestamp_to_event.
func (a *API) timestampToEvent(w http.ResponseWriter, r *http.Request, s *Session) error {
	roomID := r.PathValue("roomId")
	if err := a.canRead(r, s, roomID); err != nil {
		return err
	}
	q := r.URL.Query()
	ts, err := strconv.ParseInt(q.Get("ts"), 10, 64)
	if err != nil {
		return mxerr.InvalidParam("ts must be a timestamp in milliseconds")
	}
	var forwards bool
	switch q.Get("dir") {
	case "f":
		forwards = true
	case "b":
	default:
		return mxerr.InvalidParam("dir must be f or b")
	}
	ev, err := a.rooms.EventAtTime(r.Context(), roomID, ts, forwards)
	if err != nil {
		return roomError(err)
	}
	return ok(w, map[string]any{"event_id": ev.EventID(), "origin_server_ts": int64(ev.OriginServerTS())})
}
