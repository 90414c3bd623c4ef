package clientapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/ganglion/ganglion/internal/mxerr"
	"github.com/ganglion/ganglion/roomserver"
	"github.com/ganglion/ganglion/syncapi"
)

// Limits of GET /notifications.
const (
	defaultNotificationLimit = 20
	maxNotificationLimit     = 100
)

// notification is one entry of GET /notifications.
type notification struct {
	Actions json.RawMessage    `json:"actions"`
	Event   eventWithoutRoomID `json:"event"`
	Read    bool               `json:"read"`
	RoomID  string             `json:"room_id"`
	TS      int64              `json:"ts"`
}

// eventWithoutRoomID is the spec's ClientEventWithoutRoomID.
type eventWithoutRoomID struct {
	syncapi.ClientEvent
	RoomID string `json:"room_id,omitempty"` // hides the embedded room_id
}

// getNotifications is GET /_matrix/client/v3/notifications (client-server
// API, Listing Notifications): the events the user's push rules notified
// it of, newest first; from is the next_token of an earlier page.
func (a *API) getNotifications(w http.ResponseWriter, r *http.Request, s *Session) error {
	q := r.URL.Query()
	var before int64
	if from := q.Get("from"); from != "" {
		pos, err := strconv.ParseInt(from, 10, 64)
		if err != nil || pos <= 0 {
			return mxerr.InvalidParam("from is not a token of this endpoint")
		}
		before = pos
	}
	limit := defaultNotificationLimit
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 {
			return mxerr.InvalidParam("limit must be a positive integer")
		}
		limit = min(n, maxNotificationLimit)
	}
	rows, next, err := a.db.Notifications(r.Context(), s.UserID, before, limit, q.Get("only") == "highlight")
	if err != nil {
		return err
	}
	resp := struct {
		NextToken     string         `json:"next_token,omitempty"`
		Notifications []notification `json:"notifications"`
	}{Notifications: []notification{}}
	if next > 0 {
		resp.NextToken = strconv.FormatInt(next, 10)
	}
	now := a.db.Now()
	for _, n := range rows {
		ev, err := a.rooms.Event(r.Context(), n.EventID)
		if errors.Is(err, roomserver.ErrEventNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		resp.Notifications = append(resp.Notifications, notification{
			Actions: n.Actions, Event: eventWithoutRoomID{ClientEvent: syncapi.ToClientEvent(ev.PDU, now)},
			Read: n.Read, RoomID: n.RoomID, TS: n.TS,
		})
	}
	return ok(w, resp)
}
