package clientapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"

	gmsl "github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/ganglion/ganglion/internal/mxerr"
	"github.com/ganglion/ganglion/roomserver"
	"github.com/ganglion/ganglion/syncapi"
)

// sendEvent is PUT /_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId}.
func (a *API) sendEvent(w http.ResponseWriter, r *http.Request, s *Session) error {
	content, err := a.eventContent(r)
	if err != nil {
		return err
	}
	sent, err := a.rooms.Send(r.Context(), roomserver.Proto{
		RoomID: r.PathValue("roomId"), Sender: s.UserID, Type: r.PathValue("eventType"), Content: content,
		Txn: txnKey(s, "send", r.PathValue("roomId"), r.PathValue("txnId")),
	})
	if err != nil {
		return roomError(err)
	}
	return ok(w, map[string]string{"event_id": sent.EventID})
}

// putState is PUT /_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey}
// (and without a state key, for the empty one).
func (a *API) putState(w http.ResponseWriter, r *http.Request, s *Session) error {
	content, err := a.eventContent(r)
	if err != nil {
		return err
	}
	key := r.PathValue("stateKey")
	if r.PathValue("eventType") == spec.MRoomCanonicalAlias {
		if err := a.checkCanonicalAlias(r.Context(), r.PathValue("roomId"), content); err != nil {
			return err
		}
	}
	sent, err := a.rooms.Send(r.Context(), roomserver.Proto{
		RoomID: r.PathValue("roomId"), Sender: s.UserID, Type: r.PathValue("eventType"), StateKey: &key, Content: content,
	})
	if err != nil {
		return roomError(err)
	}
	return ok(w, map[string]string{"event_id": sent.EventID})
}

// redactEvent is PUT /_matrix/client/v3/rooms/{roomId}/redact/{eventId}/{txnId}.
func (a *API) redactEvent(w http.ResponseWriter, r *http.Request, s *Session) error {
	var req struct {
		Reason string `json:"reason"`
	}
	if err := a.decode(r, &req); err != nil {
		return err
	}
	target := r.PathValue("eventId")
	content := map[string]string{"redacts": target}
	if req.Reason != "" {
		content["reason"] = req.Reason
	}
	raw, err := json.Marshal(content)
	if err != nil {
		return err
	}
	sent, err := a.rooms.Send(r.Context(), roomserver.Proto{
		RoomID: r.PathValue("roomId"), Sender: s.UserID, Type: spec.MRoomRedaction, Redacts: target, Content: raw,
		Txn: txnKey(s, "redact", r.PathValue("roomId"), r.PathValue("txnId")),
	})
	if err != nil {
		return roomError(err)
	}
	return ok(w, map[string]string{"event_id": sent.EventID})
}

// eventContent reads an event's content: a JSON object.
func (a *API) eventContent(r *http.Request) ([]byte, error) {
	body, err := a.readBody(r)
	if err != nil {
		return nil, err
	}
	if body[0] != '{' {
		return nil, mxerr.BadJSON("event content must be a JSON object")
	}
	return body, nil
}

// getState is GET /_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey}.
// format=event returns the whole event instead of its content.
func (a *API) getState(w http.ResponseWriter, r *http.Request, s *Session) error {
	roomID := r.PathValue("roomId")
	view, err := a.roomView(r, s, roomID)
	if err != nil {
		return err
	}
	typ, key := r.PathValue("eventType"), r.PathValue("stateKey")
	for _, ev := range view {
		if ev.Type() == typ && ev.StateKeyEquals(key) {
			if r.URL.Query().Get("format") == "event" {
				return ok(w, syncapi.ToClientEvent(ev, a.db.Now()))
			}
			w.Header().Set("Content-Type", "application/json")
			_, err := w.Write(ev.Content())
			return err
		}
	}
	return mxerr.NotFound("no state event %s with key %q", typ, key)
}

// getAllState is GET /_matrix/client/v3/rooms/{roomId}/state.
func (a *API) getAllState(w http.ResponseWriter, r *http.Request, s *Session) error {
	view, err := a.roomView(r, s, r.PathValue("roomId"))
	if err != nil {
		return err
	}
	return ok(w, syncapi.ToClientEvents(view, a.db.Now()))
}

// roomView is the room state a user may read: the current state if it is
// joined (or the room is world-readable), the state when it left if it
// left, nothing otherwise.
func (a *API) roomView(r *http.Request, s *Session, roomID string) ([]gmsl.PDU, error) {
	ctx := r.Context()
	membership, err := a.rooms.Membership(ctx, roomID, s.UserID)
	if err != nil {
		return nil, roomError(err)
	}
	switch membership {
	case spec.Join:
		return a.currentState(r, roomID)
	case spec.Leave, spec.Ban:
		member, err := a.rooms.StateEvent(ctx, roomID, spec.MRoomMember, s.UserID)
		if errors.Is(err, roomserver.ErrEventNotFound) {
			break // never a member
		}
		if err != nil {
			return nil, roomError(err)
		}
		state, err := a.rooms.StateAt(ctx, member.EventID())
		return state, roomError(err)
	}
	if a.worldReadable(r, roomID) {
		return a.currentState(r, roomID)
	}
	return nil, mxerr.Forbidden("you are not in this room")
}

func (a *API) currentState(r *http.Request, roomID string) ([]gmsl.PDU, error) {
	state, err := a.rooms.CurrentState(r.Context(), roomID)
	return state, roomError(err)
}

// worldReadable reports whether anyone may read the room.
func (a *API) worldReadable(r *http.Request, roomID string) bool {
	ev, err := a.rooms.StateEvent(r.Context(), roomID, spec.MRoomHistoryVisibility, "")
	if err != nil {
		return false
	}
	vis, err := ev.HistoryVisibility()
	return err == nil && vis == gmsl.HistoryVisibilityWorldReadable
}

// getEvent is GET /_matrix/client/v3/rooms/{roomId}/event/{eventId}.
func (a *API) getEvent(w http.ResponseWriter, r *http.Request, s *Session) error {
	ev, err := a.visibleEvent(r, s, r.PathValue("roomId"), r.PathValue("eventId"))
	if err != nil {
		return err
	}
	events, err := a.clientEvents(r.Context(), s.UserID, []roomserver.Event{ev})
	if err != nil {
		return err
	}
	if err := a.setTxnIDs(r.Context(), s, roomEvents{roomID: ev.RoomID().String(), events: events}); err != nil {
		return err
	}
	return ok(w, events[0])
}

// getMembers is GET /_matrix/client/v3/rooms/{roomId}/members, with the
// membership and not_membership filters.
func (a *API) getMembers(w http.ResponseWriter, r *http.Request, s *Session) error {
	view, err := a.roomView(r, s, r.PathValue("roomId"))
	if err != nil {
		return err
	}
	q := r.URL.Query()
	if at := q.Get("at"); at != "" {
		// The members as they were at a point of the timeline (a sync or
		// pagination token), for joined users; others keep the state they
		// may see.
		pos, ok := syncapi.ParsePaginationToken(at)
		if !ok {
			return mxerr.InvalidParam("malformed at token")
		}
		membership, err := a.rooms.Membership(r.Context(), r.PathValue("roomId"), s.UserID)
		if err != nil {
			return roomError(err)
		}
		if membership == spec.Join {
			if view, err = a.stateAtToken(r.Context(), r.PathValue("roomId"), pos); err != nil {
				return roomError(err)
			}
		}
	}
	want, notWant := q.Get("membership"), q.Get("not_membership")
	for _, v := range []string{want, notWant} {
		if v != "" && !slices.Contains(memberships, v) {
			return mxerr.InvalidParam("unknown membership %q", v)
		}
	}
	var members []gmsl.PDU
	for _, ev := range view {
		if ev.Type() != spec.MRoomMember {
			continue
		}
		if m, err := ev.Membership(); err == nil && membershipWanted(m, want, notWant) {
			members = append(members, ev)
		}
	}
	return ok(w, map[string]any{"chunk": syncapi.ToClientEvents(members, a.db.Now())})
}

// memberships are the values of membership and not_membership.
var memberships = []string{spec.Join, spec.Invite, spec.Knock, spec.Leave, spec.Ban}

// membershipWanted applies the membership and not_membership filters of
// /members ("" for not given). Given both, the spec makes them an "or":
// the membership is want, or it is not notWant.
func membershipWanted(m, want, notWant string) bool {
	switch {
	case want != "" && notWant != "":
		return m == want || m != notWant
	case want != "":
		return m == want
	case notWant != "":
		return m != notWant
	}
	return true
}

// stateAtToken is the room state at the point of the timeline a token
// names (pos, the position of the event after it): the state after the
// last event before it. A point before the creator's join, such as the
// prev_batch of a timeline that starts at m.room.create, gives the state
// right after that join: the room had no members before it and was never
// seen without them, and a client paging from there needs the members the
// room started with, not those who joined later.
func (a *API) stateAtToken(ctx context.Context, roomID string, pos int64) ([]gmsl.PDU, error) {
	past, err := a.rooms.StateAtPosition(ctx, roomID, pos-1)
	if err != nil || slices.ContainsFunc(past, isMember) {
		return past, err
	}
	first, err := a.rooms.Timeline(ctx, roomID, 0, 0, 2, false) // m.room.create and the creator's join
	if err != nil {
		return nil, err
	}
	for _, ev := range first {
		if isMember(ev.PDU) {
			return a.rooms.StateAtPosition(ctx, roomID, ev.StreamPos)
		}
	}
	return past, nil
}

func isMember(ev gmsl.PDU) bool { return ev.Type() == spec.MRoomMember }

// getJoinedMembers is GET /_matrix/client/v3/rooms/{roomId}/joined_members.
func (a *API) getJoinedMembers(w http.ResponseWriter, r *http.Request, s *Session) error {
	roomID := r.PathValue("roomId")
	membership, err := a.rooms.Membership(r.Context(), roomID, s.UserID)
	if err != nil {
		return roomError(err)
	}
	if membership != spec.Join && !a.worldReadable(r, roomID) {
		return mxerr.Forbidden("you are not in this room")
	}
	members, err := a.rooms.Members(r.Context(), roomID, spec.Join)
	if err != nil {
		return roomError(err)
	}
	type joined struct { // null when unset, as clients expect both keys
		DisplayName *string `json:"display_name"`
		AvatarURL   *string `json:"avatar_url"`
	}
	out := make(map[string]joined, len(members))
	for _, ev := range members {
		var c struct {
			DisplayName *string `json:"displayname"`
			AvatarURL   *string `json:"avatar_url"`
		}
		_ = json.Unmarshal(ev.Content(), &c)
		out[*ev.StateKey()] = joined{DisplayName: c.DisplayName, AvatarURL: c.AvatarURL}
	}
	return ok(w, map[string]any{"joined": out})
}

// joinedRooms is GET /_matrix/client/v3/joined_rooms.
func (a *API) joinedRooms(w http.ResponseWriter, r *http.Request, s *Session) error {
	rooms, err := a.rooms.UserRooms(r.Context(), s.UserID, spec.Join)
	if err != nil {
		return err
	}
	if rooms == nil {
		rooms = []string{}
	}
	return ok(w, map[string]any{"joined_rooms": rooms})
}

// validRoomID is a cheap check of a room id's form.
func validRoomID(id string) bool {
	return strings.HasPrefix(id, "!") && len(id) <= 255 && !strings.ContainsAny(id, " \x00")
}
