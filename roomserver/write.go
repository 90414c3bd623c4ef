package roomserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	gmsl "github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/ganglion/ganglion/storage"
)

// write is one event to store: local events from a batch and events from
// Input take the same path, so that every event is persisted the same way.
type write struct {
	pdu    gmsl.PDU
	status storage.EventStatus
	txn    *TxnKey
	// linear: the event was built on the room's current state and every
	// forward extremity (a local event); its state before is the room's
	// state at write time, and it becomes the only extremity. Otherwise
	// before (nil if unknown) and, for accepted events, plan say what it
	// does.
	linear bool
	before stateMap
	// beforeSnapshot is the snapshot of before; 0 with baseSet set means a
	// resolved state to write as baseSnapshot plus the difference.
	beforeSnapshot storage.SnapshotNID
	baseSnapshot   storage.SnapshotNID
	baseSet        stateMap
	plan           inputPlan
}

// inputPlan is what an accepted event changes, with selfNID standing for
// the event: the new forward extremities, the changes to the current state
// (delta; 0 removes a key) and, when the current state is not simply the
// state after the event (a fork), the state after and the new current
// state in full.
type inputPlan struct {
	extremities []extremity
	delta       stateMap
	forked      bool
	after       stateMap
	current     stateMap
}

// writeEvents stores the events in one transaction and applies the
// accepted ones to the room: timeline position, state snapshots, current
// state, memberships, forward extremities, transaction ids and redactions.
// ri is a private copy that becomes the room's cached view after the
// commit; only then are subscribers told.
func (r *Roomserver) writeEvents(ctx context.Context, ri *roomInfo, writes []write) ([]Output, error) {
	names, err := r.writeNames(ctx, writes)
	if err != nil {
		return nil, err
	}
	var (
		outs     []Output
		stored   map[storage.EventNID]gmsl.PDU
		timeline []Event
		redacted []storage.EventNID
	)
	err = r.db.WithTx(ctx, func(ctx context.Context, tx *storage.Tx) error {
		outs, stored, timeline, redacted = nil, map[storage.EventNID]gmsl.PDU{}, nil, nil
		if ri.nid == 0 {
			nid, err := tx.InsertRoom(ctx, ri.id, string(ri.version.Version()))
			if err != nil {
				return fmt.Errorf("room %s: %w", ri.id, err)
			}
			ri.nid = nid
		}
		for _, w := range writes {
			out, row, err := r.writeOne(ctx, tx, ri, w, names)
			if err != nil {
				return err
			}
			stored[row.NID] = w.pdu
			if out == nil {
				continue
			}
			outs = append(outs, *out)
			timeline = append(timeline, Event{PDU: w.pdu, StreamPos: row.StreamPos, Status: row.Status, before: row.BeforeSnapshot})
			if w.pdu.Type() == spec.MRoomRedaction {
				target, err := redact(ctx, tx, ri, w.pdu)
				if err != nil {
					return err
				}
				if target != 0 {
					redacted = append(redacted, target)
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	ri.committed()
	r.rooms.put(ri)
	r.versions.Store(ri.nid, ri.version)
	for nid, pdu := range stored {
		r.pdus.put(nid, pdu)
	}
	for _, nid := range redacted {
		r.pdus.drop(nid)
	}
	if len(redacted) > 0 {
		r.tails.forget(ri.id)
	} else {
		r.tails.appended(ri.id, timeline)
	}
	for _, o := range outs {
		if o.Type == spec.MRoomMember {
			r.memberGens.Advance(ri.id)
			break
		}
	}
	r.notify(ctx, outs)
	return outs, nil
}

// writeOne inserts one event row and, if it is accepted, applies it.
// Returns the event's output, nil for events that are not accepted, and
// its stored row.
func (r *Roomserver) writeOne(ctx context.Context, tx *storage.Tx, ri *roomInfo, w write, names stateNames) (*Output, storage.Event, error) {
	if w.linear {
		w.before, w.beforeSnapshot = ri.state, ri.snapshot
		w.plan = linearPlan(w.pdu)
	}
	row := storage.Event{
		Room: ri.nid, ID: w.pdu.EventID(), Type: names.types[w.pdu.Type()],
		Sender: string(w.pdu.SenderID()), Depth: w.pdu.Depth(), OriginTS: int64(w.pdu.OriginServerTS()),
		Status: w.status, JSON: w.pdu.JSON(),
	}
	if sk := w.pdu.StateKey(); sk != nil {
		row.StateKey = names.keys[*sk]
	}
	if w.before != nil {
		before := w.beforeSnapshot
		if before == 0 && w.baseSet != nil {
			var err error
			if before, err = tx.StoreSnapshot(ctx, w.baseSnapshot, names.diff(w.baseSet, w.before, 0)); err != nil {
				return nil, storage.Event{}, err
			}
		}
		row.BeforeSnapshot, row.AfterSnapshot = before, before
	}
	if w.status == storage.StatusAccepted {
		pos, err := tx.NextStreamPos(ctx, "events")
		if err != nil {
			return nil, storage.Event{}, err
		}
		row.StreamPos = pos
	}
	nid, err := tx.InsertEvent(ctx, row)
	row.NID = nid
	if err != nil || w.status != storage.StatusAccepted {
		return nil, row, err
	}
	out, err := r.apply(ctx, tx, ri, w, row, nid, names)
	if err != nil {
		return nil, storage.Event{}, err
	}
	if err := indexRelation(ctx, tx, ri.nid, nid, w.pdu, row.StreamPos); err != nil {
		return nil, storage.Event{}, err
	}
	if w.txn != nil {
		if err := tx.InsertTxn(ctx, w.txn.Localpart, w.txn.DeviceID, w.txn.TxnID, w.pdu.EventID()); err != nil {
			return nil, storage.Event{}, fmt.Errorf("record transaction: %w", err)
		}
	}
	return &out, row, nil
}

// linearPlan is the plan of an event built on the whole current state:
// only its own key changes.
func linearPlan(pdu gmsl.PDU) inputPlan {
	p := inputPlan{
		extremities: []extremity{{nid: selfNID, id: pdu.EventID(), depth: pdu.Depth()}},
		delta:       stateMap{},
	}
	if sk := pdu.StateKey(); sk != nil {
		p.delta[gmsl.StateKeyTuple{EventType: pdu.Type(), StateKey: *sk}] = selfNID
	}
	return p
}

// apply makes an accepted event part of the room: its after snapshot, the
// current state with memberships, the forward extremities, and ri.
func (r *Roomserver) apply(ctx context.Context, tx *storage.Tx, ri *roomInfo, w write, row storage.Event,
	nid storage.EventNID, names stateNames,
) (Output, error) {
	p := w.plan
	after := row.BeforeSnapshot
	if w.pdu.StateKey() != nil {
		var err error
		change := []storage.StateEntry{{Type: row.Type, Key: row.StateKey, Event: nid}}
		if after, err = tx.StoreSnapshot(ctx, row.BeforeSnapshot, change); err != nil {
			return Output{}, err
		}
		if err := tx.SetEventAfterSnapshot(ctx, nid, after); err != nil {
			return Output{}, err
		}
	}
	current := after
	if p.forked {
		var err error
		if current, err = tx.StoreSnapshot(ctx, after, names.diff(p.after, p.current, nid)); err != nil {
			return Output{}, err
		}
	}
	if len(p.delta) > 0 {
		if err := tx.SetCurrentState(ctx, ri.nid, names.entries(p.delta, nid)); err != nil {
			return Output{}, err
		}
		if err := r.updateMemberships(ctx, tx, ri, p.delta, nid, w.pdu, row.StreamPos); err != nil {
			return Output{}, err
		}
	}
	if current != ri.snapshot {
		if err := tx.SetRoomSnapshot(ctx, ri.nid, current); err != nil {
			return Output{}, err
		}
	}
	out := Output{RoomID: ri.id, EventID: w.pdu.EventID(), Type: w.pdu.Type(), StateKey: w.pdu.StateKey(),
		Sender: string(w.pdu.SenderID()), StreamPos: row.StreamPos}
	if w.pdu.Type() == spec.MRoomMember {
		out.Membership, _ = w.pdu.Membership()
	}
	ri.snapshot = current
	for tuple, n := range p.delta {
		if n == selfNID {
			n = nid
		}
		ri.overlay[tuple] = n
	}
	ri.extremities = append([]extremity(nil), p.extremities...)
	for i := range ri.extremities {
		if ri.extremities[i].nid == selfNID {
			ri.extremities[i].nid = nid
		}
	}
	return out, tx.SetForwardExtremities(ctx, ri.nid, extremityNIDs(ri.extremities))
}

// updateMemberships records the memberships that a change of the current
// state makes.
func (r *Roomserver) updateMemberships(ctx context.Context, tx *storage.Tx, ri *roomInfo, delta stateMap,
	self storage.EventNID, selfPDU gmsl.PDU, pos int64,
) error {
	for tuple, nid := range delta {
		if tuple.EventType != spec.MRoomMember || nid == 0 {
			continue
		}
		pdu := selfPDU
		if nid != selfNID {
			pdus, err := r.events(ctx, []storage.EventNID{nid})
			if err != nil {
				return err
			}
			pdu = pdus[0]
		} else {
			nid = self
		}
		membership, err := pdu.Membership()
		if err != nil {
			return err
		}
		if err := tx.SetMembership(ctx, storage.Membership{
			Room: ri.nid, UserID: tuple.StateKey, Membership: membership, Event: nid, StreamPos: pos,
		}); err != nil {
			return err
		}
	}
	return nil
}

// redact applies an accepted redaction to its target, if the server has
// it: the stored JSON becomes the redacted form. Returns the target's NID,
// or 0 if there was nothing to redact.
func redact(ctx context.Context, tx *storage.Tx, ri *roomInfo, redaction gmsl.PDU) (storage.EventNID, error) {
	target, err := tx.EventByID(ctx, redaction.Redacts())
	if errors.Is(err, storage.ErrNotFound) || (err == nil && (target.Room != ri.nid || target.RedactedBy != "")) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	stripped, err := ri.version.RedactEventJSON(target.JSON)
	if err != nil {
		return 0, fmt.Errorf("redact %s: %w", target.ID, err)
	}
	if stripped, err = withRedactedBecause(stripped, redaction); err != nil {
		return 0, err
	}
	return target.NID, tx.SetEventRedacted(ctx, target.NID, redaction.EventID(), stripped)
}

// withRedactedBecause records the redaction in the event's unsigned data,
// as clients expect to find it.
func withRedactedBecause(eventJSON []byte, redaction gmsl.PDU) ([]byte, error) {
	var ev map[string]json.RawMessage
	if err := json.Unmarshal(eventJSON, &ev); err != nil {
		return nil, err
	}
	unsigned, err := json.Marshal(map[string]json.RawMessage{"redacted_because": redaction.JSON()})
	if err != nil {
		return nil, err
	}
	ev["unsigned"] = unsigned
	return json.Marshal(ev)
}

// stateNames maps the types and state keys of the writes to NIDs.
type stateNames struct {
	types map[string]storage.TypeNID
	keys  map[string]storage.StateKeyNID
}

// writeNames returns the NIDs the writes need, creating new ones in their
// own transactions before the write's. Linear writes only touch their own
// type and key; the others every key of their state maps.
func (r *Roomserver) writeNames(ctx context.Context, writes []write) (stateNames, error) {
	var types, keys []string
	add := func(t gmsl.StateKeyTuple) { types, keys = append(types, t.EventType), append(keys, t.StateKey) }
	for _, w := range writes {
		types = append(types, w.pdu.Type())
		if sk := w.pdu.StateKey(); sk != nil {
			keys = append(keys, *sk)
		}
		if w.linear {
			continue
		}
		for _, m := range []stateMap{w.before, w.baseSet, w.plan.after, w.plan.current, w.plan.delta} {
			for t := range m {
				add(t)
			}
		}
	}
	var (
		n   stateNames
		err error
	)
	if n.types, err = r.db.TypeNIDs(ctx, types); err != nil {
		return n, err
	}
	n.keys, err = r.db.StateKeyNIDs(ctx, keys)
	return n, err
}

// diff lists the changes that turn state from into state to, with selfNID
// replaced by self.
func (n stateNames) diff(from, to stateMap, self storage.EventNID) []storage.StateEntry {
	var out []storage.StateEntry
	for tuple, nid := range to {
		if nid == selfNID {
			nid = self
		}
		if from[tuple] != nid {
			out = append(out, storage.StateEntry{Type: n.types[tuple.EventType], Key: n.keys[tuple.StateKey], Event: nid})
		}
	}
	for tuple := range from {
		if _, ok := to[tuple]; !ok {
			out = append(out, storage.StateEntry{Type: n.types[tuple.EventType], Key: n.keys[tuple.StateKey]})
		}
	}
	return out
}

// entries turns a delta into state entries, with selfNID replaced by self.
func (n stateNames) entries(delta stateMap, self storage.EventNID) []storage.StateEntry {
	out := make([]storage.StateEntry, 0, len(delta))
	for tuple, nid := range delta {
		if nid == selfNID {
			nid = self
		}
		out = append(out, storage.StateEntry{Type: n.types[tuple.EventType], Key: n.keys[tuple.StateKey], Event: nid})
	}
	return out
}

// deltaOf lists the keys whose event differs between from and to (0 for
// keys to removes).
func deltaOf(from, to stateMap) stateMap {
	out := stateMap{}
	for tuple, nid := range to {
		if from[tuple] != nid {
			out[tuple] = nid
		}
	}
	for tuple := range from {
		if _, ok := to[tuple]; !ok {
			out[tuple] = 0
		}
	}
	return out
}

func cloneState(s stateMap) stateMap {
	out := make(stateMap, len(s)+1)
	for k, v := range s {
		out[k] = v
	}
	return out
}

func extremityNIDs(xs []extremity) []storage.EventNID {
	out := make([]storage.EventNID, len(xs))
	for i, x := range xs {
		out[i] = x.nid
	}
	return out
}
