package syncapi

import "encoding/json"

// Response is the body of /sync.
type Response struct {
	NextBatch   string       `json:"next_batch"`
	AccountData *EventList   `json:"account_data,omitempty"`
	Rooms       *Rooms       `json:"rooms,omitempty"`
	ToDevice    *EventList   `json:"to_device,omitempty"`
	DeviceLists *DeviceLists `json:"device_lists,omitempty"`
	Presence    *EventList   `json:"presence,omitempty"`
	// Sent in every response: clients top their keys up from these.
	OneTimeKeysCount       map[string]int `json:"device_one_time_keys_count"`
	UnusedFallbackKeyTypes []string       `json:"device_unused_fallback_key_types"`
}

// DeviceLists names the users whose devices changed, and those the user
// no longer shares a room with.
type DeviceLists struct {
	Changed []string `json:"changed,omitempty"`
	Left    []string `json:"left,omitempty"`
}

// EventList is an object with a list of events.
type EventList struct {
	Events []any `json:"events"`
}

// Rooms is the rooms part of a /sync response.
type Rooms struct {
	Join   map[string]*JoinedRoom  `json:"join,omitempty"`
	Invite map[string]*InvitedRoom `json:"invite,omitempty"`
	Leave  map[string]*LeftRoom    `json:"leave,omitempty"`
	Knock  map[string]*KnockedRoom `json:"knock,omitempty"`
}

// KnockedRoom is a room the user knocked on.
type KnockedRoom struct {
	KnockState EventList `json:"knock_state"`
}

// JoinedRoom is a room the user is joined to.
type JoinedRoom struct {
	Summary     *Summary  `json:"summary,omitempty"`
	State       EventList `json:"state"`
	Timeline    Timeline  `json:"timeline"`
	AccountData EventList `json:"account_data"`
	Ephemeral   EventList `json:"ephemeral"`
	// Always sent: clients clear a room's badge when its counts drop to 0.
	UnreadNotifications UnreadCounts `json:"unread_notifications"`
	// Per thread root, only with the filter's unread_thread_notifications.
	UnreadThreadNotifications map[string]UnreadCounts `json:"unread_thread_notifications,omitempty"`
}

// Timeline is the timeline of a room in a /sync response.
type Timeline struct {
	Events    []ClientEvent `json:"events"`
	Limited   bool          `json:"limited"`
	PrevBatch string        `json:"prev_batch,omitempty"`
}

// Summary is a joined room's summary for clients to name the room.
type Summary struct {
	Heroes  []string `json:"m.heroes,omitempty"`
	Joined  *int     `json:"m.joined_member_count,omitempty"`
	Invited *int     `json:"m.invited_member_count,omitempty"`
}

// InvitedRoom is a room the user is invited to.
type InvitedRoom struct {
	InviteState EventList `json:"invite_state"`
}

// LeftRoom is a room the user left or was removed from.
type LeftRoom struct {
	State       EventList `json:"state"`
	Timeline    Timeline  `json:"timeline"`
	AccountData EventList `json:"account_data"`
}

// StrippedEvent is a state event reduced for invites.
type StrippedEvent struct {
	Content  json.RawMessage `json:"content"`
	Sender   string          `json:"sender"`
	StateKey string          `json:"state_key"`
	Type     string          `json:"type"`
}

// accountDataEvent is an account data event in /sync.
type accountDataEvent struct {
	Type    string          `json:"type"`
	Content json.RawMessage `json:"content"`
}

// empty reports whether the response carries nothing new.
func (r *Response) empty() bool {
	return r.AccountData == nil && r.Rooms == nil && r.ToDevice == nil && r.DeviceLists == nil && r.Presence == nil
}

func eventList[T any](events []T) EventList {
	out := EventList{Events: make([]any, len(events))}
	for i, e := range events {
		out.Events[i] = e
	}
	return out
}
