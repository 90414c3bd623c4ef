package syncapi

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/ganglion/ganglion/storage"
)

// Presence states.
const (
	PresenceOnline      = "online"
	PresenceUnavailable = "unavailable"
	PresenceOffline     = "offline"
)

// PresenceContent is the content of an m.presence event, and the body of
// GET /presence/{userId}/status.
type PresenceContent struct {
	Presence        string  `json:"presence"`
	LastActiveAgo   *int64  `json:"last_active_ago,omitempty"`
	StatusMsg       *string `json:"status_msg,omitempty"`
	CurrentlyActive *bool   `json:"currently_active,omitempty"`
}

// NewPresenceContent formats stored presence as of now. last_active_ago
// is computed at each formatting, so it is current whenever a client is
// told; a user is currently active while online (the server demotes idle
// users to unavailable, which clients are told about).
func NewPresenceContent(p storage.Presence, now time.Time) PresenceContent {
	c := PresenceContent{Presence: p.Presence, StatusMsg: p.StatusMsg}
	if p.LastActiveTS > 0 {
		ago := max(now.UnixMilli()-p.LastActiveTS, 0)
		c.LastActiveAgo = &ago
	}
	if p.Presence == PresenceOnline {
		active := true
		c.CurrentlyActive = &active
	}
	return c
}

// presenceEvent is an m.presence event in /sync.
type presenceEvent struct {
	Type    string          `json:"type"`
	Sender  string          `json:"sender"`
	Content PresenceContent `json:"content"`
}

// presence adds the m.presence events the user has not seen: changes of
// its own presence and of the users who share a room with it, and on an
// incremental sync the presence of users it newly shares a room with.
func (run *syncRun) presence(ctx context.Context, resp *Response) error {
	if !run.s.presence {
		return nil
	}
	var changed []storage.Presence
	if run.initial || run.to.Presence > run.since.Presence {
		var err error
		if changed, err = run.s.db.PresenceChanges(ctx, run.req.UserID, run.since.Presence, run.to.Presence); err != nil {
			return err
		}
	}
	newcomers, err := run.newRoommates(ctx)
	if err != nil {
		return err
	}
	if len(newcomers) > 0 {
		known, err := run.s.db.PresenceOfUsers(ctx, newcomers, run.to.Presence)
		if err != nil {
			return err
		}
		changed = append(known, changed...)
	}
	if len(changed) == 0 {
		return nil
	}
	f := run.filter.Presence
	seen := map[string]bool{}
	var events []presenceEvent
	for i := len(changed) - 1; i >= 0; i-- { // newest first, each user once
		p := changed[i]
		if seen[p.UserID] || run.ignored[p.UserID] || !f.Allows("m.presence", p.UserID) {
			continue
		}
		seen[p.UserID] = true
		events = append(events, presenceEvent{Type: "m.presence", Sender: p.UserID, Content: NewPresenceContent(p, run.now)})
		if f != nil && f.Limit != nil && len(events) == *f.Limit {
			break
		}
	}
	if len(events) > 0 {
		list := eventList(events)
		resp.Presence = &list
	}
	return nil
}

// newRoommates are the users the user started to share a room with since
// the last sync: those who joined one of its rooms, and the members of the
// rooms it joined. Their presence may predate the sync's token.
func (run *syncRun) newRoommates(ctx context.Context) ([]string, error) {
	if run.initial || run.to.Events <= run.since.Events {
		return nil, nil
	}
	var users map[string]bool // made on first use: most syncs have no newcomer
	add := func(u string) {
		if users == nil {
			users = map[string]bool{}
		}
		users[u] = true
	}
	moves, err := run.membershipChanges(ctx)
	if err != nil {
		return nil, err
	}
	for _, m := range moves {
		if m.Membership == spec.Join && m.UserID != run.req.UserID {
			add(m.UserID)
		}
	}
	memberships, err := run.s.userMemberships(ctx, run.req.UserID)
	if err != nil {
		return nil, err
	}
	for _, m := range memberships {
		if m.Membership.Membership != spec.Join || m.StreamPos <= run.since.Events || m.StreamPos > run.to.Events {
			continue
		}
		members, err := run.s.rooms.Members(ctx, m.RoomID, spec.Join)
		if err != nil {
			return nil, err
		}
		for _, ev := range members {
			if u := *ev.StateKey(); u != run.req.UserID {
				add(u)
			}
		}
	}
	if users == nil {
		return nil, nil
	}
	return slices.Sorted(maps.Keys(users)), nil
}
