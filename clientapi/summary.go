package clientapi

import (
	"encoding/json"
	"net/http"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/ganglion/ganglion/internal/mxerr"
)

// roomSummary is GET /_matrix/client/v1/room_summary/{roomIdOrAlias} (and
// MSC3266's unstable path): what a client shows of a room before joining.
// It needs no access token for rooms anyone may look into (public or
// knockable join rules, world-readable history); other rooms are described
// only to their members, invitees and knockers, and are not found for
// everyone else.
func (a *API) roomSummary(w http.ResponseWriter, r *http.Request) error {
	roomID, err := a.resolveRoom(r, r.PathValue("roomIdOrAlias"))
	if err != nil {
		return err
	}
	if _, err := a.rooms.RoomVersion(r.Context(), roomID); err != nil {
		return mxerr.NotFound("room not found")
	}
	membership := ""
	if _, hasToken := bearerToken(r); hasToken {
		s, err := a.authenticate(r)
		if err != nil {
			return err
		}
		if membership, err = a.rooms.Membership(r.Context(), roomID, s.UserID); err != nil {
			return roomError(err)
		}
	}
	rooms := []publicRoom{{RoomID: roomID}}
	if err := a.fillPublicRooms(r.Context(), rooms); err != nil {
		return err
	}
	room := rooms[0]
	open := room.WorldReadable || room.JoinRule == spec.Public || room.JoinRule == spec.Knock ||
		room.JoinRule == spec.KnockRestricted
	member := membership == spec.Join || membership == spec.Invite || membership == spec.Knock
	if !open && !member {
		return mxerr.NotFound("room not found")
	}
	if members, err := a.rooms.Members(r.Context(), roomID, spec.Join); err == nil {
		room.NumJoinedMembers = int64(len(members))
	}
	summary := map[string]any{}
	raw, _ := json.Marshal(room)
	_ = json.Unmarshal(raw, &summary)
	if v, err := a.rooms.RoomVersion(r.Context(), roomID); err == nil {
		summary["room_version"] = v
	}
	if ev, err := a.rooms.StateEvent(r.Context(), roomID, "m.room.encryption", ""); err == nil {
		var c struct {
			Algorithm string `json:"algorithm"`
		}
		if json.Unmarshal(ev.Content(), &c) == nil && c.Algorithm != "" {
			summary["encryption"] = c.Algorithm
		}
	}
	if membership != "" && membership != spec.Leave {
		summary["membership"] = membership
	}
	return ok(w, summary)
}
