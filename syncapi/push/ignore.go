package push

import "encoding/json"

// IgnoredListType is the global account data type in which a user lists
// the users it ignores (the spec's "Ignoring Users" module). Events from
// those users never notify it.
const IgnoredListType = "m.ignored_user_list"

// ParseIgnoredList returns the users an m.ignored_user_list content lists;
// nil for content that is missing, malformed or empty, which ignores
// nobody.
func ParseIgnoredList(content json.RawMessage) map[string]bool {
	var list struct {
		IgnoredUsers map[string]json.RawMessage `json:"ignored_users"`
	}
	if len(content) == 0 || json.Unmarshal(content, &list) != nil || len(list.IgnoredUsers) == 0 {
		return nil
	}
	out := make(map[string]bool, len(list.IgnoredUsers))
	for u := range list.IgnoredUsers {
		out[u] = true
	}
	return out
}
