package roomserver

import (
	"crypto/ed25519"
	"fmt"
	"testing"
	"time"

	gmsl "github.com/matrix-org/gomatrixserverlib"
	"github.com/matrix-org/gomatrixserverlib/spec"
)

// TestBuildFast: every event buildFast builds is byte for byte the one
// gomatrixserverlib builds, event id included, in every room version; what
// it does not build it says so.
func TestBuildFast(t *testing.T) {
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.UnixMilli(1_700_000_123_456)
	contents := []string{
		`{"msgtype":"m.text","body":"hello"}`,
		`{ "body" : "quotes \" and \\ and \n and \u0001 and \u00e9 and é and \u2028 and <&> and 😀",
		   "msgtype":"m.text", "z":[1, -2, 3.0, true, null, {"b":1,"a":[]}], "a":{} }`,
		`{"m.relates_to":{"rel_type":"m.thread","event_id":"$root"},"body":"in a thread"}`,
		`{"big":9007199254740993}`, // outside canonical JSON's range from room version 6
		`{"n":1e3,"f":0.5}`,
		`{}`,
	}
	types := []string{"m.room.message", "m.reaction", "org.example.ü", `bad"type`, "m.room.member", "m.room.redaction"}
	stateKey := ""
	var built, skipped int
	for version, rv := range gmsl.RoomVersions() {
		for _, typ := range types {
			for i, content := range contents {
				for _, state := range []bool{false, true} {
					name := fmt.Sprintf("v%s/%s/%d/state=%v", version, typ, i, state)
					proto := gmsl.ProtoEvent{SenderID: "@alice:example.org", RoomID: "!room:example.org", Type: typ,
						Content: spec.RawJSON(content), Depth: int64(10 + i), PrevEvents: []string{"$prev1", "$prev2"}[:1+i%2]}
					if state {
						proto.StateKey = &stateKey
					}
					eb := rv.NewEventBuilderFromProtoEvent(&proto)
					eb.AuthEvents = []string{"$create", "$power", "$member"}[:1+i%3]
					if rv.EventFormat() == gmsl.EventFormatV1 {
						eb.PrevEvents, eb.AuthEvents = nil, nil
					}
					fast, ok, fastErr := buildFast(eb, rv, now, "example.org", "ed25519:k1", key)
					slow, slowErr := eb.Build(now, "example.org", "ed25519:k1", key)
					if !ok {
						skipped++
						if state && fastErr == nil && fast != nil {
							t.Errorf("%s: a state event was built fast", name)
						}
						continue
					}
					built++
					if (fastErr != nil) != (slowErr != nil) {
						t.Errorf("%s: fast error %v, gomatrixserverlib error %v", name, fastErr, slowErr)
						continue
					}
					if fastErr != nil {
						continue
					}
					if string(fast.JSON()) != string(slow.JSON()) || fast.EventID() != slow.EventID() {
						t.Errorf("%s:\nfast %s %s\nslow %s %s", name, fast.EventID(), fast.JSON(), slow.EventID(), slow.JSON())
					}
				}
			}
		}
	}
	if built == 0 || skipped == 0 {
		t.Fatalf("built %d events fast and skipped %d: want both", built, skipped)
	}
	for _, v := range []gmsl.RoomVersion{"3", "10", "11", "12"} {
		if !fastRedactionOf(gmsl.MustGetRoomVersion(v)).ok {
			t.Errorf("room version %s: messages are not built fast", v)
		}
	}
}
