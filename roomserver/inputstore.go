package roomserver

import (
	"context"
	"slices"

	gmsl "github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/ganglion/ganglion/storage"
)

// inputPlan is what an accepted input event changes, worked out before the
// write transaction: the state after it, the new forward extremities and
// the new current state (selfNID standing for the event).
type inputPlan struct {
	after       stateMap
	extremities []extremity
	current     stateMap
}

// plan computes the effects of accepting the event. The new current state
// is the state after the event if it follows every forward extremity,
// else the resolution of the states after each remaining extremity.
func (in *inputEvent) plan(ctx context.Context) (inputPlan, error) {
	var p inputPlan
	p.after = cloneState(in.before)
	if sk := in.pdu.StateKey(); sk != nil {
		p.after[gmsl.StateKeyTuple{EventType: in.pdu.Type(), StateKey: *sk}] = selfNID
	}
	prevs := in.pdu.PrevEventIDs()
	for _, x := range in.ri.extremities {
		if !slices.Contains(prevs, x.id) {
			p.extremities = append(p.extremities, x)
		}
	}
	if len(p.extremities) == 0 {
		p.extremities = []extremity{{nid: selfNID, id: in.pdu.EventID(), depth: in.pdu.Depth()}}
		p.current = p.after
		return p, nil
	}
	sets := []stateMap{p.after}
	rows, err := in.r.db.EventsByNID(ctx, extremityNIDs(p.extremities))
	if err != nil {
		return p, err
	}
	for _, row := range rows {
		set, err := in.r.snapshotMap(ctx, row.AfterSnapshot)
		if err != nil {
			return p, err
		}
		sets = append(sets, set)
	}
	p.extremities = append(p.extremities, extremity{nid: selfNID, id: in.pdu.EventID(), depth: in.pdu.Depth()})
	p.current, err = in.r.resolve(ctx, in.ri.version, sets, in.pdu)
	return p, err
}

// store writes the event with its status, and for an accepted event its
// state snapshots, timeline position, the new forward extremities and the
// new current state, all in one transaction.
func (in *inputEvent) store(ctx context.Context, status storage.EventStatus, reason string, checkErr error) (InputResult, error) {
	res := InputResult{EventID: in.pdu.EventID(), Status: status, Reason: reason}
	if checkErr != nil {
		return res, checkErr
	}
	var p inputPlan
	if status == storage.StatusAccepted {
		var err error
		if p, err = in.plan(ctx); err != nil {
			return res, err
		}
	}
	names, err := in.r.stateNames(ctx, in.pdu, in.before, in.baseSet, p.current, in.ri.state)
	if err != nil {
		return res, err
	}
	ri := in.ri
	var out *Output
	err = in.r.db.WithTx(ctx, func(ctx context.Context, tx *storage.Tx) error {
		out = nil
		if ri.nid == 0 {
			nid, err := tx.InsertRoom(ctx, ri.id, string(ri.version.Version()))
			if err != nil {
				return err
			}
			ri.nid = nid
		}
		row := storage.Event{
			Room: ri.nid, ID: in.pdu.EventID(), Type: names.types[in.pdu.Type()],
			Sender: string(in.pdu.SenderID()), Depth: in.pdu.Depth(), OriginTS: int64(in.pdu.OriginServerTS()),
			Status: status, JSON: in.pdu.JSON(),
		}
		if sk := in.pdu.StateKey(); sk != nil {
			row.StateKey = names.keys[*sk]
		}
		if in.before != nil {
			before, err := in.snapshotBefore(ctx, tx, names)
			if err != nil {
				return err
			}
			row.BeforeSnapshot, row.AfterSnapshot = before, before
		}
		if status == storage.StatusAccepted {
			pos, err := tx.NextStreamPos(ctx, "events")
			if err != nil {
				return err
			}
			row.StreamPos = pos
		}
		nid, err := tx.InsertEvent(ctx, row)
		if err != nil || status != storage.StatusAccepted {
			return err
		}
		o, err := in.apply(ctx, tx, row, nid, p, names)
		out = &o
		return err
	})
	if err != nil {
		return res, err
	}
	if out != nil {
		in.r.rooms.put(ri)
		in.r.versions.Store(ri.nid, ri.version)
		in.r.notify(ctx, []Output{*out})
	}
	return res, nil
}

// snapshotBefore returns the snapshot of the state before the event,
// writing it if it is a resolution.
func (in *inputEvent) snapshotBefore(ctx context.Context, tx *storage.Tx, names stateNames) (storage.SnapshotNID, error) {
	if in.beforeSnapshot != 0 || in.baseSet == nil {
		return in.beforeSnapshot, nil
	}
	return tx.StoreSnapshot(ctx, in.baseSnapshot, names.diff(in.baseSet, in.before, 0))
}

// apply makes an accepted event part of the room: its after snapshot, the
// forward extremities, the current state with memberships, and the room's
// cached view (ri, a private copy until commit).
func (in *inputEvent) apply(ctx context.Context, tx *storage.Tx, row storage.Event, nid storage.EventNID,
	p inputPlan, names stateNames,
) (Output, error) {
	ri := in.ri
	after := row.BeforeSnapshot
	if sk := in.pdu.StateKey(); sk != nil {
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
	changes := names.diff(ri.state, p.current, nid)
	if !sameState(p.current, p.after) {
		var err error
		if current, err = tx.StoreSnapshot(ctx, after, names.diff(p.after, p.current, nid)); err != nil {
			return Output{}, err
		}
	}
	if err := tx.SetCurrentState(ctx, ri.nid, changes); err != nil {
		return Output{}, err
	}
	out := Output{RoomID: ri.id, EventID: in.pdu.EventID(), Type: in.pdu.Type(), StateKey: in.pdu.StateKey(),
		Sender: string(in.pdu.SenderID()), StreamPos: row.StreamPos}
	if err := in.r.updateMemberships(ctx, tx, ri, p.current, nid, in.pdu, row.StreamPos); err != nil {
		return Output{}, err
	}
	if in.pdu.Type() == spec.MRoomMember {
		out.Membership, _ = in.pdu.Membership()
	}
	ri.snapshot = current
	ri.state = resolveSelf(p.current, nid)
	ri.extremities = p.extremities
	for i := range ri.extremities {
		if ri.extremities[i].nid == selfNID {
			ri.extremities[i].nid = nid
		}
	}
	if err := tx.SetRoomSnapshot(ctx, ri.nid, current); err != nil {
		return Output{}, err
	}
	return out, tx.SetForwardExtremities(ctx, ri.nid, extremityNIDs(ri.extremities))
}

// updateMemberships records the memberships that the new current state
// changed.
func (r *Roomserver) updateMemberships(ctx context.Context, tx *storage.Tx, ri *roomInfo, current stateMap,
	self storage.EventNID, selfPDU gmsl.PDU, pos int64,
) error {
	for tuple, nid := range current {
		if tuple.EventType != spec.MRoomMember || ri.state[tuple] == nid {
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

// stateNames maps the types and state keys of the maps involved to NIDs.
type stateNames struct {
	types map[string]storage.TypeNID
	keys  map[string]storage.StateKeyNID
}

func (r *Roomserver) stateNames(ctx context.Context, pdu gmsl.PDU, maps ...stateMap) (stateNames, error) {
	types := []string{pdu.Type()}
	var keys []string
	if sk := pdu.StateKey(); sk != nil {
		keys = append(keys, *sk)
	}
	for _, m := range maps {
		for t := range m {
			types, keys = append(types, t.EventType), append(keys, t.StateKey)
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

func cloneState(s stateMap) stateMap {
	out := make(stateMap, len(s)+1)
	for k, v := range s {
		out[k] = v
	}
	return out
}

func resolveSelf(s stateMap, self storage.EventNID) stateMap {
	out := cloneState(s)
	for k, v := range out {
		if v == selfNID {
			out[k] = self
		}
	}
	return out
}

func sameState(a, b stateMap) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func extremityNIDs(xs []extremity) []storage.EventNID {
	out := make([]storage.EventNID, len(xs))
	for i, x := range xs {
		out[i] = x.nid
	}
	return out
}
