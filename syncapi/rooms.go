package syncapi

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	gmsl "github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/ganglion/ganglion/roomserver"
	"github.com/ganglion/ganglion/storage"
)

// timelineWindow is the part of a room's timeline a response carries.
type timelineWindow struct {
	events  []roomserver.Event // oldest first, visible and filtered
	limited bool
}

// timeline reads the newest events of a room with positions in (after,
// upto], keeping those the user may see and the filter allows.
func (run *syncRun) timeline(ctx context.Context, roomID string, after, upto int64) (timelineWindow, error) {
	var f *RoomEventFilter
	if run.filter.Room != nil {
		f = run.filter.Room.Timeline
	}
	limit := defaultTimelineLimit
	if f != nil && f.Limit != nil {
		limit = *f.Limit
	}
	// Newest first, a page of stored events at a time: events the user may
	// not see or the filter leaves out make room for older ones, up to
	// maxTimelinePages pages.
	var (
		newest []roomserver.Event
		w      timelineWindow
	)
	before := upto + 1
	for page := 0; ; page++ {
		raw, err := run.s.rooms.Timeline(ctx, roomID, after, before, limit+1, true)
		if err != nil {
			return timelineWindow{}, err
		}
		more := len(raw) > limit
		if more {
			raw = raw[:limit]
		}
		if len(raw) == 0 {
			w.limited = more
			break
		}
		visible, err := run.s.rooms.Visible(ctx, run.req.UserID, raw)
		if err != nil {
			return timelineWindow{}, err
		}
		var last *roomserver.Event // the event that filled the limit
		for i := range visible {
			if f.AllowsPDU(visible[i]) && !run.ignored.Hides(visible[i]) {
				newest = append(newest, visible[i])
				if len(newest) == limit {
					last = &visible[i]
					break
				}
			}
		}
		if last != nil { // full: limited if anything older is left
			w.limited = more || last.StreamPos != raw[len(raw)-1].StreamPos
			break
		}
		if !more {
			break
		}
		if page+1 == maxTimelinePages {
			w.limited = true
			break
		}
		before = raw[len(raw)-1].StreamPos
	}
	for i := len(newest) - 1; i >= 0; i-- {
		w.events = append(w.events, newest[i])
	}
	return w, nil
}

// maxTimelinePages bounds the pages of stored events one timeline reads to
// fill its limit with events the filter lets through.
const maxTimelinePages = 8

// joined builds a joined room. A room the user joined since the last sync
// (or any room in an initial or full-state sync) gets its full state.
func (run *syncRun) joined(ctx context.Context, roomID string, membershipChanged bool, accountData []accountDataEvent) (*JoinedRoom, error) {
	full := run.initial || run.req.FullState || membershipChanged
	after := run.since.Events
	if run.initial || membershipChanged {
		after = 0
	}
	w, err := run.timeline(ctx, roomID, after, run.to.Events)
	if err != nil {
		return nil, err
	}
	jr := &JoinedRoom{AccountData: eventList(accountData)}
	if jr.Timeline, err = run.timelineJSON(ctx, w); err != nil {
		return nil, err
	}
	var state []gmsl.PDU
	switch {
	case full && len(w.events) > 0:
		state, err = run.s.rooms.StateBefore(ctx, w.events[0])
	case full:
		state, err = run.s.rooms.StateDelta(ctx, roomID, 0, nil, run.to.Events)
	case w.limited && len(w.events) > 0:
		state, err = run.s.rooms.StateDelta(ctx, roomID, run.since.Events, &w.events[0], 0)
	}
	if err != nil {
		return nil, err
	}
	var heroes []string
	if full || hasMembershipEvent(w) {
		if jr.Summary, err = run.summary(ctx, roomID); err != nil {
			return nil, err
		}
		heroes = jr.Summary.Heroes
	}
	if state, err = run.filterState(ctx, roomID, state, w, full, heroes); err != nil {
		return nil, err
	}
	jr.State = eventList(syncEvents(state, run.now))
	if jr.UnreadNotifications, jr.UnreadThreadNotifications, err = run.unread(ctx, roomID); err != nil {
		return nil, err
	}
	return jr, nil
}

// timelineJSON formats a timeline window with its prev_batch token.
func (run *syncRun) timelineJSON(ctx context.Context, w timelineWindow) (Timeline, error) {
	t := Timeline{Events: make([]ClientEvent, len(w.events)), Limited: w.limited}
	for i, ev := range w.events {
		var err error
		if t.Events[i], err = run.s.roomEvent(ctx, ev, run.now); err != nil {
			return t, err
		}
	}
	if len(w.events) > 0 {
		t.PrevBatch = PaginationToken(w.events[0].StreamPos)
	} else {
		t.PrevBatch = PaginationToken(run.to.Events + 1)
	}
	return t, nil
}

// filterState applies the state filter and lazy loading of members (see
// lazyMembers). full says state is the room's full state; heroes are the
// summary's, whose member events lazy loading must send too.
func (run *syncRun) filterState(ctx context.Context, roomID string, state []gmsl.PDU, w timelineWindow, full bool,
	heroes []string) ([]gmsl.PDU, error) {
	var f *RoomEventFilter
	if run.filter.Room != nil {
		f = run.filter.Room.State
	}
	lazy := f != nil && f.LazyLoadMembers
	out := state[:0:0]
	for _, ev := range state {
		if f.AllowsPDU(ev) && (!lazy || ev.Type() != spec.MRoomMember) {
			out = append(out, ev)
		}
	}
	if !lazy {
		return out, nil
	}
	members, err := run.lazyMembers(ctx, roomID, state, w, full, heroes, f)
	if err != nil {
		return nil, err
	}
	return append(out, members...), nil
}

func hasMembershipEvent(w timelineWindow) bool {
	for _, ev := range w.events {
		if ev.Type() == spec.MRoomMember {
			return true
		}
	}
	return false
}

// maxHeroes is how many other members name a room without a name.
const maxHeroes = 5

// summary counts the room's members and picks heroes: the first other
// joined or invited members by stream order, or when there are none, the
// first other members who left or were banned.
func (run *syncRun) summary(ctx context.Context, roomID string) (*Summary, error) {
	rm, err := run.s.roomMembers(ctx, roomID)
	if err != nil {
		return nil, err
	}
	heroes := others(rm.present, run.req.UserID)
	if len(heroes) == 0 {
		heroes = others(rm.gone, run.req.UserID)
	}
	nj, ni := rm.joined, rm.invited
	return &Summary{Joined: &nj, Invited: &ni, Heroes: heroes}, nil
}

// roomMembers is what a room's summary is made of: its member counts and,
// in stream order, the first members joined or invited and the first who
// left or were banned (one more than a summary's heroes, for the user
// asking may be among them).
type roomMembers struct {
	joined, invited int
	present, gone   []string
}

// maxCachedSummaries bounds the rooms whose summary is cached.
const maxCachedSummaries = 10_000

// roomMembers returns a room's summary material, cached until a member
// event of the room is committed (roomserver.MembersGen).
func (s *Syncer) roomMembers(ctx context.Context, roomID string) (roomMembers, error) {
	gen := s.rooms.MembersGen(roomID)
	if rm, ok := s.summaries.Get(roomID, gen); ok {
		return rm, nil
	}
	room, err := s.db.Room(ctx, roomID)
	if err != nil {
		return roomMembers{}, fmt.Errorf("summary of %s: %w", roomID, err)
	}
	ms, err := s.db.RoomMembers(ctx, room.NID, "")
	if err != nil {
		return roomMembers{}, err
	}
	slices.SortStableFunc(ms, func(a, b storage.Membership) int { return cmp.Compare(a.StreamPos, b.StreamPos) })
	var rm roomMembers
	for _, m := range ms {
		switch m.Membership {
		case spec.Join, spec.Invite:
			if m.Membership == spec.Join {
				rm.joined++
			} else {
				rm.invited++
			}
			if len(rm.present) <= maxHeroes {
				rm.present = append(rm.present, m.UserID)
			}
		case spec.Leave, spec.Ban:
			if len(rm.gone) <= maxHeroes {
				rm.gone = append(rm.gone, m.UserID)
			}
		}
	}
	s.summaries.Put(roomID, gen, rm)
	return rm, nil
}

// others returns up to maxHeroes of users, the user left out.
func others(users []string, user string) []string {
	out := make([]string, 0, maxHeroes)
	for _, u := range users {
		if u != user && len(out) < maxHeroes {
			out = append(out, u)
		}
	}
	return out
}

// strippedTypes are the state events an invited user sees of the room.
var strippedTypes = []string{
	spec.MRoomCreate, spec.MRoomJoinRules, spec.MRoomName, "m.room.avatar", spec.MRoomCanonicalAlias,
	"m.room.encryption", spec.MRoomTopic,
}

// invited builds an invited room: stripped state and the invite itself.
func (run *syncRun) invited(ctx context.Context, roomID string) (*InvitedRoom, error) {
	var events []StrippedEvent
	for _, typ := range strippedTypes {
		ev, err := run.s.rooms.StateEvent(ctx, roomID, typ, "")
		if err != nil {
			continue // not set in this room
		}
		events = append(events, stripped(ev))
	}
	invite, err := run.s.rooms.StateEvent(ctx, roomID, spec.MRoomMember, run.req.UserID)
	if err != nil {
		return nil, err
	}
	events = append(events, stripped(invite))
	return &InvitedRoom{InviteState: eventList(events)}, nil
}

func stripped(ev gmsl.PDU) StrippedEvent {
	return StrippedEvent{Content: ev.Content(), Sender: string(ev.SenderID()), StateKey: *ev.StateKey(), Type: ev.Type()}
}

// left builds a room the user left or was removed from: the timeline up
// to its leave, and the state before the timeline (with no timeline, the
// state up to and with the leave).
func (run *syncRun) left(ctx context.Context, m storage.UserMembership) (*LeftRoom, error) {
	after := run.since.Events
	w, err := run.timeline(ctx, m.RoomID, after, m.StreamPos)
	if err != nil {
		return nil, err
	}
	lr := &LeftRoom{AccountData: eventList([]any{})}
	if lr.Timeline, err = run.timelineJSON(ctx, w); err != nil {
		return nil, err
	}
	var state []gmsl.PDU
	switch {
	case len(w.events) > 0 && run.initial:
		state, err = run.s.rooms.StateBefore(ctx, w.events[0])
	case len(w.events) > 0 && w.limited:
		state, err = run.s.rooms.StateDelta(ctx, m.RoomID, run.since.Events, &w.events[0], 0)
	case len(w.events) == 0 && run.initial: // an empty timeline (limit 0): the state the user left
		state, err = run.s.rooms.StateAtPosition(ctx, m.RoomID, m.StreamPos)
	case len(w.events) == 0:
		state, err = run.s.rooms.StateDelta(ctx, m.RoomID, run.since.Events, nil, m.StreamPos)
	}
	if err != nil {
		return nil, err
	}
	if state, err = run.filterState(ctx, m.RoomID, state, w, run.initial || run.req.FullState, nil); err != nil {
		return nil, err
	}
	lr.State = eventList(syncEvents(state, run.now))
	return lr, nil
}
