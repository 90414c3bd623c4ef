package roomserver

import (
	"context"
	"errors"
	"fmt"

	gmsl "github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/ganglion/ganglion/storage"
)

// InputResult is what became of one input event.
type InputResult struct {
	EventID string
	Status  storage.EventStatus
	// Reason says why an event was rejected or soft-failed.
	Reason string
}

// MissingEventsError is returned when an input event refers to events the
// server does not have: the caller fetches them (federation's
// get_missing_events and /event_auth) and inputs them first.
type MissingEventsError struct {
	EventIDs []string
}

func (e *MissingEventsError) Error() string {
	return fmt.Sprintf("missing %d referenced events", len(e.EventIDs))
}

// Input processes events of one room that arrived from outside: from other
// servers, or fetched to fill gaps. The caller has checked signatures and
// content hashes (spec checks 1 to 3) and orders the events so that each
// comes after the events it references. Each event then goes through the
// spec's remaining checks, and is stored in every case:
//
//  4. authorised by its own auth events, else rejected;
//  5. authorised by the state before it, else rejected;
//  6. authorised by the room's current state, else soft-failed.
//
// Accepted events join the timeline, move the forward extremities, and
// change the current state through state resolution.
func (r *Roomserver) Input(ctx context.Context, roomID string, pdus []gmsl.PDU) ([]InputResult, error) {
	unlock := r.locks.lock(roomID)
	defer unlock()
	results := make([]InputResult, 0, len(pdus))
	for _, pdu := range pdus {
		if pdu.RoomID().String() != roomID {
			return results, &BadEventError{Reason: fmt.Sprintf("event %s is not in room %s", pdu.EventID(), roomID)}
		}
		res, err := r.inputOne(ctx, roomID, pdu)
		if err != nil {
			return results, fmt.Errorf("input %s: %w", pdu.EventID(), err)
		}
		results = append(results, res)
	}
	return results, nil
}

func (r *Roomserver) inputOne(ctx context.Context, roomID string, pdu gmsl.PDU) (InputResult, error) {
	res := InputResult{EventID: pdu.EventID()}
	if existing, err := r.db.EventByID(ctx, pdu.EventID()); err == nil {
		res.Status = existing.Status
		return res, nil
	} else if !errors.Is(err, storage.ErrNotFound) {
		return res, err
	}
	ri, err := r.inputRoom(ctx, roomID, pdu)
	if err != nil {
		return res, err
	}
	in := &inputEvent{r: r, ri: ri.clone(), pdu: pdu}
	if reason, err := in.checkAuthEvents(ctx); err != nil || reason != "" {
		return in.store(ctx, storage.StatusRejected, reason, err)
	}
	if reason, err := in.checkStateBefore(ctx); err != nil || reason != "" {
		return in.store(ctx, storage.StatusRejected, reason, err)
	}
	if reason, err := in.checkCurrentState(ctx); err != nil || reason != "" {
		return in.store(ctx, storage.StatusSoftFailed, reason, err)
	}
	return in.store(ctx, storage.StatusAccepted, "", nil)
}

// inputRoom returns the room of an input event; a create event starts a
// room the server did not know.
func (r *Roomserver) inputRoom(ctx context.Context, roomID string, pdu gmsl.PDU) (*roomInfo, error) {
	ri, err := r.room(ctx, roomID)
	if !errors.Is(err, ErrRoomNotFound) || pdu.Type() != spec.MRoomCreate || !pdu.StateKeyEquals("") {
		return ri, err
	}
	return &roomInfo{id: roomID, version: gmsl.MustGetRoomVersion(pdu.Version()),
		state: map[gmsl.StateKeyTuple]storage.EventNID{}}, nil
}

// inputEvent carries one event through the checks.
type inputEvent struct {
	r   *Roomserver
	ri  *roomInfo
	pdu gmsl.PDU
	// before is the state before the event (check 5). If it equals the
	// state after a prev event, beforeSnapshot is that state's snapshot;
	// otherwise (a resolution) it is 0 and the snapshot is written with
	// the event, as baseSnapshot (the state after the first prev event,
	// baseSet) plus the difference.
	before         stateMap
	beforeSnapshot storage.SnapshotNID
	baseSnapshot   storage.SnapshotNID
	baseSet        stateMap
}

// checkAuthEvents is check 4: the event is allowed by its own auth events,
// none of which was rejected.
func (in *inputEvent) checkAuthEvents(ctx context.Context) (string, error) {
	ids := in.pdu.AuthEventIDs()
	if in.ri.version.DomainlessRoomIDs() && in.pdu.Type() != spec.MRoomCreate {
		// In these versions the create event is implied by the room id.
		ids = append(ids, "$"+in.ri.id[1:])
	}
	rows, err := in.r.eventRowsByID(ctx, ids)
	if err != nil {
		return "", err
	}
	pdus := make([]gmsl.PDU, 0, len(rows))
	for _, row := range rows {
		if row.Status == storage.StatusRejected {
			return "auth event " + row.ID + " was rejected", nil
		}
		pdu, err := in.r.parseStored(ctx, row)
		if err != nil {
			return "", err
		}
		pdus = append(pdus, pdu)
	}
	return allowedAgainst(in.pdu, pdus), nil
}

// checkStateBefore is check 5: the event is allowed by the state before
// it, the resolution of the states after its prev events.
func (in *inputEvent) checkStateBefore(ctx context.Context) (string, error) {
	if err := in.computeStateBefore(ctx); err != nil {
		return "", err
	}
	return in.allowedBy(ctx, in.before)
}

// checkCurrentState is check 6: the event is allowed by the room's
// current state; if not, it is soft-failed.
func (in *inputEvent) checkCurrentState(ctx context.Context) (string, error) {
	if in.pdu.Type() == spec.MRoomCreate {
		return "", nil
	}
	return in.allowedBy(ctx, in.ri.state)
}

// allowedBy runs the auth rules for the event against a state.
func (in *inputEvent) allowedBy(ctx context.Context, state map[gmsl.StateKeyTuple]storage.EventNID) (string, error) {
	needed := gmsl.StateNeededForAuth([]gmsl.PDU{in.pdu})
	var nids []storage.EventNID
	for _, tuple := range needed.Tuples() {
		if nid, ok := state[tuple]; ok {
			nids = append(nids, nid)
		}
	}
	pdus, err := in.r.events(ctx, nids)
	if err != nil {
		return "", err
	}
	return allowedAgainst(in.pdu, pdus), nil
}

// computeStateBefore finds the state before the event: the state after its
// one prev event, or the resolution of the states after several.
func (in *inputEvent) computeStateBefore(ctx context.Context) error {
	if in.pdu.Type() == spec.MRoomCreate {
		in.before = stateMap{}
		return nil
	}
	rows, err := in.r.eventRowsByID(ctx, in.pdu.PrevEventIDs())
	if err != nil {
		return err
	}
	var (
		sets      []map[gmsl.StateKeyTuple]storage.EventNID
		snapshots []storage.SnapshotNID
	)
	for _, row := range rows {
		if row.Status == storage.StatusOutlier {
			return &MissingEventsError{EventIDs: []string{row.ID}} // its state is unknown
		}
		if len(snapshots) > 0 && snapshots[0] == row.AfterSnapshot {
			continue
		}
		set, err := in.r.snapshotMap(ctx, row.AfterSnapshot)
		if err != nil {
			return err
		}
		sets, snapshots = append(sets, set), append(snapshots, row.AfterSnapshot)
	}
	if len(sets) == 1 {
		in.before, in.beforeSnapshot = sets[0], snapshots[0]
		return nil
	}
	in.baseSnapshot, in.baseSet = snapshots[0], sets[0]
	in.before, err = in.r.resolve(ctx, in.ri.version, sets, nil)
	return err
}

// eventRowsByID returns stored events in the order of ids, or a
// MissingEventsError naming those the server lacks.
func (r *Roomserver) eventRowsByID(ctx context.Context, ids []string) ([]storage.Event, error) {
	rows, err := r.db.EventsByID(ctx, ids)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]storage.Event, len(rows))
	for _, row := range rows {
		byID[row.ID] = row
	}
	out := make([]storage.Event, 0, len(ids))
	var missing []string
	for _, id := range ids {
		row, ok := byID[id]
		if !ok {
			missing = append(missing, id)
			continue
		}
		out = append(out, row)
	}
	if len(missing) > 0 {
		return nil, &MissingEventsError{EventIDs: missing}
	}
	return out, nil
}

// snapshotMap returns a snapshot as a map by (type, state key).
func (r *Roomserver) snapshotMap(ctx context.Context, snapshot storage.SnapshotNID) (map[gmsl.StateKeyTuple]storage.EventNID, error) {
	entries, err := r.db.Snapshot(ctx, snapshot)
	if err != nil {
		return nil, err
	}
	out := make(map[gmsl.StateKeyTuple]storage.EventNID, len(entries))
	for _, e := range entries {
		tuple, err := r.tuple(ctx, e.Type, e.Key)
		if err != nil {
			return nil, err
		}
		out[tuple] = e.Event
	}
	return out, nil
}

// allowedAgainst runs the auth rules for one event against the events the
// rules consult (by type and state key) and returns why it is not allowed,
// or "". It is the one auth step of the input checks and of state
// resolution.
func allowedAgainst(pdu gmsl.PDU, authEvents []gmsl.PDU) string {
	auth, err := gmsl.NewAuthEvents(authEvents)
	if err != nil {
		return err.Error()
	}
	if err := gmsl.Allowed(pdu, auth, userIDForSender); err != nil {
		return err.Error()
	}
	return ""
}
