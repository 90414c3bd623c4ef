package roomserver

import (
	"context"
	"errors"
	"fmt"

	gmsl "github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/ganglion/ganglion/storage"
)

// Queries for /sync: state at stream positions and between them.

// StateBefore returns the room state before a timeline event.
func (r *Roomserver) StateBefore(ctx context.Context, ev Event) ([]gmsl.PDU, error) {
	entries, err := r.db.Snapshot(ctx, ev.before)
	if err != nil {
		return nil, err
	}
	return r.events(ctx, entryEvents(entries))
}

// MembersBefore returns the m.room.member events of the users in the room
// state before a timeline event, in the order given; users without one are
// left out.
func (r *Roomserver) MembersBefore(ctx context.Context, ev Event, userIDs []string) ([]gmsl.PDU, error) {
	var out []gmsl.PDU
	for _, u := range userIDs {
		pdu, err := r.snapshotEvent(ctx, ev.before, spec.MRoomMember, u)
		if err != nil {
			return nil, fmt.Errorf("member %s before %s: %w", u, ev.EventID(), err)
		}
		if pdu != nil {
			out = append(out, pdu)
		}
	}
	return out, nil
}

// StateDelta returns the state events that differ between the room state
// at stream position since (after the room's last event up to it; 0 for
// none) and the state before the event until (or the state at position
// until, if untilEvent is nil).
func (r *Roomserver) StateDelta(ctx context.Context, roomID string, since int64, untilEvent *Event, until int64) ([]gmsl.PDU, error) {
	room, err := r.roomRow(ctx, roomID)
	if err != nil {
		return nil, err
	}
	from, err := r.snapshotAt(ctx, room.NID, since)
	if err != nil {
		return nil, err
	}
	to := storage.SnapshotNID(0)
	if untilEvent != nil {
		to = untilEvent.before
	} else if to, err = r.snapshotAt(ctx, room.NID, until); err != nil {
		return nil, err
	}
	if from == to {
		return nil, nil
	}
	old, err := r.db.Snapshot(ctx, from)
	if err != nil {
		return nil, err
	}
	cur, err := r.db.Snapshot(ctx, to)
	if err != nil {
		return nil, err
	}
	had := make(map[storage.EventNID]bool, len(old))
	for _, e := range old {
		had[e.Event] = true
	}
	var changed []storage.EventNID
	for _, e := range cur {
		if !had[e.Event] {
			changed = append(changed, e.Event)
		}
	}
	return r.events(ctx, changed)
}

// snapshotAt is the room's state snapshot after its last event at or
// before pos (0 if none).
func (r *Roomserver) snapshotAt(ctx context.Context, room storage.RoomNID, pos int64) (storage.SnapshotNID, error) {
	if pos == 0 {
		return 0, nil
	}
	row, err := r.db.LastEventBefore(ctx, room, pos)
	if errors.Is(err, storage.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return row.AfterSnapshot, nil
}

// StateAtPosition returns the room state after its last event at or
// before stream position pos.
func (r *Roomserver) StateAtPosition(ctx context.Context, roomID string, pos int64) ([]gmsl.PDU, error) {
	room, err := r.roomRow(ctx, roomID)
	if err != nil {
		return nil, err
	}
	snapshot, err := r.snapshotAt(ctx, room.NID, pos)
	if err != nil {
		return nil, err
	}
	entries, err := r.db.Snapshot(ctx, snapshot)
	if err != nil {
		return nil, err
	}
	return r.events(ctx, entryEvents(entries))
}
