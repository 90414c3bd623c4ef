package main

import (
	"encoding/json"
	"reflect"
	"testing"
)

// TestSyncAnswer_DecodeAnswer: the bench's own decoding of /sync answers
// gets what json.Unmarshal gets from answers as the server writes them,
// and rejects what json.Unmarshal rejects.
func TestSyncAnswer_DecodeAnswer(t *testing.T) {
	for _, tc := range []struct{ name, data string }{
		{"Woken", `{"next_batch":"s9_0_0_0_0_0_1","rooms":{"join":{"!r:x":{"state":{"events":[]},"timeline":{"events":[` +
			`{"content":{"body":"bench1 3","msgtype":"m.text"},"event_id":"$e","origin_server_ts":1795561051067,` +
			`"sender":"@a:x","type":"m.room.message","unsigned":{"age":10,"membership":"join"}}],"limited":false,` +
			`"prev_batch":"m9"},"account_data":{"events":[]},"ephemeral":{"events":[]},` +
			`"unread_notifications":{"highlight_count":0,"notification_count":2}}}},` +
			`"device_one_time_keys_count":{"signed_curve25519":0},"device_unused_fallback_key_types":[]}`},
		{"Empty", `{"next_batch":"s1","device_one_time_keys_count":{},"device_unused_fallback_key_types":null}`},
		{"Nothing", `{}`},
		{"Null", `null`},
		{"Spaced", " {\n \"next_batch\" : \"s2\" , \"rooms\" : { \"join\" : { } } }\t"},
		{"Escapes", `{"next_batch":"s\u00e93","rooms":{"join":{"!\"r\\:x":{"timeline":{"limited":true,"events":[` +
			`{"type":"m.room.message","sender":"@\u0061:x","content":{"body":"line\nbreak \ud83d\ude00 \"q\"","x":[1,-2.5e3,true,null]}},` +
			`{"type":"m.room.member","content":null,"sender":null}]}}}}}`},
		{"Rooms", `{"rooms":{"invite":{"!i:x":{"invite_state":{"events":[{"a":[[[]]]}]}}},"join":{"!a:x":{"timeline":{"events":[]}},` +
			`"!b:x":{"timeline":{"events":[{"type":"t","sender":"s","content":{"body":"b"}}]}}},"leave":{}},"next_batch":"s3"}`},
		{"RepeatedKeys", `{"rooms":{"join":{"!a:x":{"timeline":{"events":[{"type":"a"}]}},"!a:x":{"timeline":{"events":[{"type":"b"}],"events":[]}}}}}`},
		{"NullParts", `{"rooms":{"join":{"!a:x":{"timeline":{"events":null,"limited":null}},"!b:x":null}}}`},
		{"NullJoin", `{"rooms":{"join":null}}`},
		{"Unicode", `{"next_batch":"s4","rooms":{"join":{"!a:x":{"timeline":{"events":[{"type":"t","sender":"s","content":{"body":"日本語"}}]}}}}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var want, got syncAnswer
			if err := json.Unmarshal([]byte(tc.data), &want); err != nil {
				t.Fatalf("json.Unmarshal: %v", err)
			}
			if err := got.decodeAnswer([]byte(tc.data)); err != nil {
				t.Fatalf("decodeAnswer: %v", err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got %+v, want %+v", got, want)
			}
		})
	}
	for _, tc := range []struct{ name, data string }{
		{"Empty", ``},
		{"Truncated", `{"next_batch":"s1","rooms":{"join":{`},
		{"TrailingComma", `{"next_batch":"s1",}`},
		{"NoColon", `{"next_batch" "s1"}`},
		{"Unterminated", `{"next_batch":"s1}`},
		{"Control", "{\"next_batch\":\"a\x01b\"}"},
		{"BadEscape", `{"next_batch":"\x"}`},
		{"BadNumber", `{"x":1.2.3}`},
		{"BadLiteral", `{"x":nul}`},
		{"After", `{} {}`},
		{"WrongType", `{"rooms":{"join":{"!a:x":{"timeline":{"events":{}}}}}}`},
		{"NotString", `{"next_batch":5}`},
	} {
		t.Run("Err"+tc.name, func(t *testing.T) {
			var want, got syncAnswer
			if err := json.Unmarshal([]byte(tc.data), &want); err == nil {
				t.Fatalf("json.Unmarshal accepts %s", tc.data)
			}
			if err := got.decodeAnswer([]byte(tc.data)); err == nil {
				t.Errorf("decodeAnswer accepts %s, want an error", tc.data)
			}
		})
	}
}

// BenchmarkSyncAnswer_Decode compares the bench's decoding of a woken
// long-poll's answer with json.Unmarshal's.
func BenchmarkSyncAnswer_Decode(b *testing.B) {
	data := []byte(`{"next_batch":"s9_0_0_0_0_0_1","rooms":{"join":{"!SQ70PNk4mELXSSR3YG:localhost":{"state":{"events":[]},` +
		`"timeline":{"events":[{"content":{"body":"bench1a2b3c4d 17","msgtype":"m.text"},` +
		`"event_id":"$BnnjqHQjaE5zjFrQ26P7K3R3M3pu_01F8uQhX48dMt4","origin_server_ts":1795561050947,` +
		`"sender":"@bench1a2b3c4d-0:localhost","type":"m.room.message","unsigned":{"age":9,"membership":"join"}}],` +
		`"limited":false,"prev_batch":"m8"},"account_data":{"events":[]},"ephemeral":{"events":[]},` +
		`"unread_notifications":{"highlight_count":0,"notification_count":1}}}},` +
		`"device_one_time_keys_count":{"signed_curve25519":0},"device_unused_fallback_key_types":[]}`)
	b.Run("Unmarshal", func(b *testing.B) {
		for b.Loop() {
			var a syncAnswer
			if err := json.Unmarshal(data, &a); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("DecodeAnswer", func(b *testing.B) {
		for b.Loop() {
			var a syncAnswer
			if err := a.decodeAnswer(data); err != nil {
				b.Fatal(err)
			}
		}
	})
}
