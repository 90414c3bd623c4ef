package search_test

import (
	"slices"
	"testing"

	"github.com/ganglion/ganglion/clientapi/search"
)

func TestText(t *testing.T) {
	for _, tc := range []struct {
		name, typ, content, want string
	}{
		{"Message", "m.room.message", `{"msgtype":"m.text","body":"hello"}`, "hello"},
		{"Name", "m.room.name", `{"name":"Site 7"}`, "Site 7"},
		{"Topic", "m.room.topic", `{"topic":"Tiles"}`, "Tiles"},
		{"RichTopic", "m.room.topic", `{"topic":"Tiles","m.topic":{"m.text":[
			{"mimetype":"text/html","body":"<b>html</b>"},{"body":"Tiles and slates"}]}}`, "Tiles\nTiles and slates"},
		{"RichTopicSame", "m.room.topic", `{"topic":"Tiles","m.topic":{"m.text":[{"body":"Tiles"}]}}`, "Tiles"},
		{"RichTopicOnly", "m.room.topic", `{"m.topic":{"m.text":[{"mimetype":"text/plain","body":"Slates"}]}}`, "Slates"},
		{"WrongType", "m.room.message", `{"body":5}`, ""},
		{"WrongTopicBlock", "m.room.topic", `{"topic":"Tiles","m.topic":"x"}`, "Tiles"},
		{"NotJSON", "m.room.message", `nope`, ""},
		{"OtherType", "m.room.member", `{"body":"x","displayname":"Alice"}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := search.Text(tc.typ, []byte(tc.content)); got != tc.want {
				t.Errorf("Text(%s, %s): got %q, want %q", tc.typ, tc.content, got, tc.want)
			}
		})
	}
}

func TestTypes(t *testing.T) {
	all := []string{"m.room.message", "m.room.name", "m.room.topic"}
	for _, tc := range []struct {
		keys []string
		want []string
		ok   bool
	}{
		{nil, all, true},
		{[]string{"content.topic", "content.body", "content.topic"}, []string{"m.room.topic", "m.room.message"}, true},
		{[]string{"content.body", "content.url"}, nil, false},
	} {
		got, ok := search.Types(tc.keys)
		if ok != tc.ok || !slices.Equal(got, tc.want) {
			t.Errorf("Types(%q): got %q, %v, want %q, %v", tc.keys, got, ok, tc.want, tc.ok)
		}
	}
}
