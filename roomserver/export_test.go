package roomserver

import (
	"maps"
	"slices"

	gmsl "github.com/matrix-org/gomatrixserverlib"
)

// ResolveStates runs state resolution v2 or v2.1 in memory over whole
// states, with the auth difference taken from the full auth chains of
// every state event. known holds at least every event of those auth
// chains; rejected names events rejected on receipt. It returns the
// resolved state as event ids.
func ResolveStates(version gmsl.IRoomVersion, sets [][]gmsl.PDU, known []gmsl.PDU, rejected ...string) map[gmsl.StateKeyTuple]string {
	events := map[string]gmsl.PDU{}
	for _, e := range known {
		events[e.EventID()] = e
	}
	idSets := make([]map[gmsl.StateKeyTuple]string, len(sets))
	for i, set := range sets {
		idSets[i] = map[gmsl.StateKeyTuple]string{}
		for _, e := range set {
			events[e.EventID()] = e
			idSets[i][gmsl.StateKeyTuple{EventType: e.Type(), StateKey: *e.StateKey()}] = e.EventID()
		}
	}
	conflicted := conflictedTuples(idSets)
	unconflicted := map[gmsl.StateKeyTuple]string{}
	for t, id := range idSets[0] {
		if _, ok := conflicted[t]; !ok {
			unconflicted[t] = id
		}
	}
	chains := make([]map[string]bool, len(sets))
	inConflicted := map[string]bool{}
	for i, set := range idSets {
		var ids []string
		for t, id := range set {
			ids = append(ids, id)
			if _, ok := conflicted[t]; ok {
				inConflicted[id] = true
			}
		}
		chains[i] = authChainIDs(ids, events)
	}
	conflictedIDs := slices.Sorted(maps.Keys(inConflicted))
	full := map[string]bool{}
	parts := [][]string{conflictedIDs, authDifference(chains)}
	if version.StateResAlgorithm() == gmsl.StateResV2_1 {
		parts = append(parts, conflictedSubgraph(conflictedIDs, events))
	}
	for _, part := range parts {
		for _, id := range part {
			full[id] = true
		}
	}
	rej := map[string]bool{}
	for _, id := range rejected {
		rej[id] = true
	}
	create := events[idSets[0][createTuple]]
	return newStateRes(version, create, events, rej).resolveConflicts(unconflicted, slices.Sorted(maps.Keys(full)))
}
