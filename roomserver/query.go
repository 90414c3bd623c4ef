package roomserver

import (
	"context"
	"encoding/json"
	"errors"

	gmsl "github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/ganglion/ganglion/storage"
)

// The read side. Queries read committed state from storage and the caches;
// they never take a room's write lock.

// RoomVersion returns the version of a room the server knows.
func (r *Roomserver) RoomVersion(ctx context.Context, roomID string) (string, error) {
	room, err := r.roomRow(ctx, roomID)
	if err != nil {
		return "", err
	}
	return room.Version, nil
}

func (r *Roomserver) roomRow(ctx context.Context, roomID string) (storage.Room, error) {
	room, err := r.db.Room(ctx, roomID)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.Room{}, ErrRoomNotFound
	}
	return room, err
}

// Membership returns a user's current membership of a room ("leave" if it
// never had one).
func (r *Roomserver) Membership(ctx context.Context, roomID, userID string) (string, error) {
	room, err := r.roomRow(ctx, roomID)
	if err != nil {
		return "", err
	}
	m, err := r.db.MembershipOf(ctx, room.NID, userID)
	if errors.Is(err, storage.ErrNotFound) {
		return spec.Leave, nil
	}
	return m.Membership, err
}

// CurrentState returns every event of a room's current state.
func (r *Roomserver) CurrentState(ctx context.Context, roomID string) ([]gmsl.PDU, error) {
	room, err := r.roomRow(ctx, roomID)
	if err != nil {
		return nil, err
	}
	entries, err := r.db.CurrentState(ctx, room.NID)
	if err != nil {
		return nil, err
	}
	return r.events(ctx, entryEvents(entries))
}

// StateAt returns every event of the room state after the event.
func (r *Roomserver) StateAt(ctx context.Context, eventID string) ([]gmsl.PDU, error) {
	row, err := r.db.EventByID(ctx, eventID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, ErrEventNotFound
	}
	if err != nil {
		return nil, err
	}
	entries, err := r.db.Snapshot(ctx, row.AfterSnapshot)
	if err != nil {
		return nil, err
	}
	return r.events(ctx, entryEvents(entries))
}

// StateEvent returns the current state event (type, key) of a room, or
// ErrEventNotFound.
func (r *Roomserver) StateEvent(ctx context.Context, roomID, typ, key string) (gmsl.PDU, error) {
	room, err := r.roomRow(ctx, roomID)
	if err != nil {
		return nil, err
	}
	t, ok, err := r.db.LookupTypeNID(ctx, typ)
	if err != nil || !ok {
		return nil, errOr(err, ErrEventNotFound)
	}
	k, ok, err := r.db.LookupStateKeyNID(ctx, key)
	if err != nil || !ok {
		return nil, errOr(err, ErrEventNotFound)
	}
	nid, err := r.db.CurrentStateEvent(ctx, room.NID, t, k)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, ErrEventNotFound
	}
	if err != nil {
		return nil, err
	}
	pdus, err := r.events(ctx, []storage.EventNID{nid})
	if err != nil {
		return nil, err
	}
	return pdus[0], nil
}

// Members returns the current m.room.member events of a room, only those
// with the membership unless it is "".
func (r *Roomserver) Members(ctx context.Context, roomID, membership string) ([]gmsl.PDU, error) {
	room, err := r.roomRow(ctx, roomID)
	if err != nil {
		return nil, err
	}
	ms, err := r.db.RoomMembers(ctx, room.NID, membership)
	if err != nil {
		return nil, err
	}
	nids := make([]storage.EventNID, len(ms))
	for i, m := range ms {
		nids[i] = m.Event
	}
	return r.events(ctx, nids)
}

// UserRooms returns the ids of the rooms in which the user has the
// membership.
func (r *Roomserver) UserRooms(ctx context.Context, userID, membership string) ([]string, error) {
	return r.db.UserRooms(ctx, userID, membership)
}

// Event is a stored event with what the server knows about it.
type Event struct {
	gmsl.PDU
	StreamPos int64
	Status    storage.EventStatus
	// UserMembership is the membership, in the room state after the
	// event, of the user Visible checked it for ("leave" for none); ""
	// until Visible sets it.
	UserMembership string
	before         storage.SnapshotNID // the room state before the event
}

// PrevContent returns the content of the state event that ev replaced
// (the one with its type and state key in the state before it), or nil
// when ev is no state event or replaced nothing.
func (r *Roomserver) PrevContent(ctx context.Context, ev Event) (json.RawMessage, error) {
	if ev.StateKey() == nil || ev.before == 0 {
		return nil, nil
	}
	prev, err := r.snapshotEvent(ctx, ev.before, ev.Type(), *ev.StateKey())
	if err != nil || prev == nil {
		return nil, err
	}
	return prev.Content(), nil
}

// Event returns an event by id, or ErrEventNotFound.
func (r *Roomserver) Event(ctx context.Context, eventID string) (Event, error) {
	row, err := r.db.EventByID(ctx, eventID)
	if errors.Is(err, storage.ErrNotFound) {
		return Event{}, ErrEventNotFound
	}
	if err != nil {
		return Event{}, err
	}
	return r.fromRow(ctx, row)
}

// Timeline returns up to limit events of a room between stream positions
// after and before (exclusive; 0 is open), newest first if backwards.
func (r *Roomserver) Timeline(ctx context.Context, roomID string, after, before int64, limit int, backwards bool) ([]Event, error) {
	if events, ok := r.tails.timeline(roomID, after, before, limit, backwards); ok {
		return events, nil
	}
	room, err := r.roomRow(ctx, roomID)
	if err != nil {
		return nil, err
	}
	rows, err := r.db.RoomTimeline(ctx, room.NID, after, before, limit, backwards)
	if err != nil {
		return nil, err
	}
	return r.fromRows(ctx, rows)
}

// fromRow is fromRows for one row.
func (r *Roomserver) fromRow(ctx context.Context, row storage.Event) (Event, error) {
	events, err := r.fromRows(ctx, []storage.Event{row})
	if err != nil {
		return Event{}, err
	}
	return events[0], nil
}

// fromRows turns stored event rows into Events, parsing through the cache.
// A cached copy older than the row's redaction is not used.
func (r *Roomserver) fromRows(ctx context.Context, rows []storage.Event) ([]Event, error) {
	out := make([]Event, 0, len(rows))
	for _, row := range rows {
		pdu, ok := r.pdus.get(row.NID)
		if ok && row.RedactedBy != "" && !pdu.Redacted() {
			ok = false
		}
		if !ok {
			var err error
			if pdu, err = r.parseStored(ctx, row); err != nil {
				return nil, err
			}
			r.pdus.put(row.NID, pdu)
		}
		out = append(out, Event{PDU: pdu, StreamPos: row.StreamPos, Status: row.Status, before: row.BeforeSnapshot})
	}
	return out, nil
}

func entryEvents(entries []storage.StateEntry) []storage.EventNID {
	nids := make([]storage.EventNID, len(entries))
	for i, e := range entries {
		nids[i] = e.Event
	}
	return nids
}

func errOr(err, otherwise error) error {
	if err != nil {
		return err
	}
	return otherwise
}

// PDU is an event as the roomserver serves it.
type PDU = gmsl.PDU

// EventAtTime returns the room's timeline event closest to ts (unix
// milliseconds) in the direction asked, or ErrEventNotFound.
func (r *Roomserver) EventAtTime(ctx context.Context, roomID string, ts int64, forwards bool) (Event, error) {
	room, err := r.roomRow(ctx, roomID)
	if err != nil {
		return Event{}, err
	}
	row, err := r.db.EventAtTime(ctx, room.NID, ts, forwards)
	if errors.Is(err, storage.ErrNotFound) {
		return Event{}, ErrEventNotFound
	}
	if err != nil {
		return Event{}, err
	}
	return r.fromRow(ctx, row)
}
