package roomserver

import (
	"context"

	gmsl "github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"
)

// resolveV1 runs state resolution v1 (room version 1) through
// gomatrixserverlib. It loads the conflicted events, the unconflicted
// events the auth rules may look at (create, power levels, join rules,
// third-party invites, and the members involved) and the auth chains of
// the conflicted events.
func (r *Roomserver) resolveV1(ctx context.Context, version gmsl.IRoomVersion, sets []stateMap, conflicted map[gmsl.StateKeyTuple]struct{}, self gmsl.PDU) (stateMap, error) {
	loader := newPDULoader(r, self)
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
	ids := make([]string, len(conflictedPDUs))
	for i, pdu := range conflictedPDUs {
		ids[i] = pdu.EventID()
	}
	if err := loader.loadAuthChains(ctx, ids); err != nil {
		return nil, err
	}
	var chain []gmsl.PDU
	for id := range authChainIDs(ids, loader.pdus) {
		if pdu := loader.pdus[id]; pdu != nil {
			chain = append(chain, pdu)
		}
	}
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
			out[gmsl.StateKeyTuple{EventType: pdu.Type(), StateKey: *sk}] = loader.byID[pdu.EventID()]
		}
	}
	return out, nil
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
