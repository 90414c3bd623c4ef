package roomserver_test

import (
	"context"
	"testing"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/ganglion/ganglion/roomserver"
	"github.com/ganglion/ganglion/storage"
	"github.com/ganglion/ganglion/storage/storagetest"
)

// TestInput_AuthDifference runs resolutions whose result depends on the
// auth difference through Input and the database, where only part of the
// states is loaded: the state before a merge event must hold the events
// the in-memory resolution of TestResolveStates_AuthDifference picks.
func TestInput_AuthDifference(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		t.Run("OneBranch", func(t *testing.T) {
			eachVersion(t, []string{"10", "12"}, func(t *testing.T, g *graph) {
				eveBranch(g)
				g.add("merge", remoteAlice, "m.room.message", nil, map[string]any{"body": "merge"}, "eve-leave", "topic0")
				rs, _ := newRoomserver(t, db, "10")
				mustInputAccepted(t, rs, g, "create", "admin", "pl", "rules", "alice", "pl-eve", "invite", "topic0",
					"eve-join", "eve-topic", "eve-leave", "merge")
				wantStateAt(t, rs, g, "merge", map[string]string{spec.MRoomTopic: "eve-topic"})
			})
		})
		t.Run("CitedByUnconflicted", func(t *testing.T) {
			want := map[string]string{"10": "topic-new", "12": "topic-old"}
			eachVersion(t, []string{"10", "12"}, func(t *testing.T, g *graph) {
				sharedCiter(g)
				g.add("merge-old", remoteAlice, "m.room.message", nil, map[string]any{"body": "old"}, "topic-old", "custom")
				g.add("merge", remoteAlice, "m.room.message", nil, map[string]any{"body": "all"}, "topic-new", "merge-old")
				rs, _ := newRoomserver(t, db, "10")
				mustInputAccepted(t, rs, g, "create", "admin", "pl", "rules", "alice", "pl2", "custom", "topic-new",
					"topic-old", "merge-old", "merge")
				wantStateAt(t, rs, g, "merge-old", map[string]string{spec.MRoomTopic: "topic-old", spec.MRoomPowerLevels: "pl2"})
				wantStateAt(t, rs, g, "merge", map[string]string{
					spec.MRoomTopic: want[string(g.version.Version())], spec.MRoomPowerLevels: "pl2",
				})
			})
		})
	})
}

func mustInputAccepted(t *testing.T, rs *roomserver.Roomserver, g *graph, names ...string) {
	t.Helper()
	res := mustInput(t, rs, g.roomID, g.pdus(names...))
	for i, r := range res {
		if r.Status != storage.StatusAccepted {
			t.Fatalf("%s: got status %d (%s), want accepted", names[i], r.Status, r.Reason)
		}
	}
}

// wantStateAt checks the state at the named event: the entries with empty
// state keys of the types, by event name.
func wantStateAt(t *testing.T, rs *roomserver.Roomserver, g *graph, at string, want map[string]string) {
	t.Helper()
	state, err := rs.StateAt(context.Background(), g.byName[at].EventID())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range state {
		if e.StateKeyEquals("") {
			got[e.Type()] = g.nameOf(e.EventID())
		}
	}
	for typ, name := range want {
		if got[typ] != name {
			t.Errorf("state at %s, %s: got %s, want %s", at, typ, got[typ], name)
		}
	}
}
