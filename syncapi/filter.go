// Package syncapi streams what changes to clients: /sync, sliding sync and
// the notifier that wakes long-polls.
package syncapi

import (
	"errors"
	"fmt"
)

// Filter is a client's filter for /sync and /messages, as in the spec's
// "Filtering" section. Lists are pointers where absence ("no restriction")
// differs from an empty list ("nothing").
type Filter struct {
	EventFields []string     `json:"event_fields,omitempty"`
	EventFormat string       `json:"event_format,omitempty"`
	Presence    *EventFilter `json:"presence,omitempty"`
	AccountData *EventFilter `json:"account_data,omitempty"`
	Room        *RoomFilter  `json:"room,omitempty"`
}

// EventFilter selects events by type and sender.
type EventFilter struct {
	Limit      *int      `json:"limit,omitempty"`
	Types      *[]string `json:"types,omitempty"`
	NotTypes   []string  `json:"not_types,omitempty"`
	Senders    *[]string `json:"senders,omitempty"`
	NotSenders []string  `json:"not_senders,omitempty"`
}

// RoomEventFilter is an EventFilter for room events.
type RoomEventFilter struct {
	EventFilter
	Rooms                     *[]string `json:"rooms,omitempty"`
	NotRooms                  []string  `json:"not_rooms,omitempty"`
	ContainsURL               *bool     `json:"contains_url,omitempty"`
	LazyLoadMembers           bool      `json:"lazy_load_members,omitempty"`
	IncludeRedundantMembers   bool      `json:"include_redundant_members,omitempty"`
	UnreadThreadNotifications bool      `json:"unread_thread_notifications,omitempty"`
}

// RoomFilter selects the room data of a sync.
type RoomFilter struct {
	Rooms        *[]string        `json:"rooms,omitempty"`
	NotRooms     []string         `json:"not_rooms,omitempty"`
	IncludeLeave bool             `json:"include_leave,omitempty"`
	Ephemeral    *RoomEventFilter `json:"ephemeral,omitempty"`
	State        *RoomEventFilter `json:"state,omitempty"`
	Timeline     *RoomEventFilter `json:"timeline,omitempty"`
	AccountData  *RoomEventFilter `json:"account_data,omitempty"`
}

// Validate reports every value that the spec does not allow.
func (f *Filter) Validate() error {
	var errs []error
	if f.EventFormat != "" && f.EventFormat != "client" && f.EventFormat != "federation" {
		errs = append(errs, errors.New("event_format must be client or federation"))
	}
	for _, field := range f.EventFields {
		if field == "" {
			errs = append(errs, errors.New("event_fields must not contain empty strings"))
			break
		}
	}
	errs = append(errs, f.Presence.validate("presence"), f.AccountData.validate("account_data"))
	if f.Room != nil {
		errs = append(errs,
			f.Room.Ephemeral.validate("room.ephemeral"), f.Room.State.validate("room.state"),
			f.Room.Timeline.validate("room.timeline"), f.Room.AccountData.validate("room.account_data"))
	}
	return errors.Join(errs...)
}

func (f *EventFilter) validate(name string) error {
	if f != nil && f.Limit != nil && *f.Limit < 1 {
		return fmt.Errorf("%s.limit must be a positive integer", name)
	}
	return nil
}

func (f *RoomEventFilter) validate(name string) error {
	if f == nil {
		return nil
	}
	return f.EventFilter.validate(name)
}
