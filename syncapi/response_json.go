package syncapi

import (
	"encoding/json"
	"slices"
	"strconv"
	"unicode/utf8"
)

// AppendJSON appends the response's JSON to b: what encoding/json makes
// of it, but for raw JSON values (event contents, unsigned data, stored
// account data), which go in as they are instead of compacted and
// HTML-escaped. /sync answers are most of what a server writes; this
// writes them without reflection, key sorting or intermediate copies.
func (r *Response) AppendJSON(b []byte) ([]byte, error) {
	var err error
	b = appendKey(append(b, '{'), "next_batch", true)
	b = appendString(b, r.NextBatch)
	if r.AccountData != nil {
		if b, err = r.AccountData.appendJSON(appendKey(b, "account_data", false)); err != nil {
			return nil, err
		}
	}
	if r.Rooms != nil {
		if b, err = r.Rooms.appendJSON(appendKey(b, "rooms", false)); err != nil {
			return nil, err
		}
	}
	if r.ToDevice != nil {
		if b, err = r.ToDevice.appendJSON(appendKey(b, "to_device", false)); err != nil {
			return nil, err
		}
	}
	if d := r.DeviceLists; d != nil {
		b = append(appendKey(b, "device_lists", false), '{')
		first := true
		if len(d.Changed) > 0 {
			b = appendStrings(appendKey(b, "changed", first), d.Changed)
			first = false
		}
		if len(d.Left) > 0 {
			b = appendStrings(appendKey(b, "left", first), d.Left)
		}
		b = append(b, '}')
	}
	if r.Presence != nil {
		if b, err = r.Presence.appendJSON(appendKey(b, "presence", false)); err != nil {
			return nil, err
		}
	}
	b = appendKey(b, "device_one_time_keys_count", false)
	if r.OneTimeKeysCount == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '{')
		for i, k := range sortedKeys(r.OneTimeKeysCount) {
			b = strconv.AppendInt(appendKey(b, k, i == 0), int64(r.OneTimeKeysCount[k]), 10)
		}
		b = append(b, '}')
	}
	b = appendStrings(appendKey(b, "device_unused_fallback_key_types", false), r.UnusedFallbackKeyTypes)
	return append(b, '}'), nil
}

func (rs *Rooms) appendJSON(b []byte) ([]byte, error) {
	b = append(b, '{')
	first := true
	var err error
	if b, err = appendRooms(b, "join", rs.Join, &first); err != nil {
		return nil, err
	}
	if b, err = appendRooms(b, "invite", rs.Invite, &first); err != nil {
		return nil, err
	}
	if b, err = appendRooms(b, "leave", rs.Leave, &first); err != nil {
		return nil, err
	}
	if b, err = appendRooms(b, "knock", rs.Knock, &first); err != nil {
		return nil, err
	}
	return append(b, '}'), nil
}

// appendJSONer is a part of a response that appends its own JSON.
type appendJSONer interface {
	appendJSON(b []byte) ([]byte, error)
}

// appendRooms appends one section of rooms by id, left out if empty (the
// omitempty of Rooms).
func appendRooms[R appendJSONer](b []byte, key string, rooms map[string]R, first *bool) ([]byte, error) {
	if len(rooms) == 0 {
		return b, nil
	}
	b = append(appendKey(b, key, *first), '{')
	*first = false
	for i, id := range sortedKeys(rooms) {
		var err error
		if b, err = rooms[id].appendJSON(appendKey(b, id, i == 0)); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

func (jr *JoinedRoom) appendJSON(b []byte) ([]byte, error) {
	b = append(b, '{')
	first := true
	if s := jr.Summary; s != nil {
		b = append(appendKey(b, "summary", true), '{')
		first = false
		sf := true
		if len(s.Heroes) > 0 {
			b = appendStrings(appendKey(b, "m.heroes", sf), s.Heroes)
			sf = false
		}
		if s.Joined != nil {
			b = strconv.AppendInt(appendKey(b, "m.joined_member_count", sf), int64(*s.Joined), 10)
			sf = false
		}
		if s.Invited != nil {
			b = strconv.AppendInt(appendKey(b, "m.invited_member_count", sf), int64(*s.Invited), 10)
		}
		b = append(b, '}')
	}
	var err error
	if b, err = jr.State.appendJSON(appendKey(b, "state", first)); err != nil {
		return nil, err
	}
	b = jr.Timeline.appendJSON(appendKey(b, "timeline", false))
	if b, err = jr.AccountData.appendJSON(appendKey(b, "account_data", false)); err != nil {
		return nil, err
	}
	if b, err = jr.Ephemeral.appendJSON(appendKey(b, "ephemeral", false)); err != nil {
		return nil, err
	}
	b = jr.UnreadNotifications.appendJSON(appendKey(b, "unread_notifications", false))
	if len(jr.UnreadThreadNotifications) > 0 {
		b = append(appendKey(b, "unread_thread_notifications", false), '{')
		for i, thread := range sortedKeys(jr.UnreadThreadNotifications) {
			b = jr.UnreadThreadNotifications[thread].appendJSON(appendKey(b, thread, i == 0))
		}
		b = append(b, '}')
	}
	return append(b, '}'), nil
}

func (c UnreadCounts) appendJSON(b []byte) []byte {
	b = strconv.AppendInt(appendKey(append(b, '{'), "highlight_count", true), c.Highlight, 10)
	b = strconv.AppendInt(appendKey(b, "notification_count", false), c.Notification, 10)
	return append(b, '}')
}

func (ir *InvitedRoom) appendJSON(b []byte) ([]byte, error) {
	b, err := ir.InviteState.appendJSON(appendKey(append(b, '{'), "invite_state", true))
	return append(b, '}'), err
}

func (kr *KnockedRoom) appendJSON(b []byte) ([]byte, error) {
	b, err := kr.KnockState.appendJSON(appendKey(append(b, '{'), "knock_state", true))
	return append(b, '}'), err
}

func (lr *LeftRoom) appendJSON(b []byte) ([]byte, error) {
	b, err := lr.State.appendJSON(appendKey(append(b, '{'), "state", true))
	if err != nil {
		return nil, err
	}
	b = lr.Timeline.appendJSON(appendKey(b, "timeline", false))
	if b, err = lr.AccountData.appendJSON(appendKey(b, "account_data", false)); err != nil {
		return nil, err
	}
	return append(b, '}'), nil
}

func (t *Timeline) appendJSON(b []byte) []byte {
	b = appendKey(append(b, '{'), "events", true)
	if t.Events == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range t.Events {
			if i > 0 {
				b = append(b, ',')
			}
			b = t.Events[i].appendJSON(b)
		}
		b = append(b, ']')
	}
	b = strconv.AppendBool(appendKey(b, "limited", false), t.Limited)
	if t.PrevBatch != "" {
		b = appendString(appendKey(b, "prev_batch", false), t.PrevBatch)
	}
	return append(b, '}')
}

func (l *EventList) appendJSON(b []byte) ([]byte, error) {
	b = appendKey(append(b, '{'), "events", true)
	if l.Events == nil {
		return append(b, "null}"...), nil
	}
	b = append(b, '[')
	for i, ev := range l.Events {
		if i > 0 {
			b = append(b, ',')
		}
		switch ev := ev.(type) {
		case ClientEvent:
			b = ev.appendJSON(b)
		case accountDataEvent:
			b = appendString(appendKey(append(b, '{'), "type", true), ev.Type)
			b = append(appendRaw(appendKey(b, "content", false), ev.Content), '}')
		case StrippedEvent:
			b = appendRaw(appendKey(append(b, '{'), "content", true), ev.Content)
			b = appendString(appendKey(b, "sender", false), ev.Sender)
			b = appendString(appendKey(b, "state_key", false), ev.StateKey)
			b = append(appendString(appendKey(b, "type", false), ev.Type), '}')
		default:
			data, err := json.Marshal(ev)
			if err != nil {
				return nil, err
			}
			b = append(b, data...)
		}
	}
	return append(b, "]}"...), nil
}

func (e *ClientEvent) appendJSON(b []byte) []byte {
	b = appendRaw(appendKey(append(b, '{'), "content", true), e.Content)
	b = appendString(appendKey(b, "event_id", false), e.EventID)
	b = strconv.AppendInt(appendKey(b, "origin_server_ts", false), e.OriginServerTS, 10)
	if e.RoomID != "" {
		b = appendString(appendKey(b, "room_id", false), e.RoomID)
	}
	b = appendString(appendKey(b, "sender", false), e.Sender)
	if e.StateKey != nil {
		b = appendString(appendKey(b, "state_key", false), *e.StateKey)
	}
	b = appendString(appendKey(b, "type", false), e.Type)
	if e.Redacts != "" {
		b = appendString(appendKey(b, "redacts", false), e.Redacts)
	}
	if len(e.Unsigned) > 0 {
		b = appendRaw(appendKey(b, "unsigned", false), e.Unsigned)
	}
	return append(b, '}')
}

// appendKey appends an object key and its colon, after a comma unless it
// is the object's first.
func appendKey(b []byte, key string, first bool) []byte {
	if !first {
		b = append(b, ',')
	}
	return append(appendString(b, key), ':')
}

// appendRaw appends a raw JSON value, null if there is none.
func appendRaw(b []byte, raw json.RawMessage) []byte {
	if len(raw) == 0 {
		return append(b, "null"...)
	}
	return append(b, raw...)
}

// appendStrings appends a list of strings, null for a nil one.
func appendStrings(b []byte, list []string) []byte {
	if list == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, escaped as encoding/json
// escapes it: quotes, backslashes and control characters, <, > and &
// (HTML-safe), U+2028 and U+2029, and invalid UTF-8 as U+FFFD.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(append(b, s[start:i]...), `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(append(b, s[start:i]...), '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(append(b, s[start:]...), '"')
}
