package syncapi

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/ganglion/ganglion/storage"
)

// SlidingResponse is the body of a sliding sync answer.
type SlidingResponse struct {
	Pos        string                      `json:"pos"`
	Lists      map[string]SlidingListCount `json:"lists"`
	Rooms      map[string]*SlidingRoom     `json:"rooms"`
	Extensions map[string]any              `json:"extensions"`
}

// SlidingListCount is a list's result.
type SlidingListCount struct {
	Count int `json:"count"`
}

// SlidingRoom is a room's result.
type SlidingRoom struct {
	Name          *string         `json:"name,omitempty"`
	Avatar        *string         `json:"avatar,omitempty"`
	Heroes        []Hero          `json:"heroes,omitempty"`
	IsDM          bool            `json:"is_dm,omitempty"`
	Initial       bool            `json:"initial,omitempty"`
	Expanded      bool            `json:"expanded_timeline,omitempty"`
	RequiredState []any           `json:"required_state,omitempty"`
	Timeline      []ClientEvent   `json:"timeline,omitempty"`
	PrevBatch     string          `json:"prev_batch,omitempty"`
	Limited       bool            `json:"limited,omitempty"`
	NumLive       int             `json:"num_live"`
	JoinedCount   *int            `json:"joined_count,omitempty"`
	InvitedCount  *int            `json:"invited_count,omitempty"`
	BumpStamp     int64           `json:"bump_stamp,omitempty"`
	Notifications *int64          `json:"notification_count,omitempty"`
	Highlights    *int64          `json:"highlight_count,omitempty"`
	Membership    string          `json:"membership,omitempty"`
	Lists         []string        `json:"lists,omitempty"`
	StrippedState []StrippedEvent `json:"stripped_state,omitempty"`
}

// Hero is a member who names a room without a name.
type Hero struct {
	UserID      string `json:"user_id"`
	DisplayName string `json:"displayname,omitempty"`
	AvatarURL   string `json:"avatar_url,omitempty"`
}

// bumpTypes are the event types that move a room up by bump_stamp.
var bumpTypes = []string{spec.MRoomCreate, "m.room.message", "m.room.encrypted", "m.sticker",
	"m.call.invite", "m.poll.start", "m.beacon_info"}

// maxSlidingTimeout caps the long-poll of sliding sync.
const maxSlidingTimeout = 5 * time.Minute

// Sliding answers a sliding sync request of userID's deviceID.
func (s *Syncer) Sliding(ctx context.Context, userID, deviceID string, req SlidingRequest) (*SlidingResponse, error) {
	key := connKey{user: userID, device: deviceID, conn: req.ConnID}
	prev, err := s.conns.state(key, req.Pos)
	if err != nil {
		return nil, err
	}
	var deadline <-chan time.Time
	if prev != nil && req.Timeout > 0 {
		// Clamped in milliseconds: a huge value would overflow a Duration.
		timer := time.NewTimer(time.Duration(min(req.Timeout, maxSlidingTimeout.Milliseconds())) * time.Millisecond)
		defer timer.Stop()
		deadline = timer.C
	}
	for {
		woken := s.notifier.listen(userID)
		to, err := s.positions(ctx)
		if err != nil {
			return nil, err
		}
		sl := &slidingRun{s: s, user: userID, device: deviceID, req: req, prev: prev, to: to, now: s.db.Now(),
			next: &connState{token: to, rooms: map[string]sentRoom{}}}
		resp, err := sl.build(ctx)
		if err != nil {
			return nil, err
		}
		if deadline == nil || len(resp.Rooms) > 0 || len(resp.Extensions) > 0 {
			resp.Pos = s.conns.save(key, sl.next)
			return resp, nil
		}
		select {
		case <-woken:
		case <-deadline:
			resp.Pos = s.conns.save(key, sl.next)
			return resp, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// slidingRun is one computation of a sliding sync response.
type slidingRun struct {
	s            *Syncer
	user, device string
	req          SlidingRequest
	prev         *connState // nil on a new connection
	next         *connState
	to           StreamToken
	now          time.Time
	accountData  map[string]json.RawMessage // global, by type (m.direct, ...)
	ignored      Ignored
}

func (sl *slidingRun) since() StreamToken {
	if sl.prev == nil {
		return StreamToken{}
	}
	return sl.prev.token
}

func (sl *slidingRun) build(ctx context.Context) (*SlidingResponse, error) {
	if sl.prev != nil {
		for id, r := range sl.prev.rooms {
			sl.next.rooms[id] = r
		}
	}
	if err := sl.loadAccountData(ctx); err != nil {
		return nil, err
	}
	var err error
	if sl.ignored, err = sl.s.IgnoredUsers(ctx, sl.user); err != nil {
		return nil, err
	}
	entries, err := sl.roomList(ctx)
	if err != nil {
		return nil, err
	}
	resp := &SlidingResponse{Lists: map[string]SlidingListCount{}, Rooms: map[string]*SlidingRoom{}, Extensions: map[string]any{}}
	configs := map[string]*SlidingRoomConfig{}
	lists := map[string][]string{}
	for name, list := range sl.req.Lists {
		matched, err := sl.filter(ctx, entries, list.Filters)
		if err != nil {
			return nil, err
		}
		resp.Lists[name] = SlidingListCount{Count: len(matched)}
		for i, e := range matched {
			if !inRanges(i, list.Ranges) {
				continue
			}
			addConfig(configs, e.RoomID, list.SlidingRoomConfig)
			lists[e.RoomID] = append(lists[e.RoomID], name)
		}
	}
	byID := map[string]storage.RoomListEntry{}
	for _, e := range entries {
		byID[e.RoomID] = e
	}
	for roomID, cfg := range sl.req.RoomSubscriptions {
		if _, ok := byID[roomID]; ok {
			addConfig(configs, roomID, cfg)
		}
	}
	for roomID, cfg := range configs {
		room, err := sl.room(ctx, byID[roomID], *cfg)
		if err != nil {
			return nil, err
		}
		if room != nil {
			slices.Sort(lists[roomID])
			room.Lists = lists[roomID]
			resp.Rooms[roomID] = room
		}
	}
	subscribed := map[string]bool{}
	for roomID := range sl.req.RoomSubscriptions {
		if _, ok := byID[roomID]; ok {
			subscribed[roomID] = true
		}
	}
	if err := sl.extensions(ctx, resp, entries, extensionRooms{lists: lists, subscribed: subscribed}); err != nil {
		return nil, err
	}
	return resp, nil
}

func addConfig(configs map[string]*SlidingRoomConfig, roomID string, cfg SlidingRoomConfig) {
	cfg.TimelineLimit = min(max(cfg.TimelineLimit, 0), maxSlidingTimeline)
	if c := configs[roomID]; c != nil {
		c.combine(cfg)
		return
	}
	configs[roomID] = &cfg
}

func inRanges(i int, ranges [][2]int) bool {
	if len(ranges) == 0 {
		return true
	}
	for _, r := range ranges {
		if i >= r[0] && i <= r[1] {
			return true
		}
	}
	return false
}

// roomList is the user's rooms by recent activity: joined, invited and
// knocked rooms, rooms it was banned from, and rooms it left if this
// connection was told about them before.
func (sl *slidingRun) roomList(ctx context.Context) ([]storage.RoomListEntry, error) {
	var bump []storage.TypeNID
	for _, t := range bumpTypes {
		nid, ok, err := sl.s.db.LookupTypeNID(ctx, t)
		if err != nil {
			return nil, err
		}
		if ok {
			bump = append(bump, nid)
		}
	}
	all, err := sl.s.db.RoomList(ctx, sl.user, bump)
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, e := range all {
		switch e.Membership.Membership {
		case spec.Join, spec.Invite, spec.Knock, spec.Ban:
		default:
			if sl.prev == nil || sl.prev.rooms[e.RoomID].membership == "" {
				continue
			}
		}
		if e.StreamPos > sl.to.Events {
			continue // changed after this response's positions
		}
		if e.Membership.Membership == spec.Invite {
			run := &syncRun{s: sl.s, req: Request{UserID: sl.user}, ignored: sl.ignored}
			if hidden, err := run.invitedByIgnored(ctx, e.UserMembership); err != nil {
				return nil, err
			} else if hidden {
				continue
			}
		}
		out = append(out, e)
	}
	slices.SortStableFunc(out, func(a, b storage.RoomListEntry) int {
		return int(max(b.LastPos, b.StreamPos) - max(a.LastPos, a.StreamPos))
	})
	return out, nil
}

// loadAccountData reads the global account data the filters need.
func (sl *slidingRun) loadAccountData(ctx context.Context) error {
	sl.accountData = map[string]json.RawMessage{}
	all, err := sl.s.db.AccountDataSince(ctx, localpartOf(sl.user), 0)
	if err != nil {
		return err
	}
	for _, d := range all {
		if d.RoomID == "" {
			sl.accountData[d.Type] = d.Content
		}
	}
	return nil
}

// dmRooms are the rooms in m.direct.
func (sl *slidingRun) dmRooms() map[string]bool {
	var direct map[string][]string
	_ = json.Unmarshal(sl.accountData["m.direct"], &direct)
	out := map[string]bool{}
	for _, rooms := range direct {
		for _, r := range rooms {
			out[r] = true
		}
	}
	return out
}

// filter applies a list's filters.
func (sl *slidingRun) filter(ctx context.Context, entries []storage.RoomListEntry, f *SlidingFilter) ([]storage.RoomListEntry, error) {
	if f == nil {
		return entries, nil
	}
	dms := sl.dmRooms()
	var out []storage.RoomListEntry
	for _, e := range entries {
		invited := e.Membership.Membership == spec.Invite
		if f.IsDM != nil && dms[e.RoomID] != *f.IsDM {
			continue
		}
		if inv := f.invited(); inv != nil && invited != *inv {
			continue
		}
		if f.IsEncrypted != nil || f.RoomTypes != nil || f.NotRoomTypes != nil {
			keep, err := sl.stateFilters(ctx, e.RoomID, f)
			if err != nil {
				return nil, err
			}
			if !keep {
				continue
			}
		}
		if len(f.Tags) > 0 || len(f.NotTags) > 0 {
			if !sl.tagsAllow(ctx, e.RoomID, f) {
				continue
			}
		}
		out = append(out, e)
	}
	return out, nil
}

// stateFilters checks is_encrypted and the room type filters.
func (sl *slidingRun) stateFilters(ctx context.Context, roomID string, f *SlidingFilter) (bool, error) {
	if f.IsEncrypted != nil {
		_, err := sl.s.rooms.StateEvent(ctx, roomID, "m.room.encryption", "")
		if (err == nil) != *f.IsEncrypted {
			return false, nil
		}
	}
	if f.RoomTypes == nil && f.NotRoomTypes == nil {
		return true, nil
	}
	var roomType *string
	if create, err := sl.s.rooms.StateEvent(ctx, roomID, spec.MRoomCreate, ""); err == nil {
		var c struct {
			Type *string `json:"type"`
		}
		_ = json.Unmarshal(create.Content(), &c)
		roomType = c.Type
	}
	same := func(a, b *string) bool { return (a == nil && b == nil) || (a != nil && b != nil && *a == *b) }
	for _, t := range f.NotRoomTypes {
		if same(t, roomType) {
			return false, nil
		}
	}
	if f.RoomTypes == nil {
		return true, nil
	}
	return slices.ContainsFunc(f.RoomTypes, func(t *string) bool { return same(t, roomType) }), nil
}

// tagsAllow applies tags and not_tags from the room's m.tag account data.
func (sl *slidingRun) tagsAllow(ctx context.Context, roomID string, f *SlidingFilter) bool {
	var tags struct {
		Tags map[string]any `json:"tags"`
	}
	if raw, err := sl.s.db.AccountData(ctx, localpartOf(sl.user), roomID, "m.tag"); err == nil {
		_ = json.Unmarshal(raw, &tags)
	}
	for _, t := range f.NotTags {
		if _, ok := tags.Tags[t]; ok {
			return false
		}
	}
	if len(f.Tags) == 0 {
		return true
	}
	for _, t := range f.Tags {
		if _, ok := tags.Tags[t]; ok {
			return true
		}
	}
	return false
}
