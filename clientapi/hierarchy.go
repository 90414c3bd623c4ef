package clientapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/ganglion/ganglion/internal/mxerr"
	"github.com/ganglion/ganglion/syncapi"
)

const spaceChild = "m.space.child"

// hierarchyRoom is one room of a space hierarchy.
type hierarchyRoom struct {
	publicRoom
	ChildrenState []syncapi.StrippedEvent `json:"children_state"`
}

// hierarchy is GET /_matrix/client/v1/rooms/{roomId}/hierarchy: the rooms
// of a space, breadth first, that the user may see (joined, or public, or
// world-readable). Rooms on other servers are named in children_state but
// not described until federation can ask for them.
func (a *API) hierarchy(w http.ResponseWriter, r *http.Request, s *Session) error {
	q := r.URL.Query()
	limit, err := queryLimit(q.Get("limit"), 50, 500)
	if err != nil {
		return err
	}
	maxDepth := -1
	if v := q.Get("max_depth"); v != "" {
		if maxDepth, err = strconv.Atoi(v); err != nil || maxDepth < 0 {
			return mxerr.InvalidParam("max_depth must be a non-negative integer")
		}
	}
	offset := 0
	if v := q.Get("from"); v != "" {
		n, ok := strings.CutPrefix(v, "h")
		if offset, err = strconv.Atoi(n); !ok || err != nil || offset < 0 {
			return mxerr.InvalidParam("malformed from token")
		}
	}
	suggestedOnly := q.Get("suggested_only") == "true"
	root := r.PathValue("roomId")
	if !a.maySee(r.Context(), s.UserID, root) {
		return mxerr.Forbidden("you cannot see this space")
	}
	type queued struct {
		roomID string
		depth  int
	}
	var (
		rooms []hierarchyRoom
		seen  = map[string]bool{root: true}
		queue = []queued{{root, 0}}
	)
	for len(queue) > 0 && len(rooms) < offset+limit+1 {
		next := queue[0]
		queue = queue[1:]
		room, children, err := a.hierarchyRoom(r.Context(), next.roomID, suggestedOnly)
		if err != nil {
			return err
		}
		rooms = append(rooms, room)
		if maxDepth >= 0 && next.depth >= maxDepth {
			continue
		}
		for _, child := range children {
			if !seen[child] && a.maySee(r.Context(), s.UserID, child) {
				seen[child] = true
				queue = append(queue, queued{child, next.depth + 1})
			}
		}
	}
	resp := map[string]any{}
	if offset > len(rooms) {
		offset = len(rooms)
	}
	page := rooms[offset:]
	if len(page) > limit {
		page = page[:limit]
		resp["next_batch"] = "h" + strconv.Itoa(offset+limit)
	}
	resp["rooms"] = page
	return ok(w, resp)
}

// hierarchyRoom describes one room with its child events, and returns the
// children it names.
func (a *API) hierarchyRoom(ctx context.Context, roomID string, suggestedOnly bool) (hierarchyRoom, []string, error) {
	room := hierarchyRoom{ChildrenState: []syncapi.StrippedEvent{}}
	rooms := []publicRoom{{RoomID: roomID}}
	if err := a.fillPublicRooms(ctx, rooms); err != nil {
		return room, nil, err
	}
	room.publicRoom = rooms[0]
	if members, err := a.rooms.Members(ctx, roomID, spec.Join); err == nil {
		room.NumJoinedMembers = int64(len(members))
	}
	state, err := a.rooms.CurrentState(ctx, roomID)
	if err != nil {
		return room, nil, roomError(err)
	}
	var children []string
	for _, ev := range state {
		if ev.Type() != spaceChild || room.RoomType != "m.space" {
			continue // only spaces have children
		}
		var c struct {
			Via       []string `json:"via"`
			Suggested bool     `json:"suggested"`
		}
		if json.Unmarshal(ev.Content(), &c) != nil || len(c.Via) == 0 || (suggestedOnly && !c.Suggested) {
			continue // a child without via is removed
		}
		room.ChildrenState = append(room.ChildrenState, syncapi.StrippedEvent{
			Content: ev.Content(), Sender: string(ev.SenderID()), StateKey: *ev.StateKey(), Type: ev.Type(),
		})
		children = append(children, *ev.StateKey())
	}
	return room, children, nil
}

// maySee reports whether a user may see a room's summary: it is joined
// (or invited), or the room is public or world-readable.
func (a *API) maySee(ctx context.Context, userID, roomID string) bool {
	if m, err := a.rooms.Membership(ctx, roomID, userID); err != nil {
		return false
	} else if m == spec.Join || m == spec.Invite {
		return true
	}
	rooms := []publicRoom{{RoomID: roomID}}
	if a.fillPublicRooms(ctx, rooms) != nil {
		return false
	}
	return rooms[0].JoinRule == spec.Public || rooms[0].WorldReadable
}
