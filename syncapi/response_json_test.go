package syncapi

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
)

// TestResponse_AppendJSON: a response appends what encoding/json makes of
// it, but for raw values going in as they are: with those HTML-escaped
// (what encoding/json does to them), the bytes are json.Marshal's.
func TestResponse_AppendJSON(t *testing.T) {
	odd := "q\"b\\s/<>&\x00\x1f\t\n\r\b\f\u2028\u2029é😀\xff\xc3end"
	str := func(s string) *string { return &s }
	num := func(n int) *int { return &n }
	raw := json.RawMessage(`{"body":"a <b> & \"c\"","n":[1,2.5,null,true],"o":{}}`)
	ev := func(id string) ClientEvent {
		return ClientEvent{Content: raw, EventID: id, OriginServerTS: 1700000000000, Sender: "@a:x" + odd, Type: "m.room.message"}
	}
	state := ev("$state")
	state.StateKey, state.Unsigned, state.RoomID = str(""), json.RawMessage(`{"age":5}`), "!r:x"
	redaction := ev("$redaction")
	redaction.Redacts, redaction.Content = "$target", nil
	full := &Response{
		NextBatch:   "s1_2_3" + odd,
		AccountData: &EventList{Events: []any{accountDataEvent{Type: "m.push_rules", Content: raw}}},
		Rooms: &Rooms{
			Join: map[string]*JoinedRoom{
				"!b:x": {
					Summary: &Summary{Heroes: []string{"@h:x", odd}, Joined: num(3), Invited: num(0)},
					State:   EventList{Events: []any{state}},
					Timeline: Timeline{Events: []ClientEvent{ev("$1"), redaction}, Limited: true,
						PrevBatch: "m12"},
					AccountData:         EventList{Events: []any{}},
					Ephemeral:           EventList{Events: []any{map[string]any{"type": "m.typing", "content": map[string]any{"user_ids": []string{odd}}}}},
					UnreadNotifications: UnreadCounts{Highlight: 1, Notification: 2},
					UnreadThreadNotifications: map[string]UnreadCounts{"$t2": {Notification: 1},
						"$t1" + odd: {Highlight: 3, Notification: 4}},
				},
				"!a" + odd: {Summary: &Summary{}, Timeline: Timeline{Events: []ClientEvent{}}},
			},
			Invite: map[string]*InvitedRoom{"!i:x": {InviteState: EventList{Events: []any{
				StrippedEvent{Content: raw, Sender: "@s:x", StateKey: "", Type: "m.room.name"}}}}},
			Leave: map[string]*LeftRoom{"!l:x": {State: EventList{Events: []any{}}, Timeline: Timeline{Events: []ClientEvent{ev("$l")}}}},
			Knock: map[string]*KnockedRoom{"!k:x": {KnockState: EventList{Events: []any{
				StrippedEvent{Content: raw, Sender: "@s:x", StateKey: "@s:x", Type: "m.room.member"}}}}},
		},
		ToDevice:    &EventList{Events: []any{map[string]any{"sender": "@t:x", "type": "m.x", "content": map[string]any{"k": odd}}}},
		DeviceLists: &DeviceLists{Changed: []string{"@c:x"}, Left: []string{odd}},
		Presence: &EventList{Events: []any{presenceEvent{Type: "m.presence", Sender: "@p:x",
			Content: PresenceContent{Presence: "online", StatusMsg: str(odd)}}}},
		OneTimeKeysCount:       map[string]int{"signed_curve25519": 50, "curve25519": 0},
		UnusedFallbackKeyTypes: []string{"signed_curve25519"},
	}
	cases := map[string]*Response{
		"empty":       {NextBatch: "s0"},
		"empty lists": {NextBatch: "s0", OneTimeKeysCount: map[string]int{}, UnusedFallbackKeyTypes: []string{}, DeviceLists: &DeviceLists{}, Rooms: &Rooms{Join: map[string]*JoinedRoom{}}},
		"full":        full,
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 50 { // strings of random bytes and runes
		var b []byte
		for range rng.IntN(40) {
			switch rng.IntN(3) {
			case 0:
				b = append(b, byte(rng.IntN(256)))
			case 1:
				b = append(b, byte(rng.IntN(128)))
			default:
				b = append(b, string(rune(rng.IntN(0x10ffff)))...)
			}
		}
		s := string(b)
		cases["random "+string(rune('a'+i%26))+string(rune('a'+i/26))] = &Response{NextBatch: s,
			DeviceLists: &DeviceLists{Changed: []string{s}}, OneTimeKeysCount: map[string]int{s: i}}
	}
	for name, resp := range cases {
		got, err := resp.AppendJSON([]byte("prefix"))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !bytes.HasPrefix(got, []byte("prefix")) {
			t.Fatalf("%s: the bytes before were not kept", name)
		}
		var escaped bytes.Buffer
		json.HTMLEscape(&escaped, got[len("prefix"):])
		want, err := json.Marshal(resp)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(escaped.Bytes(), want) {
			t.Errorf("%s:\ngot  %s\nwant %s", name, escaped.Bytes(), want)
		}
	}
}
