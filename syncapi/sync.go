package syncapi

import (
	"context"
	"errors"
	"time"

	"github.com/matrix-org/gomatrixserverlib/spec"
	"github.com/sirupsen/logrus"

	"github.com/ganglion/ganglion/internal/gencache"
	"github.com/ganglion/ganglion/roomserver"
	"github.com/ganglion/ganglion/storage"
	"github.com/ganglion/ganglion/syncapi/push"
)

// Deps are the collaborators of the Syncer.
type Deps struct {
	DB       *storage.DB
	Rooms    *roomserver.Roomserver
	Notifier *Notifier
	Typing   *Typing
	Push     *push.Evaluator // counts unread notifications
	Log      logrus.FieldLogger
	// Presence: send m.presence events (the config's presence.enabled).
	Presence bool
}

// Syncer answers /sync from storage by stream positions.
type Syncer struct {
	db       *storage.DB
	rooms    *roomserver.Roomserver
	notifier *Notifier
	typing   *Typing
	push     *push.Evaluator
	log      logrus.FieldLogger
	conns    slidingConns
	presence bool

	memberships gencache.Cache[string, []storage.UserMembership]
	summaries   gencache.Cache[string, roomMembers] // room id -> what its summary is made of
	acks        toDeviceAcks
	lazy        lazySent
}

// NewSyncer returns a Syncer.
func NewSyncer(deps Deps) (*Syncer, error) {
	if deps.DB == nil || deps.Rooms == nil || deps.Notifier == nil || deps.Typing == nil || deps.Push == nil ||
		deps.Log == nil {
		return nil, errors.New("syncapi: DB, Rooms, Notifier, Typing, Push and Log are required")
	}
	return &Syncer{db: deps.DB, rooms: deps.Rooms, notifier: deps.Notifier, typing: deps.Typing, push: deps.Push, log: deps.Log,
		presence: deps.Presence, memberships: gencache.Cache[string, []storage.UserMembership]{Max: maxCachedMembershipLists},
		summaries: gencache.Cache[string, roomMembers]{Max: maxCachedSummaries}}, nil
}

// Request is a parsed /sync request.
type Request struct {
	UserID    string
	DeviceID  string
	Since     *StreamToken // nil: initial sync
	Timeout   time.Duration
	FullState bool
	Filter    *Filter // nil: the default filter
}

// defaultTimelineLimit is the timeline length without a filter limit.
const defaultTimelineLimit = 10

// ErrForeignToken is returned by Sync for a since token this server did
// not give out.
var ErrForeignToken = errors.New("since token names positions this server has not reached")

// Sync returns what changed for the user since req.Since. If nothing did,
// it waits up to req.Timeout for a change. Returns ErrForeignToken if
// req.Since is past the server's current positions.
func (s *Syncer) Sync(ctx context.Context, req Request) (*Response, error) {
	var deadline <-chan time.Time
	if req.Since != nil && req.Timeout > 0 && !req.FullState {
		timer := time.NewTimer(req.Timeout)
		defer timer.Stop()
		deadline = timer.C
	}
	for {
		woken := s.notifier.listen(req.UserID)
		to, err := s.positions(ctx)
		if err != nil {
			return nil, err
		}
		if req.Since != nil && req.Since.beyond(to) {
			return nil, ErrForeignToken
		}
		var resp *Response
		// A token at the current positions (a client polling again after
		// an answer) would get an empty answer: wait before building one.
		// The build that ends the wait acknowledges to-device messages.
		if deadline == nil || *req.Since != to {
			resp, err = s.build(ctx, req, to)
			if err != nil || deadline == nil || !resp.empty() {
				return resp, err
			}
		}
		select {
		case <-woken:
		case <-deadline:
			if resp == nil {
				return s.build(ctx, req, to)
			}
			return resp, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// positions are the current positions of every stream.
func (s *Syncer) positions(ctx context.Context) (StreamToken, error) {
	pos, err := s.db.StreamPositions(ctx)
	if err != nil {
		return StreamToken{}, err
	}
	return StreamToken{
		Events: s.notifier.eventsPos(), AccountData: pos["account_data"], Receipts: pos["receipts"],
		ToDevice: pos["to_device"], DeviceLists: pos["device_lists"], Presence: pos["presence"],
		Typing: s.typing.Pos(),
	}, nil
}

// syncRun is one computation of a response.
type syncRun struct {
	s       *Syncer
	req     Request
	since   StreamToken
	to      StreamToken
	initial bool
	filter  *Filter
	now     time.Time
	ignored Ignored // senders whose events are left out
	// toDeviceLimit bounds the to-device messages of the response (0:
	// maxToDevicePerSync); sliding sync's extension may ask for fewer.
	toDeviceLimit int
	moves         struct { // membershipChanges, read once
		done bool
		list []storage.MembershipChange
		err  error
	}
}

func (s *Syncer) build(ctx context.Context, req Request, to StreamToken) (*Response, error) {
	run := &syncRun{s: s, req: req, to: to, initial: req.Since == nil, filter: req.Filter, now: s.db.Now()}
	if req.Since != nil {
		run.since = *req.Since
	}
	if run.filter == nil {
		run.filter = &Filter{}
	}
	resp := &Response{NextBatch: to.String()}
	var err error
	if run.ignored, err = s.IgnoredUsers(ctx, req.UserID); err != nil {
		return nil, err
	}
	var accountData []storage.AccountData
	if run.initial || to.AccountData > run.since.AccountData {
		if accountData, err = s.db.AccountDataSince(ctx, localpartOf(req.UserID), run.since.AccountData); err != nil {
			return nil, err
		}
	}
	roomData := map[string][]accountDataEvent{}
	var global []accountDataEvent
	var roomFilter *RoomEventFilter
	if run.filter.Room != nil {
		roomFilter = run.filter.Room.AccountData
	}
	for _, d := range accountData {
		if d.StreamPos > to.AccountData {
			continue
		}
		e := accountDataEvent{Type: d.Type, Content: d.Content}
		if d.RoomID == "" {
			if run.filter.AccountData.Allows(d.Type, "") {
				global = append(global, e)
			}
		} else if roomFilter.AllowsSenderless(d.RoomID, d.Type) {
			roomData[d.RoomID] = append(roomData[d.RoomID], e)
		}
	}
	global = run.withDefaultPushRules(global, accountData)
	if len(global) > 0 {
		list := eventList(global)
		resp.AccountData = &list
	}
	rooms, err := run.rooms(ctx, roomData)
	if err != nil {
		return nil, err
	}
	if rooms != nil {
		resp.Rooms = rooms
	}
	if err := run.e2ee(ctx, resp); err != nil {
		return nil, err
	}
	if err := run.presence(ctx, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

// activeRooms returns the rooms with new timeline events in the response's
// range (a nil map for none): from the Notifier when it knows, else from
// storage.
func (run *syncRun) activeRooms(ctx context.Context, memberships []storage.UserMembership) (map[string]bool, error) {
	if run.initial || run.to.Events <= run.since.Events {
		return nil, nil
	}
	if active, known := run.s.notifier.activeRooms(memberships, run.since.Events, run.to.Events); known {
		return active, nil
	}
	rows, err := run.s.db.ActiveRooms(ctx, run.req.UserID, run.since.Events, run.to.Events)
	if err != nil {
		return nil, err
	}
	active := make(map[string]bool, len(rows))
	for _, a := range rows {
		active[a.RoomID] = true
	}
	return active, nil
}

// rooms builds the join, invite and leave sections.
func (run *syncRun) rooms(ctx context.Context, roomData map[string][]accountDataEvent) (*Rooms, error) {
	memberships, err := run.s.userMemberships(ctx, run.req.UserID)
	if err != nil {
		return nil, err
	}
	active, err := run.activeRooms(ctx, memberships)
	if err != nil {
		return nil, err
	}
	if run.initial {
		// An incremental sync still tells other devices that the room was
		// left; only new initial syncs leave forgotten rooms out.
		if memberships, err = run.s.withoutForgotten(ctx, run.req.UserID, memberships); err != nil {
			return nil, err
		}
	}
	ephemeral, err := run.ephemeral(ctx, memberships)
	if err != nil {
		return nil, err
	}
	out := &Rooms{} // maps made on first use: most syncs fill one or none
	for _, m := range memberships {
		if !run.roomAllowed(m.RoomID) || m.StreamPos > run.to.Events {
			continue // changed after this response's positions: the next sync tells
		}
		changed := !run.initial && m.StreamPos > run.since.Events
		switch m.Membership.Membership {
		case spec.Join:
			if !run.initial && !active[m.RoomID] && !changed && !run.req.FullState && roomData[m.RoomID] == nil &&
				ephemeral[m.RoomID] == nil {
				continue
			}
			jr, err := run.joined(ctx, m.RoomID, changed, roomData[m.RoomID])
			if err != nil {
				return nil, err
			}
			jr.Ephemeral = eventList(ephemeral[m.RoomID])
			out.Join = put(out.Join, m.RoomID, jr)
		case spec.Invite, spec.Knock:
			if run.initial || changed {
				if hidden, err := run.invitedByIgnored(ctx, m); err != nil {
					return nil, err
				} else if hidden {
					continue
				}
				ir, err := run.invited(ctx, m.RoomID)
				if err != nil {
					return nil, err
				}
				if m.Membership.Membership == spec.Knock {
					out.Knock = put(out.Knock, m.RoomID, &KnockedRoom{KnockState: ir.InviteState})
				} else {
					out.Invite = put(out.Invite, m.RoomID, ir)
				}
			}
		case spec.Leave, spec.Ban:
			if changed || (run.initial && run.filter.Room != nil && run.filter.Room.IncludeLeave) {
				lr, err := run.left(ctx, m)
				if err != nil {
					return nil, err
				}
				out.Leave = put(out.Leave, m.RoomID, lr)
			}
		}
	}
	if len(out.Join)+len(out.Invite)+len(out.Leave)+len(out.Knock) == 0 {
		return nil, nil
	}
	return out, nil
}

// put sets m[key], making m if it is nil.
func put[V any](m map[string]V, key string, v V) map[string]V {
	if m == nil {
		m = map[string]V{}
	}
	m[key] = v
	return m
}

// roomAllowed applies the filter's rooms and not_rooms.
func (run *syncRun) roomAllowed(roomID string) bool {
	f := run.filter.Room
	if f == nil {
		return true
	}
	for _, r := range f.NotRooms {
		if r == roomID {
			return false
		}
	}
	if f.Rooms == nil {
		return true
	}
	for _, r := range *f.Rooms {
		if r == roomID {
			return true
		}
	}
	return false
}

func localpartOf(userID string) string {
	u, err := spec.NewUserID(userID, true)
	if err != nil {
		return ""
	}
	return u.Local()
}

// withoutForgotten drops the rooms the user forgot (they stay forgotten
// only while the user's membership is the one it forgot them with).
func (s *Syncer) withoutForgotten(ctx context.Context, userID string, ms []storage.UserMembership) ([]storage.UserMembership, error) {
	forgotten, err := s.db.ForgottenRooms(ctx, userID)
	if err != nil || len(forgotten) == 0 {
		return ms, err
	}
	drop := map[string]bool{}
	for _, id := range forgotten {
		drop[id] = true
	}
	out := ms[:0:0]
	for _, m := range ms {
		if !drop[m.RoomID] {
			out = append(out, m)
		}
	}
	return out, nil
}
