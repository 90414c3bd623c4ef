package roomserver

import (
	"context"
	"slices"

	gmsl "github.com/matrix-org/gomatrixserverlib"

	"github.com/ganglion/ganglion/storage"
)

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
		p.delta = deltaOf(in.ri.state, p.current)
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
	if p.current, err = in.r.resolve(ctx, in.ri.version, sets, in.pdu); err != nil {
		return p, err
	}
	p.forked = true
	p.delta = deltaOf(in.ri.state, p.current)
	return p, nil
}

// store writes the event with its status, through the same path as local
// events.
func (in *inputEvent) store(ctx context.Context, status storage.EventStatus, reason string, checkErr error) (InputResult, error) {
	res := InputResult{EventID: in.pdu.EventID(), Status: status, Reason: reason}
	if checkErr != nil {
		return res, checkErr
	}
	w := write{pdu: in.pdu, status: status, before: in.before, beforeSnapshot: in.beforeSnapshot,
		baseSnapshot: in.baseSnapshot, baseSet: in.baseSet}
	if status == storage.StatusAccepted {
		var err error
		if w.plan, err = in.plan(ctx); err != nil {
			return res, err
		}
	}
	_, err := in.r.writeEvents(ctx, in.ri, []write{w})
	return res, err
}
