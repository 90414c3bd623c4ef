// Package syncapi streams what changes to clients: /sync, sliding sync and
// the notifier that wakes long-polls.
package syncapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	gmsl "github.com/matrix-org/gomatrixserverlib"
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
		errs = append(errs, validIDs("room.rooms", '!', f.Room.Rooms), validIDs("room.not_rooms", '!', &f.Room.NotRooms),
			f.Room.Ephemeral.validate("room.ephemeral"), f.Room.State.validate("room.state"),
			f.Room.Timeline.validate("room.timeline"), f.Room.AccountData.validate("room.account_data"))
	}
	return errors.Join(errs...)
}

func (f *EventFilter) validate(name string) error {
	if f == nil {
		return nil
	}
	if f.Limit != nil && *f.Limit < 0 {
		return fmt.Errorf("%s.limit must not be negative", name)
	}
	return errors.Join(validIDs(name+".senders", '@', f.Senders), validIDs(name+".not_senders", '@', &f.NotSenders))
}

func (f *RoomEventFilter) validate(name string) error {
	if f == nil {
		return nil
	}
	return errors.Join(f.EventFilter.validate(name),
		validIDs(name+".rooms", '!', f.Rooms), validIDs(name+".not_rooms", '!', &f.NotRooms))
}

// validIDs checks that every entry of a list of user or room ids starts
// with the id's sigil; user ids also name a server ("@alice:example.org"),
// room ids need not (room version 12 drops the server name).
func validIDs(name string, sigil byte, ids *[]string) error {
	if ids == nil {
		return nil
	}
	for _, id := range *ids {
		if len(id) < 2 || id[0] != sigil || (sigil == '@' && !strings.Contains(id, ":")) {
			return fmt.Errorf("%s must contain only ids that start with %q", name, sigil)
		}
	}
	return nil
}

// Allows reports whether the filter lets an event of the type from the
// sender through. A "*" in a type matches any sequence of characters. A
// nil filter allows everything.
func (f *EventFilter) Allows(typ, sender string) bool {
	if f == nil {
		return true
	}
	for _, nt := range f.NotTypes {
		if typeMatches(nt, typ) {
			return false
		}
	}
	if f.Types != nil && !anyMatches(*f.Types, typ) {
		return false
	}
	for _, ns := range f.NotSenders {
		if ns == sender {
			return false
		}
	}
	if f.Senders != nil {
		for _, s := range *f.Senders {
			if s == sender {
				return true
			}
		}
		return false
	}
	return true
}

// AllowsPDU reports whether the filter lets a room event through: its
// type, sender and room, and whether its content has a url when the
// filter's contains_url asks.
func (f *RoomEventFilter) AllowsPDU(ev gmsl.PDU) bool {
	if f == nil {
		return true
	}
	if (len(f.NotRooms) > 0 || f.Rooms != nil) && !f.AllowsRoom(ev.RoomID().String()) { // parsing the id costs
		return false
	}
	hasURL := f.ContainsURL != nil && contentHasURL(ev.Content())
	return f.AllowsEvent(ev.Type(), string(ev.SenderID()), hasURL)
}

// AllowsRoom applies the filter's rooms and not_rooms to events of a room.
func (f *RoomEventFilter) AllowsRoom(roomID string) bool {
	if f == nil {
		return true
	}
	if slices.Contains(f.NotRooms, roomID) {
		return false
	}
	return f.Rooms == nil || slices.Contains(*f.Rooms, roomID)
}

// AllowsSenderless applies the filter to data of a room that has no
// sender or content to judge: ephemeral events and room account data.
func (f *RoomEventFilter) AllowsSenderless(roomID, typ string) bool {
	return f == nil || (f.AllowsRoom(roomID) && f.EventFilter.Allows(typ, ""))
}

// contentHasURL reports whether event content has a url key.
func contentHasURL(content []byte) bool {
	var c struct {
		URL json.RawMessage `json:"url"`
	}
	return json.Unmarshal(content, &c) == nil && c.URL != nil
}

// AllowsEvent is Allows plus the room filters' contains_url.
func (f *RoomEventFilter) AllowsEvent(typ, sender string, hasURL bool) bool {
	if f == nil {
		return true
	}
	if f.ContainsURL != nil && *f.ContainsURL != hasURL {
		return false
	}
	return f.EventFilter.Allows(typ, sender)
}

func anyMatches(patterns []string, typ string) bool {
	for _, p := range patterns {
		if typeMatches(p, typ) {
			return true
		}
	}
	return false
}

// typeMatches matches an event type against a filter's pattern, in which
// each "*" stands for any sequence of characters.
func typeMatches(pattern, typ string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == typ
	}
	if !strings.HasPrefix(typ, parts[0]) {
		return false
	}
	typ = typ[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(typ, p)
		if i < 0 {
			return false
		}
		typ = typ[i+len(p):]
	}
	return len(typ) >= len(last) && strings.HasSuffix(typ, last)
}
