package clientapi

import (
	"context"
	"net/http"
	"strconv"

	gmsl "github.com/matrix-org/gomatrixserverlib"

	"github.com/ganglion/ganglion/internal/mxerr"
	"github.com/ganglion/ganglion/roomserver"
	"github.com/ganglion/ganglion/syncapi"
)

// clientEvents converts stored events to the client format
// (syncapi.Syncer.RoomEvent: with the user's membership at each event and
// the content of the state they replaced) with their bundled aggregations (unsigned.m.relations: threads, references, edits).
// Every endpoint that serves stored room events uses it.
func (a *API) clientEvents(ctx context.Context, userID string, events []roomserver.Event) ([]syncapi.ClientEvent, error) {
	now := a.db.Now()
	out := make([]syncapi.ClientEvent, len(events))
	for i, ev := range events {
		var err error
		if out[i], err = a.syncer.RoomEvent(ctx, ev, now); err != nil {
			return nil, err
		}
	}
	aggs, err := a.rooms.Aggregations(ctx, userID, pdusOf(events))
	if err != nil {
		return nil, err
	}
	for i := range out {
		agg := aggs[out[i].EventID]
		if agg == nil {
			continue
		}
		bundle := map[string]any{}
		if agg.ThreadCount > 0 {
			bundle[roomserver.RelThread] = map[string]any{
				"latest_event":              syncapi.ToClientEvent(agg.ThreadLatest, now),
				"count":                     agg.ThreadCount,
				"current_user_participated": agg.ThreadParticipated,
			}
		}
		if len(agg.References) > 0 {
			chunk := make([]map[string]string, len(agg.References))
			for j, id := range agg.References {
				chunk[j] = map[string]string{"event_id": id}
			}
			bundle[roomserver.RelReference] = map[string]any{"chunk": chunk}
		}
		if agg.Replace != nil {
			bundle[roomserver.RelReplace] = syncapi.ToClientEvent(agg.Replace, now)
		}
		if err := out[i].SetUnsigned("m.relations", bundle); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// relations is GET /_matrix/client/v1/rooms/{roomId}/relations/{eventId}
// (and .../{relType}, .../{relType}/{eventType}).
func (a *API) relations(w http.ResponseWriter, r *http.Request, s *Session) error {
	roomID, parentID := r.PathValue("roomId"), r.PathValue("eventId")
	parent, err := a.visibleEvent(r, s, roomID, parentID)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	rq := roomserver.RelationsQuery{
		RoomID: roomID, ParentID: parent.EventID(), RelType: r.PathValue("relType"), Type: r.PathValue("eventType"),
		Backwards: q.Get("dir") != "f", Recurse: q.Get("recurse") == "true",
	}
	if rq.Limit, err = queryLimit(q.Get("limit"), 50, 1000); err != nil {
		return err
	}
	from, err := optionalToken(q.Get("from"), "from")
	if err != nil {
		return err
	}
	to, err := optionalToken(q.Get("to"), "to")
	if err != nil {
		return err
	}
	if rq.Backwards {
		// The event just after the to token is the last one to return.
		rq.Before, rq.After = from, max(to-1, 0)
	} else {
		rq.After, rq.Before = max(from-1, 0), to
	}
	rq.Limit++ // one more tells whether there is a next page
	events, depth, err := a.rooms.Relations(r.Context(), rq)
	if err != nil {
		return roomError(err)
	}
	var next string
	if len(events) == rq.Limit {
		events = events[:rq.Limit-1]
		last := events[len(events)-1]
		pos := last.StreamPos
		if !rq.Backwards {
			pos++
		}
		next = syncapi.PaginationToken(pos)
	}
	chunk, err := a.shownEvents(r.Context(), s.UserID, events)
	if err != nil {
		return err
	}
	resp := map[string]any{"chunk": chunk}
	if next != "" {
		resp["next_batch"] = next
	}
	if rq.Recurse {
		resp["recursion_depth"] = depth
	}
	return ok(w, resp)
}

// threads is GET /_matrix/client/v1/rooms/{roomId}/threads.
func (a *API) threads(w http.ResponseWriter, r *http.Request, s *Session) error {
	roomID := r.PathValue("roomId")
	if err := a.canRead(r, s, roomID); err != nil {
		return err
	}
	q := r.URL.Query()
	var participant string
	switch q.Get("include") {
	case "", "all":
	case "participated":
		participant = s.UserID
	default:
		return mxerr.InvalidParam("include must be all or participated")
	}
	limit, err := queryLimit(q.Get("limit"), 50, 1000)
	if err != nil {
		return err
	}
	from, err := optionalToken(q.Get("from"), "from")
	if err != nil {
		return err
	}
	roots, next, err := a.rooms.Threads(r.Context(), roomID, participant, from, limit)
	if err != nil {
		return roomError(err)
	}
	chunk, err := a.shownEvents(r.Context(), s.UserID, roots)
	if err != nil {
		return err
	}
	resp := map[string]any{"chunk": chunk}
	if next != 0 {
		resp["next_batch"] = syncapi.PaginationToken(next)
	}
	return ok(w, resp)
}

// shownEvents returns, in the client format and in order, the events the
// user may see and that no user it ignores sent (their state events
// excepted).
func (a *API) shownEvents(ctx context.Context, userID string, events []roomserver.Event) ([]syncapi.ClientEvent, error) {
	visible, err := a.rooms.Visible(ctx, userID, events)
	if err != nil {
		return nil, err
	}
	ignored, err := a.syncer.IgnoredUsers(ctx, userID)
	if err != nil {
		return nil, err
	}
	shown := make([]roomserver.Event, 0, len(visible))
	for _, ev := range visible {
		if !ignored.Hides(ev.PDU) {
			shown = append(shown, ev)
		}
	}
	return a.clientEvents(ctx, userID, shown)
}

// visibleEvent returns an accepted event of the room that the user may
// see, or M_NOT_FOUND.
func (a *API) visibleEvent(r *http.Request, s *Session, roomID, eventID string) (roomserver.Event, error) {
	ev, err := a.rooms.Event(r.Context(), eventID)
	if err != nil {
		return ev, roomError(err)
	}
	if ev.RoomID().String() != roomID || ev.Status != 0 {
		return ev, mxerr.NotFound("event not found")
	}
	visible, err := a.rooms.Visible(r.Context(), s.UserID, []roomserver.Event{ev})
	if err != nil {
		return ev, err
	}
	if len(visible) == 0 {
		return ev, mxerr.NotFound("event not found")
	}
	return visible[0], nil
}

// canRead checks that the user is or was in the room, or that it is
// world-readable; history visibility then filters what it sees.
func (a *API) canRead(r *http.Request, s *Session, roomID string) error {
	membership, err := a.rooms.Membership(r.Context(), roomID, s.UserID)
	if err != nil {
		return roomError(err)
	}
	if membership == "join" || a.everMember(r, roomID, s.UserID) || a.worldReadable(r, roomID) {
		return nil
	}
	return mxerr.Forbidden("you are not in this room")
}

func pdusOf(events []roomserver.Event) []gmsl.PDU {
	out := make([]gmsl.PDU, len(events))
	for i, e := range events {
		out[i] = e.PDU
	}
	return out
}

// queryLimit parses a limit parameter: def if absent, at most most.
func queryLimit(v string, def, most int) (int, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, mxerr.InvalidParam("limit must be a positive integer")
	}
	return min(n, most), nil
}

// optionalToken parses a pagination token parameter; "" gives 0.
func optionalToken(v, name string) (int64, error) {
	if v == "" {
		return 0, nil
	}
	pos, ok := syncapi.ParsePaginationToken(v)
	if !ok {
		return 0, mxerr.InvalidParam("malformed %s token", name)
	}
	return pos, nil
}
