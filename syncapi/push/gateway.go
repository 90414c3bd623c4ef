package push

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/ganglion/ganglion/roomserver"
	"github.com/ganglion/ganglion/storage"
)

// outcome is what became of one notification sent to a gateway.
type outcome int

const (
	outcomeSent     outcome = iota // accepted, or nothing to send
	outcomeRefused                 // a 4xx (not 429): sending it again would not help
	outcomeRejected                // the gateway rejected the pushkey: drop the pusher
)

// maxGatewayResponse bounds the gateway response body read.
const maxGatewayResponse = 64 << 10

// notifyRequest is the body of POST /_matrix/push/v1/notify.
type notifyRequest struct {
	Notification notifyBody `json:"notification"`
}

type notifyBody struct {
	EventID           string          `json:"event_id,omitempty"`
	RoomID            string          `json:"room_id,omitempty"`
	Type              string          `json:"type,omitempty"`
	Sender            string          `json:"sender,omitempty"`
	SenderDisplayName string          `json:"sender_display_name,omitempty"`
	RoomName          string          `json:"room_name,omitempty"`
	RoomAlias         string          `json:"room_alias,omitempty"`
	UserIsTarget      bool            `json:"user_is_target,omitempty"`
	Prio              string          `json:"prio,omitempty"`
	Content           json.RawMessage `json:"content,omitempty"`
	Counts            notifyCounts    `json:"counts"`
	Devices           []notifyDevice  `json:"devices"`
}

// notifyCounts leaves zero counts out, as the spec asks.
type notifyCounts struct {
	Unread      int64 `json:"unread,omitempty"`
	MissedCalls int64 `json:"missed_calls,omitempty"`
}

type notifyDevice struct {
	AppID     string                     `json:"app_id"`
	PushKey   string                     `json:"pushkey"`
	PushKeyTS int64                      `json:"pushkey_ts"` // seconds
	Data      map[string]json.RawMessage `json:"data"`
	Tweaks    map[string]any             `json:"tweaks,omitempty"`
}

// deliver sends one notification to the pusher's gateway. Read
// notifications and events since deleted are skipped. An error (network,
// timeout, 429, 5xx, a failed read) is worth a retry.
func (s *Dispatcher) deliver(ctx context.Context, p storage.Pusher, data PusherData, n storage.Notification) (outcome, error) {
	if n.Read {
		return outcomeSent, nil
	}
	body, err := s.notifyBody(ctx, p, data, n)
	if errors.Is(err, roomserver.ErrEventNotFound) {
		return outcomeSent, nil
	}
	if err != nil {
		return 0, err
	}
	raw, err := json.Marshal(notifyRequest{Notification: body})
	if err != nil {
		return 0, err
	}
	return s.post(ctx, data.URL, raw, p.PushKey)
}

// post sends a notify body and interprets the answer.
func (s *Dispatcher) post(ctx context.Context, url string, body []byte, pushKey string) (outcome, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return outcomeRefused, nil // a stored URL that no longer parses will never work
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("post to the push gateway: %w", err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxGatewayResponse))
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return 0, fmt.Errorf("push gateway answered %d", resp.StatusCode)
	case resp.StatusCode < 200 || resp.StatusCode >= 300:
		return outcomeRefused, nil
	case err != nil: // a 2xx cut short: the request was accepted
		return outcomeSent, nil
	}
	var result struct {
		Rejected []string `json:"rejected"`
	}
	if json.Unmarshal(answer, &result) == nil && slices.Contains(result.Rejected, pushKey) {
		return outcomeRejected, nil
	}
	return outcomeSent, nil
}

// notifyBody builds the notification of n for pusher p: every event field
// unless data.format is event_id_only, which sends the event and room ids,
// counts and devices only.
func (s *Dispatcher) notifyBody(ctx context.Context, p storage.Pusher, data PusherData, n storage.Notification) (notifyBody, error) {
	ev, err := s.rooms.Event(ctx, n.EventID)
	if err != nil {
		return notifyBody{}, err
	}
	unread, err := s.db.UnreadNotifications(ctx, p.UserID)
	if err != nil {
		return notifyBody{}, err
	}
	body := notifyBody{
		EventID: n.EventID, RoomID: n.RoomID, Prio: priority(ev, n, p.UserID),
		Counts: notifyCounts{Unread: unread},
		Devices: []notifyDevice{{
			AppID: p.AppID, PushKey: p.PushKey, PushKeyTS: p.PushKeyTS / 1000, Data: data.Forward,
			Tweaks: tweaks(n.Actions),
		}},
	}
	if data.Format == FormatEventIDOnly {
		return body, nil
	}
	body.Type, body.Sender = ev.Type(), string(ev.SenderID())
	if len(ev.Content()) > 2 { // not {}
		body.Content = ev.Content()
	}
	if key := ev.StateKey(); ev.Type() == spec.MRoomMember && key != nil && *key == p.UserID {
		body.UserIsTarget = true
	}
	body.SenderDisplayName = s.stateField(ctx, n.RoomID, spec.MRoomMember, body.Sender, "displayname")
	body.RoomName = s.stateField(ctx, n.RoomID, spec.MRoomName, "", "name")
	body.RoomAlias = s.stateField(ctx, n.RoomID, "m.room.canonical_alias", "", "alias")
	return body, nil
}

// stateField returns a string field of a current state event's content,
// or "" if there is none: the names are niceties, not worth a failure.
func (s *Dispatcher) stateField(ctx context.Context, roomID, typ, key, field string) string {
	ev, err := s.rooms.StateEvent(ctx, roomID, typ, key)
	if err != nil {
		return ""
	}
	var content map[string]any
	if json.Unmarshal(ev.Content(), &content) != nil {
		return ""
	}
	v, _ := content[field].(string)
	return v
}

// priority is high for what a person waits for (highlights, messages,
// calls, invites of the user), low for the rest.
func priority(ev roomserver.Event, n storage.Notification, userID string) string {
	if n.Highlight {
		return "high"
	}
	switch ev.Type() {
	case "m.room.message", "m.room.encrypted", "m.call.invite", "m.sticker":
		return "high"
	case spec.MRoomMember:
		if key := ev.StateKey(); key != nil && *key == userID {
			return "high"
		}
	}
	return "low"
}

// tweaks reads the set_tweak actions of a rule's actions (a highlight
// tweak without a value means true).
func tweaks(actions json.RawMessage) map[string]any {
	var list []json.RawMessage
	if json.Unmarshal(actions, &list) != nil {
		return nil
	}
	out := map[string]any{}
	for _, a := range list {
		var t struct {
			SetTweak string          `json:"set_tweak"`
			Value    json.RawMessage `json:"value"`
		}
		if json.Unmarshal(a, &t) != nil || t.SetTweak == "" {
			continue
		}
		var v any = true
		if t.Value != nil && json.Unmarshal(t.Value, &v) != nil {
			continue
		}
		out[t.SetTweak] = v
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
