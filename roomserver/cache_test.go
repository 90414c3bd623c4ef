package roomserver

import (
	"testing"

	gmsl "github.com/matrix-org/gomatrixserverlib"
)

// TestEventCache_Redaction: once an event's redaction drops it from the
// cache, an unredacted copy that a reader loaded before the redaction is
// not cached again; the redacted form is.
func TestEventCache_Redaction(t *testing.T) {
	v := gmsl.MustGetRoomVersion(gmsl.RoomVersionV10)
	raw := []byte(`{"type":"m.room.message","room_id":"!r:test.local","sender":"@a:test.local","content":{"body":"secret"},` +
		`"origin_server_ts":1,"depth":3,"prev_events":[],"auth_events":[],"hashes":{"sha256":"x"},"signatures":{}}`)
	parse := func(redacted bool) gmsl.PDU {
		t.Helper()
		pdu, err := v.NewEventFromTrustedJSONWithEventID("$e", raw, redacted)
		if err != nil {
			t.Fatal(err)
		}
		return pdu
	}
	c := newEventCache(10)
	c.put(1, parse(false))
	c.drop(1)
	c.put(1, parse(false)) // a reader that loaded the row before the redaction
	if _, ok := c.get(1); ok {
		t.Fatal("unredacted copy cached after the redaction: got it, want a miss")
	}
	c.put(1, parse(true))
	if e, ok := c.get(1); !ok || !e.Redacted() {
		t.Errorf("redacted copy: got %v (cached %v), want it cached", e, ok)
	}
	c.put(2, parse(false))
	if _, ok := c.get(2); !ok {
		t.Error("another event: got a miss, want it cached")
	}
}
