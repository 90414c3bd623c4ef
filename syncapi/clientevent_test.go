package syncapi

import (
	"encoding/json"
	"testing"
)

// TestUnsignedJSON: the unsigned object written directly (no stored
// unsigned data, a plain membership) is byte for byte what encoding/json
// writes for the map of its keys, as it is with stored data kept.
func TestUnsignedJSON(t *testing.T) {
	viaMap := func(stored string, age int64, membership string) string {
		m := map[string]any{}
		if stored != "" {
			_ = json.Unmarshal([]byte(stored), &m)
		}
		m["age"] = age
		if membership != "" {
			m["membership"] = membership
		}
		out, _ := json.Marshal(m)
		return string(out)
	}
	for _, tc := range []struct {
		name, stored, membership string
		age                      int64
	}{
		{name: "NoStored", membership: "join", age: 12},
		{name: "NoMembership", age: 0},
		{name: "EmptyStored", stored: " {} ", membership: "leave", age: 3},
		{name: "Stored", stored: `{"zz":1,"aa":{"b":[1,2]}}`, membership: "invite", age: 99},
		{name: "StoredAge", stored: `{"age":5}`, membership: "join", age: 7},
		{name: "Malformed", stored: `[1]`, membership: "join", age: 7},
		{name: "Escaped", membership: `a"b<c>\d` + "\u00e9\x01", age: 1},
		{name: "Large", membership: "ban", age: 1 << 53},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := string(unsignedJSON([]byte(tc.stored), tc.age, tc.membership))
			if want := viaMap(tc.stored, tc.age, tc.membership); got != want {
				t.Errorf("got %s, want %s", got, want)
			}
		})
	}
}
