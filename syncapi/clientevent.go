package syncapi

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"time"

	gmsl "github.com/matrix-org/gomatrixserverlib"

	"github.com/ganglion/ganglion/roomserver"
)

// ClientEvent is an event in the client-server API's format ("Room
// event format"), as /messages and the other read endpoints serve it;
// /sync serves it without room_id (ClientEventWithoutRoomID), which the
// response names elsewhere.
type ClientEvent struct {
	Content        json.RawMessage `json:"content"`
	EventID        string          `json:"event_id"`
	OriginServerTS int64           `json:"origin_server_ts"`
	RoomID         string          `json:"room_id,omitempty"`
	Sender         string          `json:"sender"`
	StateKey       *string         `json:"state_key,omitempty"`
	Type           string          `json:"type"`
	Redacts        string          `json:"redacts,omitempty"`
	Unsigned       json.RawMessage `json:"unsigned,omitempty"`
}

// ToClientEvent converts an event to the client format. now gives the
// event's age in unsigned.
func ToClientEvent(pdu gmsl.PDU, now time.Time) ClientEvent {
	ev := toClientEvent(pdu, now, "")
	ev.RoomID = pdu.RoomID().String()
	return ev
}

// StoredClientEvent converts a stored room event to the client format,
// with the requesting user's membership at the event as
// unsigned.membership (client-server API, "UnsignedData"; MSC4115) when
// Visible has computed it.
func StoredClientEvent(ev roomserver.Event, now time.Time) ClientEvent {
	out := toClientEvent(ev.PDU, now, ev.UserMembership)
	out.RoomID = ev.RoomID().String()
	return out
}

// toClientEvent builds the client format without room_id, with age, and
// membership unless it is "", in one unsigned object.
func toClientEvent(pdu gmsl.PDU, now time.Time, membership string) ClientEvent {
	ev := ClientEvent{
		Content:        json.RawMessage(pdu.Content()),
		EventID:        pdu.EventID(),
		OriginServerTS: int64(pdu.OriginServerTS()),
		Sender:         string(pdu.SenderID()),
		StateKey:       pdu.StateKey(),
		Type:           pdu.Type(),
		Redacts:        pdu.Redacts(),
	}
	ev.Unsigned = unsignedJSON(pdu.Unsigned(), max(now.UnixMilli()-ev.OriginServerTS, 0), membership)
	return ev
}

// unsignedJSON is the unsigned object of a client event: the stored one
// with age and, unless "", membership set. Keys come sorted, as
// encoding/json writes a map's.
func unsignedJSON(stored []byte, age int64, membership string) json.RawMessage {
	if s := bytes.TrimSpace(stored); len(s) == 0 || string(s) == "{}" { // most events: written directly
		if plainJSONString(membership) {
			out := make([]byte, 0, len(`{"age":,"membership":""}`)+20+len(membership))
			out = strconv.AppendInt(append(out, `{"age":`...), age, 10)
			if membership != "" {
				out = append(append(append(out, `,"membership":"`...), membership...), '"')
			}
			return append(out, '}')
		}
	}
	unsigned := map[string]json.RawMessage{}
	if len(stored) > 0 {
		_ = json.Unmarshal(stored, &unsigned)
	}
	unsigned["age"], _ = json.Marshal(age)
	if membership != "" {
		unsigned["membership"], _ = json.Marshal(membership)
	}
	out, _ := json.Marshal(unsigned)
	return out
}

// plainJSONString reports whether encoding/json writes s as it is in
// quotes (printable ASCII it need not escape).
func plainJSONString(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// RoomEvent converts a stored room event to the client format
// (StoredClientEvent) with the content of the state it replaced as
// unsigned.prev_content, which clients use to tell what changed ("changed
// their display name").
func (s *Syncer) RoomEvent(ctx context.Context, ev roomserver.Event, now time.Time) (ClientEvent, error) {
	out, err := s.roomEvent(ctx, ev, now)
	out.RoomID = ev.RoomID().String()
	return out, err
}

// roomEvent is RoomEvent without room_id, as /sync serves events.
func (s *Syncer) roomEvent(ctx context.Context, ev roomserver.Event, now time.Time) (ClientEvent, error) {
	out := toClientEvent(ev.PDU, now, ev.UserMembership)
	prev, err := s.rooms.PrevContent(ctx, ev)
	if err != nil || prev == nil {
		return out, err
	}
	return out, out.SetUnsigned("prev_content", prev)
}

// ToClientEvents converts a list of events.
func ToClientEvents(pdus []gmsl.PDU, now time.Time) []ClientEvent {
	out := make([]ClientEvent, len(pdus))
	for i, p := range pdus {
		out[i] = ToClientEvent(p, now)
	}
	return out
}

// syncEvents converts a list of events as /sync serves them, without
// room_id.
func syncEvents(pdus []gmsl.PDU, now time.Time) []ClientEvent {
	out := make([]ClientEvent, len(pdus))
	for i, p := range pdus {
		out[i] = toClientEvent(p, now, "")
	}
	return out
}

// SetUnsigned sets one key of the event's unsigned object.
func (e *ClientEvent) SetUnsigned(key string, value any) error {
	unsigned := map[string]json.RawMessage{}
	if len(e.Unsigned) > 0 {
		if err := json.Unmarshal(e.Unsigned, &unsigned); err != nil {
			return err
		}
	}
	raw, err := json.Marshal(value)
	if err != nil {
		return err
	}
	unsigned[key] = raw
	e.Unsigned, err = json.Marshal(unsigned)
	return err
}
