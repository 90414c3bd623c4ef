package syncapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
)

// SlidingRequest is the body of a simplified sliding sync (MSC4186)
// request. Both the request shape shipping clients send (ranges as a list
// of pairs, required_state as [type, state_key] pairs) and the newer one of
// the MSC text (range, required_state.include) are accepted.
type SlidingRequest struct {
	ConnID            string                       `json:"conn_id"`
	Pos               string                       `json:"-"` // from the query string
	Timeout           int64                        `json:"timeout"`
	Lists             map[string]SlidingList       `json:"lists"`
	RoomSubscriptions map[string]SlidingRoomConfig `json:"room_subscriptions"`
	Extensions        map[string]json.RawMessage   `json:"extensions"`
	SetPresence       string                       `json:"set_presence"`
}

// SlidingRoomConfig says what to send of a room.
type SlidingRoomConfig struct {
	TimelineLimit int           `json:"timeline_limit"`
	RequiredState RequiredState `json:"required_state"`
}

// SlidingList is one list of the request.
type SlidingList struct {
	SlidingRoomConfig
	Ranges  [][2]int       `json:"-"`
	Filters *SlidingFilter `json:"filters"`
}

// SlidingFilter filters a list.
type SlidingFilter struct {
	IsDM         *bool     `json:"is_dm"`
	IsEncrypted  *bool     `json:"is_encrypted"`
	IsInvite     *bool     `json:"is_invite"`
	IsInvited    *bool     `json:"is_invited"`
	RoomTypes    []*string `json:"room_types"`
	NotRoomTypes []*string `json:"not_room_types"`
	Tags         []string  `json:"tags"`
	NotTags      []string  `json:"not_tags"`
	Spaces       []string  `json:"spaces"`
}

// invited is is_invited, or its older name is_invite.
func (f *SlidingFilter) invited() *bool {
	if f.IsInvited != nil {
		return f.IsInvited
	}
	return f.IsInvite
}

// UnmarshalJSON reads range or ranges.
func (l *SlidingList) UnmarshalJSON(data []byte) error {
	var raw struct {
		SlidingRoomConfig
		Range   *[2]int        `json:"range"`
		Ranges  [][2]int       `json:"ranges"`
		Filters *SlidingFilter `json:"filters"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	l.SlidingRoomConfig, l.Filters, l.Ranges = raw.SlidingRoomConfig, raw.Filters, raw.Ranges
	if raw.Range != nil {
		l.Ranges = append(l.Ranges, *raw.Range)
	}
	for _, r := range l.Ranges {
		if r[0] < 0 || r[1] < r[0] {
			return fmt.Errorf("bad range [%d, %d]", r[0], r[1])
		}
	}
	return nil
}

// RequiredState selects the state to send: entries of (type, state key)
// where "*" (or an absent field) matches anything, "$ME" is the user and
// "$LAZY" as the member state key asks for lazy-loaded members.
type RequiredState struct {
	Include     []StateMatch
	Exclude     []StateMatch
	LazyMembers bool
}

// StateMatch is one required state element; "" matches any.
type StateMatch struct {
	Type, StateKey string
}

// UnmarshalJSON reads [[type, key], ...] or {include, exclude, lazy_members}.
func (rs *RequiredState) UnmarshalJSON(data []byte) error {
	var pairs [][]string
	if err := json.Unmarshal(data, &pairs); err == nil {
		for _, p := range pairs {
			if len(p) != 2 {
				return errors.New("required_state entries must be [type, state_key]")
			}
			if p[0] == "m.room.member" && p[1] == "$LAZY" {
				rs.LazyMembers = true
				continue
			}
			rs.Include = append(rs.Include, StateMatch{Type: wildcard(p[0]), StateKey: wildcard(p[1])})
		}
		return nil
	}
	var obj struct {
		Include []struct {
			Type     string `json:"type"`
			StateKey string `json:"state_key"`
		} `json:"include"`
		Exclude []struct {
			Type     string `json:"type"`
			StateKey string `json:"state_key"`
		} `json:"exclude"`
		LazyMembers bool `json:"lazy_members"`
	}
	if err := json.Unmarshal(data, &obj); err != nil {
		return errors.New("required_state must be a list of pairs or an object")
	}
	for _, e := range obj.Include {
		rs.Include = append(rs.Include, StateMatch{Type: wildcard(e.Type), StateKey: wildcard(e.StateKey)})
	}
	for _, e := range obj.Exclude {
		rs.Exclude = append(rs.Exclude, StateMatch{Type: wildcard(e.Type), StateKey: wildcard(e.StateKey)})
	}
	rs.LazyMembers = obj.LazyMembers
	return nil
}

func wildcard(s string) string {
	if s == "*" {
		return ""
	}
	return s
}

// wants reports whether the state key (typ, key) is required, for user.
func (rs RequiredState) wants(typ, key, user string) bool {
	match := func(m StateMatch) bool {
		k := m.StateKey
		if k == "$ME" {
			k = user
		}
		return (m.Type == "" || m.Type == typ) && (k == "" || k == key)
	}
	for _, m := range rs.Exclude {
		if match(m) {
			return false
		}
	}
	for _, m := range rs.Include {
		if match(m) {
			return true
		}
	}
	return false
}

// combine merges another config into c: the larger timeline, the union of
// the state.
func (c *SlidingRoomConfig) combine(o SlidingRoomConfig) {
	c.TimelineLimit = max(c.TimelineLimit, o.TimelineLimit)
	c.RequiredState.Include = append(c.RequiredState.Include, o.RequiredState.Include...)
	c.RequiredState.Exclude = append(c.RequiredState.Exclude, o.RequiredState.Exclude...)
	c.RequiredState.LazyMembers = c.RequiredState.LazyMembers || o.RequiredState.LazyMembers
}

// Limits from the MSC.
const (
	maxSlidingLists         = 100
	maxSlidingSubscriptions = 100
	maxSlidingTimeline      = 100
)

// Validate checks the request's limits.
func (r *SlidingRequest) Validate() error {
	if len(r.Lists) > maxSlidingLists || len(r.RoomSubscriptions) > maxSlidingSubscriptions {
		return errors.New("too many lists or room subscriptions")
	}
	switch r.SetPresence {
	case "", "online", "offline", "unavailable":
	default:
		return errors.New("set_presence must be online, offline or unavailable")
	}
	return nil
}

// widens reports whether rs asks for state that the config sent before
// (its includes, as includes()) did not.
func (rs RequiredState) widens(before []string) bool {
	for _, m := range rs.includes() {
		if !slices.Contains(before, m) {
			return true
		}
	}
	return false
}

// includes lists the included state as sorted, unique text entries.
func (rs RequiredState) includes() []string {
	out := make([]string, 0, len(rs.Include)+1)
	for _, m := range rs.Include {
		out = append(out, m.Type+"\x00"+m.StateKey)
	}
	if rs.LazyMembers {
		out = append(out, "$LAZY")
	}
	slices.Sort(out)
	return slices.Compact(out)
}
