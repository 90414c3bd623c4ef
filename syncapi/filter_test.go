package syncapi

import (
	"encoding/json"
	"testing"
)

func TestFilter_Validate(t *testing.T) {
	tests := []struct {
		name, filter string
		ok           bool
	}{
		{"OK", `{"room":{"rooms":["!a:x"],"timeline":{"senders":["@a:x"],"not_rooms":["!b"],"limit":10}}}`, true},
		{"ErrRoomID", `{"room":{"timeline":{"rooms":["not_a_room_id"]}}}`, false},
		{"ErrTopRoomID", `{"room":{"not_rooms":["a:x"]}}`, false},
		{"ErrSenderID", `{"room":{"timeline":{"senders":["not_a_sender_id"]}}}`, false},
		{"ErrNotSenderID", `{"presence":{"not_senders":["@nocolon"]}}`, false},
		{"ErrLimit", `{"account_data":{"limit":-1}}`, false},
		{"ZeroLimit", `{"room":{"timeline":{"limit":0}}}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f Filter
			if err := json.Unmarshal([]byte(tt.filter), &f); err != nil {
				t.Fatal(err)
			}
			if err := f.Validate(); (err == nil) != tt.ok {
				t.Errorf("Validate(%s) = %v, want ok %v", tt.filter, err, tt.ok)
			}
		})
	}
}

func TestTypeMatches(t *testing.T) {
	tests := []struct {
		pattern, typ string
		want         bool
	}{
		{"m.room.message", "m.room.message", true},
		{"m.room.message", "m.room.messages", false},
		{"*", "anything", true},
		{"*", "", true},
		{"m.room.*", "m.room.member", true},
		{"m.room.*", "m.roomy", false},
		{"*.member", "m.room.member", true},
		{"*.member", "m.room.members", false},
		{"org.*.thing", "org.example.thing", true},
		{"org.*.thing", "org.thing", false},
		{"a*b*c", "abc", true},
		{"a*b*c", "axxbyyc", true},
		{"a*b*c", "acb", false},
		{"ab*ba", "aba", false},
		{"**", "x", true},
	}
	for _, tt := range tests {
		if got := typeMatches(tt.pattern, tt.typ); got != tt.want {
			t.Errorf("typeMatches(%q, %q) = %v, want %v", tt.pattern, tt.typ, got, tt.want)
		}
	}
}
