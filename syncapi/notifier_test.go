package syncapi

import (
	"testing"
	"time"

	"github.com/ganglion/ganglion/roomserver"
	"github.com/ganglion/ganglion/storage"
)

// TestNotifier_ActiveRooms: the rooms with an event told in a range, known
// only for ranges from the Notifier's start on and up to each room's
// newest event.
func TestNotifier_ActiveRooms(t *testing.T) {
	n := &Notifier{serverName: "test.local", members: map[string]map[string]struct{}{},
		waiters: map[string]chan struct{}{}, roomPos: map[string]int64{}, start: 10, pos: 10}
	for _, o := range []roomserver.Output{{RoomID: "!a", StreamPos: 11}, {RoomID: "!b", StreamPos: 12}, {RoomID: "!a", StreamPos: 14}} {
		n.OnOutput(t.Context(), o)
	}
	rooms := []string{"!a", "!b", "!quiet"}
	var memberships []storage.UserMembership
	for _, r := range append(rooms, "!left") { // a room left is never active
		m := storage.UserMembership{RoomID: r}
		m.Membership.Membership = "join"
		if r == "!left" {
			m.Membership.Membership = "leave"
		}
		memberships = append(memberships, m)
	}
	n.OnOutput(t.Context(), roomserver.Output{RoomID: "!left", StreamPos: 13})
	for _, tc := range []struct {
		since, to int64
		want      string // "unknown" or the active rooms
	}{
		{9, 14, "unknown"},  // since before the start: events before it are not known
		{10, 13, "unknown"}, // !a's newest is after to: it may or may not have one in range
		{10, 14, "!a !b "},
		{12, 14, "!a "},
		{14, 20, ""},
	} {
		active, known := n.activeRooms(memberships, tc.since, tc.to)
		got := "unknown"
		if known {
			got = ""
			for _, r := range append(rooms, "!left") {
				if active[r] {
					got += r + " "
				}
			}
		}
		if got != tc.want {
			t.Errorf("(%d, %d]: got %q, want %q", tc.since, tc.to, got, tc.want)
		}
	}
}

// TestNotifier_DeferredWakes: after DeferWakes, a room event wakes the
// room's members and a membership change's target once Evaluated reaches
// its position (a member who left since is woken by the leave's wake), at once if it already has, and after maxWakeDelay if it
// never does; what a request sees (the position) is not delayed.
func TestNotifier_DeferredWakes(t *testing.T) {
	n := &Notifier{serverName: "test.local", members: map[string]map[string]struct{}{
		"!a": {"@ann:test.local": {}, "@bob:test.local": {}},
	}, waiters: map[string]chan struct{}{}, roomPos: map[string]int64{}, start: 10, pos: 10, maxWakeDelay: time.Hour}
	n.DeferWakes()
	woken := func(ch <-chan struct{}) bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
	ann, bob := n.listen("@ann:test.local"), n.listen("@bob:test.local")
	bob2 := "@bob:test.local"
	n.OnOutput(t.Context(), roomserver.Output{RoomID: "!a", StreamPos: 11})
	leave := "leave"
	n.OnOutput(t.Context(), roomserver.Output{RoomID: "!a", StreamPos: 12, Type: "m.room.member", StateKey: &bob2, Membership: leave})
	if got := n.eventsPos(); got != 12 {
		t.Errorf("position before evaluation: got %d, want 12", got)
	}
	if woken(ann) || woken(bob) {
		t.Fatal("woken before the evaluation")
	}
	n.Evaluated(11)
	if !woken(ann) {
		t.Fatal("a member not woken once the event is evaluated")
	}
	if woken(bob) { // no longer a member: the wake for the leave covers it
		t.Fatal("the leave woke its target before its evaluation")
	}
	n.Evaluated(12)
	if !woken(bob) {
		t.Fatal("the leave did not wake its target once evaluated")
	}
	if len(n.pending) != 0 || n.flush != nil {
		t.Errorf("after every evaluation: %d pending, flush timer %v", len(n.pending), n.flush != nil)
	}

	// A burst: two events of the room, then a user's membership elsewhere.
	ann = n.listen("@ann:test.local")
	cat := "@cat:test.local"
	catCh := n.listen(cat)
	n.OnOutput(t.Context(), roomserver.Output{RoomID: "!a", StreamPos: 13})
	n.OnOutput(t.Context(), roomserver.Output{RoomID: "!a", StreamPos: 14})
	n.OnOutput(t.Context(), roomserver.Output{RoomID: "!b", StreamPos: 15, Type: "m.room.member", StateKey: &cat,
		Membership: "join"})
	n.Evaluated(15)
	if !woken(ann) || !woken(catCh) {
		t.Fatalf("after a burst: member woken %v, joiner woken %v; want both", woken(ann), woken(catCh))
	}

	ann = n.listen("@ann:test.local")
	n.OnOutput(t.Context(), roomserver.Output{RoomID: "!a", StreamPos: 12}) // already evaluated
	if !woken(ann) {
		t.Fatal("an evaluated position did not wake at once")
	}

	n.maxWakeDelay = time.Millisecond
	ann = n.listen("@ann:test.local")
	n.OnOutput(t.Context(), roomserver.Output{RoomID: "!a", StreamPos: 16})
	select {
	case <-ann:
	case <-time.After(10 * time.Second):
		t.Fatal("a wake whose evaluation never comes did not happen after maxWakeDelay")
	}
}
