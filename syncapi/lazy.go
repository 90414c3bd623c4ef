package syncapi

import (
	"context"
	"slices"
	"sync"

	gmsl "github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"
)

// Lazy-loading room members (the spec's "Lazy-loading room members"): a
// /sync whose state filter sets lazy_load_members sends only the member
// events of the timeline's senders, as they were at the timeline's start,
// and the user's own on a full state. An incremental sync leaves out the
// member events the device already has ("redundant membership events")
// unless the filter sets include_redundant_members, and adds the changed
// member events of users the device was sent before.

// lazyMembers returns the member events of a lazy-loading sync of a room:
// those of state (in its order) that are wanted, then those of senders and
// heroes (the summary's, which the spec requires) whose member event state
// lacks, read at the timeline's start. full says
// state is the room's full state (the client starts afresh with the room):
// then nothing counts as redundant. It records what it returns, and the
// timeline's member events, as sent to the device.
func (run *syncRun) lazyMembers(ctx context.Context, roomID string, state []gmsl.PDU, w timelineWindow, full bool,
	heroes []string, f *RoomEventFilter) ([]gmsl.PDU, error) {
	want := make([]string, 0, len(w.events)+len(heroes)+1) // sorted, each once
	for _, ev := range w.events {
		want = append(want, string(ev.SenderID()))
	}
	want = append(want, heroes...)
	if full {
		want = append(want, run.req.UserID)
	}
	slices.Sort(want)
	want = slices.Compact(want)
	dev := deviceRoom{user: run.req.UserID, device: run.req.DeviceID, room: roomID}
	var out []gmsl.PDU
	var have map[string]bool // made on first use: a woken sync's state is mostly empty
	for _, ev := range state {
		if ev.Type() != spec.MRoomMember || !f.AllowsPDU(ev) {
			continue
		}
		key := *ev.StateKey()
		if _, wanted := slices.BinarySearch(want, key); wanted || (!full && run.s.lazy.changed(dev, key, ev.EventID())) {
			out = append(out, ev)
			if have == nil {
				have = map[string]bool{}
			}
			have[key] = true
		}
	}
	if !full && len(w.events) > 0 {
		var missing []string
		for _, u := range want {
			if !have[u] {
				missing = append(missing, u)
			}
		}
		before, err := run.membersBefore(ctx, w, missing, f)
		if err != nil {
			return nil, err
		}
		out = append(out, before...)
	}
	if !full && !f.IncludeRedundantMembers {
		out = slices.DeleteFunc(out, func(ev gmsl.PDU) bool {
			return run.s.lazy.delivered(dev, *ev.StateKey(), ev.EventID(), run.since.Events)
		})
	}
	sent := out[:len(out):len(out)]
	for _, ev := range w.events {
		if ev.Type() == spec.MRoomMember {
			sent = append(sent, ev.PDU)
		}
	}
	run.s.lazy.record(dev, run.since.Events, run.to.Events, sent)
	return out, nil
}

// membersBefore returns the member events of the users at the timeline's
// start that the filter allows.
func (run *syncRun) membersBefore(ctx context.Context, w timelineWindow, users []string, f *RoomEventFilter) ([]gmsl.PDU, error) {
	if len(users) == 0 {
		return nil, nil
	}
	members, err := run.s.rooms.MembersBefore(ctx, w.events[0], users)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(members, func(ev gmsl.PDU) bool {
		return !f.AllowsPDU(ev)
	}), nil
}

// maxLazySent bounds the member events remembered as sent.
const maxLazySent = 200000

// lazySent remembers which member event of each user the device was last
// sent in each room, by lazy-loading syncs. It lives in memory only:
// forgetting (a restart, the bound) costs redundant member events, which
// the spec allows. The zero value is ready to use.
type lazySent struct {
	mu   sync.Mutex
	sent map[lazyKey]sentMember
}

// deviceRoom is one device's view of one room.
type deviceRoom struct{ user, device, room string }

type lazyKey struct {
	deviceRoom
	member string
}

// sentMember is the member event last sent and the events positions of
// the sync that sent it: its since (0 for an initial sync) and its
// next_batch.
type sentMember struct {
	eventID   string
	since, to int64
}

// delivered reports whether the device has the member's event: a sync
// sent it, and the device now syncs from that sync's next_batch or later.
// A sync from the same since may be a retry after the response was lost,
// so it does not count.
func (l *lazySent) delivered(dev deviceRoom, member, eventID string, since int64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	m, ok := l.sent[lazyKey{dev, member}]
	return ok && m.eventID == eventID && since >= m.to && since != m.since
}

// changed reports whether the device was sent another member event of the
// member than eventID: it has to learn of the change.
func (l *lazySent) changed(dev deviceRoom, member, eventID string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	m, ok := l.sent[lazyKey{dev, member}]
	return ok && m.eventID != eventID
}

// record notes member events, oldest first, as sent by a sync from since
// to to; a later one of the same member replaces an earlier.
func (l *lazySent) record(dev deviceRoom, since, to int64, members []gmsl.PDU) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, ev := range members {
		if l.sent == nil || len(l.sent) >= maxLazySent {
			l.sent = map[lazyKey]sentMember{}
		}
		l.sent[lazyKey{dev, *ev.StateKey()}] = sentMember{eventID: ev.EventID(), since: since, to: to}
	}
}
