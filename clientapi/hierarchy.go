package clientapi

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	gmsl "github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/ganglion/ganglion/internal/mxerr"
	"github.com/ganglion/ganglion/syncapi"
)

const spaceChild = "m.space.child"

// hierarchyRoom is one room of a space hierarchy.
type hierarchyRoom struct {
	publicRoom
	ChildrenState []childState `json:"children_state"`
}

// childState is an m.space.child event in children_state: stripped state
// with origin_server_ts added, as the spec's hierarchy response has it.
type childState struct {
	syncapi.StrippedEvent
	OriginServerTS int64 `json:"origin_server_ts"`
}

// hierarchyQuery is the parsed query of /hierarchy.
type hierarchyQuery struct {
	limit, maxDepth int // maxDepth -1: unlimited
	offset          int // rooms of the walk already returned
	suggestedOnly   bool
}

// token is the next_batch after the page ending at offset. It carries the
// walk's parameters, which the spec does not let a later page change.
func (q hierarchyQuery) token(offset int) string {
	return fmt.Sprintf("h%d_%d_%t", offset, q.maxDepth, q.suggestedOnly)
}

func parseHierarchyQuery(r *http.Request) (hierarchyQuery, error) {
	v := r.URL.Query()
	q := hierarchyQuery{maxDepth: -1, suggestedOnly: v.Get("suggested_only") == "true"}
	var err error
	if q.limit, err = queryLimit(v.Get("limit"), 50, 500); err != nil {
		return q, err
	}
	if s := v.Get("max_depth"); s != "" {
		if q.maxDepth, err = strconv.Atoi(s); err != nil || q.maxDepth < 0 {
			return q, mxerr.InvalidParam("max_depth must be a non-negative integer")
		}
	}
	if from := v.Get("from"); from != "" {
		var offset int
		var depth int
		var suggested bool
		if _, err := fmt.Sscanf(from, "h%d_%d_%t", &offset, &depth, &suggested); err != nil || offset < 0 ||
			from != (hierarchyQuery{maxDepth: depth, suggestedOnly: suggested}).token(offset) {
			return q, mxerr.InvalidParam("unknown from token")
		}
		if depth != q.maxDepth || suggested != q.suggestedOnly {
			return q, mxerr.InvalidParam("suggested_only and max_depth cannot change on paginated requests")
		}
		q.offset = offset
	}
	return q, nil
}

// hierarchy is GET /_matrix/client/v1/rooms/{roomId}/hierarchy: the rooms
// of a space, depth first with each room's children in the spec's order,
// that the user may see or join (see maySee). Rooms on other servers are
// named in children_state but not described until federation can ask for
// them.
func (a *API) hierarchy(w http.ResponseWriter, r *http.Request, s *Session) error {
	q, err := parseHierarchyQuery(r)
	if err != nil {
		return err
	}
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
		stack = []queued{{root, 0}}
	)
	for len(stack) > 0 && len(rooms) < q.offset+q.limit+1 {
		next := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		room, children, err := a.hierarchyRoom(r.Context(), next.roomID, q.suggestedOnly)
		if err != nil {
			return err
		}
		rooms = append(rooms, room)
		if q.maxDepth >= 0 && next.depth >= q.maxDepth {
			continue
		}
		for _, child := range slices.Backward(children) { // the first child is walked first
			if !seen[child] && a.maySee(r.Context(), s.UserID, child) {
				seen[child] = true
				stack = append(stack, queued{child, next.depth + 1})
			}
		}
	}
	resp := map[string]any{}
	page := rooms[min(q.offset, len(rooms)):]
	if len(page) > q.limit {
		page = page[:q.limit]
		resp["next_batch"] = q.token(q.offset + q.limit)
	}
	resp["rooms"] = page
	return ok(w, resp)
}

// hierarchyRoom describes one room with its child events, and returns the
// children it names in the spec's order.
func (a *API) hierarchyRoom(ctx context.Context, roomID string, suggestedOnly bool) (hierarchyRoom, []string, error) {
	room := hierarchyRoom{ChildrenState: []childState{}}
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
	var children []spaceChildEvent
	for _, ev := range state {
		if ev.Type() != spaceChild || room.RoomType != "m.space" {
			continue // only spaces have children
		}
		c := spaceChildEvent{ev: ev}
		if json.Unmarshal(ev.Content(), &c.content) != nil || len(c.content.Via) == 0 ||
			(suggestedOnly && !c.content.Suggested) {
			continue // a child without via is removed
		}
		children = append(children, c)
	}
	slices.SortFunc(children, compareSpaceChildren)
	ids := make([]string, len(children))
	for i, c := range children {
		ids[i] = *c.ev.StateKey()
		room.ChildrenState = append(room.ChildrenState, childState{StrippedEvent: syncapi.StrippedEvent{
			Content: c.ev.Content(), Sender: string(c.ev.SenderID()), StateKey: ids[i], Type: c.ev.Type(),
		}, OriginServerTS: int64(c.ev.OriginServerTS())})
	}
	return room, ids, nil
}

// spaceChildEvent is an m.space.child event with its content read.
type spaceChildEvent struct {
	ev      gmsl.PDU
	content struct {
		Via       []string `json:"via"`
		Order     any      `json:"order"`
		Suggested bool     `json:"suggested"`
	}
}

// order is the child's valid order key, or "" (spec: m.space.child, at
// most 50 characters from \x20 to \x7E).
func (c spaceChildEvent) order() string {
	o, _ := c.content.Order.(string)
	if o == "" || len(o) > 50 || strings.ContainsFunc(o, func(r rune) bool { return r < 0x20 || r > 0x7E }) {
		return ""
	}
	return o
}

// compareSpaceChildren orders children as the spec's "Ordering of children
// within a space": those with a valid order key by it, then the others by
// the origin_server_ts of their m.space.child event; room id breaks ties.
func compareSpaceChildren(a, b spaceChildEvent) int {
	oa, ob := a.order(), b.order()
	switch {
	case oa != "" && ob == "":
		return -1
	case oa == "" && ob != "":
		return 1
	}
	return cmp.Or(strings.Compare(oa, ob), cmp.Compare(a.ev.OriginServerTS(), b.ev.OriginServerTS()),
		strings.Compare(*a.ev.StateKey(), *b.ev.StateKey()))
}

// maySee reports whether the hierarchy shows a user a room: the user is
// joined or invited, the room is public or world-readable, it takes knocks,
// or it is restricted and the user is joined to a room its rule allows.
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
	switch rooms[0].JoinRule {
	case spec.Public, spec.Knock, spec.KnockRestricted:
		return true
	case spec.Restricted:
		return rooms[0].WorldReadable || a.meetsAllowRule(ctx, userID, roomID)
	}
	return rooms[0].WorldReadable
}

// meetsAllowRule reports whether the user is joined to one of the rooms
// the room's restricted join rule allows.
func (a *API) meetsAllowRule(ctx context.Context, userID, roomID string) bool {
	rules, err := a.rooms.StateEvent(ctx, roomID, spec.MRoomJoinRules, "")
	if err != nil {
		return false
	}
	var content struct {
		Allow []struct {
			Type   string `json:"type"`
			RoomID string `json:"room_id"`
		} `json:"allow"`
	}
	if json.Unmarshal(rules.Content(), &content) != nil {
		return false
	}
	for _, allow := range content.Allow {
		if allow.Type != "m.room_membership" {
			continue
		}
		if m, err := a.rooms.Membership(ctx, allow.RoomID, userID); err == nil && m == spec.Join {
			return true
		}
	}
	return false
}
