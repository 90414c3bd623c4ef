package syncapi

import (
	"context"
	"encoding/json"

	gmsl "github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/ganglion/ganglion/storage"
)

// room builds a room's result, or nil if the connection has everything.
func (sl *slidingRun) room(ctx context.Context, e storage.RoomListEntry, cfg SlidingRoomConfig) (*SlidingRoom, error) {
	sent, wasSent := sl.next.rooms[e.RoomID]
	since := sl.since().Events
	membershipChanged := e.StreamPos > since
	initial := !wasSent || (membershipChanged && sent.membership != e.Membership.Membership)
	expanded := wasSent && !initial && cfg.TimelineLimit > sent.timelineLimit
	// A wider required_state (a room subscription with more state than
	// its list, as clients open a room) sends the room's state again.
	stateExpanded := wasSent && !initial && cfg.RequiredState.widens(sent.requiredState)
	changed := e.LastPos > since || membershipChanged
	if wasSent && !initial && !expanded && !stateExpanded && !changed {
		return nil, nil
	}
	sl.next.rooms[e.RoomID] = sentRoom{timelineLimit: cfg.TimelineLimit, membership: e.Membership.Membership,
		requiredState: cfg.RequiredState.includes()}
	room := &SlidingRoom{Membership: e.Membership.Membership, Initial: initial, Expanded: expanded,
		BumpStamp: max(e.BumpPos, 1)}
	if e.Membership.Membership == spec.Invite || e.Membership.Membership == spec.Knock {
		inv, err := (&syncRun{s: sl.s, req: Request{UserID: sl.user}}).invited(ctx, e.RoomID)
		if err != nil {
			return nil, err
		}
		for _, ev := range inv.InviteState.Events {
			room.StrippedState = append(room.StrippedState, ev.(StrippedEvent))
		}
		return room, nil
	}
	if e.Membership.Membership != spec.Join {
		room.BumpStamp = e.StreamPos
	}
	upto := sl.to.Events
	if e.Membership.Membership != spec.Join {
		upto = e.StreamPos // nothing after the user left
	}
	after := since
	if initial || expanded {
		after = 0
	}
	w, err := sl.timeline(ctx, e.RoomID, after, upto, cfg.TimelineLimit)
	if err != nil {
		return nil, err
	}
	for _, ev := range w.events {
		cev, err := sl.s.RoomEvent(ctx, ev, sl.now)
		if err != nil {
			return nil, err
		}
		room.Timeline = append(room.Timeline, cev)
		if sl.prev != nil && ev.StreamPos > since {
			room.NumLive++
		}
	}
	room.Limited = w.limited
	if len(w.events) > 0 {
		room.PrevBatch = PaginationToken(w.events[0].StreamPos)
	}
	var state []gmsl.PDU
	if initial || stateExpanded {
		state, err = sl.s.rooms.StateDelta(ctx, e.RoomID, 0, nil, upto)
	} else {
		state, err = sl.s.rooms.StateDelta(ctx, e.RoomID, since, nil, upto)
	}
	if err != nil {
		return nil, err
	}
	if !initial && !expanded && !stateExpanded && !membershipChanged && len(w.events) == 0 && len(state) == 0 {
		// The activity was after this response's positions (or invisible):
		// nothing to send yet, and the connection's view of the room holds.
		sl.next.rooms[e.RoomID] = sent
		return nil, nil
	}
	if err := sl.describe(ctx, room, e.RoomID, state, initial); err != nil {
		return nil, err
	}
	room.RequiredState = sl.requiredState(state, w, cfg.RequiredState)
	if e.Membership.Membership == spec.Join {
		run := &syncRun{s: sl.s, req: Request{UserID: sl.user}, to: sl.to, filter: &Filter{}}
		counts, _, err := run.unread(ctx, e.RoomID)
		if err != nil {
			return nil, err
		}
		room.Notifications, room.Highlights = &counts.Notification, &counts.Highlight
	}
	return room, nil
}

// timeline reads the newest visible events of a room in (after, upto].
func (sl *slidingRun) timeline(ctx context.Context, roomID string, after, upto int64, limit int) (timelineWindow, error) {
	if limit == 0 {
		return timelineWindow{}, nil
	}
	f := &Filter{Room: &RoomFilter{Timeline: &RoomEventFilter{EventFilter: EventFilter{Limit: &limit}}}}
	run := &syncRun{s: sl.s, req: Request{UserID: sl.user}, filter: f, now: sl.now, ignored: sl.ignored}
	return run.timeline(ctx, roomID, after, upto)
}

// describe fills name, avatar, heroes, counts and is_dm. On an initial
// result everything is sent; later only what the state changes touched.
func (sl *slidingRun) describe(ctx context.Context, room *SlidingRoom, roomID string, delta []gmsl.PDU, initial bool) error {
	touched := map[string]bool{}
	for _, ev := range delta {
		touched[ev.Type()] = true
	}
	if initial || touched[spec.MRoomName] {
		if ev, err := sl.s.rooms.StateEvent(ctx, roomID, spec.MRoomName, ""); err == nil {
			var c struct {
				Name string `json:"name"`
			}
			if json.Unmarshal(ev.Content(), &c) == nil && c.Name != "" {
				room.Name = &c.Name
			}
		}
	}
	if initial || touched["m.room.avatar"] {
		if ev, err := sl.s.rooms.StateEvent(ctx, roomID, "m.room.avatar", ""); err == nil {
			var c struct {
				URL string `json:"url"`
			}
			if json.Unmarshal(ev.Content(), &c) == nil && c.URL != "" {
				room.Avatar = &c.URL
			}
		}
	}
	if initial || touched[spec.MRoomMember] {
		run := &syncRun{s: sl.s, req: Request{UserID: sl.user}}
		sum, err := run.summary(ctx, roomID)
		if err != nil {
			return err
		}
		room.JoinedCount, room.InvitedCount = sum.Joined, sum.Invited
		if room.Name == nil {
			for _, user := range sum.Heroes {
				room.Heroes = append(room.Heroes, sl.hero(ctx, roomID, user))
			}
		}
	}
	room.IsDM = sl.dmRooms()[roomID]
	return nil
}

func (sl *slidingRun) hero(ctx context.Context, roomID, userID string) Hero {
	h := Hero{UserID: userID}
	if ev, err := sl.s.rooms.StateEvent(ctx, roomID, spec.MRoomMember, userID); err == nil {
		var c struct {
			DisplayName string `json:"displayname"`
			AvatarURL   string `json:"avatar_url"`
		}
		if json.Unmarshal(ev.Content(), &c) == nil {
			h.DisplayName, h.AvatarURL = c.DisplayName, c.AvatarURL
		}
	}
	return h
}

// requiredState keeps the state the config asks for, and with lazy
// members the members of the timeline's senders and targets.
func (sl *slidingRun) requiredState(state []gmsl.PDU, w timelineWindow, rs RequiredState) []any {
	lazy := map[string]bool{}
	if rs.LazyMembers {
		for _, ev := range w.events {
			lazy[string(ev.SenderID())] = true
			if ev.Type() == spec.MRoomMember && ev.StateKey() != nil {
				lazy[*ev.StateKey()] = true
			}
		}
	}
	var out []any
	for _, ev := range state {
		key := *ev.StateKey()
		if rs.wants(ev.Type(), key, sl.user) || (ev.Type() == spec.MRoomMember && lazy[key]) {
			out = append(out, ToClientEvent(ev, sl.now))
		}
	}
	return out
}
