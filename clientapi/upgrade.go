package clientapi

import (
	"context"
	"net/http"

	"github.com/matrix-org/gomatrixserverlib/spec"

	"github.com/ganglion/ganglion/internal/mxerr"
	"github.com/ganglion/ganglion/storage"
)

// upgradeRoom is POST /_matrix/client/v3/rooms/{roomId}/upgrade: the room
// is replaced by a new one of the requested version, and its local aliases
// move along.
func (a *API) upgradeRoom(w http.ResponseWriter, r *http.Request, s *Session) error {
	var req struct {
		NewVersion string `json:"new_version"`
	}
	if err := a.decode(r, &req); err != nil {
		return err
	}
	if req.NewVersion == "" {
		return mxerr.MissingParam("new_version is required")
	}
	roomID := r.PathValue("roomId")
	if err := a.requireJoined(r, s, roomID); err != nil {
		return err
	}
	member, err := a.memberContent(r.Context(), s.Localpart, spec.Join, "")
	if err != nil {
		return err
	}
	newRoom, err := a.rooms.Upgrade(r.Context(), roomID, s.UserID, req.NewVersion, member)
	if err != nil {
		return roomError(err)
	}
	err = a.db.WithTx(r.Context(), func(ctx context.Context, tx *storage.Tx) error {
		return tx.MoveRoomAliases(ctx, roomID, newRoom)
	})
	if err != nil {
		return err
	}
	return ok(w, map[string]string{"replacement_room": newRoom})
}
