package clientapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/ganglion/ganglion/internal/logctx"
	"github.com/ganglion/ganglion/internal/mxerr"
	"github.com/ganglion/ganglion/storage"
)

// forgetRoom is POST /_matrix/client/v3/rooms/{roomId}/forget
// (client-server API, Leaving rooms): a user who left or was banned stops
// seeing the room's history. The forgetting lasts until its next
// membership event (a join, an invite, a knock). Forgetting a room the user
// never had a membership in changes nothing.
func (a *API) forgetRoom(w http.ResponseWriter, r *http.Request, s *Session) error {
	roomID := r.PathValue("roomId")
	if !validRoomID(roomID) {
		return mxerr.InvalidParam("invalid room id")
	}
	room, err := a.db.Room(r.Context(), roomID)
	if errors.Is(err, storage.ErrNotFound) {
		return ok(w, empty)
	}
	if err != nil {
		return err
	}
	m, err := a.db.MembershipOf(r.Context(), room.NID, s.UserID)
	if errors.Is(err, storage.ErrNotFound) {
		return ok(w, empty)
	}
	if err != nil {
		return err
	}
	if m.Membership != spec.Leave && m.Membership != spec.Ban {
		return mxerr.Unknown("user %s is in room %s (%s): leave it first", s.UserID, roomID, m.Membership)
	}
	err = a.db.WithTx(r.Context(), func(ctx context.Context, tx *storage.Tx) error {
		return tx.ForgetRoom(ctx, s.UserID, roomID, m.Event)
	})
	if err != nil {
		return err
	}
	return ok(w, empty)
}

// remembered guards an endpoint that reads a room's history or state: a
// user who forgot the room reads it as a stranger would, that is only if it
// is world-readable.
func (a *API) remembered(h userFunc) userFunc {
	return func(w http.ResponseWriter, r *http.Request, s *Session) error {
		roomID := r.PathValue("roomId")
		forgot, err := a.db.Forgotten(r.Context(), s.UserID, roomID)
		if err != nil {
			return err
		}
		if forgot && !a.worldReadable(r, roomID) {
			return mxerr.Forbidden("you have forgotten this room")
		}
		return h(w, r, s)
	}
}

// unforget removes the user's record of forgetting the room after it
// joined. The join itself already ends the forgetting (it is tied to the
// membership event), so a failure here is logged, not returned: the join
// has succeeded.
func (a *API) unforget(ctx context.Context, userID, roomID string) {
	err := a.db.WithTx(ctx, func(ctx context.Context, tx *storage.Tx) error {
		return tx.UnforgetRoom(ctx, userID, roomID)
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		logctx.From(ctx).WithError(err).Error("clear forgotten room after join")
	}
}
