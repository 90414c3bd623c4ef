package roomserver

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	gmsl "github.com/matrix-org/gomatrixserverlib"

	"github.com/ganglion/ganglion/storage"
)

// stateMap is room state by (type, state key). A NID of selfNID stands for
// the event being processed, which has no NID before its commit.
type stateMap = map[gmsl.StateKeyTuple]storage.EventNID

const selfNID storage.EventNID = -1

// reachBatch is how many unconflicted events reachedFromState loads at a
// time.
const reachBatch = 64

// resolve runs the room version's state resolution over several states.
// self is the event behind selfNID, if any.
func (r *Roomserver) resolve(ctx context.Context, version gmsl.IRoomVersion, sets []stateMap, self gmsl.PDU) (stateMap, error) {
	conflicted := conflictedTuples(sets)
	if len(conflicted) == 0 {
		return sets[0], nil
	}
	if version.StateResAlgorithm() == gmsl.StateResV1 {
		return r.resolveV1(ctx, version, sets, conflicted, self)
	}
	return r.resolveV2(ctx, version, sets, conflicted, self)
}

// resolveV2 runs state resolution v2 (room versions 2 to 11) or v2.1 (room
// version 12; see stateres.go). Only what the algorithm needs is loaded:
// the conflicted events and their auth chains, the unconflicted events
// the auth rules consult for the full conflicted set, the auth chain of
// the unconflicted power levels (for the mainline), and the recent
// unconflicted events that tell the auth difference (reachedFromState).
func (r *Roomserver) resolveV2(ctx context.Context, version gmsl.IRoomVersion, sets []stateMap, conflicted map[gmsl.StateKeyTuple]struct{}, self gmsl.PDU) (stateMap, error) {
	l := newPDULoader(r, self)
	perSet, conflictedIDs, err := l.loadConflicted(ctx, sets, conflicted)
	if err != nil {
		return nil, fmt.Errorf("load conflicted events: %w", err)
	}
	if err := l.loadAuthChains(ctx, conflictedIDs); err != nil {
		return nil, fmt.Errorf("load auth chains of conflicted events: %w", err)
	}
	unconflicted := make(stateMap, len(sets[0]))
	for t, nid := range sets[0] {
		if _, isConflicted := conflicted[t]; !isConflicted {
			unconflicted[t] = nid
		}
	}
	full, err := l.fullConflictedSet(ctx, version, unconflicted, perSet, conflictedIDs)
	if err != nil {
		return nil, err
	}
	create := l.createEvent()
	if create == nil {
		return nil, errors.New("no create event in the states to resolve")
	}
	resolved := newStateRes(version, create, l.pdus, l.rejected).resolveConflicts(l.unconflicted, full)
	out := make(stateMap, len(unconflicted)+len(conflicted))
	for t, id := range resolved {
		out[t] = l.byID[id]
	}
	for t, nid := range unconflicted {
		out[t] = nid
	}
	return out, nil
}

// fullConflictedSet returns, sorted, the conflicted events, the auth
// difference and, in v2.1, the conflicted state subgraph. It loads the
// unconflicted events that the auth rules consult for them.
//
// The full auth chain of a state is that of its conflicted events plus
// that of the unconflicted events, which every state shares. So an event
// in the auth chains of the conflicted events of every state is in no auth
// difference, and one in those of only some states (a candidate) is in
// the auth difference unless an unconflicted event reaches it; the auth
// chains of the unconflicted events are not loaded, only walked as far as
// the candidates (reachedFromState).
func (l *pduLoader) fullConflictedSet(ctx context.Context, version gmsl.IRoomVersion, unconflicted stateMap, perSet [][]string, conflictedIDs []string) ([]string, error) {
	chains := make([]map[string]bool, len(perSet))
	for i, ids := range perSet {
		chains[i] = authChainIDs(ids, l.pdus)
	}
	var subgraph []string
	if version.StateResAlgorithm() == gmsl.StateResV2_1 {
		subgraph = conflictedSubgraph(conflictedIDs, l.pdus)
	}
	// Whether the conflicted events and the subgraph are in the auth
	// difference does not matter: they are in the full conflicted set.
	in := map[string]bool{}
	for _, part := range [][]string{conflictedIDs, subgraph} {
		for _, id := range part {
			in[id] = true
		}
	}
	var candidates []string
	for _, id := range authDifference(chains) {
		if !in[id] {
			candidates = append(candidates, id)
		}
	}
	if err := l.loadUnconflicted(ctx, unconflicted, conflictedIDs, candidates, subgraph); err != nil {
		return nil, fmt.Errorf("load unconflicted events: %w", err)
	}
	reached, err := l.reachedFromState(ctx, unconflicted, candidates)
	if err != nil {
		return nil, fmt.Errorf("walk unconflicted auth chains: %w", err)
	}
	for _, id := range candidates {
		if !reached[id] {
			in[id] = true
		}
	}
	return slices.Sorted(maps.Keys(in)), nil
}

// pduLoader loads the events of one resolution and remembers their NIDs
// and statuses.
type pduLoader struct {
	r        *Roomserver
	self     gmsl.PDU
	pdus     map[string]gmsl.PDU
	byID     map[string]storage.EventNID
	idOf     map[storage.EventNID]string
	rejected map[string]bool
	// walked: events whose auth events loadAuthChains has queued.
	walked map[string]bool
	// unconflicted holds the unconflicted entries loadUnconflicted loaded.
	unconflicted map[gmsl.StateKeyTuple]string
}

func newPDULoader(r *Roomserver, self gmsl.PDU) *pduLoader {
	return &pduLoader{r: r, self: self, pdus: map[string]gmsl.PDU{}, byID: map[string]storage.EventNID{},
		idOf: map[storage.EventNID]string{}, rejected: map[string]bool{}, walked: map[string]bool{},
		unconflicted: map[gmsl.StateKeyTuple]string{}}
}

func (l *pduLoader) add(pdu gmsl.PDU, nid storage.EventNID, rejected bool) {
	l.pdus[pdu.EventID()], l.byID[pdu.EventID()], l.idOf[nid] = pdu, nid, pdu.EventID()
	l.rejected[pdu.EventID()] = rejected
}

// load returns the event with the NID.
func (l *pduLoader) load(ctx context.Context, nid storage.EventNID) (gmsl.PDU, error) {
	if err := l.loadNIDs(ctx, []storage.EventNID{nid}); err != nil {
		return nil, err
	}
	return l.pdus[l.idOf[nid]], nil
}

// loadNIDs loads state events (which are never rejected) by NID.
func (l *pduLoader) loadNIDs(ctx context.Context, nids []storage.EventNID) error {
	var missing []storage.EventNID
	for _, nid := range nids {
		switch _, ok := l.idOf[nid]; {
		case ok:
		case nid == selfNID:
			l.add(l.self, selfNID, false)
		default:
			missing = append(missing, nid)
		}
	}
	slices.Sort(missing)
	missing = slices.Compact(missing)
	pdus, err := l.r.events(ctx, missing)
	if err != nil {
		return err
	}
	for i, pdu := range pdus {
		l.add(pdu, missing[i], false)
	}
	return nil
}

// loadIDs loads events by id, with their statuses. Unknown ids are left
// out.
func (l *pduLoader) loadIDs(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	rows, err := l.r.db.EventsByID(ctx, ids)
	if err != nil {
		return err
	}
	for _, row := range rows {
		pdu, err := l.r.parseStored(ctx, row)
		if err != nil {
			return err
		}
		l.add(pdu, row.NID, row.Status == storage.StatusRejected)
	}
	return nil
}

// loadConflicted loads the conflicted events and returns the ids of those
// in each set and, sorted, of all of them.
func (l *pduLoader) loadConflicted(ctx context.Context, sets []stateMap, conflicted map[gmsl.StateKeyTuple]struct{}) ([][]string, []string, error) {
	var nids []storage.EventNID
	for _, set := range sets {
		for t := range conflicted {
			if nid, ok := set[t]; ok {
				nids = append(nids, nid)
			}
		}
	}
	if err := l.loadNIDs(ctx, nids); err != nil {
		return nil, nil, err
	}
	perSet := make([][]string, len(sets))
	all := map[string]bool{}
	for i, set := range sets {
		for t := range conflicted {
			if nid, ok := set[t]; ok {
				perSet[i] = append(perSet[i], l.idOf[nid])
				all[l.idOf[nid]] = true
			}
		}
	}
	return perSet, slices.Sorted(maps.Keys(all)), nil
}

// loadAuthChains loads the auth chains of loaded events.
func (l *pduLoader) loadAuthChains(ctx context.Context, ids []string) error {
	frontier := ids
	for len(frontier) > 0 {
		var level, missing []string
		for _, id := range frontier {
			if l.walked[id] {
				continue
			}
			l.walked[id] = true
			level = append(level, id)
			if l.pdus[id] == nil {
				missing = append(missing, id)
			}
		}
		if err := l.loadIDs(ctx, missing); err != nil {
			return err
		}
		frontier = nil
		for _, id := range level {
			if pdu := l.pdus[id]; pdu != nil {
				frontier = append(frontier, pdu.AuthEventIDs()...)
			}
		}
	}
	return nil
}

// loadUnconflicted loads the unconflicted events of the keys the events
// have or whose auth rules consult, and of the create, power levels and
// join rules keys; then the auth chain of the power levels event, for its
// mainline.
func (l *pduLoader) loadUnconflicted(ctx context.Context, unconflicted stateMap, parts ...[]string) error {
	tuples := map[gmsl.StateKeyTuple]bool{createTuple: true, powerLevelsTuple: true, joinRulesTuple: true}
	var pdus []gmsl.PDU
	for _, part := range parts {
		for _, id := range part {
			if pdu := l.pdus[id]; pdu != nil && pdu.StateKey() != nil {
				pdus = append(pdus, pdu)
				tuples[gmsl.StateKeyTuple{EventType: pdu.Type(), StateKey: *pdu.StateKey()}] = true
			}
		}
	}
	for _, t := range gmsl.StateNeededForAuth(pdus).Tuples() {
		tuples[t] = true
	}
	var nids []storage.EventNID
	for t := range tuples {
		if nid, ok := unconflicted[t]; ok {
			nids = append(nids, nid)
		}
	}
	if err := l.loadNIDs(ctx, nids); err != nil {
		return err
	}
	for t := range tuples {
		if nid, ok := unconflicted[t]; ok {
			l.unconflicted[t] = l.idOf[nid]
		}
	}
	if pl, ok := l.unconflicted[powerLevelsTuple]; ok {
		return l.loadAuthChains(ctx, []string{pl})
	}
	return nil
}

// reachedFromState returns which of the loaded candidates are in the auth
// chain of some event of the state.
//
// It relies on an event being stored after its auth events, so that an
// event's NID is above those of its whole auth chain (Input stores an
// event only once its auth events are stored, and local events cite
// stored state). So only state events with NIDs above the lowest candidate
// left are walked, oldest first, and the walk does not descend below it:
// a fork's candidates are recent, and old ones are found early.
func (l *pduLoader) reachedFromState(ctx context.Context, state stateMap, candidates []string) (map[string]bool, error) {
	remaining := map[string]storage.EventNID{}
	for _, id := range candidates {
		if nid, ok := l.byID[id]; ok {
			remaining[id] = nid
		}
	}
	reached := map[string]bool{}
	starts := make([]storage.EventNID, 0, len(state))
	for _, nid := range state {
		starts = append(starts, nid)
	}
	slices.Sort(starts)
	visited := map[string]bool{}
	for i := 0; len(remaining) > 0; {
		low := lowest(remaining)
		for i < len(starts) && starts[i] <= low {
			i++
		}
		if i == len(starts) {
			break
		}
		batch := starts[i:min(i+reachBatch, len(starts))]
		i += len(batch)
		if err := l.loadNIDs(ctx, batch); err != nil {
			return nil, err
		}
		var frontier []string
		for _, nid := range batch {
			frontier = append(frontier, l.pdus[l.idOf[nid]].AuthEventIDs()...)
		}
		if err := l.walkDown(ctx, frontier, visited, remaining, reached); err != nil {
			return nil, err
		}
	}
	return reached, nil
}

// walkDown walks auth events from the frontier, above the lowest NID
// remaining, and moves the remaining events it meets to reached.
func (l *pduLoader) walkDown(ctx context.Context, frontier []string, visited map[string]bool, remaining map[string]storage.EventNID, reached map[string]bool) error {
	for len(frontier) > 0 && len(remaining) > 0 {
		var level, missing []string
		for _, id := range frontier {
			if !visited[id] {
				visited[id] = true
				level = append(level, id)
				if l.pdus[id] == nil {
					missing = append(missing, id)
				}
			}
		}
		if err := l.loadIDs(ctx, missing); err != nil {
			return err
		}
		low := lowest(remaining)
		frontier = nil
		for _, id := range level {
			nid, ok := l.byID[id]
			if !ok || nid < low {
				continue // nothing remaining is below it
			}
			if _, ok := remaining[id]; ok {
				reached[id] = true
				delete(remaining, id)
			}
			frontier = append(frontier, l.pdus[id].AuthEventIDs()...)
		}
	}
	return nil
}

func lowest(nids map[string]storage.EventNID) storage.EventNID {
	first := true
	var low storage.EventNID
	for _, nid := range nids {
		if first || nid < low {
			low, first = nid, false
		}
	}
	return low
}

// createEvent returns the room's create event: the unconflicted one, else
// the loaded one with the smallest id.
func (l *pduLoader) createEvent() gmsl.PDU {
	if id, ok := l.unconflicted[createTuple]; ok {
		return l.pdus[id]
	}
	var out gmsl.PDU
	for id, pdu := range l.pdus {
		if isState(pdu, createTuple) && (out == nil || id < out.EventID()) {
			out = pdu
		}
	}
	return out
}

func (l *pduLoader) isRejected(eventID string) bool { return l.rejected[eventID] }
