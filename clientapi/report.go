package clientapi

import (
	"context"
	"net/http"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/ganglion/ganglion/internal/mxerr"
	"github.com/ganglion/ganglion/storage"
)

// maxReasonLength bounds a report's reason, in bytes.
const maxReasonLength = 1000

// reportEvent is POST /_matrix/client/v3/rooms/{roomId}/report/{eventId}:
// the event must be one the reporter, joined to the room, can see.
func (a *API) reportEvent(w http.ResponseWriter, r *http.Request, s *Session) error {
	roomID := r.PathValue("roomId")
	if m, err := a.rooms.Membership(r.Context(), roomID, s.UserID); err != nil || m != spec.Join {
		return mxerr.NotFound("the event was not found or you are not joined to the room")
	}
	if _, err := a.visibleEvent(r, s, roomID, r.PathValue("eventId")); err != nil {
		return mxerr.NotFound("the event was not found or you are not joined to the room")
	}
	return a.storeReport(w, r, storage.Report{Reporter: s.UserID, RoomID: roomID, EventID: r.PathValue("eventId")})
}

// reportRoom is POST /_matrix/client/v3/rooms/{roomId}/report.
func (a *API) reportRoom(w http.ResponseWriter, r *http.Request, s *Session) error {
	roomID := r.PathValue("roomId")
	if _, err := a.rooms.RoomVersion(r.Context(), roomID); err != nil {
		return mxerr.NotFound("the room was not found")
	}
	return a.storeReport(w, r, storage.Report{Reporter: s.UserID, RoomID: roomID})
}

// reportUser is POST /_matrix/client/v3/users/{userId}/report. Whether the
// user exists is not disclosed: every well-formed report is accepted.
func (a *API) reportUser(w http.ResponseWriter, r *http.Request, s *Session) error {
	target := r.PathValue("userId")
	if _, err := spec.NewUserID(target, true); err != nil {
		return mxerr.InvalidParam("invalid user id")
	}
	return a.storeReport(w, r, storage.Report{Reporter: s.UserID, UserID: target})
}

func (a *API) storeReport(w http.ResponseWriter, r *http.Request, report storage.Report) error {
	var req struct {
		Reason string `json:"reason"`
	}
	if err := a.decode(r, &req); err != nil {
		return err
	}
	if len(req.Reason) > maxReasonLength {
		return mxerr.InvalidParam("reason is longer than %d bytes", maxReasonLength)
	}
	report.Reason = req.Reason
	err := a.db.WithTx(r.Context(), func(ctx context.Context, tx *storage.Tx) error {
		_, err := tx.InsertReport(ctx, report)
		return err
	})
	if err != nil {
		return err
	}
	return ok(w, empty)
}
