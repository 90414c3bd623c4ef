package syncapi

import (
	"testing"

	"github.com/ganglion/ganglion/roomserver"
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
		active, known := n.activeRooms(rooms, tc.since, tc.to)
		got := "unknown"
		if known {
			got = ""
			for _, r := range rooms {
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
