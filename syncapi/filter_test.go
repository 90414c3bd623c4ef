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
