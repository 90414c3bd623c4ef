package clientapi

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/ganglion/ganglion/internal/mxerr"
	"github.com/ganglion/ganglion/storage"
	"github.com/ganglion/ganglion/syncapi"
)

// receiptFullyRead is the read marker, kept as room account data.
const receiptFullyRead = "m.fully_read"

// maxTypingTimeout bounds how long one typing notification lasts.
const maxTypingTimeout = 2 * time.Minute

// typing is PUT /_matrix/client/v3/rooms/{roomId}/typing/{userId}.
func (a *API) typing(w http.ResponseWriter, r *http.Request, s *Session) error {
	if _, err := a.ownLocalpart(s, r.PathValue("userId")); err != nil {
		return err
	}
	var req struct {
		Typing  *bool `json:"typing"`
		Timeout int64 `json:"timeout"`
	}
	if err := a.decode(r, &req); err != nil {
		return err
	}
	if req.Typing == nil {
		return mxerr.MissingParam("typing is required")
	}
	roomID := r.PathValue("roomId")
	if err := a.requireJoined(r, s, roomID); err != nil {
		return err
	}
	timeout := min(max(time.Duration(req.Timeout)*time.Millisecond, 0), maxTypingTimeout)
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	a.typingState.Set(roomID, s.UserID, *req.Typing, timeout)
	return ok(w, empty)
}

// receipt is POST /_matrix/client/v3/rooms/{roomId}/receipt/{receiptType}/{eventId}.
func (a *API) receipt(w http.ResponseWriter, r *http.Request, s *Session) error {
	var req struct {
		ThreadID *string `json:"thread_id"`
	}
	if err := a.decode(r, &req); err != nil {
		return err
	}
	threadID := ""
	if req.ThreadID != nil {
		if *req.ThreadID == "" {
			return mxerr.InvalidParam("thread_id must be a non-empty string")
		}
		threadID = *req.ThreadID
	}
	typ := r.PathValue("receiptType")
	switch typ {
	case syncapi.ReceiptRead, syncapi.ReceiptReadPrivate, receiptFullyRead:
	default:
		return mxerr.InvalidParam("unknown receipt type %q", typ)
	}
	if typ == receiptFullyRead && threadID != "" {
		return mxerr.InvalidParam("m.fully_read has no thread")
	}
	return a.markRead(w, r, s, map[string]string{typ: r.PathValue("eventId")}, threadID)
}

// readMarkers is POST /_matrix/client/v3/rooms/{roomId}/read_markers.
func (a *API) readMarkers(w http.ResponseWriter, r *http.Request, s *Session) error {
	var req map[string]*string
	if err := a.decode(r, &req); err != nil {
		return err
	}
	markers := map[string]string{}
	for _, typ := range []string{receiptFullyRead, syncapi.ReceiptRead, syncapi.ReceiptReadPrivate} {
		if v := req[typ]; v != nil {
			markers[typ] = *v
		}
	}
	return a.markRead(w, r, s, markers, "")
}

// markRead stores receipts and the read marker, each by type, for events
// of the room.
func (a *API) markRead(w http.ResponseWriter, r *http.Request, s *Session, markers map[string]string, threadID string) error {
	roomID := r.PathValue("roomId")
	if err := a.requireJoined(r, s, roomID); err != nil {
		return err
	}
	var readUpTo int64 // the furthest event a receipt marks read
	for typ, eventID := range markers {
		ev, err := a.visibleEvent(r, s, roomID, eventID)
		if err != nil {
			return err
		}
		if typ != receiptFullyRead {
			readUpTo = max(readUpTo, ev.StreamPos)
		}
	}
	a.push.WaitStored(r.Context(), readUpTo) // the notifications it reads are stored first
	now := a.db.Now().UnixMilli()
	err := a.db.WithTx(r.Context(), func(ctx context.Context, tx *storage.Tx) error {
		for typ, eventID := range markers {
			if typ == receiptFullyRead {
				content, _ := json.Marshal(map[string]string{"event_id": eventID})
				if _, err := tx.PutAccountData(ctx, s.Localpart, roomID, receiptFullyRead, content); err != nil {
					return err
				}
				continue
			}
			if _, err := tx.PutReceipt(ctx, storage.Receipt{
				RoomID: roomID, UserID: s.UserID, Type: typ, ThreadID: threadID, EventID: eventID, TS: now,
			}); err != nil {
				return err
			}
		}
		if readUpTo == 0 {
			return nil
		}
		_, err := tx.MarkNotificationsRead(ctx, s.UserID, roomID, threadID, readUpTo)
		return err
	})
	if err != nil {
		return err
	}
	if _, private := markers[syncapi.ReceiptReadPrivate]; private || markers[receiptFullyRead] != "" {
		a.notifier.Wake(s.UserID)
	}
	if markers[syncapi.ReceiptRead] != "" {
		a.notifier.WakeRoom(roomID)
	}
	return ok(w, empty)
}

// requireJoined answers M_FORBIDDEN unless the user is joined to the room.
func (a *API) requireJoined(r *http.Request, s *Session, roomID string) error {
	membership, err := a.rooms.Membership(r.Context(), roomID, s.UserID)
	if err != nil {
		return roomError(err)
	}
	if membership != spec.Join {
		return mxerr.Forbidden("you are not in this room")
	}
	return nil
}
