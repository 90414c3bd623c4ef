package roomserver

import (
	"context"
	"encoding/json"
	"fmt"

	gmsl "github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/ganglion/ganglion/storage"
)

// History visibility values.
const (
	visWorldReadable = "world_readable"
	visShared        = "shared"
	visInvited       = "invited"
	visJoined        = "joined"
)

// Visible returns the events the user may see, in the same order, by the
// spec's history visibility rules: the room's m.room.history_visibility and
// the user's membership, both as they were when each event was sent, and
// for "shared" whether the user joined at any point after the event (so a
// user who left keeps the shared history from before the join). Each
// returned event has UserMembership set, from the same per-snapshot reads.
func (r *Roomserver) Visible(ctx context.Context, userID string, events []Event) ([]Event, error) {
	if len(events) == 0 {
		return events, nil
	}
	v := visibilityCheck{r: r, userID: userID, event: events[0], lastJoin: -1}
	out := events[:0:0]
	for _, e := range events {
		ok, err := v.visible(ctx, e)
		if err != nil {
			return nil, err
		}
		if ok {
			if e.UserMembership, err = v.membershipAfter(ctx, e); err != nil {
				return nil, err
			}
			out = append(out, e)
		}
	}
	return out, nil
}

type visibilityCheck struct {
	r      *Roomserver
	userID string
	event  Event // one of the events, for the room's id when a rule needs it
	// current is the user's current membership, read only when a rule
	// needs it ("" until then): a joined member's sync never does.
	current string
	// lastJoin is the stream position of the user's latest join (0 for
	// never), read only when a rule needs it (-1 until then).
	lastJoin int64
}

// currentMembership reads the user's current membership once.
func (v *visibilityCheck) currentMembership(ctx context.Context) (string, error) {
	if v.current == "" {
		m, err := v.r.Membership(ctx, v.event.RoomID().String(), v.userID)
		if err != nil {
			return "", err
		}
		v.current = m
	}
	return v.current, nil
}

// visibleAt is what a state snapshot says about the user's view.
type visibleAt struct {
	visibility string
	membership string
}

func (v *visibilityCheck) visible(ctx context.Context, e Event) (bool, error) {
	at, err := v.at(ctx, e.before)
	if err != nil {
		return false, err
	}
	if e.Type() == spec.MRoomMember && e.StateKeyEquals(v.userID) {
		// Users always see their own membership changes: a rejected invite
		// or a kick must reach the client even if the room's history is
		// hidden from them.
		return true, nil
	}
	switch at.visibility {
	case visWorldReadable:
		return true, nil
	case visJoined:
		return at.membership == spec.Join, nil
	case visInvited:
		return at.membership == spec.Join || at.membership == spec.Invite, nil
	default: // shared, and anything unknown is treated as shared
		if at.membership == spec.Join {
			return true, nil
		}
		return v.joinedAfter(ctx, e.StreamPos)
	}
}

// maxMembershipWalk bounds how many of the user's membership events
// joinedAfter walks back through.
const maxMembershipWalk = 64

// joinedAfter reports whether the user joined the room at any point after
// the event at stream position pos: whether its latest join came later.
// A user joined now did (it was not joined at the event); for others the
// user's membership events are walked back from the current state, each
// through the state before it, to the latest join.
func (v *visibilityCheck) joinedAfter(ctx context.Context, pos int64) (bool, error) {
	current, err := v.currentMembership(ctx)
	if err != nil || current == spec.Join {
		return current == spec.Join, err
	}
	if v.lastJoin < 0 {
		if v.lastJoin, err = v.r.lastJoin(ctx, v.event.RoomID().String(), v.userID); err != nil {
			return false, err
		}
	}
	return v.lastJoin > pos, nil
}

// lastJoin returns the stream position of the user's latest join to the
// room, or 0 if none is found.
func (r *Roomserver) lastJoin(ctx context.Context, roomID, userID string) (int64, error) {
	room, err := r.roomRow(ctx, roomID)
	if err != nil {
		return 0, err
	}
	t, ok, err := r.db.LookupTypeNID(ctx, spec.MRoomMember)
	if err != nil || !ok {
		return 0, err
	}
	k, ok, err := r.db.LookupStateKeyNID(ctx, userID)
	if err != nil || !ok {
		return 0, err
	}
	snapshot := room.Snapshot
	for range maxMembershipWalk {
		nid, err := r.db.SnapshotEntry(ctx, snapshot, t, k)
		if err != nil || nid == 0 {
			return 0, err
		}
		rows, err := r.db.EventsByNID(ctx, []storage.EventNID{nid})
		if err != nil || len(rows) == 0 {
			return 0, err
		}
		var ev struct {
			Content struct {
				Membership string `json:"membership"`
			} `json:"content"`
		}
		if err := json.Unmarshal(rows[0].JSON, &ev); err != nil {
			return 0, fmt.Errorf("read membership event %d: %w", nid, err)
		}
		if ev.Content.Membership == spec.Join {
			return rows[0].StreamPos, nil
		}
		snapshot = rows[0].BeforeSnapshot
	}
	return 0, nil
}

// membershipAfter is the user's membership in the state after e, which
// unsigned.membership carries (client-server API, "UnsignedData"): the
// membership e itself sets if it is the user's own accepted membership
// event, else the one in the state before e.
func (v *visibilityCheck) membershipAfter(ctx context.Context, e Event) (string, error) {
	if e.Type() == spec.MRoomMember && e.StateKeyEquals(v.userID) &&
		(e.Status == storage.StatusAccepted || e.Status == storage.StatusOutlier) {
		if m, err := e.Membership(); err == nil {
			return m, nil
		}
	}
	at, err := v.at(ctx, e.before)
	return at.membership, err
}

// at reads history visibility and the user's membership from a snapshot.
func (v *visibilityCheck) at(ctx context.Context, snapshot storage.SnapshotNID) (visibleAt, error) {
	at := visibleAt{visibility: visShared}
	vis, err := v.r.historyVisibility(ctx, snapshot)
	if err != nil {
		return at, err
	}
	if vis != "" {
		at.visibility = vis
	}
	at.membership, err = v.r.membershipAt(ctx, snapshot, v.userID)
	return at, err
}

// snapshotUser names a user's membership in a state snapshot.
type snapshotUser struct {
	snapshot storage.SnapshotNID
	userID   string
}

// membershipAt returns the user's membership in a snapshot, leave for
// none. Snapshots never change (nor does a member event's membership,
// which redaction keeps), and the syncs woken by one event ask every
// member about the same snapshot: the answers are kept.
func (r *Roomserver) membershipAt(ctx context.Context, snapshot storage.SnapshotNID, userID string) (string, error) {
	key := snapshotUser{snapshot: snapshot, userID: userID}
	if m, ok := r.membershipsAt.Get(key); ok {
		return m, nil
	}
	m := spec.Leave
	pdu, err := r.snapshotEvent(ctx, snapshot, spec.MRoomMember, userID)
	if err != nil {
		return "", err
	}
	if pdu != nil {
		if pm, err := pdu.Membership(); err == nil {
			m = pm
		}
	}
	r.membershipsAt.Put(key, m)
	return m, nil
}

// maxCachedMembershipsAt bounds the (snapshot, user) memberships kept:
// the members of a few large rooms at their current snapshots.
const maxCachedMembershipsAt = 200_000

// historyVisibility returns the history visibility a snapshot sets, ""
// for none. Snapshots never change, and every member's sync asks about the
// same few: the answers are kept.
func (r *Roomserver) historyVisibility(ctx context.Context, snapshot storage.SnapshotNID) (string, error) {
	if vis, ok := r.visibilities.Get(snapshot); ok {
		return vis, nil
	}
	vis := ""
	pdu, err := r.snapshotEvent(ctx, snapshot, spec.MRoomHistoryVisibility, "")
	if err != nil {
		return "", err
	}
	if pdu != nil {
		var c struct {
			HistoryVisibility string `json:"history_visibility"`
		}
		if json.Unmarshal(pdu.Content(), &c) == nil {
			vis = c.HistoryVisibility
		}
	}
	r.visibilities.Put(snapshot, vis)
	return vis, nil
}

// maxCachedVisibilities bounds the snapshots whose history visibility is
// kept; past it the cache starts again empty.
const maxCachedVisibilities = 50_000

// snapshotEvent returns the event holding (type, key) in a snapshot, or nil.
func (r *Roomserver) snapshotEvent(ctx context.Context, snapshot storage.SnapshotNID, typ, key string) (gmsl.PDU, error) {
	t, ok, err := r.db.LookupTypeNID(ctx, typ)
	if err != nil || !ok {
		return nil, err
	}
	k, ok, err := r.db.LookupStateKeyNID(ctx, key)
	if err != nil || !ok {
		return nil, err
	}
	nid, err := r.db.SnapshotEntry(ctx, snapshot, t, k)
	if err != nil || nid == 0 {
		return nil, err
	}
	pdus, err := r.events(ctx, []storage.EventNID{nid})
	if err != nil {
		return nil, err
	}
	return pdus[0], nil
}
