package roomserver

import (
	"context"

	gmsl "github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/ganglion/ganglion/storage"
)

// stateMap is room state by (type, state key). A NID of selfNID stands for
// the event being processed, which has no NID before its commit.
type stateMap = map[gmsl.StateKeyTuple]storage.EventNID

const selfNID storage.EventNID = -1

// resolve runs the room version's state resolution over several states.
// Only what the algorithm needs is loaded: the conflicted events, the
// unconflicted events the auth rules look at (create, power levels, join
// rules, third-party invites, and the members involved), and the auth
// chains of the conflicted events. self is the event behind selfNID, if
// any.
func (r *Roomserver) resolve(ctx context.Context, version gmsl.IRoomVersion, sets []stateMap, self gmsl.PDU) (stateMap, error) {
	conflicted := conflictedTuples(sets)
	if len(conflicted) == 0 {
		return sets[0], nil
	}
	loader := pduLoader{r: r, self: self, byID: map[string]storage.EventNID{}}
	pduSets := make([][]gmsl.PDU, len(sets))
	var conflictedPDUs []gmsl.PDU
	for i, set := range sets {
		for tuple := range conflicted {
			if nid, ok := set[tuple]; ok {
				pdu, err := loader.load(ctx, nid)
				if err != nil {
					return nil, err
				}
				pduSets[i] = append(pduSets[i], pdu)
				conflictedPDUs = append(conflictedPDUs, pdu)
			}
		}
	}
	relevant := authRelevant(conflictedPDUs)
	for i, set := range sets {
		for tuple, nid := range set {
			if _, isConflicted := conflicted[tuple]; isConflicted || !relevant(tuple) {
				continue
			}
			pdu, err := loader.load(ctx, nid)
			if err != nil {
				return nil, err
			}
			pduSets[i] = append(pduSets[i], pdu)
		}
	}
	chain, err := loader.authChain(ctx, conflictedPDUs)
	if err != nil {
		return nil, err
	}
	// State resolution v2.1 looks the conflicted events up among the auth
	// events too.
	chain = append(chain, conflictedPDUs...)
	resolved, err := gmsl.ResolveConflictsNew(version.Version(), pduSets, chain, userIDForSender, loader.isRejected)
	if err != nil {
		return nil, err
	}
	out := make(stateMap, len(sets[0]))
	for tuple, nid := range sets[0] {
		if _, isConflicted := conflicted[tuple]; !isConflicted {
			out[tuple] = nid
		}
	}
	for _, pdu := range resolved {
		if sk := pdu.StateKey(); sk != nil {
			out[gmsl.StateKeyTuple{EventType: pdu.Type(), StateKey: *sk}] = loader.nidOf(pdu.EventID())

		}
	}
	return out, nil
}

// conflictedTuples are the state keys on which the sets do not all agree
// (present in some and absent in others counts as disagreeing).
func conflictedTuples(sets []stateMap) map[gmsl.StateKeyTuple]struct{} {
	out := map[gmsl.StateKeyTuple]struct{}{}
	for _, set := range sets {
		for tuple, nid := range set {
			for _, other := range sets {
				if o, ok := other[tuple]; !ok || o != nid {
					out[tuple] = struct{}{}
					break
				}
			}
		}
	}
	return out
}

// authRelevant returns a predicate for the unconflicted state that the
// auth rules may consult while resolving the conflicted events.
func authRelevant(conflicted []gmsl.PDU) func(gmsl.StateKeyTuple) bool {
	members := map[string]bool{}
	for _, pdu := range conflicted {
		members[string(pdu.SenderID())] = true
		if pdu.Type() == spec.MRoomMember && pdu.StateKey() != nil {
			members[*pdu.StateKey()] = true
		}
	}
	return func(t gmsl.StateKeyTuple) bool {
		switch t.EventType {
		case spec.MRoomCreate, spec.MRoomPowerLevels, spec.MRoomJoinRules, spec.MRoomThirdPartyInvite:
			return true
		case spec.MRoomMember:
			return members[t.StateKey]
		}
		return false
	}
}

// pduLoader loads events for a resolution and remembers their NIDs and
// statuses.
type pduLoader struct {
	r        *Roomserver
	self     gmsl.PDU
	byID     map[string]storage.EventNID
	rejected map[string]bool
}

func (l *pduLoader) load(ctx context.Context, nid storage.EventNID) (gmsl.PDU, error) {
	if nid == selfNID {
		l.byID[l.self.EventID()] = selfNID
		return l.self, nil
	}
	pdus, err := l.r.events(ctx, []storage.EventNID{nid})
	if err != nil {
		return nil, err
	}
	l.byID[pdus[0].EventID()] = nid
	return pdus[0], nil
}

func (l *pduLoader) nidOf(eventID string) storage.EventNID { return l.byID[eventID] }

func (l *pduLoader) isRejected(eventID string) bool { return l.rejected[eventID] }

// authChain returns the full auth chains of the events.
func (l *pduLoader) authChain(ctx context.Context, events []gmsl.PDU) ([]gmsl.PDU, error) {
	if l.rejected == nil {
		l.rejected = map[string]bool{}
	}
	seen := map[string]bool{}
	var (
		out  []gmsl.PDU
		next []string
	)
	for _, e := range events {
		next = append(next, e.AuthEventIDs()...)
	}
	for len(next) > 0 {
		var ids []string
		for _, id := range next {
			if !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
		next = nil
		rows, err := l.r.db.EventsByID(ctx, ids)
		if err != nil {
			return nil, err
		}
		for _, row := range rows {
			pdu, err := l.r.parseStored(ctx, row)
			if err != nil {
				return nil, err
			}
			l.byID[row.ID] = row.NID
			l.rejected[row.ID] = row.Status == storage.StatusRejected
			out = append(out, pdu)
			next = append(next, pdu.AuthEventIDs()...)
		}
	}
	return out, nil
}
