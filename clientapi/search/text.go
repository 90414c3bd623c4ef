package search

import (
	"encoding/json"
	"slices"
	"strings"
)

// Event types whose text is searchable, and the content key of each.
const (
	typeMessage = "m.room.message"
	typeName    = "m.room.name"
	typeTopic   = "m.room.topic"
)

// keyTypes maps the keys of a search request to the event types they
// search.
var keyTypes = map[string]string{
	"content.body":  typeMessage,
	"content.name":  typeName,
	"content.topic": typeTopic,
}

// Types returns the event types searched by the keys of a search request
// (every searchable type for none), and ok false if a key is unknown.
func Types(keys []string) (types []string, ok bool) {
	if len(keys) == 0 {
		return []string{typeMessage, typeName, typeTopic}, true
	}
	for _, k := range keys {
		t, known := keyTypes[k]
		if !known {
			return nil, false
		}
		if !slices.Contains(types, t) {
			types = append(types, t)
		}
	}
	return types, true
}

// Text returns the searchable text of an event's content: the body of a
// message, a room's name, a room's topic (content.topic and the text/plain
// representation in m.topic). It is "" for other events, and for fields of
// the wrong JSON type: content from other servers is not validated beyond
// the auth rules.
func Text(eventType string, content []byte) string {
	var c map[string]json.RawMessage
	if json.Unmarshal(content, &c) != nil {
		return ""
	}
	switch eventType {
	case typeMessage:
		return jsonString(c["body"])
	case typeName:
		return jsonString(c["name"])
	case typeTopic:
		return topicText(c)
	}
	return ""
}

func topicText(c map[string]json.RawMessage) string {
	text := jsonString(c["topic"])
	var rich struct {
		Text []struct {
			Mimetype string `json:"mimetype"`
			Body     string `json:"body"`
		} `json:"m.text"`
	}
	if json.Unmarshal(c["m.topic"], &rich) != nil {
		return text
	}
	for _, t := range rich.Text {
		if (t.Mimetype == "" || t.Mimetype == "text/plain") && t.Body != "" && !strings.Contains(text, t.Body) {
			text = strings.TrimSpace(text + "\n" + t.Body)
		}
	}
	return text
}

// jsonString is the string raw holds, or "".
func jsonString(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}
