package roomserver

import (
	"context"
	"errors"
	"fmt"

	gmsl "github.com/matrix-org/gomatrixserverlib"

	"github.com/ganglion/ganglion/storage"
)

// room returns the writer's view of a room, from the cache or the
// database. Call it with the room's lock held; change the result only
// through clone and commit.
func (r *Roomserver) room(ctx context.Context, roomID string) (*roomInfo, error) {
	if ri := r.rooms.get(roomID); ri != nil {
		return ri, nil
	}
	room, err := r.db.Room(ctx, roomID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, ErrRoomNotFound
	}
	if err != nil {
		return nil, err
	}
	version, err := gmsl.GetRoomVersion(gmsl.RoomVersion(room.Version))
	if err != nil {
		return nil, fmt.Errorf("room %s: %w", roomID, err)
	}
	ri := &roomInfo{nid: room.NID, id: room.ID, version: version, snapshot: room.Snapshot}
	if ri.state, err = r.stateMap(ctx, room.NID); err != nil {
		return nil, err
	}
	nids, err := r.db.ForwardExtremities(ctx, room.NID)
	if err != nil {
		return nil, err
	}
	rows, err := r.db.EventsByNID(ctx, nids)
	if err != nil {
		return nil, err
	}
	for _, e := range rows {
		ri.extremities = append(ri.extremities, extremity{nid: e.NID, id: e.ID, depth: e.Depth})
	}
	r.rooms.put(ri)
	return ri, nil
}

// stateMap returns a room's current state keyed by (type, state key).
func (r *Roomserver) stateMap(ctx context.Context, room storage.RoomNID) (map[gmsl.StateKeyTuple]storage.EventNID, error) {
	entries, err := r.db.CurrentState(ctx, room)
	if err != nil {
		return nil, err
	}
	state := make(map[gmsl.StateKeyTuple]storage.EventNID, len(entries))
	for _, e := range entries {
		tuple, err := r.tuple(ctx, e.Type, e.Key)
		if err != nil {
			return nil, err
		}
		state[tuple] = e.Event
	}
	return state, nil
}

// tuple turns state NIDs into names.
func (r *Roomserver) tuple(ctx context.Context, t storage.TypeNID, k storage.StateKeyNID) (gmsl.StateKeyTuple, error) {
	typ, err := r.db.TypeName(ctx, t)
	if err != nil {
		return gmsl.StateKeyTuple{}, fmt.Errorf("event type %d: %w", t, err)
	}
	key, err := r.db.StateKeyName(ctx, k)
	if err != nil {
		return gmsl.StateKeyTuple{}, fmt.Errorf("state key %d: %w", k, err)
	}
	return gmsl.StateKeyTuple{EventType: typ, StateKey: key}, nil
}

// events returns the parsed events with the NIDs, from the cache or the
// database, in the order asked. Unknown NIDs are an error.
func (r *Roomserver) events(ctx context.Context, nids []storage.EventNID) ([]gmsl.PDU, error) {
	out := make([]gmsl.PDU, len(nids))
	var missing []storage.EventNID
	for i, nid := range nids {
		if e, ok := r.pdus.get(nid); ok {
			out[i] = e
		} else {
			missing = append(missing, nid)
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	rows, err := r.db.EventsByNID(ctx, missing)
	if err != nil {
		return nil, err
	}
	loaded := make(map[storage.EventNID]gmsl.PDU, len(rows))
	for _, row := range rows {
		pdu, err := r.parseStored(ctx, row)
		if err != nil {
			return nil, err
		}
		loaded[row.NID] = pdu
		r.pdus.put(row.NID, pdu)
	}
	for i, nid := range nids {
		if out[i] == nil {
			if out[i] = loaded[nid]; out[i] == nil {
				return nil, fmt.Errorf("event %d: %w", nid, ErrEventNotFound)
			}
		}
	}
	return out, nil
}

// parseStored parses a stored event with its room's version.
func (r *Roomserver) parseStored(ctx context.Context, row storage.Event) (gmsl.PDU, error) {
	version, err := r.versionOf(ctx, row.Room)
	if err != nil {
		return nil, fmt.Errorf("room of event %s: %w", row.ID, err)
	}
	pdu, err := version.NewEventFromTrustedJSONWithEventID(row.ID, row.JSON, row.RedactedBy != "")
	if err != nil {
		return nil, fmt.Errorf("parse stored event %s: %w", row.ID, err)
	}
	return pdu, nil
}

// stateEvent returns the current state event of (type, key), or nil.
func (r *Roomserver) stateEvent(ctx context.Context, ri *roomInfo, typ, key string) (gmsl.PDU, error) {
	nid, ok := ri.state[gmsl.StateKeyTuple{EventType: typ, StateKey: key}]
	if !ok {
		return nil, nil
	}
	pdus, err := r.events(ctx, []storage.EventNID{nid})
	if err != nil {
		return nil, err
	}
	return pdus[0], nil
}

// versionOf returns the version of a room by NID. Versions never change,
// so they are cached for good.
func (r *Roomserver) versionOf(ctx context.Context, room storage.RoomNID) (gmsl.IRoomVersion, error) {
	if v, ok := r.versions.Load(room); ok {
		return v.(gmsl.IRoomVersion), nil
	}
	row, err := r.db.RoomByNID(ctx, room)
	if err != nil {
		return nil, err
	}
	version, err := gmsl.GetRoomVersion(gmsl.RoomVersion(row.Version))
	if err != nil {
		return nil, err
	}
	r.versions.Store(room, version)
	return version, nil
}
