package clientapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/ganglion/ganglion/clientapi/presence"
	"github.com/ganglion/ganglion/internal/logctx"
	"github.com/ganglion/ganglion/internal/mxerr"
	"github.com/ganglion/ganglion/syncapi"
)

// maxStatusMsgBytes bounds a status message: every room-mate receives it.
const maxStatusMsgBytes = 4096

// putPresence is PUT /_matrix/client/v3/presence/{userId}/status
// (Presence): users set only their own.
func (a *API) putPresence(w http.ResponseWriter, r *http.Request, s *Session) error {
	if _, err := a.ownLocalpart(s, r.PathValue("userId")); err != nil {
		return err
	}
	var req struct {
		Presence  string  `json:"presence"`
		StatusMsg *string `json:"status_msg"`
	}
	if err := a.decode(r, &req); err != nil {
		return err
	}
	if req.Presence == "" {
		return mxerr.MissingParam("presence is required")
	}
	if !presence.Valid(req.Presence) {
		return mxerr.InvalidParam("presence must be online, unavailable or offline")
	}
	if req.StatusMsg != nil && len(*req.StatusMsg) > maxStatusMsgBytes {
		return mxerr.InvalidParam("status_msg is longer than %d bytes", maxStatusMsgBytes)
	}
	if err := a.presence.Set(r.Context(), s.UserID, req.Presence, req.StatusMsg); err != nil {
		return err
	}
	return ok(w, empty)
}

// getPresence is GET /_matrix/client/v3/presence/{userId}/status
// (Presence): a user's own presence, or that of a user who shares a room
// with the requester.
func (a *API) getPresence(w http.ResponseWriter, r *http.Request, s *Session) error {
	target := r.PathValue("userId")
	if _, err := spec.NewUserID(target, true); err != nil {
		return mxerr.InvalidParam("invalid user id")
	}
	content, err := a.presence.Get(r.Context(), s.UserID, target)
	if err != nil {
		return err
	}
	return ok(w, content)
}

// syncPresence reads the set_presence of a sync request (default
// online): inBody if the request has it in its body (sliding sync), else
// the query parameter.
func syncPresence(r *http.Request, inBody string) (string, error) {
	state := inBody
	if state == "" {
		state = query(r).Get("set_presence")
	}
	if state == "" {
		return syncapi.PresenceOnline, nil
	}
	if !presence.Valid(state) {
		return "", mxerr.InvalidParam("set_presence must be online, unavailable or offline")
	}
	return state, nil
}

// syncedPresence records a sync's activity in the user's presence. A
// failure is logged, not answered: the sync itself can go on.
func (a *API) syncedPresence(r *http.Request, s *Session, state string) {
	if err := a.presence.Synced(r.Context(), s.UserID, state); err != nil {
		logctx.From(r.Context()).WithError(err).Error("update presence on sync")
	}
}

// sweepPresence demotes the presence of users who went quiet.
func (a *API) sweepPresence(ctx context.Context) {
	if err := a.presence.Sweep(ctx); err != nil && !errors.Is(err, context.Canceled) {
		a.log.WithError(err).Error("sweep presence")
	}
}
