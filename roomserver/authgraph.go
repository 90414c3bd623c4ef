package roomserver

import (
	"slices"

	gmsl "github.com/matrix-org/gomatrixserverlib"
)

// The graph pieces of state resolution v2 and v2.1, over the events in
// memory: auth chains, the auth difference and the conflicted state
// subgraph.

// conflictedTuples are the state keys on which the sets do not all agree
// (present in some and absent in others counts as disagreeing).
func conflictedTuples[V comparable](sets []map[gmsl.StateKeyTuple]V) map[gmsl.StateKeyTuple]struct{} {
	out := map[gmsl.StateKeyTuple]struct{}{}
	for _, set := range sets {
		for tuple, v := range set {
			for _, other := range sets {
				if o, ok := other[tuple]; !ok || o != v {
					out[tuple] = struct{}{}
					break
				}
			}
		}
	}
	return out
}

// authChainIDs returns the union of the auth chains of the events: every
// event reachable from them through auth_events. An event is in the result
// only if reachable from one of them (not for being one of them). Only
// events in events are walked and returned.
func authChainIDs(ids []string, events map[string]gmsl.PDU) map[string]bool {
	out := map[string]bool{}
	stack := append([]string(nil), ids...)
	for len(stack) > 0 {
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		e := events[id]
		if e == nil {
			continue
		}
		for _, a := range e.AuthEventIDs() {
			if !out[a] && events[a] != nil {
				out[a] = true
				stack = append(stack, a)
			}
		}
	}
	return out
}

// authDifference returns, sorted, the events in some of the auth chains
// but not in all of them.
func authDifference(chains []map[string]bool) []string {
	var out []string
	seen := map[string]bool{}
	for _, chain := range chains {
		for id := range chain {
			if seen[id] {
				continue
			}
			seen[id] = true
			for _, other := range chains {
				if !other[id] {
					out = append(out, id)
					break
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// conflictedSubgraph returns, sorted, the events on auth_events paths
// from one conflicted event to another, the ends included (state
// resolution v2.1): the events both reachable from a conflicted event and
// reaching one.
func conflictedSubgraph(conflicted []string, events map[string]gmsl.PDU) []string {
	reaches := make(map[string]bool, len(conflicted))
	for _, id := range conflicted {
		reaches[id] = true
	}
	visiting := map[string]bool{}
	var reachesConflicted func(id string) bool
	reachesConflicted = func(id string) bool {
		if r, ok := reaches[id]; ok {
			return r
		}
		e := events[id]
		if e == nil || visiting[id] {
			return false
		}
		visiting[id] = true
		r := false
		for _, a := range e.AuthEventIDs() {
			if reachesConflicted(a) {
				r = true
				break
			}
		}
		reaches[id] = r
		return r
	}
	in := map[string]bool{}
	for id := range authChainIDs(conflicted, events) {
		if reachesConflicted(id) {
			in[id] = true
		}
	}
	for _, id := range conflicted {
		in[id] = true
	}
	out := make([]string, 0, len(in))
	for id := range in {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}
