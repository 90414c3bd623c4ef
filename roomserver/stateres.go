package roomserver

import (
	"cmp"
	"container/heap"
	"encoding/json"
	"math"
	"slices"

	gmsl "github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"
)

// State resolution v2 (room versions 2 to 11) and v2.1 (room version 12),
// written from the "State resolution" sections of those room versions in
// the spec. Names follow the spec's definitions. This file holds the steps
// of the algorithm over events in memory; resolve.go loads what they need.

var (
	createTuple      = gmsl.StateKeyTuple{EventType: spec.MRoomCreate}
	powerLevelsTuple = gmsl.StateKeyTuple{EventType: spec.MRoomPowerLevels}
	joinRulesTuple   = gmsl.StateKeyTuple{EventType: spec.MRoomJoinRules}
)

// creatorPower is the power level of a room creator in room versions with
// privileged creators: above any level an event can state.
const creatorPower int64 = math.MaxInt64

// noMainline is the mainline position of an event none of whose power
// levels ancestors is on the mainline: after every real position.
const noMainline = math.MaxInt

// stateRes resolves the full conflicted set of one resolution.
type stateRes struct {
	version gmsl.IRoomVersion
	// create is the room's create event: room version 12 keeps it out of
	// auth_events, and always consults it.
	create gmsl.PDU
	// events holds every event the steps look at: the full conflicted set,
	// the auth chains of its events and the unconflicted events the auth
	// rules consult.
	events map[string]gmsl.PDU
	// rejected marks events rejected by the checks on receipt; they are
	// never used as auth events in the iterative auth checks.
	rejected map[string]bool
	creators map[string]bool
	power    map[string]int64 // senderPower memo
}

func newStateRes(version gmsl.IRoomVersion, create gmsl.PDU, events map[string]gmsl.PDU, rejected map[string]bool) *stateRes {
	s := &stateRes{version: version, create: create, events: events, rejected: rejected,
		creators: map[string]bool{}, power: map[string]int64{}}
	if version.PrivilegedCreators() {
		s.creators[string(create.SenderID())] = true
		var content struct {
			AdditionalCreators []string `json:"additional_creators"`
		}
		if json.Unmarshal(create.Content(), &content) == nil {
			for _, c := range content.AdditionalCreators {
				s.creators[c] = true
			}
		}
	}
	return s
}

// resolveConflicts runs the algorithm's five steps on the unconflicted
// state map and the full conflicted set, and returns the resolved state.
// unconflicted needs to hold only the entries the auth rules consult for
// the full conflicted set: the caller adds the others.
func (s *stateRes) resolveConflicts(unconflicted map[gmsl.StateKeyTuple]string, full []string) map[gmsl.StateKeyTuple]string {
	// Step 1: the power events and their auth ancestors in the full
	// conflicted set, in reverse topological power ordering.
	power := s.powerSet(full)
	// Step 2: iterative auth checks from the unconflicted state map (v2) or
	// from the empty state (v2.1).
	partial := map[gmsl.StateKeyTuple]string{}
	if s.version.StateResAlgorithm() != gmsl.StateResV2_1 {
		for t, id := range unconflicted {
			partial[t] = id
		}
	}
	s.iterativeAuthChecks(partial, s.reverseTopologicalPowerOrder(power))
	// Steps 3 and 4: the other events in mainline order of the partially
	// resolved power levels, then iterative auth checks again.
	var others []string
	for _, id := range full {
		if !power[id] {
			others = append(others, id)
		}
	}
	s.mainlineOrder(others, partial[powerLevelsTuple])
	s.iterativeAuthChecks(partial, others)
	// Step 5: the unconflicted state map wins.
	for t, id := range unconflicted {
		partial[t] = id
	}
	return partial
}

// isPowerEvent says whether the event may take away someone's ability to
// do something: power levels, join rules, and kicks and bans.
func isPowerEvent(e gmsl.PDU) bool {
	if e.StateKey() == nil {
		return false
	}
	switch e.Type() {
	case spec.MRoomPowerLevels, spec.MRoomJoinRules:
		return true
	case spec.MRoomMember:
		m, err := e.Membership()
		return err == nil && (m == spec.Leave || m == spec.Ban) && *e.StateKey() != string(e.SenderID())
	}
	return false
}

// powerSet is step 1's set: the power events of the full conflicted set
// and the events of their auth chains that are in the full conflicted set.
func (s *stateRes) powerSet(full []string) map[string]bool {
	inFull := make(map[string]bool, len(full))
	for _, id := range full {
		inFull[id] = true
	}
	out := map[string]bool{}
	seen := map[string]bool{}
	var stack []string
	for _, id := range full {
		if e := s.events[id]; e != nil && isPowerEvent(e) {
			out[id], seen[id] = true, true
			stack = append(stack, id)
		}
	}
	for len(stack) > 0 {
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		e := s.events[id]
		if e == nil {
			continue
		}
		for _, a := range e.AuthEventIDs() {
			if seen[a] {
				continue
			}
			seen[a] = true
			if inFull[a] {
				out[a] = true
			}
			stack = append(stack, a)
		}
	}
	return out
}

// reverseTopologicalPowerOrder sorts the events so that every event comes
// after its auth ancestors among them (Kahn's algorithm), taking at each
// step the smallest ready event: higher sender power level first, then
// older origin_server_ts, then smaller event id.
func (s *stateRes) reverseTopologicalPowerOrder(set map[string]bool) []string {
	waiting := make(map[string]int, len(set))
	dependents := map[string][]string{}
	below := map[string][]string{}
	for id := range set {
		for _, a := range s.nearestBelow(id, set, below) {
			waiting[id]++
			dependents[a] = append(dependents[a], id)
		}
	}
	ready := &eventHeap{less: s.powerLess}
	for id := range set {
		if waiting[id] == 0 {
			ready.ids = append(ready.ids, id)
		}
	}
	heap.Init(ready)
	out := make([]string, 0, len(set))
	for ready.Len() > 0 {
		id := heap.Pop(ready).(string)
		out = append(out, id)
		for _, d := range dependents[id] {
			if waiting[d]--; waiting[d] == 0 {
				heap.Push(ready, d)
			}
		}
	}
	return out
}

// nearestBelow returns the auth ancestors of the event that are in the set
// and reached without passing through another member of the set. Ordering
// by these gives the same partial order as ordering by all ancestors in
// the set. memo holds the answer for events outside the set.
func (s *stateRes) nearestBelow(id string, set map[string]bool, memo map[string][]string) []string {
	e := s.events[id]
	if e == nil {
		return nil
	}
	var out []string
	for _, a := range e.AuthEventIDs() {
		if set[a] {
			out = append(out, a)
			continue
		}
		found, ok := memo[a]
		if !ok {
			memo[a] = nil // an auth cycle ends here
			found = s.nearestBelow(a, set, memo)
			memo[a] = found
		}
		out = append(out, found...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// powerLess is the comparison of the reverse topological power ordering.
func (s *stateRes) powerLess(a, b string) bool {
	if pa, pb := s.senderPower(a), s.senderPower(b); pa != pb {
		return pa > pb
	}
	return s.tsThenID(a, b) < 0
}

func (s *stateRes) tsThenID(a, b string) int {
	if c := cmp.Compare(s.events[a].OriginServerTS(), s.events[b].OriginServerTS()); c != 0 {
		return c
	}
	return cmp.Compare(a, b)
}

// senderPower is the power level of the event's sender according to its
// own auth events. Room creators have unlimited power in versions with
// privileged creators; without a power levels event the creator has 100.
func (s *stateRes) senderPower(id string) int64 {
	if p, ok := s.power[id]; ok {
		return p
	}
	e := s.events[id]
	sender := string(e.SenderID())
	var levels, create gmsl.PDU
	for _, a := range e.AuthEventIDs() {
		switch ae := s.events[a]; {
		case ae == nil:
		case isState(ae, powerLevelsTuple):
			levels = ae
		case isState(ae, createTuple):
			create = ae
		}
	}
	var p int64
	switch {
	case s.creators[sender]:
		p = creatorPower
	case levels != nil:
		if content, err := gmsl.NewPowerLevelContentFromEvent(levels); err == nil {
			p = content.UserLevel(e.SenderID())
		}
	case create != nil && string(create.SenderID()) == sender:
		p = 100
	}
	s.power[id] = p
	return p
}

// mainlineOrder sorts the events by mainline position against the power
// levels event pl ("" for none), earliest position first, then by
// origin_server_ts and event id.
func (s *stateRes) mainlineOrder(ids []string, pl string) {
	mainline := map[string]int{}
	for i, p := 0, pl; p != ""; i, p = i+1, s.powerLevelsOf(p) {
		if _, loop := mainline[p]; loop {
			break
		}
		mainline[p] = i
	}
	memo := map[string]int{}
	var positionFrom func(p string) int
	positionFrom = func(p string) int {
		if p == "" {
			return noMainline
		}
		if i, ok := mainline[p]; ok {
			return i
		}
		if i, ok := memo[p]; ok {
			return i
		}
		memo[p] = noMainline // an auth cycle ends here
		i := positionFrom(s.powerLevelsOf(p))
		memo[p] = i
		return i
	}
	position := make(map[string]int, len(ids))
	for _, id := range ids {
		position[id] = positionFrom(s.powerLevelsOf(id))
	}
	slices.SortFunc(ids, func(a, b string) int {
		if c := cmp.Compare(position[b], position[a]); c != 0 {
			return c
		}
		return s.tsThenID(a, b)
	})
}

// powerLevelsOf returns the power levels event among the event's auth
// events, or "".
func (s *stateRes) powerLevelsOf(id string) string {
	e := s.events[id]
	if e == nil {
		return ""
	}
	for _, a := range e.AuthEventIDs() {
		if ae := s.events[a]; ae != nil && isState(ae, powerLevelsTuple) {
			return a
		}
	}
	return ""
}

// iterativeAuthChecks applies each event, in order, to the state if the
// auth rules allow it against the state.
func (s *stateRes) iterativeAuthChecks(state map[gmsl.StateKeyTuple]string, ids []string) {
	for _, id := range ids {
		e := s.events[id]
		if e == nil || e.StateKey() == nil {
			continue
		}
		if allowedAgainst(e, s.authStateFor(e, state)) == "" {
			state[gmsl.StateKeyTuple{EventType: e.Type(), StateKey: *e.StateKey()}] = id
		}
	}
}

// authStateFor returns the events the auth rules consult for the event:
// the state's entries for the types and keys the rules need, else the
// event's own auth events of those types and keys unless rejected. Room
// version 12 always consults the room's create event, which is in no
// auth_events (gomatrixserverlib's AuthEventIDs lists it for v12 events
// anyway; this does not depend on that).
func (s *stateRes) authStateFor(e gmsl.PDU, state map[gmsl.StateKeyTuple]string) []gmsl.PDU {
	byTuple := map[gmsl.StateKeyTuple]gmsl.PDU{}
	for _, a := range e.AuthEventIDs() {
		if ae := s.events[a]; ae != nil && ae.StateKey() != nil && !s.rejected[a] {
			byTuple[gmsl.StateKeyTuple{EventType: ae.Type(), StateKey: *ae.StateKey()}] = ae
		}
	}
	for _, t := range gmsl.StateNeededForAuth([]gmsl.PDU{e}).Tuples() {
		if id, ok := state[t]; ok && s.events[id] != nil {
			byTuple[t] = s.events[id]
		}
	}
	if s.version.DomainlessRoomIDs() {
		byTuple[createTuple] = s.create
	}
	out := make([]gmsl.PDU, 0, len(byTuple))
	for _, ae := range byTuple {
		out = append(out, ae)
	}
	return out
}

func isState(e gmsl.PDU, t gmsl.StateKeyTuple) bool {
	return e.Type() == t.EventType && e.StateKeyEquals(t.StateKey)
}

// eventHeap is a heap of event ids under a comparison.
type eventHeap struct {
	ids  []string
	less func(a, b string) bool
}

func (h *eventHeap) Len() int           { return len(h.ids) }
func (h *eventHeap) Less(i, j int) bool { return h.less(h.ids[i], h.ids[j]) }
func (h *eventHeap) Swap(i, j int)      { h.ids[i], h.ids[j] = h.ids[j], h.ids[i] }
func (h *eventHeap) Push(x any)         { h.ids = append(h.ids, x.(string)) }
func (h *eventHeap) Pop() any {
	last := h.ids[len(h.ids)-1]
	h.ids = h.ids[:len(h.ids)-1]
	return last
}
