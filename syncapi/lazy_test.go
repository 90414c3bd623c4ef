package syncapi

import (
	"fmt"
	"testing"

	gmsl "github.com/matrix-org/gomatrixserverlib"
)

// mustMemberEvent builds a member event of the user; events with
// different depths have different ids.
func mustMemberEvent(t *testing.T, user string, depth int) gmsl.PDU {
	t.Helper()
	raw := fmt.Sprintf(`{"type":"m.room.member","state_key":%q,"sender":%q,"room_id":"!r:x",`+
		`"content":{"membership":"join"},"origin_server_ts":1,"depth":%d,"prev_events":[],`+
		`"auth_events":[],"hashes":{"sha256":"x"},"signatures":{}}`, user, user, depth)
	pdu, err := gmsl.MustGetRoomVersion(gmsl.RoomVersionV10).NewEventFromTrustedJSON([]byte(raw), false)
	if err != nil {
		t.Fatal(err)
	}
	return pdu
}

func TestLazySent_Delivered(t *testing.T) {
	dev := deviceRoom{user: "@bob:x", device: "D", room: "!r:x"}
	carol, carolRenamed := mustMemberEvent(t, "@carol:x", 1), mustMemberEvent(t, "@carol:x", 2)
	var l lazySent
	l.record(dev, 5, 9, []gmsl.PDU{carol})
	tests := []struct {
		name    string
		dev     deviceRoom
		eventID string
		since   int64
		want    bool
	}{
		{"OK", dev, carol.EventID(), 9, true},
		{"Later", dev, carol.EventID(), 12, true},
		{"Retry", dev, carol.EventID(), 5, false},
		{"Earlier", dev, carol.EventID(), 7, false},
		{"OtherEvent", dev, carolRenamed.EventID(), 12, false},
		{"OtherDevice", deviceRoom{user: "@bob:x", device: "E", room: "!r:x"}, carol.EventID(), 12, false},
		{"OtherRoom", deviceRoom{user: "@bob:x", device: "D", room: "!s:x"}, carol.EventID(), 12, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := l.delivered(tt.dev, "@carol:x", tt.eventID, tt.since); got != tt.want {
				t.Errorf("got delivered %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("Changed", func(t *testing.T) {
		if !l.changed(dev, "@carol:x", carolRenamed.EventID()) || l.changed(dev, "@carol:x", carol.EventID()) ||
			l.changed(dev, "@dave:x", carol.EventID()) {
			t.Error("changed: want true only for another event of a member sent before")
		}
	})
}
