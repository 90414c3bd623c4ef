package clientapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/ganglion/ganglion/internal/logctx"
	"github.com/ganglion/ganglion/internal/mxerr"
	"github.com/ganglion/ganglion/roomserver"
	"github.com/ganglion/ganglion/storage"
)

// createListedRoom creates a room for createRoom with its alias (if any)
// reserved before and bound after, and publishes it if asked. A creation
// that fails leaves no reservation behind.
func (a *API) createListedRoom(ctx context.Context, req roomserver.CreateRequest, publish bool) (string, error) {
	if req.Alias != "" {
		err := a.db.WithTx(ctx, func(ctx context.Context, tx *storage.Tx) error {
			return tx.InsertRoomAlias(ctx, req.Alias, "", req.Creator)
		})
		if errors.Is(err, storage.ErrExists) {
			return "", roomInUse(req.Alias)
		}
		if err != nil {
			return "", err
		}
	}
	roomID, err := a.rooms.CreateRoom(ctx, req)
	if err == nil && (req.Alias != "" || publish) {
		err = a.db.WithTx(ctx, func(ctx context.Context, tx *storage.Tx) error {
			if req.Alias != "" {
				if err := tx.BindRoomAlias(ctx, req.Alias, roomID); err != nil {
					return err
				}
			}
			if publish {
				return tx.SetRoomPublished(ctx, roomID, true)
			}
			return nil
		})
	}
	if err != nil && req.Alias != "" {
		a.releaseAlias(ctx, req.Alias)
	}
	return roomID, err
}

// releaseAlias drops an alias reservation of a failed createRoom, even if
// the client has gone.
func (a *API) releaseAlias(ctx context.Context, alias string) {
	err := a.db.WithTx(context.WithoutCancel(ctx), func(ctx context.Context, tx *storage.Tx) error {
		return tx.DeleteRoomAlias(ctx, alias)
	})
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		logctx.From(ctx).WithError(err).Error("release room alias reservation")
	}
}

// Directory visibilities.
const (
	visibilityPublic  = "public"
	visibilityPrivate = "private"
)

// knownRoom checks the room id and that the server knows the room
// (M_NOT_FOUND otherwise, as the directory endpoints specify).
func (a *API) knownRoom(ctx context.Context, roomID string) error {
	if !validRoomID(roomID) {
		return mxerr.InvalidParam("invalid room id")
	}
	_, err := a.db.Room(ctx, roomID)
	if errors.Is(err, storage.ErrNotFound) {
		return mxerr.NotFound("room %s not found", roomID)
	}
	return err
}

// getDirectoryVisibility is GET /_matrix/client/v3/directory/list/room/{roomId}
// (client-server API, Published room directory).
func (a *API) getDirectoryVisibility(w http.ResponseWriter, r *http.Request) error {
	roomID := r.PathValue("roomId")
	if err := a.knownRoom(r.Context(), roomID); err != nil {
		return err
	}
	published, err := a.db.RoomPublished(r.Context(), roomID)
	if err != nil {
		return err
	}
	visibility := visibilityPrivate
	if published {
		visibility = visibilityPublic
	}
	return ok(w, map[string]string{"visibility": visibility})
}

// putDirectoryVisibility is PUT /_matrix/client/v3/directory/list/room/{roomId}
// (client-server API, Published room directory): a server administrator or
// a member with the power to send m.room.canonical_alias publishes the room
// or withdraws it.
func (a *API) putDirectoryVisibility(w http.ResponseWriter, r *http.Request, s *Session) error {
	var req struct {
		Visibility string `json:"visibility"`
	}
	if err := a.decode(r, &req); err != nil {
		return err
	}
	switch req.Visibility {
	case "":
		req.Visibility = visibilityPublic // the spec's default
	case visibilityPublic, visibilityPrivate:
	default:
		return mxerr.InvalidParam("visibility must be public or private")
	}
	roomID := r.PathValue("roomId")
	if err := a.knownRoom(r.Context(), roomID); err != nil {
		return err
	}
	if !s.IsAdmin {
		allowed, err := a.maySetCanonicalAlias(r.Context(), roomID, s.UserID)
		if err != nil {
			return roomError(err)
		}
		if !allowed {
			return mxerr.Forbidden("publishing the room needs the power to set its canonical alias")
		}
	}
	err := a.db.WithTx(r.Context(), func(ctx context.Context, tx *storage.Tx) error {
		return tx.SetRoomPublished(ctx, roomID, req.Visibility == visibilityPublic)
	})
	if err != nil {
		return err
	}
	return ok(w, empty)
}
